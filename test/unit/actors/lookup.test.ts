/**
 * The lookup actor (actors/lookup.ts, SPEC §5): an iterative Kademlia lookup driven through its injected
 * `queries` actor, here backed by an in-memory network of real peer ids whose nodes each hold a k-bucket
 * routing table (protocols/kademlia.ts) and answer `find_node` with their k closest known contacts.
 * Every run is seeded, so a failure replays exactly. Checked against brute force: the lookup converges on
 * exactly the K closest live nodes, keeps at most `alpha` queries in flight, skips failed nodes, ends in
 * `timedOut` with the best partial answer, and reports its hops.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, toPromise } from 'xstate';
import { lookupMachine, type LookupCandidate, type LookupInput, type LookupOutput } from '../../../actors/lookup.js';
import { toHex } from '../../../protocols/encoding.js';
import { RoutingTable, nodeLocation } from '../../../protocols/kademlia.js';
import { peer } from '../../helpers/objects.js';

const K = 20;
const N = 200;

/** mulberry32: a small seeded PRNG, so networks, targets and delays replay exactly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SimNode {
  peerId: string;
  address: string;
  location: Uint8Array;
  table: RoutingTable;
}

/** N real peer ids (deterministic), computed once: identities are the slow part. */
const PEERS = Array.from({ length: N }, (_, i) => {
  const peerId = peer(1000 + i).peerId;
  return { peerId, address: `ws://10.0.${i >> 8}.${i & 255}:7070`, location: nodeLocation(peerId)! };
});

/**
 * A network of all PEERS; each node's table is filled from every other node in a seeded order (k per
 * bucket), leaving out the nodes in `evicted`.
 */
function network(seed: number, k = K, evicted: ReadonlySet<string> = new Set(), peers = PEERS): Map<string, SimNode> {
  const random = prng(seed);
  const nodes = new Map<string, SimNode>();
  for (const p of peers) {
    const table = new RoutingTable(p.location, k);
    const others = peers.filter((o) => o.peerId !== p.peerId && !evicted.has(o.peerId));
    for (let i = others.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [others[i], others[j]] = [others[j], others[i]];
    }
    for (const o of others) table.add({ ...o, lastSeen: 0 });
    nodes.set(p.peerId, { ...p, table });
  }
  return nodes;
}

const big = (b: Uint8Array): bigint => BigInt(`0x${toHex(b)}`);
const candidate = (c: { peerId: string; address: string; location: Uint8Array }): LookupCandidate => ({
  peerId: c.peerId,
  address: c.address,
  location: toHex(c.location),
  hop: 1,
});

/** Brute force: the `k` peer ids among `peers` closest to `target`. */
function trueClosest(peers: Iterable<{ peerId: string; location: Uint8Array }>, target: Uint8Array, k: number): string[] {
  const t = big(target);
  return [...peers]
    .map((p) => ({ peerId: p.peerId, d: big(p.location) ^ t }))
    .sort((a, b) => (a.d < b.d ? -1 : a.d > b.d ? 1 : 0))
    .slice(0, k)
    .map((p) => p.peerId);
}

function randomTarget(random: () => number): Uint8Array {
  return Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
}

interface NetBehaviour {
  /** Answer `failed` after the delay. */
  failing?: ReadonlySet<string>;
  /** Never answer. */
  silent?: ReadonlySet<string>;
  /** Delay of each answer, ms. */
  delay?: (peerId: string) => number;
  /** Filled with every peer id the lookup was told of (seeds and answers). */
  heard?: Set<string>;
}

interface Probe {
  /** Every query, in order (one entry per peer asked). */
  queried: string[];
  /** Peers that answered with contacts. */
  answered: Set<string>;
  inFlight: number;
  maxInFlight: number;
  /** Queries received after the lookup had stopped. */
  late: number;
}

/** A `queries` actor backed by `nodes`, recording what the lookup did. */
function fakeQueries(nodes: ReadonlyMap<string, SimNode>, target: Uint8Array, behaviour: NetBehaviour, probe: Probe) {
  const delay = behaviour.delay ?? (() => 0);
  return fromCallback<{ type: 'query'; peers: LookupCandidate[] }>(({ receive, sendBack }) => {
    let live = true;
    receive((e) => {
      if (!live) probe.late++;
      for (const p of e.peers) {
        probe.queried.push(p.peerId);
        probe.inFlight++;
        probe.maxInFlight = Math.max(probe.maxInFlight, probe.inFlight);
        if (behaviour.silent?.has(p.peerId)) continue;
        setTimeout(() => {
          probe.inFlight--;
          if (!live) return;
          const node = nodes.get(p.peerId);
          if (!node || behaviour.failing?.has(p.peerId)) return sendBack({ type: 'failed', peerId: p.peerId });
          probe.answered.add(p.peerId);
          const contacts = node.table.closest(target, K).map((c) => ({ peerId: c.peerId, address: c.address, location: toHex(c.location) }));
          for (const c of contacts) behaviour.heard?.add(c.peerId);
          sendBack({ type: 'answer', peerId: p.peerId, contacts });
        }, delay(p.peerId));
      }
    });
    return () => {
      live = false;
    };
  });
}

