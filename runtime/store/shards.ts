/**
 * The node's resource actors, in the main thread (`workers = 0`) or across W worker threads partitioned
 * by resource location (DESIGN principle 3). The main thread owns sockets and routing; a worker owns the
 * actors of its resources. Requests to a worker are batched per tick; answers come back batched too.
 *
 * A worker that dies is restarted at once: the requests it had not answered fail with `internal_error`
 * (`data.retry = true`), never hang; its actors are activated again from LMDB on their next request. An
 * acknowledged write is already durable, so nothing acknowledged is lost.
 */
import { wrap, transfer, releaseProxy, type Remote } from 'comlink';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { setImmediate } from 'node:timers';
import { SignpostError, fromErrorData } from '../../protocols/errors.js';
import type { Identity } from '../../protocols/identity.js';
import type { SignatureVerifier } from '../../protocols/signed.js';
import type { Timers } from '../base/clock.js';
import { resourceIdBytes } from '../../protocols/objects.js';
import { compareBytes, compareUtf8 } from '../../protocols/encoding.js';
import { sumClearCounts, type ClearCounts, type KeyItem, type RuleContext } from '../../protocols/registry.js';
import { RESOURCE_ACTOR_PREFIX, ResourceShard, type FoundItem, type Intervals, type RenewResult, type ShardStats } from './shard.js';
import { mergeSummary, emptySummary, type Summary } from '../../protocols/sync/summary.js';
import { Symbols } from '../../protocols/sync/riblt.js';
import { startWorker, type WorkerHandle } from './worker-host.js';
import { shardOf, type FromShard, type ShardRequest, type ShardWorkerApi, type ToShard } from './shard-protocol.js';
import type { Store } from './store.js';
import type { ActorDetail, ActorEvent, ActorSource, ActorSummary } from '../inspect/actor-view.js';
import type { Logger } from '../base/log.js';

export interface ShardsStats extends ShardStats {
  /** Requests sent to each worker and not yet answered (one entry for the main thread when W = 0). */
  queueDepth: number[];
  restarts: number;
}

/** What the rest of the node sees of its resource actors, wherever they run. */
export interface Shards extends ActorSource {
  /** Worker threads (0: the main thread). */
  readonly workers: number;
  request<T = unknown>(keyId: string, req: ShardRequest): Promise<T>;
  /** `list_keys` items of `ids` (in that order), from the live state where an actor is live. */
  listItems(ids: string[]): Promise<KeyItem[]>;
  evictStale(): Promise<KeyItem[]>;
  clearExpired(): Promise<ClearCounts>;
  renew(): Promise<RenewResult>;
  /** Sync (protocols/sync): the summary of `range` as it was live at node-clock `at`. */
  syncSummary(at: number, range: Intervals): Promise<Summary>;
  /** Coded symbols `from..to−1` of `range`. */
  syncSymbols(at: number, range: Intervals, from: number, to: number): Promise<Symbols>;
  /** The summaries of `range` cut by time (protocols/sync/summary.ts suffixes). */
  syncTimeBins(at: number, range: Intervals): Promise<Summary[]>;
  /** The ids of `range` written at or after `since` (null: all), sorted, greater than `after`, at most `limit`. */
  syncIds(at: number, range: Intervals, after: Uint8Array | null, limit: number, since: number | null): Promise<Uint8Array[]>;
  /** The entries of the items whose ids start with `prefixes` (those held). */
  syncEntries(prefixes: Uint8Array[]): Promise<FoundItem[]>;
  actors(): Promise<ActorSummary[]>;
  actor(id: string): Promise<ActorDetail | null>;
  stats(): Promise<ShardsStats>;
  /** Test hook: ends worker `index` (throwing or exiting). */
  crashWorker(index: number, how: 'throw' | 'exit'): Promise<void>;
  close(): Promise<void>;
}

export interface ShardsOptions {
  workers: number;
  store: Store;
  /** The LMDB data directory each worker opens (workers need the LMDB store); null with the memory store. */
  dataDir: string | null;
  ruleContext(): RuleContext;
  /** The node's identity: it signs renewed host records (a worker rebuilds it from the seed). */
  identity: Identity;
  /** Checks signatures in the main thread (W = 0); a worker uses `node:crypto`'s. */
  verify: SignatureVerifier;
  timers: Timers;
  passivateAfterMs: number;
  /** A write for `keyId` succeeded (from a client, a peer or a job): subscriptions refresh. */
  onWritten?(keyId: string): void;
  onInspect(event: ActorEvent): void;
  /** A worker was restarted: the actors it held are gone (inspection clients need a new snapshot). */
  onRestart?(): void;
  log: Logger;
}

