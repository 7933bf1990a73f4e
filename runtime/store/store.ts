/**
 * The store of a node (DESIGN: runtime/store): keys, slots, the per-key job indices and small settings.
 * Two implementations behind this one interface: LMDB (lmdb-store.ts), what every real node runs on, and
 * memory (memory-store.ts), for unit tests and the simulator.
 */
import type { Entry, StoredKey } from '../../protocols/types.js';

/** The on-disk layout version this code reads and writes (meta `schema_version`). */
export const STORE_SCHEMA_VERSION = 2;

/** Everything this node holds for one resource. `entries` in any order. */
export interface ResourceSnapshot {
  keyId: string;
  stored: StoredKey | null;
  entries: Entry[];
  /** The persisted gc index time of this key (see StoreWrite setDue), or null. */
  gcAt: number | null;
}

/** One durable change. A `write()` call's changes commit atomically, in order. */
export type StoreWrite =
  | { op: 'putKey'; keyId: string; stored: StoredKey }
  /** Removes the key, all its entries and its index rows. */
  | { op: 'deleteKey'; keyId: string }
  | { op: 'putEntry'; keyId: string; issuedBy: string; peerId: string; entry: Entry }
  | { op: 'deleteEntry'; keyId: string; issuedBy: string; peerId: string }
  /**
   * The node-clock time at which a job has something to do for this key (null: nothing): `gc` for
   * clear_expired, `renew` for the renewal of this node's host records.
   */
  | { op: 'setDue'; index: DueIndex; keyId: string; at: number | null };

/** The per-key time indices: which keys a scheduled job must visit at a given time. */
export type DueIndex = 'gc' | 'renew';

export interface StoreStats {
  /** LMDB transactions committed in this environment since it was created (its last txn id). */
  commits: number;
  /** Bytes of the data file in use (pages up to the last used one). */
  bytes: number;
  entries: number;
}

export interface Store {
  /** Reads one resource (synchronous, consistent snapshot). */
  load(keyId: string): ResourceSnapshot;
  /** Group-committed write: resolves only once the commit holding it is durable on disk. */
  write(changes: StoreWrite[]): Promise<void>;
  /** Key ids held, sorted ascending (byte-wise), strictly greater than `after`, at most `limit`. */
  listKeyIds(after: string | null, limit: number): string[];
  /** Key ids never published or with published <= `publishedAtOrBefore`, sorted ascending. */
  staleKeyIds(publishedAtOrBefore: number): string[];
  /** Key ids whose `index` time is <= now, sorted ascending. */
  dueKeyIds(index: DueIndex, now: number): string[];
  stats(): StoreStats;
  /** Small durable settings (job last-run times, ...). */
  getMeta<T = unknown>(name: string): T | undefined;
  putMeta(name: string, value: unknown): Promise<void>;
  close(): Promise<void>;
}
