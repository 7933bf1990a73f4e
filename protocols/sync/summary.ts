/**
 * What a side tells about a set before any symbol: its size, a fingerprint, and a tug-of-war sketch from
 * which the other side estimates how many ids differ (Alon, Matias, Szegedy; as in Yang et al. §5).
 *
 * All three are sums over the ids, so a node keeps them per location bucket as writes arrive and adds up
 * the buckets of any range:
 * - `sum`: the ids added as 256-bit numbers (mod 2^256). The fingerprint hashes it with the count, as
 *   negentropy does: unlike an XOR, a sum is not a linear code an attacker can solve for.
 * - `tow`: TOW_SKETCHES sums of ±1, the sign of id `x` in sketch j being bit j of its sixth word. The
 *   difference of two sides' sketch j is the sum of ±1 over the differing ids, so its square is k on
 *   average; the mean over s sketches estimates k with a relative error of about √(2/s): 35 % from the
 *   BEGIN_SKETCHES a session's first message carries, 25 % from all of them, which the answer carries.
 */
import { sha256 } from '../crypto.js';
import { CanonicalWriter } from '../encoding.js';
import type { CodedItem } from './riblt.js';

export const TOW_SKETCHES = 32;
/** The sketches a `begin` carries (the answer carries all of them). */
export const BEGIN_SKETCHES = 16;
export const FINGERPRINT_BYTES = 8;

export interface Summary {
  count: number;
  /** 8 little-endian words of the sum of the ids mod 2^256. */
  readonly sum: Uint32Array;
  readonly tow: Int32Array;
}

export function emptySummary(): Summary {
  return { count: 0, sum: new Uint32Array(8), tow: new Int32Array(TOW_SKETCHES) };
}

/** Adds (`sign` 1) or removes (−1) one id. */
export function addToSummary(s: Summary, item: CodedItem, sign: 1 | -1): void {
  s.count += sign;
  const w = item.full;
  let carry = 0;
  if (sign === 1) {
    for (let i = 0; i < 8; i++) {
      const x = s.sum[i] + w[i] + carry;
      s.sum[i] = x >>> 0;
      carry = x > 0xffffffff ? 1 : 0;
    }
  } else {
    for (let i = 0; i < 8; i++) {
      const x = s.sum[i] - w[i] - carry;
      s.sum[i] = x >>> 0;
      carry = x < 0 ? 1 : 0;
    }
  }
  const signs = w[5];
  for (let j = 0; j < TOW_SKETCHES; j++) s.tow[j] += (signs >>> j) & 1 ? sign : -sign;
}

/** Adds `b` into `a` (the summary of a disjoint union). */
export function mergeSummary(a: Summary, b: Summary): void {
  a.count += b.count;
  let carry = 0;
  for (let i = 0; i < 8; i++) {
    const x = a.sum[i] + b.sum[i] + carry;
    a.sum[i] = x >>> 0;
    carry = x > 0xffffffff ? 1 : 0;
  }
  for (let j = 0; j < TOW_SKETCHES; j++) a.tow[j] += b.tow[j];
}

// ---- time suffixes ----
//
// Differences are often recent (a replica missed the writes of the last minutes: it restarted, or was cut
// off). Suffix j is the items written at or after `at − SUFFIX_UNIT·2^j`; if the items written before it
// are the same on both sides, every difference lies in it, and listing one side's few recent items costs
// less than coding the differences. Both sides cut at the same `at`, so they cut alike.

export const SUFFIX_UNIT = 16;
/** Suffixes 0..SUFFIXES−1: 16 s up to 16·2^13 s (36 h, past the default expired_timeout). */
export const SUFFIXES = 14;

export function suffixStart(at: number, j: number): number {
  return at - SUFFIX_UNIT * 2 ** j;
}

/** The smallest suffix that holds an item written at `ts` (SUFFIXES: none). */
export function suffixOf(ts: number, at: number): number {
  for (let j = 0; j < SUFFIXES; j++) if (ts >= suffixStart(at, j)) return j;
  return SUFFIXES;
}

