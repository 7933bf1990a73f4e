/**
 * The rateless IBLT of protocols/sync/riblt.ts as pure functions: two sets coded alike and subtracted
 * decode to exactly their two differences (from about symbolsFor(k) symbols, or a longer stream, cut
 * anywhere), equal sets decode at once, one difference decodes from symbol 0 alone, coding is linear
 * (merging the symbols of disjoint parts codes their union; removing undoes adding), a corrupted stream
 * never decodes to wrong ids, and the decoder's own estimate of k is close once it has a few dozen symbols.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../../protocols/encoding.js';
import { seededRandom, type Random } from '../../../../protocols/random.js';
import { nextBatchEnd, symbolsFor } from '../../../../protocols/sync/plan.js';
import { COUNT_MODULUS, Decoder, ID_BYTES, IndexWalk, SHORT_ID_BYTES, Symbols, codedItem } from '../../../../protocols/sync/riblt.js';

const WORDS = SHORT_ID_BYTES / 4;

/** Symbols `from..to−1` of a set of ids. */
function encode(ids: readonly Uint8Array[], from: number, to: number): Symbols {
  const s = new Symbols(from, to);
  for (const id of ids) s.add(codedItem(id), 1);
  return s;
}

/** Symbols `from..to−1` of `s` as a block of their own. */
function slice(s: Symbols, from: number, to: number): Symbols {
  const a = from - s.from;
  const b = to - s.from;
  return Symbols.restore({ from, to, sums: s.sums.subarray(a * WORDS, b * WORDS), checks: s.checks.subarray(2 * a, 2 * b), counts: s.counts.subarray(a, b) });
}

const short = (id: Uint8Array): string => toHex(id.subarray(0, SHORT_ID_BYTES));
const shortSet = (ids: readonly Uint8Array[]): string[] => ids.map(short).sort();

/** A remote and a local set that share `common` and differ by `remoteOnly` and `localOnly`. */
interface Sets {
  common: Uint8Array[];
  remoteOnly: Uint8Array[];
  localOnly: Uint8Array[];
}
const remoteSet = (s: Sets) => [...s.common, ...s.remoteOnly];
const localSet = (s: Sets) => [...s.common, ...s.localOnly];

function randomSets(random: Random, common: number, remoteOnly: number, localOnly: number): Sets {
  const ids = (n: number) => Array.from({ length: n }, () => random.bytes(ID_BYTES));
  return { common: ids(common), remoteOnly: ids(remoteOnly), localOnly: ids(localOnly) };
}

/** Sets of distinct 32-byte ids (fast-check), split three ways. */
const arbSets = (maxCommon: number, maxDiff: number): fc.Arbitrary<Sets> =>
  fc
    .record({
      ids: fc.uniqueArray(fc.uint8Array({ minLength: ID_BYTES, maxLength: ID_BYTES }), { maxLength: maxCommon + 2 * maxDiff, selector: (b) => short(b) }),
      a: fc.nat(maxDiff),
      b: fc.nat(maxDiff),
    })
    .map(({ ids, a, b }) => {
      const r = Math.min(a, ids.length);
      const l = Math.min(b, ids.length - r);
      return { remoteOnly: ids.slice(0, r), localOnly: ids.slice(r, r + l), common: ids.slice(r + l, r + l + maxCommon) };
    });

/**
 * Decodes the way a session asks (protocols/sync/plan.ts): `first` symbols, then each next batch up to
 * `nextBatchEnd`, until the difference decodes, the decoder fails, or `cap` symbols came.
 */
function decodeStream(s: Sets, first: number, cap: number): Decoder {
  const remote = encode(remoteSet(s), 0, cap);
  const local = encode(localSet(s), 0, cap);
  const d = new Decoder();
  let to = Math.min(first, cap);
  for (;;) {
    d.extend(slice(remote, d.received, to), slice(local, d.received, to));
    if (d.decoded() || d.failure !== null || d.received >= cap) return d;
    to = nextBatchEnd(d.received, d.estimate(), cap);
  }
}

