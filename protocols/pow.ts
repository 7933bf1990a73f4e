/**
 * Access policies and time-decaying proof of work (SPEC §6).
 */
import { CanonicalWriter } from './encoding.js';
import { sha256 } from './crypto.js';
import { b64 } from './objects.js';
import type { Key } from './types.js';

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
  return sha256(new CanonicalWriter().str('signpost/pow/v1').bytes(metadataDigest).finish());
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
