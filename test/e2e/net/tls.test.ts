/**
 * Optional TLS (issue 4: `tls_cert` / `tls_key`): the node serves wss:// and https://, and nodes talk to
 * each other over wss:// when their addresses say so. The certificate is a test fixture for 127.0.0.1
 * (test/fixtures/tls), trusted by the node processes through NODE_EXTRA_CA_CERTS and by this test's own
 * sockets through `ca`.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startNodeProcess, type NodeProcess } from '../../helpers/node-process.js';
import { key, peer, record } from '../../helpers/objects.js';

const CERT = fileURLToPath(new URL('../../fixtures/tls/cert.pem', import.meta.url));
const KEY = fileURLToPath(new URL('../../fixtures/tls/key.pem', import.meta.url));
const ca = readFileSync(CERT);

/** One JSON-RPC call over wss://, trusting the fixture certificate only. */
function call<T>(url: string, method: string, params: object = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ca });
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params })));
    ws.once('message', (data) => {
      const answer = JSON.parse(data.toString());
      ws.close();
      if (answer.error) reject(new Error(`${answer.error.data?.code}: ${answer.error.message}`));
      else resolve(answer.result as T);
    });
  });
}

describe('TLS: wss:// between clients and nodes and between nodes', () => {
  const tls = { env: { tls_cert: CERT, tls_key: KEY, workers: 0 }, processEnv: { NODE_EXTRA_CA_CERTS: CERT } };
  let a: NodeProcess;
  let b: NodeProcess;
  beforeAll(async () => {
    a = await startNodeProcess(tls);
    b = await startNodeProcess({ ...tls, args: ['--bootstrap', a.rpcUrl.replace(/\/rpc$/, '')] });
  });
  afterAll(async () => {
    expect(await b.stop()).toBe(0);
    expect(await a.stop()).toBe(0);
  });

  it('prints wss:// and https:// URLs, and serves the page and the API over TLS only with the right certificate', async () => {
    expect(a.rpcUrl).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/rpc$/);
    expect(a.httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const status = await new Promise<number>((resolve, reject) => https.get(`${a.httpUrl}healthz`, { ca }, (res) => resolve(res.statusCode!)).on('error', reject));
    expect(status).toBe(200);
    const untrusted = await new Promise<Error>((resolve) => https.get(`${a.httpUrl}healthz`, () => undefined).on('error', resolve));
    expect(untrusted.message).toMatch(/self[- ]signed|unable to verify|certificate/i);
    expect(await call<{ peer_id: string }>(a.rpcUrl, 'node.info')).toMatchObject({ peer_id: a.peerId });
  });

  it('the nodes find each other over wss:// and a resource created on one resolves on the other', async () => {
    const deadline = Date.now() + 10_000;
    let peers: { peer_id: string; address: string }[] = [];
    while (Date.now() < deadline) {
      peers = await call(a.rpcUrl, 'node.peers');
      if (peers.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(peers).toEqual([expect.objectContaining({ peer_id: b.peerId, address: b.rpcUrl.replace(/\/rpc$/, '') })]);
    const k = key(peer(41), 'tls-weather', 0);
    await call(a.rpcUrl, 'resources.create_resource', { key: k, ack: 2 });
    await call(a.rpcUrl, 'resources.register_provider', { record: record(k, peer(42), 0), ack: 2 });
    const resolved = await call<{ providers: { metadata: { issued_by: string } }[]; acks: number }>(b.rpcUrl, 'resources.resolve_providers', { resource_id: k.id, ack: 2 });
    expect(resolved.acks).toBe(2);
    expect(resolved.providers.map((p) => p.metadata.issued_by)).toEqual([peer(42).peerId]);
  });
});
