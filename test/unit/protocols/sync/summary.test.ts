/**
 * What a side tells about a set before any symbol (protocols/sync/summary.ts): the count, the fingerprint
 * (over the sum of the ids mod 2^256, as its comment defines it: checked against an independent BigInt and
 * node:crypto computation), the tug-of-war sketches and the difference they estimate, and the time
 * suffixes whose "older than" summaries let two sides find the smallest suffix that holds every difference.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../../protocols/encoding.js';
import { seededRandom, type Random } from '../../../../protocols/random.js';
import { codedItem } from '../../../../protocols/sync/riblt.js';
import {
  BEGIN_SKETCHES,
  FINGERPRINT_BYTES,
  SUFFIXES,
  SUFFIX_UNIT,
  TOW_SKETCHES,
  addToSummary,
  emptySummary,
  estimateDifference,
  fingerprint,
  mergeSummary,
  olderThanSuffixes,
  suffixOf,
  suffixStart,
  towBytes,
  type Summary,
} from '../../../../protocols/sync/summary.js';

const arbId = fc.uint8Array({ minLength: 32, maxLength: 32 });
const arbIds = (max: number) => fc.uniqueArray(arbId, { maxLength: max, selector: toHex });

function summaryOf(ids: readonly Uint8Array[]): Summary {
  const s = emptySummary();
  for (const id of ids) addToSummary(s, codedItem(id), 1);
  return s;
}

const fp = (s: Summary) => toHex(fingerprint(s));

/** An id as a 256-bit little-endian number. */
const asNumber = (id: Uint8Array): bigint => id.reduceRight((x, b) => (x << 8n) | BigInt(b), 0n);

/** The fingerprint as summary.ts defines it, computed independently. */
function oracleFingerprint(ids: readonly Uint8Array[]): string {
  const sum = ids.reduce((x, id) => x + asNumber(id), 0n) % 2n ** 256n;
  const tag = Buffer.from('signpost/sync-fingerprint/v1');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(tag.length);
  const count = Buffer.alloc(8);
  count.writeBigUInt64LE(BigInt(ids.length));
  const sumBytes = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) sumBytes[i] = Number((sum >> BigInt(8 * i)) & 0xffn);
  return createHash('sha256').update(Buffer.concat([len, tag, count, sumBytes])).digest('hex').slice(0, 2 * FINGERPRINT_BYTES);
}

