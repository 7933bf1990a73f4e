/**
 * bench/sync: anti-entropy sync between two replicas, in process: two nodes composed as real nodes are
 * (runtime/node/compose.ts) on the in-memory transport, which encodes every frame with the real wire
 * codec, and the memory store. One session of the real code (net/sync.ts, actors/sync.ts), measured.
 *
 * The grid: n ∈ {10², 10³, 10⁴, 10⁵} items held (keys, records, tombstones) and k ∈ {0, 1, 4, 16, 64,
 * 256, 1024} differing slots, in four cases, each spread (over random resources, at random times in the
 * last 20 hours) and clustered (in as few resources as possible, written in one recent burst):
 * - missing:   k records one side holds and the other lacks;
 * - split:     the same, half on each side;
 * - conflict:  k slots holding a different version on each side, the later one written at the time of
 *              the layout (2k differing items);
 * - tombstone: k slots holding a record on one side and its later tombstone on the other (2k items).
 * (conflict and tombstone need k slots: lines with k over the n items' slots are left out.)
 *
 * Each line: `{"bench":"sync","n","k","case","round_trips","bytes_ids","bytes_total","floor_bytes",
 * "negentropy_round_trips","negentropy_bytes","ratio_to_negentropy","ratio_to_floor","cpu_ms", …}`:
 * - `bytes_total`: every byte of every frame of the session, both directions, entries included;
 *   `bytes_ids`: the same without the entries' own bytes (`entry_bytes`);
 * - `floor_bytes`: 32 × the differing items (their ids: the information floor);
 * - negentropy: nostr-tools' NIP-77 implementation (default frame size) run on the same two id sets
 *   (each item's id and its timestamp) in the same run; its bytes are its messages alone, no framing;
 * - `cpu_ms`: the time the session kept the event loop busy, both sides (they share this thread: the
 *   loop's active time, garbage collection on it included); `process_cpu_ms` is the process's CPU time
 *   over the same span, every thread (V8's background collector and compiler too). For k = 0 both are the
 *   mean over 50 sessions after a first one.
 * One line per n more: the bytes of a Fluence-style blind republish of the same set to one neighbour.
 *
 * Run: npm run bench:sync   (BENCH_NS=100,1000, BENCH_KS=0,1,16 and BENCH_CASES=missing,split for a quick run)
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { nip77 } from 'nostr-tools';
import { defaultConfig, type Config } from '../config/index.js';
import { toHex } from '../protocols/encoding.js';
import { identityFromSeed, type Identity } from '../protocols/identity.js';
import { seededRandom, type Random } from '../protocols/random.js';
import { makeKey, makeMetadata, makeRecord, makeTombstone, recordEntry, tombstoneEntry } from '../protocols/signed.js';
import { entryItemId, keyItemId } from '../protocols/sync/items.js';
import { BucketSet } from '../protocols/sync/range.js';
import { encodeFrame } from '../protocols/wire.js';
import { slotKey } from '../protocols/rules.js';
import type { Entry, Key } from '../protocols/types.js';
import { ManualClock, systemTimers } from '../runtime/base/clock.js';
import { logger } from '../runtime/base/log.js';
import { nodeEd25519 } from '../runtime/base/node-crypto.js';
import { MemoryNetwork } from '../runtime/net/memory-transport.js';
import { composeNode, type SignpostNode } from '../runtime/node/compose.js';
import { MemoryStore } from '../runtime/store/memory-store.js';

const T0 = 1_700_000_000;
const WINDOW = 72_000;
const PER_KEY = 15;
const REPEAT = Number(process.env.BENCH_REPEAT ?? 50);
const list = (env: string | undefined, fallback: number[]) => (env ? env.split(',').map(Number) : fallback);
const NS = list(process.env.BENCH_NS, [100, 1_000, 10_000, 100_000]);
const KS = list(process.env.BENCH_KS, [0, 1, 4, 16, 64, 256, 1024]);
const CASES = (process.env.BENCH_CASES ? process.env.BENCH_CASES.split(',') : ['missing', 'split', 'conflict', 'tombstone']) as readonly ('missing' | 'split' | 'conflict' | 'tombstone')[];
const LAYOUTS = ['spread', 'clustered'] as const;
type Case = (typeof CASES)[number];
type Layout = (typeof LAYOUTS)[number];

const ed25519 = nodeEd25519();
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const load = () => loadavg().map((x) => round(x));

function emit(line: object): void {
  process.stdout.write(JSON.stringify({ bench: 'sync', ...line }) + '\n');
}

function identity(n: number, salt: number): Identity {
  const seed = new Uint8Array(32);
  new DataView(seed.buffer).setUint32(0, n + 1, true);
  seed[31] = salt;
  return identityFromSeed(seed, ed25519);
}

/** A resource and its entries by slot. */
interface Resource {
  key: Key;
  entries: Map<string, Entry>;
}

