/**
 * Hashing and Ed25519 (SPEC §1, §3.5), strict on every runtime.
 *
 * SHA-256 is `@noble/hashes` everywhere (for the small inputs of SPEC §3 it is as fast as `node:crypto`).
 * Ed25519 is an `Ed25519` backend passed to whatever signs or verifies: `nobleEd25519` runs anywhere (a
 * browser, the SDK), and the node passes the `node:crypto` one (runtime/base/node-crypto.ts), about ten
 * times faster. The strict checks of `verifyStrict` run in front of whichever backend verifies, so every
 * runtime accepts exactly the same signatures.
 */
import * as ed from '@noble/ed25519';
import { sha256 as nobleSha256, sha512 } from '@noble/hashes/sha2.js';

ed.hashes.sha512 = sha512;

/** An Ed25519 implementation. */
export interface Ed25519 {
  name: string;
  /**
   * Plain RFC 8032 verification (cofactorless, S < L) of `sig` over `msg` by a public key that has
   * already passed `isValidPublicKey`. R canonicity is checked before this is called.
   */
  verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean;
  sign(seed: Uint8Array, msg: Uint8Array): Uint8Array;
  publicKeyFromSeed(seed: Uint8Array): Uint8Array;
}

const CURVE = ed.Point.CURVE();
const P = CURVE.p;
const L = CURVE.n;

function leToBigInt(b: Uint8Array, start: number, end: number): bigint {
  let n = 0n;
  for (let i = end - 1; i >= start; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}

/** The portable backend: cofactorless [S]B = R + [k]A on noble's points. */
export const nobleEd25519: Ed25519 = {
  name: 'noble',
  verify(publicKey, msg, sig) {
    try {
      const A = ed.Point.fromBytes(publicKey, false);
      const R = ed.Point.fromBytes(sig.subarray(0, 32), false);
      const S = leToBigInt(sig, 32, 64);
      if (S >= L) return false;
      const k = ed.etc.mod(leToBigInt(sha512(concat(sig.subarray(0, 32), publicKey, msg)), 0, 64), L);
      const SB = S === 0n ? ed.Point.ZERO : ed.Point.BASE.multiply(S, false);
      const kA = k === 0n ? ed.Point.ZERO : A.multiplyUnsafe(k);
      return SB.equals(R.add(kA));
    } catch {
      return false;
    }
  },
  sign: (seed, msg) => ed.sign(msg, seed),
  publicKeyFromSeed: (seed) => ed.getPublicKey(seed),
};

export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---- strict checks ----

const validKeys = new Map<string, boolean>();
const VALID_KEY_CACHE = 100_000;

/**
 * A public key is valid when it is the canonical encoding of a point of prime order L: on the curve,
 * y < p, not small order, and [L]A = identity. Checked once per key, then cached.
 */
export function isValidPublicKey(pk: Uint8Array): boolean {
  if (pk.length !== 32) return false;
  const id = keyCacheId(pk);
  const cached = validKeys.get(id);
  if (cached !== undefined) return cached;
  let ok: boolean;
  try {
    const A = ed.Point.fromBytes(pk, false);
    ok = isCanonicalPointEncoding(pk) && !A.isSmallOrder() && A.isTorsionFree();
  } catch {
    ok = false;
  }
  if (validKeys.size >= VALID_KEY_CACHE) validKeys.clear();
  validKeys.set(id, ok);
  return ok;
}

function keyCacheId(pk: Uint8Array): string {
  let s = '';
  for (let i = 0; i < pk.length; i++) s += String.fromCharCode(pk[i]);
  return s;
}

/** y < p, and no "negative zero" x (x = 0 with the sign bit set). Cheap: no decompression. */
export function isCanonicalPointEncoding(enc: Uint8Array): boolean {
  if (enc.length !== 32) return false;
  const sign = enc[31] >> 7;
  const top = enc[31] & 0x7f;
  let y = BigInt(top);
  for (let i = 30; i >= 0; i--) y = (y << 8n) | BigInt(enc[i]);
  if (y >= P) return false;
  // x = 0 exactly for y = 1 and y = p - 1; their sign bit must be 0.
  if (sign === 1 && (y === 1n || y === P - 1n)) return false;
  return true;
}

/** S (the second half of a signature, little-endian) must be below the group order L. */
export function isCanonicalScalar(s: Uint8Array): boolean {
  return leToBigInt(s, 0, s.length) < L;
}

/**
 * Strict RFC 8032 verification (SPEC §3.5): 64-byte signature, S < L, canonical R, valid public key,
 * then the backend's cofactorless equation.
 */
export function verifyStrict(ed: Ed25519, publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== 64) return false;
  if (!isCanonicalScalar(sig.subarray(32))) return false;
  if (!isCanonicalPointEncoding(sig.subarray(0, 32))) return false;
  if (!isValidPublicKey(publicKey)) return false;
  return ed.verify(publicKey, msg, sig);
}
