/**
 * A shard of resource actors: the directory from resource id to live actor (a plain Map of root actors,
 * DESIGN "Known traps"), activation from LMDB on the first message, passivation when idle, and the
 * translation of an operation's changes into one group-committed store write.
 *
 * Reads of a passivated resource that change nothing (list_keys, evict_stale) use the stored state
 * directly with the same pure functions, so scanning every key does not wake every actor.
 */
import { createActor, type Actor } from 'xstate';
import { fromErrorData, type ErrorData } from '../../protocols/errors.js';
import { keyItem, staleItem, stateFromEntries, sumClearCounts, type Changes, type ClearCounts, type KeyItem, type ResourceState, type RuleContext } from '../../protocols/registry.js';
import { entrySlot, gcDueAt, renewDueAt } from '../../protocols/rules.js';
import { resourceMachine, type ResourceRequest } from '../../actors/resource.js';
import type { SignatureVerifier } from '../../protocols/signed.js';
import type { Timers } from '../base/clock.js';
import type { Store, StoreWrite } from './store.js';
import type { Entry } from '../../protocols/types.js';
import { InspectionTracker, machineJson, type ActorDetail, type ActorEvent, type ActorSummary } from '../inspect/actor-view.js';
import { SyncIndex } from '../../protocols/sync/sync-index.js';
import { BucketSet } from '../../protocols/sync/range.js';
import type { Symbols } from '../../protocols/sync/riblt.js';
import type { Summary } from '../../protocols/sync/summary.js';
import type { SyncEntry } from '../../protocols/sync/messages.js';

/** A range as it crosses threads: `[start, end)` bucket intervals. */
export type Intervals = [number, number][];

/** An item found by its id prefix: its full id and its entry. */
export interface FoundItem {
  id: Uint8Array;
  entry: SyncEntry;
}

/** What one renew run did: keys visited, host records re-signed, and the keys that had any (to re-publish). */
export interface RenewResult {
  keys: number;
  renewed: number;
  key_ids: string[];
}

interface LiveActor {
  actor: Actor<typeof resourceMachine>;
  startedAt: number;
  lastUsed: number;
  /** Writes handed to the store and not yet durable: an actor is never passivated with any. */
  pending: number;
  /** Settles once every write handed to the store so far has committed (or failed). */
  durable: Promise<void>;
  /** Requests accepted and not yet answered: an actor is never passivated with any. */
  inflight: number;
}

const ignore = (): void => undefined;

export interface ShardOptions {
  store: Store;
  ruleContext(): RuleContext;
  /** Checks the signatures of writes (the node's Ed25519 backend). */
  verify: SignatureVerifier;
  /** The wall clock: passivation and its sweep. */
  timers: Timers;
  /** Wall-clock idle time before a resource actor is stopped (SPEC §10: monotonic time). */
  passivateAfterMs: number;
  /** Signs a digest with the node's key (renewal of host records). */
  sign(digest: Uint8Array): Uint8Array;
  /** Whether this shard owns a resource (a node with several shards partitions them by location). */
  owns?(keyId: string): boolean;
  /** Receives the inspection events of this shard's actors while inspection is on. */
  onInspect?(event: ActorEvent): void;
  /** Told when `activations` or `passivations` grew. */
  onCounts?(): void;
}

export const RESOURCE_ACTOR_PREFIX = 'resource:';
const RESOURCE_MACHINE = machineJson(resourceMachine);

export interface ShardStats {
  live: number;
  activations: number;
  passivations: number;
}

/**
 * The resource actors of one thread. `request` is the hot path; the job entry points (`evictStale`,
 * `clearExpired`, `renew`) visit only the resources this shard owns, found through the store's indices.
 */
export class ResourceShard {
  private readonly live = new Map<string, LiveActor>();
  private sweepTimer: unknown = null;
  private readonly owns: (keyId: string) => boolean;
  private readonly inspection: InspectionTracker | null;
  /** What sync compares, built on the first sync query and kept up to date by every write after it. */
  private syncIndex: SyncIndex | null = null;
  activations = 0;
  passivations = 0;

  constructor(private readonly opts: ShardOptions) {
    this.owns = opts.owns ?? (() => true);
    this.inspection = opts.onInspect ? new InspectionTracker(() => opts.ruleContext().now, opts.onInspect) : null;
    const every = Math.max(50, Math.min(opts.passivateAfterMs / 4, 10_000));
    const sweep = () => {
      this.sweep();
      this.sweepTimer = opts.timers.setTimeout(sweep, every);
    };
    this.sweepTimer = opts.timers.setTimeout(sweep, every);
  }