const issuers = Array.from({ length: PER_KEY }, (_, i) => identity(i, 0x51));
const extraIssuers: Identity[] = [];
const extraIssuer = (i: number) => (extraIssuers[i] ??= identity(i, 0x52));

function recordOf(key: Key, issuer: Identity, at: number): Entry {
  const md = makeMetadata(issuer, { key_id: key.id, peer_id: issuer.peerId, timestamp_issued: at, value: `wss://relay.example/${key.label}/${issuer.peerId.slice(-8)}`, service_id: ['chat'] });
  return recordEntry(makeRecord(issuer, md, at));
}

/** The base set: `keys` resources with PER_KEY records each, at random times in the window. */
function baseSet(keys: number, random: Random): Resource[] {
  const owner = identity(9_999, 0x50);
  return Array.from({ length: keys }, (_, k) => {
    const key = makeKey(owner, { label: `bench-sync-${k}`, timestamp_created: T0 - WINDOW - 10 });
    const entries = new Map<string, Entry>();
    for (const issuer of issuers) {
      const e = recordOf(key, issuer, T0 - Math.floor(random.float() * WINDOW));
      entries.set(slotKey(issuer.peerId, issuer.peerId), e);
    }
    return { key, entries };
  });
}

/** The first `n` items of the base set (whole resources, then the records of one more). */
function firstItems(base: Resource[], n: number): Resource[] {
  const out: Resource[] = [];
  let left = n;
  for (const r of base) {
    if (left <= 0) break;
    const take = Math.min(r.entries.size, left - 1);
    out.push({ key: r.key, entries: new Map([...r.entries].slice(0, take)) });
    left -= take + 1;
  }
  return out;
}

const clone = (rs: Resource[]): Resource[] => rs.map((r) => ({ key: r.key, entries: new Map(r.entries) }));

/** Applies case `c` with `k` differing slots: returns the two sides and the number of differing items. */
function makeCase(base: Resource[], c: Case, layout: Layout, k: number, random: Random): { a: Resource[]; b: Resource[] } {
  const a = clone(base);
  const b = clone(base);
  // Where the differences go: k distinct resources (spread), or as few as hold them (clustered).
  const target = (j: number): Resource => (layout === 'spread' ? a[Math.floor(random.float() * a.length)] : a[Math.floor(j / PER_KEY) % a.length]);
  const when = (j: number) => (layout === 'spread' ? T0 - Math.floor(random.float() * WINDOW) : T0 - k + j);
  const twin = (r: Resource) => b[a.indexOf(r)];
  const used = new Set<string>();
  for (let j = 0; j < k; j++) {
    if (c === 'missing' || c === 'split') {
      // A new slot: an issuer no resource has used yet.
      let r = target(j);
      let issuer = extraIssuer(j);
      while (used.has(`${r.key.id} ${issuer.peerId}`)) r = a[(a.indexOf(r) + 1) % a.length];
      used.add(`${r.key.id} ${issuer.peerId}`);
      const e = recordOf(r.key, issuer, when(j));
      const side = c === 'split' && j % 2 === 1 ? twin(r) : r;
      side.entries.set(slotKey(issuer.peerId, issuer.peerId), e);
      continue;
    }
    // An existing slot, given a later version on B: a re-issued record, or its tombstone.
    let r = target(j);
    let slot = [...r.entries.keys()].find((s) => !used.has(`${r.key.id} ${s}`));
    while (!slot) {
      r = a[(a.indexOf(r) + 1) % a.length];
      slot = [...r.entries.keys()].find((s) => !used.has(`${r.key.id} ${s}`));
    }
    used.add(`${r.key.id} ${slot}`);
    const old = r.entries.get(slot)!;
    if (old.kind !== 'record') throw new Error('base slots hold records');
    const issuer = issuers.find((i) => i.peerId === old.record.metadata.issued_by)!;
    const later = Math.max(old.record.metadata.timestamp_issued + 1, when(j));
    twin(r).entries.set(slot, c === 'conflict' ? recordOf(r.key, issuer, later) : tombstoneEntry(makeTombstone(issuer, { key_id: r.key.id, peer_id: issuer.peerId, timestamp_issued: later })));
  }
  return { a, b };
}