export async function startShards(opts: ShardsOptions): Promise<Shards> {
  if (opts.workers === 0) return new LocalShards(opts);
  if (opts.dataDir === null) throw new Error('worker threads open the LMDB store: workers > 0 needs a data directory');
  return WorkerShards.start(opts, opts.dataDir);
}

/** Requests that change nothing: they tell no subscription. */
const READS = new Set<ShardRequest['type']>(['get_key_metadata', 'get_records', 'get_tombstones', 'list_item', 'evict_stale']);

/** Tells `onWritten` of a write that succeeded. */
function noteWrite<T>(p: Promise<T>, keyId: string, req: ShardRequest, onWritten: ((keyId: string) => void) | undefined): Promise<T> {
  if (!onWritten || READS.has(req.type)) return p;
  return p.then((r) => (onWritten(keyId), r));
}

const byKeyId = (a: KeyItem, b: KeyItem): number => compareUtf8(a.key.id, b.key.id);

/** W = 0: one shard in the main thread. */
class LocalShards implements Shards {
  readonly workers = 0;
  readonly prefix = RESOURCE_ACTOR_PREFIX;
  private readonly shard: ResourceShard;
  private inflight = 0;

  constructor(private readonly opts: ShardsOptions) {
    this.shard = new ResourceShard({
      store: opts.store,
      ruleContext: opts.ruleContext,
      verify: opts.verify,
      timers: opts.timers,
      passivateAfterMs: opts.passivateAfterMs,
      sign: opts.identity.sign,
      onInspect: opts.onInspect,
    });
  }

  request<T>(keyId: string, req: ShardRequest): Promise<T> {
    this.inflight++;
    const done = () => void this.inflight--;
    const p = this.shard.request<T>(keyId, req);
    p.then(done, done);
    return noteWrite(p, keyId, req, this.opts.onWritten);
  }
  async listItems(ids: string[]) {
    return this.shard.listItems(ids);
  }
  async evictStale() {
    return this.shard.evictStale();
  }
  clearExpired() {
    return this.shard.clearExpired();
  }
  renew() {
    return this.shard.renew();
  }
  async syncSummary(at: number, range: Intervals) {
    return this.shard.syncSummary(at, range);
  }
  async syncSymbols(at: number, range: Intervals, from: number, to: number) {
    return this.shard.syncSymbols(at, range, from, to);
  }
  async syncTimeBins(at: number, range: Intervals) {
    return this.shard.syncTimeBins(at, range);
  }
  async syncIds(at: number, range: Intervals, after: Uint8Array | null, limit: number, since: number | null) {
    return this.shard.syncIds(at, range, after, limit, since);
  }
  async syncEntries(prefixes: Uint8Array[]) {
    return this.shard.syncEntries(prefixes);
  }
  async actors() {
    return this.shard.actors();
  }
  async actor(id: string) {
    return this.shard.actor(id);
  }
  setInspecting(on: boolean) {
    this.shard.setInspecting(on);
  }
  async stats() {
    return { ...this.shard.stats(), queueDepth: [this.inflight], restarts: 0 };
  }
  async crashWorker(): Promise<void> {
    throw new SignpostError('invalid_params', 'this node runs its actors in the main thread (workers = 0): there is no worker to crash');
  }
  close() {
    return this.shard.close();
  }
}

interface Waiter {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** One worker thread and what the main thread knows of it. */
interface Slot {
  index: number;
  handle: WorkerHandle;
  api: Remote<ShardWorkerApi>;
  port: MessagePort;
  waiting: Map<number, Waiter>;
  outbox: ToShard['batch'];
  /** Rejects when this worker ends: control calls race it so none hangs on a dead worker. */
  ended: Promise<never>;
  /** This worker's activation and passivation totals as it last reported them. */
  counts: { activations: number; passivations: number };
}

class WorkerShards implements Shards {
  readonly prefix = RESOURCE_ACTOR_PREFIX;
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closing = false;
  private restarts = 0;
  private inspecting = false;
  /** Totals of the workers that ended, so the counters never go backwards. */
  private readonly retired = { activations: 0, passivations: 0 };

  private constructor(
    private readonly opts: ShardsOptions,
    private readonly dataDir: string,
  ) {}

  get workers(): number {
    return this.opts.workers;
  }

  static async start(opts: ShardsOptions, dataDir: string): Promise<WorkerShards> {
    const shards = new WorkerShards(opts, dataDir);
    await Promise.all(Array.from({ length: opts.workers }, (_, i) => shards.spawn(i)));
    return shards;
  }

