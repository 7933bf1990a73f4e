/**
 * Proof of work for `hashcash/v1` resources (SPEC §6), off the caller's thread.
 *
 * The issuer searches `solution` values until the work hash of the metadata digest has `minBits` leading
 * zero bits. The search needs no secret: only the solution leaves the worker, and the issuer signs the
 * metadata afterwards on its own thread (the seed never crosses a thread boundary).
 *
 * From the built package the search runs in a worker thread (runtime/mine-worker.js). Run from the
 * TypeScript sources (vitest, tsx), where Node cannot start a `.ts` worker, it runs on the calling thread in
 * chunks that yield to the event loop between them, so sockets and timers keep working either way.
 *
 * @example
 * const { solution } = await mineSolution({ metadata, minBits: 16 }, { onProgress: (p) => console.error(p.tries) });
 * const signed = makeMetadata(identity, { ...metadata, solution });
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sha256 } from '../protocols/crypto.js';
import { CanonicalWriter, base64urlEncode } from '../protocols/encoding.js';
import { metadataDigest } from '../protocols/objects.js';
import { leadingZeroBits, workHash } from '../protocols/pow.js';
import type { RecordMetadata } from '../protocols/types.js';
import { startWorker } from './worker-host.js';

/** The metadata to mine for: every field the digest covers but `solution` (the signature comes after). */
export type UnminedMetadata = Omit<RecordMetadata, 'solution' | 'issuer_signature'>;

export interface MiningJob {
  metadata: UnminedMetadata;
  /** Leading zero bits the work hash needs (the key's `min_bits`, or more for a better rank). */
  minBits: number;
}

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

/** A solution is an 8-byte little-endian counter. */
const SOLUTION_BYTES = 8;

function writeCounter(into: Uint8Array, at: number, counter: number): void {
  const view = new DataView(into.buffer, into.byteOffset + at, SOLUTION_BYTES);
  view.setUint32(0, counter % 2 ** 32, true);
  view.setUint32(4, Math.floor(counter / 2 ** 32), true);
}

function solutionOf(counter: number): string {
  const b = new Uint8Array(SOLUTION_BYTES);
  writeCounter(b, 0, counter);
  return base64urlEncode(b);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The hashed bytes of the metadata digest and of the work hash, laid out once so that a try rewrites
 * only the 8 solution bytes and hashes twice (about ten times faster than building both digests from
 * the object at every try). The layouts are SPEC §3.2 and §6's; they are checked against
 * protocols/objects.ts `metadataDigest` and protocols/pow.ts `workHash` before use, so the search can never
 * drift from the rules.
 */
class WorkPreimage {
  readonly metadata: Uint8Array;
  readonly solutionAt: number;
  private readonly work: Uint8Array;
  private readonly digestAt: number;

  constructor(m: UnminedMetadata) {
    const head = new CanonicalWriter().str('signpost/record-metadata/v1').str(m.key_id).str(m.issued_by).str(m.peer_id).u64(m.timestamp_issued).u32(SOLUTION_BYTES).finish();
    const tail = new CanonicalWriter().str(m.value).list(m.relay_id).list(m.service_id).finish();
    this.metadata = new Uint8Array(head.length + SOLUTION_BYTES + tail.length);
    this.metadata.set(head, 0);
    this.metadata.set(tail, head.length + SOLUTION_BYTES);
    this.solutionAt = head.length;
    const workHead = new CanonicalWriter().str('signpost/pow/v1').u32(32).finish();
    this.work = new Uint8Array(workHead.length + 32);
    this.work.set(workHead, 0);
    this.digestAt = workHead.length;

    const probe: RecordMetadata = { ...m, solution: solutionOf(0), issuer_signature: '' };
    const digest = metadataDigest(probe);
    if (!sameBytes(this.hashAt(0).digest, digest) || !sameBytes(this.hashAt(0).work, workHash(digest))) {
      throw new Error('the mining preimage disagrees with metadataDigest / workHash');
    }
  }

  /** The metadata digest and the work hash with the solution `counter`. */
  hashAt(counter: number): { digest: Uint8Array; work: Uint8Array } {
    writeCounter(this.metadata, this.solutionAt, counter);
    const digest = sha256(this.metadata);
    this.work.set(digest, this.digestAt);
    return { digest, work: sha256(this.work) };
  }
}

/**
 * Tries the counters `start .. start + count − 1`; returns the first solution with at least `minBits`
 * bits, or null with the best bits seen.
 */
export function searchSolution(job: MiningJob, start: number, count: number): { solution: string | null; bits: number; tries: number } {
  const preimage = new WorkPreimage(job.metadata);
  let best = 0;
  for (let i = 0; i < count; i++) {
    const bits = leadingZeroBits(preimage.hashAt(start + i).work);
    if (bits > best) best = bits;
    if (bits >= job.minBits) return { solution: solutionOf(start + i), bits, tries: i + 1 };
  }
  return { solution: null, bits: best, tries: count };
}

/** Messages from runtime/mine-worker.ts. */
export type MinerMessage =
  | { type: 'progress'; tries: number; bits: number }
  | { type: 'found'; solution: string; tries: number; bits: number };

const WORKER_URL = new URL('./mine-worker.js', import.meta.url);

/** Mines a solution for `job`: in a worker thread when the built worker exists, else in chunks on this thread. */
export function mineSolution(job: MiningJob, opts: MiningOptions = {}): Promise<MiningResult> {
  opts.signal?.throwIfAborted();
  if (job.minBits <= 0) return Promise.resolve({ solution: solutionOf(0), tries: 0, bits: 0 });
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