/** From time bins (bin j: the items in suffix j and no smaller one): for each suffix, the summary of the items older than it. */
export function olderThanSuffixes(bins: readonly Summary[]): Summary[] {
  const out: Summary[] = [];
  const older = emptySummary();
  for (let j = SUFFIXES - 1; j >= 0; j--) {
    mergeSummary(older, bins[j + 1]);
    const copy = emptySummary();
    mergeSummary(copy, older);
    out[j] = copy;
  }
  return out;
}

/** Equal for equal sets, and (but for a 2^-64 chance) different otherwise; `bytes` shorter for a suffix table. */
export function fingerprint(s: Summary, bytes = FINGERPRINT_BYTES): Uint8Array {
  const w = new CanonicalWriter().str('signpost/sync-fingerprint/v1').u64(s.count);
  for (const x of s.sum) w.u32(x);
  return sha256(w.finish()).subarray(0, bytes);
}

/**
 * The fingerprints of a suffix table (6 bytes: a false match, 2^-48, would only make one session list
 * too short a suffix; the next session compares again).
 */
export const TABLE_FINGERPRINT_BYTES = 6;

/** The first `n` sketches as sent: each sum mod 256 (the difference of two sides is small when k is). */
export function towBytes(s: Summary, n = TOW_SKETCHES): Uint8Array {
  return Uint8Array.from(s.tow.subarray(0, n), (x) => x & 0xff);
}

/**
 * How many ids differ between two sets, from both sketches (as many as both have) and both counts. The difference d_j of two
 * sides' sketch j is a sum of k independent ±1, so d_j = 2X − k with X binomial(k, ½): every d_j has the
 * parity of k, and so has Δcount (k = a + b, Δ = a − b for a ids on one side only and b on the other),
 * and k ≥ |Δcount|. Small k is taken by maximum likelihood over that exact distribution (so two
 * differences read as 2, not 4); large k as the mean of d_j², an unbiased estimate. At least 1: the
 * caller asks only when the fingerprints differ. A difference past ±127 wraps, so past about 1 500 the
 * estimate is low, and the caller tops up.
 */
export function estimateDifference(ours: { count: number; tow: Uint8Array }, theirs: { count: number; tow: Uint8Array }): number {
  const d: number[] = [];
  let squares = 0;
  const sketches = Math.min(ours.tow.length, theirs.tow.length);
  for (let j = 0; j < sketches; j++) {
    const m = (((ours.tow[j] - theirs.tow[j]) % 256) + 256) % 256;
    const x = m >= 128 ? m - 256 : m;
    d.push(x);
    squares += x * x;
  }
  const delta = Math.abs(ours.count - theirs.count);
  const parity = delta % 2;
  const least = Math.max(delta, 2 - parity, ...d.map(Math.abs));
  const mean = squares / sketches;
  if (mean > SMALL_K) {
    const k = Math.max(least, Math.round(mean));
    return k % 2 === parity ? k : k + 1;
  }
  let best = least;
  let bestLog = -Infinity;
  for (let k = least; k <= 2 * SMALL_K; k += 2) {
    let log = 0;
    for (const x of d) log += logBinomialHalf(k, (x + k) / 2);
    if (log > bestLog) {
      bestLog = log;
      best = k;
    }
  }
  return best;
}

/** Up to this mean square the estimate is exact maximum likelihood. */
const SMALL_K = 48;

/** log(i!) for i ≤ 2 · SMALL_K, the largest n the estimate asks about. */
const LOG_FACTORIAL = (() => {
  const t = new Float64Array(2 * SMALL_K + 1);
  for (let i = 1; i < t.length; i++) t[i] = t[i - 1] + Math.log(i);
  return t;
})();

/** log P(X = x) for X binomial(n, ½), n ≤ 2 · SMALL_K. */
function logBinomialHalf(n: number, x: number): number {
  if (x < 0 || x > n || !Number.isInteger(x)) return -Infinity;
  return LOG_FACTORIAL[n] - LOG_FACTORIAL[x] - LOG_FACTORIAL[n - x] - n * Math.LN2;
}