interface Run {
  output: LookupOutput;
  probe: Probe;
  state: unknown;
  ms: number;
}

async function runLookup(
  nodes: ReadonlyMap<string, SimNode>,
  self: SimNode,
  target: Uint8Array,
  opts: { k?: number; alpha?: number; timeoutMs?: number; slowMs?: number; seeds?: LookupCandidate[]; behaviour?: NetBehaviour } = {},
): Promise<Run> {
  const probe: Probe = { queried: [], answered: new Set(), inFlight: 0, maxInFlight: 0, late: 0 };
  const input: LookupInput = {
    target: toHex(target),
    k: opts.k ?? K,
    alpha: opts.alpha ?? 3,
    timeoutMs: opts.timeoutMs ?? 5000,
    seeds: opts.seeds ?? self.table.closest(target, opts.k ?? K).map(candidate),
    exclude: [self.peerId],
    ...(opts.slowMs !== undefined ? { slowMs: opts.slowMs } : {}),
  };
  for (const seed of input.seeds) opts.behaviour?.heard?.add(seed.peerId);
  const actor = createActor(lookupMachine.provide({ actors: { queries: fakeQueries(nodes, target, opts.behaviour ?? {}, probe) } }), { input });
  const started = performance.now();
  actor.start();
  const output = await toPromise(actor);
  return { output, probe, state: actor.getSnapshot().value, ms: performance.now() - started };
}

const ids = (cs: readonly LookupCandidate[]) => cs.map((c) => c.peerId);

