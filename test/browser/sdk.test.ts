/**
 * The browser SDK (runtime/client/, served by the node at /sdk/signpost.js) in a real browser: a plain HTML
 * page on another origin imports the SDK from a real node with no build step, creates a resource, keeps a
 * provider alive, resolves it, sees its subscription change, mines a proof of work in a Web Worker, and
 * removes the provider. The node side is checked over its own RPC.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leadingZeroBits, workHash } from '../../protocols/pow.js';
import { metadataDigest } from '../../protocols/objects.js';
import type { Record as ProviderRecord, Tombstone } from '../../protocols/types.js';
import type { RpcClient } from '../../runtime/client/rpc-client.js';
import { startNodeProcess, type NodeProcess } from '../helpers/node-process.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PAGE = readFileSync(new URL('../fixtures/browser/sdk-page.html', import.meta.url), 'utf8');

let node: NodeProcess;
let rpc: RpcClient;
let browser: Browser;
let site: http.Server;
let siteUrl: string;

beforeAll(async () => {
  [node, browser] = await Promise.all([
    startNodeProcess({ manual: false }),
    chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }),
  ]);
  rpc = await node.client();
  // The page's own origin: a different port from the node's, so the SDK is a cross-origin import.
  site = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE));
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', () => resolve()));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  expect(await node?.stop(), node?.stderr()).toBe(0);
});

describe('a web page using the SDK from its node', () => {
  it('serves the SDK as an ES module to any origin', async () => {
    const res = await fetch(`${node.httpUrl}sdk/signpost.js`, { headers: { origin: 'http://elsewhere.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await res.text()).toContain('SignpostClient');
    expect((await fetch(`${node.httpUrl}sdk/../package.json`)).status).toBe(404);
  });

  it('creates a resource, keeps a provider alive, resolves it, follows it, mines in a Web Worker and removes it', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    const workers: string[] = [];
    page.on('worker', (w) => workers.push(w.url()));
    await page.goto(`${siteUrl}?node=${encodeURIComponent(node.httpUrl.replace(/\/$/, ''))}`);
    await page.waitForFunction(() => (window as unknown as { sdkResult?: unknown }).sdkResult !== undefined, undefined, { timeout: 20_000 });
    const outcome = await page.evaluate(() => (window as unknown as { sdkResult: { ok: boolean; error?: string; result?: Record<string, unknown> } }).sdkResult);
    expect(outcome.error).toBeUndefined();
    const r = outcome.result as {
      node: string; me: string; resourceId: string; relay: string[]; resolved: string[]; seen: string[][]; minedSolution: string; minedResource: string; final: string;
    };
    expect(problems).toEqual([]);
    // The page is a peer that reaches the network through its node, which relays for it.
    expect(r.node).toBe(node.peerId);
    expect(r.relay).toEqual([node.peerId]);
    expect(r.resolved).toEqual(['wss://browser.example/feed']);
    // The subscription saw the list change: empty, then the provider, then empty again.
    expect(r.seen[0]).toEqual([]);
    expect(r.seen).toContainEqual(['wss://browser.example/feed']);
    expect(r.seen.at(-1)).toEqual([]);
    expect(r.final).toBe('unregistered');
    expect(workers.length).toBeGreaterThan(0);

    // The node holds what the page signed: the key, and the tombstone that removed the provider.
    const key = await rpc.call<{ owner_peer_id: string }>('registry.get_key_metadata', { key_id: r.resourceId });
    expect(key.owner_peer_id).toBe(r.me);
    const tombstones = await rpc.call<Tombstone[]>('registry.get_tombstones', { key_id: r.resourceId });
    expect(tombstones.map((t) => t.peer_id)).toEqual([r.me]);
    const [mined] = await rpc.call<ProviderRecord[]>('registry.get_records', { key_id: r.minedResource });
    expect(mined.metadata.solution).toBe(r.minedSolution);
    expect(leadingZeroBits(workHash(metadataDigest(mined.metadata)))).toBeGreaterThanOrEqual(12);
    await page.close();
  }, 40_000);
});
