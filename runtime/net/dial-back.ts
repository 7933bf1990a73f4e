/**
 * Checking an address a peer announces before it is passed on: the node dials the address back and
 * checks that the same peer answers there. Until then the peer may talk to this node, but it does not
 * enter the routing table, so no other node is told an address that does not reach it (a wildcard, a
 * private address behind NAT, a typo in `announce`).
 *
 * Bounded and rate-limited, so a stream of peers with new addresses cannot make the node dial without end:
 * at most `concurrency` checks at once and `perMinute` new ones a minute; more wait their turn (up to
 * `queue`, then they are dropped and tried again the next time the peer connects). Outcomes are
 * remembered: a verified address for an hour; a failed one for 5 s, doubling with each further failure
 * up to ten minutes, so a check lost to a busy moment is soon made again (a peer still talking to this
 * node is checked again once that time is over), and an address that never works costs little.
 */
import { backoffMs } from '../../actors/backoff.js';
import type { Timers } from '../base/clock.js';

export interface DialBackOptions {
  timers: Timers;
  /** Dials `address` and resolves with the peer id that authenticated there. */
  dial(address: string): Promise<string>;
  concurrency?: number;
  perMinute?: number;
  queue?: number;
}

const VERIFIED_FOR_MS = 3_600_000;
const FIRST_RETRY_MS = 5_000;
const LAST_RETRY_MS = 600_000;
const MAX_REMEMBERED = 10_000;

export class DialBack {
  private readonly outcomes = new Map<string, { ok: boolean; until: number; failures: number }>();
  /** Consecutive failed checks of each peer and address (kept past the outcome's expiry). */
  private readonly failures = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;
  private window: { start: number; count: number } = { start: 0, count: 0 };
  private timer: unknown = null;

  constructor(private readonly opts: DialBackOptions) {}

  /** Records an address known to reach `peerId` (this node dialled it and `peerId` answered). */
  verified(peerId: string, address: string): void {
    this.remember(peerId, address, true);
  }

  /** The remembered outcome for `peerId` at `address`, or undefined when it must be checked. */
  known(peerId: string, address: string): boolean | undefined {
    const o = this.outcomes.get(`${peerId} ${address}`);
    if (!o) return undefined;
    if (o.until > this.opts.timers.now()) return o.ok;
    this.outcomes.delete(`${peerId} ${address}`);
    return undefined;
  }

  /** Whether `peerId` answers at `address`: remembered, or checked now (within the bounds). */
  check(peerId: string, address: string): Promise<boolean> {
    const known = this.known(peerId, address);
    if (known !== undefined) return Promise.resolve(known);
    const id = `${peerId} ${address}`;
    let p = this.inFlight.get(id);
    if (!p) {
      if (this.waiting.length >= (this.opts.queue ?? 64)) return Promise.resolve(false);
      p = this.turn()
        .then(() => this.opts.dial(address))
        .then((answered) => answered === peerId, () => false)
        .then((ok) => {
          this.remember(peerId, address, ok);
          return ok;
        })
        .finally(() => {
          this.inFlight.delete(id);
          this.running--;
          this.next();
        });
      this.inFlight.set(id, p);
    }
    return p;
  }

  close(): void {
    this.opts.timers.clearTimeout(this.timer);
    this.waiting.length = 0;
  }

  private remember(peerId: string, address: string, ok: boolean): void {
    const id = `${peerId} ${address}`;
    const failures = ok ? 0 : (this.failures.get(id) ?? 0) + 1;
    if (this.outcomes.size >= MAX_REMEMBERED) this.outcomes.clear();
    if (this.failures.size >= MAX_REMEMBERED) this.failures.clear();
    if (ok) this.failures.delete(id);
    else this.failures.set(id, failures);
    this.outcomes.set(id, { ok, until: this.opts.timers.now() + (ok ? VERIFIED_FOR_MS : backoffMs(failures, FIRST_RETRY_MS, LAST_RETRY_MS)), failures });
  }

  /** Resolves when a check may start. */
  private turn(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.next();
    });
  }

  private next(): void {
    const now = this.opts.timers.now();
    if (now - this.window.start >= 60_000) this.window = { start: now, count: 0 };
    while (this.waiting.length > 0 && this.running < (this.opts.concurrency ?? 4) && this.window.count < (this.opts.perMinute ?? 120)) {
      this.running++;
      this.window.count++;
      this.waiting.shift()!();
    }
    // Over the rate: try again when the minute is over.
    if (this.waiting.length > 0 && this.running < (this.opts.concurrency ?? 4) && this.timer === null) {
      this.timer = this.opts.timers.setTimeout(() => {
        this.timer = null;
        this.next();
      }, this.window.start + 60_000 - now);
    }
  }
}
