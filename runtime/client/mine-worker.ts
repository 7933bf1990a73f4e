/**
 * The mining worker (runtime/client/mining.ts starts one per job): receives one MiningJob, searches in
 * chunks, posts a `progress` message after each chunk and a `found` message at the end. The parent
 * terminates it when it is done or cancelled.
 */
import { MINING_CHUNK, searchSolution, type MinerMessage, type MiningJob } from './mining.js';
import { parentEndpoint } from '../store/worker-host.js';

const parent = parentEndpoint();

// Listen before any await: Bun drops messages sent to a worker before its first listener (DESIGN traps).
parent.addEventListener('message', (event) => {
  const job = (event as MessageEvent<MiningJob>).data;
  const post = (m: MinerMessage) => parent.postMessage(m);
  let tries = 0;
  let best = 0;
  for (;;) {
    const r = searchSolution(job, tries, MINING_CHUNK);
    tries += r.tries;
    best = Math.max(best, r.bits);
    if (r.solution !== null) return post({ type: 'found', solution: r.solution, tries, bits: r.bits });
    post({ type: 'progress', tries, bits: best });
  }
});
