import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import type { Entry, StoredKey } from '../../../protocols/types.js';
import { openLmdbStore } from '../../../runtime/store/lmdb-store.js';
import { STORE_SCHEMA_VERSION, type Store } from '../../../runtime/store/store.js';

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

function storedKey(id: string, published: number | null = null): StoredKey {
  return {
    key: {
      id,
      label: `label-${id}`,
      owner_peer_id: 'owner',
      timestamp_created: 100,
      challenge: '',
      challenge_type: '',
      signature: 'sig',
    },
    published,
  };
}

function tombstone(keyId: string, issuedBy: string, peerId: string, t = 100): Entry {
  return {
    kind: 'tombstone',
    tombstone: {
      key_id: keyId,
      issued_by: issuedBy,
      peer_id: peerId,
      timestamp_issued: t,
      solution: '',
      issuer_signature: 'sig',
    },
    digest: `d-${issuedBy}-${peerId}-${t}`,
  };
}

const byDigest = (a: Entry, b: Entry) => a.digest.localeCompare(b.digest);

describe('store', () => {
  it('puts, loads and deletes a key with its entries', async () => {
    const store = await fresh();
    expect(store.load('k1')).toEqual({ keyId: 'k1', stored: null, entries: [], gcAt: null });

    const e1 = tombstone('k1', 'i1', 'p1');
    const e2 = tombstone('k1', 'i2', 'p1');
    await store.write([
      { op: 'putKey', keyId: 'k1', stored: storedKey('k1') },
      { op: 'putEntry', keyId: 'k1', issuedBy: 'i1', peerId: 'p1', entry: e1 },
      { op: 'putEntry', keyId: 'k1', issuedBy: 'i2', peerId: 'p1', entry: e2 },
      { op: 'setDue', index: 'gc', keyId: 'k1', at: 500 },
      // a key whose id extends k1's: its entries must not leak into k1's prefix range
      { op: 'putKey', keyId: 'k10', stored: storedKey('k10') },
      { op: 'putEntry', keyId: 'k10', issuedBy: 'i1', peerId: 'p1', entry: tombstone('k10', 'i1', 'p1') },
    ]);

    const snap = store.load('k1');
    expect(snap.stored).toEqual(storedKey('k1'));
    expect(snap.entries.sort(byDigest)).toEqual([e1, e2].sort(byDigest));
    expect(snap.gcAt).toBe(500);

    // replacing an entry keeps one per slot; deleting one removes only it
    const e1b = tombstone('k1', 'i1', 'p1', 200);
    await store.write([{ op: 'putEntry', keyId: 'k1', issuedBy: 'i1', peerId: 'p1', entry: e1b }]);
    expect(store.load('k1').entries.sort(byDigest)).toEqual([e1b, e2].sort(byDigest));
    await store.write([{ op: 'deleteEntry', keyId: 'k1', issuedBy: 'i2', peerId: 'p1' }]);
    expect(store.load('k1').entries).toEqual([e1b]);

    await store.write([{ op: 'deleteKey', keyId: 'k1' }]);
    expect(store.load('k1')).toEqual({ keyId: 'k1', stored: null, entries: [], gcAt: null });
    expect(store.load('k10').entries).toHaveLength(1);
    expect(store.listKeyIds(null, 10)).toEqual(['k10']);
    expect(store.dueKeyIds('gc', 1e9)).toEqual([]);
    expect(store.staleKeyIds(1e9)).toEqual(['k10']);
  });

  it('commits one write() atomically, and a failing write() changes nothing', async () => {
    const store = await fresh();
    const changes = [
      { op: 'putKey', keyId: 'a', stored: storedKey('a') },
      { op: 'putEntry', keyId: 'a', issuedBy: 'i', peerId: 'p', entry: tombstone('a', 'i', 'p') },
      { op: 'setDue', index: 'gc', keyId: 'a', at: 7 },
    ] as const;
    const p = store.write([...changes]);
    // not visible before its commit, all visible after
    expect(store.load('a').stored).toBeNull();
    await p;
    const snap = store.load('a');
    expect([snap.stored !== null, snap.entries.length, snap.gcAt]).toEqual([true, 1, 7]);

    // a write that throws half-way is rolled back whole; a neighbour in the same commit is kept
    const bad = store.write([
      { op: 'putKey', keyId: 'b', stored: storedKey('b') },
      { op: 'bogus' } as never,
    ]);
    const good = store.write([{ op: 'putKey', keyId: 'c', stored: storedKey('c') }]);
    await expect(bad).rejects.toThrow(/unknown store op/);
    await good;
    expect(store.load('b').stored).toBeNull();
    expect(store.listKeyIds(null, 10)).toEqual(['a', 'c']);
  });

  it('answers stale queries from the index, following republish and delete', async () => {
    const store = await fresh();
    await store.write([
      { op: 'putKey', keyId: 'never', stored: storedKey('never', null) },
      { op: 'putKey', keyId: 'old', stored: storedKey('old', 100) },
      { op: 'putKey', keyId: 'new', stored: storedKey('new', 300) },
      { op: 'putKey', keyId: 'mid', stored: storedKey('mid', 200) },
    ]);
    expect(store.staleKeyIds(-50)).toEqual(['never']); // a negative threshold still finds never-published keys
    expect(store.staleKeyIds(99)).toEqual(['never']);
    expect(store.staleKeyIds(100)).toEqual(['never', 'old']);
    expect(store.staleKeyIds(250)).toEqual(['mid', 'never', 'old']);
    expect(store.staleKeyIds(300)).toEqual(['mid', 'never', 'new', 'old']);

    // republish moves the index row; the old row must not linger
    await store.write([
      { op: 'putKey', keyId: 'old', stored: storedKey('old', 400) },
      { op: 'putKey', keyId: 'never', stored: storedKey('never', 50) },
    ]);
    expect(store.staleKeyIds(99)).toEqual(['never']);
    expect(store.staleKeyIds(300)).toEqual(['mid', 'never', 'new']);
    expect(store.staleKeyIds(1000)).toEqual(['mid', 'never', 'new', 'old']);

    await store.write([{ op: 'deleteKey', keyId: 'mid' }]);
    expect(store.staleKeyIds(1000)).toEqual(['never', 'new', 'old']);
  });

  it('answers gc queries from the index, following setDue and delete', async () => {
    const store = await fresh();
    await store.write([
      { op: 'putKey', keyId: 'x', stored: storedKey('x') },
      { op: 'putKey', keyId: 'y', stored: storedKey('y') },
      { op: 'putKey', keyId: 'z', stored: storedKey('z') },
      { op: 'setDue', index: 'gc', keyId: 'z', at: 10 },
      { op: 'setDue', index: 'gc', keyId: 'x', at: 20 },
      { op: 'setDue', index: 'gc', keyId: 'y', at: 30 },
    ]);
    expect(store.dueKeyIds('gc', 9)).toEqual([]);
    expect(store.dueKeyIds('gc', 10)).toEqual(['z']);
    expect(store.dueKeyIds('gc', 25)).toEqual(['x', 'z']);

    await store.write([
      { op: 'setDue', index: 'gc', keyId: 'z', at: 40 }, // moved later
      { op: 'setDue', index: 'gc', keyId: 'y', at: null }, // nothing to do
    ]);
    expect(store.dueKeyIds('gc', 35)).toEqual(['x']);
    expect(store.load('y').gcAt).toBeNull();
    expect(store.load('z').gcAt).toBe(40);

    await store.write([{ op: 'deleteKey', keyId: 'x' }]);
    expect(store.dueKeyIds('gc', 1000)).toEqual(['z']);
  });

  it('keeps the renew index apart from the gc index, and deleting a key clears both', async () => {
    const store = await fresh();
    await store.write([
      { op: 'putKey', keyId: 'x', stored: storedKey('x') },
      { op: 'putKey', keyId: 'y', stored: storedKey('y') },
      { op: 'setDue', index: 'renew', keyId: 'x', at: 5 },
      { op: 'setDue', index: 'gc', keyId: 'y', at: 5 },
    ]);
    expect(store.dueKeyIds('renew', 5)).toEqual(['x']);
    expect(store.dueKeyIds('gc', 5)).toEqual(['y']);
    await store.write([{ op: 'setDue', index: 'gc', keyId: 'x', at: 7 }, { op: 'deleteKey', keyId: 'x' }]);
    expect(store.dueKeyIds('renew', 100)).toEqual([]);
    expect(store.dueKeyIds('gc', 100)).toEqual(['y']);
  });

  it('reports commits and bytes that grow with writes', async () => {
    const store = await fresh();
    const before = store.stats();
    await store.write([{ op: 'putKey', keyId: 'x', stored: storedKey('x') }]);
    await store.write([{ op: 'putKey', keyId: 'y', stored: storedKey('y') }]);
    const after = store.stats();
    expect(after.commits).toBeGreaterThanOrEqual(before.commits + 2);
    expect(after.bytes).toBeGreaterThan(0);
  });

  it('pages key ids in byte-wise order', async () => {
    const store = await fresh();
    // 'B' < 'a' < 'b' < 'é' < '😀' byte-wise; JS string order puts '😀' (a surrogate pair) before 'ｚ'
    const ids = ['b', 'a', 'B', 'ab', 'é', '\u{1F600}', '\uFF5A'];
    await store.write(ids.map((id) => ({ op: 'putKey' as const, keyId: id, stored: storedKey(id) })));
    const expected = [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(expected).toEqual(['B', 'a', 'ab', 'b', 'é', '\uFF5A', '\u{1F600}']);

    expect(store.listKeyIds(null, 100)).toEqual(expected);
    const pages: string[][] = [];
    let after: string | null = null;
    for (;;) {
      const page = store.listKeyIds(after, 3);
      if (page.length === 0) break;
      pages.push(page);
      after = page[page.length - 1];
    }
    expect(pages).toEqual([expected.slice(0, 3), expected.slice(3, 6), expected.slice(6)]);
    expect(store.listKeyIds('aa', 2)).toEqual(['ab', 'b']); // `after` need not be a held id
    expect(store.listKeyIds(null, 0)).toEqual([]);
    expect(store.staleKeyIds(0)).toEqual(expected); // index queries sort the same way
  });

  it('keeps data and meta across close and reopen', async () => {
    const dataDir = tmpDir();
    const store = await openLmdbStore({ dataDir });
    await store.write([
      { op: 'putKey', keyId: 'k', stored: storedKey('k', 5) },
      { op: 'putEntry', keyId: 'k', issuedBy: 'i', peerId: 'p', entry: tombstone('k', 'i', 'p') },
      { op: 'setDue', index: 'gc', keyId: 'k', at: 9 },
    ]);
    await store.putMeta('last_gc', { at: 123 });
    expect(store.getMeta('last_gc')).toEqual({ at: 123 });
    await store.close();
    await store.close(); // twice is fine
    await expect(store.write([])).rejects.toThrow(/closed/);

    const again = await fresh(dataDir);
    expect(again.load('k')).toEqual({
      keyId: 'k',
      stored: storedKey('k', 5),
      entries: [tombstone('k', 'i', 'p')],
      gcAt: 9,
    });
    expect(again.getMeta('last_gc')).toEqual({ at: 123 });
    expect(again.getMeta('schema_version')).toBe(STORE_SCHEMA_VERSION);
    expect(again.getMeta('missing')).toBeUndefined();
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
