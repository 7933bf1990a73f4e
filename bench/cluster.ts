/**
 * bench/cluster: the Resources API across a network of real node processes on loopback. Prints JSON lines
 * {"bench":"cluster", ...}:
 *  - cluster: N node processes (default 20; the first alone, the others bootstrapping from it), workers
 *    per node, start time, time until every routing table held every other node;
 *  - baseline_put_record / baseline_get_records: registry.put_record / registry.get_records on one node
 *    (its local store, no network fan-out) with 1 and 16 clients: what every network figure is compared
 *    with (`ratio_p50`, `ratio_p99`: network ÷ baseline latency; `ratio_ops_per_s`: network ÷ baseline
 *    throughput at the same concurrency; writes to put_record, reads to get_records);
 *  - create_resource, register_provider and resolve_providers with ack = 1 and ack = 3, with 1 and 16
 *    clients (client j talks to node j mod N): latency p50/p99 in ms and throughput in ops/s, with the
 *    goals register p50 ≤ 15 ms with ≤ 14 ms of node CPU, and resolve p50 ≤ 8 ms with ≤ 8 ms. Every line
 *    also carries the CPU all node processes used per operation (`node_cpu_ms_per_op`, Linux /proc,
 *    including the fan-out that goes on after the ack, less the idle nodes' background rate measured
 *    just before the phase, `node_background_cores`), in cores (`node_cores_used`: with every node on
 *    two cores, a figure near 2 means the network is CPU-bound), and the node-to-node requests sent per
 *    operation (`peer_requests_per_op`, from every node's `signpost_peer_requests_total`);
 *  - lookup_hops: hop counts of iterative lookups. The nodes do not expose theirs (no metric or RPC
 *    carries them), so the bench runs the node's own lookup machine (actors/lookup.ts, K = 20,
 *    alpha = 3) itself over real p2p `find_node` requests to the nodes, seeded (a) with a node's routing
 *    table as `node.peers` gives it (what that node's lookup starts from) and (b) with the first node
 *    only (a node that has just bootstrapped).
 *
 * Every signed object is made before its phase is timed. Each new record is a fresh slot (a new resource
 * or a new issuer on it) from one of 16 issuer keys that the warm-up has shown every node, so the timed
 * phases do not pay a node's one-off check of a key it has never seen. Every node runs with the rate
 * limit raised out of the way (as bench/common.ts does) and logs at warn level.
 *
 * Run: npm run bench:cluster [-- --workers W]   (the nodes run the default config, whose `workers` is
 * cores − 1; env BENCH_SCALE=0.1 for a quick run; BENCH_NODES, BENCH_WORKERS to change the network;
 * BENCH_CLIENTS="1,16" the concurrencies; BENCH_PROFILE=DIR writes each node's CPU profile to DIR)
 */
import { loadavg } from 'node:os';
import { defaultConfig } from '../config/index.js';
import { createActor, fromCallback, toPromise } from 'xstate';
import { lookupMachine, type LookupCandidate, type LookupOutput } from '../actors/lookup.js';
import { fromHex, toHex } from '../protocols/encoding.js';
import { SignpostError } from '../protocols/errors.js';
import type { Identity } from '../protocols/identity.js';
import { compareDistance, nodeLocation, resourceLocation } from '../protocols/kademlia.js';
import { makeKey, makeMetadata, makeRecord } from '../protocols/signed.js';
import type { Key, Record as ProviderRecord } from '../protocols/types.js';
import { parseFindNodeResult } from '../protocols/wire.js';
import { logger } from '../runtime/base/log.js';
import { RpcClient } from '../runtime/client/rpc-client.js';
import { WsTransport } from '../runtime/net/ws-transport.js';
import { systemTimers } from '../runtime/base/clock.js';
import { systemRandom } from '../protocols/random.js';
import { nodeEd25519 } from '../runtime/base/node-crypto.js';
import type { Transport } from '../runtime/net/transport.js';
import { LocalCluster, type LocalNode } from '../scripts/local-cluster.js';
import { benchIdentity, coresAvailable, percentile, processCpuSeconds, round } from './common.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const NODES = Number(process.env.BENCH_NODES ?? 20);
/**
 * Worker threads per node: the node's default (config `workers`) unless `--workers N` or BENCH_WORKERS
 * says otherwise, so the figures are what a user running the defaults gets.
 */
