/**
 * Anti-entropy sync between neighbours (SPEC §5; the protocol is protocols/sync/messages.ts).
 *
 * - **What is compared.** Each node's range is the location buckets in which it is among the K closest
 *   nodes it knows (protocols/sync/range.ts); two neighbours compare the intersection of their ranges,
 *   as the initiator's set was live at the instant it names (within max_clock_skew of the responder's).
 * - **Initiating** (`round`, the `sync` job): one session at a time with each neighbour (the K closest
 *   contacts), the least recently synced first; each session is a machine (actors/sync.ts).
 * - **Answering** (`respond`): at most MAX_ACCEPTED sessions at once and one per neighbour, else `busy`;
 *   each session has a budget of symbols and requests and ends when idle; a session that asks for more
 *   is refused, and a malformed message fails its request and costs the sender.
 * - **Complete answers.** Until this node has finished a round with its neighbours after it joined, or a
 *   bucket has newly entered its range, its answers for those buckets may lack entries: `isComplete` says
 *   so, and reads count such answers only when no complete one is to be had.
 */
import { createActor, fromPromise, toPromise, type Actor } from 'xstate';
import { SignpostError } from '../../protocols/errors.js';
import { compareBytes, toHex } from '../../protocols/encoding.js';
import { resourceLocation } from '../../protocols/kademlia.js';
import type { RuleContext } from '../../protocols/registry.js';
import { encodeResponse, entryBytes, resourceOf, type SyncEntry, type SyncRequest, type SyncResponse } from '../../protocols/sync/messages.js';
import { MAX_LISTED, MAX_SYMBOLS_PER_MESSAGE, SYMBOL_BYTES } from '../../protocols/sync/messages.js';
import { FEW_DIFFERENCES, firstBatch, symbolCap } from '../../protocols/sync/plan.js';
import { BucketSet, bucketOf, responsibleBuckets } from '../../protocols/sync/range.js';
import { BEGIN_SKETCHES, TABLE_FINGERPRINT_BYTES, estimateDifference, fingerprint, olderThanSuffixes, suffixStart, towBytes } from '../../protocols/sync/summary.js';
import { ID_PREFIX_BYTES } from '../../protocols/sync/sync-index.js';
import { syncSessionMachine, type SyncSessionOutput } from '../../actors/sync.js';
import type { SyncRound } from '../../actors/sync-job.js';
import { InspectionTracker, machineJson, type ActorDetail, type ActorEvent, type ActorSource, type ActorSummary } from '../inspect/actor-view.js';
import type { Timers } from '../base/clock.js';
import type { Logger } from '../base/log.js';
import type { Shards } from '../store/shards.js';
import type { Dht } from './dht.js';
import { InitiatedSession } from './sync-session.js';
import { storeSyncEntries } from './sync-store.js';
import type { PeerLink, Traffic, Transport } from './transport.js';

/** Sessions answered at once. */
export const MAX_ACCEPTED = 3;
/** An answered session with no request for this long (wall clock) ends. */
const ACCEPTED_IDLE_MS = 30_000;
/** Requests one answered session may make. */
const MAX_REQUESTS = 256;

export const SYNC_ACTOR_PREFIX = 'sync:';
const SESSION_MACHINE = machineJson(syncSessionMachine);

export interface SyncOptions {
  /** False when `sync_interval` is 0: the node neither starts nor answers sessions, and every answer is complete. */
  enabled: boolean;
  dht: Dht;
  transport: Transport;
  shards: Shards;
  ruleContext(): RuleContext;
  k: number;
  requestTimeoutMs: number;
  maxFrameBytes: number;
  /** Whether the node has joined the network (a round before that has nobody to ask). */
  joined(): boolean;
  timers: Timers;
  now(): number;
  onInspect(e: ActorEvent): void;
  log: Logger;
}

/** An answered session. */
interface Accepted {
  peerId: string;
  session: number;
  at: number;
  range: BucketSet;
  symbolCap: number;
  symbolsServed: number;
  requests: number;
  lastActive: number;
}

export interface SyncCounters {
  sessions: { [outcome in SyncSessionOutput['outcome']]: number };
  bytes: { sent: number; received: number };
  entries: { sent: number; received: number };
}

