/**
 * bench/relay: calls to a provider through its relay (SPEC §9.5), as a user runs them: three node
 * processes on loopback forming one network, a provider SDK client on node-1 serving `echo(x) => x`,
 * callers on node-3 (and node-1). Prints JSON lines {"bench":"relay", "case", …, "load_avg"}:
 * - direct: the baseline of the run, a JSON-RPC round trip from a client to its node (`node.info`,
 *   the cheapest method that still runs through the dispatcher), sequential, p50/p99 ms;
 * - relayed: `resources.call_provider` from a client of node-3 to the provider on node-1 (caller → node-3
 *   → relay_call → node-1 → provider.call → provider, and back), sequential, p50/p99 ms,
 *   `ratio_p50_to_direct`, and the goal p50 ≤ 2 × direct p50 + 1 ms (`goal_p50_ms`, `met`);
 * - relayed_sdk: the same through the SDK (`callProvider`: an authenticated caller);
 * - local_relay: the caller is a client of the provider's own node (no node-to-node hop);
 * - throughput: calls per second through the one relay with 8 authenticated callers on node-2 and
 *   node-3, 8 calls in flight each (64 in all: what one serving connection takes), the rate-limited count (0 within the default relay budget), and
 *   the CPU all three node processes spent per call (Linux /proc).
 * The nodes run the default config, with the per-connection RPC rate limit raised out of the way as in
 * every bench (bench/common.ts); the relay budget (relay_rate_per_s) is the default.
 *
 * Run: npm run bench:relay   (BENCH_SCALE=0.1 for a quick run)
 */
import { loadavg } from 'node:os';
import { RpcClient, RpcError } from '../runtime/client/rpc-client.js';
import { SignpostClient } from '../runtime/client/client.js';
import { nodeEd25519 } from '../runtime/base/node-crypto.js';
import type { Record as ProviderRecord } from '../protocols/types.js';
import { LocalCluster } from '../scripts/local-cluster.js';
import { benchIdentity, percentile, processCpuSeconds, round } from './common.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const SEQUENTIAL = Math.max(50, Math.round(2000 * SCALE));
const WARMUP = Math.max(20, Math.round(200 * SCALE));
const CALLERS = 8;
/** 8 × 8: the 64 calls one serving connection may have in flight (SPEC §9.5). */
const IN_FLIGHT = 8;
const THROUGHPUT_CALLS = Math.max(800, Math.round(16_000 * SCALE));
const PAYLOAD = { text: 'hello relay', n: 42 };

const emit = (line: object) => process.stdout.write(JSON.stringify({ bench: 'relay', ...line, load_avg: loadavg().map((x) => round(x, 2)) }) + '\n');
const identity = (n: number) => benchIdentity(n, 0x72);
const ed25519 = nodeEd25519();

/** Runs `op` `count` times one after the other; latency percentiles in ms. */
async function sequential(count: number, op: () => Promise<unknown>): Promise<{ p50: number; p99: number; mean: number }> {
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await op();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { p50: round(percentile(ms, 50)), p99: round(percentile(ms, 99)), mean: round(ms.reduce((a, b) => a + b, 0) / ms.length) };
}