  private async spawn(index: number): Promise<void> {
    const handle = startWorker(new URL('./shard-worker.js', import.meta.url), `signpost-shard-${index}`);
    const api = wrap<ShardWorkerApi>(handle.endpoint);
    const { port1, port2 } = new MessageChannel();
    let endedReject!: (e: Error) => void;
    const ended = new Promise<never>((_, reject) => (endedReject = reject));
    ended.catch(() => undefined);
    const slot: Slot = { index, handle, api, port: port1, waiting: new Map(), outbox: [], ended, counts: { activations: 0, passivations: 0 } };
    this.slots[index] = slot;
    port1.on('message', (m: FromShard) => this.received(slot, m));
    handle.onExit((code, error) => {
      const why = error ? `threw: ${error.message}` : `exited with code ${code}`;
      endedReject(new SignpostError('internal_error', `shard worker ${index} ${why}`, { retry: true }));
      this.ended(slot, why);
    });
    const ctx = this.opts.ruleContext();
    await Promise.race([
      api.init(
        transfer(
          {
            index,
            count: this.opts.workers,
            dataDir: this.dataDir,
            rules: ctx.cfg,
            hostPeerId: ctx.hostPeerId,
            seed: this.opts.identity.seed,
            passivateAfterMs: this.opts.passivateAfterMs,
            now: ctx.now,
            inspecting: this.inspecting,
            port: port2,
          },
          [port2 as unknown as Transferable],
        ),
      ),
      ended,
    ]);
  }

  /** Fails what the dead worker had not answered and starts its successor. */
  private ended(slot: Slot, why: string): void {
    slot.port.close();
    slot.api[releaseProxy]();
    this.retired.activations += slot.counts.activations;
    this.retired.passivations += slot.counts.passivations;
    const lost = [...slot.waiting.values()];
    slot.waiting.clear();
    for (const w of lost) {
      w.reject(new SignpostError('internal_error', `shard worker ${slot.index} ${why} before answering; it is restarted and the resource is reloaded from storage: retry the request`, { retry: true }));
    }
    if (this.closing) return;
    this.restarts++;
    this.opts.log.error('shard worker ended; restarting it', { worker: slot.index, why, failed_requests: lost.length });
    this.spawn(slot.index).then(
      () => this.opts.onRestart?.(),
      (e) => this.opts.log.error('shard worker restart failed', { worker: slot.index, error: String(e) }),
    );
  }

  private received(slot: Slot, m: FromShard): void {
    if (m.t === 'inspect') {
      for (const e of m.events) this.opts.onInspect(e);
      return;
    }
    if (m.t === 'counts') {
      slot.counts = { activations: m.activations, passivations: m.passivations };
      return;
    }
    for (const a of m.batch) {
      const w = slot.waiting.get(a.id);
      if (!w) continue;
      slot.waiting.delete(a.id);
      if ('error' in a) w.reject(fromErrorData(a.error));
      else w.resolve(a.result);
    }
  }

  private slotOf(keyId: string): Slot {
    const location = resourceIdBytes(keyId);
    if (!location) throw new SignpostError('invalid_params', `${JSON.stringify(keyId)} is not a resource id`);
    return this.slots[shardOf(location, this.opts.workers)];
  }

  request<T>(keyId: string, req: ShardRequest): Promise<T> {
    const slot = this.slotOf(keyId);
    const id = this.nextId++;
    const p = new Promise<T>((resolve, reject) => {
      slot.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      if (slot.outbox.push({ id, keyId, req }) > 1) return;
      setImmediate(() => this.flush(slot));
    });
    return noteWrite(p, keyId, req, this.opts.onWritten);
  }

  /** Sends a worker its batch (a worker that ended meanwhile has already failed its requests). */
  private flush(slot: Slot): void {
    if (this.slots[slot.index] !== slot) return;
    const batch = slot.outbox;
    slot.outbox = [];
    const now = this.opts.ruleContext().now;
    try {
      slot.port.postMessage({ t: 'req', now, batch } satisfies ToShard);
    } catch {
      // Some request cannot be copied to another thread (e.g. params nested too deeply for structured
      // clone): send the others, fail that one.
      for (const item of batch) {
        try {
          slot.port.postMessage({ t: 'req', now, batch: [item] } satisfies ToShard);
        } catch (e) {
          slot.waiting.get(item.id)?.reject(new SignpostError('invalid_params', `params cannot be handed to a shard: ${e instanceof Error ? e.message : String(e)}`));
          slot.waiting.delete(item.id);
        }
      }
    }
  }

