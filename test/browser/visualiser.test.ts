/**
 * The actor visualiser (the page at `/`, visualiser/ and runtime/inspect/visualiser.ts) in a real browser: Debian's
 * chromium driven by playwright-core against a real node process with the manual clock. Everything the
 * page shows is caused through the public RPC, and the page is never reloaded. Screenshots are saved in
 * test-artifacts/ (SIGNPOST_DOCS_SCREENSHOT=1 also refreshes the README's docs/visualiser.png).
 */
import { existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resourceId } from '../../protocols/objects.js';
import type { RpcClient } from '../../runtime/client/rpc-client.js';
import { startNodeProcess, type NodeProcess } from '../helpers/node-process.js';
import { key, peer, record, tombstone } from '../helpers/objects.js';
import { expectCode } from '../helpers/registry.js';

/** Debian's chromium (CI installs it: .ci/run); CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const DOCS_SCREENSHOT = fileURLToPath(new URL('../../docs/visualiser.png', import.meta.url));
const T0 = 1_763_700_000;
const HOUR = 3600;

let node: NodeProcess;
let rpc: RpcClient;
let browser: Browser;
let page: Page;
/** Console errors, uncaught exceptions and requests that left the node: each one fails the test it happened in. */
const problems: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium, as .ci/run does) or set CHROMIUM_PATH`);
  mkdirSync(ARTIFACTS, { recursive: true });
  [node, browser] = await Promise.all([
    startNodeProcess({ env: { clock_start: T0, workers: 1, rate_limit_burst: 20_000 } }),
    chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }),
  ]);
  rpc = await node.client();
  page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
  page.setDefaultTimeout(5000);
  watchProblems(page);
  await page.goto(node.httpUrl);
  // Set once; a reload would lose it.
  await page.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));
});

afterEach(() => {
  expect(problems).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  expect(await node?.stop(), node?.stderr()).toBe(0);
});

/** Records `p`'s console errors, uncaught exceptions and requests to anywhere but the node in `problems`. */
function watchProblems(p: Page): void {
  const origin = new URL(node.httpUrl).origin;
  p.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  p.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  // The page must work offline: nothing may come from anywhere but the node (no CDN).
  p.on('request', (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) problems.push(`request off the node: ${r.url()}`);
  });
}

const row = (actorId: string, state?: string) => `#actor-list [data-actor-id="${actorId}"]${state ? `[data-state="${state}"]` : ''}`;

/** GET `path` on the node without any URL normalisation (fetch would resolve `..` itself). */
function rawGet(path: string): Promise<{ status: number; type: string | undefined; body: string }> {
  const url = new URL(node.httpUrl);
  return new Promise((resolve, reject) => {
    http
      .get({ host: url.hostname, port: url.port, path }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body }));
      })
      .on('error', reject);
  });
}