async function main(): Promise<void> {
  const cluster = new LocalCluster({
    nodes: 3,
    logLevel: 'warn',
    tempPrefix: 'signpost-bench-relay-',
    env: { SIGNPOST_RATE_LIMIT_PER_S: '1000000', SIGNPOST_RATE_LIMIT_BURST: '1000000' },
  });
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => void cluster.stop().finally(() => process.exit(130)));
  const clients: SignpostClient[] = [];
  const raw: RpcClient[] = [];
  try {
    const nodes = await cluster.start();
    await cluster.waitForPeers(60_000);
    const [a, b, c] = nodes;
    const connect = async (n: number, url: string) => {
      const client = await SignpostClient.connect(url, { identity: identity(n), ed25519 });
      clients.push(client);
      return client;
    };

    const provider = await connect(0, a.rpcUrl);
    const { resourceId } = await provider.createResource('bench-relay', { ack: 3 });
    const { record } = await provider.registerProvider(resourceId, 'bench provider', { serviceId: 'bench', ack: 3 });
    await provider.serve('bench', { echo: async (x: unknown) => x });

    const rawC = await RpcClient.connect(c.rpcUrl);
    const rawA = await RpcClient.connect(a.rpcUrl);
    raw.push(rawC, rawA);
    const callParams = (r: ProviderRecord) => ({ peer_id: r.metadata.peer_id, relay_id: r.metadata.relay_id[0], service_id: 'bench', method: 'echo', params: [PAYLOAD] });
    const relayedRaw = (rpc: RpcClient) => () => rpc.call('resources.call_provider', callParams(record));
    const sdkCaller = await connect(1, c.rpcUrl);

    // Warm-up of every path, untimed.
    for (let i = 0; i < WARMUP; i++) {
      await rawC.call('node.info');
      await relayedRaw(rawC)();
      await relayedRaw(rawA)();
      await sdkCaller.callProvider(record, 'echo', PAYLOAD);
    }

    const direct = await sequential(SEQUENTIAL, () => rawC.call('node.info'));
    emit({ case: 'direct', calls: SEQUENTIAL, p50_ms: direct.p50, p99_ms: direct.p99, mean_ms: direct.mean, note: 'baseline: node.info from a client to its own node' });
    const goal = round(2 * direct.p50 + 1);
    const relayed = await sequential(SEQUENTIAL, relayedRaw(rawC));
    emit({ case: 'relayed', calls: SEQUENTIAL, p50_ms: relayed.p50, p99_ms: relayed.p99, mean_ms: relayed.mean, ratio_p50_to_direct: round(relayed.p50 / direct.p50, 2), goal_p50_ms: goal, met: relayed.p50 <= goal, note: 'resources.call_provider on node-3 to the provider on node-1 through relay node-1' });
    const viaSdk = await sequential(SEQUENTIAL, () => sdkCaller.callProvider(record, 'echo', PAYLOAD));
    emit({ case: 'relayed_sdk', calls: SEQUENTIAL, p50_ms: viaSdk.p50, p99_ms: viaSdk.p99, mean_ms: viaSdk.mean, ratio_p50_to_direct: round(viaSdk.p50 / direct.p50, 2), goal_p50_ms: goal, met: viaSdk.p50 <= goal, note: 'the same through the SDK (callProvider, an authenticated caller)' });
    const local = await sequential(SEQUENTIAL, relayedRaw(rawA));
    emit({ case: 'local_relay', calls: SEQUENTIAL, p50_ms: local.p50, p99_ms: local.p99, mean_ms: local.mean, ratio_p50_to_direct: round(local.p50 / direct.p50, 2), note: "the caller is a client of the provider's own node: no node-to-node hop" });

    // Throughput: 8 authenticated callers on node-2 and node-3, IN_FLIGHT calls each at all times.
    const callers = await Promise.all(Array.from({ length: CALLERS }, (_, i) => connect(10 + i, (i % 2 ? b : c).rpcUrl)));
    await Promise.all(callers.map((x) => x.callProvider(record, 'echo', PAYLOAD)));
    const perCaller = Math.ceil(THROUGHPUT_CALLS / CALLERS);
    let limited = 0;
    let failed = 0;
    const cpu0 = nodes.reduce((s, n) => s + processCpuSeconds(n.pid), 0);
    const t0 = performance.now();
    await Promise.all(
      callers.map(async (x) => {
        let next = 0;
        await Promise.all(
          Array.from({ length: IN_FLIGHT }, async () => {
            while (next < perCaller) {
              next++;
              await x.callProvider(record, 'echo', PAYLOAD).catch((e: unknown) => {
                if (e instanceof RpcError && e.code === 'rate_limited') limited++;
                else failed++;
              });
            }
          }),
        );
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = nodes.reduce((s, n) => s + processCpuSeconds(n.pid), 0) - cpu0;
    const calls = perCaller * CALLERS;
    emit({
      case: 'throughput',
      calls,
      callers: CALLERS,
      in_flight_per_caller: IN_FLIGHT,
      calls_per_s: Math.round(calls / seconds),
      rate_limited: limited,
      failed,
      node_cpu_ms_per_call: round((cpu * 1000) / calls),
      node_cores_used: round(cpu / seconds, 2),
      note: 'through relay node-1, callers on node-2 and node-3; node CPU is all three node processes',
    });
  } finally {
    await Promise.all(clients.map((x) => x.close().catch(() => undefined)));
    await Promise.all(raw.map((x) => x.close().catch(() => undefined)));
    await cluster.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`bench:relay failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
