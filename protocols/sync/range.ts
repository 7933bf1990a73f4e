/**
 * Which part of the location space two nodes compare. The space is cut into BUCKETS fixed buckets by the
 * first BUCKET_BITS bits of a location; a range is a set of buckets.
 *
 * A node's range is the buckets in which it is among the K closest nodes it knows of some location. For
 * XOR distance that is a count per bit: a known node that shares the first i bits with this one and
 * differs at bit i is closer to a location L exactly when L differs from this node at bit i too,
 * whatever L's other bits. So in the bucket with prefix p, the fewest known nodes closer than this one
 * (over every L in it) is the sum, over the prefix bits where p differs from this node, of the nodes
 * known at that depth; the bucket is in range when that sum is below K. A k-bucket holds at most K
 * contacts, so a full one rules its half of the space out, as it should.
 */

export const BUCKET_BITS = 10;
export const BUCKETS = 1 << BUCKET_BITS;

/** The bucket of a 32-byte location. */
export function bucketOf(location: Uint8Array): number {
  return (location[0] << 2) | (location[1] >> 6);
}

/** A set of buckets (immutable). */
export class BucketSet {
  private runs: [number, number][] | null = null;

  private constructor(private readonly bits: Uint8Array) {}

  static none(): BucketSet {
    return new BucketSet(new Uint8Array(BUCKETS / 8));
  }

  static all(): BucketSet {
    return ALL;
  }

  /** The buckets `b` for which `inside(b)`. */
  static where(inside: (bucket: number) => boolean): BucketSet {
    const bits = new Uint8Array(BUCKETS / 8);
    for (let b = 0; b < BUCKETS; b++) if (inside(b)) bits[b >> 3] |= 1 << (b & 7);
    return new BucketSet(bits);
  }

  /** From `[start, end)` intervals (validated by the caller's parser). */
  static fromIntervals(intervals: readonly (readonly [number, number])[]): BucketSet {
    const bits = new Uint8Array(BUCKETS / 8);
    for (const [start, end] of intervals) for (let b = Math.max(0, start); b < Math.min(BUCKETS, end); b++) bits[b >> 3] |= 1 << (b & 7);
    return new BucketSet(bits);
  }

  has(bucket: number): boolean {
    return (this.bits[bucket >> 3] & (1 << (bucket & 7))) !== 0;
  }

  intersect(o: BucketSet): BucketSet {
    return new BucketSet(this.bits.map((x, i) => x & o.bits[i]));
  }

  union(o: BucketSet): BucketSet {
    return new BucketSet(this.bits.map((x, i) => x | o.bits[i]));
  }

  equals(o: BucketSet): boolean {
    return this.bits.every((x, i) => x === o.bits[i]);
  }

  get size(): number {
    let n = 0;
    for (let b = 0; b < BUCKETS; b++) if (this.has(b)) n++;
    return n;
  }

  /** The buckets in increasing order. */
  buckets(): number[] {
    const out: number[] = [];
    for (const [a, b] of this.intervals()) for (let i = a; i < b; i++) out.push(i);
    return out;
  }

  /** Maximal runs `[start, end)`, in increasing order. */
  intervals(): [number, number][] {
    this.runs ??= this.computeRuns();
    return this.runs.map(([a, b]) => [a, b]);
  }

  private computeRuns(): [number, number][] {
    const out: [number, number][] = [];
    let start = -1;
    for (let b = 0; b <= BUCKETS; b++) {
      const inside = b < BUCKETS && this.has(b);
      if (inside && start < 0) start = b;
      if (!inside && start >= 0) {
        out.push([start, b]);
        start = -1;
      }
    }
    return out;
  }

  /** `0-1023`, `0-511,768-1023`: for logs and the visualiser. */
  toString(): string {
    const runs = this.intervals();
    return runs.length === 0 ? 'none' : runs.map(([a, b]) => (b - a === 1 ? `${a}` : `${a}-${b - 1}`)).join(',');
  }
}

const ALL = BucketSet.where(() => true);

/** Bit `i` (0 = most significant) of a location or prefix. */
const bitOf = (location: Uint8Array, i: number): number => (location[i >> 3] >> (7 - (i & 7))) & 1;

/**
 * The buckets for which `self` is among the `k` closest of itself and `others` (the locations of the
 * nodes it knows) for at least one location (see the module comment).
 */
export function responsibleBuckets(self: Uint8Array, others: readonly Uint8Array[], k: number): BucketSet {
  // Fewer than k others known: every location has this node among its k closest.
  if (others.length < k) return BucketSet.all();
  // atDepth[i]: known nodes that share the first i bits with self and differ at bit i.
  const atDepth = new Array<number>(BUCKET_BITS).fill(0);
  for (const o of others) {
    for (let i = 0; i < BUCKET_BITS; i++) {
      if (bitOf(o, i) !== bitOf(self, i)) {
        atDepth[i]++;
        break;
      }
    }
  }
  const selfPrefix = bucketOf(self);
  return BucketSet.where((b) => {
    const differ = b ^ selfPrefix;
    let closer = 0;
    for (let i = 0; i < BUCKET_BITS && closer < k; i++) if ((differ >> (BUCKET_BITS - 1 - i)) & 1) closer += atDepth[i];
    return closer < k;
  });
}
