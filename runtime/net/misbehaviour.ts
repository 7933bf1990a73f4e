/**
 * The misbehaviour budget of SPEC §8: every protocol violation (a frame that does not decode, a failed
 * schema, a forged answer) costs the peer points; a peer over its budget within a minute is banned for a
 * while. Kept per peer id, across all of its connections, on the wall clock.
 */
import type { Timers } from '../base/clock.js';

export interface MisbehaviourOptions {
  timers: Timers;
  /** Points a peer may cost per minute (default 16). */
  budget?: number;
  /** How long a ban lasts (default ten minutes). */
  banMs?: number;
}

const WINDOW_MS = 60_000;

export class Misbehaviour {
  private readonly penalties = new Map<string, { points: number; since: number }>();
  private readonly bans = new Map<string, number>();
  readonly budget: number;
  readonly banMs: number;

  constructor(private readonly opts: MisbehaviourOptions) {
    this.budget = opts.budget ?? 16;
    this.banMs = opts.banMs ?? 600_000;
  }

  isBanned(peerId: string): boolean {
    const until = this.bans.get(peerId);
    if (until === undefined) return false;
    if (until > this.opts.timers.now()) return true;
    this.bans.delete(peerId);
    return false;
  }

  /** Adds `points` against `peerId`; true when that puts it over budget (it is banned from now on). */
  penalise(peerId: string, points = 1): boolean {
    const now = this.opts.timers.now();
    let p = this.penalties.get(peerId);
    if (!p || now - p.since > WINDOW_MS) this.penalties.set(peerId, (p = { points: 0, since: now }));
    p.points += points;
    if (p.points <= this.budget) return false;
    this.penalties.delete(peerId);
    this.bans.set(peerId, now + this.banMs);
    return true;
  }

  /** Forgets expired penalties and bans (bounded memory). */
  sweep(): void {
    const now = this.opts.timers.now();
    for (const [peer, until] of this.bans) if (until <= now) this.bans.delete(peer);
    for (const [peer, p] of this.penalties) if (now - p.since > WINDOW_MS) this.penalties.delete(peer);
  }
}
