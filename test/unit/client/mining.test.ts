/**
 * Hashcash mining for the SDK (runtime/client/mining.ts, runtime/client/mine-worker.ts): solutions meet the
 * work the key asks for, by the rules of protocols/pow.ts, and the built package mines in a worker thread
 * (the caller's event loop stays idle), reports progress, and can be cancelled.
 * The worker tests use dist/ (run `npm run build` first): Node cannot start a worker from a .ts file.
 */
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { mineSolution as mineFromSources, searchSolution, type UnminedMetadata } from '../../../runtime/client/mining.js';
import { mineSolution as mineBuilt } from '../../../dist/runtime/client/mining.js';
import { makeMetadata } from '../../../protocols/signed.js';
import { metadataDigest } from '../../../protocols/objects.js';
import { leadingZeroBits, workHash } from '../../../protocols/pow.js';
import { key, peer } from '../../helpers/objects.js';

const issuer = peer(5);
const K = key(peer(1), 'mined', 1000);

function fields(value: string): UnminedMetadata {
  return { key_id: K.id, issued_by: issuer.peerId, peer_id: issuer.peerId, timestamp_issued: 1000, value, relay_id: [peer(9).peerId], service_id: ['api'] };
}

const bitsOf = (f: UnminedMetadata, solution: string) => leadingZeroBits(workHash(metadataDigest({ ...f, solution })));

describe('searchSolution', () => {
  it('finds a solution whose work hash (protocols/pow.ts) has the bits, and a signed metadata keeps them', () => {
    const f = fields('svc');
    const r = searchSolution({ metadata: f, minBits: 10 }, 0, 1 << 20);
    expect(r.solution).not.toBeNull();
    expect(bitsOf(f, r.solution!)).toBe(r.bits);
    expect(r.bits).toBeGreaterThanOrEqual(10);
    const signed = makeMetadata(issuer, { ...f, solution: r.solution! });
    expect(leadingZeroBits(workHash(metadataDigest(signed)))).toBe(r.bits);
  });

  it('reports the best bits of a range with no solution', () => {
    const r = searchSolution({ metadata: fields('svc'), minBits: 64 }, 0, 1000);
    expect(r).toMatchObject({ solution: null, tries: 1000 });
    expect(r.bits).toBeGreaterThan(0);
    expect(r.bits).toBeLessThan(64);
  });

  it('mines on the calling thread from the sources, with the same answer as the search', async () => {
    const f = fields('from sources');
    const r = await mineFromSources({ metadata: f, minBits: 12 });
    expect(r.solution).toBe(searchSolution({ metadata: f, minBits: 12 }, 0, 1 << 22).solution);
  });
});

describe('the built miner runs in a worker thread', () => {
  it('finds the solution with progress while this thread stays idle', async () => {
    const f = fields('worker');
    const progress: { tries: number; bits: number; minBits: number }[] = [];
    const elu = performance.eventLoopUtilization();
    const r = await mineBuilt({ metadata: f, minBits: 17 }, { onProgress: (p) => progress.push(p) });
    const busy = performance.eventLoopUtilization(elu).utilization;
    expect(bitsOf(f, r.solution)).toBeGreaterThanOrEqual(17);
    expect(r.tries).toBeGreaterThan(0);
    // The work happened elsewhere: this thread was idle most of the time.
    expect(busy).toBeLessThan(0.5);
    // Progress after every chunk while searching, then once with the result.
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toEqual({ tries: r.tries, bits: r.bits, minBits: 17 });
    expect(progress.slice(0, -1).every((p) => p.minBits === 17 && p.bits < 17)).toBe(true);
    expect(progress.map((p) => p.tries)).toEqual([...progress.map((p) => p.tries)].sort((a, b) => a - b));
  });

  it('an abort stops the search and rejects with the reason', async () => {
    const controller = new AbortController();
    const mining = mineBuilt({ metadata: fields('never'), minBits: 60 }, { signal: controller.signal, onProgress: () => controller.abort(new Error('cancelled by the user')) });
    await expect(mining).rejects.toThrow('cancelled by the user');
  });
});