function expectDecodedTo(d: Decoder, s: Sets): void {
  expect(d.failure).toBeNull();
  expect(d.decoded()).toBe(true);
  expect(shortSet(d.remoteOnly)).toEqual(shortSet(s.remoteOnly));
  expect(shortSet(d.localOnly)).toEqual(shortSet(s.localOnly));
}

describe('codedItem and IndexWalk', () => {
  it('takes 32-byte ids and 16-byte short ids and refuses any other length', () => {
    expect(() => codedItem(new Uint8Array(32))).not.toThrow();
    expect(() => codedItem(new Uint8Array(16))).not.toThrow();
    for (const n of [0, 8, 15, 17, 31, 33, 64]) expect(() => codedItem(new Uint8Array(n))).toThrow(/32 bytes/);
  });

  it('codes an id exactly as its short id (what the decoder recovers and walks again)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (id) => {
        const whole = codedItem(id);
        const part = codedItem(id.slice(0, SHORT_ID_BYTES));
        expect([...whole.words]).toEqual([...part.words]);
        expect([whole.check0, whole.check1]).toEqual([part.check0, part.check1]);
        expect(whole.full.length).toBe(8);
        expect(whole.check1).toBeLessThan(1 << 16);
        const a = new IndexWalk(whole);
        const b = new IndexWalk(part);
        for (let i = 0; i < 20; i++) expect(a.next()).toBe(b.next());
      }),
      { numRuns: 100 },
    );
  });

  it('walks strictly increasing indices after 0, the same ones every time', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (id) => {
        const item = codedItem(id);
        const walk = new IndexWalk(item);
        const again = new IndexWalk(codedItem(id.slice()));
        let last = 0;
        for (let n = 0; n < 30; n++) {
          const i = walk.next();
          expect(i).toBeGreaterThan(last);
          expect(Number.isInteger(i)).toBe(true);
          expect(again.next()).toBe(i);
          last = i;
        }
      }),
      { numRuns: 100 },
    );
  });

  it('maps an id to index i with probability about 1/(1 + i/2)', () => {
    const random = seededRandom(11);
    const N = 4000;
    const hits = new Map<number, number>();
    for (let n = 0; n < N; n++) {
      const walk = new IndexWalk(codedItem(random.bytes(32)));
      for (let i = walk.next(); i <= 64; i = walk.next()) hits.set(i, (hits.get(i) ?? 0) + 1);
    }
    for (const i of [1, 2, 4, 10, 30, 64]) {
      const p = 1 / (1 + i / 2);
      const sd = Math.sqrt((p * (1 - p)) / N);
      expect(Math.abs((hits.get(i) ?? 0) / N - p)).toBeLessThan(5 * sd);
    }
  });

  it('puts every id in symbol 0 (so symbol 0 counts the set)', () => {
    const random = seededRandom(3);
    const ids = Array.from({ length: 50 }, () => random.bytes(32));
    const s = encode(ids, 0, 8);
    expect(s.counts[0]).toBe(50);
    const t = encode(ids, 1, 8);
    expect(t.length).toBe(7);
    expect([...t.counts].every((c) => c < 50)).toBe(true);
  });
});

