/**
 * bench/actors: the resource-actor runtime (runtime/store/shards.ts). Prints JSON lines {"bench":"actors", ...}:
 *  - verify_baseline: raw single-thread node:crypto verifies/s over the very signatures put carries;
 *  - put_record in-process (no socket) with W = 0, 1 and 2 worker threads: records/s of real signed
 *    records (each put verifies two Ed25519 signatures, issuer and host), with ratio_w1_w0 / ratio_w2_w0
 *    (goal W2/W0 ≥ 1.6). On a shared machine a ratio says little alone: each line also carries
 *    cores_used (process CPU ÷ wall, all threads), cores_available (what two busy threads obtained
 *    just before the run) and records_per_cpu_s;
 *  - put_record through the RPC (a node process, 64 clients) with W = 0 and 2 (reported, no goal: the
 *    load generator shares the cores with the node);
 *  - rss_passivated: anonymous RSS of a node process holding 1 000 000 stored, passivated resources
 *    minus that of a node with an empty data dir, per resource (goal ≤ 2048 bytes);
 *  - rss_live: memory per live resource actor with 10 000 and 100 000 live actors (in-process, W = 0);
 *  - activation: p50/p99 of the first request (get_records) to a passivated resource, W = 0 (goal
 *    p99 < 1 ms) and W = 1 (includes the worker hop).
 *
 * Run: npm run bench:actors   (env BENCH_SCALE=0.1 for a quick run; the script passes --expose-gc)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Identity } from '../protocols/identity.js';
import { resourceId } from '../protocols/objects.js';
import { stateFromEntries, type RuleContext } from '../protocols/registry.js';
import { makeKey, makeMetadata, makeRecord, signatureVerifier } from '../protocols/signed.js';
import { nodeEd25519 } from '../runtime/base/node-crypto.js';
import { systemTimers } from '../runtime/base/clock.js';
import { DEFAULT_RULE_CONFIG, type Key, type Record as ProviderRecord } from '../protocols/types.js';
import { parseRecord } from '../protocols/validate.js';
import { benchIdentity, coresAvailable, ownCpuSeconds, percentile, round, startNodeProcess, verifyBaseline } from './common.js';
import { logger } from '../runtime/base/log.js';
import { RpcClient } from '../runtime/client/rpc-client.js';
import { toStoreWrites } from '../runtime/store/shard.js';
import type { ShardRequest } from '../runtime/store/shard-protocol.js';
import { startShards, type Shards } from '../runtime/store/shards.js';
import { openLmdbStore } from '../runtime/store/lmdb-store.js';
import type { Store, StoreWrite } from '../runtime/store/store.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const log = logger('warn');
const gc = (globalThis as { gc?: () => void }).gc;

function emit(line: object): void {
  process.stdout.write(JSON.stringify({ bench: 'actors', ...line }) + '\n');
}


const identity = (n: number): Identity => benchIdentity(n, 0x6a);
const nodeIdentity = identity(999_999);
const ruleContext = (): RuleContext => ({ now: Math.floor(Date.now() / 1000), cfg: DEFAULT_RULE_CONFIG, hostPeerId: nodeIdentity.peerId });


const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Anonymous, file-backed and total resident memory of a process, in bytes (Linux /proc). */
function rssOf(pid: number | 'self'): { anon: number; file: number; total: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const m = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(m[1]) * 1024;
  };
  return { anon: kb('RssAnon'), file: kb('RssFile'), total: kb('VmRSS') };
}

/** CPU seconds (user + system, all threads) a process has used so far (Linux /proc/PID/stat, 100 ticks/s). */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}


const load1 = () => round(loadavg()[0], 2);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'signpost-bench-actors-'));
}

function shardsOn(store: Store, dataDir: string, workers: number, passivateAfterMs = 60_000): Promise<Shards> {
  return startShards({ workers, store, dataDir, ruleContext, identity: nodeIdentity, verify: signatureVerifier(nodeEd25519()), timers: systemTimers, passivateAfterMs, onInspect: () => {}, log });
}

