/**
 * The node's place in the Kademlia network (SPEC §5): its routing table, fed by every authenticated peer
 * (refreshed by the messages it sends); ping-before-evict; and lookups, each one a lookup actor
 * (actors/lookup.ts), shared while in flight for the same target. Joining and bucket refresh are the
 * bootstrap actor's (net/bootstrap.ts).
 *
 * Transport timing (pings, lookup timeouts) uses the wall clock in both clock modes (SPEC §10); `last_seen`
 * in `node.peers` is reported on the node clock.
 */
import { createActor, fromCallback, toPromise, type Actor } from 'xstate';
import { lookupMachine, type LookupCandidate, type LookupOutput } from '../../actors/lookup.js';
import { fromHex, toHex } from '../../protocols/encoding.js';
import { LOCATION_BYTES, RoutingTable, closestOf, distanceBucket, nodeLocation, randomLocationInBucket, type Contact } from '../../protocols/kademlia.js';
import type { Random } from '../../protocols/random.js';
import { parseFindNodeResult, type PeerAddress } from '../../protocols/wire.js';
import { InspectionTracker, machineJson, type ActorDetail, type ActorEvent, type ActorSource, type ActorSummary } from '../inspect/actor-view.js';
import type { Timers } from '../base/clock.js';
import type { Logger } from '../base/log.js';
import type { Neighbour } from './quorum.js';
import type { PeerLink, Transport } from './transport.js';
import { ipGroupOf } from '../../protocols/urls.js';

export interface DhtOptions {
  self: { peerId: string };
  transport: Transport;
  timers: Timers;
  random: Random;
  k: number;
  alpha: number;
  /** Timeout of one node-to-node request (a ping, one find_node). */
  requestTimeoutMs: number;
  /** Node clock (seconds), for `last_seen` and inspection. */
  now(): number;
  onInspect(e: ActorEvent): void;
  /** The routing table lost its last contact. */
  onEmptied?(): void;
  /** The peer-diversity limit (config `peer_diversity_*`); none when absent. */
  diversity?: { perTable: number; perBucket: number; exemptPrivate: boolean };
  log: Logger;
}

/** `node.peers` row (SPEC §9.4). */
export interface PeerRow {
  peer_id: string;
  address: string;
  distance_bucket: number;
  last_seen: number;
}

/** One find_node in a lookup waits at most this long: a silent node must not hold the lookup. */
const QUERY_TIMEOUT_MS = 2000;
/** A find_node unanswered this long gives its slot to the next candidate (actors/lookup.ts), answer or not. */
const QUERY_SLOW_MS = 500;

export const LOOKUP_ACTOR_PREFIX = 'lookup:';
/** How long (wall clock) a converged lookup's neighbourhood is reused while the routing table is unchanged. */
const NEIGHBOURHOOD_REUSE_MS = 5000;
const MAX_RECENT_LOOKUPS = 10_000;

interface Recent {
  at: number;
  membership: number;
  output: LookupOutput;
}

interface LiveLookup {
  actor: Actor<typeof lookupMachine>;
  result: Promise<LookupOutput>;
  startedAt: number;
}

export class Dht implements ActorSource {
  readonly prefix = LOOKUP_ACTOR_PREFIX;
  readonly table: RoutingTable;
  readonly location: Uint8Array;
  /** Node-clock time each contact was last heard from (the table keeps wall-clock times). */
  private readonly lastSeenClock = new Map<string, number>();
  private readonly lookups = new Map<string, LiveLookup>();
  private readonly pinging = new Set<string>();
  /** Converged lookups by target (hex), for `recentLookup`; `membership` counts routing-table changes. */
  private readonly recent = new Map<string, Recent>();
  /** The last lookup that saw the whole network (LookupOutput.whole): it serves every target. */
  private whole: Recent | null = null;
  private membership = 0;
  private readonly inspection: InspectionTracker;
  private nextLookup = 1;
  private stopped = false;
  /** Lookups done, and their hop counts (for metrics, the bench and the simulator): `hopCounts[h]` lookups took h hops. */
  readonly stats = { lookups: 0, hops: 0, timedOut: 0, hopCounts: [] as number[] };

  constructor(private readonly opts: DhtOptions) {
    this.location = nodeLocation(opts.self.peerId)!;
    const d = opts.diversity;
    this.table = new RoutingTable(
      this.location,
      opts.k,
      d ? { perTable: d.perTable, perBucket: d.perBucket, groupOf: (c) => ipGroupOf(c.address, d.exemptPrivate) } : null,
    );
    this.inspection = new InspectionTracker(opts.now, opts.onInspect);
  }

  /** An authenticated peer was heard from: it enters (or moves up in) the routing table. */
  seen(peer: PeerLink): void {
    if (!peer.address || this.stopped) return;
    const location = nodeLocation(peer.peerId)!;
    const contact: Contact = { peerId: peer.peerId, address: peer.address, location, lastSeen: this.opts.timers.now() };
    const outcome = this.table.add(contact);
    if (outcome.kind === 'self' || outcome.kind === 'diversity') return;
    if (outcome.kind === 'added') this.membership++;
    this.lastSeenClock.set(peer.peerId, this.opts.now());
    if (outcome.kind === 'full') void this.pingThenEvict(outcome.oldest, contact);
  }