const workersArg = process.argv.indexOf('--workers');
const WORKERS_SETTING = workersArg >= 0 ? process.argv[workersArg + 1] : process.env.BENCH_WORKERS;
const WORKERS = WORKERS_SETTING === undefined ? defaultConfig().workers : Number(WORKERS_SETTING);
if (!Number.isInteger(WORKERS) || WORKERS < 0) throw new Error(`--workers must be a non-negative integer, got ${WORKERS_SETTING}`);
const CLIENTS = (process.env.BENCH_CLIENTS ?? '1,16').split(',').map(Number);
if (!Number.isInteger(NODES) || NODES < 3) throw new Error(`BENCH_NODES must be at least 3 (ack = 3), got ${process.env.BENCH_NODES}`);
if (!CLIENTS.every((c) => Number.isInteger(c) && c >= 1)) throw new Error(`BENCH_CLIENTS must be a comma-separated list of positive integers, got ${process.env.BENCH_CLIENTS}`);
/** Timed operations per phase: with one client, and with many. */
const OPS_SEQUENTIAL = Math.max(20, Math.round(150 * SCALE));
const OPS_CONCURRENT = Math.max(48, Math.round(320 * SCALE));
/** Untimed operations before the timed ones of each kind (JIT, connections, actor activation). */
const WARMUP = Math.max(5, Math.round(20 * SCALE));
/** Providers per resource: well below records_limit (32), so no write is refused at the limit. */
const RECORDS_PER_KEY = 16;
const LOOKUPS = Math.max(20, Math.round(100 * SCALE));
const K = 20;
const ALPHA = 3;
/** Issue 16's goals, on this machine: latency p50 with the default config, and node CPU per operation summed over the 20 nodes. */
const GOAL_REGISTER_P50_MS = 15;
const GOAL_RESOLVE_P50_MS = 8;
const GOAL_REGISTER_CPU_MS = 14;
const GOAL_RESOLVE_CPU_MS = 8;

const log = logger('warn');

function emit(line: object): void {
  process.stdout.write(JSON.stringify({ bench: 'cluster', ...line }) + '\n');
}

const load1 = () => round(loadavg()[0], 2);
const identity = (n: number): Identity => benchIdentity(n, 0x6c);

interface Measured {
  ops: number;
  clients: number;
  p50: number;
  p99: number;
  opsPerS: number;
  /** CPU seconds all node processes used during the phase (every thread), per operation. */
  nodeCpuPerOp: number;
  /** Node CPU seconds ÷ wall seconds while the operations ran: near the core count, the network is CPU-bound. */
  nodeCores: number;
  /** CPU the idle nodes used just before the phase, in cores (taken off `nodeCpuPerOp`). */
  backgroundCores: number;
  /** Node-to-node requests the nodes sent during the phase (signpost_peer_requests_total), per operation. */
  peerRequestsPerOp: number;
}

/** Pids of the node processes, for CPU accounting (set once the cluster runs). */
let nodePids: number[] = [];
/** The nodes' HTTP base URLs, for /metrics. */
let nodeHttp: string[] = [];

