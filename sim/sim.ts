/**
 * One simulated run: N real nodes (world.ts) on a simulated network (network.ts) in virtual time
 * (time.ts), under a client workload (workload.ts), churn and partitions, all drawn from one seed. Every
 * message, client call and churn event goes into a SHA-256 trace whose digest names the run: the same
 * seed and options give the same digest, byte for byte.
 *
 * The run:
 * 1. formation: the nodes join, a few at a time, each bootstrapping from three live ones;
 * 2. setup: the owners create their resources and the providers register (with `ack`);
 * 3. traffic, `hours` long: resolves (one per second per 100 nodes), churn (leave, crash losing state,
 *    crash keeping it and restarting five minutes later, in equal shares; a node that is gone is replaced),
 *    providers leaving (10 % an hour, each replaced by a new one) and keeping alive (every 30 minutes),
 *    and the partitions asked for;
 * 4. heal: the network is whole again, churn and clients stop, and after two sync intervals every
 *    resource's K closest live nodes must hold the same winners.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { closestOf, nodeLocation, resourceLocation } from '../protocols/kademlia.js';
import { seededRandom, type Random } from '../protocols/random.js';
import { defaultConfig } from '../config/index.js';
import { nodeEd25519 } from '../runtime/base/node-crypto.js';
import { MemoryNetwork } from '../runtime/net/memory-transport.js';
import type { KeyItem } from '../protocols/registry.js';
import { exponential, SimNetwork, type PartitionSpec } from './network.js';
import { VirtualTime } from './time.js';
import { Workload, type Provider } from './workload.js';
import { World, type SimNode, type StoreKind } from './world.js';

export interface SimOptions {
  nodes: number;
  seed: number;
  /** Hours of traffic after setup. */
  hours: number;
  /** Fraction of the nodes that churn per hour. */
  churn: number;
  loss: number;
  duplicate: number;
  rttMs: number;
  partitions: PartitionSpec[];
  resources: number;
  providers: number;
  store: StoreKind;
  /** Acks of writes and of resolves. */
  ack: number;
  readAck: number;
  /** Resolves per second per node. */
  resolveRate: number;
  /** Fraction of the providers that unregister (and are replaced) per hour. */
  unregisterRate: number;
  /** Seconds between a provider's keep-alive registrations. */
  keepAliveS: number;
  /** Lowest resolve success rate (network whole) before the run counts as a violation; 0 checks nothing. */
  minSuccess: number;
}

export const SIM_DEFAULTS: SimOptions = {
  nodes: 200,
  seed: 1,
  hours: 1,
  churn: 0.1,
  loss: 0,
  duplicate: 0,
  rttMs: 50,
  partitions: [],
  resources: 100,
  providers: 1000,
  store: 'memory',
  ack: 3,
  readAck: 1,
  resolveRate: 0.01,
  unregisterRate: 0.1,
  keepAliveS: 1800,
  minSuccess: 0,
};

export interface SimSummary {
  sim: 'summary';
  nodes: number;
  seed: number;
  sim_hours: number;
  wall_s: number;
  events: number;
  events_per_wall_s: number;
  messages: number;
  /** Messages (requests and answers) by peer method, over the whole run. */
  messages_by_method: Record<string, number>;
  resolves: number;
  resolve_errors: number;
  /** Failed client calls over the whole run, by method and error code. */
  errors: Record<string, number>;
  /** Expected providers missing from resolves (network whole). */
  providers_missing: number;
  resolve_success_rate: number;
  resolves_partitioned: number;
  resolve_success_rate_partitioned: number | null;
  resolves_interrupted: number;
  registers: number;
  register_failures: number;
  lookups: number;
  lookup_hops_p50: number;
  lookup_hops_p99: number;
  log2_n: number;
  messages_per_lookup: number;
  messages_per_register: number;
  messages_per_resolve: number;
  stale_reads: number;
  churn_events: number;
  converged: boolean;
  unconverged_resources: number;
  converge_s: number | null;
  max_rss_mb: number;
  heap_per_node_bytes: number;
  heap_growth: number;
  node_errors: number;
  violations: number;
  digest: string;
}

