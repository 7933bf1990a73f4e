/**
 * `GET /healthz` is readiness (200 once the node has joined: it has peers, or no other node to join
 * through) and `GET /livez` liveness (200 while the process serves), as a readiness probe and a liveness
 * probe need them (deploy/k8s, the Dockerfile's HEALTHCHECK).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startNodeProcess, type NodeProcess } from '../../helpers/node-process.js';

const started: NodeProcess[] = [];
afterAll(async () => {
  for (const n of started) expect(await n.stop()).toBe(0);
});

async function health(node: NodeProcess, path: string): Promise<{ status: number; body: { ok: boolean; live: boolean; ready: boolean; peers: number } }> {
  const res = await fetch(new URL(path, node.httpUrl));
  return { status: res.status, body: await res.json() };
}

describe('/healthz and /livez', () => {
  it('a node with no bootstrap node is ready at once', async () => {
    const node = await startNodeProcess();
    started.push(node);
    expect(await health(node, 'healthz')).toMatchObject({ status: 200, body: { ok: true, live: true, ready: true } });
    expect((await health(node, 'livez')).status).toBe(200);
  });

  it('a node whose bootstrap nodes do not answer is live but not ready, and ready once it has a peer', async () => {
    const first = await startNodeProcess();
    started.push(first);
    // Port 1 on loopback refuses: this node cannot join through it.
    const lonely = await startNodeProcess({ args: ['--bootstrap', 'ws://127.0.0.1:1'] });
    started.push(lonely);
    expect(await health(lonely, 'healthz')).toMatchObject({ status: 503, body: { ok: false, live: true, ready: false, peers: 0 } });
    expect(await health(lonely, 'livez')).toMatchObject({ status: 200, body: { live: true, ready: false } });
    const joined = await startNodeProcess({ args: ['--bootstrap', 'ws://127.0.0.1:1', '--bootstrap', first.rpcUrl.replace(/\/rpc$/, '')] });
    started.push(joined);
    await expect.poll(async () => (await health(joined, 'healthz')).status, { timeout: 10_000 }).toBe(200);
  });

  it('a bootstrap list that names the node itself (one list for every node) does not keep it from being ready', async () => {
    const port = await freePort();
    const node = await startNodeProcess({ args: ['--port', String(port), '--bootstrap', `ws://127.0.0.1:${port}`] });
    started.push(node);
    expect(await health(node, 'healthz')).toMatchObject({ status: 200, body: { ready: true } });
    expect(node.stderr()).not.toContain('bootstrap node did not answer');
  });
});
