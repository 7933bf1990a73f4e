/**
 * Virtual time for the simulator: one event queue for the whole simulated world, ordered by (due time,
 * insertion order), so the same calls always fire in the same order. Every node gets its own `Timers` from
 * it (its wall clock) and a `Clock` of kind `system` on the same time (its node clock): the node runs its
 * real timers, jobs and jitter exactly as on a machine, only the time is the simulator's. A node that
 * crashes has its timers dropped with it: nothing of a dead node runs again.
 *
 * @example
 * const time = new VirtualTime(1_700_000_000_000);
 * const owner = time.owner();
 * owner.timers.setTimeout(() => console.log(time.now()), 50);
 * await time.runUntil(time.now() + 1000, () => Promise.resolve());
 */
import type { Clock, Timers } from '../runtime/base/clock.js';

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  owner: Owner;
  cancelled: boolean;
}

/** The timers of one node (or of the workload), which can all be dropped at once. */
export interface Owner {
  readonly timers: Timers;
  /** The node clock of this owner: whole seconds of virtual time, as `SystemClock` reads the system's. */
  readonly clock: Clock;
  alive: boolean;
}

export class VirtualTime {
  private current: number;
  private seq = 0;
  private readonly heap: Event[] = [];
  /** Events that have run. */
  events = 0;

  /**
   * `startMs`: the virtual epoch, in milliseconds since the Unix epoch. `wrap` sees every timer callback as
   * it is set (the simulator binds it to the operation that set it, to count messages per operation).
   */
  constructor(
    startMs: number,
    private readonly wrap: (fn: () => void) => () => void = (fn) => fn,
  ) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  get pending(): number {
    return this.heap.length;
  }

  owner(): Owner {
    const self = this;
    const owner: Owner = {
      alive: true,
      timers: {
        now: () => self.current,
        setTimeout(fn, ms) {
          const e: Event = { at: self.current + Math.max(0, Number.isFinite(ms) ? ms : 0), seq: self.seq++, fn: self.wrap(fn), owner, cancelled: false };
          self.push(e);
          return e;
        },
        clearTimeout(handle) {
          if (handle && typeof handle === 'object' && 'cancelled' in handle) (handle as Event).cancelled = true;
        },
      },
      clock: { kind: 'system', now: () => Math.floor(self.current / 1000), wall: null as unknown as Timers },
    };
    (owner.clock as { wall: Timers }).wall = owner.timers;
    return owner;
  }

  /**
   * Runs every event due up to `untilMs` in order, then sets the time to `untilMs`. After each event,
   * `settle` is awaited: it lets the promise chains the event started run to their next wait, so every
   * event sees the world its predecessors left.
   */
  async runUntil(untilMs: number, settle: () => Promise<void>): Promise<void> {
    for (;;) {
      const e = this.heap[0];
      if (!e || e.at > untilMs) break;
      this.pop();
      if (e.cancelled || !e.owner.alive) continue;
      this.current = e.at;
      this.events++;
      e.fn();
      await settle();
    }
    this.current = Math.max(this.current, untilMs);
  }

  private push(e: Event): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = e;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && before(h[r], h[l]) ? r : l;
      if (!before(h[c], last)) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
