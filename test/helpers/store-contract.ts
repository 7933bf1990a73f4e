/**
 * The behaviour every Store (runtime/store/store.ts) promises, as one suite run against each
 * implementation: test/unit/store/lmdb-store.test.ts and test/unit/store/memory-store.test.ts each call
 * `storeContract` with a way to open an empty store, then add the tests only their implementation can
 * pass (LMDB: durability across reopen, the schema version file, group commit).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Entry, StoredKey } from '../../protocols/types.js';
import type { Store, StoreWrite } from '../../runtime/store/store.js';

export interface StoreContractOptions {
  /** Opens an empty store. The contract closes every store it opened after each test. */
  open(): Promise<Store>;
}

export function storedKey(id: string, published: number | null = null): StoredKey {
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

export function tombstone(keyId: string, issuedBy: string, peerId: string, t = 100): Entry {
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

export const byDigest = (a: Entry, b: Entry) => a.digest.localeCompare(b.digest);

const putKey = (id: string, published: number | null = null): StoreWrite => ({ op: 'putKey', keyId: id, stored: storedKey(id, published) });

/** A change no store knows: applying it throws, half-way through the write holding it. */
const bogus = { op: 'bogus' } as unknown as StoreWrite;

export function storeContract(name: string, opts: StoreContractOptions): void {
  describe(`${name}: the Store contract`, () => {
    const opened: Store[] = [];
    const fresh = async () => {
      const store = await opts.open();
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    it('puts, loads and deletes a key with its entries', async () => {
      const store = await fresh();
      expect(store.load('k1')).toEqual({ keyId: 'k1', stored: null, entries: [], gcAt: null });

      const e1 = tombstone('k1', 'i1', 'p1');
      const e2 = tombstone('k1', 'i2', 'p1');
      await store.write([
        putKey('k1'),
        { op: 'putEntry', keyId: 'k1', issuedBy: 'i1', peerId: 'p1', entry: e1 },
        { op: 'putEntry', keyId: 'k1', issuedBy: 'i2', peerId: 'p1', entry: e2 },
        { op: 'setDue', index: 'gc', keyId: 'k1', at: 500 },
        // a key whose id extends k1's: its entries must not leak into k1's prefix range
        putKey('k10'),
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

    it('applies the changes of one write() in order', async () => {
      const store = await fresh();
      await store.write([
        putKey('gone'),
        { op: 'putEntry', keyId: 'gone', issuedBy: 'i', peerId: 'p', entry: tombstone('gone', 'i', 'p') },
        { op: 'setDue', index: 'renew', keyId: 'gone', at: 1 },
        { op: 'deleteKey', keyId: 'gone' },
        putKey('back', 10),
        { op: 'deleteKey', keyId: 'back' },
        putKey('back', 20),
        { op: 'setDue', index: 'gc', keyId: 'back', at: 5 },
        { op: 'setDue', index: 'gc', keyId: 'back', at: null },
        { op: 'setDue', index: 'gc', keyId: 'back', at: 8 },
      ]);
      expect(store.load('gone')).toEqual({ keyId: 'gone', stored: null, entries: [], gcAt: null });
      expect(store.load('back')).toEqual({ keyId: 'back', stored: storedKey('back', 20), entries: [], gcAt: 8 });
      expect(store.listKeyIds(null, 10)).toEqual(['back']);
      expect(store.staleKeyIds(15)).toEqual([]);
      expect(store.staleKeyIds(20)).toEqual(['back']);
      expect(store.dueKeyIds('gc', 7)).toEqual([]);
      expect(store.dueKeyIds('gc', 8)).toEqual(['back']);
      expect(store.dueKeyIds('renew', 100)).toEqual([]);
    });

    it('commits one write() whole, and a failing write() changes nothing', async () => {
      const store = await fresh();
      await store.write([
        putKey('a'),
        { op: 'putEntry', keyId: 'a', issuedBy: 'i', peerId: 'p', entry: tombstone('a', 'i', 'p') },
        { op: 'setDue', index: 'gc', keyId: 'a', at: 7 },
      ]);
      const snap = store.load('a');
      expect([snap.stored !== null, snap.entries.length, snap.gcAt]).toEqual([true, 1, 7]);

      // a write that throws half-way is rolled back whole; a neighbour in the same commit is kept
      const bad = store.write([putKey('b'), bogus]);
      const good = store.write([putKey('c')]);
      await expect(bad).rejects.toThrow(/unknown store op/);
      await good;
      expect(store.load('b').stored).toBeNull();
      expect(store.listKeyIds(null, 10)).toEqual(['a', 'c']);
    });

    it('rolls back every kind of change of a failing write(), index rows included', async () => {
      const store = await fresh();
      const e = tombstone('a', 'i', 'p');
      await store.write([
        putKey('a', 100),
        { op: 'putEntry', keyId: 'a', issuedBy: 'i', peerId: 'p', entry: e },
        { op: 'setDue', index: 'gc', keyId: 'a', at: 7 },
        { op: 'setDue', index: 'renew', keyId: 'a', at: 9 },
        putKey('b', 200),
        { op: 'putEntry', keyId: 'b', issuedBy: 'i', peerId: 'p', entry: tombstone('b', 'i', 'p') },
      ]);
      const before = {
        a: store.load('a'),
        b: store.load('b'),
        keys: store.listKeyIds(null, 10),
        stale: [store.staleKeyIds(100), store.staleKeyIds(300)],
        gc: store.dueKeyIds('gc', 100),
        renew: store.dueKeyIds('renew', 100),
        entries: store.stats().entries,
      };

      await expect(
        store.write([
          { op: 'deleteKey', keyId: 'a' },
          putKey('b', 50), // republished: its stale row would move
          { op: 'deleteEntry', keyId: 'b', issuedBy: 'i', peerId: 'p' },
          { op: 'putEntry', keyId: 'b', issuedBy: 'j', peerId: 'p', entry: tombstone('b', 'j', 'p') },
          { op: 'setDue', index: 'gc', keyId: 'b', at: 1 },
          { op: 'setDue', index: 'renew', keyId: 'c', at: 1 },
          putKey('c'),
          bogus,
        ]),
      ).rejects.toThrow(/unknown store op/);

      expect({
        a: store.load('a'),
        b: store.load('b'),
        keys: store.listKeyIds(null, 10),
        stale: [store.staleKeyIds(100), store.staleKeyIds(300)],
        gc: store.dueKeyIds('gc', 100),
        renew: store.dueKeyIds('renew', 100),
        entries: store.stats().entries,
      }).toEqual(before);
      expect(before.a.entries).toEqual([e]); // the baseline held what the failed write tried to undo
    });

    it('shows no change of a write() before it resolves', async () => {
      const store = await fresh();
      const p = store.write([putKey('a'), { op: 'setDue', index: 'gc', keyId: 'a', at: 7 }]);
      // not visible before its commit, visible after
      expect([store.load('a').stored, store.listKeyIds(null, 10), store.dueKeyIds('gc', 7)]).toEqual([null, [], []]);
      await p;
      expect([store.load('a').stored, store.listKeyIds(null, 10), store.dueKeyIds('gc', 7)]).toEqual([storedKey('a'), ['a'], ['a']]);
    });

    it('keeps its own copy of what was written and hands out copies', async () => {
      const store = await fresh();
      const written = storedKey('a', 10);
      const entry = tombstone('a', 'i', 'p');
      const setting = { at: 1 };
      await store.write([{ op: 'putKey', keyId: 'a', stored: written }, { op: 'putEntry', keyId: 'a', issuedBy: 'i', peerId: 'p', entry }]);
      await store.putMeta('job', setting);
      written.published = 99;
      entry.digest = 'changed';
      setting.at = 2;
      const loaded = store.load('a');
      loaded.stored!.key.label = 'changed';
      loaded.entries[0].digest = 'changed too';
      store.getMeta<{ at: number }>('job')!.at = 3;

      expect(store.load('a')).toEqual({ keyId: 'a', stored: storedKey('a', 10), entries: [tombstone('a', 'i', 'p')], gcAt: null });
      expect(store.staleKeyIds(50)).toEqual(['a']);
      expect(store.getMeta('job')).toEqual({ at: 1 });
    });

    it('answers stale queries from the index, following republish and delete', async () => {
      const store = await fresh();
      await store.write([putKey('never', null), putKey('old', 100), putKey('new', 300), putKey('mid', 200)]);
      expect(store.staleKeyIds(-50)).toEqual(['never']); // a negative threshold still finds never-published keys
      expect(store.staleKeyIds(99)).toEqual(['never']);
      expect(store.staleKeyIds(100)).toEqual(['never', 'old']);
      expect(store.staleKeyIds(250)).toEqual(['mid', 'never', 'old']);
      expect(store.staleKeyIds(300)).toEqual(['mid', 'never', 'new', 'old']);

      // republish moves the index row; the old row must not linger
      await store.write([putKey('old', 400), putKey('never', 50)]);
      expect(store.staleKeyIds(99)).toEqual(['never']);
      expect(store.staleKeyIds(300)).toEqual(['mid', 'never', 'new']);
      expect(store.staleKeyIds(1000)).toEqual(['mid', 'never', 'new', 'old']);

      await store.write([{ op: 'deleteKey', keyId: 'mid' }]);
      expect(store.staleKeyIds(1000)).toEqual(['never', 'new', 'old']);
    });

    it('answers gc queries from the index, following setDue and delete', async () => {
      const store = await fresh();
      await store.write([
        putKey('x'),
        putKey('y'),
        putKey('z'),
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
        putKey('x'),
        putKey('y'),
        { op: 'setDue', index: 'renew', keyId: 'x', at: 5 },
        { op: 'setDue', index: 'gc', keyId: 'y', at: 5 },
      ]);
      expect(store.dueKeyIds('renew', 5)).toEqual(['x']);
      expect(store.dueKeyIds('gc', 5)).toEqual(['y']);
      expect(store.load('x').gcAt).toBeNull(); // a renew time is not a gc time
      await store.write([{ op: 'setDue', index: 'gc', keyId: 'x', at: 7 }, { op: 'deleteKey', keyId: 'x' }]);
      expect(store.dueKeyIds('renew', 100)).toEqual([]);
      expect(store.dueKeyIds('gc', 100)).toEqual(['y']);
    });

    it('pages key ids in byte-wise order', async () => {
      const store = await fresh();
      // 'B' < 'a' < 'b' < 'é' < '😀' byte-wise; JS string order puts '😀' (a surrogate pair) before 'ｚ'
      const ids = ['b', 'a', 'B', 'ab', 'é', '\u{1F600}', '\uFF5A'];
      await store.write(ids.map((id) => putKey(id)));
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
      expect(store.listKeyIds('\u{1F600}', 5)).toEqual([]);
      expect(store.listKeyIds(null, 0)).toEqual([]);
      expect(store.staleKeyIds(0)).toEqual(expected); // index queries sort the same way
      await store.write(ids.map((id) => ({ op: 'setDue' as const, index: 'renew' as const, keyId: id, at: 1 })));
      expect(store.dueKeyIds('renew', 1)).toEqual(expected);
    });

    it('counts commits and entries', async () => {
      const store = await fresh();
      const before = store.stats();
      expect(before.entries).toBe(0);
      await store.write([putKey('x'), { op: 'putEntry', keyId: 'x', issuedBy: 'i', peerId: 'p', entry: tombstone('x', 'i', 'p') }]);
      await store.write([putKey('y'), { op: 'putEntry', keyId: 'y', issuedBy: 'i', peerId: 'p', entry: tombstone('y', 'i', 'p') }]);
      await store.write([{ op: 'putEntry', keyId: 'y', issuedBy: 'i', peerId: 'p', entry: tombstone('y', 'i', 'p', 200) }]); // same slot
      const after = store.stats();
      expect(after.commits).toBeGreaterThanOrEqual(before.commits + 3);
      expect(after.entries).toBe(2);
      await store.write([{ op: 'deleteKey', keyId: 'x' }]);
      expect(store.stats().entries).toBe(1);
    });

    it('keeps small settings in meta', async () => {
      const store = await fresh();
      expect(store.getMeta('missing')).toBeUndefined();
      await store.putMeta('last_gc', { at: 123 });
      expect(store.getMeta('last_gc')).toEqual({ at: 123 });
      await store.putMeta('last_gc', { at: 456 });
      expect(store.getMeta('last_gc')).toEqual({ at: 456 });
      // settings are not resources
      expect(store.listKeyIds(null, 10)).toEqual([]);
    });

    it('lets writes issued before close() finish, and refuses writes after it', async () => {
      const store = await fresh();
      const writes = Array.from({ length: 20 }, (_, n) => store.write([putKey(`k${n}`)]));
      const closed = store.close();
      await store.close(); // twice is fine
      await closed;
      await expect(Promise.all(writes)).resolves.toHaveLength(20);
      await expect(store.write([putKey('late')])).rejects.toThrow(/closed/);
    });

    it('refuses putMeta after close()', async () => {
      const store = await fresh();
      await store.close();
      await expect(store.putMeta('late', 1)).rejects.toThrow(/closed/);
    });
  });
}
