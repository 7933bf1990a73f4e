/**
 * The node clock (SPEC §10): whole seconds since the Unix epoch, from the system or, in test mode, set
 * only by `debug.set_time` / `debug.advance_time`. It drives timestamps, time rules and scheduled jobs;
 * transport and session timing always use the monotonic wall clock (`performance.now()`).
 */
import { SignpostError } from '../protocols/errors.js';

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

/**
 * Time that moves only when told to. Listeners (the job scheduler) are called for every step so that
 * everything due up to the new time runs, in time order, before `set` / `advance` resolve.
 */
export class ManualClock implements Clock {
  readonly kind = 'manual' as const;
  private current: number;
  private readonly listeners = new Set<(from: number, to: number, jump: boolean) => Promise<void> | void>();

  constructor(start: number) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  /** Jumps to `to` (SPEC §5: an overdue job runs once, at the new time). */
  async set(to: number): Promise<number> {
    if (!Number.isSafeInteger(to) || to < this.current) {
      throw new SignpostError('invalid_params', `debug.set_time: time never goes backwards (now ${this.current}, asked ${to})`);
    }
    return this.move(to, true);
  }

  /** Steps forward by `seconds` (SPEC §5: every due time in between fires, in order). */
  async advance(seconds: number): Promise<number> {
    if (!Number.isSafeInteger(seconds) || seconds < 0 || !Number.isSafeInteger(this.current + seconds)) {
      throw new SignpostError('invalid_params', `debug.advance_time: seconds must be a non-negative integer, got ${seconds}`);
    }
    return this.move(this.current + seconds, false);
  }

  private async move(to: number, jump: boolean): Promise<number> {
    const from = this.current;
    if (this.listeners.size === 0) {
      this.current = to;
      return to;
    }
    for (const l of this.listeners) await l(from, to, jump);
    this.current = to;
    return to;
  }

  /** Used by schedulers that step time themselves: sets the current time during a step. */
  stepTo(t: number): void {
    if (t >= this.current) this.current = t;
  }

  onMove(fn: (from: number, to: number, jump: boolean) => Promise<void> | void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