/** The virtual epoch: 2026-01-01T00:00:00Z. */
const EPOCH_MS = Date.UTC(2026, 0, 1);
const REPORT_EVERY_MS = 600_000;
const MINUTE = 60_000;

export type Line = (line: object) => void;

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runSim(options: Partial<SimOptions>, out: Line): Promise<SimSummary> {
  const o: SimOptions = { ...SIM_DEFAULTS, ...options };
  const wallStart = performance.now();
  const random = seededRandom(o.seed);
  /** Independent streams, so that changing one part of the run does not reshuffle the others. */
  const stream = (): Random => seededRandom(new DataView(random.bytes(4).buffer).getUint32(0));
  const worldRandom = stream();
  const workRandom = stream();
  const netRandom = stream();

  // What each client operation costs in messages: its calls carry their kind through every timer and
  // promise they start, on every node they reach.
  const op = new AsyncLocalStorage<string>();
  const time = new VirtualTime(EPOCH_MS, (fn) => (op.getStore() === undefined ? fn : AsyncLocalStorage.bind(fn)));
  const perOp: Record<string, number> = {};
  const trace = createHash('sha256');
  const traceLine = (line: string) => trace.update(`${time.now()} ${line}\n`);
  let messages = 0;
  const byMethod: Record<string, number> = {};
  let lookupMessages = 0;
  let nodeErrors = 0;
  const sim = new SimNetwork({ rttMs: o.rttMs, loss: o.loss, duplicate: o.duplicate });
  const indexOf = new Map<string, number>();
  const network = new MemoryNetwork({
    timers: time.owner().timers,
    random: netRandom,
    conditions: sim.conditions(),
    onMessage: (from, to, method, frame, arrives) => {
      messages++;
      byMethod[method] = (byMethod[method] ?? 0) + 1;
      if (method === 'find_node') lookupMessages++;
      const tag = op.getStore();
      if (tag !== undefined) perOp[tag] = (perOp[tag] ?? 0) + 1;
      trace.update(`${time.now()} ${indexOf.get(from)}>${indexOf.get(to)} ${method} ${arrives ? 1 : 0} `);
      trace.update(frame);
    },
  });
  const world = new World({
    time,
    network,
    random: worldRandom,
    ed25519: nodeEd25519(),
    store: o.store,
    config: {},
    track: (p) => trackIo(p),
    onError: (what, e) => {
      nodeErrors++;
      if (nodeErrors <= 5) out({ sim: 'node_error', what, error: String(e), at_s: secondsOf(time.now()) });
    },
  });

  const io = new Set<Promise<unknown>>();
  function trackIo(p: Promise<unknown>): void {
    io.add(p);
    const done = () => void io.delete(p);
    p.then(done, done);
  }
  async function settle(): Promise<void> {
    await immediate();
    while (io.size > 0) {
      await Promise.allSettled([...io]);
      await immediate();
    }
  }

  let violations = 0;
  let firstViolation: string | null = null;
  const violation = (what: string) => {
    violations++;
    if (firstViolation === null) {
      firstViolation = what;
      out({ sim: 'violation', seed: o.seed, at_s: secondsOf(time.now()), event: what });
    }
  };

  const config = defaultConfig();
  let healedAt = -Infinity;
  const clients = time.owner();
  const workload = new Workload({
    random: workRandom,
    ed25519: nodeEd25519(),
    now: () => time.now(),
    timers: clients.timers,
    ack: o.ack,
    readAck: o.readAck,
    staleAfterS: config.sync_interval,
    lifetimeS: config.expired_timeout,
    // Resolves made during a partition, or within one sync interval of its heal, are counted apart.
    isCut: () => sim.partitioned || time.now() < healedAt + config.sync_interval * 1000,
    trace: traceLine,
    violation,
  });

  const at = (ms: number, fn: () => void) => clients.timers.setTimeout(fn, Math.max(0, ms - time.now()));
  const randomLive = (): SimNode | null => {
    const live = world.live();
    return live.length === 0 ? null : live[Math.floor(workRandom.float() * live.length)];
  };
  const tagged = (kind: string, fn: () => Promise<unknown>) => void op.run(kind, fn);
  const join = () => {
    const n = world.join();
    indexOf.set(n.address, n.index);
    traceLine(`join ${n.index} ${n.identity.peerId}`);
    return n;
  };

  // 1. Formation: node 0 first, then the others, spread over up to ten minutes.
  const formMs = Math.min(600_000, Math.max(30_000, o.nodes * 50));
  join();
  for (let i = 1; i < o.nodes; i++) at(EPOCH_MS + 2000 + Math.floor(((i - 1) * formMs) / o.nodes), join);
  let now = EPOCH_MS;
  const run = async (until: number) => {
    await time.runUntil(until, settle);
    now = until;
  };
  const setupAt = EPOCH_MS + 2000 + formMs + MINUTE;
  await run(setupAt);

  // 2. Setup: resources over one minute, then providers over two.
  for (let r = 0; r < o.resources; r++) {
    const res = workload.addResource(`sim-${r}`);
    at(setupAt + Math.floor((r * MINUTE) / o.resources), () => {
      const via = randomLive();
      if (via) tagged('create', () => workload.create(res, via));
    });
  }
  const registerAt = setupAt + MINUTE + 10_000;
  const registerWithRetry = (p: Provider, tries: number) => {
    const via = randomLive();
    if (!via) return;
    tagged('register', async () => {
      const ok = await workload.register(p, via);
      if (!ok && tries > 1 && p.state === 'registering') clients.timers.setTimeout(() => registerWithRetry(p, tries - 1), 30_000);
    });
  };
  const providers: Provider[] = [];
  for (let i = 0; i < o.providers; i++) {
    const p = workload.addProvider(i % Math.max(1, o.resources));
    providers.push(p);
    at(registerAt + Math.floor((i * 2 * MINUTE) / o.providers), () => registerWithRetry(p, 3));
  }
  const trafficAt = registerAt + 3 * MINUTE;
  await run(trafficAt);

  // 3. Traffic.
  const endAt = trafficAt + Math.round(o.hours * 3_600_000);
  const hopsBefore = sumHops(world);
  const lookupMessagesBefore = lookupMessages;
  const opsBefore = { ...perOp };
  const statsBefore = { ...workload.stats };
  const poisson = (perS: number, fn: () => void) => {
    if (perS <= 0) return;
    const next = () => {
      const t = time.now() + exponential(workRandom, 1000 / perS);
      if (t < endAt) at(t, () => (fn(), next()));
    };
    next();
  };
  poisson(o.nodes * o.resolveRate, () => {
    const via = randomLive();
    if (via && o.resources > 0) tagged('resolve', () => workload.resolve(Math.floor(workRandom.float() * o.resources), via));
  });
  let churnEvents = 0;
  poisson((o.churn * o.nodes) / 3600, () => {
    const live = world.live();
    if (live.length <= 1) return;
    const n = live[Math.floor(worldRandom.float() * live.length)];
    const how = ['leave', 'crash', 'crash_keep'][Math.floor(worldRandom.float() * 3)];
    churnEvents++;
    traceLine(`churn ${how} ${n.index}`);
    if (how === 'leave') world.leave(n);
    else world.crash(n, how === 'crash_keep');
    if (how === 'crash_keep') at(time.now() + 5 * MINUTE, () => (traceLine(`restart ${n.index}`), world.restart(n)));
    else at(time.now() + MINUTE, join);
  });
  poisson((o.unregisterRate * o.providers) / 3600, () => {
    const registered = providers.filter((p) => p.state === 'registered');
    if (registered.length === 0) return;
    const p = registered[Math.floor(workRandom.float() * registered.length)];
    const via = randomLive();
    if (!via) return;
    tagged('unregister', () => workload.unregister(p, via));
    const next = workload.addProvider(p.resource);
    providers.push(next);
    at(time.now() + 10_000, () => registerWithRetry(next, 3));
  });
  // Keep-alive: each provider registers again every keepAliveS, at a phase of its own.
  if (o.keepAliveS > 0) {
    const keepAlive = (p: Provider) => {
      if (p.state !== 'registered' && p.state !== 'registering') return;
      const via = randomLive();
      if (via && p.state === 'registered') tagged('register', () => workload.register(p, via));
      if (time.now() + o.keepAliveS * 1000 < endAt) at(time.now() + o.keepAliveS * 1000, () => keepAlive(p));
    };
    for (const p of providers) at(trafficAt + workRandom.float() * o.keepAliveS * 1000, () => keepAlive(p));
  }
  for (const part of o.partitions) {
    at(trafficAt + part.atS * 1000, () => {
      const live = world.live();
      const cut = live.filter(() => netRandom.float() < part.fraction).map((n) => n.address);
      traceLine(`partition ${cut.length}`);
      sim.partition(cut);
    });
    at(trafficAt + (part.atS + part.durationS) * 1000, () => {
      traceLine('heal');
      sim.heal();
      healedAt = time.now();
    });
  }

  const memory = { maxRss: 0, heapAtStart: 0, heapAtEnd: 0 };
  const sampleMemory = () => {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    memory.maxRss = Math.max(memory.maxRss, m.rss);
    return m.heapUsed;
  };
  memory.heapAtStart = sampleMemory();
  let lastEvents = time.events;
  let lastWall = performance.now();
  while (now < endAt) {
    const until = Math.min(endAt, now + REPORT_EVERY_MS);
    await run(until);
    const wall = performance.now();
    const heap = sampleMemory();
    out({
      sim: 'progress',
      at_min: Math.round((until - trafficAt) / MINUTE),
      nodes_alive: world.live().length,
      events: time.events,
      events_per_wall_s: Math.round(((time.events - lastEvents) * 1000) / Math.max(1, wall - lastWall)),
      resolves: workload.stats.resolves,
      in_flight: workload.inFlight,
      partitioned: sim.partitioned,
      heap_mb: Math.round(heap / 2 ** 20),
    });
    lastEvents = time.events;
    lastWall = wall;
  }
  memory.heapAtEnd = sampleMemory();

  // 4. Heal and converge.
  sim.heal();
  traceLine('heal (end)');
  const healAt = now;
  const syncMs = config.sync_interval * 1000;
  let converged = false;
  let unconverged = 0;
  let convergeS: number | null = null;
  for (let step = 1; step <= 4; step++) {
    await run(healAt + (step * syncMs) / 2 + 10_000);
    unconverged = await unconvergedResources(world, workload.resources.filter((r) => r.created).map((r) => r.key.id), config.k);
    if (unconverged === 0) {
      converged = true;
      convergeS = Math.round((now - healAt) / 1000);
      break;
    }
  }
  if (!converged) violation(`${unconverged} resources have replicas that disagree ${Math.round((now - healAt) / 1000)} s after the heal`);
  const growth = memory.heapAtStart > 0 ? memory.heapAtEnd / memory.heapAtStart : 1;

  const s = workload.stats;
  const resolves = s.resolvesWhole - statsBefore.resolvesWhole;
  const successRate = resolves > 0 ? (s.successesWhole - statsBefore.successesWhole) / resolves : 1;
  if (o.minSuccess > 0 && successRate < o.minSuccess) violation(`resolve success ${(successRate * 100).toFixed(3)} % is below ${(o.minSuccess * 100).toFixed(1)} %`);
  const hops = subtract(sumHops(world), hopsBefore);
  const lookups = hops.reduce((a, b) => a + b, 0);
  const opMessages = (kind: string) => (perOp[kind] ?? 0) - (opsBefore[kind] ?? 0);
  const registers = s.registers - statsBefore.registers;
  trace.update(`summary ${s.resolves} ${s.successesWhole} ${s.staleReads} ${converged}`);
  const summary: SimSummary = {
    sim: 'summary',
    nodes: o.nodes,
    seed: o.seed,
    sim_hours: o.hours,
    wall_s: round((performance.now() - wallStart) / 1000, 1),
    events: time.events,
    events_per_wall_s: Math.round((time.events * 1000) / (performance.now() - wallStart)),
    messages,
    messages_by_method: byMethod,
    resolves,
    resolve_errors: s.resolveErrors - statsBefore.resolveErrors,
    errors: s.errors,
    providers_missing: s.missing - statsBefore.missing,
    resolve_success_rate: round(successRate, 5),
    resolves_partitioned: s.resolvesPartitioned,
    resolve_success_rate_partitioned: s.resolvesPartitioned > 0 ? round(s.successesPartitioned / s.resolvesPartitioned, 5) : null,
    resolves_interrupted: s.resolvesInterrupted,
    registers,
    register_failures: s.registerFailures - statsBefore.registerFailures,
    lookups,
    lookup_hops_p50: quantile(hops, 0.5),
    lookup_hops_p99: quantile(hops, 0.99),
    log2_n: round(Math.log2(o.nodes), 2),
    messages_per_lookup: round(lookups > 0 ? (lookupMessages - lookupMessagesBefore) / lookups : 0, 1),
    messages_per_register: round(registers > 0 ? opMessages('register') / registers : 0, 1),
    messages_per_resolve: round(resolves > 0 ? opMessages('resolve') / (s.resolves - statsBefore.resolves) : 0, 1),
    stale_reads: s.staleReads,
    churn_events: churnEvents,
    converged,
    unconverged_resources: unconverged,
    converge_s: convergeS,
    max_rss_mb: Math.round(memory.maxRss / 2 ** 20),
    heap_per_node_bytes: Math.round(memory.heapAtEnd / Math.max(1, o.nodes)),
    heap_growth: round(growth, 3),
    node_errors: nodeErrors,
    violations,
    digest: trace.digest('hex'),
  };
  await world.close();
  return summary;
}