/** Each item's id and the timestamp negentropy orders it by. */
function itemsOf(rs: Resource[]): { ts: number; id: Uint8Array }[] {
  const out: { ts: number; id: Uint8Array }[] = [];
  for (const r of rs) {
    out.push({ ts: r.key.timestamp_created, id: keyItemId(r.key) });
    for (const e of r.entries.values()) out.push({ ts: e.kind === 'record' ? e.record.timestamp_created : e.tombstone.timestamp_issued, id: entryItemId(e) });
  }
  return out;
}

function negentropy(a: { ts: number; id: Uint8Array }[], b: { ts: number; id: Uint8Array }[]): { roundTrips: number; bytes: number; differences: number } {
  const storage = (items: { ts: number; id: Uint8Array }[]) => {
    const s = new nip77.NegentropyStorageVector();
    for (const it of items) s.insert(it.ts, toHex(it.id));
    s.seal();
    return s;
  };
  const initiator = new nip77.Negentropy(storage(a));
  const responder = new nip77.Negentropy(storage(b));
  // Whichever side receives an id list learns the differences in it: both are counted.
  let differences = 0;
  const learn = () => void differences++;
  let msg: string | null = initiator.initiate();
  let bytes = 0;
  let roundTrips = 0;
  while (msg !== null) {
    bytes += msg.length / 2;
    roundTrips++;
    const answer = responder.reconcile(msg, learn, learn);
    // Nothing left to say is still a message (its version byte), so the initiator knows it is over.
    if (answer === null) {
      bytes += 1;
      break;
    }
    bytes += answer.length / 2;
    msg = initiator.reconcile(answer, learn, learn);
  }
  return { roundTrips, bytes, differences };
}

async function node(network: MemoryNetwork, seed: number, resources: Resource[]): Promise<{ node: SignpostNode; address: string }> {
  const store = new MemoryStore();
  for (const r of resources) {
    await store.write([
      { op: 'putKey', keyId: r.key.id, stored: { key: r.key, published: T0 } },
      ...[...r.entries.values()].map((e) => {
        const m = e.kind === 'record' ? e.record.metadata : e.tombstone;
        return { op: 'putEntry' as const, keyId: r.key.id, issuedBy: m.issued_by, peerId: m.peer_id, entry: e };
      }),
    ]);
  }
  const id = identityFromSeed(new Uint8Array(32).fill(seed), ed25519);
  const address = `ws://10.9.0.${seed}:7070`;
  // Default config, but the memory store (workers need LMDB) and the manual clock; no job runs by itself.
  const config: Config = { ...defaultConfig(), workers: 0, clock: 'manual', clock_start: T0, replicate_interval: 1e9, gc_interval: 1e9, renew_interval: 1e9 };
  const n = await composeNode({
    config,
    identity: id,
    transport: network.join(id.peerId, address),
    store,
    clock: new ManualClock(T0),
    random: seededRandom(seed),
    ed25519,
    log: logger('error', () => undefined),
    dataDir: null,
    addresses: () => [address],
  });
  await n.start();
  return { node: n, address };
}

/** Bytes of pushing every resource with all it holds to one neighbour, as a blind republish does. */
function blindRepublish(rs: Resource[]): number {
  let bytes = 0;
  rs.forEach((r, i) => {
    const entries = [...r.entries.values()];
    const params = {
      key: r.key,
      records: entries.flatMap((e) => (e.kind === 'record' ? [e.record] : [])),
      tombstones: entries.flatMap((e) => (e.kind === 'tombstone' ? [e.tombstone] : [])),
    };
    bytes += encodeFrame({ t: 'req', id: i + 1, method: 'republish', params }).length + encodeFrame({ t: 'res', id: i + 1, result: { updated: 0, rejected: [] } }).length;
  });
  return bytes;
}

