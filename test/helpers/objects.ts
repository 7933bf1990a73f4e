/**
 * Signed test objects from fixed seeds, so a failing test names the same peers on every run.
 */
import { identityFromSeed, type Identity } from '../../protocols/identity.js';
import { makeKey, makeMetadata, makeRecord, makeTombstone, signatureVerifier, type MetadataFields } from '../../protocols/signed.js';
import { nodeEd25519 } from '../../runtime/base/node-crypto.js';
import type { ChallengeType, Key, Record as ProviderRecord, Tombstone } from '../../protocols/types.js';

/** The Ed25519 backend the tests sign and verify with (the node's), and its strict verifier. */
export const ed25519 = nodeEd25519();
export const verify = signatureVerifier(ed25519);

/** A deterministic identity: seed = 32 × n (n in 1..255), or a seed made from a larger number. */
export function peer(n: number): Identity {
  const seed = new Uint8Array(32);
  if (n < 256) seed.fill(n);
  else new DataView(seed.buffer).setUint32(0, n, true);
  return identityFromSeed(seed, ed25519);
}

export function key(owner: Identity, label: string, ts: number, opts: { challenge?: Uint8Array; challenge_type?: ChallengeType } = {}): Key {
  return makeKey(owner, { label, timestamp_created: ts, ...opts });
}

/** A record issued by `issuer`, hosted by `host` (the issuer by default), created at `created` (issued by default). */
export function record(
  k: Key,
  issuer: Identity,
  issued: number,
  opts: { host?: Identity; created?: number; value?: string; fields?: Partial<MetadataFields> } = {},
): ProviderRecord {
  const host = opts.host ?? issuer;
  const md = makeMetadata(issuer, { key_id: k.id, peer_id: host.peerId, timestamp_issued: issued, value: opts.value ?? `svc-${issuer.peerId.slice(-6)}`, ...opts.fields });
  return makeRecord(host, md, opts.created ?? issued);
}

export function tombstone(k: Key, issuer: Identity, hostPeerId: string, issued: number): Tombstone {
  return makeTombstone(issuer, { key_id: k.id, peer_id: hostPeerId, timestamp_issued: issued });
}