export class Sync implements ActorSource {
  readonly prefix = SYNC_ACTOR_PREFIX;
  readonly counters: SyncCounters = { sessions: { equal: 0, done: 0, failed: 0, busy: 0 }, bytes: { sent: 0, received: 0 }, entries: { sent: 0, received: 0 } };
  private readonly accepted = new Map<string, Accepted>();
  private readonly lastSynced = new Map<string, number>();
  /** Buckets whose first sync since they entered this node's range has finished. */
  private synced = BucketSet.none();
  private current: { peerId: string; session: InitiatedSession } | null = null;
  private readonly live = new Map<string, { actor: Actor<typeof syncSessionMachine>; startedAt: number }>();
  private readonly inspection: InspectionTracker;
  private nextSession = 1;

  /** The session machine with this node's work: each phase works on the session in progress (one at a time). */
  private readonly machine = (() => {
    const phase = <T>(run: (s: InitiatedSession) => Promise<T>) =>
      fromPromise(async () => {
        const work = this.current!.session;
        return { output: await run(work), traffic: { ...work.traffic } };
      });
    return syncSessionMachine.provide({ actors: { compare: phase((w) => w.compare()), reconcile: phase((w) => w.reconcile()), fetch: phase((w) => w.fetch()), store: phase((w) => w.store()) } });
  })();

  constructor(private readonly opts: SyncOptions) {
    this.inspection = new InspectionTracker(opts.now, opts.onInspect);
  }

  /** The buckets this node holds, from its routing table. */
  range(): BucketSet {
    const { dht, k } = this.opts;
    return responsibleBuckets(dht.location, dht.table.contacts().map((c) => c.location), k);
  }

  /** Whether this node's answers for `keyId` are complete (see the module comment). */
  isComplete(keyId: string): boolean {
    if (!this.opts.enabled) return true;
    const location = resourceLocation(keyId);
    return location !== null && this.synced.has(bucketOf(location));
  }

  /** The transport's traffic: the bytes of every sync frame, and of the session in progress. */
  traffic(t: Traffic): void {
    if (t.method !== 'sync') return;
    this.counters.bytes.sent += t.sent;
    this.counters.bytes.received += t.received;
    if (!t.served && this.current?.peerId === t.peerId) this.current.session.count(t.sent, t.received);
  }

  // ---- initiating ----

  /** One run of the `sync` job: a session with each neighbour in turn. */
  async round(at: number): Promise<SyncRound> {
    const result: SyncRound = { range: '', neighbours: 0, equal: 0, done: 0, failed: 0, busy: 0, pushed: 0, received: 0, sessions: [] };
    if (!this.opts.enabled) return { ...result, range: 'sync is off' };
    if (!this.opts.joined()) return { ...result, range: 'not joined yet' };
    const range = this.range();
    result.range = range.toString();
    this.synced = this.synced.intersect(range);
    const { dht, k } = this.opts;
    const never = Number.NEGATIVE_INFINITY;
    const neighbours = dht.table.closest(dht.location, k).sort((a, b) => (this.lastSynced.get(a.peerId) ?? never) - (this.lastSynced.get(b.peerId) ?? never));
    result.neighbours = neighbours.length;
    // Nobody to learn from: what this node holds is all there is.
    if (neighbours.length === 0) this.synced = range;
    for (const n of neighbours) {
      const askedAt = this.opts.timers.now();
      const { output, compared } = await this.session({ peerId: n.peerId, address: n.address }, at, range);
      result.sessions.push(output);
      result[output.outcome]++;
      result.pushed += output.pushed;
      result.received += output.received;
      // A neighbour that does not answer leaves the routing table, as after a failed find_node: a crashed
      // node must not keep this node out of a neighbourhood it now belongs to (its range).
      if (output.outcome === 'failed' && (output.code === 'peer_unreachable' || output.code === 'peer_timeout')) dht.failed(n.peerId, askedAt);
      if (output.outcome === 'equal' || output.outcome === 'done') {
        this.lastSynced.set(n.peerId, at);
        if (compared) this.synced = this.synced.union(compared.intersect(range));
      }
    }
    return result;
  }