  /**
   * Sends one request to the resource's actor (activating it) and resolves with its answer.
   *
   * An answer never runs ahead of durability: the actor answers a request that changes nothing (an
   * identical write, a read) at once, from a state that may hold an earlier write still being committed,
   * so the answer waits for every write handed to the store before this request. Otherwise an identical
   * write could be acknowledged and then lost to a crash (SPEC §4.5).
   */
  request<T = unknown>(keyId: string, req: ResourceRequest): Promise<T> {
    const live = this.activate(keyId);
    live.lastUsed = this.opts.timers.now();
    live.inflight++;
    return new Promise<T>((resolve, reject) => {
      const earlierWrites = live.durable;
      live.actor.send({
        ...req,
        reply: (a) =>
          void earlierWrites.then(() => {
            live.inflight--;
            if ('error' in a) reject(fromErrorData(a.error as ErrorData));
            else resolve(a.result as T);
          }),
      });
    });
  }

  private activate(keyId: string): LiveActor {
    let entry = this.live.get(keyId);
    if (entry) return entry;
    const snap = this.opts.store.load(keyId);
    const state = stateFromEntries(snap.stored, snap.entries);
    // The actor's `persist` is called only after activation, once `live` is set.
    let live!: LiveActor;
    const actor = createActor(resourceMachine, {
      id: RESOURCE_ACTOR_PREFIX + keyId,
      input: {
        keyId,
        state,
        caps: {
          ruleContext: this.opts.ruleContext,
          verify: this.opts.verify,
          persist: (id, changes, next) => this.persist(live, id, changes, next),
        },
      },
      inspect: this.inspection?.inspector(RESOURCE_ACTOR_PREFIX + keyId, 'resource'),
    });
    live = { actor, startedAt: this.opts.ruleContext().now, lastUsed: this.opts.timers.now(), pending: 0, durable: Promise.resolve(), inflight: 0 };
    actor.start();
    this.live.set(keyId, live);
    this.activations++;
    this.opts.onCounts?.();
    return live;
  }

  /** Turns inspection on or off; while off, an actor's inspection costs one flag check. */
  setInspecting(on: boolean): void {
    this.inspection?.set(on, () => [...this.live].map(([keyId, l]) => [RESOURCE_ACTOR_PREFIX + keyId, l.actor.getSnapshot().value]));
  }

  private async persist(live: LiveActor, keyId: string, changes: Changes, next: ResourceState): Promise<void> {
    this.syncIndex?.update(keyId, next);
    live.pending++;
    const write = this.opts.store.write(toStoreWrites(keyId, changes, next, this.opts.ruleContext()));
    live.durable = Promise.all([live.durable, write.then(ignore, ignore)]).then(ignore);
    try {
      await write;
    } finally {
      live.pending--;
    }
  }

  /** Stops actors idle for longer than `passivateAfterMs` with no write in flight. */
  sweep(now = this.opts.timers.now()): number {
    let stopped = 0;
    for (const [keyId, live] of this.live) {
      if (live.pending > 0 || live.inflight > 0 || now - live.lastUsed < this.opts.passivateAfterMs) continue;
      live.actor.send({ type: 'passivate' });
      live.actor.stop();
      this.live.delete(keyId);
      this.passivations++;
      stopped++;
    }
    if (stopped > 0) this.opts.onCounts?.();
    return stopped;
  }

  /** The state of a resource without waking its actor (live state when it is live). */
  private peek(keyId: string): ResourceState {
    const live = this.live.get(keyId);
    if (live) return live.actor.getSnapshot().context.state;
    const snap = this.opts.store.load(keyId);
    return stateFromEntries(snap.stored, snap.entries);
  }

  /** `list_keys` items of the given ids (this shard's live state where an actor is live). */
  listItems(ids: readonly string[]): KeyItem[] {
    const ctx = this.opts.ruleContext();
    return ids.map((id) => keyItem(this.peek(id), ctx)).filter((x): x is KeyItem => x !== null);
  }

  /** `evict_stale`'s items of the keys this shard owns, sorted by key id. */
  evictStale(): KeyItem[] {
    const ctx = this.opts.ruleContext();
    const ids = new Set(this.opts.store.staleKeyIds(ctx.now - ctx.cfg.stale_timeout).filter(this.owns));
    // A live actor may hold a key (or a newer publish time) that is still being committed.
    for (const [id, live] of this.live) if (live.pending > 0) ids.add(id);
    return [...ids]
      .sort()
      .map((id) => staleItem(this.peek(id), ctx))
      .filter((x): x is KeyItem => x !== null);
  }

  /** `clear_expired` over the keys this shard owns whose gc time has come. */
  async clearExpired(): Promise<ClearCounts> {
    const ids = this.opts.store.dueKeyIds('gc', this.opts.ruleContext().now).filter(this.owns);
    return sumClearCounts(await Promise.all(ids.map((id) => this.request<ClearCounts>(id, { type: 'clear_expired' }))));
  }

  /** Renews this node's due host records in the keys this shard owns (SPEC §5 renew). */
  async renew(): Promise<RenewResult> {
    const ids = this.opts.store.dueKeyIds('renew', this.opts.ruleContext().now).filter(this.owns);
    const sign = this.opts.sign;
    const results = await Promise.all(ids.map((id) => this.request<{ renewed: number }>(id, { type: 'renew', sign })));
    return { keys: ids.length, renewed: results.reduce((n, r) => n + r.renewed, 0), key_ids: ids.filter((_, i) => results[i].renewed > 0) };
  }