describe('Symbols', () => {
  it('are linear: the merge of disjoint parts codes their union, and removing undoes adding', () => {
    fc.assert(
      fc.property(arbSets(30, 10), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 60 }), (s, from, n) => {
        const to = from + n;
        const union = encode([...s.common, ...s.remoteOnly, ...s.localOnly], from, to);
        const merged = encode(s.common, from, to);
        merged.merge(encode(s.remoteOnly, from, to));
        merged.merge(encode(s.localOnly, from, to));
        expect(merged).toEqual(union);
        // Removing the local-only ids from the union leaves the symbols of the rest.
        for (const id of s.localOnly) union.add(codedItem(id), -1);
        expect(union).toEqual(encode(remoteSet(s), from, to));
      }),
      { numRuns: 40 },
    );
  });

  it('code any window of the stream alike: a block from `from` equals that part of a block from 0', () => {
    fc.assert(
      fc.property(arbSets(30, 0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 50 }), (s, from, n) => {
        const whole = encode(s.common, 0, from + n);
        expect(encode(s.common, from, from + n)).toEqual(slice(whole, from, from + n));
      }),
      { numRuns: 40 },
    );
  });

  it('merge only where blocks overlap, and add from `start` only touches indices from there', () => {
    const random = seededRandom(5);
    const ids = Array.from({ length: 20 }, () => random.bytes(32));
    const a = encode(ids.slice(0, 10), 0, 40);
    const b = encode(ids.slice(10), 20, 60);
    a.merge(b);
    expect(slice(a, 0, 20)).toEqual(slice(encode(ids.slice(0, 10), 0, 40), 0, 20));
    expect(slice(a, 20, 40)).toEqual(encode(ids, 20, 40));

    const late = new Symbols(0, 40);
    for (const id of ids) late.add(codedItem(id), 1, 25);
    for (let s = 0; s < 25; s++) expect(late.isEmptyAt(s)).toBe(true);
    expect(slice(late, 25, 40)).toEqual(encode(ids, 25, 40));
  });

  it('restore copies the plain fields of a block (as it crosses threads)', () => {
    const random = seededRandom(6);
    const s = encode(Array.from({ length: 9 }, () => random.bytes(32)), 3, 30);
    const plain = { from: s.from, to: s.to, sums: s.sums.slice(), checks: s.checks.slice(), counts: s.counts.slice() };
    const back = Symbols.restore(plain);
    expect(back).toEqual(s);
    plain.counts[0] += 1;
    expect(back.counts[0]).toBe(s.counts[0]);
  });
});

