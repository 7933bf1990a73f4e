/**
 * Resource actors across worker threads, seen from outside (SPEC §9.4, §12 `workers`; runtime/store/shards.ts):
 * real node processes, real sockets. With `workers = 2` the resources are spread over both workers and
 * every one of them is listed and described by `actors.*`; a worker that dies (`debug.crash_worker`,
 * exiting or throwing) while requests stream in makes no request hang, fails only what it had not
 * answered (`internal_error`, `data.retry = true`), loses nothing acknowledged (also across a restart
 * of the node), and is restarted to serve its resources again from LMDB. With `workers = 0` everything
 * runs in the main thread and there is no worker to crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcClient, RpcConnectionError, RpcError } from '../../../runtime/client/rpc-client.js';
import { startNodeProcess, type NodeProcess } from '../../helpers/node-process.js';
import { key, peer, record } from '../../helpers/objects.js';
import { expectCode, tag } from '../../helpers/registry.js';
import { metric, scrape, series } from '../../helpers/metrics.js';
import type { Key, Record as ProviderRecord } from '../../../protocols/types.js';

const T0 = 1_700_000_000;
const WORKERS = 2;
/** Every RPC call of this file has an answer within this bound, or the test fails (a hang). */
const CALL_TIMEOUT_MS = 5000;

let node: NodeProcess; // workers = 2, manual clock; restarted by the last test of its describe
let single: NodeProcess; // workers = 0
let rpc: RpcClient;
const extraClients: RpcClient[] = [];

async function client(n: NodeProcess = node): Promise<RpcClient> {
  const c = await RpcClient.connect(n.rpcUrl, { timeoutMs: CALL_TIMEOUT_MS });
  extraClients.push(c);
  return c;
}

beforeAll(async () => {
  [node, single] = await Promise.all([
    startNodeProcess({ env: { workers: WORKERS, clock_start: T0 } }),
    startNodeProcess({ env: { workers: 0, clock_start: T0 } }),
  ]);
  rpc = await client(node);
});

afterAll(async () => {
  await Promise.all(extraClients.map((c) => c.close().catch(() => undefined)));
  const codes = await Promise.all([node?.stop(), single?.stop()]);
  expect(codes, `stderr of the workers node:\n${node?.stderr()}`).toEqual([0, 0]);
});

/** 40 keys of distinct owners, each with one record; the stream tests add records to them. */
const keys: Key[] = Array.from({ length: 40 }, (_, i) => key(peer(100 + i), `spread-${i}`, T0));
const firstRecords = keys.map((k, i) => record(k, peer(200 + (i % 50)), T0));
/** Every record each key must hold (acknowledged, or retried after a retryable failure), by key id. */
const expected = new Map<string, ProviderRecord[]>(keys.map((k, i) => [k.id, [firstRecords[i]]]));
/** Key ids of the resources worker 0 owns, as observed when it was crashed with nothing in flight. */
let worker0: Set<string> | undefined;

const actorId = (k: Key) => `resource:${k.id}`;
const liveIds = async (): Promise<Set<string>> => new Set((await rpc.call<{ id: string }[]>('actors.list')).map((a) => a.id));
const sortedTags = (rs: ProviderRecord[]) => rs.map(tag).sort();