/** Runs `requests` through `shards` with at most `window` in flight; throws on the first error answer. */
async function drive(shards: Shards, requests: { keyId: string; req: ShardRequest }[], window: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(window, requests.length) }, async () => {
      for (let i = next++; i < requests.length; i = next++) await shards.request(requests[i].keyId, requests[i].req);
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// 1 and 2: put_record throughput

interface Workload {
  keys: Key[];
  /**
   * As a client would send them, interleaved so consecutive records belong to different keys: the
   * first `keys.length` are the warm-up (one per key), the rest are timed.
   */
  records: ProviderRecord[];
}

/** `keys` resources × `perKey` records, each record issued and hosted by one of `perKey` peers. */
function makeWorkload(keys: number, perKey: number, now: number): Workload {
  const owner = identity(100_000);
  const issuers = Array.from({ length: perKey }, (_, i) => identity(i));
  const keyObjs = Array.from({ length: keys }, (_, k) => makeKey(owner, { label: `put-${k}`, timestamp_created: now }));
  const records: ProviderRecord[] = [];
  issuers.forEach((issuer, i) => {
    keyObjs.forEach((key, k) => {
      const md = makeMetadata(issuer, { key_id: key.id, peer_id: issuer.peerId, timestamp_issued: now - i, value: `wss://svc-${i}.example/${k}` });
      records.push(makeRecord(issuer, md, now));
    });
  });
  return { keys: keyObjs, records };
}



const PUT_WINDOW = 4096;

/**
 * put_record in-process: register the keys and put the first record of each key (not timed: it warms
 * up the put path of fresh worker threads), then time the puts of the other records. Every record is a
 * fresh, already parsed copy (what methods.ts hands to `shards.request` after parseRecord; fresh
 * objects, so no digest computed by an earlier run is reused). Keeps the data dir when `keep` is set.
 */
async function putInProcess(work: Workload, workers: number, keep: boolean): Promise<{ rate: number; commits: number; cpuS: number; dir: string }> {
  const dir = tempDir();
  const store = await openLmdbStore({ dataDir: dir });
  const shards = await shardsOn(store, dir, workers);
  await drive(shards, work.keys.map((key) => ({ keyId: key.id, req: { type: 'register_key', key } })), PUT_WINDOW);
  const requests = (structuredClone(work.records) as unknown[]).map((raw) => {
    const record = parseRecord(raw);
    return { keyId: record.metadata.key_id, req: { type: 'put_record', record } as ShardRequest };
  });
  await drive(shards, requests.slice(0, work.keys.length), PUT_WINDOW);
  const timed = requests.slice(work.keys.length);
  const commits0 = store.stats().commits;
  const cpu0 = ownCpuSeconds();
  const t0 = performance.now();
  await drive(shards, timed, PUT_WINDOW);
  const rate = timed.length / ((performance.now() - t0) / 1000);
  const cpuS = ownCpuSeconds() - cpu0;
  const commits = store.stats().commits - commits0;
  await shards.close();
  await store.close();
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return { rate, commits, cpuS, dir };
}


async function putOverRpc(url: string, pid: number, work: Workload, clients: number): Promise<{ rate: number; nodeCpuS: number }> {
  const conns = await Promise.all(Array.from({ length: clients }, () => RpcClient.connect(url)));
  await Promise.all(
    conns.map(async (c, j) => {
      for (let i = j; i < work.keys.length; i += clients) await c.call('registry.register_key', { key: work.keys[i] });
    }),
  );
  const putRange = async (from: number, to: number) => {
    let next = from;
    await Promise.all(
      conns.map(async (c) => {
        for (let i = next++; i < to; i = next++) await c.call('registry.put_record', { record: work.records[i] });
      }),
    );
  };
  await putRange(0, work.keys.length); // warm-up: the first record of each key
  const cpu0 = cpuSecondsOf(pid);
  const t0 = performance.now();
  await putRange(work.keys.length, work.records.length);
  const rate = (work.records.length - work.keys.length) / ((performance.now() - t0) / 1000);
  const nodeCpuS = cpuSecondsOf(pid) - cpu0;
  await Promise.all(conns.map((c) => c.close()));
  return { rate, nodeCpuS };
}

// ---------------------------------------------------------------------------------------------------
// 3, 4 and 5: many stored resources

const KEYS_PER_WRITE = 5000;

/**
 * Writes `count` keys (no records) straight to a store, `KEYS_PER_WRITE` per group-committed write, with
 * the index rows the shard would write (toStoreWrites). Every key is really signed by its owner
 * (node:crypto signs about 18 000/s on one core here: about a minute of the two to three minutes this
 * takes for 1 000 000 keys). Nothing in this bench verifies them, but the data dir then holds exactly
 * what a node would have accepted, with no reused or fake signature.
 */
async function writeKeys(dir: string, count: number, labelOf: (i: number) => string, owner: Identity, now: number): Promise<number> {
  const store = await openLmdbStore({ dataDir: dir });
  const ctx = ruleContext();
  const t0 = performance.now();
  let inFlight: Promise<void> = Promise.resolve();
  for (let start = 0; start < count; start += KEYS_PER_WRITE) {
    const writes: StoreWrite[] = [];
    for (let i = start; i < Math.min(count, start + KEYS_PER_WRITE); i++) {
      const key = makeKey(owner, { label: labelOf(i), timestamp_created: now });
      const stored = { key, published: null };
      writes.push(...toStoreWrites(key.id, { key: stored, put: [], deleted: [] }, stateFromEntries(stored, []), ctx));
    }
    // Sign the next batch while the previous one commits: one write outstanding at a time.
    await inFlight;
    inFlight = store.write(writes);
  }
  await inFlight;
  const s = (performance.now() - t0) / 1000;
  await store.close();
  return s;
}

/** RSS of a node process on `dir`: at its start line and after `settleMs` with no request sent. */
async function nodeRss(dir: string, settleMs: number): Promise<{ atStart: ReturnType<typeof rssOf>; settled: ReturnType<typeof rssOf> }> {
  const node = await startNodeProcess(dir, { SIGNPOST_WORKERS: '1' });
  const atStart = rssOf(node.pid);
  await sleep(settleMs);
  const settled = rssOf(node.pid);
  await node.stop();
  return { atStart, settled };
}

function memoryNow(): { heapUsed: number; rss: number; anon: number } {
  for (let i = 0; i < 3; i++) gc?.();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, anon: rssOf('self').anon };
}