/** Node-to-node requests sent so far, summed over every node's /metrics. */
async function peerRequestsSent(): Promise<number> {
  const texts = await Promise.all(nodeHttp.map(async (url) => (await fetch(new URL('/metrics', url))).text()));
  let sum = 0;
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (line.startsWith('signpost_peer_requests_total{') && line.includes('side="sent"')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

const nodesCpu = () => nodePids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);

/**
 * Runs `ops` (each a thunk taking the client it runs on) with `clients` connections, client j to node
 * j mod N, each running its share one at a time; returns latency percentiles and throughput.
 */
async function measure(conns: RpcClient[], ops: ((c: RpcClient) => Promise<unknown>)[]): Promise<Measured> {
  await settle();
  const latencies: number[] = [];
  let next = 0;
  // The nodes' background (sync, bucket refresh) goes on meanwhile: its rate, taken just before the
  // phase, is taken off the phase's CPU.
  const idle0 = nodesCpu();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const backgroundCores = (nodesCpu() - idle0) / 0.5;
  const requests0 = await peerRequestsSent();
  const cpu0 = nodesCpu();
  const t0 = performance.now();
  await Promise.all(
    conns.map(async (c) => {
      for (let i = next++; i < ops.length; i = next++) {
        const s = performance.now();
        await ops[i](c);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  const cpuTimedS = nodesCpu() - cpu0;
  // Writes fan out to all K nodes after their ack: their CPU and requests belong to this phase.
  await settle();
  const cpuS = Math.max(0, nodesCpu() - cpu0 - backgroundCores * ((performance.now() - t0) / 1000));
  const requests = (await peerRequestsSent()) - requests0;
  latencies.sort((a, b) => a - b);
  return {
    ops: ops.length,
    clients: conns.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    opsPerS: ops.length / wallS,
    nodeCpuPerOp: cpuS / ops.length,
    nodeCores: cpuTimedS / wallS,
    backgroundCores,
    peerRequestsPerOp: requests / ops.length,
  };
}

/**
 * Waits (at most `maxMs`) until the nodes are nearly idle: writes still fanning out in the background
 * after a phase (every write goes to all K nodes, `ack` only says when the call returns) must not be
 * counted against the next phase.
 */
async function settle(maxMs = 10_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const cpu0 = nodesCpu();
    await new Promise((resolve) => setTimeout(resolve, 250));
    if ((nodesCpu() - cpu0) / 0.25 < 0.15) return;
  }
}

/** `count` connections, connection j to node j mod N. */
function connect(nodes: LocalNode[], count: number, offset = 0): Promise<RpcClient[]> {
  return Promise.all(Array.from({ length: count }, (_, j) => RpcClient.connect(nodes[(j + offset) % nodes.length].rpcUrl)));
}

/** Throws unless a fan-out call reached its ack (the node fails the call otherwise; this guards the bench). */
function acked(ack: number) {
  return (r: unknown) => {
    const acks = (r as { acks: number }).acks;
    if (!(acks >= ack)) throw new Error(`expected ≥ ${ack} acks, got ${JSON.stringify(r).slice(0, 200)}`);
    return r;
  };
}

/** Makes keys and records as a client would, before anything is timed. */
class Workload {
  private nextKey = 0;
  private readonly owner = identity(1_000_000);
  private readonly issuers = Array.from({ length: RECORDS_PER_KEY }, (_, j) => identity(j));
  /** Keys created so far, and how many records each holds. */
  readonly created: { key: Key; records: number }[] = [];

  constructor(readonly now: number) {}

  keys(count: number): Key[] {
    return Array.from({ length: count }, () => makeKey(this.owner, { label: `bench-cluster-${this.nextKey++}`, timestamp_created: this.now }));
  }

  /** `count` fresh records (fresh slots), spread over `pool` (the created keys), at most RECORDS_PER_KEY each. */
  records(count: number, pool = this.created): ProviderRecord[] {
    const out: ProviderRecord[] = [];
    let k = 0;
    for (let i = 0; i < count; i++) {
      let tries = 0;
      while (pool[k % pool.length].records >= RECORDS_PER_KEY) {
        k++;
        if (++tries > pool.length) throw new Error('not enough keys for the records: create more resources first');
      }
      const slot = pool[k % pool.length];
      // The j-th provider of every key is issuer j: a fresh slot, from a key the nodes have seen
      // before (a key never seen costs each node a one-off curve check; the warm-up pays it).
      const issuer = this.issuers[slot.records++];
      k++;
      const md = makeMetadata(issuer, { key_id: slot.key.id, peer_id: issuer.peerId, timestamp_issued: this.now, value: `wss://svc-${slot.records}.example/${slot.key.label}` });
      out.push(makeRecord(issuer, md, this.now));
    }
    return out;
  }

  /** Ids of keys that hold records, `count` of them round robin. */
  withRecords(count: number): string[] {
    const ids = this.created.filter((c) => c.records > 0).map((c) => c.key.id);
    if (ids.length === 0) throw new Error('no key holds records yet');
    return Array.from({ length: count }, (_, i) => ids[i % ids.length]);
  }
}

function latencyFields(m: Measured) {
  return {
    clients: m.clients,
    ops: m.ops,
    p50_ms: round(m.p50),
    p99_ms: round(m.p99),
    ops_per_s: Math.round(m.opsPerS),
    node_cpu_ms_per_op: round(m.nodeCpuPerOp * 1000, 1),
    node_cores_used: round(m.nodeCores, 2),
    node_background_cores: round(m.backgroundCores, 2),
    peer_requests_per_op: round(m.peerRequestsPerOp, 1),
  };
}

function ratios(m: Measured, base: Measured | undefined) {
  if (!base) return {};
  return { ratio_p50: round(m.p50 / base.p50, 1), ratio_p99: round(m.p99 / base.p99, 1), ratio_ops_per_s: round(m.opsPerS / base.opsPerS, 3) };
}


// ---------------------------------------------------------------------------------------------------
// Lookup hops: the node's lookup machine, driven from here over real find_node requests.

function lookupFrom(transport: Transport, target: Uint8Array, seeds: { peerId: string; address: string }[], exclude: string[]): Promise<LookupOutput> {
  const candidates: LookupCandidate[] = seeds
    .map((s) => ({ peerId: s.peerId, address: s.address, location: toHex(nodeLocation(s.peerId)!), hop: 1 }))
    .sort((a, b) => compareDistance(target, fromHex(a.location), fromHex(b.location)))
    .slice(0, K); // what Dht.lookup seeds from: the K closest of the table
  const machine = lookupMachine.provide({
    actors: {
      queries: queriesActor(transport, target),
    },
  });
  const actor = createActor(machine, { input: { target: toHex(target), k: K, alpha: ALPHA, timeoutMs: 10_000, seeds: candidates, exclude } });
  const done = toPromise(actor);
  actor.start();
  return done;
}

/** The same network side as runtime/net/dht.ts: one find_node per peer the machine picks. */
function queriesActor(transport: Transport, target: Uint8Array) {
  return fromCallback<{ type: 'query'; peers: LookupCandidate[] }>(({ receive, sendBack }) => {
    let live = true;
    receive((e) => {
      for (const peer of e.peers) {
        transport.request(peer, 'find_node', { target }, 5000).then(
          (r) => {
            const contacts = parseFindNodeResult(r).peers.map((p) => ({ peerId: p.peer_id, address: p.address, location: toHex(nodeLocation(p.peer_id)!) }));
            if (live) sendBack({ type: 'answer', peerId: peer.peerId, contacts });
          },
          () => live && sendBack({ type: 'failed', peerId: peer.peerId }),
        );
      }
    });
    return () => {
      live = false;
    };
  });
}

async function lookupHops(nodes: LocalNode[], targets: string[]): Promise<void> {
  // A client-only transport: it announces no address, so no node puts it in its routing table.
  const transport = new WsTransport({
    identity: identity(2_000_000),
    ed25519: nodeEd25519(),
    random: systemRandom,
    timers: systemTimers,
    now: () => Math.floor(Date.now() / 1000),
    ownAddresses: () => [],
    maxFrameBytes: 1 << 20,
    maxConcurrentRequests: 256,
    onInspect: () => undefined,
    log,
  });
  transport.serve(async () => {
    throw new SignpostError('method_not_found', 'the bench serves nothing');
  });
  try {
    const tables = await Promise.all(nodes.map(async (n) => (await n.rpc.call<{ peer_id: string; address: string }[]>('node.peers')).map((p) => ({ peerId: p.peer_id, address: p.address }))));
    // Untimed: opens the bench's p2p connections to every node.
    await lookupFrom(transport, resourceLocation(targets[0])!, tables[0], [nodes[0].peerId]);
    for (const variant of ['routing_table', 'one_seed'] as const) {
      const hops: number[] = [];
      const queried: number[] = [];
      const ms: number[] = [];
      let timedOut = 0;
      let found = 0;
      for (let i = 0; i < targets.length; i++) {
        // From node i mod N's point of view: its table (or only the first node), itself excluded.
        const from = nodes[variant === 'one_seed' ? 1 + (i % (nodes.length - 1)) : i % nodes.length];
        const seeds = variant === 'one_seed' ? [{ peerId: nodes[0].peerId, address: nodes[0].baseUrl }] : tables[nodes.indexOf(from)];
        const target = resourceLocation(targets[i])!;
        const started = performance.now();
        const out = await lookupFrom(transport, target, seeds, [from.peerId]);
        ms.push(performance.now() - started);
        hops.push(out.hops);
        queried.push(out.queried);
        if (out.timedOut) timedOut++;
        found += out.closest.length;
      }
      hops.sort((a, b) => a - b);
      ms.sort((a, b) => a - b);
      const histogram: { [hops: string]: number } = {};
      for (const h of hops) histogram[h] = (histogram[h] ?? 0) + 1;
      emit({
        op: 'lookup_hops',
        seeds: variant,
        lookups: targets.length,
        k: K,
        alpha: ALPHA,
        hops_mean: round(hops.reduce((a, b) => a + b, 0) / hops.length, 2),
        hops_p50: percentile(hops, 50),
        hops_max: hops[hops.length - 1],
        hops_histogram: histogram,
        find_node_per_lookup: round(queried.reduce((a, b) => a + b, 0) / queried.length, 1),
        closest_found_mean: round(found / targets.length, 1),
        lookup_p50_ms: round(percentile(ms, 50)),
        lookup_p99_ms: round(percentile(ms, 99)),
        timed_out: timedOut,
        note:
          variant === 'routing_table'
            ? "a node exposes only the sum of its lookups' hops (signpost_lookup_hops_total): the distribution is measured by running the node's lookup machine (actors/lookup.ts) here over real p2p find_node, seeded with the node's routing table (node.peers); hop = 1 for a seed, n + 1 for a node learnt from a hop-n node; hops = the highest among the K closest found"
            : 'seeded with the first node only, as a node that has just bootstrapped from it',
      });
    }
  } finally {
    await transport.close();
  }
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const coresBefore = round(await coresAvailable(2, 500), 2);
  const cluster = new LocalCluster({
    nodes: NODES,
    workers: WORKERS,
    logLevel: 'warn',
    tempPrefix: 'signpost-bench-cluster-',
    // BENCH_PROFILE=DIR: every node writes a V8 CPU profile there (scripts/profile-top.mjs reads them).
    nodeArgs: process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [],
    // The per-connection rate limit is not what this bench measures (as in bench/common.ts).
    env: { SIGNPOST_RATE_LIMIT_PER_S: '1000000', SIGNPOST_RATE_LIMIT_BURST: '1000000' },
  });
  // Ctrl-C: the nodes run in process groups of their own, so the bench stops them before it exits.
  for (const s of ['SIGINT', 'SIGTERM'] as const) {
    process.once(s, () => {
      process.stderr.write(`bench:cluster: ${s}, stopping the nodes\n`);
      void cluster.stop().finally(() => process.exit(130));
    });
  }
  let crashed: string | null = null;
  cluster.onUnexpectedExit((name, code, signal) => {
    crashed = `${name} exited (${signal ?? `code ${code}`}): ${cluster.logTail(name)}`;
  });
  const conns: RpcClient[] = [];
  try {
    const t0 = performance.now();
    const nodes = await cluster.start();
    nodePids = nodes.map((n) => n.pid);
    nodeHttp = nodes.map((n) => n.baseUrl.replace(/^ws/, 'http'));
    const startedS = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    await cluster.waitForPeers(60_000);
    emit({ op: 'cluster', nodes: nodes.length, workers: WORKERS, start_s: round(startedS, 1), routing_complete_s: round((performance.now() - t1) / 1000, 1), scale: SCALE, cores_available: coresBefore, load_avg_1m: load1(), note: 'cores_available: what two busy threads of this process obtained just before the nodes started (2 on an idle 2-core machine)' });

    const { now } = await nodes[0].rpc.call<{ now: number }>('node.info');
    const work = new Workload(now);
    const opsFor = (clients: number) => (clients === 1 ? OPS_SEQUENTIAL : OPS_CONCURRENT);
    const byClients = new Map<number, RpcClient[]>();
    for (const c of CLIENTS) {
      const list = await connect(nodes, c);
      conns.push(...list);
      byClients.set(c, list);
    }

    // Baseline: the local store of node-1, no fan-out. The timed records go to their own keys.
    const baseConns = new Map<number, RpcClient[]>();
    for (const c of CLIENTS) {
      const list = await Promise.all(Array.from({ length: c }, () => RpcClient.connect(nodes[0].rpcUrl)));
      conns.push(...list);
      baseConns.set(c, list);
    }
    const baseKeys = work.keys(Math.ceil((WARMUP + CLIENTS.reduce((a, c) => a + opsFor(c), 0)) / RECORDS_PER_KEY) + 2);
    for (const key of baseKeys) await nodes[0].rpc.call('registry.register_key', { key });
    const baseWork = new Workload(now);
    baseWork.created.push(...baseKeys.map((key) => ({ key, records: 0 })));
    const basePut = new Map<number, Measured>();
    const baseGet = new Map<number, Measured>();
    {
      const warm = [...baseWork.records(RECORDS_PER_KEY, baseWork.created.slice(0, 1)), ...baseWork.records(WARMUP)];
      await measure(baseConns.get(CLIENTS[0])!, warm.map((record) => (c) => c.call('registry.put_record', { record })));
    }
    for (const c of CLIENTS) {
      const recs = baseWork.records(opsFor(c));
      const m = await measure(baseConns.get(c)!, recs.map((record) => (cl) => cl.call('registry.put_record', { record })));
      basePut.set(c, m);
      emit({ op: 'baseline_put_record', node: nodes[0].name, ...latencyFields(m), load_avg_1m: load1(), note: "registry.put_record on one node's local store (no network fan-out); write ratios are to this" });
    }
    for (const c of CLIENTS) {
      const ids = baseWork.withRecords(opsFor(c));
      const m = await measure(baseConns.get(c)!, ids.map((key_id) => (cl) => cl.call('registry.get_records', { key_id })));
      baseGet.set(c, m);
      emit({ op: 'baseline_get_records', node: nodes[0].name, ...latencyFields(m), load_avg_1m: load1(), note: "registry.get_records on one node's local store (no network fan-out); read ratios are to this" });
    }

    // Warm-up of the fan-out paths on every node, untimed.
    {
      const warmKeys = work.keys(WARMUP);
      const all = await connect(nodes, nodes.length);
      conns.push(...all);
      await measure(all, warmKeys.map((key) => (c) => c.call('resources.create_resource', { key, ack: 1 })));
      work.created.push(...warmKeys.map((key) => ({ key, records: 0 })));
      // Every issuer once on one key (each node meets every issuer's key), then round robin.
      const recs = [...work.records(RECORDS_PER_KEY, work.created.slice(0, 1)), ...work.records(WARMUP)];
      await measure(all, recs.map((record) => (c) => c.call('resources.register_provider', { record, ack: 1 })));
      await measure(all, work.withRecords(WARMUP).map((resource_id) => (c) => c.call('resources.resolve_providers', { resource_id, ack: 1 })));
    }

    const goal = (m: Measured, goalMs: number, goalCpuMs: number) => ({
      goal_p50_ms: goalMs,
      goal_node_cpu_ms_per_op: goalCpuMs,
      meets_goal: m.p50 <= goalMs && m.nodeCpuPerOp * 1000 <= goalCpuMs,
    });
    for (const ack of [1, 3]) {
      for (const c of CLIENTS) {
        const keys = work.keys(opsFor(c));
        const m = await measure(byClients.get(c)!, keys.map((key) => (cl) => cl.call('resources.create_resource', { key, ack }).then(acked(ack))));
        work.created.push(...keys.map((key) => ({ key, records: 0 })));
        emit({ op: 'create_resource', ack, ...latencyFields(m), ...ratios(m, basePut.get(c)), load_avg_1m: load1() });
      }
    }
    for (const ack of [1, 3]) {
      for (const c of CLIENTS) {
        const recs = work.records(opsFor(c));
        const m = await measure(byClients.get(c)!, recs.map((record) => (cl) => cl.call('resources.register_provider', { record, ack }).then(acked(ack))));
        emit({ op: 'register_provider', ack, ...latencyFields(m), ...ratios(m, basePut.get(c)), ...goal(m, GOAL_REGISTER_P50_MS, GOAL_REGISTER_CPU_MS), load_avg_1m: load1() });
      }
    }
    for (const ack of [1, 3]) {
      for (const c of CLIENTS) {
        const ids = work.withRecords(opsFor(c));
        const m = await measure(
          byClients.get(c)!,
          ids.map((resource_id) => (cl) =>
            cl.call<{ providers: unknown[]; acks: number }>('resources.resolve_providers', { resource_id, ack }).then((r) => {
              if (r.providers.length === 0) throw new Error(`resolve_providers of ${resource_id} found no provider`);
              return acked(ack)(r);
            }),
          ),
        );
        emit({ op: 'resolve_providers', ack, ...latencyFields(m), ...ratios(m, baseGet.get(c)), ...goal(m, GOAL_RESOLVE_P50_MS, GOAL_RESOLVE_CPU_MS), load_avg_1m: load1() });
      }
    }

    await lookupHops(nodes, work.created.slice(0, LOOKUPS).map((c) => c.key.id));
    if (crashed) throw new Error(crashed);
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    const stopped = await cluster.stop();
    const unclean = stopped.filter((s) => s.killed || s.code !== 0);
    if (unclean.length > 0) log.warn('nodes that did not stop cleanly', { nodes: unclean });
  }
}

try {
  await main();
} catch (e) {
  process.stderr.write(`bench:cluster failed: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
}