  /**
   * A peer did not answer: it leaves the table (it comes back when it is heard from again). With
   * `askedAt` (this node's timers), the request that failed was sent then: a peer heard from since then is
   * alive, and a late timeout does not undo that.
   */
  failed(peerId: string, askedAt?: number): void {
    const location = nodeLocation(peerId);
    if (!location) return;
    if (askedAt !== undefined && (this.table.get(peerId, location)?.lastSeen ?? -Infinity) > askedAt) return;
    if (this.table.remove(peerId, location)) {
      this.lastSeenClock.delete(peerId);
      this.membership++;
      if (this.table.size === 0) this.opts.onEmptied?.();
    }
  }

  /** The address the routing table holds for `peerId`, or null. */
  addressOf(peerId: string): string | null {
    const location = nodeLocation(peerId);
    return (location && this.table.get(peerId, location)?.address) ?? null;
  }

  /** `find_node`: the k contacts this node knows closest to `target`. */
  closestKnown(target: Uint8Array): PeerAddress[] {
    return this.table.closest(target, this.opts.k).map((c) => ({ peer_id: c.peerId, address: c.address }));
  }

  /**
   * The neighbourhood of `target` (SPEC §5): the K closest live nodes a network lookup finds, this node
   * included when it is among them.
   */
  async neighbourhood(target: Uint8Array, timeoutMs: number, opts: { fresh?: boolean } = {}): Promise<{ nodes: Neighbour[]; lookup: LookupOutput }> {
    const k = this.opts.k;
    // Upkeep asks for a fresh lookup: its whole point is to find the nodes that joined since.
    const lookup = await (opts.fresh ? this.lookup(target, timeoutMs) : this.recentLookup(target, timeoutMs));
    const self = { peerId: this.opts.self.peerId, address: null, location: this.location, self: true };
    const found = lookup.closest.map((c) => ({ peerId: c.peerId, address: c.address, location: fromHex(c.location), self: false }));
    const nodes = closestOf([self, ...found], target, k).map(({ peerId, address, self }) => ({ peerId, address, self }));
    return { nodes, lookup };
  }

  /**
   * A lookup of `target` that converged less than NEIGHBOURHOOD_REUSE_MS ago while the routing table has
   * kept the same members, or a new one. Repeated calls for one resource (a register then a resolve, a
   * client polling) then cost one lookup, not one each; a node joining, leaving or failing to answer
   * changes the table and ends the reuse at once. A lookup that saw the whole network (a network of at
   * most K nodes) serves every target on the same terms: its nodes are the neighbourhood of every id.
   */
  private async recentLookup(target: Uint8Array, timeoutMs: number): Promise<LookupOutput> {
    const hex = toHex(target);
    const fresh = (r: Recent | null | undefined): r is Recent => !!r && r.membership === this.membership && this.opts.timers.now() - r.at < NEIGHBOURHOOD_REUSE_MS;
    if (fresh(this.whole)) return this.whole.output;
    const hit = this.recent.get(hex);
    if (fresh(hit)) return hit.output;
    const membership = this.membership;
    const output = await this.lookup(target, timeoutMs);
    if (!output.timedOut && membership === this.membership) {
      const entry = { at: this.opts.timers.now(), membership, output };
      if (output.whole) this.whole = entry;
      else {
        if (this.recent.size >= MAX_RECENT_LOOKUPS) this.recent.clear();
        this.recent.set(hex, entry);
      }
    }
    return output;
  }

  /** An iterative lookup of `target`; a lookup of the same target already running is shared. */
  lookup(target: Uint8Array, timeoutMs: number): Promise<LookupOutput> {
    const hex = toHex(target);
    const running = this.lookups.get(hex);
    if (running) return running.result;
    const id = `${LOOKUP_ACTOR_PREFIX}${hex.slice(0, 16)}:${this.nextLookup++}`;
    const seeds: LookupCandidate[] = this.table
      .closest(target, this.opts.k)
      .map((c) => ({ peerId: c.peerId, address: c.address, location: toHex(c.location), hop: 1 }));
    const actor = createActor(lookupMachine.provide({ actors: { queries: this.queries(target) } }), {
      id,
      clock: this.opts.timers,
      input: { target: hex, k: this.opts.k, alpha: this.opts.alpha, timeoutMs, seeds, exclude: [this.opts.self.peerId], slowMs: QUERY_SLOW_MS },
      inspect: this.inspection.inspector(id, 'lookup'),
    });
    const result = toPromise(actor).then((out) => {
      // A lookup stopped with its node (close) ends with no output.
      if (!out) return { closest: [], timedOut: true, hops: 0, queried: 0, whole: false } satisfies LookupOutput;
      this.stats.lookups++;
      this.stats.hops += out.hops;
      this.stats.hopCounts[out.hops] = (this.stats.hopCounts[out.hops] ?? 0) + 1;
      if (out.timedOut) this.stats.timedOut++;
      return out;
    });
    const live: LiveLookup = { actor, result, startedAt: this.opts.now() };
    this.lookups.set(hex, live);
    void result.finally(() => this.lookups.get(hex) === live && this.lookups.delete(hex));
    actor.start();
    return result;
  }