async function measure(n: number, k: number, c: Case | 'equal', layout: Layout | null, a: Resource[], b: Resource[]): Promise<void> {
  const network = new MemoryNetwork({ timers: systemTimers, random: seededRandom(1) });
  const A = await node(network, 1, a);
  const B = await node(network, 2, b);
  try {
    const all = BucketSet.all().intervals();
    const [sa, sb] = await Promise.all([A.node.shards.syncSummary(T0, all), B.node.shards.syncSummary(T0, all)]);
    const ia = itemsOf(a);
    const ib = itemsOf(b);
    if (sa.count !== ia.length || sb.count !== ib.length) throw new Error(`index holds ${sa.count}/${sb.count} items, the stores ${ia.length}/${ib.length}`);
    const aIds = new Set(ia.map((x) => toHex(x.id)));
    const bIds = new Set(ib.map((x) => toHex(x.id)));
    const differing = [...aIds].filter((x) => !bIds.has(x)).length + [...bIds].filter((x) => !aIds.has(x)).length;
    const neg = negentropy(ia, ib);
    if (neg.differences !== differing) throw new Error(`negentropy found ${neg.differences} differences, not ${differing}`);
    const peer = { peerId: B.node.identity.peerId, address: B.address };
    // Equal replicas stay equal: for k = 0 the figure is the mean of REPEAT sessions after a first one (a
    // node syncs every minute; the first session of a process also pays for compiling the code).
    const repeat = k === 0 ? REPEAT : 1;
    // The bench's own garbage is collected before, not during, what is measured (node --expose-gc).
    // The collection runs in this turn of the event loop and its sweeping goes on in the background: both
    // are over before the measured span starts (the loop's active time of a turn is counted when it ends).
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 200));
    if (k === 0) await A.node.sync.session(peer, T0);
    const cpu = process.cpuUsage();
    const loop = performance.eventLoopUtilization();
    const t0 = performance.now();
    let session!: Awaited<ReturnType<typeof A.node.sync.session>>;
    for (let i = 0; i < repeat; i++) session = await A.node.sync.session(peer, T0);
    const busy = performance.eventLoopUtilization(loop);
    const used = process.cpuUsage(cpu);
    const cpuMs = busy.active / repeat;
    const processCpuMs = (used.user + used.system) / 1000 / repeat;
    const wallMs = (performance.now() - t0) / repeat;
    const out = session.output;
    if (process.env.BENCH_DEBUG) console.error(JSON.stringify(out));
    if (out.outcome !== 'equal' && out.outcome !== 'done') throw new Error(`session ${out.outcome}: ${out.error}`);
    // Both replicas now hold the same live set.
    const [fa, fb] = await Promise.all([A.node.shards.syncSummary(T0, all), B.node.shards.syncSummary(T0, all)]);
    const converged = fa.count === fb.count && fa.sum.every((w, i) => w === fb.sum[i]);
    const bytesTotal = out.bytesSent + out.bytesReceived;
    const bytesIds = bytesTotal - session.entryBytes;
    const floor = 32 * differing;
    emit({
      n,
      k,
      case: layout ? `${c}/${layout}` : c,
      round_trips: out.roundTrips,
      bytes_ids: bytesIds,
      bytes_total: bytesTotal,
      floor_bytes: floor,
      entry_bytes: session.entryBytes,
      differing_items: differing,
      negentropy_round_trips: neg.roundTrips,
      negentropy_bytes: neg.bytes,
      ratio_to_negentropy: round(bytesIds / neg.bytes, 3),
      ratio_to_floor: floor ? round(bytesIds / floor, 3) : null,
      ratio_total_to_entries: session.entryBytes ? round(bytesTotal / session.entryBytes, 3) : null,
      cpu_ms: round(cpuMs, 3),
      process_cpu_ms: round(processCpuMs, 3),
      wall_ms: round(wallMs, 2),
      converged,
      load_avg: load(),
    });
  } finally {
    await Promise.all([A.node.stop(), B.node.stop()]);
  }
}

async function main(): Promise<void> {
  const random = seededRandom(42);
  const maxN = Math.max(...NS);
  const base = baseSet(Math.ceil(maxN / (PER_KEY + 1)) + 2, random);
  for (const n of NS) {
    const set = firstItems(base, n);
    emit({ n, case: 'blind_republish', bytes_total: blindRepublish(set), note: 'every resource with all it holds, pushed to one neighbour: what a Fluence-style republish sends whatever differs', load_avg: load() });
    if (KS.includes(0)) await measure(n, 0, 'equal', null, set, set);
    for (const k of KS.filter((x) => x > 0)) {
      for (const c of CASES) {
        const slots = set.reduce((total, r) => total + r.entries.size, 0);
        if ((c === 'conflict' || c === 'tombstone') && k > slots) continue;
        for (const layout of LAYOUTS) {
          const { a, b } = makeCase(set, c, layout, k, random);
          await measure(n, k, c, layout, a, b);
        }
      }
    }
  }
}

// The memory network's timers do not hold the process open (runtime/base/clock.ts): this does, until the end.
const alive = setInterval(() => undefined, 1 << 30);
await main().finally(() => clearInterval(alive));
