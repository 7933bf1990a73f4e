/**
 * The simulator (sim/): real nodes from composeNode, in virtual time on the in-memory network. A run is
 * judged by its invariants (acknowledged providers resolve, unregistered ones stop resolving, replicas
 * converge after a heal), and it replays from its seed: the digest of its whole trace is the same for the
 * same seed and options, and differs for another seed.
 */
import { describe, expect, it } from 'vitest';
import { runSim, type SimSummary } from '../../sim/sim.js';

const quiet = () => undefined;

describe('200 nodes with churn and a partition that heals', () => {
  it('keeps every acknowledged provider resolvable, returns no unregistered one, and converges after the heal', async () => {
    const lines: object[] = [];
    const s = await runSim(
      { nodes: 200, seed: 11, hours: 0.05, churn: 1, resources: 10, providers: 40, partitions: [{ atS: 30, durationS: 60, fraction: 0.3 }], minSuccess: 0.99 },
      (l) => lines.push(l),
    );
    expect(lines.filter((l) => (l as { sim: string }).sim === 'violation')).toEqual([]);
    expect(s.violations).toBe(0);
    expect(s.churn_events).toBeGreaterThan(0);
    expect(s.resolves).toBeGreaterThan(50);
    expect(s.resolve_success_rate).toBeGreaterThanOrEqual(0.99);
    expect(s.resolves_partitioned).toBeGreaterThan(0);
    expect(s.stale_reads).toBe(0);
    expect(s.converged).toBe(true);
    expect(s.lookup_hops_p50).toBeLessThanOrEqual(Math.ceil(Math.log2(200) / 3) + 1);
    expect(s.node_errors).toBe(0);
  }, 170_000);
});

describe('replay', () => {
  const options = { nodes: 40, hours: 0.03, churn: 3, loss: 0.01, duplicate: 0.01, resources: 5, providers: 20, partitions: [{ atS: 20, durationS: 30, fraction: 0.25 }] };
  const run = (seed: number): Promise<SimSummary> => runSim({ ...options, seed }, quiet);

  it('gives the same digest for the same seed and another one for another seed', async () => {
    const a = await run(3);
    const b = await run(3);
    const c = await run(4);
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(b.digest).toBe(a.digest);
    expect({ ...b, wall_s: 0, events_per_wall_s: 0, max_rss_mb: 0, heap_per_node_bytes: 0, heap_growth: 0 }).toEqual({ ...a, wall_s: 0, events_per_wall_s: 0, max_rss_mb: 0, heap_per_node_bytes: 0, heap_growth: 0 });
    expect(c.digest).not.toBe(a.digest);
    expect(a.churn_events).toBeGreaterThan(0);
  }, 120_000);
});
