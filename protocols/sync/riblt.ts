/**
 * Rateless invertible Bloom lookup tables over 32-byte ids (Yang, Gilad and Alizadeh, "Practical Rateless
 * Set Reconciliation", SIGCOMM 2024).
 *
 * A set is coded as an endless stream of symbols; symbol i is the XOR of the ids mapped to it, the XOR of
 * their checksums, and their count. Every id maps to symbol 0 and then to a sparser and sparser sequence of
 * indices (density 1/(1 + i/2) at index i), so any prefix of the stream is a useful code. Two sides that
 * code their sets the same way subtract their prefixes symbol by symbol: what is left codes only the ids
 * one side has and the other lacks, and a peeling decoder recovers them from about 1.35 symbols per
 * difference, whatever the size of the sets. Coding is linear: the symbols of a union of disjoint parts
 * are the XOR (and the sum of counts) of the parts' symbols, which is what lets a node keep the first
 * symbols of every location bucket up to date as writes arrive and answer any range without a scan.
 *
 * Everything here is deterministic integer and IEEE-754 arithmetic (sqrt and division are correctly
 * rounded), so every runtime maps an id to the same indices.
 *
 * @example
 * const ours = new Symbols(0, 8); for (const id of mine) ours.add(codedItem(id), 1);
 * const decoder = new Decoder(); decoder.extend(theirs, ours);
 * if (decoder.decoded()) use(decoder.remoteOnly, decoder.localOnly);
 */

export const ID_BYTES = 32;
/**
 * Symbols carry the first SHORT_ID_BYTES of each id. Hiding an item of someone else's from sync would take
 * a second preimage of those 128 bits; two items of one writer that share them only hide each other.
 */
export const SHORT_ID_BYTES = 16;
const WORDS = SHORT_ID_BYTES / 4;
/** The checksum: 48 bits (one word and a half). */
export const CHECK_BYTES = 6;

/** An id ready to be coded: the words of its short id, its checksum, and the whole id (and its 8 words). */
export interface CodedItem {
  readonly id: Uint8Array;
  /** The words of the whole id (for the sums of protocols/sync/summary.ts); the first four are the short id's. */
  readonly full: Uint32Array;
  readonly words: Uint32Array;
  readonly check0: number;
  /** The checksum's upper 16 bits. */
  readonly check1: number;
}

