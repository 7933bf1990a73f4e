/**
 * Token buckets: the rate limits of the client edge (per connection) and of the relay (per caller).
 *
 * @example
 * const take = tokenBucket(2000, 4000, () => performance.now());
 * if (!take()) throw new SignpostError('rate_limited', '…');
 */

/** A token bucket: `perSecond` refill, `burst` capacity, starts full; `now` is monotonic milliseconds. */
export function tokenBucket(perSecond: number, burst: number, now: () => number): () => boolean {
  let tokens = burst;
  let last = now();
  return () => {
    const t = now();
    tokens = Math.min(burst, tokens + ((t - last) * perSecond) / 1000);
    last = t;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}

/**
 * One token bucket per key (a caller), at most `maxKeys` of them: the bucket unused longest is dropped
 * first (a dropped key starts full again, which only ever lets a caller through).
 */
export function keyedTokenBuckets(perSecond: number, burst: number, now: () => number, maxKeys = 10_000): (key: string) => boolean {
  const buckets = new Map<string, () => boolean>();
  return (key) => {
    let take = buckets.get(key);
    if (take) buckets.delete(key);
    else {
      take = tokenBucket(perSecond, burst, now);
      if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value!);
    }
    buckets.set(key, take);
    return take();
  };
}
