/**
 * Which part of the location space two nodes compare (protocols/sync/range.ts): a location's bucket is
 * its first 10 bits; BucketSet behaves as a set of buckets (checked against a plain Set) with maximal runs
 * as intervals; and responsibleBuckets is, bucket by bucket, where the node is among the k closest of
 * those it knows for some location (checked against a brute-force XOR-distance oracle).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUCKETS, BUCKET_BITS, BucketSet, bucketOf, responsibleBuckets } from '../../../../protocols/sync/range.js';

const arbLocation = fc.uint8Array({ minLength: 32, maxLength: 32 });
const arbBuckets = fc.uniqueArray(fc.integer({ min: 0, max: BUCKETS - 1 }), { maxLength: 200 }).map((b) => new Set(b));
/** Sets of buckets made of runs (so intervals are exercised, not only single buckets). */
const arbRuns = fc
  .array(fc.tuple(fc.integer({ min: -5, max: BUCKETS + 5 }), fc.integer({ min: 0, max: 300 })), { maxLength: 8 })
  .map((runs) => runs.map(([start, n]) => [start, start + n] as const));

const fromSet = (s: ReadonlySet<number>) => BucketSet.where((b) => s.has(b));
const toSet = (r: BucketSet) => new Set(r.buckets());

describe('bucketOf', () => {
  it('is the first 10 bits of the location', () => {
    const at = (b0: number, b1: number) => Uint8Array.from([b0, b1, ...new Array(30).fill(0xaa)]);
    expect(bucketOf(at(0, 0))).toBe(0);
    expect(bucketOf(at(0, 0x3f))).toBe(0);
    expect(bucketOf(at(0, 0x40))).toBe(1);
    expect(bucketOf(at(0x01, 0))).toBe(4);
    expect(bucketOf(at(0x80, 0))).toBe(512);
    expect(bucketOf(at(0xff, 0xff))).toBe(BUCKETS - 1);
    fc.assert(
      fc.property(arbLocation, (l) => {
        const bits = [...l].map((b) => b.toString(2).padStart(8, '0')).join('');
        expect(bucketOf(l)).toBe(parseInt(bits.slice(0, BUCKET_BITS), 2));
      }),
    );
  });
});

describe('BucketSet', () => {
  it('none and all', () => {
    expect(BucketSet.none().size).toBe(0);
    expect(BucketSet.all().size).toBe(BUCKETS);
    expect(BucketSet.all().has(0) && BucketSet.all().has(BUCKETS - 1)).toBe(true);
    expect(BucketSet.none().toString()).toBe('none');
    expect(BucketSet.all().toString()).toBe(`0-${BUCKETS - 1}`);
    expect(BucketSet.all().intervals()).toEqual([[0, BUCKETS]]);
    expect(BucketSet.none().intervals()).toEqual([]);
  });

  it('has exactly its members, and buckets() lists them in increasing order', () => {
    fc.assert(
      fc.property(arbBuckets, (s) => {
        const r = fromSet(s);
        for (let b = 0; b < BUCKETS; b++) expect(r.has(b)).toBe(s.has(b));
        expect(r.size).toBe(s.size);
        expect(r.buckets()).toEqual([...s].sort((x, y) => x - y));
      }),
      { numRuns: 50 },
    );
  });

  it('intersect, union and equals are those of sets', () => {
    fc.assert(
      fc.property(arbBuckets, arbBuckets, (a, b) => {
        const x = fromSet(a);
        const y = fromSet(b);
        expect(toSet(x.intersect(y))).toEqual(new Set([...a].filter((v) => b.has(v))));
        expect(toSet(x.union(y))).toEqual(new Set([...a, ...b]));
        const same = a.size === b.size && [...a].every((v) => b.has(v));
        expect(x.equals(y)).toBe(same);
        expect(x.equals(fromSet(new Set(a)))).toBe(true);
        // Immutable: the operands are unchanged.
        expect(toSet(x)).toEqual(a);
      }),
      { numRuns: 50 },
    );
  });

  it('fromIntervals takes [start, end) runs, clipped to the buckets, overlapping or not', () => {
    fc.assert(
      fc.property(arbRuns, (runs) => {
        const want = new Set<number>();
        for (const [a, b] of runs) for (let i = Math.max(0, a); i < Math.min(BUCKETS, b); i++) want.add(i);
        expect(toSet(BucketSet.fromIntervals(runs))).toEqual(want);
      }),
    );
    expect(BucketSet.fromIntervals([[-10, 2000]]).equals(BucketSet.all())).toBe(true);
    expect(BucketSet.fromIntervals([[5, 5]]).size).toBe(0);
  });

  it('intervals are the maximal runs, increasing and apart, and give the set back', () => {
    fc.assert(
      fc.property(arbRuns, (runs) => {
        const r = BucketSet.fromIntervals(runs);
        const iv = r.intervals();
        for (const [a, b] of iv) {
          expect(a).toBeLessThan(b);
          expect(r.has(a) && r.has(b - 1)).toBe(true);
          if (a > 0) expect(r.has(a - 1)).toBe(false);
          if (b < BUCKETS) expect(r.has(b)).toBe(false);
        }
        for (let i = 1; i < iv.length; i++) expect(iv[i][0]).toBeGreaterThan(iv[i - 1][1]);
        expect(BucketSet.fromIntervals(iv).equals(r)).toBe(true);
      }),
    );
  });

  it('hands out copies of its intervals (the cache cannot be changed from outside)', () => {
    const r = BucketSet.fromIntervals([[3, 9]]);
    const iv = r.intervals();
    iv[0][1] = 500;
    iv.push([600, 700]);
    expect(r.intervals()).toEqual([[3, 9]]);
    expect(r.buckets()).toEqual([3, 4, 5, 6, 7, 8]);
  });

  it('prints as runs', () => {
    expect(BucketSet.fromIntervals([[5, 6]]).toString()).toBe('5');
    expect(
      BucketSet.fromIntervals([
        [0, 512],
        [768, 1024],
      ]).toString(),
    ).toBe('0-511,768-1023');
    expect(
      BucketSet.fromIntervals([
        [1, 3],
        [3, 4],
        [10, 11],
      ]).toString(),
    ).toBe('1-3,10');
  });
});