describe('count, sum and fingerprint', () => {
  it('the fingerprint is sha256(tag ‖ u64(count) ‖ sum of the ids mod 2^256), cut to 8 bytes', () => {
    fc.assert(
      fc.property(arbIds(20), (ids) => {
        const s = summaryOf(ids);
        expect(s.count).toBe(ids.length);
        expect(fp(s)).toBe(oracleFingerprint(ids));
        expect(fingerprint(s).length).toBe(FINGERPRINT_BYTES);
      }),
      { numRuns: 100 },
    );
  });

  it('carries across words and wraps mod 2^256', () => {
    const ones = new Uint8Array(32).fill(0xff); // 2^256 − 1
    const one = new Uint8Array(32);
    one[0] = 1;
    const s = summaryOf([ones, one]);
    expect([...s.sum]).toEqual(new Array(8).fill(0));
    expect(s.count).toBe(2);
    const low = new Uint8Array(32).fill(0);
    low.fill(0xff, 0, 4); // 2^32 − 1: carries into the second word
    const t = summaryOf([low, one]);
    expect([...t.sum]).toEqual([0, 1, 0, 0, 0, 0, 0, 0]);
    expect(fp(t)).toBe(oracleFingerprint([low, one]));
  });

  it('equal sets give equal summaries in any order of adding', () => {
    fc.assert(
      fc.property(
        arbIds(30).chain((ids) => fc.tuple(fc.constant(ids), fc.shuffledSubarray(ids, { minLength: ids.length, maxLength: ids.length }))),
        ([ids, shuffled]) => {
          const a = summaryOf(ids);
          const b = summaryOf(shuffled);
          expect(b.count).toBe(a.count);
          expect(fp(b)).toBe(fp(a));
          expect([...b.tow]).toEqual([...a.tow]);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('one item more, fewer or different changes the fingerprint', () => {
    fc.assert(
      fc.property(arbIds(30), arbId, arbId, (ids, extra, other) => {
        const known = new Set(ids.map(toHex));
        fc.pre(!known.has(toHex(extra)) && !known.has(toHex(other)) && toHex(extra) !== toHex(other));
        const base = fp(summaryOf(ids));
        expect(fp(summaryOf([...ids, extra]))).not.toBe(base);
        if (ids.length > 0) {
          expect(fp(summaryOf(ids.slice(1)))).not.toBe(base);
          expect(fp(summaryOf([other, ...ids.slice(1)]))).not.toBe(base);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('the count is part of it: sets with the same sum but different sizes differ', () => {
    const zero = new Uint8Array(32);
    expect(fp(summaryOf([zero]))).not.toBe(fp(emptySummary()));
    expect([...summaryOf([zero]).sum]).toEqual([...emptySummary().sum]);
  });

  it('removing undoes adding, and merging disjoint parts is the summary of their union', () => {
    fc.assert(
      fc.property(arbIds(40), fc.nat(40), (ids, cut) => {
        const a = ids.slice(0, cut);
        const b = ids.slice(cut);
        const merged = summaryOf(a);
        mergeSummary(merged, summaryOf(b));
        const whole = summaryOf(ids);
        expect(merged).toEqual(whole);
        for (const id of b) addToSummary(whole, codedItem(id), -1);
        expect(whole).toEqual(summaryOf(a));
      }),
      { numRuns: 50 },
    );
    const back = summaryOf([new Uint8Array(32).fill(0xff)]);
    addToSummary(back, codedItem(new Uint8Array(32).fill(0xff)), -1);
    expect(back).toEqual(emptySummary());
  });

  it('a shorter fingerprint is a prefix of the whole one', () => {
    const s = summaryOf([seededRandom(1).bytes(32)]);
    expect(toHex(fingerprint(s, 6))).toBe(fp(s).slice(0, 12));
  });
});

describe('sketches', () => {
  it('sketch j sums ±1 over the ids: + when bit j of the id’s sixth word is set', () => {
    fc.assert(
      fc.property(arbIds(20), (ids) => {
        const s = summaryOf(ids);
        for (let j = 0; j < TOW_SKETCHES; j++) {
          let want = 0;
          for (const id of ids) want += (id[20 + (j >> 3)] >> (j & 7)) & 1 ? 1 : -1;
          expect(s.tow[j]).toBe(want);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('travel as bytes mod 256, the first n of them', () => {
    const s = emptySummary();
    s.tow[0] = -1;
    s.tow[1] = 300;
    s.tow[2] = 5;
    expect([...towBytes(s, 3)]).toEqual([255, 44, 5]);
    expect(towBytes(s).length).toBe(TOW_SKETCHES);
    expect(towBytes(s, BEGIN_SKETCHES).length).toBe(BEGIN_SKETCHES);
  });
});

describe('estimateDifference', () => {
  /** Two sides that share `common` ids; `a` only on ours, `b` only on theirs. */
  function sides(random: Random, common: number, a: number, b: number) {
    const ours = emptySummary();
    const theirs = emptySummary();
    for (let i = 0; i < common; i++) {
      const c = codedItem(random.bytes(32));
      addToSummary(ours, c, 1);
      addToSummary(theirs, c, 1);
    }
    for (let i = 0; i < a; i++) addToSummary(ours, codedItem(random.bytes(32)), 1);
    for (let i = 0; i < b; i++) addToSummary(theirs, codedItem(random.bytes(32)), 1);
    return { ours, theirs };
  }
  const estimate = (x: { ours: Summary; theirs: Summary }, sketches = TOW_SKETCHES) =>
    estimateDifference({ count: x.ours.count, tow: towBytes(x.ours, sketches) }, { count: x.theirs.count, tow: towBytes(x.theirs) });

  function estimates(seed: number, k: number, trials: number, sketches = TOW_SKETCHES): number[] {
    const random = seededRandom(seed);
    return Array.from({ length: trials }, (_, t) => {
      const a = Math.round((k * (t % 5)) / 4); // from all on our side to all on theirs
      return estimate(sides(random, 30, a, k - a), sketches);
    }).sort((x, y) => x - y);
  }
  const median = (xs: number[]) => xs[xs.length >> 1];

  it('is exact for one and two differences (the maximum likelihood reads two as 2, not 4)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.constantFrom([1, 0], [0, 1], [2, 0], [1, 1], [0, 2]), (seed, [a, b]) => {
        expect(estimate(sides(seededRandom(seed), 10, a, b))).toBe(a + b);
      }),
      { numRuns: 60 },
    );
  });

  it('is at least 1 (asked only when fingerprints differ): equal sets read as the least even difference, 2', () => {
    for (let seed = 0; seed < 10; seed++) expect(estimate(sides(seededRandom(seed), 20, 0, 0))).toBe(2);
    expect(estimateDifference({ count: 0, tow: new Uint8Array(TOW_SKETCHES) }, { count: 0, tow: new Uint8Array(TOW_SKETCHES) })).toBe(2);
  });

  it('has the parity of the difference and is at least the difference of the counts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.nat(60), fc.nat(60), (seed, a, b) => {
        fc.pre(a + b > 0);
        const e = estimate(sides(seededRandom(seed), 5, a, b));
        expect(e % 2).toBe((a + b) % 2);
        expect(e).toBeGreaterThanOrEqual(Math.abs(a - b));
        expect(e).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 60 },
    );
  });

  it('is within loose bounds for k = 4, 64 and 400, tighter with all 32 sketches than with the 16 of a begin (fixed seed)', () => {
    const k4 = estimates(1, 4, 40);
    expect(k4[0]).toBeGreaterThanOrEqual(2);
    expect(k4[k4.length - 1]).toBeLessThanOrEqual(10);
    expect(median(k4)).toBe(4);
    for (const k of [64, 400]) {
      const all = estimates(k, k, 40);
      expect(all[0], `k = ${k}`).toBeGreaterThanOrEqual(k / 2.2);
      expect(all[all.length - 1], `k = ${k}`).toBeLessThanOrEqual(2.2 * k);
      expect(Math.abs(median(all) / k - 1), `k = ${k}`).toBeLessThan(0.2);
      const begin = estimates(k, k, 40, BEGIN_SKETCHES);
      expect(begin[0], `k = ${k}`).toBeGreaterThanOrEqual(k / 4);
      expect(begin[begin.length - 1], `k = ${k}`).toBeLessThanOrEqual(4 * k);
      // The spread (between the 10th and 90th percentiles) narrows with more sketches.
      expect(all[35] - all[4], `k = ${k}`).toBeLessThan(begin[35] - begin[4]);
    }
  });

  it('grows with k (medians, fixed seed)', () => {
    const m = [0, 4, 16, 64, 256].map((k) => median(estimates(k + 7, k, 21)));
    for (let i = 1; i < m.length; i++) expect(m[i]).toBeGreaterThan(m[i - 1]);
  });

  it('reads a sketch difference past ±127 as wrapped (so very large differences read low)', () => {
    const ours = { count: 0, tow: new Uint8Array(TOW_SKETCHES).fill(200) };
    const theirs = { count: 0, tow: new Uint8Array(TOW_SKETCHES) };
    // 200 − 0 reads as −56: an estimate of about 56², not 200².
    const e = estimateDifference(ours, theirs);
    expect(e).toBe(56 * 56);
  });

  it('uses as many sketches as both sides have', () => {
    const random = seededRandom(5);
    const x = sides(random, 10, 3, 0);
    const e = estimateDifference({ count: x.ours.count, tow: towBytes(x.ours, 4) }, { count: x.theirs.count, tow: towBytes(x.theirs) });
    expect(e % 2).toBe(1);
    expect(e).toBeGreaterThanOrEqual(3);
  });
});

describe('time suffixes', () => {
  const AT = 1_700_000_000;

  it('suffix j starts SUFFIX_UNIT·2^j before `at`', () => {
    expect(suffixStart(AT, 0)).toBe(AT - 16);
    expect(suffixStart(AT, 1)).toBe(AT - 32);
    expect(suffixStart(AT, SUFFIXES - 1)).toBe(AT - SUFFIX_UNIT * 2 ** 13);
    expect(SUFFIX_UNIT * 2 ** (SUFFIXES - 1)).toBeGreaterThan(86_400); // past the default expired_timeout
  });

  it('suffixOf is the smallest suffix that holds ts (SUFFIXES when none does)', () => {
    expect(suffixOf(AT + 100, AT)).toBe(0); // from the future: the newest suffix
    expect(suffixOf(AT - 16, AT)).toBe(0);
    expect(suffixOf(AT - 17, AT)).toBe(1);
    expect(suffixOf(AT - 32, AT)).toBe(1);
    expect(suffixOf(AT - 33, AT)).toBe(2);
    expect(suffixOf(suffixStart(AT, SUFFIXES - 1), AT)).toBe(SUFFIXES - 1);
    expect(suffixOf(suffixStart(AT, SUFFIXES - 1) - 1, AT)).toBe(SUFFIXES);
    fc.assert(
      fc.property(fc.integer({ min: AT - 300_000, max: AT + 100 }), (ts) => {
        const j = suffixOf(ts, AT);
        if (j < SUFFIXES) expect(ts).toBeGreaterThanOrEqual(suffixStart(AT, j));
        if (j > 0) expect(ts).toBeLessThan(suffixStart(AT, j - 1));
      }),
    );
  });

  /** Items with their write times, binned as the sync index bins them. */
  function bins(items: readonly { id: Uint8Array; ts: number }[]): Summary[] {
    const out = Array.from({ length: SUFFIXES + 1 }, emptySummary);
    for (const { id, ts } of items) addToSummary(out[suffixOf(ts, AT)], codedItem(id), 1);
    return out;
  }

  /** The smallest suffix whose older items are the same on both sides, as runtime/net/sync-session.ts picks it (null: none). */
  function smallestSuffix(ours: Summary[], theirs: Summary[]): number | null {
    const a = olderThanSuffixes(ours);
    const b = olderThanSuffixes(theirs);
    const j = a.findIndex((o, i) => o.count === b[i].count && fp(o) === fp(b[i]));
    return j < 0 ? null : j;
  }

  const arbItems = (n: number) =>
    fc.uniqueArray(fc.record({ id: arbId, ts: fc.integer({ min: AT - 200_000, max: AT }) }), { maxLength: n, selector: (x) => toHex(x.id) });

  it('olderThanSuffixes: for each suffix, the summary of exactly the items written before it', () => {
    fc.assert(
      fc.property(arbItems(40), (items) => {
        const older = olderThanSuffixes(bins(items));
        expect(older.length).toBe(SUFFIXES);
        for (let j = 0; j < SUFFIXES; j++) {
          const want = summaryOf(items.filter((x) => x.ts < suffixStart(AT, j)).map((x) => x.id));
          expect(older[j]).toEqual(want);
        }
        // Older than a larger suffix is fewer items.
        for (let j = 1; j < SUFFIXES; j++) expect(older[j].count).toBeLessThanOrEqual(older[j - 1].count);
      }),
      { numRuns: 50 },
    );
  });

  it('picks the smallest suffix that holds every difference', () => {
    fc.assert(
      fc.property(arbItems(30), arbItems(6), arbItems(6), (shared, onlyOurs, onlyTheirs) => {
        const ids = new Set(shared.map((x) => toHex(x.id)));
        const a = onlyOurs.filter((x) => !ids.has(toHex(x.id)));
        for (const x of a) ids.add(toHex(x.id));
        const b = onlyTheirs.filter((x) => !ids.has(toHex(x.id)));
        const diffs = [...a, ...b];
        const j = smallestSuffix(bins([...shared, ...a]), bins([...shared, ...b]));
        // The oldest difference decides: its own suffix holds every difference, no smaller one does.
        const want = diffs.length === 0 ? 0 : Math.max(...diffs.map((x) => suffixOf(x.ts, AT)));
        expect(j).toBe(want === SUFFIXES ? null : want);
      }),
      { numRuns: 100 },
    );
  });

  it('a difference older than every suffix leaves none to pick; only recent ones pick suffix 0', () => {
    const random = seededRandom(3);
    const shared = Array.from({ length: 10 }, (_, i) => ({ id: random.bytes(32), ts: AT - 1000 * i }));
    const recent = { id: random.bytes(32), ts: AT - 5 };
    const ancient = { id: random.bytes(32), ts: AT - 10 * 86_400 };
    expect(smallestSuffix(bins([...shared, recent]), bins(shared))).toBe(0);
    expect(smallestSuffix(bins([...shared, ancient]), bins(shared))).toBeNull();
    expect(smallestSuffix(bins([...shared, recent, ancient]), bins(shared))).toBeNull();
  });
});
