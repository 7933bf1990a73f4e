/**
 * The sync index (protocols/sync/sync-index.ts), which is pure: fed resource states, it holds exactly the
 * items of items.ts that have not expired by its horizon (an entry until `ts + expired_timeout`, a key
 * also while any of its entries is held), whatever order the states and the horizon came in; and every
 * answer it gives over a range (summary, coded symbols on both sides of its cache, time bins, sorted ids,
 * where a prefix lives) is what coding those items directly gives.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../../protocols/encoding.js';
import { resourceIdBytes } from '../../../../protocols/objects.js';
import { entrySlotKey, type ResourceState } from '../../../../protocols/rules.js';
import { recordEntry, tombstoneEntry } from '../../../../protocols/signed.js';
import { itemsOf } from '../../../../protocols/sync/items.js';
import { BucketSet, bucketOf } from '../../../../protocols/sync/range.js';
import { Symbols, codedItem } from '../../../../protocols/sync/riblt.js';
import { SUFFIXES, addToSummary, emptySummary, fingerprint, suffixOf, type Summary } from '../../../../protocols/sync/summary.js';
import { ID_PREFIX_BYTES, SYMBOL_CACHE, SyncIndex } from '../../../../protocols/sync/sync-index.js';
import type { Entry, Key } from '../../../../protocols/types.js';
import { key, peer, record, tombstone } from '../../../helpers/objects.js';

const T0 = 1_700_000_000;
const CFG = { expired_timeout: 1000, max_clock_skew: 30 };

const state = (k: Key | null, entries: readonly Entry[] = []): ResourceState => ({
  stored: k ? { key: k, published: null } : null,
  entries: new Map(entries.map((e) => [entrySlotKey(e), e])),
});

/** Resources with two versions of their key and, per slot, two versions of its entry (all signed once). */
interface Resource {
  id: string;
  keys: Key[];
  slots: Entry[][];
}
const RESOURCES: Resource[] = [1, 2, 3].map((n) => {
  const owner = peer(n);
  const keys = [key(owner, `svc-${n}`, T0 + 100 * n), key(owner, `svc-${n}`, T0 + 100 * n + 900)];
  const k = keys[0];
  const slots = [
    [recordEntry(record(k, peer(10 + n), T0 + 50, { created: T0 + 200 })), recordEntry(record(k, peer(10 + n), T0 + 50, { created: T0 + 1500 }))],
    [recordEntry(record(k, peer(20 + n), T0 + 400)), tombstoneEntry(tombstone(k, peer(20 + n), peer(20 + n).peerId, T0 + 2500))],
    [tombstoneEntry(tombstone(k, owner, peer(30 + n).peerId, T0 + 10)), recordEntry(record(k, owner, T0 + 10, { host: peer(30 + n), created: T0 + 3000 }))],
  ];
  return { id: k.id, keys, slots };
});

/** A resource's state: which key version (or none), and per slot none (-1) or a version. */
function variant(r: Resource, keyVersion: number | null, choice: readonly number[]): ResourceState | null {
  if (keyVersion === null) return null;
  return state(
    r.keys[keyVersion],
    choice.flatMap((c, slot) => (c < 0 ? [] : [r.slots[slot][c]])),
  );
}

/** The items that should be held: those of the states, less what expired by `horizon` (a key stays while an entry does). */
function model(states: ReadonlyMap<string, ResourceState | null>, horizon: number): { id: Uint8Array; ts: number; bucket: number }[] {
  const out: { id: Uint8Array; ts: number; bucket: number }[] = [];
  for (const [keyId, s] of states) {
    if (!s) continue;
    const bucket = bucketOf(resourceIdBytes(keyId)!);
    const items = itemsOf(s);
    const live = items.filter((i) => i.kind !== 'key' && i.ts + CFG.expired_timeout > horizon);
    for (const i of items) {
      const keep = i.kind === 'key' ? i.ts + CFG.expired_timeout > horizon || live.length > 0 : live.includes(i);
      if (keep) out.push({ id: i.id(), ts: i.ts, bucket });
    }
  }
  return out;
}

function summaryOf(ids: readonly Uint8Array[]): Summary {
  const s = emptySummary();
  for (const id of ids) addToSummary(s, codedItem(id), 1);
  return s;
}

function encode(ids: readonly Uint8Array[], from: number, to: number): Symbols {
  const s = new Symbols(from, to);
  for (const id of ids) s.add(codedItem(id), 1);
  return s;
}

const hexes = (ids: readonly Uint8Array[]) => ids.map(toHex).sort();
const all = BucketSet.all();

