/** Token buckets (runtime/base/rate.ts): the per-connection limit of the client edge and the relay's per-caller budget. */
import { describe, expect, it } from 'vitest';
import { keyedTokenBuckets, tokenBucket } from '../../../runtime/base/rate.js';

describe('token buckets', () => {
  it('start full, refuse once empty, and refill at the rate', () => {
    let now = 0;
    const take = tokenBucket(10, 3, () => now);
    expect([take(), take(), take(), take()]).toEqual([true, true, true, false]);
    now += 100; // one token
    expect([take(), take()]).toEqual([true, false]);
    now += 10_000; // never more than the burst
    expect(Array.from({ length: 4 }, take)).toEqual([true, true, true, false]);
  });

  it('keep one budget per caller, so one caller emptying its own does not stop another', () => {
    const now = 0;
    const take = keyedTokenBuckets(1, 2, () => now);
    expect([take('flood'), take('flood'), take('flood')]).toEqual([true, true, false]);
    expect(take('other')).toBe(true);
  });

  it('drop the bucket unused longest when full (a dropped caller starts full again)', () => {
    const now = 0;
    const take = keyedTokenBuckets(1, 1, () => now, 2);
    expect([take('a'), take('a')]).toEqual([true, false]);
    take('b');
    expect(take('a')).toBe(false); // used recently: kept
    take('c'); // evicts b, the one unused longest
    expect(take('a')).toBe(false);
    expect(take('b')).toBe(true);
  });
});
