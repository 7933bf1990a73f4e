/**
 * The node clock (SPEC §10): whole seconds since the Unix epoch, from the system or, in test mode, set
 * only by `debug.set_time` / `debug.advance_time`. It drives timestamps, time rules and scheduled jobs;
 * transport and session timing always use the monotonic wall clock (`performance.now()`).
 */
import { SignpostError } from '../../protocols/errors.js';

export interface Clock {
  readonly kind: 'system' | 'manual';
  /** Now, in whole seconds. */
  now(): number;
}

export class SystemClock implements Clock {
  readonly kind = 'system' as const;
  now(): number {
    return Math.floor(Date.now() / 1000);
  }
}

/** Time that moves only when told to (test mode). */
export class ManualClock implements Clock {
  readonly kind = 'manual' as const;
  private current: number;

  constructor(start: number) {
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
