/**
 * A shard of resource actors: the directory from resource id to live actor (a plain Map of root actors,
 * DESIGN "Known traps"), activation from LMDB on the first message, passivation when idle, and the
 * translation of an operation's changes into one group-committed store write.
 *
 * Reads of a passivated resource that change nothing (list_keys, evict_stale) use the stored state
 * directly with the same pure functions, so scanning every key does not wake every actor.
 */
import { createActor, type Actor } from 'xstate';
import { SignpostError, fromErrorData, type ErrorData } from '../protocols/errors.js';
import { keyItem, staleItem, stateFromEntries, type Changes, type ClearCounts, type KeyItem, type ResourceState, type RuleContext } from '../protocols/registry.js';
import { gcDueAt } from '../protocols/rules.js';
import { resourceMachine, runOp, type ResourceRequest } from '../actors/resource.js';
import { verifyStrictAsync } from '../protocols/crypto.js';
import { base64urlDecode, toHex } from '../protocols/encoding.js';
import { publicKeyOf } from '../protocols/identity.js';
import { strictVerifier, type SignatureVerifier } from '../protocols/signed.js';
import type { Store, StoreWrite } from './store.js';
import type { Entry } from '../protocols/types.js';

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
  /** Settles when the latest request has been handed to the actor (keeps arrival order). */
  turn: Promise<unknown>;
}

/** Requests that carry signatures to verify. */
const SIGNED_WRITES = new Set<ResourceRequest['type']>(['register_key', 'republish_key', 'put_record', 'add_tombstone', 'republish_records', 'republish_tombstones']);

function checkId(peerId: string, digest: Uint8Array, signature: string): string {
  return `${signature}|${peerId}|${toHex(digest)}`;
}

const ignore = (): void => undefined;

export interface ShardOptions {
  store: Store;
  ruleContext(): RuleContext;
  /** Wall-clock idle time before a resource actor is stopped (SPEC §10: monotonic time). */
  passivateAfterMs: number;
  /** Node clock, for `started_at` of actors. */
  now(): number;
  /** Verify signatures on the runtime's thread pool (protocols/crypto verifyStrictAsync) before the actor runs. */
  verifyOffThread?: boolean;
}

export interface ActorSummary {
  id: string;
  kind: 'resource';
  state: unknown;
  started_at: number;
}

export const RESOURCE_ACTOR_PREFIX = 'resource:';

export class ResourceShard {
  private readonly live = new Map<string, LiveActor>();
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  activations = 0;
  passivations = 0;

  constructor(private readonly opts: ShardOptions) {
    const every = Math.max(50, Math.min(opts.passivateAfterMs / 4, 10_000));
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref?.();
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
    live.lastUsed = performance.now();
    live.inflight++;
    // Signatures are checked off this thread while the actor serves other requests; requests still
    // reach the actor in arrival order.
    const verified = this.opts.verifyOffThread && SIGNED_WRITES.has(req.type) ? this.preverify(live, keyId, req) : undefined;
    const turn = verified ? live.turn.then(() => verified) : live.turn.then(() => undefined);
    live.turn = turn.then(ignore, ignore);
    return turn.then(
      (verify) =>
        new Promise<T>((resolve, reject) => {
          const earlierWrites = live.durable;
          live.actor.send({
            ...req,
            verify,
            reply: (a) =>
              void earlierWrites.then(() => {
                live.inflight--;
                if ('error' in a) reject(fromErrorData(a.error as ErrorData));
                else resolve(a.result as T);
              }),
          });
        }),
    );
  }

  /**
   * Dry-runs the request on the actor's current state with a verifier that only records which
   * signatures the operation checks (the cheap checks before them run first, as SPEC §3.5 orders),
   * verifies those on the thread pool in parallel, and returns a verifier that answers from the
   * results (checking on this thread anything the real run asks that the dry run did not).
   */
  private async preverify(live: LiveActor, keyId: string, req: ResourceRequest): Promise<SignatureVerifier | undefined> {
    const checks: { peerId: string; digest: Uint8Array; signature: string }[] = [];
    const record: SignatureVerifier = (peerId, digest, signature) => {
      checks.push({ peerId, digest, signature });
      return true;
    };
    try {
      runOp(live.actor.getSnapshot().context.state, req, this.opts.ruleContext(), keyId, record);
    } catch {
      // The real run reports the same failure, in order.
    }
    if (checks.length === 0) return undefined;
    const results = await Promise.all(
      checks.map((c) => {
        const pk = publicKeyOf(c.peerId);
        const sig = base64urlDecode(c.signature);
        return pk && sig ? verifyStrictAsync(pk, c.digest, sig) : false;
      }),
    );
    const known = new Map<string, boolean>();
    checks.forEach((c, i) => known.set(checkId(c.peerId, c.digest, c.signature), results[i]));
    return (peerId, digest, signature) => known.get(checkId(peerId, digest, signature)) ?? strictVerifier(peerId, digest, signature);
  }

