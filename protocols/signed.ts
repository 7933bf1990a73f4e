/**
 * Signature checks of SPEC §3.5 step 5 and the makers of signed objects (used by the SDK, the CLI,
 * the node for host records, the tests and the benches).
 */
import { SignpostError } from './errors.js';
import { base64urlEncode, toHex } from './encoding.js';
import { verifyStrict, type Ed25519 } from './crypto.js';
import { publicKeyOf, type Identity } from './identity.js';
import { b64, keyDigest, metadataDigest, recordDigest, resourceId, tombstoneDigest } from './objects.js';
import { leadingZeroBits, searchSolution, workHash } from './pow.js';
import { checkRecordOrder } from './rules.js';
import type { ChallengeType, Key, Record, RecordEntry, RecordMetadata, Tombstone, TombstoneEntry } from './types.js';

function check(ok: boolean, what: string): void {
  if (!ok) throw new SignpostError('invalid_signature', `${what} does not verify`);
}

/** Checks one signature: by `peerId` over `digest` (base64url `signature`). */
export type SignatureVerifier = (peerId: string, digest: Uint8Array, signature: string) => boolean;

/** The strict check of SPEC §3.5 on `ed25519`. */
export function signatureVerifier(ed25519: Ed25519): SignatureVerifier {
  return (peerId, digest, sig) => {
    const pk = publicKeyOf(peerId);
    return pk !== null && verifyStrict(ed25519, pk, digest, b64(sig));
  };
}

/**
 * `verify`, remembering its successes: an object checked again (a provider resolved again, a write
 * pre-checked by the node that received it and then stored by the same thread) costs a lookup, not a
 * verify. At most `max` successes are kept.
 */
export function cachedVerifier(verify: SignatureVerifier, max = 100_000): SignatureVerifier {
  const ok = new Set<string>();
  return (peerId, digest, signature) => {
    const id = `${peerId}${signature}${base64urlEncode(digest)}`;
    if (ok.has(id)) return true;
    if (!verify(peerId, digest, signature)) return false;
    if (ok.size >= max) ok.clear();
    ok.add(id);
    return true;
  };
}

/** For writes another thread of this node already verified (see runtime/store/shards.ts). */
export const alreadyVerified: SignatureVerifier = () => true;

export function verifyKey(key: Key, verifyBy: SignatureVerifier): void {
  check(verifyBy(key.owner_peer_id, keyDigest(key), key.signature), `Key ${key.id}: signature by owner ${key.owner_peer_id}`);
}

/**
 * Digests of a signed entry, computed once per object: a write is dry-run and then run
 * (runtime/store/shard.ts), and both runs hash the same object. Signed objects are never mutated after they
 * are parsed.
 */
const recordDigests = new WeakMap<Record, { metadata: Uint8Array; record: Uint8Array; entry: RecordEntry }>();
const tombstoneDigests = new WeakMap<Tombstone, { digest: Uint8Array; entry: TombstoneEntry }>();

function digestsOfRecord(record: Record) {
  let d = recordDigests.get(record);
  if (!d) {
    const md = metadataDigest(record.metadata);
    const rd = recordDigest(record, md);
    d = { metadata: md, record: rd, entry: { kind: 'record', record, digest: toHex(rd), bits: leadingZeroBits(workHash(md)) } };
    recordDigests.set(record, d);
  }
  return d;
}

function digestsOfTombstone(t: Tombstone) {
  let d = tombstoneDigests.get(t);
  if (!d) {
    const digest = tombstoneDigest(t);
    d = { digest, entry: { kind: 'tombstone', tombstone: t, digest: toHex(digest) } };
    tombstoneDigests.set(t, d);
  }
  return d;
}

/** Digest and pow bits of a record: what the rules need. */
export function recordEntry(record: Record): RecordEntry {
  return digestsOfRecord(record).entry;
}

export function tombstoneEntry(t: Tombstone): TombstoneEntry {
  return digestsOfTombstone(t).entry;
}

/** Both signatures of a record: the issuer's over the metadata, the host's over the record. */
export function verifyRecord(record: Record, verifyBy: SignatureVerifier): void {
  const m = record.metadata;
  const d = digestsOfRecord(record);
  check(verifyBy(m.issued_by, d.metadata, m.issuer_signature), `Record ${m.key_id}/${m.issued_by}/${m.peer_id}: issuer_signature by ${m.issued_by}`);
  check(verifyBy(m.peer_id, d.record, record.signature), `Record ${m.key_id}/${m.issued_by}/${m.peer_id}: host signature by ${m.peer_id}`);
}

export function verifyTombstone(t: Tombstone, verifyBy: SignatureVerifier): void {
  check(verifyBy(t.issued_by, digestsOfTombstone(t).digest, t.issuer_signature), `Tombstone ${t.key_id}/${t.issued_by}/${t.peer_id}: issuer_signature by ${t.issued_by}`);
}

