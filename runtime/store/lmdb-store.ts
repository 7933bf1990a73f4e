/**
 * Durable storage of keys and slots in LMDB (DESIGN: runtime/store).
 *
 * One lmdb root environment at `<dataDir>/db` with named sub-databases:
 *   keys     keyId → StoredKey
 *   entries  [keyId, issuedBy, peerId] → Entry
 *   stale    [published ?? -1, keyId] → true   (so staleKeyIds is a range scan)
 *   gc       [gcAt, keyId] → true              (so dueKeyIds('gc') is a range scan)
 *   gcAt     keyId → gcAt                      (to find a key's gc row again)
 *   renew    [renewAt, keyId] → true           (host records due for renewal, the same way)
 *   renewAt  keyId → renewAt
 *   meta     name → value (schema_version, job last-run times, ...)
 * Keys use lmdb's ordered-binary encoding, so strings (and string elements of array keys) sort
 * byte-wise by their UTF-8 bytes; values use lmdb's default msgpack encoding.
 *
 * Durability: the environment is opened with `overlappingSync: false` (lmdb-js enables it by default
 * on Linux/macOS). Without it, lmdb-js's write thread runs a plain LMDB commit, and LMDB's
 * mdb_txn_commit flushes the OS buffers (fsync) before returning unless the env has MDB_NOSYNC; lmdb-js
 * resolves a transaction's promise only after that commit returned (src/writer.cpp sets TXN_COMMITTED
 * after mdb_txn_commit). With overlappingSync the promise resolves when the commit is *visible*, and the
 * fsync happens later (lmdb-js README, "Overlapping Sync Options": "The write actions return a promise
 * for when they are committed"; only `db.flushed` / `separateFlushed` report durability), so an
 * acknowledged write could be lost on power failure. Group commit is lmdb-js's own: every transaction
 * queued in one event turn (and all queued while a commit is in flight) share one LMDB transaction.
 */
import { open, type Database, type RootDatabase } from 'lmdb';
import path from 'node:path';
import type { Entry, StoredKey } from '../../protocols/types.js';
import { compareUtf8 } from '../../protocols/encoding.js';
import { STORE_SCHEMA_VERSION, type DueIndex, type Store, type StoreWrite } from './store.js';

export interface StoreOptions {
  dataDir: string;
}

type IndexKey = [number, string];
type EntryKey = [string, string, string];

/** Sorts after every string or number as the last element of an array key (ordered-binary's MAXIMUM_KEY). */
const MAX = new Uint8Array([0xff]);
/** Stale index time of a never-published key. Node-clock times are >= 0, so it sorts before them all. */
const NEVER = -1;

/**
 * Opens (creating if needed) the store in `<dataDir>/db`.
 *
 * @example
 * const store = await openLmdbStore({ dataDir: './.signpost' });
 * await store.write([{ op: 'putKey', keyId, stored: { key, published: null } }]);
 * store.load(keyId).stored; // { key, published: null }
 */