describe('the page at / (chromium)', () => {
  it('is served by the node with its files and elkjs, and nothing else', async () => {
    const [index, app, css, elk, config, traversal, encoded, missing] = await Promise.all([
      rawGet('/'),
      rawGet('/app.js'),
      rawGet('/style.css'),
      rawGet('/vendor/elk.bundled.js'),
      rawGet('/node-config.json'),
      rawGet('/../package.json'),
      rawGet('/%2e%2e/package.json'),
      rawGet('/vendor/elk-worker.js'),
    ]);
    expect([index.status, index.type]).toEqual([200, 'text/html; charset=utf-8']);
    expect([app.status, app.type]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect([css.status, css.type]).toEqual([200, 'text/css; charset=utf-8']);
    expect([elk.status, elk.type]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect(elk.body.length).toBeGreaterThan(1_000_000);
    expect(JSON.parse(config.body)).toEqual({ clock: 'manual', stale_timeout: 3600, expired_timeout: 86400 });
    for (const r of [traversal, encoded, missing]) expect(r.status).toBe(404);
  });

  it('shows the node, its scheduled jobs and the manual clock controls', async () => {
    await expect.poll(() => page.textContent('#node-peer-id')).toBe(node.peerId);
    for (const id of ['job:gc', 'job:renew', 'job:republish']) await page.waitForSelector(row(id, 'waiting'));
    expect(await page.isVisible('#clock-controls')).toBe(true);
    expect(await page.textContent('#node-clock')).toContain('2025-11-21 04:40:00 UTC');
    expect(await page.textContent('#connection')).toBe('live');
    expect(await page.textContent('#peer-list')).toContain('none yet');
    // The address bar keeps the selection: a link opens an actor.
    const linked = await browser.newPage();
    watchProblems(linked);
    await linked.goto(`${node.httpUrl}#job:gc`);
    await linked.waitForSelector('#chart svg [data-state-id="gc.waiting"].active');
    expect(await linked.getAttribute(row('job:gc'), 'aria-selected')).toBe('true');
    // A link followed on the open page selects its actor too.
    await linked.evaluate(() => (location.hash = '#job:renew'));
    await linked.waitForSelector('#chart svg [data-state-id="renew.waiting"].active');
    expect(await linked.getAttribute(row('job:renew'), 'aria-selected')).toBe('true');
    await linked.close();
  });

  it('shows a resource actor appear and change state live, and its statechart with the state highlighted', async () => {
    const weather = key(peer(1), 'weather', T0 - 100);
    const actorId = `resource:${weather.id}`;
    // A read of a key not held yet activates the resource actor in `empty`...
    await expectCode(rpc.call('registry.get_records', { key_id: weather.id }), 'key_not_found');
    await page.waitForSelector(row(actorId, 'empty'));
    // ...and registering the key moves it to `holding`, on the same page.
    await rpc.call('registry.register_key', { key: weather });
    await page.waitForSelector(row(actorId, 'holding'));
    for (const [i, n] of [2, 3, 4].entries()) await rpc.call('registry.put_record', { record: record(weather, peer(n), T0 - 50 + i * 10, { value: `wss://provider-${n}.example/forecast`, fields: { service_id: ['forecast'] } }) });
    await rpc.call('registry.add_tombstone', { tombstone: tombstone(weather, peer(5), peer(5).peerId, T0 - 20) });
    await rpc.call('registry.register_key', { key: key(peer(6), 'maps', T0 - 100) });

    await page.click(row(actorId));
    // The statechart, laid out by elkjs, with the current state highlighted (and only it).
    await page.waitForSelector('#chart svg [data-state-id="resource.holding"].active');
    expect(await page.$$eval('#chart svg .state.leaf.active', (els) => els.map((e) => e.getAttribute('data-state-id')))).toEqual(['resource.holding']);
    expect(await page.$$eval('#chart svg .state', (els) => els.map((e) => e.getAttribute('data-state-id')).sort())).toEqual(
      ['resource', 'resource.activating', 'resource.empty', 'resource.holding', 'resource.passivated'].sort(),
    );
    // The eventless transitions (the node adds them to XState's JSON) are drawn, so the empty → holding
    // step the page saw needs no dashed "seen" edge.
    // (SVG groups of straight lines have no height: wait for them to be attached rather than visible.)
    await page.waitForSelector('#chart svg .transition.declared[data-event="always"]', { state: 'attached' });
    expect(await page.$$eval('#chart svg .transition.declared[data-event="always"]', (els) => els.length)).toBe(4);
    expect(await page.$$eval('#chart svg .transition.observed', (els) => els.length)).toBe(0);
    expect(await page.textContent('#detail-state')).toBe('holding');
    expect(await page.textContent('#detail-context')).toContain(`"key_id": "${weather.id}"`);
    // The resource: its key, providers in rank order (newest issue first without proof of work), the tombstone.
    await expect.poll(() => page.$$eval('.providers tbody tr', (trs) => trs.map((tr) => tr.querySelector('.value')?.textContent))).toEqual([
      'wss://provider-4.example/forecast',
      'wss://provider-3.example/forecast',
      'wss://provider-2.example/forecast',
    ]);
    expect(await page.textContent('.resource .kv')).toContain('stale: never published here');
    expect(await page.textContent('.providers tbody tr')).toContain('2025-11-22 04:39:30 UTC'); // the best: created T0 − 30, expires a day later
    expect(await page.$$eval('.tombstones tbody tr', (trs) => trs.length)).toBe(1);
    // Events arrive live: the log and the lit transition.
    const late = record(weather, peer(7), T0, { value: 'wss://late.example/forecast' });
    await rpc.call('registry.put_record', { record: late });
    await page.waitForSelector('#root-events .pill.fired[title="put_record"]');
    await expect.poll(() => page.$$eval('.providers tbody tr', (trs) => trs.length)).toBe(4);
    expect(await page.textContent('#event-log')).toContain('put_record');
    // What the page reads to show the resource are events too: it must not keep reading in answer to them.
    const settled = await page.textContent('#event-count');
    await page.waitForTimeout(800);
    expect(await page.textContent('#event-count')).toBe(settled);
    // The resources list shows both keys, live.
    await page.waitForSelector(`#resource-list [data-key-id="${weather.id}"]`);
    await expect.poll(() => page.$$eval('#resource-list .resource-item .label', (els) => els.map((e) => e.textContent).sort())).toEqual(['maps', 'weather']);
    // The clock controls drive the node: an hour later the jobs have run.
    await page.click('#clock-controls [data-advance="3600"]');
    await expect.poll(() => page.textContent('#node-clock')).toContain('2025-11-21 05:40:00 UTC');
    expect(await page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
    await page.screenshot({ path: `${ARTIFACTS}visualiser-resource.png` });
    if (process.env.SIGNPOST_DOCS_SCREENSHOT === '1') {
      // The README's picture: taller, and taken while a provider's renewal lights up its transition.
      await page.setViewportSize({ width: 1440, height: 1180 });
      await rpc.call('registry.put_record', { record: record(weather, peer(3), T0 + 60, { value: 'wss://provider-3.example/forecast', fields: { service_id: ['forecast'] } }) });
      await page.waitForSelector('#root-events .pill.fired[title="put_record"]');
      await page.screenshot({ path: DOCS_SCREENSHOT });
      await page.setViewportSize({ width: 1440, height: 960 });
    }
  });

  it('a new snapshot replaces the view; selecting a resource that is not live wakes its actor', async () => {
    const quiet = key(peer(8), 'quiet', T0);
    await rpc.call('registry.register_key', { key: quiet });
    await page.waitForSelector(`#resource-list [data-key-id="${quiet.id}"] .live.yes`);
    // Ending the only shard worker drops every resource actor; the node sends a new snapshot without them.
    await rpc.call('debug.crash_worker', { worker: 0 });
    await page.waitForSelector(`#resource-list [data-key-id="${quiet.id}"] .live.no`);
    expect(await page.$$('#actor-list [data-actor-id^="resource:"]')).toHaveLength(0);
    // The selected resource (weather, from the test before) is shown as not live, with a way to wake it.
    await page.waitForSelector('#detail-activate', { state: 'visible' });
    await page.click('#detail-activate');
    await page.waitForSelector(row(await page.textContent('#detail-title').then((t) => t!), 'holding'));
    // A resource from the list: the page activates its actor with a read before showing it.
    await page.click(`#resource-list [data-key-id="${quiet.id}"]`);
    await page.waitForSelector(`#resource-list [data-key-id="${quiet.id}"] .live.yes`);
    await page.waitForSelector(`#chart svg [data-state-id="resource.holding"].active`);
    expect(await page.textContent('#detail-title')).toBe(`resource:${quiet.id}`);
    expect(await page.isHidden('#detail-activate')).toBe(true);
  });

  it('a freshly opened page lists every resource the actor list shows holding, even one registered while it loaded', async () => {
    const fresh = await browser.newPage({ viewport: { width: 1440, height: 960 } });
    watchProblems(fresh);
    const late = key(peer(11), 'registered-while-loading', T0);
    let listed!: () => void;
    const keysAnswered = new Promise<void>((resolve) => (listed = resolve));
    // The page's first registry.list_keys is answered before the key exists, and its /inspect stream opens after.
    await fresh.routeWebSocket(/\/rpc$/, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((m) => {
        if (typeof m === 'string' && m.includes('"next"')) listed();
        ws.send(m);
      });
    });
    await fresh.routeWebSocket(/\/inspect$/, async (ws) => {
      await keysAnswered;
      await rpc.call('registry.register_key', { key: late });
      ws.connectToServer();
    });
    await fresh.goto(node.httpUrl);
    await fresh.waitForSelector(row(`resource:${late.id}`, 'holding'));
    await fresh.waitForSelector(`#resource-list [data-key-id="${late.id}"]`);
    const holding = await fresh.$$eval('#actor-list [data-actor-id^="resource:"][data-state="holding"]', (rows) => rows.length);
    expect(Number(await fresh.textContent('#resource-total'))).toBeGreaterThanOrEqual(holding);
    await fresh.close();
  });

  it('shows the connection and bootstrap lifecycles as machines', async () => {
    await page.click(row('bootstrap'));
    await page.waitForSelector('#chart svg [data-state-id="bootstrap.ready"].active');
    expect(await page.$$eval('#chart svg .state', (els) => els.map((e) => e.getAttribute('data-state-id')).sort())).toEqual(
      ['bootstrap', 'bootstrap.backoff', 'bootstrap.dialing', 'bootstrap.joining', 'bootstrap.ready', 'bootstrap.refreshing'].sort(),
    );
    expect(await page.textContent('#kind-chips')).toContain('connection');
  });

  it('a job shows its phases as it runs', async () => {
    await page.click(row('job:republish'));
    await page.waitForSelector('#chart svg [data-state-id="republish.waiting"].active');
    await rpc.call('debug.advance_time', { seconds: HOUR });
    // The run's transitions light up and the log has the phases in order.
    await page.waitForSelector('#chart svg .transition.fired', { state: 'attached' });
    await expect.poll(() => page.$$eval('#event-log tr td:last-child', (tds) => tds.map((td) => td.textContent).slice(0, 3).reverse())).toEqual([
      'waiting → evicting',
      'evicting → pushing',
      'pushing → waiting',
    ]);
    await expect.poll(() => page.textContent('#detail-context')).toContain('"runs": 2');
    await page.screenshot({ path: `${ARTIFACTS}visualiser-job.png` });
  });

  it('the sync job shows its last sessions with its neighbours', async () => {
    const { now } = await rpc.call<{ now: number }>('node.info');
    const neighbour = await startNodeProcess({ env: { clock_start: now, bootstrap: node.rpcUrl.replace(/\/rpc$/, '') } });
    try {
      await expect.poll(async () => (await rpc.call<unknown[]>('node.peers')).length, { timeout: 10_000 }).toBe(1);
      // Both clocks move together (a session compares the same instant on both sides).
      const other = await neighbour.client();
      await other.call('debug.advance_time', { seconds: 60 });
      await rpc.call('debug.advance_time', { seconds: 60 });
      await page.click(row('job:sync'));
      await page.waitForSelector('.sync table tbody tr');
      const first = await page.$eval('.sync table tbody tr', (tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent));
      expect(first[1]).toBe(`${neighbour.peerId.slice(0, 6)}…${neighbour.peerId.slice(-6)}`);
      expect(first[2]).toBe('equal');
      expect(first[3]).toBe('0-1023');
      expect(await page.textContent('.sync')).toContain('1 neighbours');
      await page.screenshot({ path: `${ARTIFACTS}visualiser-sync.png` });
    } finally {
      expect(await neighbour.stop()).toBe(0);
    }
  });

  it('keeps the actor list windowed and filterable with 10 000 actors', async () => {
    // 10 000 reads of keys nobody registered: each activates an `empty` resource actor (cheap: no signing, no writes).
    const ids = Array.from({ length: 10_000 }, (_, i) => resourceId(`load-${i}`, peer(9).peerId));
    const batches: { method: string; params: object }[][] = [];
    for (let i = 0; i < ids.length; i += 100) batches.push(ids.slice(i, i + 100).map((id) => ({ method: 'registry.get_records', params: { key_id: id } })));
    const answers = (await Promise.all(batches.map((b) => rpc.batch(b)))).flat();
    expect(new Set(answers.map((a) => a.error?.data?.code))).toEqual(new Set(['key_not_found']));
    const total = (await rpc.call<unknown[]>('actors.list')).length;
    expect(total).toBeGreaterThanOrEqual(10_000);
    await expect.poll(() => page.textContent('#actor-total'), { timeout: 10_000 }).toBe(total.toLocaleString('en-US'));
    // Only the rows in view exist.
    expect(await page.$$eval('#actor-list .row', (rows) => rows.length)).toBeLessThan(80);
    // Filtering by id, by state, and scrolling to the end stay quick.
    const target = ids[9_999];
    const started = Date.now();
    await page.fill('#actor-filter', target.slice(0, 12));
    await page.waitForSelector(row(`resource:${target}`, 'empty'));
    expect(await page.$$eval('#actor-list .row.actor', (rows) => rows.length)).toBe(1);
    await page.fill('#actor-filter', 'resource empty');
    await expect.poll(() => page.textContent('#actor-foot')).toMatch(/^10,000 of /);
    await page.$eval('#actor-list', (el) => (el.scrollTop = el.scrollHeight));
    await page.waitForSelector(row(`resource:${[...ids].sort().at(-1)}`));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await page.$$eval('#actor-list .row', (rows) => rows.length)).toBeLessThan(80);
    await page.screenshot({ path: `${ARTIFACTS}visualiser-10000-actors.png` });
    await page.fill('#actor-filter', '');
  });
});
