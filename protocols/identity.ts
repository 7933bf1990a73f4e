/**
 * Peer ids (SPEC §1): base58btc of the identity multihash of the protobuf Ed25519 public key,
 * `00 24 08 01 12 20 ‖ pubkey32`. Only Ed25519 keys of prime order are valid.
 */
import { CanonicalWriter, base58Decode, base58Encode, base64urlDecode, base64urlEncode } from './encoding.js';
import { isValidPublicKey, nobleEd25519, sha256, type Ed25519 } from './crypto.js';
import type { Random } from './random.js';

const PEER_ID_PREFIX = new Uint8Array([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]);
export const PEER_ID_LENGTH = 52;

export function peerIdFromPublicKey(pk: Uint8Array): string {
  const b = new Uint8Array(38);
  b.set(PEER_ID_PREFIX, 0);
  b.set(pk, 6);
  return base58Encode(b);
}

/** The 38 bytes under a peer id's base58 (used for node locations, SPEC §5), or null. */
export function peerIdBytes(peerId: string): Uint8Array | null {
  if (typeof peerId !== 'string' || peerId.length !== PEER_ID_LENGTH) return null;
  const b = base58Decode(peerId);
  if (!b || b.length !== 38) return null;
  for (let i = 0; i < PEER_ID_PREFIX.length; i++) if (b[i] !== PEER_ID_PREFIX[i]) return null;
  // base58 has one canonical text per byte string; refuse anything that does not round-trip.
  if (base58Encode(b) !== peerId) return null;
  return b;
}

const publicKeys = new Map<string, Uint8Array | null>();
const PEER_CACHE = 100_000;

/** The public key inside a valid peer id, or null when the string is not a valid v1 peer id. */
export function publicKeyOf(peerId: string): Uint8Array | null {
  const hit = publicKeys.get(peerId);
  if (hit !== undefined) return hit;
  const b = peerIdBytes(peerId);
  const pk = b ? b.slice(6) : null;
  const ok = pk !== null && isValidPublicKey(pk) ? pk : null;
  if (publicKeys.size >= PEER_CACHE) publicKeys.clear();
  if (typeof peerId === 'string' && peerId.length === PEER_ID_LENGTH) publicKeys.set(peerId, ok);
  return ok;
}

export function isValidPeerId(peerId: unknown): peerId is string {
  return typeof peerId === 'string' && publicKeyOf(peerId) !== null;
}

/** A key pair: the 32-byte RFC 8032 seed, what follows from it, and a signer over it. */
export interface Identity {
  seed: Uint8Array;
  publicKey: Uint8Array;
  peerId: string;
  /** Signs a digest with this identity's key. */
  sign(digest: Uint8Array): Uint8Array;
}

/**
 * The identity of an Ed25519 seed, signing with `ed25519` (the portable implementation unless a faster one
 * is given: a node passes `node:crypto`'s).
 */
export function identityFromSeed(seed: Uint8Array, ed25519: Ed25519 = nobleEd25519): Identity {
  if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
  const publicKey = ed25519.publicKeyFromSeed(seed);
  return { seed, publicKey, peerId: peerIdFromPublicKey(publicKey), sign: (digest) => ed25519.sign(seed, digest) };
}

/** A new identity from `random`'s bytes. */
export function generateIdentity(random: Random, ed25519?: Ed25519): Identity {
  return identityFromSeed(random.bytes(32), ed25519);
}

/** The identity file of SPEC §1. */
export interface IdentityFile {
  type: 'ed25519';
  seed: string;
  peer_id: string;
}

export function identityToFile(id: Identity): IdentityFile {
  return { type: 'ed25519', seed: base64urlEncode(id.seed), peer_id: id.peerId };
}

/** Parses an identity file's JSON; throws a clear Error when it is malformed or disagrees with itself. */
export function identityFromFile(json: unknown, where: string, ed25519?: Ed25519): Identity {
  const f = json as Partial<IdentityFile> | null;
  if (!f || typeof f !== 'object' || f.type !== 'ed25519' || typeof f.seed !== 'string' || typeof f.peer_id !== 'string') {
    throw new Error(`${where}: not an identity file (expected {"type":"ed25519","seed":"<base64url>","peer_id":"12D3KooW..."})`);
  }
  const seed = base64urlDecode(f.seed);
  if (!seed || seed.length !== 32) throw new Error(`${where}: "seed" must be 32 bytes in base64url without padding`);
  const id = identityFromSeed(seed, ed25519);
  if (id.peerId !== f.peer_id) {
    throw new Error(`${where}: seed and peer_id disagree (the seed's peer id is ${id.peerId}, the file says ${f.peer_id})`);
  }
  return id;
}

// ---- session and peer authentication digests (SPEC §8, §9.3) ----

export function sessionDigest(nonce: Uint8Array, nodePeerId: string): Uint8Array {
  return sha256(new CanonicalWriter().str('signpost/session/v1').bytes(nonce).str(nodePeerId).finish());
}

export function p2pAuthDigest(nonce: Uint8Array, verifierPeerId: string, signerPeerId: string): Uint8Array {
  return sha256(
    new CanonicalWriter().str('signpost/p2p-auth/v1').bytes(nonce).str(verifierPeerId).str(signerPeerId).finish(),
  );
}
