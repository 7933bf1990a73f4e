/**
 * Time as a node sees it (SPEC §10), injected into everything that waits or stamps:
 *
 * - the **node clock**, whole seconds since the Unix epoch, from the system or, in test mode, set only by
 *   `debug.set_time` / `debug.advance_time`. It drives timestamps, time rules and scheduled jobs;
 * - the **wall clock** (`Timers`): monotonic milliseconds and timers, for transport and session timing,
 *   timeouts, backoff and passivation, which run on it in both clock modes.
 *
 * A real node runs on `systemTimers`; the in-memory network and the simulator pass timers of their own, so
 * the same code runs in virtual time.
 */
import { SignpostError } from '../../protocols/errors.js';

/** A handle returned by `Timers.setTimeout`, for `clearTimeout` only. */
export type TimerHandle = unknown;

/** The monotonic wall clock and its timers. XState's `clock` option takes this interface as it is. */
export interface Timers {
  /** Monotonic milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The process's own timers. A timer never keeps the process alive by itself (`unref`): the node's server
 * and sockets do, so a stopped node exits even if some wait is still armed.
 */
export const systemTimers: Timers = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout> | undefined),
};

export interface Clock {
  readonly kind: 'system' | 'manual';
  /** The node clock, in whole seconds. */
  now(): number;
  /** The wall clock of the same node. */
  readonly wall: Timers;
}

export class SystemClock implements Clock {
  readonly kind = 'system' as const;
  constructor(readonly wall: Timers = systemTimers) {}
  now(): number {
    return Math.floor(Date.now() / 1000);
  }
}

/** Time that moves only when told to (test mode). */
export class ManualClock implements Clock {
  readonly kind = 'manual' as const;
  private current: number;

  constructor(
    start: number,
    readonly wall: Timers = systemTimers,
  ) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  /** Jumps to `to`; time never goes backwards. */
  set(to: number): number {
    if (!Number.isSafeInteger(to) || to < this.current) {
      throw new SignpostError('invalid_params', `debug.set_time: time never goes backwards (now ${this.current}, asked ${to})`);
    }
    this.current = to;
    return to;
  }

  /** The time `seconds` from now, checked (a non-negative integer that keeps now within 2^53 − 1). */
  after(seconds: unknown): number {
    if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds < 0 || !Number.isSafeInteger(this.current + seconds)) {
      throw new SignpostError('invalid_params', `debug.advance_time: seconds must be a non-negative integer, got ${JSON.stringify(seconds)}`);
    }
    return this.current + seconds;
  }

  /** Steps forward by `seconds`. */
  advance(seconds: number): number {
    return this.set(this.after(seconds));
  }
}
