/**
 * The items a shard holds, kept up to date as its resources change, summed per location bucket so that a
 * sync session scans nothing: the summary of any range (count, fingerprint, sketch) is a sum over at most
 * BUCKETS buckets, and so are its first SYMBOL_CACHE coded symbols. Only symbols past those are coded from
 * the items of the range.
 *
 * Expiry: the index has a horizon, the latest `at + max_clock_skew` it was asked about; an item whose
 * expiry is at or before it leaves every sum (it is left to gc), so two nodes comparing at the same instant
 * leave out the same items. The horizon only moves forward.
 *
 * @example
 * const index = new SyncIndex({ expired_timeout: 86400, max_clock_skew: 30 });
 * index.update(keyId, state);            // after every write to the resource
 * index.advance(now);
 * const s = index.summary(BucketSet.all());
 */
import { toHex } from '../encoding.js';
import { resourceIdBytes } from '../objects.js';
import type { ResourceState } from '../rules.js';
import type { RuleConfig } from '../types.js';
import { itemsOf, type ItemKind } from './items.js';
import { BUCKETS, bucketOf, type BucketSet } from './range.js';
import { codedItem, Symbols, type CodedItem } from './riblt.js';
import { addToSummary, emptySummary, mergeSummary, SUFFIXES, suffixOf, type Summary } from './summary.js';

/** Coded symbols kept per bucket: a difference of up to about 30 items decodes from them alone. */
export const SYMBOL_CACHE = 64;
/**
 * Bytes of an id that name it in a listing or a request for its entry. Two items that share them (about
 * n²/2^65 for n items, or an item made to match one of the same writer's) are both sent when either is
 * asked for; an item of someone else's cannot be matched without a 2^64 search.
 */
export const ID_PREFIX_BYTES = 8;

interface Row {
  kind: ItemKind;
  keyId: string;
  slot: string | null;
  version: string;
  item: CodedItem;
  /** When it was written (items.ts), and when it leaves the sums. */
  ts: number;
  expiry: number;
  included: boolean;
  bucket: number;
}

interface KeyRow {
  bucket: number;
  key: Row | null;
  entries: Map<string, Row>;
  /** Entries of this key in the sums. */
  live: number;
}

interface Bucket {
  summary: Summary;
  symbols: Symbols;
  rows: Set<Row>;
}

/** Where an item lives: its resource, and the entry's slot (null: the key). */
export interface ItemPlace {
  id: Uint8Array;
  keyId: string;
  slot: string | null;
}

export class SyncIndex {
  private horizon = -Infinity;
  private readonly keys = new Map<string, KeyRow>();
  private readonly byPrefix = new Map<string, Row>();
  /** The further rows of prefixes that more than one row has (rare). */
  private readonly sharedPrefix = new Map<string, Row[]>();
  private readonly buckets: (Bucket | undefined)[] = new Array(BUCKETS);
  private readonly expiries = new MinHeap<Row>();
  /** Bumped by every change to the sums. */
  private version = 0;
  private lastSummary: { key: string; version: number; sum: Summary } | null = null;

  constructor(private readonly cfg: Pick<RuleConfig, 'expired_timeout' | 'max_clock_skew'>) {}

  /** Items in the sums. */
  size = 0;

  /** What the index holds of one resource, from its state after a write (null or keyless: nothing). */
  update(keyId: string, state: ResourceState | null): void {
    const specs = state ? itemsOf(state) : [];
    let row = this.keys.get(keyId);
    if (specs.length === 0) {
      if (row) this.drop(keyId, row);
      return;
    }
    if (!row) {
      const location = resourceIdBytes(keyId);
      if (!location) return;
      row = { bucket: bucketOf(location), key: null, entries: new Map(), live: 0 };
      this.keys.set(keyId, row);
    }
    const seen = new Set<string>();
    for (const spec of specs) {
      const current = spec.slot === null ? row.key : row.entries.get(spec.slot);
      if (spec.slot !== null) seen.add(spec.slot);
      if (current && current.version === spec.version) continue;
      if (current) this.remove(row, current);
      const expiry = spec.ts + this.cfg.expired_timeout;
      const next: Row = { kind: spec.kind, keyId, slot: spec.slot, version: spec.version, item: codedItem(spec.id()), ts: spec.ts, expiry, included: false, bucket: row.bucket };
      if (spec.slot === null) row.key = next;
      else row.entries.set(spec.slot, next);
      if (next.expiry > this.horizon) {
        this.expiries.push(next.expiry, next);
        if (next.kind !== 'key') this.include(row, next);
      }
    }
    for (const [slot, r] of row.entries) if (!seen.has(slot)) this.remove(row, r);
    this.settleKey(row);
  }