  private activate(keyId: string): LiveActor {
    let entry = this.live.get(keyId);
    if (entry) return entry;
    const snap = this.opts.store.load(keyId);
    const state = stateFromEntries(snap.stored, snap.entries);
    const live: LiveActor = { actor: undefined as never, startedAt: this.opts.now(), lastUsed: performance.now(), pending: 0, durable: Promise.resolve(), inflight: 0, turn: Promise.resolve() };
    live.actor = createActor(resourceMachine, {
      id: RESOURCE_ACTOR_PREFIX + keyId,
      input: {
        keyId,
        state,
        caps: {
          ruleContext: this.opts.ruleContext,
          persist: (id, changes, next) => this.persist(live, id, changes, next),
        },
      },
    });
    live.actor.start();
    this.live.set(keyId, live);
    this.activations++;
    return live;
  }

  private async persist(live: LiveActor, keyId: string, changes: Changes, next: ResourceState): Promise<void> {
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
  sweep(now = performance.now()): number {
    let stopped = 0;
    for (const [keyId, live] of this.live) {
      if (live.pending > 0 || live.inflight > 0 || now - live.lastUsed < this.opts.passivateAfterMs) continue;
      live.actor.send({ type: 'passivate' });
      live.actor.stop();
      this.live.delete(keyId);
      this.passivations++;
      stopped++;
    }
    return stopped;
  }

  /** The state of a resource without waking its actor (live state when it is live). */
  private peek(keyId: string): ResourceState {
    const live = this.live.get(keyId);
    if (live) return live.actor.getSnapshot().context.state;
    const snap = this.opts.store.load(keyId);
    return stateFromEntries(snap.stored, snap.entries);
  }

  listKeys(after: string | null, limit: number): { items: KeyItem[]; last: string | null; more: boolean } {
    const ids = this.opts.store.listKeyIds(after, limit + 1);
    const more = ids.length > limit;
    const page = ids.slice(0, limit);
    const ctx = this.opts.ruleContext();
    const items = page.map((id) => keyItem(this.peek(id), ctx)).filter((x): x is KeyItem => x !== null);
    return { items, last: page.length ? page[page.length - 1] : null, more };
  }

  evictStale(): KeyItem[] {
    const ctx = this.opts.ruleContext();
    const ids = new Set(this.opts.store.staleKeyIds(ctx.now - ctx.cfg.stale_timeout));
    // A live actor may hold a key (or a newer publish time) that is still being committed.
    for (const [id, live] of this.live) if (live.pending > 0) ids.add(id);
    return [...ids]
      .sort()
      .map((id) => staleItem(this.peek(id), ctx))
      .filter((x): x is KeyItem => x !== null);
  }

  async clearExpired(): Promise<ClearCounts> {
    const ctx = this.opts.ruleContext();
    const ids = this.opts.store.gcDueKeyIds(ctx.now);
    const total: ClearCounts = { count_keys: 0, count_records: 0, count_tombstones: 0 };
    const counts = await Promise.all(ids.map((id) => this.request<ClearCounts>(id, { type: 'clear_expired' })));
    for (const c of counts) {
      total.count_keys += c.count_keys;
      total.count_records += c.count_records;
      total.count_tombstones += c.count_tombstones;
    }
    return total;
  }

  actors(): ActorSummary[] {
    return [...this.live.entries()].map(([keyId, live]) => ({
      id: RESOURCE_ACTOR_PREFIX + keyId,
      kind: 'resource' as const,
      state: live.actor.getSnapshot().value,
      started_at: live.startedAt,
    }));
  }

  actor(id: string): { id: string; kind: 'resource'; state: unknown; context: unknown; machine: unknown } {
    const keyId = id.startsWith(RESOURCE_ACTOR_PREFIX) ? id.slice(RESOURCE_ACTOR_PREFIX.length) : '';
    const live = this.live.get(keyId);
    if (!live) throw new SignpostError('actor_not_found', `No live actor ${JSON.stringify(id)}`);
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
      machine: resourceMachine.toJSON(),
    };
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
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
    const s = e.kind === 'record' ? e.record.metadata : e.tombstone;
    writes.push({ op: 'deleteEntry', keyId, issuedBy: s.issued_by, peerId: s.peer_id });
  }
  for (const e of changes.put) {
    const s = e.kind === 'record' ? e.record.metadata : e.tombstone;
    writes.push({ op: 'putEntry', keyId, issuedBy: s.issued_by, peerId: s.peer_id, entry: e });
  }
  writes.push({ op: 'setGcAt', keyId, gcAt: next.stored ? gcDueAt(next, ctx) : null });
  return writes;
}