describe('lookup actor on a 200-node network', () => {
  const nodes = network(1);
  const all = [...nodes.values()];

  it('converges to exactly the true K closest nodes (brute force), closest first', async () => {
    const random = prng(2);
    for (let run = 0; run < 12; run++) {
      const self = all[Math.floor(random() * N)];
      const target = run % 3 === 0 ? all[Math.floor(random() * N)].location : randomTarget(random);
      const { output, state, probe } = await runLookup(nodes, self, target, { behaviour: { delay: () => Math.floor(random() * 3) } });
      const expected = trueClosest(all.filter((n) => n !== self), target, K);
      expect(state).toBe('converged');
      expect(output.timedOut).toBe(false);
      expect(ids(output.closest)).toEqual(expected);
      expect(ids(output.closest)).not.toContain(self.peerId);
      // Every node in the answer was asked and answered; no node was asked twice.
      for (const id of expected) expect(probe.answered.has(id)).toBe(true);
      expect(new Set(probe.queried).size).toBe(probe.queried.length);
      expect(output.queried).toBe(probe.queried.length);
      // A lookup asks far fewer than all nodes.
      expect(probe.queried.length).toBeLessThan(N / 2);
      expect(probe.late).toBe(0);
    }
  });

  it('also finds the K closest when the seeds are a single far node', async () => {
    const random = prng(3);
    for (let run = 0; run < 5; run++) {
      const target = randomTarget(random);
      const self = all[Math.floor(random() * N)];
      const ranked = trueClosest(all.filter((n) => n !== self), target, N);
      const farthest = nodes.get(ranked[ranked.length - 1])!;
      const { output, state } = await runLookup(nodes, self, target, { seeds: [candidate(farthest)] });
      expect(state).toBe('converged');
      expect(ids(output.closest)).toEqual(ranked.slice(0, K));
      expect(output.hops).toBeGreaterThanOrEqual(2);
    }
  });

  it.each([1, 3, 5])('never has more than alpha = %i queries in flight, and uses all of them', async (alpha) => {
    const random = prng(10 + alpha);
    for (let run = 0; run < 4; run++) {
      const self = all[Math.floor(random() * N)];
      const target = randomTarget(random);
      const { output, probe } = await runLookup(nodes, self, target, { alpha, behaviour: { delay: () => 1 + Math.floor(random() * 4) } });
      expect(probe.maxInFlight).toBeLessThanOrEqual(alpha);
      expect(probe.maxInFlight).toBe(alpha);
      expect(probe.inFlight).toBe(0);
      expect(ids(output.closest)).toEqual(trueClosest(all.filter((n) => n !== self), target, K));
    }
  });

  it('skips failed nodes: each is asked once, none is in the output, the closest live nodes it heard of are', async () => {
    // The failing nodes are still in everyone's tables (not yet evicted), so answers keep naming them: the
    // lookup can only return live nodes that some answer named, but it must return the best of those, and
    // every live node of the true K closest.
    const random = prng(4);
    for (let run = 0; run < 6; run++) {
      const self = all[Math.floor(random() * N)];
      const target = randomTarget(random);
      const ranked = trueClosest(all.filter((n) => n !== self), target, N);
      // A quarter of the network fails, including 5 of the true K closest.
      const failing = new Set([...ranked.slice(0, 10).filter((_, i) => i % 2 === 0), ...all.filter(() => random() < 0.25).map((n) => n.peerId)]);
      failing.delete(self.peerId);
      const heard = new Set<string>();
      const { output, probe, state } = await runLookup(nodes, self, target, { behaviour: { failing, delay: () => Math.floor(random() * 3), heard } });
      expect(state).toBe('converged');
      const out = ids(output.closest);
      for (const id of out) expect(failing.has(id)).toBe(false);
      const liveTopK = ranked.slice(0, K).filter((id) => !failing.has(id));
      for (const id of liveTopK) expect(out).toContain(id);
      expect(out).toEqual(trueClosest(all.filter((n) => n !== self && heard.has(n.peerId) && !failing.has(n.peerId)), target, K));
      const askedFailing = probe.queried.filter((id) => failing.has(id));
      expect(askedFailing.length).toBeGreaterThan(0);
      expect(new Set(askedFailing).size).toBe(askedFailing.length);
    }
  });

  it('with failed seeds in a network that has evicted them, finds exactly the K closest live nodes', async () => {
    const random = prng(8);
    for (let run = 0; run < 4; run++) {
      const self = all[Math.floor(random() * N)];
      const target = randomTarget(random);
      const ranked = trueClosest(all.filter((n) => n !== self), target, N);
      const dead = new Set([...ranked.slice(0, 6), ...all.filter(() => random() < 0.2).map((n) => n.peerId)]);
      dead.delete(self.peerId);
      // Everyone else's tables were built without the dead nodes; self still has them all (stale seeds).
      const seeds = self.table.closest(target, K).map(candidate);
      expect(seeds.some((s) => dead.has(s.peerId))).toBe(true);
      const { output, state } = await runLookup(network(100 + run, K, dead), self, target, { seeds, behaviour: { failing: dead } });
      expect(state).toBe('converged');
      expect(ids(output.closest)).toEqual(trueClosest(all.filter((n) => n !== self && !dead.has(n.peerId)), target, K));
    }
  });

  it('when every node fails, converges with an empty answer', async () => {
    const self = all[0];
    const target = all[1].location;
    const failing = new Set(all.map((n) => n.peerId));
    const { output, state, probe } = await runLookup(nodes, self, target, { behaviour: { failing } });
    expect(state).toBe('converged');
    expect(output).toMatchObject({ closest: [], timedOut: false, hops: 0 });
    expect(probe.queried.length).toBe(K); // the seeds, each once
  });

  it('a timeout ends in timedOut with the best partial result: the closest nodes that answered', async () => {
    const random = prng(5);
    const self = all[7];
    const target = randomTarget(random);
    const ranked = trueClosest(all.filter((n) => n !== self), target, N);
    // The 8 nodes closest to the target never answer (and are never reported failed): the lookup cannot
    // finish. It starts far away, so it has answers by the time it reaches them.
    const silent = new Set(ranked.slice(0, 8));
    const seeds = ranked.slice(N / 2, N / 2 + 5).map((id) => candidate(nodes.get(id)!));
    const timeoutMs = 150;
    const { output, probe, state, ms } = await runLookup(nodes, self, target, { timeoutMs, seeds, behaviour: { silent, delay: () => Math.floor(random() * 2) } });
    expect(state).toBe('timedOut');
    expect(output.timedOut).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(timeoutMs - 5);
    expect(ms).toBeLessThan(timeoutMs + 1000);
    const out = ids(output.closest);
    expect(out.length).toBeGreaterThan(0);
    expect(out.length).toBeLessThanOrEqual(K);
    for (const id of out) expect(silent.has(id)).toBe(false);
    // Exactly the best of what answered, closest first.
    expect(out).toEqual(trueClosest(all.filter((n) => probe.answered.has(n.peerId)), target, K));
    expect(output.hops).toBe(Math.max(...output.closest.map((c) => c.hop)));
    expect(probe.maxInFlight).toBeLessThanOrEqual(3);
  });

  it('a timeout before any answer returns an empty result', async () => {
    const self = all[3];
    const target = all[4].location;
    const silent = new Set(all.map((n) => n.peerId));
    const { output, state } = await runLookup(nodes, self, target, { timeoutMs: 30, behaviour: { silent } });
    expect(state).toBe('timedOut');
    expect(output).toMatchObject({ closest: [], timedOut: true, hops: 0, queried: 3 });
  });

  it('never asks or returns the excluded node (itself), even when others name it', async () => {
    const random = prng(6);
    for (let run = 0; run < 4; run++) {
      const target = randomTarget(random);
      // The node closest to the target looks it up: everyone near the target knows it.
      const self = nodes.get(trueClosest(all, target, 1)[0])!;
      const { output, probe } = await runLookup(nodes, self, target);
      expect(probe.queried).not.toContain(self.peerId);
      expect(ids(output.closest)).not.toContain(self.peerId);
      expect(ids(output.closest)).toEqual(trueClosest(all.filter((n) => n !== self), target, K));
    }
  });

  it('reports hops: the highest hop among the answer; 1 when the seeds already are the answer', async () => {
    const random = prng(7);
    const self = all[11];
    const target = randomTarget(random);
    const expected = trueClosest(all.filter((n) => n !== self), target, K);
    // Seeded with the answer itself: nothing closer is learnt, every node of the answer is hop 1.
    const seeded = await runLookup(nodes, self, target, { seeds: expected.map((id) => candidate(nodes.get(id)!)) });
    expect(ids(seeded.output.closest)).toEqual(expected);
    expect(seeded.output.hops).toBe(1);
    expect(seeded.output.closest.every((c) => c.hop === 1)).toBe(true);

    const normal = await runLookup(nodes, self, target);
    expect(normal.output.hops).toBe(Math.max(...normal.output.closest.map((c) => c.hop)));
    expect(normal.output.hops).toBeGreaterThanOrEqual(1);
  });
});