  /** One session with `peer`, as a machine; resolves when it has ended, whatever the outcome. */
  async session(peer: PeerLink & { address: string }, at: number, range = this.range()): Promise<{ output: SyncSessionOutput; compared: BucketSet | null; entryBytes: number }> {
    const o = this.opts;
    const id = this.nextSession++;
    const work = new InitiatedSession(
      {
        transport: o.transport,
        shards: o.shards,
        requestTimeoutMs: o.requestTimeoutMs,
        maxFrameBytes: o.maxFrameBytes,
        store: (entries) => storeSyncEntries(o.shards, entries, () => o.transport.penalise(peer.peerId)),
      },
      peer,
      id,
      at,
      range,
    );
    const actorId = `${SYNC_ACTOR_PREFIX}${peer.peerId.slice(0, 16)}:${id}`;
    const actor = createActor(this.machine, { id: actorId, input: { peerId: peer.peerId, at }, inspect: this.inspection.inspector(actorId, 'sync') });
    this.live.set(actorId, { actor, startedAt: o.now() });
    this.current = { peerId: peer.peerId, session: work };
    try {
      const done = toPromise(actor);
      actor.start();
      actor.send({ type: 'start' });
      const output = await done;
      // The traffic of the last request is counted before the phase that sent it resolves.
      const final = { ...output, ...work.traffic };
      this.counters.sessions[final.outcome]++;
      this.counters.entries.sent += work.entriesSent;
      this.counters.entries.received += work.entriesReceived;
      if (final.outcome === 'failed') o.log.warn('sync session failed', { peer: peer.peerId, error: final.error });
      return { output: final, compared: final.outcome === 'equal' || final.outcome === 'done' ? work.compared : null, entryBytes: work.entryBytes };
    } finally {
      this.current = null;
      this.live.delete(actorId);
    }
  }

  // ---- answering ----

  /** Answers one sync message of `from`. */
  async respond(from: PeerLink, m: SyncRequest): Promise<Uint8Array> {
    this.prune();
    return encodeResponse(m.op === 'begin' ? await this.begin(from, m) : await this.step(from, m));
  }

  private async begin(from: PeerLink, m: Extract<SyncRequest, { op: 'begin' }>): Promise<SyncResponse> {
    const o = this.opts;
    if (!o.enabled) throw new SignpostError('busy', 'sync is turned off on this node (sync_interval 0)');
    const ctx = o.ruleContext();
    if (Math.abs(m.at - ctx.now) > ctx.cfg.max_clock_skew) {
      throw new SignpostError('invalid_params', `sync at ${m.at}: this node's clock says ${ctx.now}, more than max_clock_skew ${ctx.cfg.max_clock_skew} apart`);
    }
    // A new begin from a neighbour ends its previous session.
    this.accepted.delete(from.peerId);
    if (this.accepted.size >= MAX_ACCEPTED) throw new SignpostError('busy', `this node already answers ${this.accepted.size} sync sessions`);
    const range = m.range.intersect(this.range());
    const intervals = range.intervals();
    const own = await o.shards.syncSummary(m.at, intervals);
    const asked = range.equals(m.range);
    if (asked && compareBytes(fingerprint(own), m.fingerprint) === 0) return { op: 'equal' };
    const session: Accepted = {
      peerId: from.peerId,
      session: m.session,
      at: m.at,
      range,
      symbolCap: symbolCap(m.count, own.count),
      symbolsServed: 0,
      requests: 0,
      lastActive: o.timers.now(),
    };
    this.accepted.set(from.peerId, session);
    const reply = { op: 'coded' as const, range: asked ? null : range, count: own.count, fingerprint: fingerprint(own), sketch: towBytes(own) };
    // A few differences: their symbols at once. More (or a narrower range, whose difference only the
    // initiator can estimate): the suffix table, from which the initiator picks listing or symbols.
    const estimate = estimateDifference({ count: m.count, tow: m.sketch }, { count: own.count, tow: towBytes(own, BEGIN_SKETCHES) });
    if (asked && estimate <= FEW_DIFFERENCES) {
      const n = Math.min(firstBatch(estimate, m.count - own.count), session.symbolCap, this.symbolsPerFrame);
      session.symbolsServed = n;
      return { ...reply, mode: 'symbols', symbols: await o.shards.syncSymbols(m.at, intervals, 0, n) };
    }
    const older = olderThanSuffixes(await o.shards.syncTimeBins(m.at, intervals));
    let previous = own.count;
    const table = older.map((part) => {
      const entry = { count: part.count, fingerprint: part.count > 0 && part.count !== previous ? fingerprint(part, TABLE_FINGERPRINT_BYTES) : null };
      previous = part.count;
      return entry;
    });
    return { ...reply, mode: 'suffixes', older: table };
  }

