/**
 * Access policies and time-decaying proof of work (SPEC §6).
 */
import { CanonicalWriter, base64urlEncode } from './encoding.js';
import { sha256 } from './crypto.js';
import { b64, metadataPreimage } from './objects.js';
import type { Key, RecordMetadata } from './types.js';

/** What a key's `challenge_type` and `challenge` mean, parsed once. */
export type KeyPolicy =
  | { type: 'open' }
  | { type: 'owner'; owner: string }
  | { type: 'hashcash'; minBits: number; halfLife: number };

/**
 * The policy of a key, or null when the challenge does not fit its type (`invalid_key`).
 * The challenge type itself must already be one of the supported ones.
 */
export function keyPolicy(key: Pick<Key, 'challenge' | 'challenge_type' | 'owner_peer_id'>): KeyPolicy | null {
  const c = b64(key.challenge);
  switch (key.challenge_type) {
    case '':
      return c.length === 0 ? { type: 'open' } : null;
    case 'owner/v1':
      return c.length === 0 ? { type: 'owner', owner: key.owner_peer_id } : null;
    case 'hashcash/v1': {
      if (c.length !== 5) return null;
      const halfLife = new DataView(c.buffer, c.byteOffset, 5).getUint32(1, true);
      return halfLife >= 1 ? { type: 'hashcash', minBits: c[0], halfLife } : null;
    }
    default:
      return null;
  }
}

/** Builds the 5-byte `hashcash/v1` challenge `u8(min_bits) ‖ u32(half_life_s)`. */
export function hashcashChallenge(minBits: number, halfLife: number): Uint8Array {
  const c = new Uint8Array(5);
  c[0] = minBits;
  new DataView(c.buffer).setUint32(1, halfLife, true);
  return c;
}

/** The work hash `sha256(str("signpost/pow/v1") ‖ bytes(metadata_digest))`. */
export function workHash(metadataDigest: Uint8Array): Uint8Array {
  return sha256(workPreimage(metadataDigest));
}

function workPreimage(metadataDigest: Uint8Array): Uint8Array {
  return new CanonicalWriter().str('signpost/pow/v1').bytes(metadataDigest).finish();
}

/** What an issuer mines for: the metadata without its solution and signature, and the bits it needs. */
export interface WorkSearch {
  metadata: Omit<RecordMetadata, 'solution' | 'issuer_signature'>;
  minBits: number;
}

/** A solution is an 8-byte little-endian counter. */
const SOLUTION_BYTES = 8;

function writeCounter(into: Uint8Array, at: number, counter: number): void {
  const view = new DataView(into.buffer, into.byteOffset + at, SOLUTION_BYTES);
  view.setUint32(0, counter % 2 ** 32, true);
  view.setUint32(4, Math.floor(counter / 2 ** 32), true);
}

/** The `solution` field (base64url) of counter `counter`. */
export function counterSolution(counter: number): string {
  const b = new Uint8Array(SOLUTION_BYTES);
  writeCounter(b, 0, counter);
  return base64urlEncode(b);
}

/**
 * Tries the solutions `start .. start + count − 1` (SPEC §6): the first whose work hash has at least
 * `minBits` leading zero bits, or null with the best bits seen. Both preimages are laid out once, so a try
 * rewrites the 8 solution bytes and hashes twice.
 */
export function searchSolution(job: WorkSearch, start: number, count: number): { solution: string | null; bits: number; tries: number } {
  const { bytes, solutionAt } = metadataPreimage({ ...job.metadata, solution: counterSolution(0) });
  const work = workPreimage(new Uint8Array(32));
  const digestAt = work.length - 32;
  let best = 0;
  for (let i = 0; i < count; i++) {
    writeCounter(bytes, solutionAt, start + i);
    work.set(sha256(bytes), digestAt);
    const bits = leadingZeroBits(sha256(work));
    if (bits > best) best = bits;
    if (bits >= job.minBits) return { solution: counterSolution(start + i), bits, tries: i + 1 };
  }
  return { solution: null, bits: best, tries: count };
}

/** Number of leading zero bits. */
export function leadingZeroBits(h: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < h.length; i++) {
    if (h[i] === 0) {
      n += 8;
      continue;
    }
    return n + Math.clz32(h[i]) - 24;
  }
  return n;
}

/** Score `S = bits + timestamp_issued / half_life_s`: work decays one bit per half-life. */
export function powScore(bits: number, timestampIssued: number, halfLife: number): number {
  return bits + timestampIssued / halfLife;
}