  /** Moves the horizon to `at + max_clock_skew`: what expires by then leaves the sums. */
  advance(at: number): void {
    const horizon = at + this.cfg.max_clock_skew;
    if (horizon <= this.horizon) return;
    this.horizon = horizon;
    for (let top = this.expiries.peek(); top && top.at <= horizon; top = this.expiries.peek()) {
      const r = this.expiries.pop()!;
      const row = this.keys.get(r.keyId);
      if (!row || (r.slot === null ? row.key !== r : row.entries.get(r.slot) !== r)) continue;
      if (r.kind !== 'key' && r.included) this.exclude(row, r);
      this.settleKey(row);
    }
  }

  /** The summary of the items in `range` (the last one is kept until the index changes: replicas that agree ask for the same one again and again). */
  summary(range: BucketSet): Summary {
    const key = range.toString();
    if (this.lastSummary?.key !== key || this.lastSummary.version !== this.version) {
      const sum = emptySummary();
      for (const b of range.buckets()) {
        const bucket = this.buckets[b];
        if (bucket) mergeSummary(sum, bucket.summary);
      }
      this.lastSummary = { key, version: this.version, sum };
    }
    const out = emptySummary();
    mergeSummary(out, this.lastSummary.sum);
    return out;
  }

  /** Coded symbols `from..to−1` of the items in `range`. */
  symbols(range: BucketSet, from: number, to: number): Symbols {
    const out = new Symbols(from, to);
    const cachedTo = Math.min(to, SYMBOL_CACHE);
    for (const b of range.buckets()) {
      const bucket = this.buckets[b];
      if (!bucket) continue;
      if (from < cachedTo) out.merge(bucket.symbols);
      if (to > SYMBOL_CACHE) for (const r of bucket.rows) out.add(r.item, 1, Math.max(from, SYMBOL_CACHE));
    }
    return out;
  }

  /**
   * The items of `range` by when they were written, as `timeBins` cuts them at `at`: bin j for the
   * items of suffix j that are in no smaller suffix (protocols/sync/summary.ts), the last for the rest.
   */
  timeBins(range: BucketSet, at: number): Summary[] {
    const bins = Array.from({ length: SUFFIXES + 1 }, emptySummary);
    for (const b of range.buckets()) {
      const bucket = this.buckets[b];
      if (bucket) for (const r of bucket.rows) addToSummary(bins[suffixOf(r.ts, at)], r.item, 1);
    }
    return bins;
  }

  /** The ids in `range` written at or after `since` (null: all), sorted, greater than `after`, at most `limit`. */
  ids(range: BucketSet, after: Uint8Array | null, limit: number, since: number | null = null): Uint8Array[] {
    const afterHex = after ? toHex(after) : '';
    const found: [string, Uint8Array][] = [];
    for (const b of range.buckets()) {
      const bucket = this.buckets[b];
      if (!bucket) continue;
      for (const r of bucket.rows) {
        if (since !== null && r.ts < since) continue;
        const hex = toHex(r.item.id);
        if (!after || hex.slice(0, afterHex.length) > afterHex) found.push([hex, r.item.id]);
      }
    }
    found.sort((x, y) => (x[0] < y[0] ? -1 : 1));
    return found.slice(0, limit).map(([, id]) => id);
  }

