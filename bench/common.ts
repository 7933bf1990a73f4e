/**
 * What the benchmarks share: deterministic identities, percentiles, the raw verify baseline every
 * throughput figure is compared with, and a node process to measure through the RPC.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { base64urlDecode } from '../protocols/encoding.js';
import { identityFromSeed, publicKeyOf, type Identity } from '../protocols/identity.js';
import { nodeEd25519 } from '../runtime/base/node-crypto.js';
import { metadataDigest, recordDigest } from '../protocols/objects.js';
import type { Record as ProviderRecord } from '../protocols/types.js';

const BIN = fileURLToPath(new URL('../../bin/signpost.mjs', import.meta.url));

const ED25519 = nodeEd25519();

/** A deterministic identity; `salt` keeps the identities of different benches apart. */
export function benchIdentity(n: number, salt: number): Identity {
  const seed = new Uint8Array(32);
  new DataView(seed.buffer).setUint32(0, n + 1, true);
  seed[31] = salt;
  return identityFromSeed(seed, ED25519);
}

/** `x` to `digits` decimals, as a number (for JSON lines). */
export function round(x: number, digits = 3): number {
  return Number(x.toFixed(digits));
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Raw verifies/s on one core over the records' two signatures, one cached KeyObject per key. */
export function verifyBaseline(records: ProviderRecord[]): number {
  const cache = new Map<string, KeyObject>();
  const keyObject = (peerId: string) => {
    let k = cache.get(peerId);
    if (!k) {
      k = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKeyOf(peerId)!]), format: 'der', type: 'spki' });
      cache.set(peerId, k);
    }
    return k;
  };
  const jobs = records.map((r) => {
    const md = metadataDigest(r.metadata);
    return [
      [keyObject(r.metadata.issued_by), md, base64urlDecode(r.metadata.issuer_signature)!],
      [keyObject(r.metadata.peer_id), recordDigest(r, md), base64urlDecode(r.signature)!],
    ] as const;
  });
  const t0 = performance.now();
  let n = 0;
  for (const pair of jobs) for (const [k, msg, sig] of pair) if (verify(null, msg, k, sig)) n++;
  const s = (performance.now() - t0) / 1000;
  if (n !== jobs.length * 2) throw new Error('baseline verify failed');
  return n / s;
}

/**
 * A node process (`signpost node start` on a free port, system clock), its pid and RPC URL. The
 * per-connection rate limit is raised out of the way unless `defaultRateLimit` (for a bench that measures it).
 */
export async function startNodeProcess(
  dataDir: string,
  env: Record<string, string> = {},
  opts: { defaultRateLimit?: boolean } = {},
): Promise<{ pid: number; url: string; stop: () => Promise<void> }> {
  const limits = opts.defaultRateLimit ? {} : { SIGNPOST_RATE_LIMIT_PER_S: '1000000', SIGNPOST_RATE_LIMIT_BURST: '1000000' };
  const child = spawn(process.execPath, [BIN, 'node', 'start', '--port', '0', '--data-dir', dataDir, '--clock', 'system'], {
    env: { ...process.env, SIGNPOST_LOG_LEVEL: 'warn', ...limits, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = out.match(/ws:\/\/\S+\/rpc/);
      if (m) resolve(m[0]);
    });
    child.once('exit', (c) => reject(new Error(`node exited ${c}`)));
  });
  return {
    pid: child.pid!,
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** This process's CPU seconds (all threads: main, workers, LMDB, GC). */
export function ownCpuSeconds(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
}

/**
 * Cores this process obtains right now for `threads` busy threads (CPU seconds ÷ wall seconds): on a
 * shared machine a run cannot use more than this, whatever the code does, and its figures mean little
 * when this is well under the thread count.
 */
export async function coresAvailable(threads: number, ms: number): Promise<number> {
  const busy = `const end = performance.now() + ${ms}; let x = 0; while (performance.now() < end) x = (x * 31 + 7) | 0; import('node:worker_threads').then((m) => m.parentPort.postMessage(x));`;
  const cpu0 = ownCpuSeconds();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: threads }, async () => {
      const w = new Worker(busy, { eval: true });
      await new Promise((resolve) => w.once('message', resolve));
      await w.terminate();
    }),
  );
  return (ownCpuSeconds() - cpu0) / ((performance.now() - t0) / 1000);
}

/** CPU seconds (user + system, all threads) process `pid` has used so far (Linux /proc/PID/stat, 100 ticks/s); 0 elsewhere or once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