  private get symbolsPerFrame(): number {
    return Math.min(MAX_SYMBOLS_PER_MESSAGE, Math.floor((this.opts.maxFrameBytes - 128) / SYMBOL_BYTES));
  }

  private async step(from: PeerLink, m: Exclude<SyncRequest, { op: 'begin' }>): Promise<SyncResponse> {
    const o = this.opts;
    const s = this.accepted.get(from.peerId);
    if (!s || s.session !== m.session) throw new SignpostError('invalid_params', `sync: no session ${m.session} with ${from.peerId} (it ended, or timed out)`);
    s.lastActive = o.timers.now();
    if (++s.requests > MAX_REQUESTS) {
      this.accepted.delete(from.peerId);
      throw new SignpostError('invalid_params', `sync: session ${m.session} made more than ${MAX_REQUESTS} requests`);
    }
    const intervals = s.range.intervals();
    switch (m.op) {
      case 'symbols': {
        const to = Math.min(m.to, m.from + this.symbolsPerFrame);
        if (s.symbolsServed + (to - m.from) > s.symbolCap) {
          this.accepted.delete(from.peerId);
          throw new SignpostError('invalid_params', `sync: session ${m.session} asked for more than its ${s.symbolCap} symbols`);
        }
        s.symbolsServed += to - m.from;
        return { op: 'symbols', symbols: await o.shards.syncSymbols(s.at, intervals, m.from, to) };
      }
      case 'ids': {
        const limit = Math.min(MAX_LISTED, Math.floor((o.maxFrameBytes - 128) / ID_PREFIX_BYTES));
        const since = m.suffix === null ? null : suffixStart(s.at, m.suffix);
        const ids = await o.shards.syncIds(s.at, intervals, m.after, limit + 1, since);
        return { op: 'ids', more: ids.length > limit, ids: ids.slice(0, limit) };
      }
      case 'exchange': {
        const found = new Map<string, SyncEntry[]>();
        for (const f of await o.shards.syncEntries(m.want)) found.set(toKey(f.id), [...(found.get(toKey(f.id)) ?? []), f.entry]);
        const entries: SyncEntry[] = [];
        let served = 0;
        for (let bytes = 0; served < m.want.length; served++) {
          // Nothing when it is no longer held; every item when a prefix names more than one.
          const these = found.get(toKey(m.want[served])) ?? [];
          const size = these.reduce((n, e) => n + entryBytes(e), 0);
          if (entries.length > 0 && bytes + size > o.maxFrameBytes - 1024) break;
          entries.push(...these);
          bytes += size;
        }
        const inRange = m.push.filter((e) => s.range.has(bucketOf(resourceLocation(resourceOf(e))!)));
        const stored = inRange.length ? await storeSyncEntries(o.shards, inRange, () => o.transport.penalise(from.peerId)) : { stored: 0, rejected: 0 };
        if (m.last && served === m.want.length) this.accepted.delete(from.peerId);
        this.counters.entries.sent += entries.length;
        this.counters.entries.received += m.push.length;
        return { op: 'entries', served, stored: stored.stored, rejected: stored.rejected + (m.push.length - inRange.length), entries };
      }
    }
  }

  /** Ends answered sessions idle for too long. */
  private prune(): void {
    const now = this.opts.timers.now();
    for (const [peer, s] of this.accepted) if (now - s.lastActive > ACCEPTED_IDLE_MS) this.accepted.delete(peer);
  }

  // ---- actors ----

  actors(): ActorSummary[] {
    return [...this.live].map(([id, l]) => ({ id, kind: 'sync' as const, state: l.actor.getSnapshot().value, started_at: l.startedAt }));
  }

  actor(id: string): ActorDetail | null {
    const l = this.live.get(id);
    if (!l) return null;
    const s = l.actor.getSnapshot();
    return { id, kind: 'sync', state: s.value, context: s.context, machine: SESSION_MACHINE };
  }

  setInspecting(on: boolean): void {
    this.inspection.set(on, () => [...this.live].map(([id, l]) => [id, l.actor.getSnapshot().value]));
  }
}

/** A map key for an id named by its prefix. */
const toKey = (id: Uint8Array): string => toHex(id.subarray(0, ID_PREFIX_BYTES));