/**
 * Latency of the first request to each of `ids` (each activates its actor), one at a time. The first
 * `warm` are not timed: they warm up the code paths (JIT) of this shard, as a running node's would be.
 */
async function activationLatency(shards: Shards, ids: string[], warm: number, expectRecords: number): Promise<{ p50: number; p99: number; p999: number; max: number }> {
  const samples: number[] = [];
  for (const id of ids.slice(0, warm)) await shards.request(id, { type: 'get_records' });
  gc?.(); // start from a collected heap, not from the debris of the previous phase
  for (const id of ids.slice(warm)) {
    const t0 = performance.now();
    const got = await shards.request<unknown[]>(id, { type: 'get_records' });
    samples.push(performance.now() - t0);
    if (got.length !== expectRecords) throw new Error(`expected ${expectRecords} records, got ${got.length}`);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), p999: percentile(samples, 99.9), max: samples[samples.length - 1] };
}

async function main(): Promise<void> {
  if (!gc) log.warn('run with --expose-gc (npm run bench:actors does) for steadier live-actor memory figures');
  const now = Math.floor(Date.now() / 1000);

  // 1. put_record in-process, W = 0, 1, 2: best of ROUNDS interleaved runs (the machine may be shared).
  const perKey = 10;
  const putKeys = Math.max(50, Math.round(4000 * SCALE));
  const work = makeWorkload(putKeys, perKey, now);
  const verifiesPerS = verifyBaseline(work.records);
  emit({ op: 'verify_baseline', verifies_per_s: Math.round(verifiesPerS), signatures: work.records.length * 2, load_avg_1m: load1(), note: 'raw node:crypto Ed25519 verifies/s on one thread, one cached KeyObject per key: a record carries two signatures' });
  const ROUNDS = 2;
  const runs: { rate: number; commits: number; cpuS: number; load: number; coresAvailable: number }[][] = [[], [], []];
  let keptDir = '';
  for (let pass = 0; pass < ROUNDS; pass++) {
    for (const workers of [0, 1, 2]) {
      const keep = pass === 0 && workers === 0;
      const available = await coresAvailable(2, 500);
      const r = await putInProcess(work, workers, keep);
      if (keep) keptDir = r.dir;
      runs[workers].push({ ...r, load: load1(), coresAvailable: available });
    }
  }
  const timedRecords = work.records.length - putKeys;
  const best = runs.map((list) => list.reduce((a, b) => (b.rate > a.rate ? b : a)));
  for (const workers of [0, 1, 2]) {
    const b = best[workers];
    const wallS = timedRecords / b.rate;
    emit({
      op: 'put_record',
      via: 'in_process',
      workers,
      keys: putKeys,
      records: timedRecords,
      warmup_records: putKeys,
      window: PUT_WINDOW,
      records_per_s: Math.round(b.rate),
      rounds_records_per_s: runs[workers].map((r) => Math.round(r.rate)),
      ...(workers === 1 ? { ratio_w1_w0: round(b.rate / best[0].rate) } : {}),
      ...(workers === 2 ? { ratio_w2_w0: round(b.rate / best[0].rate), goal_ratio_w2_w0: 1.6 } : {}),
      ratio_to_verify: round(b.rate / verifiesPerS),
      cores_used: round(b.cpuS / wallS, 2),
      cores_available: round(b.coresAvailable, 2),
      records_per_cpu_s: Math.round(timedRecords / b.cpuS),
      records_per_commit: round(timedRecords / Math.max(1, b.commits), 1),
      load_avg_1m: b.load,
    });
  }

  // 2. put_record through the RPC, W = 0 and 2.
  const clients = 64;
  const rpcRates: number[] = [];
  for (const workers of [0, 2]) {
    const dir = tempDir();
    const available = await coresAvailable(2, 500);
    const node = await startNodeProcess(dir, { SIGNPOST_WORKERS: String(workers) });
    const r = await putOverRpc(node.url, node.pid, work, clients);
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
    rpcRates[workers] = r.rate;
    emit({
      op: 'put_record',
      via: 'rpc',
      workers,
      clients,
      records: timedRecords,
      warmup_records: putKeys,
      records_per_s: Math.round(r.rate),
      ...(workers === 2 ? { ratio_w2_w0: round(r.rate / rpcRates[0]) } : {}),
      node_cores_used: round(r.nodeCpuS / (timedRecords / r.rate), 2),
      cores_available: round(available, 2),
      load_avg_1m: load1(),
      note: 'load generator shares the cores',
    });
  }

  // 3. Anonymous RSS of a node holding `stored` passivated resources.
  const stored = Math.max(10_000, Math.round(1_000_000 * SCALE));
  const owner = identity(200_000);
  const labelOf = (i: number) => `res-${i}`;
  const idOf = (i: number) => resourceId(labelOf(i), owner.peerId);
  const bigDir = tempDir();
  const writeS = await writeKeys(bigDir, stored, labelOf, owner, now);
  const emptyDir = tempDir();
  const settleMs = 3000;
  const empty = await nodeRss(emptyDir, settleMs);
  const full = await nodeRss(bigDir, settleMs);
  rmSync(emptyDir, { recursive: true, force: true });
  emit({
    op: 'rss_passivated',
    resources: stored,
    workers: 1,
    write_s: round(writeS, 1),
    empty_rss_anon_bytes: empty.settled.anon,
    full_rss_anon_bytes: full.settled.anon,
    empty_vmrss_bytes: empty.settled.total,
    full_vmrss_bytes: full.settled.total,
    full_rss_anon_at_start_bytes: full.atStart.anon,
    full_rss_file_bytes: full.settled.file,
    bytes_per_resource: round((full.settled.anon - empty.settled.anon) / stored, 1),
    goal_bytes_per_resource: 2048,
    note: `RssAnon from /proc/PID/status (anonymous memory: LMDB pages are memory-mapped and not counted), read ${settleMs} ms after the start line with no request sent`,
  });

  // 4. Memory per live actor, in this process (W = 0, no passivation during the measurement).
  const stride = 5;
  const liveSteps = [...new Set([Math.max(1000, Math.round(10_000 * SCALE)), Math.max(1000, Math.min(Math.floor(stored / stride), Math.round(100_000 * SCALE)))])];
  const liveIds = Array.from({ length: liveSteps[liveSteps.length - 1] }, (_, j) => idOf(j * stride));
  {
    const store = await openLmdbStore({ dataDir: bigDir });
    const shards = await shardsOn(store, bigDir, 0, 1e9);
    const base = memoryNow();
    let activated = 0;
    for (const target of liveSteps) {
      for (; activated < target; activated += 5000) {
        const chunk = liveIds.slice(activated, Math.min(target, activated + 5000));
        await Promise.all(chunk.map((id) => shards.request(id, { type: 'get_key_metadata' })));
      }
      activated = target;
      const live = (await shards.stats()).live;
      if (live !== target) throw new Error(`expected ${target} live actors, found ${live}`);
      const m = memoryNow();
      emit({
        op: 'rss_live',
        live_actors: target,
        bytes_per_live_actor: Math.round((m.anon - base.anon) / target),
        heap_bytes_per_live_actor: Math.round((m.heapUsed - base.heapUsed) / target),
        rss_bytes_per_live_actor: Math.round((m.rss - base.rss) / target),
        gc: gc ? 'forced' : 'not exposed',
        note: 'in-process W=0; deltas from before the first activation: RssAnon (bytes_per_live_actor), V8 heapUsed, total RSS (includes touched LMDB pages)',
      });
    }
    await shards.close();
    await store.close();
  }

  // 5. Activation latency: the first get_records to each of `samples` passivated resources, after
  // `warm` untimed activations on the same shards. A fresh Shards has no live actor, so the keys of
  // the put_record store serve W = 0 and W = 1 alike.
  const samples = Math.max(500, Math.min(Math.floor(stored / stride), Math.round(20_000 * SCALE)));
  const warmOf = (n: number) => Math.min(1000, Math.floor(n / 5));
  const withRecords = work.keys.map((k) => k.id);
  for (const workers of [0, 1]) {
    const big = Array.from({ length: warmOf(samples * 1.25) + samples }, (_, j) => idOf(j * stride + 1 + workers));
    for (const [dir, ids, records] of [
      [bigDir, big, 0],
      [keptDir, withRecords, perKey],
    ] as const) {
      const store = await openLmdbStore({ dataDir: dir });
      const shards = await shardsOn(store, dir, workers);
      const warm = dir === bigDir ? ids.length - samples : warmOf(ids.length);
      const lat = await activationLatency(shards, ids, warm, records);
      const activations = (await shards.stats()).activations;
      await shards.close();
      await store.close();
      if (activations !== ids.length) throw new Error(`expected ${ids.length} activations, counted ${activations}`);
      emit({
        op: 'activation',
        request: 'get_records',
        workers,
        stored_resources: dir === bigDir ? stored : putKeys,
        records_per_resource: records,
        warmup: warm,
        requests: ids.length - warm,
        p50_ms: round(lat.p50),
        p99_ms: round(lat.p99),
        p999_ms: round(lat.p999),
        max_ms: round(lat.max),
        load_avg_1m: load1(),
        ...(workers === 0 ? { goal_p99_ms: 1 } : { note: 'includes the worker hop (one batch per tick each way)' }),
      });
    }
  }
  rmSync(bigDir, { recursive: true, force: true });
  rmSync(keptDir, { recursive: true, force: true });
}

await main();