  /** A control call on every worker, failing (not hanging) if a worker ends meanwhile. */
  private all<T>(call: (api: Remote<ShardWorkerApi>) => Promise<T>): Promise<T[]> {
    return Promise.all(this.slots.map((s) => Promise.race([call(s.api), s.ended])));
  }

  async listItems(ids: string[]): Promise<KeyItem[]> {
    const now = this.opts.ruleContext().now;
    const groups = new Map<Slot, string[]>();
    for (const id of ids) {
      const slot = this.slotOf(id);
      const group = groups.get(slot);
      if (group) group.push(id);
      else groups.set(slot, [id]);
    }
    const parts = await Promise.all([...groups].map(([slot, list]) => Promise.race([slot.api.listItems(now, list), slot.ended])));
    return parts.flat().sort(byKeyId);
  }

  async evictStale(): Promise<KeyItem[]> {
    const now = this.opts.ruleContext().now;
    return (await this.all((api) => api.evictStale(now))).flat().sort(byKeyId);
  }

  async clearExpired(): Promise<ClearCounts> {
    const now = this.opts.ruleContext().now;
    return sumClearCounts(await this.all((api) => api.clearExpired(now)));
  }

  async renew(): Promise<RenewResult> {
    const now = this.opts.ruleContext().now;
    const parts = await this.all((api) => api.renew(now));
    return { keys: parts.reduce((n, p) => n + p.keys, 0), renewed: parts.reduce((n, p) => n + p.renewed, 0), key_ids: parts.flatMap((p) => p.key_ids) };
  }

  async syncSummary(at: number, range: Intervals): Promise<Summary> {
    const now = this.opts.ruleContext().now;
    const total = emptySummary();
    for (const part of await this.all((api) => api.syncSummary(now, at, range))) mergeSummary(total, part);
    return total;
  }

  async syncSymbols(at: number, range: Intervals, from: number, to: number): Promise<Symbols> {
    const now = this.opts.ruleContext().now;
    const total = new Symbols(from, to);
    for (const part of await this.all((api) => api.syncSymbols(now, at, range, from, to))) total.merge(Symbols.restore(part));
    return total;
  }

  async syncTimeBins(at: number, range: Intervals): Promise<Summary[]> {
    const now = this.opts.ruleContext().now;
    const parts = await this.all((api) => api.syncTimeBins(now, at, range));
    return parts.reduce((total, bins) => (bins.forEach((b, j) => mergeSummary(total[j], b)), total), parts[0].map(() => emptySummary()));
  }

  async syncIds(at: number, range: Intervals, after: Uint8Array | null, limit: number, since: number | null): Promise<Uint8Array[]> {
    const now = this.opts.ruleContext().now;
    const parts = await this.all((api) => api.syncIds(now, at, range, after, limit, since));
    return parts.flat().sort(compareBytes).slice(0, limit);
  }

  async syncEntries(prefixes: Uint8Array[]): Promise<FoundItem[]> {
    return (await this.all((api) => api.syncEntries(prefixes))).flat();
  }

  async actors(): Promise<ActorSummary[]> {
    return (await this.all((api) => api.actors())).flat();
  }

  async actor(id: string): Promise<ActorDetail | null> {
    const keyId = id.slice(RESOURCE_ACTOR_PREFIX.length);
    if (!id.startsWith(RESOURCE_ACTOR_PREFIX) || !resourceIdBytes(keyId)) return null;
    const slot = this.slotOf(keyId);
    return Promise.race([slot.api.actor(id), slot.ended]);
  }

  setInspecting(on: boolean): void {
    this.inspecting = on;
    for (const s of this.slots) void Promise.race([s.api.setInspecting(on), s.ended]).catch(() => undefined);
  }

  async stats(): Promise<ShardsStats> {
    const parts = await this.all((api) => api.stats());
    return {
      live: parts.reduce((n, p) => n + p.live, 0),
      activations: this.retired.activations + parts.reduce((n, p) => n + p.activations, 0),
      passivations: this.retired.passivations + parts.reduce((n, p) => n + p.passivations, 0),
      queueDepth: this.slots.map((s) => s.waiting.size),
      restarts: this.restarts,
    };
  }

  async crashWorker(index: number, how: 'throw' | 'exit'): Promise<void> {
    const slot = this.slots[index];
    if (!slot) throw new SignpostError('invalid_params', `worker must be 0..${this.opts.workers - 1}, got ${index}`);
    void slot.api.crash(how).catch(() => undefined);
    await slot.ended.catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.slots.map(async (s) => {
        await Promise.race([s.api.close(), s.ended]).catch(() => undefined);
        await s.handle.terminate();
      }),
    );
  }
}
