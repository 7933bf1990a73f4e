/**
 * The LMDB store (runtime/store/lmdb-store.ts): the Store contract (test/helpers/store-contract.ts), then
 * what only a store on disk does: data and meta survive close and reopen, close() lets in-flight writes
 * reach the disk, a data directory of another schema version is refused, concurrent writes share commits.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { openLmdbStore } from '../../../runtime/store/lmdb-store.js';
import { STORE_SCHEMA_VERSION, type Store } from '../../../runtime/store/store.js';
import { storeContract, storedKey, tombstone } from '../../helpers/store-contract.js';

const dirs: string[] = [];
const stores: Store[] = [];

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signpost-store-'));
  dirs.push(dir);
  return dir;
}

async function fresh(dataDir = tmpDir()): Promise<Store> {
  const store = await openLmdbStore({ dataDir });
  stores.push(store);
  return store;
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

storeContract('lmdb', { open: () => fresh() });

describe('lmdb store on disk', () => {
  it('reports data-file bytes that grow with writes', async () => {
    const store = await fresh();
    const before = store.stats();
    expect(before.bytes).toBeGreaterThan(0);
    const ids = Array.from({ length: 2000 }, (_, n) => `key-${n}`);
    await store.write(ids.flatMap((id) => [
      { op: 'putKey' as const, keyId: id, stored: storedKey(id) },
      { op: 'putEntry' as const, keyId: id, issuedBy: 'i', peerId: 'p', entry: tombstone(id, 'i', 'p') },
    ]));
    expect(store.stats().bytes).toBeGreaterThan(before.bytes);
  });

  it('keeps data and meta across close and reopen', async () => {
    const dataDir = tmpDir();
    const store = await openLmdbStore({ dataDir });
    await store.write([
      { op: 'putKey', keyId: 'k', stored: storedKey('k', 5) },
      { op: 'putEntry', keyId: 'k', issuedBy: 'i', peerId: 'p', entry: tombstone('k', 'i', 'p') },
      { op: 'setDue', index: 'gc', keyId: 'k', at: 9 },
      { op: 'setDue', index: 'renew', keyId: 'k', at: 11 },
    ]);
    await store.putMeta('last_gc', { at: 123 });
    await store.close();

    const again = await fresh(dataDir);
    expect(again.load('k')).toEqual({
      keyId: 'k',
      stored: storedKey('k', 5),
      entries: [tombstone('k', 'i', 'p')],
      gcAt: 9,
    });
    // the indices are on disk too, not rebuilt in memory
    expect([again.staleKeyIds(5), again.dueKeyIds('gc', 9), again.dueKeyIds('renew', 11)]).toEqual([['k'], ['k'], ['k']]);
    expect(again.getMeta('last_gc')).toEqual({ at: 123 });
    expect(again.getMeta('schema_version')).toBe(STORE_SCHEMA_VERSION);
  });

  it('close() waits for writes still in flight', async () => {
    const dataDir = tmpDir();
    const store = await openLmdbStore({ dataDir });
    const writes = Array.from({ length: 50 }, (_, n) =>
      store.write([{ op: 'putKey', keyId: `k${n}`, stored: storedKey(`k${n}`) }]),
    );
    await store.close();
    await Promise.all(writes);
    const again = await fresh(dataDir);
    expect(again.listKeyIds(null, 100)).toHaveLength(50);
  });

  it('refuses a data directory of another schema version', async () => {
    const dataDir = tmpDir();
    await (await openLmdbStore({ dataDir })).close();
    const raw = open({ path: path.join(dataDir, 'db'), maxDbs: 16, overlappingSync: false });
    await raw.openDB('meta', {}).put('schema_version', STORE_SCHEMA_VERSION + 1);
    await raw.close();

    const dbPath = path.join(dataDir, 'db');
    await expect(openLmdbStore({ dataDir })).rejects.toThrow(
      `Data directory ${dbPath} was written by schema version ${STORE_SCHEMA_VERSION + 1}; ` +
        `this Signpost reads version ${STORE_SCHEMA_VERSION}.`,
    );
  });

  it('group-commits many concurrent writes into fewer commits', async () => {
    const dataDir = tmpDir();
    // LMDB's last transaction id counts commits; read it through a raw handle while the store is closed.
    const lastTxnId = async () => {
      const raw = open({ path: path.join(dataDir, 'db'), maxDbs: 16, overlappingSync: false });
      const id = (raw.getStats() as { lastTxnId: number }).lastTxnId;
      await raw.close();
      return id;
    };
    await (await openLmdbStore({ dataDir })).close();
    const before = await lastTxnId();

    const store = await openLmdbStore({ dataDir });
    const n = 2000;
    // Issued from several async "clients", some in the same turn, some after earlier acks.
    const client = async (c: number) => {
      for (let i = 0; i < n / 20; i++) {
        const id = `c${c}-${i}`;
        await store.write([
          { op: 'putKey', keyId: id, stored: storedKey(id) },
          { op: 'putEntry', keyId: id, issuedBy: 'i', peerId: 'p', entry: tombstone(id, 'i', 'p') },
        ]);
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, c) => client(c)));
    await store.close();

    const commits = (await lastTxnId()) - before;
    expect(commits).toBeGreaterThan(0);
    expect(commits).toBeLessThan(n / 5);
    const again = await fresh(dataDir);
    expect(again.listKeyIds(null, n + 1)).toHaveLength(n);
  });
});