function wordsOf(id: Uint8Array): Uint32Array {
  const w = new Uint32Array(id.length / 4);
  for (let i = 0; i < w.length; i++) w[i] = (id[4 * i] | (id[4 * i + 1] << 8) | (id[4 * i + 2] << 16) | (id[4 * i + 3] << 24)) >>> 0;
  return w;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A non-linear 48-bit checksum of a short id (two murmur3-style lanes). It must not be linear: the
 * checksum of an XOR of several ids has to differ from the XOR of their checksums, or a mixed symbol would
 * look pure.
 */
function checksum(w: Uint32Array): [number, number] {
  let a = 0x9747b28c;
  let b = 0x1b873593;
  for (let i = 0; i < WORDS; i++) {
    a = Math.imul((a ^ w[i]) >>> 0, 0xcc9e2d51);
    a = ((a << 15) | (a >>> 17)) >>> 0;
    b = Math.imul((b ^ w[WORDS - 1 - i] ^ a) >>> 0, 0x1b873593);
    b = ((b << 13) | (b >>> 19)) >>> 0;
    b = (Math.imul(b, 5) + 0xe6546b64) >>> 0;
  }
  return [fmix32(a ^ b), fmix32(b + Math.imul(a, 3)) & 0xffff];
}

/** An item to code, from its whole id (or from a short id, as the decoder recovers it). */
export function codedItem(id: Uint8Array): CodedItem {
  if (id.length !== ID_BYTES && id.length !== SHORT_ID_BYTES) throw new Error(`an id is ${ID_BYTES} bytes, got ${id.length}`);
  const full = wordsOf(id);
  const words = full.subarray(0, WORDS);
  const [check0, check1] = checksum(words);
  return { id, full, words, check0, check1 };
}

/**
 * The symbol indices of one item, in increasing order: 0, then each next index drawn as the paper's
 * `i + ⌈(i + 1.5)·((1 − r)^(−1/2) − 1)⌉` with r from a 32-bit generator seeded by the item.
 */
export class IndexWalk {
  index = 0;
  private state: number;

  constructor(item: CodedItem) {
    this.state = (item.words[2] ^ Math.imul(item.words[3], 0x9e3779b1)) >>> 0;
  }

  next(): number {
    // splitmix32
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let t = this.state ^ (this.state >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    t = (t ^ (t >>> 15)) >>> 0;
    const u = (t + 1) / 4294967296; // (0, 1]
    const step = Math.ceil((this.index + 1.5) * (1 / Math.sqrt(u) - 1));
    this.index += step < 1 ? 1 : step;
    return this.index;
  }
}

/** Coded symbols `from..to−1` of a set (sums and checksums XORed, counts added). */
export class Symbols {
  readonly sums: Uint32Array;
  readonly checks: Uint32Array;
  readonly counts: Int32Array;

  constructor(
    readonly from: number,
    readonly to: number,
  ) {
    const n = to - from;
    this.sums = new Uint32Array(n * WORDS);
    this.checks = new Uint32Array(n * 2);
    this.counts = new Int32Array(n);
  }

  /** A block again from its plain fields (as it arrives from another thread). */
  static restore(p: { from: number; to: number; sums: Uint32Array; checks: Uint32Array; counts: Int32Array }): Symbols {
    const s = new Symbols(p.from, p.to);
    s.sums.set(p.sums);
    s.checks.set(p.checks);
    s.counts.set(p.counts);
    return s;
  }

  get length(): number {
    return this.to - this.from;
  }

  /** Adds (`sign` 1) or removes (−1) an item: each of its indices in range (from `start` on) is touched. */
  add(item: CodedItem, sign: 1 | -1, start = this.from): void {
    const walk = new IndexWalk(item);
    let i = 0;
    while (i < start) i = walk.next();
    while (i < this.to) {
      this.touch(i - this.from, item, sign);
      i = walk.next();
    }
  }

  /** XORs one item into slot `s` (an offset from `from`). */
  touch(s: number, item: CodedItem, sign: number): void {
    const o = s * WORDS;
    const w = item.words;
    for (let j = 0; j < WORDS; j++) this.sums[o + j] ^= w[j];
    this.checks[2 * s] ^= item.check0;
    this.checks[2 * s + 1] ^= item.check1;
    this.counts[s] += sign;
  }

  /** Adds in another block's symbols where the two overlap (the symbols of a disjoint union). */
  merge(other: Symbols): void {
    const from = Math.max(this.from, other.from);
    const to = Math.min(this.to, other.to);
    const a = from - this.from;
    const b = from - other.from;
    for (let j = 0; j < (to - from) * WORDS; j++) this.sums[a * WORDS + j] ^= other.sums[b * WORDS + j];
    for (let j = 0; j < (to - from) * 2; j++) this.checks[a * 2 + j] ^= other.checks[b * 2 + j];
    for (let j = 0; j < to - from; j++) this.counts[a + j] += other.counts[b + j];
  }

  isEmptyAt(s: number): boolean {
    if (this.counts[s] !== 0 || this.checks[2 * s] !== 0 || this.checks[2 * s + 1] !== 0) return false;
    for (let j = 0; j < WORDS; j++) if (this.sums[s * WORDS + j] !== 0) return false;
    return true;
  }
}

/** The short id in slot `s` of `block` (the XOR of its short ids), as bytes. */
function idAt(block: Symbols, s: number): Uint8Array {
  const out = new Uint8Array(SHORT_ID_BYTES);
  for (let j = 0; j < WORDS; j++) {
    const w = block.sums[s * WORDS + j];
    out[4 * j] = w & 0xff;
    out[4 * j + 1] = (w >>> 8) & 0xff;
    out[4 * j + 2] = (w >>> 16) & 0xff;
    out[4 * j + 3] = w >>> 24;
  }
  return out;
}

/** Counts travel as 16 bits; a difference of counts is read back as a signed 16-bit number. */
export const COUNT_MODULUS = 65536;
const signed16 = (x: number): number => {
  const m = ((x % COUNT_MODULUS) + COUNT_MODULUS) % COUNT_MODULUS;
  return m >= COUNT_MODULUS / 2 ? m - COUNT_MODULUS : m;
};

/**
 * The peeling decoder of the initiating side: it is given the remote symbols and its own over the same
 * indices, block after block, and recovers the short ids only the remote holds (`remoteOnly`) and only it
 * holds (`localOnly`). A stream of garbage ends in `failure` (an id recovered twice, more ids than the symbols
 * can hold), never in a loop: each step touches only the indices below the symbols received.
 */
export class Decoder {
  private diff = new Symbols(0, 0);
  /** Whether each difference symbol was empty as received, before any peeling (for `estimate`). */
  private readonly emptyBefore: boolean[] = [];
  private readonly peeled: { item: CodedItem; sign: 1 | -1 }[] = [];
  private readonly seen = new Set<string>();
  readonly remoteOnly: Uint8Array[] = [];
  readonly localOnly: Uint8Array[] = [];
  failure: string | null = null;

  /** Symbols received so far. */
  get received(): number {
    return this.diff.to;
  }

  /** Adds the next symbols: `remote` and `local` cover the same indices, starting where the last block ended. */
  extend(remote: Symbols, local: Symbols): void {
    if (remote.from !== this.diff.to || local.from !== remote.from || local.to !== remote.to) throw new Error('symbols out of order');
    const m0 = this.diff.to;
    const next = new Symbols(0, remote.to);
    next.sums.set(this.diff.sums);
    next.checks.set(this.diff.checks);
    next.counts.set(this.diff.counts);
    for (let s = 0; s < remote.length; s++) {
      const t = m0 + s;
      for (let j = 0; j < WORDS; j++) next.sums[t * WORDS + j] = remote.sums[s * WORDS + j] ^ local.sums[s * WORDS + j];
      next.checks[2 * t] = remote.checks[2 * s] ^ local.checks[2 * s];
      next.checks[2 * t + 1] = remote.checks[2 * s + 1] ^ local.checks[2 * s + 1];
      next.counts[t] = signed16(remote.counts[s] - local.counts[s]);
      this.emptyBefore.push(next.isEmptyAt(t));
    }
    this.diff = next;
    // Items already peeled leave the new symbols too.
    for (const { item, sign } of this.peeled) {
      const walk = new IndexWalk(item);
      let i = 0;
      while (i < m0) i = walk.next();
      while (i < next.to) {
        next.touch(i, item, -sign);
        i = walk.next();
      }
    }
    const candidates: number[] = [];
    for (let t = m0; t < next.to; t++) candidates.push(t);
    this.peel(candidates);
  }

  /**
   * True once every difference is recovered: every symbol received is empty. (Symbol 0 holds every id, so
   * it empties first; the others are checked too, so that a corrupted stream whose symbol 0 happens to
   * empty, e.g. with a count off by two, is not taken for a decoded one.)
   */
  decoded(): boolean {
    if (this.failure !== null || this.diff.to === 0) return false;
    for (let t = 0; t < this.diff.to; t++) if (!this.diff.isEmptyAt(t)) return false;
    return true;
  }

  /**
   * How many ids differ, judged from which of the symbols received were empty before any peeling (an
   * id is in symbol i with probability ρ(i) = 1/(1 + i/2), so symbol i is empty with probability
   * (1 − ρ(i))^k): the maximum-likelihood k. Far more exact than the sketch once a few dozen symbols came.
   */
  estimate(): number {
    const empty = this.emptyBefore;
    if (empty.length < 2) return this.remoteOnly.length + this.localOnly.length;
    const logLikelihood = (k: number) => {
      let l = 0;
      for (let i = 1; i < empty.length; i++) {
        const q = Math.log1p(-1 / (1 + i / 2));
        l += empty[i] ? k * q : Math.log(-Math.expm1(k * q));
      }
      return l;
    };
    // The likelihood is concave in k: golden-section search.
    let lo = 1;
    let hi = Math.max(4, 8 * empty.length);
    const g = (Math.sqrt(5) - 1) / 2;
    for (let step = 0; step < 80 && hi - lo > 0.5; step++) {
      const a = hi - g * (hi - lo);
      const b = lo + g * (hi - lo);
      if (logLikelihood(a) < logLikelihood(b)) lo = a;
      else hi = b;
    }
    return Math.max(1, Math.round((lo + hi) / 2));
  }

  private pure(t: number): CodedItem | null {
    const c = this.diff.counts[t];
    if (c !== 1 && c !== -1) return null;
    const item = codedItem(idAt(this.diff, t));
    return item.check0 === this.diff.checks[2 * t] && item.check1 === this.diff.checks[2 * t + 1] ? item : null;
  }

  private peel(candidates: number[]): void {
    const d = this.diff;
    while (candidates.length > 0 && this.failure === null) {
      const t = candidates.pop()!;
      const item = this.pure(t);
      if (!item) continue;
      const sign = d.counts[t] as 1 | -1;
      const hex = hexOf(item.id);
      if (this.seen.has(hex)) {
        this.failure = 'an id was recovered twice';
        return;
      }
      this.seen.add(hex);
      if (this.peeled.length >= d.to + 16) {
        this.failure = 'more ids than the symbols can hold';
        return;
      }
      this.peeled.push({ item, sign });
      (sign === 1 ? this.remoteOnly : this.localOnly).push(item.id);
      const walk = new IndexWalk(item);
      for (let i = 0; i < d.to; i = walk.next()) {
        d.touch(i, item, -sign);
        candidates.push(i);
      }
    }
  }
}

function hexOf(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