export async function openLmdbStore(opts: StoreOptions): Promise<Store> {
  const dbPath = path.join(opts.dataDir, 'db');
  const root: RootDatabase = open({ path: dbPath, overlappingSync: false, maxDbs: 16 });
  const keys: Database<StoredKey, string> = root.openDB('keys', {});
  const entries: Database<Entry, EntryKey> = root.openDB('entries', {});
  const stale: Database<true, IndexKey> = root.openDB('stale', {});
  const due: { [I in DueIndex]: { rows: Database<true, IndexKey>; at: Database<number, string> } } = {
    gc: { rows: root.openDB('gc', {}), at: root.openDB('gcAt', {}) },
    renew: { rows: root.openDB('renew', {}), at: root.openDB('renewAt', {}) },
  };
  const meta: Database<unknown, string> = root.openDB('meta', {});

  const found = meta.get('schema_version');
  if (found === undefined) {
    await root.transaction(() => meta.putSync('schema_version', STORE_SCHEMA_VERSION));
  } else if (found !== STORE_SCHEMA_VERSION) {
    await root.close();
    throw new Error(
      `Data directory ${dbPath} was written by schema version ${String(found)}; this Signpost reads ` +
        `version ${STORE_SCHEMA_VERSION}. Use another --data-dir or an older/newer Signpost.`,
    );
  }

  const entryRange = (keyId: string) => ({ start: [keyId], end: [keyId, MAX] });

  function setDue(index: DueIndex, keyId: string, at: number | null): void {
    const { rows, at: atOf } = due[index];
    const old = atOf.get(keyId);
    if (old === at) return;
    if (old !== undefined) rows.removeSync([old, keyId]);
    if (at === null) {
      atOf.removeSync(keyId);
    } else {
      atOf.putSync(keyId, at);
      rows.putSync([at, keyId], true);
    }
  }

  /** Runs inside the write transaction: reads see this transaction's earlier changes. */
  function apply(c: StoreWrite): void {
    switch (c.op) {
      case 'putKey': {
        const old = keys.get(c.keyId);
        if (old) stale.removeSync([old.published ?? NEVER, c.keyId]);
        keys.putSync(c.keyId, c.stored);
        stale.putSync([c.stored.published ?? NEVER, c.keyId], true);
        break;
      }
      case 'deleteKey': {
        const old = keys.get(c.keyId);
        if (old) stale.removeSync([old.published ?? NEVER, c.keyId]);
        keys.removeSync(c.keyId);
        // Collect first: do not delete under a live cursor.
        for (const k of Array.from(entries.getKeys(entryRange(c.keyId)))) entries.removeSync(k);
        setDue('gc', c.keyId, null);
        setDue('renew', c.keyId, null);
        break;
      }
      case 'putEntry':
        entries.putSync([c.keyId, c.issuedBy, c.peerId], c.entry);
        break;
      case 'deleteEntry':
        entries.removeSync([c.keyId, c.issuedBy, c.peerId]);
        break;
      case 'setDue':
        setDue(c.index, c.keyId, c.at);
        break;
      default:
        throw new Error(`unknown store op ${(c as { op: unknown }).op}`);
    }
  }

  const pending = new Set<Promise<unknown>>();
  let closing: Promise<void> | null = null;

  /**
   * Queues `fn` into the next group commit. A child transaction (an LMDB nested txn) makes one call
   * atomic even if `fn` throws: its changes are rolled back and only its promise rejects, the other
   * calls sharing the commit are unaffected.
   */
  function transact(fn: () => void): Promise<void> {
    if (closing) return Promise.reject(new Error('store is closed'));
    const p = root.childTransaction(fn).then(() => undefined);
    pending.add(p);
    const forget = () => pending.delete(p);
    p.then(forget, forget);
    return p;
  }

  return {
    load(keyId) {
      // Synchronous reads in one turn share lmdb-js's read transaction: one snapshot.
      return {
        keyId,
        stored: keys.get(keyId) ?? null,
        entries: Array.from(entries.getRange(entryRange(keyId)), ({ value }) => value),
        gcAt: due.gc.at.get(keyId) ?? null,
      };
    },
    write(changes) {
      return transact(() => {
        for (const c of changes) apply(c);
      });
    },
    listKeyIds(after, limit) {
      const out: string[] = [];
      if (limit <= 0) return out;
      // `start` is inclusive: skip `after` itself.
      for (const k of keys.getKeys(after === null ? {} : { start: after })) {
        if (k === after) continue;
        out.push(k);
        if (out.length >= limit) break;
      }
      return out;
    },
    staleKeyIds(publishedAtOrBefore) {
      // Never-published keys are stale at any time, even for a threshold below zero.
      const end = [Math.max(publishedAtOrBefore, NEVER), MAX];
      return Array.from(stale.getKeys({ end }), ([, keyId]) => keyId).sort(compareUtf8);
    },
    dueKeyIds(index, now) {
      return Array.from(due[index].rows.getKeys({ end: [now, MAX] }), ([, keyId]) => keyId).sort(compareUtf8);
    },
    stats() {
      const s = root.getStats() as { lastTxnId: number; lastPageNumber: number; pageSize: number };
      return { commits: s.lastTxnId, bytes: (s.lastPageNumber + 1) * s.pageSize, entries: entries.getCount() };
    },
    getMeta<T>(name: string) {
      return meta.get(name) as T | undefined;
    },
    putMeta(name, value) {
      return transact(() => void meta.putSync(name, value));
    },
    close() {
      closing ??= Promise.allSettled([...pending]).then(() => root.close());
      return closing;
    },
  };
}
