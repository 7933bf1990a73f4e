/**
 * `GET /metrics` of a real node process (runtime/node/node-metrics.ts): Prometheus text exposition 0.0.4 that
 * a scraper can parse, with the request counters and latency histograms by method and result code, live
 * actors, activations, LMDB commits and size, worker queues and restarts, and scheduled job runs, each
 * moving as the node is used through its public RPC.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcClient } from '../../../runtime/client/rpc-client.js';
import { startNodeProcess, type NodeProcess } from '../../helpers/node-process.js';
import { key, peer, record } from '../../helpers/objects.js';
import { expectCode } from '../../helpers/registry.js';
import { metric, parseMetrics, scrape, series, type Scrape } from '../../helpers/metrics.js';

const T0 = 1_700_000_000;
const HOUR = 3600;

let node: NodeProcess;
let rpc: RpcClient;

beforeAll(async () => {
  node = await startNodeProcess({ env: { workers: 2, clock_start: T0 } });
  rpc = await RpcClient.connect(node.rpcUrl, { timeoutMs: 5000 });
});

afterAll(async () => {
  await rpc?.close();
  expect(await node?.stop(), node?.stderr()).toBe(0);
});

const requests = (m: Scrape, method: string, code: string) => metric(m, 'signpost_rpc_requests_total', { method, code }) ?? 0;

/** Checks a histogram series: cumulative buckets ascending in `le`, ending with +Inf = _count. */
function histogram(m: Scrape, name: string, labels: Record<string, string>): { count: number; sum: number; buckets: [string, number][] } {
  const buckets = series(m, `${name}_bucket`)
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .map((s) => [s.labels.le, s.value] as [string, number]);
  expect(buckets.length, `${name}${JSON.stringify(labels)} has buckets`).toBeGreaterThan(1);
  const bounds = buckets.map(([le]) => (le === '+Inf' ? Infinity : Number(le)));
  expect(bounds.every((b) => !Number.isNaN(b))).toBe(true);
  expect(bounds, 'le ascending').toEqual([...bounds].sort((a, b) => a - b));
  expect(bounds.at(-1)).toBe(Infinity);
  const counts = buckets.map(([, v]) => v);
  expect(counts, 'cumulative counts').toEqual([...counts].sort((a, b) => a - b));
  const count = metric(m, `${name}_count`, labels)!;
  const sum = metric(m, `${name}_sum`, labels)!;
  expect(counts.at(-1)).toBe(count);
  return { count, sum, buckets };
}

