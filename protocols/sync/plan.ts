/**
 * How much to send when: the decisions of a sync session, as pure functions of what both sides know.
 *
 * The numbers come from the decoder itself (test/unit/protocols/sync/riblt.test.ts checks them): k
 * differences decode from about 1.38·k symbols at k = 1024 and from relatively more for small k (1.6·k at
 * k = 16, 1.75·k at k = 4, with a long tail), and one difference always decodes from symbol 0 alone.
 */
import { ID_PREFIX_BYTES } from './sync-index.js';
import { MAX_SYMBOLS_PER_MESSAGE, SYMBOL_BYTES } from './messages.js';

/** Symbols that decode `k` differences about three times in four. */
export function symbolsFor(k: number): number {
  return k <= 1 ? 1 : Math.ceil(1.4 * k + 1.5 * Math.sqrt(k) + 1);
}

/**
 * The responder's first batch, sent with its summary: one symbol when the estimate and the counts say
 * one item differs (symbol 0 then holds exactly it), else enough for the estimate.
 */
export function firstBatch(estimate: number, countDelta: number): number {
  if (estimate <= 1 && Math.abs(countDelta) === 1) return 1;
  return Math.min(MAX_SYMBOLS_PER_MESSAGE, symbolsFor(estimate));
}

/**
 * The initiator's first request for symbols, after the suffix table: 1.4 times the estimate (from 32
 * sketches, within 25 % or so), so that one more batch nearly always finishes (a session then stays
 * within four round trips).
 */
export function firstRequest(estimate: number): number {
  return Math.min(MAX_SYMBOLS_PER_MESSAGE, symbolsFor(Math.ceil(1.4 * estimate)));
}

/**
 * After `received` symbols did not decode: where the next batch ends. Twice as many, or more when the
 * decoder's own estimate (from the symbols received, far sharper than the sketch once there are many)
 * calls for more; with few symbols the estimate is loose (past 1.5·received it says only "many more"), so it is capped there.
 */
export function nextBatchEnd(received: number, decoderEstimate: number, cap: number): number {
  const target = Math.max(2 * received, Math.ceil(1.35 * symbolsFor(Math.min(decoderEstimate, 1.5 * received))), received + 1);
  return Math.min(cap, received + MAX_SYMBOLS_PER_MESSAGE, target);
}

/**
 * The most symbols a session may use, over both sets' sizes: past about 2·(n₁ + n₂) a listing is cheaper
 * anyway, so an initiator that asks for more, or a stream that still does not decode, is cut off there.
 */
export function symbolCap(countA: number, countB: number): number {
  return 2 * (countA + countB) + 64;
}

/**
 * Up to this many estimated differences, the responder sends the first symbols with its summary (they
 * cost less than the suffix table, and save a round trip); past it, the suffix table, so the initiator can
 * choose to list a recent suffix instead.
 */
export const FEW_DIFFERENCES = 2;

/**
 * Whether listing the responder's `listed` ids (the items of the suffix that holds every difference, or
 * all of the range) costs fewer bytes than the symbols the estimate calls for (a listing page costs a
 * round trip: about 64 bytes of frames).
 */
export function listingIsCheaper(estimate: number, listed: number): boolean {
  return symbolsFor(estimate) * SYMBOL_BYTES > listed * ID_PREFIX_BYTES + 64;
}
