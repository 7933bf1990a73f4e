/**
 * Proof of work for `hashcash/v1` resources (SPEC §6), off the caller's thread.
 *
 * The issuer searches `solution` values until the work hash of the metadata digest has `minBits` leading
 * zero bits. The search needs no secret: only the solution leaves the worker, and the issuer signs the
 * metadata afterwards on its own thread (the seed never crosses a thread boundary).
 *
 * From the built package the search runs in a worker thread (runtime/client/mine-worker.js). Run from the
 * TypeScript sources (vitest, tsx), where Node cannot start a `.ts` worker, it runs on the calling thread in
 * chunks that yield to the event loop between them, so sockets and timers keep working either way.
 *
 * @example
 * const { solution } = await mineSolution({ metadata, minBits: 16 }, { onProgress: (p) => console.error(p.tries) });
 * const signed = makeMetadata(identity, { ...metadata, solution });
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { counterSolution, searchSolution, type WorkSearch } from '../../protocols/pow.js';
import type { RecordMetadata } from '../../protocols/types.js';
import { startWorker } from '../store/worker-host.js';

/** The metadata to mine for: every field the digest covers but `solution` (the signature comes after). */
export type UnminedMetadata = Omit<RecordMetadata, 'solution' | 'issuer_signature'>;

/** `minBits`: leading zero bits the work hash needs (the key's `min_bits`, or more for a better rank). */
export type MiningJob = WorkSearch;

export interface MiningProgress {
  /** Solutions tried so far. */
  tries: number;
  /** The most leading zero bits found so far. */
  bits: number;
  /** The bits needed. */
  minBits: number;
}

export interface MiningResult {
  /** The solution field (base64url of 8 bytes). */
  solution: string;
  tries: number;
  bits: number;
}

export interface MiningOptions {
  /** Called after every chunk of tries, and once at the end with the bits found (`bits ≥ minBits`). */
  onProgress?: (progress: MiningProgress) => void;
  /** Aborting stops the search (the worker is terminated) and rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Tries per chunk: one progress report (and, on the calling thread, one event-loop turn) per chunk. */
export const MINING_CHUNK = 20_000;

/** The search itself is protocols/pow.ts's; the worker and the chunked fallback both run it. */
export { searchSolution };

/** Messages from runtime/client/mine-worker.ts. */
export type MinerMessage =
  | { type: 'progress'; tries: number; bits: number }
  | { type: 'found'; solution: string; tries: number; bits: number };

const WORKER_URL = new URL('./mine-worker.js', import.meta.url);

/** Mines a solution for `job`: in a worker thread when the built worker exists, else in chunks on this thread. */
export function mineSolution(job: MiningJob, opts: MiningOptions = {}): Promise<MiningResult> {
  opts.signal?.throwIfAborted();
  if (job.minBits <= 0) return Promise.resolve({ solution: counterSolution(0), tries: 0, bits: 0 });
  return workerAvailable() ? mineInWorker(job, opts) : mineInChunks(job, opts);
}

function workerAvailable(): boolean {
  return WORKER_URL.protocol === 'file:' && existsSync(fileURLToPath(WORKER_URL));
}

function mineInWorker(job: MiningJob, opts: MiningOptions): Promise<MiningResult> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(WORKER_URL, 'signpost-mine');
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      fn();
    };
    const onAbort = () => finish(() => reject(opts.signal!.reason));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.endpoint.addEventListener('message', (event) => {
      const m = (event as MessageEvent<MinerMessage>).data;
      opts.onProgress?.({ tries: m.tries, bits: m.bits, minBits: job.minBits });
      if (m.type === 'found') finish(() => resolve({ solution: m.solution, tries: m.tries, bits: m.bits }));
    });
    worker.onExit((code, error) => finish(() => reject(new Error(`the mining worker ${error ? `threw: ${error.message}` : `exited with code ${code}`}`))));
    worker.endpoint.postMessage(job);
  });
}

async function mineInChunks(job: MiningJob, opts: MiningOptions): Promise<MiningResult> {
  let tries = 0;
  let best = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    const r = searchSolution(job, tries, MINING_CHUNK);
    tries += r.tries;
    best = Math.max(best, r.bits);
    opts.onProgress?.({ tries, bits: best, minBits: job.minBits });
    if (r.solution !== null) return { solution: r.solution, tries, bits: r.bits };
    await new Promise((resolve) => setImmediate(resolve));
  }
}