describe('lookup actor on hand-made networks', () => {
  /** A location at distance `d` from the all-zero target. */
  const at = (d: number): string => toHex(Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? d & 255 : i === 30 ? d >> 8 : 0)));
  const target = new Uint8Array(32);
  /** Adds a node at distance `d` from the target that knows nobody yet. */
  const node = (name: string, d: number, all: Map<string, SimNode>): void => {
    const location = Uint8Array.from(Buffer.from(at(d), 'hex'));
    all.set(name, { peerId: name, address: `ws://${name}:1`, location, table: new RoutingTable(new Uint8Array(32).fill(0xff), K) });
  };

  it('walks a chain one hop at a time and counts each hop', async () => {
    // n0 (far) knows only n1, n1 only n2, …: each answer brings one closer node.
    const chain = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'];
    const nodes = new Map<string, SimNode>();
    chain.forEach((name, i) => node(name, 1000 - i * 100, nodes));
    chain.forEach((name, i) => {
      const next = chain[i + 1];
      if (next) nodes.get(name)!.table.add({ ...nodes.get(next)!, lastSeen: 0 });
    });
    const self: SimNode = { peerId: 'self', address: 'ws://self:1', location: new Uint8Array(32).fill(0xee), table: new RoutingTable(new Uint8Array(32), K) };
    const { output, state, probe } = await runLookup(nodes, self, target, { k: 1, alpha: 1, seeds: [candidate(nodes.get('n0')!)] });
    expect(state).toBe('converged');
    expect(probe.queried).toEqual(chain);
    expect(ids(output.closest)).toEqual(['n5']);
    expect(output.hops).toBe(6);
    expect(output.queried).toBe(6);
  });

  it('with no seeds, converges at once with nothing: a node alone is the whole network it knows', async () => {
    const self: SimNode = { peerId: 'self', address: 'ws://self:1', location: new Uint8Array(32), table: new RoutingTable(new Uint8Array(32), K) };
    const { output, state, probe } = await runLookup(new Map(), self, target, { seeds: [] });
    expect(state).toBe('converged');
    expect(output).toEqual({ closest: [], timedOut: false, hops: 0, queried: 0, whole: true });
    expect(probe.queried).toEqual([]);
  });

  it('orders seeds by distance and asks the closest alpha first', async () => {
    const nodes = new Map<string, SimNode>();
    const names = ['d9', 'd1', 'd5', 'd3', 'd7'];
    for (const n of names) node(n, Number(n.slice(1)), nodes);
    const self: SimNode = { peerId: 'self', address: 'ws://self:1', location: new Uint8Array(32).fill(0xee), table: new RoutingTable(new Uint8Array(32), K) };
    const { output, probe } = await runLookup(nodes, self, target, { k: 3, alpha: 2, seeds: names.map((n) => candidate(nodes.get(n)!)) });
    expect(probe.queried.slice(0, 2)).toEqual(['d1', 'd3']);
    expect(probe.queried).toEqual(['d1', 'd3', 'd5']); // only the k closest are asked
    expect(ids(output.closest)).toEqual(['d1', 'd3', 'd5']);
  });

  it('a query slower than slowMs gives its slot to the next candidate: a silent node does not hold the lookup', async () => {
    // `stuck` is the closest seed and never answers; `a` (far) knows `b`, closer than `stuck`.
    const nodes = new Map<string, SimNode>();
    node('stuck', 500, nodes);
    node('a', 900, nodes);
    node('b', 10, nodes);
    nodes.get('a')!.table.add({ ...nodes.get('b')!, lastSeen: 0 });
    const self: SimNode = { peerId: 'self', address: 'ws://self:1', location: new Uint8Array(32).fill(0xee), table: new RoutingTable(new Uint8Array(32), K) };
    const seeds = [candidate(nodes.get('stuck')!), candidate(nodes.get('a')!)];
    const behaviour = { silent: new Set(['stuck']) };

    const held = await runLookup(nodes, self, target, { k: 1, alpha: 1, timeoutMs: 300, seeds, behaviour });
    expect(held.state).toBe('timedOut');
    expect(held.probe.queried).toEqual(['stuck']);

    const freed = await runLookup(nodes, self, target, { k: 1, alpha: 1, timeoutMs: 5000, slowMs: 20, seeds, behaviour });
    expect(freed.state).toBe('converged');
    expect(freed.probe.queried).toEqual(['stuck', 'a', 'b']);
    expect(ids(freed.output.closest)).toEqual(['b']);
  });

  it('still waits for a slow node among the K closest, and returns it once it answers', async () => {
    const nodes = new Map<string, SimNode>();
    node('slow', 5, nodes);
    node('a', 900, nodes);
    const self: SimNode = { peerId: 'self', address: 'ws://self:1', location: new Uint8Array(32).fill(0xee), table: new RoutingTable(new Uint8Array(32), K) };
    const seeds = [candidate(nodes.get('slow')!), candidate(nodes.get('a')!)];
    const { output, state, probe } = await runLookup(nodes, self, target, {
      k: 2,
      alpha: 1,
      slowMs: 10,
      seeds,
      behaviour: { delay: (peerId) => (peerId === 'slow' ? 150 : 0) },
    });
    expect(state).toBe('converged');
    expect(probe.queried).toEqual(['slow', 'a']);
    expect(ids(output.closest)).toEqual(['slow', 'a']);
  });
});

describe('a lookup that sees the whole network (its result is the neighbourhood of every target)', () => {
  it('is whole on a network of K nodes: every answer is a whole routing table', async () => {
    const nodes = network(5, K, new Set(), PEERS.slice(0, K));
    const all = [...nodes.values()];
    const random = prng(6);
    const { output } = await runLookup(nodes, all[0], randomTarget(random));
    expect(output.whole).toBe(true);
    expect(new Set(ids(output.closest))).toEqual(new Set(all.slice(1).map((n) => n.peerId)));
  });

  it('is not whole on a network of more than K nodes, nor when it timed out', async () => {
    const nodes = network(1);
    const all = [...nodes.values()];
    expect((await runLookup(nodes, all[0], randomTarget(prng(7)))).output.whole).toBe(false);
    const small = network(5, K, new Set(), PEERS.slice(0, 10));
    const few = [...small.values()];
    const silent = new Set([few[3].peerId]);
    const stalled = await runLookup(small, few[0], randomTarget(prng(8)), { timeoutMs: 50, behaviour: { silent } });
    expect(stalled.output.timedOut).toBe(true);
    expect(stalled.output.whole).toBe(false);
  });
});
