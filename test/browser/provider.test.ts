/**
 * A web page as a provider (SPEC §9.5): a plain HTML page imports the SDK from its node, registers itself
 * as a provider and serves a method; a Node caller on another node reaches it through the page's node,
 * which relays for it. When the page closes, the provider is unreachable.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcError, SignpostClient } from '../../dist/runtime/index.js';
import { startCluster, stopCluster, type ClusterNode } from '../helpers/cluster.js';
import { peer } from '../helpers/objects.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PAGE = readFileSync(new URL('../fixtures/browser/provider-page.html', import.meta.url), 'utf8');

let nodes: ClusterNode[];
let browser: Browser;
let site: http.Server;
let siteUrl: string;

beforeAll(async () => {
  [nodes, browser] = await Promise.all([
    startCluster(2, { manual: false }),
    chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }),
  ]);
  site = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE));
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', () => resolve()));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  await stopCluster(nodes);
});

describe('a page that provides a service', () => {
  it('is called through its node by a caller on another node, and is unreachable once closed', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    await page.goto(`${siteUrl}?node=${encodeURIComponent(nodes[0].httpUrl.replace(/\/$/, ''))}`);
    await page.waitForFunction(() => (window as unknown as { providing?: unknown }).providing !== undefined, undefined, { timeout: 20_000 });
    const providing = await page.evaluate(() => (window as unknown as { providing: { ok: boolean; error?: string; result?: { resourceId: string; me: string; relay: string[] } } }).providing);
    expect(providing.error).toBeUndefined();
    const { resourceId, me, relay } = providing.result!;
    expect(relay).toEqual([nodes[0].peerId]);

    const caller = peer(80);
    const client = await SignpostClient.connect(nodes[1].rpcUrl, { identity: caller });
    try {
      const outcomes = await client.executeOnProviders(resourceId, (_p, call) => call('greet', 'node'), { ack: 2, serviceId: 'greeter' });
      expect(outcomes).toHaveLength(1);
      expect(outcomes[0].provider.metadata.peer_id).toBe(me);
      expect(outcomes[0]).toMatchObject({ ok: true, result: { greeting: 'hello node', from: caller.peerId, via: nodes[1].peerId, calls: 1, agent: 'chrome' } });
      expect(problems).toEqual([]);

      await page.close();
      const record = outcomes[0].provider;
      const e = await client.callProvider(record, 'greet', 'again').then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(RpcError);
      expect((e as RpcError).code).toBe('provider_unreachable');
    } finally {
      await client.close();
    }
  }, 60_000);
});