describe('Decoder', () => {
  it('recovers exactly both differences of random sets, from a stream asked for as a session does', () => {
    fc.assert(
      fc.property(arbSets(40, 30), (s) => {
        const k = s.remoteOnly.length + s.localOnly.length;
        // Far past what any difference needs (about 1.4·k) but bounded: it must decode within it.
        const d = decodeStream(s, symbolsFor(k), 12 * k + 100);
        expectDecodedTo(d, s);
      }),
      { numRuns: 30 },
    );
  });

  it('decodes the same whichever blocks the stream arrives in', () => {
    fc.assert(
      fc.property(arbSets(20, 15), fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 20 }), (s, cuts) => {
        const total = cuts.reduce((x, y) => x + y, 0);
        const remote = encode(remoteSet(s), 0, total);
        const local = encode(localSet(s), 0, total);
        const once = new Decoder();
        once.extend(remote, local);
        const inBlocks = new Decoder();
        let at = 0;
        for (const c of cuts) {
          inBlocks.extend(slice(remote, at, at + c), slice(local, at, at + c));
          at += c;
          expect(inBlocks.received).toBe(at);
        }
        expect(inBlocks.decoded()).toBe(once.decoded());
        expect(inBlocks.failure).toBe(once.failure);
        expect(shortSet(inBlocks.remoteOnly)).toEqual(shortSet(once.remoteOnly));
        expect(shortSet(inBlocks.localOnly)).toEqual(shortSet(once.localOnly));
        if (once.decoded()) expectDecodedTo(once, s);
      }),
      { numRuns: 30 },
    );
  });

  it('decodes equal sets (k = 0) from symbol 0, with nothing to send either way', () => {
    for (const n of [0, 1, 50]) {
      const s = randomSets(seededRandom(n + 1), n, 0, 0);
      const d = new Decoder();
      expect(d.decoded()).toBe(false); // nothing received yet
      d.extend(encode(remoteSet(s), 0, 1), encode(localSet(s), 0, 1));
      expectDecodedTo(d, s);
      expect(d.remoteOnly).toEqual([]);
      expect(d.localOnly).toEqual([]);
    }
  });

  it('decodes one difference, on either side, from symbol 0 alone', () => {
    fc.assert(
      fc.property(arbSets(30, 1), (s) => {
        fc.pre(s.remoteOnly.length + s.localOnly.length === 1);
        const d = new Decoder();
        d.extend(encode(remoteSet(s), 0, 1), encode(localSet(s), 0, 1));
        expectDecodedTo(d, s);
      }),
      { numRuns: 30 },
    );
  });

  it('recovers the short ids (the first 16 bytes) of the differences', () => {
    const s = randomSets(seededRandom(8), 10, 3, 2);
    const d = decodeStream(s, 40, 200);
    expectDecodedTo(d, s);
    for (const id of [...d.remoteOnly, ...d.localOnly]) expect(id.length).toBe(SHORT_ID_BYTES);
  });

  it('decodes k differences from symbolsFor(k) symbols at least about three times in four (fixed seed)', () => {
    const random = seededRandom(2024);
    for (const [k, trials] of [
      [2, 60],
      [4, 60],
      [16, 60],
      [64, 40],
      [1024, 8],
    ] as const) {
      let ok = 0;
      for (let t = 0; t < trials; t++) {
        const s = randomSets(random, 20, k >> 1, k - (k >> 1));
        const n = symbolsFor(k);
        const d = new Decoder();
        d.extend(encode(remoteSet(s), 0, n), encode(localSet(s), 0, n));
        if (d.decoded()) {
          expectDecodedTo(d, s);
          ok++;
        }
      }
      expect(ok / trials, `k = ${k}`).toBeGreaterThanOrEqual(0.65);
    }
  });

  it('cannot decode many differences from far too few symbols', () => {
    const random = seededRandom(77);
    for (let t = 0; t < 10; t++) {
      const s = randomSets(random, 10, 40, 40);
      const d = new Decoder();
      d.extend(encode(remoteSet(s), 0, 40), encode(localSet(s), 0, 40));
      expect(d.decoded()).toBe(false);
    }
  });

  it('reads counts modulo 2^16, as they travel (a difference of −1 wraps to 65535)', () => {
    // Only local-only ids (negative counts), then both kinds.
    for (const [seed, remoteOnly, localOnly] of [
      [9, 0, 4],
      [10, 4, 3],
    ]) {
      const s = randomSets(seededRandom(seed), 30, remoteOnly, localOnly);
      const n = 40;
      const remote = encode(remoteSet(s), 0, n);
      const local = encode(localSet(s), 0, n);
      // The same large offset on both sides' counts leaves the difference alone; the remote's arrive mod 2^16.
      for (let i = 0; i < n; i++) {
        remote.counts[i] = (remote.counts[i] + 70_000) % COUNT_MODULUS;
        local.counts[i] += 70_000;
      }
      const d = new Decoder();
      d.extend(remote, local);
      expectDecodedTo(d, s);
    }
  });

  it('refuses blocks out of order or of different extents', () => {
    const d = new Decoder();
    expect(() => d.extend(new Symbols(1, 4), new Symbols(1, 4))).toThrow(/out of order/);
    expect(() => d.extend(new Symbols(0, 4), new Symbols(0, 5))).toThrow(/out of order/);
    d.extend(new Symbols(0, 4), new Symbols(0, 4));
    expect(() => d.extend(new Symbols(0, 4), new Symbols(0, 4))).toThrow(/out of order/);
    expect(() => d.extend(new Symbols(5, 6), new Symbols(5, 6))).toThrow(/out of order/);
    expect(() => d.extend(new Symbols(4, 6), new Symbols(4, 6))).not.toThrow();
  });

  describe('a corrupted stream never decodes to wrong ids', () => {
    const corruption = fc.record({
      slot: fc.nat(),
      field: fc.constantFrom('sum', 'check0', 'check1', 'count'),
      word: fc.nat(WORDS - 1),
      xor: fc.integer({ min: 1, max: 0xffffffff }),
    });

    function corrupt(s: Symbols, c: { slot: number; field: string; word: number; xor: number }, slot: number): void {
      if (c.field === 'sum') s.sums[slot * WORDS + c.word] ^= c.xor;
      else if (c.field === 'check0') s.checks[2 * slot] ^= c.xor;
      else if (c.field === 'check1') s.checks[2 * slot + 1] ^= c.xor & 0xffff || 1;
      else s.counts[slot] += (c.xor % 7) + 1;
    }

    const ids = (d: Decoder) => shortSet([...d.remoteOnly, ...d.localOnly]);

    it('a corrupted sum or checksum: either it decodes to exactly the true differences, or it does not decode', () => {
      fc.assert(
        fc.property(arbSets(20, 12), corruption, (s, c) => {
          fc.pre(c.field !== 'count');
          const k = s.remoteOnly.length + s.localOnly.length;
          const n = 3 * symbolsFor(k) + 8;
          const remote = encode(remoteSet(s), 0, n);
          corrupt(remote, c, c.slot % n);
          const d = new Decoder();
          d.extend(remote, encode(localSet(s), 0, n));
          if (d.decoded()) expectDecodedTo(d, s);
          // Whatever it recovered is a true difference: a corrupted symbol never reads as a pure one.
          expect(shortSet([...s.remoteOnly, ...s.localOnly])).toEqual(expect.arrayContaining(ids(d)));
        }),
        { numRuns: 200 },
      );
    });

    it('a corrupted count: what decodes are exactly the differing ids (on which side: see the known limitation below)', () => {
      fc.assert(
        fc.property(arbSets(20, 12), corruption, (s, c) => {
          const k = s.remoteOnly.length + s.localOnly.length;
          const n = 3 * symbolsFor(k) + 8;
          const remote = encode(remoteSet(s), 0, n);
          corrupt(remote, { ...c, field: 'count' }, c.slot % n);
          const d = new Decoder();
          d.extend(remote, encode(localSet(s), 0, n));
          if (d.decoded()) expect(ids(d)).toEqual(shortSet([...s.remoteOnly, ...s.localOnly]));
        }),
        { numRuns: 200 },
      );
    });

    // A count off by 2 on a symbol that holds one id reads as the other side's id; peeling it (and then the
    // other difference, which symbol 0 now shows with the wrong sign) empties symbol 0 while the ids' other
    // symbols keep counts of ±2. Only symbol 0 empty would "decode" with both ids on the wrong sides.
    it('a count off by 2 that empties symbol 0 with the ids on the wrong sides does not decode', () => {
      const random = seededRandom(2);
      const x = random.bytes(32); // the remote's only difference
      const y = random.bytes(32); // the local side's only difference
      const remote = encode([x], 0, 8);
      const local = encode([y], 0, 8);
      remote.counts[2] += 2;
      const d = new Decoder();
      d.extend(remote, local);
      // The wrong peel did happen (symbol 0 emptied, sides swapped): what decoded() must not accept.
      expect(shortSet(d.remoteOnly)).toEqual([short(y)]);
      expect(shortSet(d.localOnly)).toEqual([short(x)]);
      expect(d.decoded()).toBe(false);
    });

    it('a corrupted sum or checksum of symbol 0 (which holds every id) never decodes', () => {
      fc.assert(
        fc.property(arbSets(20, 12), corruption, (s, c) => {
          fc.pre(c.field !== 'count');
          const k = s.remoteOnly.length + s.localOnly.length;
          const n = 3 * symbolsFor(k) + 8;
          const remote = encode(remoteSet(s), 0, n);
          corrupt(remote, c, 0);
          const d = new Decoder();
          d.extend(remote, encode(localSet(s), 0, n));
          expect(d.decoded()).toBe(false);
          expect(d.remoteOnly.length + d.localOnly.length).toBeLessThanOrEqual(k);
        }),
        { numRuns: 100 },
      );
    });

    it('a symbol is pure only when all 48 bits of its checksum match (the upper 16 too)', () => {
      const x = seededRandom(31).bytes(32);
      for (const flip of [1, 0x8000]) {
        const remote = encode([x], 0, 1);
        remote.checks[1] ^= flip;
        const d = new Decoder();
        d.extend(remote, new Symbols(0, 1));
        expect(d.decoded()).toBe(false);
        expect(d.remoteOnly).toEqual([]);
      }
      const low = encode([x], 0, 1);
      low.checks[0] ^= 1 << 31;
      const d = new Decoder();
      d.extend(low, new Symbols(0, 1));
      expect(d.decoded()).toBe(false);
    });

    it('random garbage does not decode, and ends (failure or not decoded) without hanging', () => {
      const random = seededRandom(13);
      for (let t = 0; t < 30; t++) {
        const n = 1 + (t * 37) % 300;
        const garbage = Symbols.restore({
          from: 0,
          to: n,
          sums: new Uint32Array(random.bytes(16 * n).buffer),
          checks: new Uint32Array(random.bytes(8 * n).buffer).map((x, i) => (i % 2 ? x & 0xffff : x)),
          counts: new Int32Array(n).map(() => Math.floor(random.float() * 5) - 2),
        });
        const d = new Decoder();
        d.extend(garbage, encode(randomSets(random, 20, 0, 0).common, 0, n));
        expect(d.decoded()).toBe(false);
        if (d.failure !== null) expect(d.failure).toMatch(/recovered twice|more ids than/);
      }
    });

    it('an id that is pure where its walk does not lead fails as recovered twice', () => {
      const random = seededRandom(21);
      const id = random.bytes(32);
      const item = codedItem(id);
      const onWalk = new Set<number>([0]);
      const walk = new IndexWalk(item);
      for (let i = walk.next(); i < 64; i = walk.next()) onWalk.add(i);
      const off = [...Array(64).keys()].find((i) => !onWalk.has(i))!;
      const remote = encode([id], 0, 64);
      remote.touch(off, item, 1);
      const d = new Decoder();
      d.extend(remote, new Symbols(0, 64));
      expect(d.failure).toBe('an id was recovered twice');
      expect(d.decoded()).toBe(false);
    });
  });

  describe('estimate', () => {
    it('is within a factor of 1.6 of k once about 2·k symbols came, and close on the median (fixed seed)', () => {
      const random = seededRandom(99);
      for (const k of [32, 128, 400]) {
        const ratios: number[] = [];
        for (let t = 0; t < 15; t++) {
          const s = randomSets(random, 10, k >> 1, k - (k >> 1));
          const d = new Decoder();
          d.extend(encode(remoteSet(s), 0, 2 * k), encode(localSet(s), 0, 2 * k));
          ratios.push(d.estimate() / k);
        }
        ratios.sort((x, y) => x - y);
        expect(ratios[0], `k = ${k}`).toBeGreaterThan(1 / 1.6);
        expect(ratios[ratios.length - 1], `k = ${k}`).toBeLessThan(1.6);
        expect(Math.abs(ratios[7] - 1), `k = ${k}`).toBeLessThan(0.2);
      }
    });

    it('says "many more" (at least the symbols received) when far fewer symbols came than differences', () => {
      const random = seededRandom(100);
      for (let t = 0; t < 10; t++) {
        const s = randomSets(random, 0, 256, 256);
        const d = new Decoder();
        d.extend(encode(remoteSet(s), 0, 64), encode(localSet(s), 0, 64));
        expect(d.decoded()).toBe(false);
        expect(d.estimate()).toBeGreaterThanOrEqual(64);
      }
    });

    it('grows with k (fixed seed)', () => {
      const random = seededRandom(101);
      const median = (k: number) => {
        const e: number[] = [];
        for (let t = 0; t < 9; t++) {
          const s = randomSets(random, 5, k, 0);
          const d = new Decoder();
          d.extend(encode(remoteSet(s), 0, 200), encode(localSet(s), 0, 200));
          e.push(d.estimate());
        }
        return e.sort((x, y) => x - y)[4];
      };
      const m = [4, 16, 64].map(median);
      expect(m[0]).toBeLessThan(m[1]);
      expect(m[1]).toBeLessThan(m[2]);
    });

    it('with fewer than 2 symbols counts the ids recovered', () => {
      const d = new Decoder();
      expect(d.estimate()).toBe(0);
      const s = randomSets(seededRandom(4), 3, 1, 0);
      d.extend(encode(remoteSet(s), 0, 1), encode(localSet(s), 0, 1));
      expect(d.estimate()).toBe(1);
    });
  });
});