  /** `node.peers` (SPEC §9.4), closest first. */
  peers(): PeerRow[] {
    return this.table.closest(this.location, Infinity).map((c) => ({
      peer_id: c.peerId,
      address: c.address,
      distance_bucket: distanceBucket(this.location, c.location),
      last_seen: this.lastSeenClock.get(c.peerId) ?? 0,
    }));
  }

  actors(): ActorSummary[] {
    return [...this.lookups.values()].map((l) => ({ id: l.actor.id, kind: 'lookup', state: l.actor.getSnapshot().value, started_at: l.startedAt }));
  }

  actor(id: string): ActorDetail | null {
    const l = [...this.lookups.values()].find((x) => x.actor.id === id);
    if (!l) return null;
    const snap = l.actor.getSnapshot();
    return { id, kind: 'lookup', state: snap.value, context: snap.context, machine: machineJson(lookupMachine) };
  }

  setInspecting(on: boolean): void {
    this.inspection.set(on, () => [...this.lookups.values()].map((l) => [l.actor.id, l.actor.getSnapshot().value]));
  }

  close(): void {
    this.stopped = true;
    for (const l of this.lookups.values()) l.actor.stop();
  }

  /** The network side of one lookup: a find_node to each peer the machine picks. */
  private queries(target: Uint8Array) {
    return fromCallback<{ type: 'query'; peers: LookupCandidate[] }>(({ receive, sendBack }) => {
      let live = true;
      receive((e) => {
        for (const peer of e.peers) {
          const timeout = Math.min(QUERY_TIMEOUT_MS, this.opts.requestTimeoutMs);
          const askedAt = this.opts.timers.now();
          this.opts.transport.request(peer, 'find_node', { target }, timeout).then(
            (r) => {
              const { peers } = parseFindNodeResult(r);
              const contacts = peers.map((p) => ({ peerId: p.peer_id, address: p.address, location: toHex(nodeLocation(p.peer_id)!) }));
              if (live) sendBack({ type: 'answer', peerId: peer.peerId, contacts });
            },
            (err) => {
              this.opts.log.debug('find_node failed', { peer: peer.peerId, error: (err as Error).message });
              this.failed(peer.peerId, askedAt);
              if (live) sendBack({ type: 'failed', peerId: peer.peerId });
            },
          );
        }
      });
      return () => {
        live = false;
      };
    });
  }

  /** Kademlia's rule: a full bucket keeps its oldest contact if it still answers a ping. */
  private async pingThenEvict(oldest: Contact, candidate: Contact): Promise<void> {
    if (this.pinging.has(oldest.peerId)) return;
    this.pinging.add(oldest.peerId);
    try {
      await this.opts.transport.request(oldest, 'ping', {}, Math.min(QUERY_TIMEOUT_MS, this.opts.requestTimeoutMs));
      this.table.add({ ...oldest, lastSeen: this.opts.timers.now() });
    } catch {
      if (this.table.replace(oldest, candidate)) {
        this.membership++;
        this.lastSeenClock.delete(oldest.peerId);
        this.lastSeenClock.set(candidate.peerId, this.opts.now());
      }
    } finally {
      this.pinging.delete(oldest.peerId);
    }
  }

  /**
   * Joining (Kademlia paper, section 2.3): a lookup of this node, then of a random location in every
   * bucket farther than the closest neighbour. The lookup of itself only meets the nodes closest to this
   * one; the others meet the nodes of each farther region, and those for which this node is among the
   * closest learn of it now rather than at the next refresh (without it, lookups right after a join can
   * miss a new node).
   */
  async join(): Promise<void> {
    await this.lookup(this.location, this.opts.requestTimeoutMs).catch(() => undefined);
    const [closest] = this.table.closest(this.location, 1);
    if (!closest || this.stopped) return;
    for (let b = this.table.bucketOf(closest.location) + 1; b < LOCATION_BYTES * 8 && !this.stopped; b++) {
      await this.lookup(randomLocationInBucket(this.location, b, this.opts.random.bytes(32)), this.opts.requestTimeoutMs).catch(() => undefined);
    }
  }

  /** Bucket refresh: a lookup of this node and of a random location in every non-empty bucket; false when the table is empty. */
  async refresh(): Promise<boolean> {
    if (this.table.size === 0) return false;
    const targets = [this.location, ...this.table.nonEmptyBuckets().map((b) => randomLocationInBucket(this.location, b, this.opts.random.bytes(32)))];
    for (const t of targets) await this.lookup(t, this.opts.requestTimeoutMs).catch(() => undefined);
    return true;
  }
}