describe('GET /metrics', () => {
  it('is Prometheus text: every line a comment or `name{labels} value`, every family with HELP and TYPE', async () => {
    const m = await scrape(node.httpUrl);
    expect(m.status).toBe(200);
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4(;|$)/);
    expect(m.text.endsWith('\n')).toBe(true);
    for (const line of m.text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? \S+$/);
    }
    for (const s of m.samples) {
      expect(Number.isNaN(s.value), `${s.name} has a number`).toBe(false);
      const family = m.types.has(s.name) ? s.name : s.name.replace(/_(bucket|sum|count)$/, '');
      expect(m.types.get(family), `# TYPE of ${s.name}`).toMatch(/^(counter|gauge|histogram)$/);
      expect(m.help.has(family), `# HELP of ${s.name}`).toBe(true);
    }
    for (const name of [
      'signpost_rpc_requests_total',
      'signpost_rpc_request_duration_seconds',
      'signpost_live_actors',
      'signpost_actor_activations_total',
      'signpost_lmdb_commits_total',
      'signpost_lmdb_bytes',
      'signpost_worker_queue_depth',
      'signpost_worker_restarts_total',
      'signpost_job_runs_total',
    ]) {
      expect(m.types.has(name), name).toBe(true);
    }
    expect(m.types.get('signpost_rpc_request_duration_seconds')).toBe('histogram');
    expect(m.types.get('signpost_rpc_requests_total')).toBe('counter');
    // The helper's parser rejects what is not exposition text.
    expect(() => parseMetrics('ok 1\nnot a sample\n')).toThrow(/line 2/);
  });

  it('counts calls by method and result code, with a latency histogram per method', async () => {
    const before = await scrape(node.httpUrl);
    const keys = Array.from({ length: 5 }, (_, i) => key(peer(10 + i), `metrics-${i}`, T0));
    for (const k of keys) await rpc.call('registry.register_key', { key: k });
    const unknown = key(peer(20), 'metrics-never-registered', T0);
    await expectCode(rpc.call('registry.get_records', { key_id: unknown.id }), 'key_not_found');
    await expectCode(rpc.call('registry.get_records', { key_id: unknown.id }), 'key_not_found');
    await expectCode(rpc.call('registry.register_key', { key: 5 }), 'invalid_params');
    await rpc.call('registry.get_records', { key_id: keys[0].id });

    const after = await scrape(node.httpUrl);
    const delta = (method: string, code: string) => requests(after, method, code) - requests(before, method, code);
    expect(delta('registry.register_key', 'ok')).toBe(5);
    expect(delta('registry.get_records', 'key_not_found')).toBe(2);
    expect(delta('registry.register_key', 'invalid_params')).toBe(1);
    expect(delta('registry.get_records', 'ok')).toBe(1);
    expect(metric(after, 'signpost_rpc_requests_total', { method: 'registry.register_key', code: 'ok' })).toBe(5); // a fresh node

    const h = histogram(after, 'signpost_rpc_request_duration_seconds', { method: 'registry.register_key' });
    // One observation per call, whatever its result.
    expect(h.count).toBe(6);
    expect(h.sum).toBeGreaterThan(0);
    expect(h.buckets.map(([le]) => le)).toContain('0.001');
    const g = histogram(after, 'signpost_rpc_request_duration_seconds', { method: 'registry.get_records' });
    expect(g.count).toBe(3);
  });

  it('shows live actors by kind, activations, LMDB commits that grow with writes, and the data size', async () => {
    const k = key(peer(30), 'metrics-writes', T0);
    await rpc.call('registry.register_key', { key: k });
    const before = await scrape(node.httpUrl);
    expect(metric(before, 'signpost_live_actors', { kind: 'resource' })).toBeGreaterThanOrEqual(6);
    for (const kind of ['gc', 'renew', 'republish']) expect(metric(before, 'signpost_live_actors', { kind }), kind).toBe(1);
    expect(metric(before, 'signpost_actor_activations_total')).toBeGreaterThanOrEqual(6);
    expect(metric(before, 'signpost_lmdb_bytes')).toBeGreaterThan(0);

    for (let i = 0; i < 3; i++) await rpc.call('registry.put_record', { record: record(k, peer(31 + i), T0) });
    const after = await scrape(node.httpUrl);
    // Each acknowledged write is durable, hence committed: three sequential writes, at least three commits.
    expect(metric(after, 'signpost_lmdb_commits_total')! - metric(before, 'signpost_lmdb_commits_total')!).toBeGreaterThanOrEqual(3);
    expect(metric(after, 'signpost_lmdb_bytes')).toBeGreaterThan(0);
    expect(requests(after, 'registry.put_record', 'ok')).toBe(3);

    // A new resource adds a live actor and an activation.
    await rpc.call('registry.register_key', { key: key(peer(35), 'metrics-one-more', T0) });
    const more = await scrape(node.httpUrl);
    expect(metric(more, 'signpost_live_actors', { kind: 'resource' })).toBe(metric(after, 'signpost_live_actors', { kind: 'resource' })! + 1);
    expect(metric(more, 'signpost_actor_activations_total')).toBe(metric(after, 'signpost_actor_activations_total')! + 1);
  });

  it('has a queue depth per worker, empty at rest, and no restarts', async () => {
    const m = await scrape(node.httpUrl);
    expect(series(m, 'signpost_worker_queue_depth').map((s) => [s.labels.shard, s.value]).sort()).toEqual([
      ['0', 0],
      ['1', 0],
    ]);
    expect(metric(m, 'signpost_worker_restarts_total')).toBe(0);
  });

  it('counts job runs by job and result as the manual clock advances', async () => {
    const before = await scrape(node.httpUrl);
    // renew runs once at start; gc not before its interval (1 h).
    expect(metric(before, 'signpost_job_runs_total', { job: 'renew', result: 'ok' })).toBe(1);
    expect(metric(before, 'signpost_job_runs_total', { job: 'gc', result: 'ok' }) ?? 0).toBe(0);

    await rpc.call('debug.advance_time', { seconds: HOUR });
    const one = await scrape(node.httpUrl);
    expect(metric(one, 'signpost_job_runs_total', { job: 'gc', result: 'ok' })).toBe(1);
    expect(metric(one, 'signpost_job_runs_total', { job: 'republish', result: 'ok' })).toBe(1);
    expect(metric(one, 'signpost_job_runs_total', { job: 'gc', result: 'failed' }) ?? 0).toBe(0);
    expect(histogram(one, 'signpost_job_duration_seconds', { job: 'gc' }).count).toBe(1);

    await rpc.call('debug.advance_time', { seconds: 2 * HOUR });
    const three = await scrape(node.httpUrl);
    expect(metric(three, 'signpost_job_runs_total', { job: 'gc', result: 'ok' })).toBe(3);
    expect(metric(three, 'signpost_job_runs_total', { job: 'renew', result: 'ok' })).toBe(1);
    expect(requests(three, 'debug.advance_time', 'ok')).toBe(2);
  });
});