describe('workers = 2: resource actors spread over worker threads', () => {
  it('registers and stores across both workers; actors.list lists every resource actor and actors.get describes any of them', async () => {
    expect(await Promise.all(keys.map((k) => rpc.call('registry.register_key', { key: k })))).toEqual(keys.map((k) => ({ key_id: k.id })));
    expect(await Promise.all(firstRecords.map((r) => rpc.call('registry.put_record', { record: r })))).toEqual(firstRecords.map(() => ({})));
    const got = await Promise.all(keys.map((k) => rpc.call('registry.get_records', { key_id: k.id })));
    expect(got).toEqual(firstRecords.map((r) => [r]));

    const list = await rpc.call<any[]>('actors.list');
    const ids = list.map((a) => a.id);
    expect(ids, 'actors.list is sorted by id').toEqual([...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(new Set(ids).size, 'no actor is listed twice').toBe(ids.length);
    for (const k of keys) expect(list.find((a) => a.id === actorId(k)), k.id).toEqual({ id: actorId(k), kind: 'resource', state: 'holding', started_at: T0 });
    for (const job of ['job:gc', 'job:renew', 'job:republish']) expect(ids).toContain(job);

    // Every resource actor can be described, whichever worker it lives in.
    const details = await Promise.all(keys.map((k) => rpc.call<any>('actors.get', { id: actorId(k) })));
    details.forEach((d, i) => {
      expect(Object.keys(d).sort()).toEqual(['context', 'id', 'kind', 'machine', 'state']);
      expect(d).toMatchObject({ id: actorId(keys[i]), kind: 'resource', state: 'holding' });
      expect(d.context.key).toEqual(keys[i]);
      expect(JSON.stringify(d.context.entries)).toContain(firstRecords[i].metadata.issuer_signature);
      expect(d.machine.id).toBe('resource');
      expect(Object.keys(d.machine.states).sort()).toEqual(['activating', 'empty', 'holding', 'passivated']);
    });
    for (const bad of [`resource:${key(peer(99), 'never-registered', T0).id}`, 'resource:not-a-resource-id', 'job:nope', 'nope', '']) {
      const e = await expectCode(rpc.call('actors.get', { id: bad }), 'actor_not_found');
      expect(e.rpcCode).toBe(1018);
    }

    // One queue per worker, and every activation counted.
    const m = await scrape(node.httpUrl);
    expect(series(m, 'signpost_worker_queue_depth').map((s) => s.labels.shard).sort()).toEqual(['0', '1']);
    for (const s of series(m, 'signpost_worker_queue_depth')) expect(s.value).toBeGreaterThanOrEqual(0);
    expect(metric(m, 'signpost_actor_activations_total')).toBeGreaterThanOrEqual(keys.length);
    expect(metric(m, 'signpost_live_actors', { kind: 'resource' })).toBeGreaterThanOrEqual(keys.length);
    expect(metric(m, 'signpost_worker_restarts_total')).toBe(0);
  });

  it('checks debug.crash_worker params: a worker index 0..W-1 and how "exit" | "throw"', async () => {
    await expectCode(rpc.call('debug.crash_worker', { worker: WORKERS }), 'invalid_params');
    await expectCode(rpc.call('debug.crash_worker', { worker: -1 }), 'invalid_params');
    await expectCode(rpc.call('debug.crash_worker', { worker: 0, how: 'explode' }), 'invalid_params');
    await expectCode(rpc.call('debug.crash_worker', {}), 'invalid_params');
    expect(metric(await scrape(node.httpUrl), 'signpost_worker_restarts_total')).toBe(0);
  });

  it('a crashed worker is restarted and serves its resources again, activated from LMDB (resources are on both workers)', async () => {
    const before = await liveIds();
    for (const k of keys) expect(before.has(actorId(k))).toBe(true);
    expect(await rpc.call('debug.crash_worker', { worker: 0, how: 'exit' })).toEqual({});
    expect((await rpc.call<any>('node.info')).peer_id).toBe(node.peerId);

    // The actors of worker 0 are gone with it; those of worker 1 are untouched.
    const after = await liveIds();
    const lost = keys.filter((k) => !after.has(actorId(k)));
    expect(lost.length, 'worker 0 owned some of the 40 resources').toBeGreaterThan(0);
    expect(lost.length, 'worker 1 owned some of the 40 resources').toBeLessThan(keys.length);
    worker0 = new Set(lost.map((k) => k.id));
    for (const k of lost) await expectCode(rpc.call('actors.get', { id: actorId(k) }), 'actor_not_found');

    // Every resource is served again, the lost ones from storage by the new worker 0.
    const got = await Promise.all(keys.map((k) => rpc.call('registry.get_records', { key_id: k.id })));
    expect(got).toEqual(firstRecords.map((r) => [r]));
    const again = await liveIds();
    for (const k of keys) expect(again.has(actorId(k)), k.id).toBe(true);
    for (const k of lost) expect((await rpc.call<any>('actors.get', { id: actorId(k) })).context.key).toEqual(k);
    const m = await scrape(node.httpUrl);
    expect(metric(m, 'signpost_worker_restarts_total')).toBe(1);
    expect(series(m, 'signpost_worker_queue_depth').map((s) => s.labels.shard).sort()).toEqual(['0', '1']);
  });

  it('signpost_actor_activations_total keeps counting across a worker restart (a counter never goes down)', async () => {
    expect(worker0, 'needs the worker placement observed by the restart test').toBeDefined();
    const reads = () => Promise.all(keys.map((k) => rpc.call('registry.get_records', { key_id: k.id })));
    await reads(); // every actor live
    const before = metric(await scrape(node.httpUrl), 'signpost_actor_activations_total')!;
    await rpc.call('debug.crash_worker', { worker: 1, how: 'exit' });
    const lost = keys.filter((k) => !worker0!.has(k.id)).length;
    const during = metric(await scrape(node.httpUrl), 'signpost_actor_activations_total')!;
    await reads(); // re-activates worker 1's resources from storage
    const after = metric(await scrape(node.httpUrl), 'signpost_actor_activations_total')!;
    expect({ during, after }, 'activations of the dead worker must not be forgotten').toEqual({ during: before, after: before + lost });
  });

  for (const [how, worker] of [
    ['exit', 0],
    ['throw', 1],
  ] as const) {
    it(`a worker that dies (how="${how}") while put_record calls stream in: every call is answered, none acknowledged is lost`, async () => {
      expect(worker0, 'needs the worker placement observed by the restart test').toBeDefined();
      const owned = (keyId: string) => worker0!.has(keyId) === (worker === 0);
      const restartsBefore = metric(await scrape(node.httpUrl), 'signpost_worker_restarts_total')!;
      // 8 new records per key, each from its own issuer: 320 puts, about half of them to the worker that dies.
      const base = how === 'exit' ? 10_000 : 20_000;
      // Keys interleaved, so both workers are busy all along.
      const records = Array.from({ length: 8 }, (_, j) => keys.map((k, i) => record(k, peer(base + j * keys.length + i), T0, { value: `${how}-${i}-${j}` }))).flat();

      const clients = await Promise.all([client(), client()]);
      const queue = [...records];
      const acked: ProviderRecord[] = [];
      const retryable: ProviderRecord[] = [];
      const hung: string[] = [];
      const wrong: string[] = [];
      let crash: Promise<unknown> | null = null; // settles with the answer or the error
      const lane = async (c: RpcClient) => {
        for (let r = queue.shift(); r; r = queue.shift()) {
          try {
            expect(await c.call('registry.put_record', { record: r })).toEqual({});
            acked.push(r);
          } catch (e) {
            if (e instanceof RpcError && e.code === 'internal_error' && e.data.retry === true) retryable.push(r);
            else if (e instanceof RpcConnectionError) hung.push(`${tag(r)}: ${e.message}`);
            else wrong.push(`${tag(r)}: ${e instanceof RpcError ? `${e.code} ${JSON.stringify(e.data)} ${e.message}` : String(e)}`);
          }
          // Crash once a fifth of the stream is acknowledged: about 80 calls are in flight then.
          if (!crash && acked.length >= records.length / 5) crash = rpc.call('debug.crash_worker', { worker, how }).catch((e: unknown) => e);
        }
      };
      const started = performance.now();
      await Promise.all(clients.flatMap((c) => Array.from({ length: 40 }, () => lane(c))));
      expect(crash, 'the crash was requested during the stream').not.toBeNull();
      expect(await crash).toEqual({});
      const ms = performance.now() - started;

      expect(hung, `calls left unanswered for ${CALL_TIMEOUT_MS} ms\nnode stderr:\n${node.stderr()}`).toEqual([]);
      expect(wrong, `calls failed other than internal_error with data.retry = true\nnode stderr:\n${node.stderr()}`).toEqual([]);
      expect(acked.length + retryable.length).toBe(records.length);
      // With ~80 calls in flight the dead worker always had some unanswered: the retry path was taken.
      expect(retryable.length).toBeGreaterThan(0);
      // Only the dead worker's calls can fail.
      expect(retryable.filter((r) => !owned(r.metadata.key_id)).map(tag), 'failed calls of the worker that kept running').toEqual([]);
      console.info(`crash_worker how=${how}: ${acked.length} acknowledged, ${retryable.length} to retry, stream ${Math.round(ms)} ms`);

      // The node runs on, and the worker was restarted (once).
      expect(node.child.exitCode).toBeNull();
      expect((await rpc.call<any>('node.info')).peer_id).toBe(node.peerId);
      const m = await scrape(node.httpUrl);
      expect(metric(m, 'signpost_worker_restarts_total')).toBe(restartsBefore + 1);
      expect(node.stderr()).toMatch(/shard worker ended; restarting it/);
      expect(node.stderr()).not.toMatch(/restart failed/);
      if (process.env.DEBUG_WORKERS_TEST) console.info(node.stderr());

      // Every acknowledged record is there, on both workers.
      for (const r of acked) expected.get(r.metadata.key_id)!.push(r);
      const held = await Promise.all(keys.map((k) => rpc.call<ProviderRecord[]>('registry.get_records', { key_id: k.id })));
      keys.forEach((k, i) => {
        const mine = new Set(held[i].map(tag));
        const missing = expected.get(k.id)!.filter((r) => !mine.has(tag(r)));
        expect(missing.map(tag), `acknowledged records missing from ${k.id}`).toEqual([]);
      });

      // A retry of what failed succeeds on the restarted worker; then each key holds exactly what was sent.
      const retried = await Promise.all(retryable.map((r) => rpc.call('registry.put_record', { record: r })));
      expect(retried).toEqual(retryable.map(() => ({})));
      for (const r of retryable) expected.get(r.metadata.key_id)!.push(r);
      const final = await Promise.all(keys.map((k) => rpc.call<ProviderRecord[]>('registry.get_records', { key_id: k.id })));
      keys.forEach((k, i) => expect(sortedTags(final[i]), k.id).toEqual(sortedTags(expected.get(k.id)!)));
      const live = await liveIds();
      for (const k of keys) expect(live.has(actorId(k)), k.id).toBe(true);
      for (const s of series(await scrape(node.httpUrl), 'signpost_worker_queue_depth')) expect(s.value, `queue of shard ${s.labels.shard} drained`).toBe(0);
    });
  }

  it('after the worker crashes, the node stops cleanly and, restarted, still holds every acknowledged record', async () => {
    const stderr = node.stderr();
    await Promise.all(extraClients.splice(0).map((c) => c.close().catch(() => undefined)));
    expect(await node.stop(), `stderr:\n${stderr}`).toBe(0);
    node = await startNodeProcess({ dataDir: node.dataDir, env: { workers: WORKERS, clock_start: T0 } });
    rpc = await client(node);
    const held = await Promise.all(keys.map((k) => rpc.call<ProviderRecord[]>('registry.get_records', { key_id: k.id })));
    keys.forEach((k, i) => expect(sortedTags(held[i]), k.id).toEqual(sortedTags(expected.get(k.id)!)));
    const m = await scrape(node.httpUrl);
    expect(metric(m, 'signpost_actor_activations_total')).toBe(keys.length);
    expect(metric(m, 'signpost_worker_restarts_total')).toBe(0);
  });
});

describe('workers = 0: everything in the main thread', () => {
  it('registers, stores and reads; actors are listed and described; /metrics has one queue, "main"', async () => {
    const c = await client(single);
    const ks = [key(peer(1), 'main-a', T0), key(peer(2), 'main-b', T0), key(peer(3), 'main-c', T0)];
    const rs = ks.map((k, i) => record(k, peer(10 + i), T0));
    for (const k of ks) expect(await c.call('registry.register_key', { key: k })).toEqual({ key_id: k.id });
    for (const r of rs) expect(await c.call('registry.put_record', { record: r })).toEqual({});
    for (const [i, k] of ks.entries()) {
      expect(await c.call('registry.get_records', { key_id: k.id })).toEqual([rs[i]]);
      expect(await c.call('registry.get_key_metadata', { key_id: k.id })).toEqual(k);
    }
    const list = await c.call<any[]>('actors.list');
    for (const k of ks) expect(list.find((a) => a.id === actorId(k))).toEqual({ id: actorId(k), kind: 'resource', state: 'holding', started_at: T0 });
    expect((await c.call<any>('actors.get', { id: actorId(ks[0]) })).context.key).toEqual(ks[0]);
    await expectCode(c.call('actors.get', { id: `resource:${key(peer(4), 'never', T0).id}` }), 'actor_not_found');
    const m = await scrape(single.httpUrl);
    expect(series(m, 'signpost_worker_queue_depth')).toEqual([{ name: 'signpost_worker_queue_depth', labels: { shard: 'main' }, value: 0 }]);
    expect(metric(m, 'signpost_actor_activations_total')).toBeGreaterThanOrEqual(ks.length);
  });

  it('debug.crash_worker is invalid_params: there is no worker, and the node runs on', async () => {
    const c = await client(single);
    for (const params of [{ worker: 0 }, { worker: 0, how: 'exit' }, { worker: 0, how: 'throw' }]) {
      const e = await expectCode(c.call('debug.crash_worker', params), 'invalid_params');
      expect(e.message).toMatch(/main thread|workers = 0/);
    }
    expect(single.child.exitCode).toBeNull();
    expect((await c.call<any>('node.info')).peer_id).toBe(single.peerId);
    expect(metric(await scrape(single.httpUrl), 'signpost_worker_restarts_total')).toBe(0);
  });
});
