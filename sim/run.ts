/**
 * `npm run sim -- [options]`: one deterministic simulated run (sim.ts), JSON lines on stdout: `progress`
 * every simulated 10 minutes, any `violation` (with the seed and the simulated time), and one `summary`.
 * Exits 1 if an invariant was violated, 2 on a bad argument.
 *
 * The options are USAGE below (`npm run sim -- --help` prints them).
 */
import { parseSimArgs } from './args.js';
import { runSim } from './sim.js';

const USAGE = `npm run sim -- [options]

  --nodes N                 nodes (200)
  --seed S                  seed of everything random in the run (1)
  --hours H                 simulated hours of traffic after setup (1)
  --churn C                 fraction of the nodes that leave or crash per hour (0.1)
  --loss P                  probability a message is lost (0)
  --duplicate P             probability a message arrives twice (0)
  --rtt MS                  median round trip, log-normal (50)
  --partition-at T:D:F      at T after the traffic starts, for D, cut fraction F of the nodes off
                            (T and D in seconds, or with s, m or h: 20m:10m:0.3); may be repeated
  --resources R             resources (100)
  --providers P             providers, spread evenly over the resources (1000)
  --store memory|lmdb       the in-memory store, or LMDB in a temporary directory (memory)
  --ack A                   acks asked of writes (3); --read-ack A of resolves (1)
  --resolve-rate X          resolves per second per node (0.01)
  --unregister-rate X       fraction of providers unregistering per hour, each replaced (0.1)
  --keep-alive S            seconds between a provider's keep-alive registrations (1800)
  --min-success X           resolve success below X is a violation (0.999 at churn ≤ 0.1, 0.99 at ≤ 0.3)
`;

async function main(): Promise<number> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  let options;
  try {
    options = parseSimArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`sim: ${(e as Error).message}\n`);
    return 2;
  }
  const summary = await runSim(options, (line) => process.stdout.write(JSON.stringify(line) + '\n'));
  process.stdout.write(JSON.stringify(summary) + '\n');
  return summary.violations > 0 ? 1 : 0;
}

// The event loop ran dry with the run unfinished: something waited on nothing. That is a bug, not a pass.
process.on('beforeExit', () => {
  process.stderr.write('sim: the run stopped before its end (a wait that nothing can end)\n');
  process.exit(1);
});
main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`sim: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
