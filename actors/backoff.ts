/**
 * Exponential backoff, the one rule for every retry: the bootstrap, the SDK's reconnects and a
 * registration's retries.
 */

/** The wait before retry number `failures` (1 for the first): `baseMs`, doubled for each further failure, at most `maxMs`. */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
}
