/**
 * The `node:crypto` Ed25519 backend for protocols/crypto.ts: OpenSSL's (cofactorless, S < L), with one
 * cached KeyObject per public key. Bun and Deno implement the same module.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { Ed25519 } from '../../protocols/crypto.js';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const KEY_CACHE = 50_000;

export function nodeEd25519(): Ed25519 {
  const publicKeys = new Map<string, KeyObject>();
  const privateKeys = new Map<string, KeyObject>();

  function publicKeyObject(pk: Uint8Array): KeyObject {
    const id = Buffer.from(pk.buffer, pk.byteOffset, pk.length).toString('latin1');
    let k = publicKeys.get(id);
    if (!k) {
      k = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pk]), format: 'der', type: 'spki' });
      if (publicKeys.size >= KEY_CACHE) publicKeys.clear();
      publicKeys.set(id, k);
    }
    return k;
  }

  function privateKeyObject(seed: Uint8Array): KeyObject {
    const id = Buffer.from(seed.buffer, seed.byteOffset, seed.length).toString('latin1');
    let k = privateKeys.get(id);
    if (!k) {
      k = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
      if (privateKeys.size >= 64) privateKeys.clear();
      privateKeys.set(id, k);
    }
    return k;
  }

  return {
    name: 'node:crypto',
    verify: (pk, msg, sig) => {
      try {
        return verify(null, msg, publicKeyObject(pk), sig);
      } catch {
        return false;
      }
    },
    sign: (seed, msg) => new Uint8Array(sign(null, msg, privateKeyObject(seed))),
    publicKeyFromSeed: (seed) => {
      const spki = createPublicKey(privateKeyObject(seed)).export({ format: 'der', type: 'spki' });
      return new Uint8Array(spki.subarray(SPKI_PREFIX.length));
    },
  };
}
