/**
 * The mining worker (mining.ts starts one per job): receives one MiningJob, searches in chunks, posts a
 * `progress` message after each chunk and a `found` message at the end. The parent terminates it when it
 * is done or cancelled. The same file runs as a Web Worker (browsers, Deno, Bun) and as a Node worker thread.
 */
import { MINING_CHUNK, searchSolution, type MinerMessage, type MiningJob } from './mining.js';

function mine(job: MiningJob, post: (m: MinerMessage) => void): void {
  let tries = 0;
  let best = 0;
  for (;;) {
    const r = searchSolution(job, tries, MINING_CHUNK);
    tries += r.tries;
    best = Math.max(best, r.bits);
    if (r.solution !== null) return post({ type: 'found', solution: r.solution, tries, bits: r.bits });
    post({ type: 'progress', tries, bits: best });
  }
}

const scope = globalThis as unknown as { WorkerGlobalScope?: unknown; addEventListener?(t: 'message', fn: (e: MessageEvent<MiningJob>) => void): void; postMessage?(m: MinerMessage): void };
if (scope.WorkerGlobalScope !== undefined && scope.addEventListener) {
  // Listen before any await: Bun drops messages sent to a worker before its first listener (DESIGN traps).
  scope.addEventListener('message', (e) => mine(e.data, (m) => scope.postMessage!(m)));
} else {
  // A Node worker thread: its port keeps messages until a listener is attached.
  const { parentPort } = await import('node:worker_threads');
  parentPort!.on('message', (job: MiningJob) => mine(job, (m) => parentPort!.postMessage(m)));
}
