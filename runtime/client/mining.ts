/**
 * Proof of work for `hashcash/v1` resources (SPEC §6), off the caller's thread.
 *
 * The issuer searches `solution` values until the work hash of the metadata digest has `minBits` leading
 * zero bits. The search needs no secret: only the solution leaves the worker, and the issuer signs the
 * metadata afterwards on its own thread (the seed never crosses a thread boundary).
 *
 * From the built package the search runs in a worker (runtime/client/mine-worker.js): a Web Worker where the
 * platform has them (browsers, Deno, Bun), a `node:worker_threads` worker on Node, loaded only when mining
 * starts. Run from the TypeScript sources (vitest, tsx), where Node cannot start a `.ts` worker, it runs on
 * the calling thread in chunks that yield to the event loop between them, so sockets and timers keep
 * working either way.
 *
 * @example
 * const { solution } = await mineSolution({ metadata, minBits: 16 }, { onProgress: (p) => console.error(p.tries) });
 * const signed = makeMetadata(identity, { ...metadata, solution });
 */
import { counterSolution, searchSolution, type WorkSearch } from '../../protocols/pow.js';
import type { RecordMetadata } from '../../protocols/types.js';

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

/** Messages from mine-worker.ts. */
export type MinerMessage =
  | { type: 'progress'; tries: number; bits: number }
  | { type: 'found'; solution: string; tries: number; bits: number };

const WORKER_URL = new URL('./mine-worker.js', import.meta.url);

/** Mines a solution for `job`: in a worker where the built worker exists, else in chunks on this thread. */
export function mineSolution(job: MiningJob, opts: MiningOptions = {}): Promise<MiningResult> {
  opts.signal?.throwIfAborted();
  if (job.minBits <= 0) return Promise.resolve({ solution: counterSolution(0), tries: 0, bits: 0 });
  // From the TypeScript sources the worker is a .ts file, which Node cannot start.
  if (WORKER_URL.protocol === 'file:' && import.meta.url.endsWith('.ts')) return mineInChunks(job, opts);
  return mineInWorker(job, opts);
}

/** A worker of this platform, speaking messages both ways. */
interface MinerWorker {
  post(job: MiningJob): void;
  onMessage(fn: (m: MinerMessage) => void): void;
  onFailure(fn: (why: string) => void): void;
  terminate(): void;
}

/** The mining worker: a Web Worker (same-origin, or through a blob for a page that loads the SDK from its node), or a Node worker thread. */
async function startMiner(): Promise<MinerWorker> {
  const WebWorker = (globalThis as { Worker?: typeof Worker }).Worker;
  if (WebWorker) {
    const sameOrigin = typeof location === 'undefined' || WORKER_URL.protocol === 'file:' || WORKER_URL.origin === location.origin;
    const url = sameOrigin ? WORKER_URL : URL.createObjectURL(new Blob([`import ${JSON.stringify(WORKER_URL.href)};`], { type: 'text/javascript' }));
    const w = new WebWorker(url, { type: 'module', name: 'signpost-mine' });
    return {
      post: (job) => w.postMessage(job),
      onMessage: (fn) => w.addEventListener('message', (e) => fn((e as MessageEvent<MinerMessage>).data)),
      onFailure: (fn) => w.addEventListener('error', (e) => fn(`the mining worker failed: ${(e as ErrorEvent).message ?? 'error'}`)),
      terminate: () => w.terminate(),
    };
  }
  const { Worker: NodeWorker } = await import('node:worker_threads');
  const w = new NodeWorker(WORKER_URL, { name: 'signpost-mine' });
  return {
    post: (job) => w.postMessage(job),
    onMessage: (fn) => w.on('message', fn),
    onFailure: (fn) => {
      w.on('error', (e) => fn(`the mining worker threw: ${e.message}`));
      w.on('exit', (code) => fn(`the mining worker exited with code ${code}`));
    },
    terminate: () => void w.terminate(),
  };
}

async function mineInWorker(job: MiningJob, opts: MiningOptions): Promise<MiningResult> {
  const worker = await startMiner();
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      worker.terminate();
      fn();
    };
    const onAbort = () => finish(() => reject(opts.signal!.reason));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.onMessage((m) => {
      opts.onProgress?.({ tries: m.tries, bits: m.bits, minBits: job.minBits });
      if (m.type === 'found') finish(() => resolve({ solution: m.solution, tries: m.tries, bits: m.bits }));
    });
    worker.onFailure((why) => finish(() => reject(new Error(why))));
    worker.post(job);
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
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}
