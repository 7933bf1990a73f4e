/**
 * The messages between the main thread and a shard worker. Requests and answers travel in batches on a
 * dedicated MessageChannel (one message per shard per tick: a worker message costs about 50 µs whatever
 * its size); control calls (jobs, actors, stats) go through comlink.
 */
import type { MessagePort } from 'node:worker_threads';
import type { ErrorData } from '../../protocols/errors.js';
import type { ClearCounts, KeyItem } from '../../protocols/registry.js';
import type { RuleConfig } from '../../protocols/types.js';
import type { ResourceRequest } from '../../actors/resource.js';
import type { ActorDetail, ActorEvent, ActorSummary } from '../inspect/actor-view.js';
import type { FoundItem, Intervals, RenewResult, ShardStats } from './shard.js';
import type { Summary } from '../../protocols/sync/summary.js';
import type { Symbols } from '../../protocols/sync/riblt.js';

/** A request that can cross a thread boundary (renewal carries the signer, so it starts in the worker). */
export type ShardRequest = Exclude<ResourceRequest, { type: 'renew' }>;

export interface ShardInit {
  index: number;
  count: number;
  dataDir: string;
  rules: RuleConfig;
  hostPeerId: string;
  /** The node's signing seed (renewal of host records happens in the shard that owns the resource). */
  seed: Uint8Array;
  passivateAfterMs: number;
  /** Node clock now; every later message carries the current value. */
  now: number;
  /** Whether inspection is on (set before the first request is read, so no event is lost). */
  inspecting: boolean;
  port: MessagePort;
}

export type ToShard = { t: 'req'; now: number; batch: { id: number; keyId: string; req: ShardRequest }[] };

export type Answer = { id: number; result: unknown } | { id: number; error: ErrorData };

/** `counts`: this worker's activation and passivation totals, so the main thread's counters survive a restart. */
export type FromShard = { t: 'ans'; batch: Answer[] } | { t: 'inspect'; events: ActorEvent[] } | { t: 'counts'; activations: number; passivations: number };

/** The comlink API of a shard worker. Every call that reads the clock takes the node's `now`. */
export interface ShardWorkerApi {
  init(init: ShardInit): Promise<void>;
  listItems(now: number, ids: string[]): KeyItem[];
  evictStale(now: number): KeyItem[];
  clearExpired(now: number): Promise<ClearCounts>;
  renew(now: number): Promise<RenewResult>;
  syncSummary(now: number, at: number, range: Intervals): Summary;
  /** A Symbols block's fields (the class does not survive structured clone). */
  syncSymbols(now: number, at: number, range: Intervals, from: number, to: number): Symbols;
  syncTimeBins(now: number, at: number, range: Intervals): Summary[];
  syncIds(now: number, at: number, range: Intervals, after: Uint8Array | null, limit: number, since: number | null): Uint8Array[];
  syncEntries(prefixes: Uint8Array[]): FoundItem[];
  actors(): ActorSummary[];
  /** null when the actor is not live here. */
  actor(id: string): ActorDetail | null;
  setInspecting(on: boolean): void;
  stats(): ShardStats;
  /** Test hook (debug.crash_worker): ends this worker by throwing from a timer or by exiting. */
  crash(how: 'throw' | 'exit'): void;
  close(): Promise<void>;
}

/** The shard (0..count−1) that owns a resource: by the first bytes of its location. */
export function shardOf(location: Uint8Array, count: number): number {
  return ((location[0] << 8) | location[1]) % count;
}
