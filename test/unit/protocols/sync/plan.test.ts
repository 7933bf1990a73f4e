/**
 * The decisions of a sync session (protocols/sync/plan.ts) as pure functions: how many symbols k
 * differences call for, the first batch and request, how the next batch grows after a stream that did not
 * decode (and that it stays within the cap and a message), the cap itself, and when listing ids beats coding.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_SYMBOLS_PER_MESSAGE, SYMBOL_BYTES } from '../../../../protocols/sync/messages.js';
import { FEW_DIFFERENCES, firstBatch, firstRequest, listingIsCheaper, nextBatchEnd, symbolCap, symbolsFor } from '../../../../protocols/sync/plan.js';
import { ID_PREFIX_BYTES } from '../../../../protocols/sync/sync-index.js';

describe('symbolsFor', () => {
  it('is one symbol for at most one difference, then ⌈1.4·k + 1.5·√k + 1⌉', () => {
    expect(symbolsFor(0)).toBe(1);
    expect(symbolsFor(1)).toBe(1);
    expect(symbolsFor(2)).toBe(6); // ⌈2.8 + 2.12 + 1⌉
    expect(symbolsFor(4)).toBe(10); // 5.6 + 3 + 1 = 9.6
    expect(symbolsFor(16)).toBe(30); // 22.4 + 6 + 1 = 29.4
    expect(symbolsFor(100)).toBe(156); // 140 + 15 + 1
    expect(symbolsFor(1024)).toBe(1483); // 1433.6 + 48 + 1
  });

  it('grows with k, stays above 1.4·k and tends to 1.4·k', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 1_000_000 }), (k) => {
        expect(symbolsFor(k + 1)).toBeGreaterThanOrEqual(symbolsFor(k));
        expect(symbolsFor(k)).toBeGreaterThan(1.4 * k);
        expect(symbolsFor(k)).toBeLessThanOrEqual(1.4 * k + 1.5 * Math.sqrt(k) + 2);
        expect(Number.isInteger(symbolsFor(k))).toBe(true);
      }),
    );
    expect(symbolsFor(1_000_000) / 1_000_000).toBeLessThan(1.402);
  });
});

describe('firstBatch', () => {
  it('is a single symbol when one item differs by both estimate and counts (symbol 0 then holds it)', () => {
    expect(firstBatch(1, 1)).toBe(1);
    expect(firstBatch(1, -1)).toBe(1);
    expect(firstBatch(0, 1)).toBe(1);
  });

  it('is what the estimate calls for otherwise (counts equal, or more than one apart)', () => {
    expect(firstBatch(1, 0)).toBe(symbolsFor(1));
    expect(firstBatch(2, 0)).toBe(symbolsFor(2));
    expect(firstBatch(2, 2)).toBe(symbolsFor(2));
    expect(firstBatch(1, 3)).toBe(symbolsFor(1));
    expect(firstBatch(FEW_DIFFERENCES, 1)).toBe(symbolsFor(FEW_DIFFERENCES));
  });

  it('never exceeds a message', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: -1000, max: 1000 }), (e, delta) => {
        const n = firstBatch(e, delta);
        expect(n).toBeGreaterThanOrEqual(1);
        expect(n).toBeLessThanOrEqual(MAX_SYMBOLS_PER_MESSAGE);
      }),
    );
    expect(firstBatch(1e6, 0)).toBe(MAX_SYMBOLS_PER_MESSAGE);
  });
});

describe('firstRequest', () => {
  it('asks for the symbols of 1.4 times the estimate, at most a message', () => {
    expect(firstRequest(10)).toBe(symbolsFor(14));
    expect(firstRequest(3)).toBe(symbolsFor(5)); // ⌈4.2⌉
    expect(firstRequest(100)).toBe(symbolsFor(140));
    expect(firstRequest(100)).toBeGreaterThan(symbolsFor(100));
    expect(firstRequest(1e6)).toBe(MAX_SYMBOLS_PER_MESSAGE);
  });

  it('grows with the estimate', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), (e) => {
        expect(firstRequest(e + 1)).toBeGreaterThanOrEqual(firstRequest(e));
        expect(firstRequest(e)).toBeGreaterThanOrEqual(Math.min(MAX_SYMBOLS_PER_MESSAGE, symbolsFor(e)));
      }),
    );
  });
});

describe('nextBatchEnd', () => {
  const big = 1e9;

  it('at least doubles what came, past what came, within the cap and one message', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 1, max: 2_000_000 }), (received, estimate, capAbove) => {
        const cap = received + capAbove;
        const end = nextBatchEnd(received, estimate, cap);
        expect(end).toBeGreaterThan(received);
        expect(end).toBeLessThanOrEqual(cap);
        expect(end - received).toBeLessThanOrEqual(MAX_SYMBOLS_PER_MESSAGE);
        expect(end).toBe(Math.min(cap, received + MAX_SYMBOLS_PER_MESSAGE, Math.max(end, 2 * received)));
      }),
    );
  });

  it('asks for more when the decoder estimates more, up to what 1.5 times the symbols received can tell', () => {
    expect(nextBatchEnd(10, 1, big)).toBe(20); // doubling
    expect(nextBatchEnd(100, 100, big)).toBe(Math.max(200, Math.ceil(1.35 * symbolsFor(100))));
    expect(nextBatchEnd(100, 150, big)).toBe(Math.ceil(1.35 * symbolsFor(150)));
    // Past 1.5·received the estimate says only "many more": it is capped there.
    expect(nextBatchEnd(100, 10_000, big)).toBe(nextBatchEnd(100, 150, big));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 20_000 }), (received, estimate) => {
        expect(nextBatchEnd(received, estimate + 1, big)).toBeGreaterThanOrEqual(nextBatchEnd(received, estimate, big));
      }),
    );
  });

  it('grows a stream from one symbol to the cap in a few batches', () => {
    for (const cap of [2, 64, 1000, 200_000]) {
      let received = 1;
      let batches = 0;
      while (received < cap) {
        const next = nextBatchEnd(received, 1, cap);
        expect(next).toBeGreaterThan(received);
        received = next;
        batches++;
      }
      expect(received).toBe(cap);
      expect(batches).toBeLessThanOrEqual(Math.ceil(Math.log2(cap)) + Math.ceil(cap / MAX_SYMBOLS_PER_MESSAGE));
    }
  });

  it('never passes the cap, even when the cap is reached (the caller then stops)', () => {
    expect(nextBatchEnd(64, 10, 64)).toBe(64);
    expect(nextBatchEnd(100, 10, 64)).toBeLessThanOrEqual(100);
  });
});

describe('symbolCap', () => {
  it('is 2·(n₁ + n₂) + 64, growing with either set', () => {
    expect(symbolCap(0, 0)).toBe(64);
    expect(symbolCap(10, 0)).toBe(84);
    expect(symbolCap(100, 28)).toBe(320);
    fc.assert(
      fc.property(fc.nat(1e7), fc.nat(1e7), (a, b) => {
        expect(symbolCap(a, b)).toBe(symbolCap(b, a));
        expect(symbolCap(a + 1, b)).toBeGreaterThan(symbolCap(a, b));
        // Always room for the symbols of every possible difference (at most n₁ + n₂ ids differ).
        expect(symbolCap(a, b)).toBeGreaterThan(1.4 * (a + b));
      }),
    );
  });
});

describe('listingIsCheaper', () => {
  it('lists a tiny set rather than code many differences', () => {
    expect(listingIsCheaper(50, 3)).toBe(true);
    expect(listingIsCheaper(10, 0)).toBe(true);
  });

  it('codes a few differences rather than list a large set', () => {
    expect(listingIsCheaper(2, 1000)).toBe(false);
    expect(listingIsCheaper(1, 10)).toBe(false);
    expect(listingIsCheaper(0, 5)).toBe(false);
  });

  it('compares the bytes: the symbols the estimate calls for against the listed prefixes and a round trip', () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.nat(1_000_000), (e, listed) => {
        expect(listingIsCheaper(e, listed)).toBe(symbolsFor(e) * SYMBOL_BYTES > listed * ID_PREFIX_BYTES + 64);
      }),
    );
    // At the crossing: 10 differences cost symbolsFor(10) = 20 symbols of 24 bytes = 480 bytes = 52 ids + 64.
    expect(symbolsFor(10) * SYMBOL_BYTES).toBe(480);
    expect(listingIsCheaper(10, 51)).toBe(true);
    expect(listingIsCheaper(10, 52)).toBe(false);
  });

  it('is monotone: fewer listed or more differences never turn listing down', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(100_000), (e, listed) => {
        if (listingIsCheaper(e, listed + 1)) expect(listingIsCheaper(e, listed)).toBe(true);
        if (listingIsCheaper(e, listed)) expect(listingIsCheaper(e + 1, listed)).toBe(true);
      }),
    );
  });
});
