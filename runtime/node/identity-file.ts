/**
 * Identity files on disk (SPEC §1): `{"type":"ed25519","seed":"<base64url>","peer_id":"12D3KooW…"}`,
 * written once with an exclusive create and mode 0600 (never overwriting, not even through a symlink, and
 * no check-then-write race), read back with a clear error when malformed.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Ed25519 } from '../../protocols/crypto.js';
import { generateIdentity, identityFromFile, identityToFile, type Identity } from '../../protocols/identity.js';
import type { Random } from '../../protocols/random.js';

/** Writes `identity` to a new file `path` (its directory is created, mode 0700); false when `path` exists. */
export function writeIdentityFile(path: string, identity: Identity): boolean {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    // 'wx' is O_CREAT | O_EXCL.
    writeFileSync(path, JSON.stringify(identityToFile(identity), null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** Reads the identity file at `path`; null when there is none. */
export function readIdentityFile(path: string, ed25519?: Ed25519): Identity | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return identityFromFile(json, path, ed25519);
}

/**
 * The identity in `path`, created there with a new key pair when there is none. Two processes creating
 * it at once end up with the same identity: the one that lost the race reads the winner's file.
 */
export function loadOrCreateIdentity(path: string, random: Random, ed25519?: Ed25519): { identity: Identity; created: boolean } {
  const found = readIdentityFile(path, ed25519);
  if (found) return { identity: found, created: false };
  const identity = generateIdentity(random, ed25519);
  if (writeIdentityFile(path, identity)) return { identity, created: true };
  return { identity: readIdentityFile(path, ed25519)!, created: false };
}