function secondsOf(ms: number): number {
  return Math.round((ms - EPOCH_MS) / 1000);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Lookup hop counts of every node that ever ran, summed: `h[i]` lookups took i hops. */
function sumHops(world: World): number[] {
  const total: number[] = [];
  for (const counts of world.hopCounts()) counts.forEach((c, i) => (total[i] = (total[i] ?? 0) + (c ?? 0)));
  return total;
}

function subtract(a: number[], b: number[]): number[] {
  return Array.from({ length: a.length }, (_, i) => (a[i] ?? 0) - (b[i] ?? 0));
}

/** The q-quantile of a histogram (`h[i]` observations of value i). */
function quantile(h: number[], q: number): number {
  const n = h.reduce((a, b) => a + b, 0);
  if (n === 0) return 0;
  let seen = 0;
  for (let i = 0; i < h.length; i++) {
    seen += h[i] ?? 0;
    if (seen >= q * n) return i;
  }
  return h.length - 1;
}

/** Resources whose K closest live nodes do not all hold the same view (key, served records, tombstones). */
async function unconvergedResources(world: World, ids: string[], k: number): Promise<number> {
  const live = world.live().filter((n) => n.node);
  const contacts = live.map((n) => ({ peerId: n.identity.peerId, location: nodeLocation(n.identity.peerId)!, n }));
  let bad = 0;
  for (const id of ids) {
    const replicas = closestOf(contacts, resourceLocation(id)!, k);
    const views = new Set<string>();
    for (const r of replicas) {
      const [item] = await r.n.node!.shards.listItems([id]);
      views.add(viewOf(item));
    }
    if (views.size !== 1 || views.has('')) bad++;
  }
  return bad;
}

function viewOf(item: KeyItem | undefined): string {
  if (!item) return '';
  const records = item.records.map((r) => r.signature).sort();
  const tombstones = item.tombstones.map((t) => t.issuer_signature).sort();
  return `${item.key.signature}|${records.join(',')}|${tombstones.join(',')}`;
}