  // ---- sync (protocols/sync): every query first moves the index's horizon to `at` ----

  /**
   * The index, built from every resource this shard owns (a live actor's state where one is live, so a
   * write not yet committed is in it too). Built synchronously: no write can slip in between.
   */
  private index(at: number): SyncIndex {
    let index = this.syncIndex;
    if (!index) {
      index = new SyncIndex(this.opts.ruleContext().cfg);
      const ids = new Set(this.live.keys());
      for (let page = this.opts.store.listKeyIds(null, 1000); page.length > 0; page = this.opts.store.listKeyIds(page[page.length - 1], 1000)) {
        for (const id of page) ids.add(id);
      }
      for (const id of ids) if (this.owns(id)) index.update(id, this.peek(id));
      this.syncIndex = index;
    }
    index.advance(at);
    return index;
  }

  syncSummary(at: number, range: Intervals): Summary {
    return this.index(at).summary(BucketSet.fromIntervals(range));
  }

  syncSymbols(at: number, range: Intervals, from: number, to: number): Symbols {
    return this.index(at).symbols(BucketSet.fromIntervals(range), from, to);
  }

  syncTimeBins(at: number, range: Intervals): Summary[] {
    return this.index(at).timeBins(BucketSet.fromIntervals(range), at);
  }

  syncIds(at: number, range: Intervals, after: Uint8Array | null, limit: number, since: number | null): Uint8Array[] {
    return this.index(at).ids(BucketSet.fromIntervals(range), after, limit, since);
  }

  /** The entries of the items whose ids start with `prefixes`, where this shard holds them. */
  syncEntries(prefixes: Uint8Array[]): FoundItem[] {
    const index = this.syncIndex;
    if (!index) return [];
    const out: FoundItem[] = [];
    for (const place of prefixes.flatMap((p) => index.locate(p))) {
      const state = this.peek(place.keyId);
      if (!state.stored) continue;
      if (place.slot === null) {
        out.push({ id: place.id, entry: { kind: 'key', key: state.stored.key } });
        continue;
      }
      const e = state.entries.get(place.slot);
      if (e) out.push({ id: place.id, entry: e.kind === 'record' ? { kind: 'record', record: e.record } : { kind: 'tombstone', tombstone: e.tombstone } });
    }
    return out;
  }

  actors(): ActorSummary[] {
    return [...this.live.entries()].map(([keyId, live]) => ({
      id: RESOURCE_ACTOR_PREFIX + keyId,
      kind: 'resource' as const,
      state: live.actor.getSnapshot().value,
      started_at: live.startedAt,
    }));
  }

  /** null when the actor is not live here. */
  actor(id: string): ActorDetail | null {
    const keyId = id.startsWith(RESOURCE_ACTOR_PREFIX) ? id.slice(RESOURCE_ACTOR_PREFIX.length) : '';
    const live = this.live.get(keyId);
    if (!live) return null;
    const snap = live.actor.getSnapshot();
    const { state, handled } = snap.context;
    return {
      id,
      kind: 'resource',
      state: snap.value,
      context: {
        key_id: keyId,
        key: state.stored?.key ?? null,
        published: state.stored?.published ?? null,
        entries: [...state.entries.values()].map(describeEntry),
        handled,
        pending_writes: live.pending,
      },
      machine: RESOURCE_MACHINE,
    };
  }

  stats(): ShardStats {
    return { live: this.live.size, activations: this.activations, passivations: this.passivations };
  }

  async close(): Promise<void> {
    this.opts.timers.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    await Promise.all([...this.live.values()].map((l) => l.durable));
    for (const live of this.live.values()) live.actor.stop();
    this.live.clear();
  }
}

function describeEntry(e: Entry): unknown {
  return e.kind === 'record' ? { kind: 'record', digest: e.digest, record: e.record } : { kind: 'tombstone', digest: e.digest, tombstone: e.tombstone };
}

/** One operation's changes as one atomic store write, with the key's gc index kept in step. */
export function toStoreWrites(keyId: string, changes: Changes, next: ResourceState, ctx: RuleContext): StoreWrite[] {
  if (changes.key === null) return [{ op: 'deleteKey', keyId }];
  const writes: StoreWrite[] = [];
  if (changes.key) writes.push({ op: 'putKey', keyId, stored: changes.key });
  for (const e of changes.deleted) {
    const s = entrySlot(e);
    writes.push({ op: 'deleteEntry', keyId, issuedBy: s.issued_by, peerId: s.peer_id });
  }
  for (const e of changes.put) {
    const s = entrySlot(e);
    writes.push({ op: 'putEntry', keyId, issuedBy: s.issued_by, peerId: s.peer_id, entry: e });
  }
  writes.push({ op: 'setDue', index: 'gc', keyId, at: next.stored ? gcDueAt(next, ctx) : null });
  writes.push({ op: 'setDue', index: 'renew', keyId, at: next.stored ? renewDueAt(next, ctx) : null });
  return writes;
}
