/**
 * bench/flood: one client floods a node over JSON-RPC while another makes ordinary calls, with the node's
 * default config (the rate limit included: it is what is measured). Prints JSON lines {"bench":"flood", …}:
 * - idle: the well-behaved client's `node.info` latency (p50/p99 ms, one call every 2 ms) with nobody else
 *   on the node: the baseline of the run;
 * - flood: the same while a second client sends `node.info` frames as fast as its socket takes them
 *   (keeping under 1 MiB unsent), for BENCH_FLOOD_S seconds: the well-behaved client's p50/p99 and
 *   `ratio_p99` to idle (goal < 10), the frames the flooder sent and got answered, whether and how the
 *   node closed it, and the node's RSS before and after.
 *
 * Run: npm run bench:flood   (BENCH_FLOOD_S=14 by default: long enough to see the close after 10 s)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { round, startNodeProcess } from './common.js';

const FLOOD_S = Number(process.env.BENCH_FLOOD_S ?? 14);
const GOAL_RATIO_P99 = 10;
const FRAME = '{"jsonrpc":"2.0","id":1,"method":"node.info"}';

const emit = (line: object) => process.stdout.write(JSON.stringify({ bench: 'flood', ...line, load_avg: loadavg().map((x) => round(x, 2)) }) + '\n');

function rssMb(pid: number): number {
  try {
    return Math.round(Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)![1]) / 1024);
  } catch {
    return -1;
  }
}

const open = (url: string) =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });

/** The well-behaved client: one `node.info` at a time, a 2 ms pause between calls, for `ms`. */
async function measure(ws: WebSocket, ms: number): Promise<{ calls: number; p50_ms: number; p99_ms: number }> {
  const lat: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t = performance.now();
    await new Promise<void>((resolve) => {
      ws.once('message', () => resolve());
      ws.send(FRAME);
    });
    lat.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 2));
  }
  lat.sort((a, b) => a - b);
  return { calls: lat.length, p50_ms: round(lat[Math.floor(lat.length / 2)]), p99_ms: round(lat[Math.floor(lat.length * 0.99)]) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'signpost-bench-flood-'));
  const node = await startNodeProcess(dir, { SIGNPOST_LOG_LEVEL: 'error' }, { defaultRateLimit: true });
  try {
    const url = node.url;
    const good = await open(url);
    await measure(good, 1000); // warm-up
    const idle = await measure(good, 3000);
    emit({ case: 'idle', ...idle, note: "the well-behaved client alone: the run's baseline" });
    const rssBefore = rssMb(node.pid);

    const flooder = await open(url);
    let sent = 0;
    let answered = 0;
    let closed: string | null = null;
    let closedAfterS: number | null = null;
    const t0 = performance.now();
    flooder.on('message', () => answered++);
    flooder.on('close', (code, reason) => {
      closed = `${code} ${reason.toString()}`;
      closedAfterS = round((performance.now() - t0) / 1000, 1);
    });
    let flooding = true;
    const flood = (async () => {
      while (flooding && closed === null) {
        for (let i = 0; i < 200 && flooder.bufferedAmount < 1 << 20; i++, sent++) flooder.send(FRAME);
        await new Promise((r) => setImmediate(r));
      }
    })();
    const during = await measure(good, FLOOD_S * 1000);
    flooding = false;
    await flood;
    const ratio = round(during.p99_ms / idle.p99_ms, 1);
    emit({
      case: 'flood',
      ...during,
      ratio_p99: ratio,
      goal_ratio_p99: GOAL_RATIO_P99,
      met: ratio < GOAL_RATIO_P99,
      flood_s: FLOOD_S,
      flooder_sent: sent,
      flooder_answered: answered,
      flooder_closed: closed,
      flooder_closed_after_s: closedAfterS,
      rss_mb_before: rssBefore,
      rss_mb_after: rssMb(node.pid),
    });
    flooder.terminate();
    good.terminate();
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench:flood failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
