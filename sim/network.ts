/**
 * The simulated internet between the nodes: the conditions the in-memory transport applies to every
 * message (runtime/net/memory-transport.ts), all drawn from the network's seeded random source.
 *
 * - latency: log-normal one-way delay whose median is half `rttMs` (σ = 0.5 of the log, cut at 8× the
 *   median), so messages overtake one another (reordering comes from the spread, as on the internet);
 * - loss and duplication: each message independently;
 * - partitions: while one is on, the nodes on its cut side and the others cannot reach each other.
 */
import type { Random } from '../protocols/random.js';
import type { NetworkConditions } from '../runtime/net/memory-transport.js';

export interface LinkOptions {
  /** Median round trip, ms (default 50). */
  rttMs: number;
  /** Probability that a message is lost. */
  loss: number;
  /** Probability that a message arrives twice. */
  duplicate: number;
}

/** One partition of the run: from `atS` (seconds after the traffic starts) for `durationS`, `fraction` of the nodes cut off. */
export interface PartitionSpec {
  atS: number;
  durationS: number;
  fraction: number;
}

export class SimNetwork {
  /** The addresses cut off from the rest while a partition is on. */
  private cut: Set<string> | null = null;

  constructor(private readonly link: LinkOptions) {}

  get partitioned(): boolean {
    return this.cut !== null;
  }

  /** Cuts `addresses` off from every other node. */
  partition(addresses: Iterable<string>): void {
    this.cut = new Set(addresses);
  }

  heal(): void {
    this.cut = null;
  }

  /** Whether `address` is on the cut side of the partition now. */
  isCut(address: string): boolean {
    return this.cut?.has(address) ?? false;
  }

  conditions(): NetworkConditions {
    const { rttMs, loss, duplicate } = this.link;
    const median = rttMs / 2;
    return {
      latencyMs: (_from, _to, random) => Math.min(8 * median, median * Math.exp(0.5 * normal(random))),
      lost: loss > 0 ? (_from, _to, random) => random.float() < loss : undefined,
      duplicated: duplicate > 0 ? (_from, _to, random) => random.float() < duplicate : undefined,
      reachable: (from, to) => this.cut === null || this.cut.has(from) === this.cut.has(to),
    };
  }
}

/** A standard normal draw (Box–Muller). */
export function normal(random: Random): number {
  const u = 1 - random.float();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.float());
}

/** An exponential draw with mean `mean` (the gap between events of a Poisson process). */
export function exponential(random: Random, mean: number): number {
  return -Math.log(1 - random.float()) * mean;
}