  /** Where the items whose ids start with `prefix` (ID_PREFIX_BYTES) live, of those in the sums. */
  locate(prefix: Uint8Array): ItemPlace[] {
    const hex = prefixHex(prefix);
    const first = this.byPrefix.get(hex);
    if (!first) return [];
    return [first, ...(this.sharedPrefix.get(hex) ?? [])].map((r) => ({ id: r.item.id, keyId: r.keyId, slot: r.slot }));
  }

  // ---- internals ----

  private settleKey(row: KeyRow): void {
    const key = row.key;
    if (!key) return;
    const wanted = key.expiry > this.horizon || row.live > 0;
    if (wanted && !key.included) this.include(row, key);
    else if (!wanted && key.included) this.exclude(row, key);
  }

  private include(row: KeyRow, r: Row): void {
    r.included = true;
    this.size++;
    this.version++;
    if (r.kind !== 'key') row.live++;
    let bucket = this.buckets[r.bucket];
    if (!bucket) bucket = this.buckets[r.bucket] = { summary: emptySummary(), symbols: new Symbols(0, SYMBOL_CACHE), rows: new Set() };
    addToSummary(bucket.summary, r.item, 1);
    bucket.symbols.add(r.item, 1);
    bucket.rows.add(r);
    const prefix = prefixHex(r.item.id);
    if (!this.byPrefix.has(prefix)) this.byPrefix.set(prefix, r);
    else this.sharedPrefix.set(prefix, [...(this.sharedPrefix.get(prefix) ?? []), r]);
  }

  private exclude(row: KeyRow, r: Row): void {
    r.included = false;
    this.size--;
    this.version++;
    if (r.kind !== 'key') row.live--;
    const bucket = this.buckets[r.bucket]!;
    addToSummary(bucket.summary, r.item, -1);
    bucket.symbols.add(r.item, -1);
    bucket.rows.delete(r);
    const prefix = prefixHex(r.item.id);
    const shared = this.sharedPrefix.get(prefix);
    if (this.byPrefix.get(prefix) === r) {
      if (shared?.length) this.byPrefix.set(prefix, shared.shift()!);
      else this.byPrefix.delete(prefix);
    } else if (shared) {
      const rest = shared.filter((x) => x !== r);
      if (rest.length) this.sharedPrefix.set(prefix, rest);
      else this.sharedPrefix.delete(prefix);
    }
    if (shared?.length === 0) this.sharedPrefix.delete(prefix);
  }

  private remove(row: KeyRow, r: Row): void {
    if (r.included) this.exclude(row, r);
    if (r.slot === null) row.key = null;
    else row.entries.delete(r.slot);
  }

  private drop(keyId: string, row: KeyRow): void {
    for (const r of [...row.entries.values()]) this.remove(row, r);
    if (row.key) this.remove(row, row.key);
    this.keys.delete(keyId);
  }
}

const prefixHex = (id: Uint8Array): string => toHex(id.subarray(0, ID_PREFIX_BYTES));

/** A binary min-heap of values by a number. */
class MinHeap<T> {
  private readonly ats: number[] = [];
  private readonly values: T[] = [];

  push(at: number, value: T): void {
    let i = this.ats.length;
    this.ats.push(at);
    this.values.push(value);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.ats[p] <= at) break;
      this.swap(i, p);
      i = p;
    }
  }

  peek(): { at: number; value: T } | undefined {
    return this.ats.length ? { at: this.ats[0], value: this.values[0] } : undefined;
  }

  pop(): T | undefined {
    const n = this.ats.length;
    if (n === 0) return undefined;
    const top = this.values[0];
    this.swap(0, n - 1);
    this.ats.pop();
    this.values.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n - 1 && this.ats[l] < this.ats[m]) m = l;
      if (r < n - 1 && this.ats[r] < this.ats[m]) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }

  private swap(a: number, b: number): void {
    [this.ats[a], this.ats[b]] = [this.ats[b], this.ats[a]];
    [this.values[a], this.values[b]] = [this.values[b], this.values[a]];
  }
}