describe('responsibleBuckets', () => {
  /** XOR distance order: < 0 when a is closer to target than b. */
  function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
    for (let i = 0; i < target.length; i++) {
      const x = a[i] ^ target[i];
      const y = b[i] ^ target[i];
      if (x !== y) return x - y;
    }
    return 0;
  }

  /**
   * The oracle: bucket b is in range when, at the location of b closest to self (b's prefix, then self's
   * other bits), fewer than k known nodes are strictly closer than self. No location of b does better: a
   * node sharing b's first bits with self is farther than self from it, and any other is closer or not
   * whatever the later bits.
   */
  function oracle(self: Uint8Array, others: readonly Uint8Array[], k: number): Set<number> {
    const out = new Set<number>();
    for (let b = 0; b < BUCKETS; b++) {
      const l = self.slice();
      l[0] = b >> 2;
      l[1] = ((b & 3) << 6) | (self[1] & 0x3f);
      const closer = others.filter((o) => compareDistance(l, o, self) < 0).length;
      if (closer < k) out.add(b);
    }
    return out;
  }

  /** A node near `self`: it shares the first `shared` bits and differs at the next, the rest random. */
  function near(self: Uint8Array, shared: number, rest: Uint8Array): Uint8Array {
    const o = rest.slice();
    for (let i = 0; i < shared; i++) {
      const byte = i >> 3;
      const mask = 0x80 >> (i & 7);
      o[byte] = (o[byte] & ~mask) | (self[byte] & mask);
    }
    const byte = shared >> 3;
    const mask = 0x80 >> (shared & 7);
    o[byte] = (o[byte] & ~mask) | (~self[byte] & mask);
    return o;
  }

  const arbOthers = (self: Uint8Array) =>
    fc.array(
      fc.tuple(fc.integer({ min: 0, max: 14 }), arbLocation).map(([shared, rest]) => near(self, shared, rest)),
      { maxLength: 40 },
    );

  it('is every bucket while fewer than k others are known', () => {
    fc.assert(
      fc.property(
        arbLocation.chain((self) => fc.tuple(fc.constant(self), arbOthers(self))),
        fc.integer({ min: 1, max: 50 }),
        ([self, others], k) => {
          fc.pre(others.length < k);
          expect(responsibleBuckets(self, others, k).equals(BucketSet.all())).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('agrees with the brute-force oracle, and always holds the node’s own bucket', () => {
    fc.assert(
      fc.property(
        arbLocation.chain((self) => fc.tuple(fc.constant(self), arbOthers(self))),
        fc.integer({ min: 1, max: 20 }),
        ([self, others], k) => {
          const r = responsibleBuckets(self, others, k);
          expect(toSet(r)).toEqual(oracle(self, others, k));
          expect(r.has(bucketOf(self))).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('is a strict subset (with the own bucket) once k others are known that differ early', () => {
    const self = new Uint8Array(32).fill(0x11); // bucket 0b0001000100 = 68
    const others = Array.from({ length: 20 }, (_, i) => {
      const o = new Uint8Array(32).fill(i);
      o[0] = 0x80 | i; // all differ from self at the first bit
      return o;
    });
    const r = responsibleBuckets(self, others, 20);
    expect(r.toString()).toBe('0-511'); // the half of the space on self's side of the first bit
    expect(r.has(bucketOf(self))).toBe(true);
    // One fewer known node: every bucket again.
    expect(responsibleBuckets(self, others.slice(1), 20).equals(BucketSet.all())).toBe(true);
    // Spread over the first two bits: 10 at bit 0 and 10 at bit 1 rule out all but self's quarter for k = 10.
    const spread = others.map((o, i) => {
      const x = o.slice();
      x[0] = i < 10 ? 0x80 : 0x40 | (self[0] & 0x80);
      return x;
    });
    expect(responsibleBuckets(self, spread, 10).toString()).toBe('0-255');
    // For k = 11 either group alone (10 nodes) is not enough: only the quarter past both bits is ruled out.
    expect(responsibleBuckets(self, spread, 11).toString()).toBe('0-767');
  });

  it('is every bucket when all others share the node’s bucket (none of them is closer anywhere outside it)', () => {
    const self = new Uint8Array(32).fill(0x5a);
    const others = Array.from({ length: 30 }, (_, i) => near(self, 10 + (i % 20), new Uint8Array(32).fill(i)));
    expect(responsibleBuckets(self, others, 20).equals(BucketSet.all())).toBe(true);
  });

  it('shrinks as more nodes are known and grows with k', () => {
    fc.assert(
      fc.property(
        arbLocation.chain((self) => fc.tuple(fc.constant(self), arbOthers(self), arbOthers(self))),
        fc.integer({ min: 1, max: 20 }),
        ([self, others, more], k) => {
          const r = responsibleBuckets(self, others, k);
          const fewer = responsibleBuckets(self, [...others, ...more], k);
          expect(fewer.intersect(r).equals(fewer)).toBe(true);
          const wider = responsibleBuckets(self, others, k + 1);
          expect(wider.intersect(r).equals(r)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });
});