describe('SyncIndex', () => {
  it('holds the items of every resource, summed per bucket for any range', () => {
    const index = new SyncIndex(CFG);
    const states = new Map(RESOURCES.map((r) => [r.id, variant(r, 0, [0, 0, 0])]));
    for (const [id, s] of states) index.update(id, s);
    index.advance(T0);
    const held = model(states, T0 + CFG.max_clock_skew);
    expect(held.length).toBe(12);
    expect(index.size).toBe(12);
    expect(index.summary(all)).toEqual(summaryOf(held.map((h) => h.id)));
    expect(hexes(index.ids(all, null, 100))).toEqual(hexes(held.map((h) => h.id)));
    // One resource's bucket alone.
    const bucket = bucketOf(resourceIdBytes(RESOURCES[1].id)!);
    const one = BucketSet.where((b) => b === bucket);
    const inBucket = held.filter((h) => h.bucket === bucket).map((h) => h.id);
    expect(inBucket.length).toBeGreaterThanOrEqual(4);
    expect(index.summary(one)).toEqual(summaryOf(inBucket));
    expect(index.summary(BucketSet.none())).toEqual(emptySummary());
    expect(index.summary(BucketSet.where((b) => b !== bucket)).count).toBe(12 - inBucket.length);
  });

  it('codes the symbols of a range as coding its items directly does, below, across and past the cached ones', () => {
    const index = new SyncIndex(CFG);
    const states = new Map(RESOURCES.map((r) => [r.id, variant(r, 1, [1, 0, 1])]));
    for (const [id, s] of states) index.update(id, s);
    const ids = model(states, -Infinity).map((h) => h.id);
    for (const [from, to] of [
      [0, 1],
      [0, 10],
      [0, SYMBOL_CACHE],
      [20, SYMBOL_CACHE + 1],
      [SYMBOL_CACHE - 1, 130],
      [SYMBOL_CACHE, 200],
      [100, 180],
    ])
      expect(index.symbols(all, from, to), `${from}..${to}`).toEqual(encode(ids, from, to));
    const bucket = bucketOf(resourceIdBytes(RESOURCES[0].id)!);
    const one = BucketSet.where((b) => b === bucket);
    const mine = model(states, -Infinity)
      .filter((h) => h.bucket === bucket)
      .map((h) => h.id);
    expect(index.symbols(one, 30, 100)).toEqual(encode(mine, 30, 100));
  });

  it('replaces an item when its entry or key changes, and drops a resource that is gone', () => {
    const index = new SyncIndex(CFG);
    const r = RESOURCES[0];
    const first = variant(r, 0, [0, 0, -1]);
    index.update(r.id, first);
    const before = hexes(model(new Map([[r.id, first]]), -Infinity).map((h) => h.id));
    expect(hexes(index.ids(all, null, 100))).toEqual(before);
    const renewed = variant(r, 1, [1, -1, 0]);
    index.update(r.id, renewed);
    const after = hexes(model(new Map([[r.id, renewed]]), -Infinity).map((h) => h.id));
    expect(hexes(index.ids(all, null, 100))).toEqual(after);
    expect(index.size).toBe(3);
    expect(index.summary(all)).toEqual(summaryOf(model(new Map([[r.id, renewed]]), -Infinity).map((h) => h.id)));
    index.update(r.id, null);
    expect(index.size).toBe(0);
    expect(index.summary(all)).toEqual(emptySummary());
    expect(index.symbols(all, 0, 100)).toEqual(new Symbols(0, 100));
    // A keyless state is nothing too; an id that is not a resource id is ignored.
    index.update(r.id, state(null, [r.slots[0][0]]));
    index.update('not-a-resource-id', state(r.keys[0]));
    expect(index.size).toBe(0);
  });

  it('lets an entry go at ts + expired_timeout (by the horizon, at + max_clock_skew), and a key once it and its entries have', () => {
    const index = new SyncIndex(CFG);
    const r = RESOURCES[0];
    // Key written at T0 + 100, a record created at T0 + 1500.
    index.update(r.id, variant(r, 0, [1, -1, -1]));
    expect(index.size).toBe(2);
    const leaves = (ts: number) => ts + CFG.expired_timeout - CFG.max_clock_skew; // the `at` at which it leaves
    index.advance(leaves(T0 + 100) - 1);
    expect(index.size).toBe(2);
    index.advance(leaves(T0 + 100)); // the key is past its own expiry but its record is held: it stays
    expect(index.size).toBe(2);
    index.advance(leaves(T0 + 1500) - 1);
    expect(index.size).toBe(2);
    index.advance(leaves(T0 + 1500)); // the record goes, and the key with it
    expect(index.size).toBe(0);
    expect(index.summary(all)).toEqual(emptySummary());
    // The horizon only moves forward: an earlier `at` brings nothing back.
    index.advance(T0);
    expect(index.size).toBe(0);
    // What arrives already expired is not held; a live entry brings back its expired key.
    index.update(r.id, variant(r, 0, [0, -1, -1]));
    expect(index.size).toBe(0);
    const withTombstone = variant(r, 0, [0, 1, -1])!; // the old record and a tombstone issued at T0 + 2500
    index.update(r.id, withTombstone);
    const live = itemsOf(withTombstone).filter((i) => i.kind !== 'record');
    expect(live.map((i) => i.kind)).toEqual(['key', 'tombstone']);
    expect(hexes(index.ids(all, null, 10))).toEqual(hexes(live.map((i) => i.id())));
  });

  it('bins a range’s items by time suffix as summary.ts cuts them', () => {
    const index = new SyncIndex(CFG);
    const states = new Map(RESOURCES.map((r) => [r.id, variant(r, 1, [1, 1, 1])]));
    for (const [id, s] of states) index.update(id, s);
    const at = T0 + 3000;
    const bins = index.timeBins(all, at);
    expect(bins.length).toBe(SUFFIXES + 1);
    const held = model(states, -Infinity);
    for (let j = 0; j <= SUFFIXES; j++) expect(bins[j], `bin ${j}`).toEqual(summaryOf(held.filter((h) => suffixOf(h.ts, at) === j).map((h) => h.id)));
    expect(bins.reduce((n, b) => n + b.count, 0)).toBe(held.length);
  });

  it('lists ids sorted, after a prefix, up to a limit, from a time on', () => {
    const index = new SyncIndex(CFG);
    const states = new Map(RESOURCES.map((r) => [r.id, variant(r, 0, [0, 0, 0])]));
    for (const [id, s] of states) index.update(id, s);
    const held = model(states, -Infinity);
    const sorted = hexes(held.map((h) => h.id));
    expect(index.ids(all, null, 1000).map(toHex)).toEqual(sorted);
    expect(index.ids(all, null, 5).map(toHex)).toEqual(sorted.slice(0, 5));
    const after = index.ids(all, null, 5)[4].subarray(0, ID_PREFIX_BYTES);
    expect(index.ids(all, after, 1000).map(toHex)).toEqual(sorted.slice(5));
    const since = T0 + 300;
    expect(index.ids(all, null, 1000, since).map(toHex)).toEqual(hexes(held.filter((h) => h.ts >= since).map((h) => h.id)));
    expect(index.ids(BucketSet.none(), null, 1000)).toEqual([]);
  });

  it('locates an item by its id prefix, until it leaves', () => {
    const index = new SyncIndex(CFG);
    const r = RESOURCES[2];
    const s = variant(r, 0, [0, 0, -1])!;
    index.update(r.id, s);
    for (const item of itemsOf(s)) {
      const id = item.id();
      expect(index.locate(id.subarray(0, ID_PREFIX_BYTES)).map((p) => [toHex(p.id), p.keyId, p.slot])).toEqual([[toHex(id), r.id, item.slot]]);
    }
    const gone = itemsOf(s)[1].id();
    index.update(r.id, variant(r, 0, [-1, 0, -1]));
    expect(index.locate(gone.subarray(0, ID_PREFIX_BYTES))).toEqual([]);
    expect(index.locate(new Uint8Array(ID_PREFIX_BYTES))).toEqual([]);
  });

  it('hands out summaries as copies, and a new one after every change', () => {
    const index = new SyncIndex(CFG);
    const r = RESOURCES[0];
    index.update(r.id, variant(r, 0, [0, -1, -1]));
    const a = index.summary(all);
    a.count = 99;
    a.sum[0] ^= 1;
    const b = index.summary(all);
    expect(b.count).toBe(2);
    index.update(r.id, variant(r, 0, [0, 0, -1]));
    expect(index.summary(all).count).toBe(3);
    expect(toHex(fingerprint(index.summary(all)))).not.toBe(toHex(fingerprint(b)));
  });

  it('replicas agree: whatever the order of writes and horizons, the index holds what the model says (property)', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('update' as const),
        r: fc.nat(RESOURCES.length - 1),
        key: fc.option(fc.nat(1), { freq: 5 }),
        slots: fc.array(fc.integer({ min: -1, max: 1 }), { minLength: 3, maxLength: 3 }),
      }),
      fc.record({ kind: fc.constant('advance' as const), at: fc.integer({ min: T0 - 500, max: T0 + 5000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        const index = new SyncIndex(CFG);
        const states = new Map<string, ResourceState | null>();
        let horizon = -Infinity;
        for (const o of ops) {
          if (o.kind === 'update') {
            const r = RESOURCES[o.r];
            const s = variant(r, o.key, o.slots);
            states.set(r.id, s);
            index.update(r.id, s);
          } else {
            horizon = Math.max(horizon, o.at + CFG.max_clock_skew);
            index.advance(o.at);
          }
          const held = model(states, horizon);
          expect(index.size).toBe(held.length);
          expect(hexes(index.ids(all, null, 1000))).toEqual(hexes(held.map((h) => h.id)));
        }
        const held = model(states, horizon).map((h) => h.id);
        expect(index.summary(all)).toEqual(summaryOf(held));
        expect(index.symbols(all, 0, SYMBOL_CACHE + 20)).toEqual(encode(held, 0, SYMBOL_CACHE + 20));
        // A replica fed only the final states (in reverse) and the final horizon holds the same.
        const replica = new SyncIndex(CFG);
        for (const [id, s] of [...states].reverse()) replica.update(id, s);
        if (horizon > -Infinity) replica.advance(horizon - CFG.max_clock_skew);
        expect(toHex(fingerprint(replica.summary(all)))).toBe(toHex(fingerprint(index.summary(all))));
        expect(replica.symbols(all, 0, 80)).toEqual(index.symbols(all, 0, 80));
      }),
      { numRuns: 60 },
    );
  });
});