/**
 * A record another node handed over for `keyId`: it belongs to that key, is not issued after it was
 * created, and both signatures verify. Throws the first failure (a SignpostError with its code).
 */
export function verifyRecordOf(record: Record, keyId: string, verifyBy: SignatureVerifier, path = 'record'): void {
  if (record.metadata.key_id !== keyId) throw new SignpostError('invalid_record', `${path} belongs to resource ${record.metadata.key_id}, not to ${keyId}`);
  checkRecordOrder(record);
  verifyRecord(record, verifyBy);
}

/** A node's answer for `keyId` (its key, records and tombstones): every object belongs to that key and verifies. */
export function verifyKeyItem<T extends { key: Key; records: Record[]; tombstones: Tombstone[] }>(item: T, keyId: string, verifyBy: SignatureVerifier): T {
  if (item.key.id !== keyId) throw new SignpostError('invalid_key', `key ${item.key.id} for ${keyId}`);
  verifyKey(item.key, verifyBy);
  item.records.forEach((r, i) => verifyRecordOf(r, keyId, verifyBy, `records[${i}]`));
  item.tombstones.forEach((t, i) => {
    if (t.key_id !== keyId) throw new SignpostError('invalid_record', `tombstones[${i}] belongs to resource ${t.key_id}, not to ${keyId}`);
    verifyTombstone(t, verifyBy);
  });
  return item;
}

// ---- makers ----

export function makeKey(owner: Identity, opts: { label: string; timestamp_created: number; challenge?: Uint8Array; challenge_type?: ChallengeType }): Key {
  const unsigned = {
    id: resourceId(opts.label, owner.peerId),
    label: opts.label,
    owner_peer_id: owner.peerId,
    timestamp_created: opts.timestamp_created,
    challenge: base64urlEncode(opts.challenge ?? new Uint8Array(0)),
    challenge_type: opts.challenge_type ?? '',
    signature: '',
  };
  return { ...unsigned, signature: base64urlEncode(owner.sign(keyDigest(unsigned))) };
}

export type MetadataFields = Omit<RecordMetadata, 'issued_by' | 'issuer_signature' | 'solution' | 'relay_id' | 'service_id' | 'value'> &
  Partial<Pick<RecordMetadata, 'value' | 'relay_id' | 'service_id' | 'solution'>>;

export function makeMetadata(issuer: Identity, f: MetadataFields): RecordMetadata {
  const unsigned = unsignedMetadata(issuer.peerId, f);
  return { ...unsigned, issuer_signature: base64urlEncode(issuer.sign(metadataDigest(unsigned))) };
}

function unsignedMetadata(issuedBy: string, f: MetadataFields): RecordMetadata {
  return {
    key_id: f.key_id,
    issued_by: issuedBy,
    peer_id: f.peer_id,
    timestamp_issued: f.timestamp_issued,
    solution: f.solution ?? '',
    value: f.value ?? '',
    relay_id: f.relay_id ?? [],
    service_id: f.service_id ?? [],
    issuer_signature: '',
  };
}

/** The host co-signs metadata (whose `peer_id` must be the host) at `timestamp_created`. */
export function makeRecord(host: Identity, metadata: RecordMetadata, timestamp_created: number): Record {
  return signRecord(metadata, timestamp_created, host.sign);
}

/** A record over `metadata` at `timestamp_created`, signed by `signDigest` (the host's key; renewal passes the node's). */
export function signRecord(metadata: RecordMetadata, timestamp_created: number, signDigest: (digest: Uint8Array) => Uint8Array): Record {
  const unsigned: Record = { metadata, timestamp_created, signature: '' };
  return { ...unsigned, signature: base64urlEncode(signDigest(recordDigest(unsigned))) };
}

export function makeTombstone(issuer: Identity, f: { key_id: string; peer_id: string; timestamp_issued: number; solution?: string }): Tombstone {
  const unsigned: Tombstone = {
    key_id: f.key_id,
    issued_by: issuer.peerId,
    peer_id: f.peer_id,
    timestamp_issued: f.timestamp_issued,
    solution: f.solution ?? '',
    issuer_signature: '',
  };
  return { ...unsigned, issuer_signature: base64urlEncode(issuer.sign(tombstoneDigest(unsigned))) };
}

/**
 * Searches `solution` values (8-byte counters) until the work hash has at least `minBits` leading zero
 * bits; returns the signed metadata. Bounded by `maxTries`.
 */
export function mineMetadata(issuer: Identity, f: MetadataFields, minBits: number, maxTries = 1 << 26): RecordMetadata {
  const { solution } = searchSolution({ metadata: unsignedMetadata(issuer.peerId, { ...f, solution: '' }), minBits }, 0, maxTries);
  if (solution === null) throw new Error(`no solution with ${minBits} bits in ${maxTries} tries`);
  return makeMetadata(issuer, { ...f, solution });
}
