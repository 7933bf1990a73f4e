/**
 * Shape checks of SPEC §3.5 step 1, in its order: types and sizes (`invalid_params`), then peer ids
 * (`invalid_peer_id`), then the challenge type (`unsupported_challenge_type`), then key consistency
 * (`invalid_key`). Everything here is cheap; signatures are checked later (verify.ts).
 */
import { SignpostError } from './errors.js';
import { base64urlDecode, isWellFormed, utf8Length } from './encoding.js';
import { publicKeyOf } from './identity.js';
import { resourceId, resourceIdBytes } from './objects.js';
import { keyPolicy } from './pow.js';
import { CHALLENGE_TYPES, LIMITS, type Key, type Record, type RecordMetadata, type Tombstone } from './types.js';

const bad = (msg: string) => new SignpostError('invalid_params', msg);

export function isPlainObject(x: unknown): x is { [k: string]: unknown } {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The object has exactly these fields (unknown or missing fields are `invalid_params`). */
export function expectFields(x: unknown, path: string, required: readonly string[], optional: readonly string[] = []): { [k: string]: unknown } {
  if (!isPlainObject(x)) throw bad(`${path} must be an object`);
  for (const f of required) if (!(f in x)) throw bad(`${path}.${f} is missing`);
  for (const f of Object.keys(x)) {
    if (!required.includes(f) && !optional.includes(f)) throw bad(`${path} has an unknown field "${f}"`);
  }
  return x;
}

/** A list of at most `max` items (their checks are the caller's). */
export function expectList(x: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(x)) throw bad(`${path} must be a list`);
  if (x.length > max) throw bad(`${path} holds at most ${max} items`);
  return x;
}

/** A well-formed UTF-8 string of minBytes..maxBytes bytes. */
export function expectString(x: unknown, path: string, maxBytes = Infinity, minBytes = 0): string {
  if (typeof x !== 'string') throw bad(`${path} must be a string`);
  if (!isWellFormed(x)) throw bad(`${path} is not well-formed UTF-8 (lone surrogate)`);
  if (x.length > maxBytes || utf8Length(x) > maxBytes) throw bad(`${path} is longer than ${maxBytes} bytes`);
  if (utf8Length(x) < minBytes) throw bad(`${path} must be at least ${minBytes} byte${minBytes === 1 ? '' : 's'}`);
  return x;
}

/** true or false. */
export function expectBoolean(x: unknown, path: string): boolean {
  if (typeof x !== 'boolean') throw bad(`${path} must be true or false, got ${describeValue(x)}`);
  return x;
}

/** A u64 timestamp as JSON allows it: a non-negative safe integer. */
export function expectTimestamp(x: unknown, path: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) {
    throw bad(`${path} must be an integer 0..2^53-1, got ${describeValue(x)}`);
  }
  return x;
}

/** A short description of a bad value for a message; never throws (a BigInt or a cycle has no JSON). */
function describeValue(x: unknown): string {
  if (typeof x === 'bigint') return `${x}n`;
  try {
    return String(JSON.stringify(x)).slice(0, 40);
  } catch {
    return typeof x;
  }
}

/** Canonical base64url without padding of at most maxBytes (exactly, when `exact`). */
export function expectBytes(x: unknown, path: string, maxBytes: number, exact = false): string {
  if (typeof x !== 'string') throw bad(`${path} must be a base64url string`);
  if (x.length > Math.ceil((maxBytes * 4) / 3)) throw bad(`${path} is longer than ${maxBytes} bytes`);
  const b = base64urlDecode(x);
  if (!b) throw bad(`${path} is not canonical base64url without padding`);
  if (b.length > maxBytes) throw bad(`${path} is longer than ${maxBytes} bytes`);
  if (exact && b.length !== maxBytes) throw bad(`${path} must be exactly ${maxBytes} bytes, got ${b.length}`);
  return x;
}

export function expectResourceId(x: unknown, path: string): string {
  if (typeof x !== 'string' || !resourceIdBytes(x)) throw bad(`${path} must be a resource id (base58btc of 32 bytes)`);
  return x;
}

function expectStringList(x: unknown, path: string, maxItems: number, maxBytes: number, minBytes: number): string[] {
  if (!Array.isArray(x)) throw bad(`${path} must be a list`);
  if (x.length > maxItems) throw bad(`${path} holds at most ${maxItems} item${maxItems === 1 ? '' : 's'}`);
  x.forEach((s, i) => expectString(s, `${path}[${i}]`, maxBytes, minBytes));
  return x as string[];
}

/** Peer-id check, run after every type and size check of the object. */
export function expectPeerId(x: string, path: string): void {
  if (!publicKeyOf(x)) throw new SignpostError('invalid_peer_id', `${path} is not a valid Ed25519 peer id: ${JSON.stringify(x.slice(0, 60))}`);
}

/**
 * A peer-id field's type check (step 1, `invalid_params`): a well-formed string of any length. A string
 * that is not a peer id, however long, is `invalid_peer_id` (SPEC §1), found by `expectPeerId`, whose parse
 * refuses any length but 52 before doing work.
 */
export function expectPeerIdString(x: unknown, path: string): string {
  return expectString(x, path);
}

const KEY_FIELDS = ['id', 'label', 'owner_peer_id', 'timestamp_created', 'challenge', 'challenge_type', 'signature'] as const;

/** SPEC §3.1 + §3.5 step 1 for a Key. */
export function parseKey(x: unknown, path = 'key'): Key {
  const o = expectFields(x, path, KEY_FIELDS);
  expectResourceId(o.id, `${path}.id`);
  expectString(o.label, `${path}.label`, LIMITS.label);
  expectPeerIdString(o.owner_peer_id, `${path}.owner_peer_id`);
  expectTimestamp(o.timestamp_created, `${path}.timestamp_created`);
  expectBytes(o.challenge, `${path}.challenge`, LIMITS.challenge);
  expectString(o.challenge_type, `${path}.challenge_type`, 64);
  expectBytes(o.signature, `${path}.signature`, LIMITS.signature, true);
  const key = o as unknown as Key;
  expectPeerId(key.owner_peer_id, `${path}.owner_peer_id`);
  if (!CHALLENGE_TYPES.includes(key.challenge_type)) {
    throw new SignpostError('unsupported_challenge_type', `${path}.challenge_type ${JSON.stringify(key.challenge_type)} is not supported (use "", "owner/v1" or "hashcash/v1")`);
  }
  const expected = resourceId(key.label, key.owner_peer_id);
  if (key.id !== expected) throw new SignpostError('invalid_key', `${path}.id ${JSON.stringify(key.id)} is not resource_id(label, owner_peer_id) = ${expected}`);
  if (!keyPolicy(key)) {
    throw new SignpostError('invalid_key', `${path}.challenge does not fit challenge_type ${JSON.stringify(key.challenge_type)} (${key.challenge_type === 'hashcash/v1' ? 'expected u8(min_bits) ‖ u32(half_life_s ≥ 1), 5 bytes' : 'expected empty'})`);
  }
  return key;
}

const METADATA_FIELDS = ['key_id', 'issued_by', 'peer_id', 'timestamp_issued', 'solution', 'value', 'relay_id', 'service_id', 'issuer_signature'] as const;

function metadataTypes(x: unknown, path: string): RecordMetadata {
  const o = expectFields(x, path, METADATA_FIELDS);
  expectResourceId(o.key_id, `${path}.key_id`);
  expectPeerIdString(o.issued_by, `${path}.issued_by`);
  expectPeerIdString(o.peer_id, `${path}.peer_id`);
  expectTimestamp(o.timestamp_issued, `${path}.timestamp_issued`);
  expectBytes(o.solution, `${path}.solution`, LIMITS.solution);
  expectString(o.value, `${path}.value`, LIMITS.value);
  expectStringList(o.relay_id, `${path}.relay_id`, 1, Infinity, 0);
  expectStringList(o.service_id, `${path}.service_id`, 1, LIMITS.service_id_max, LIMITS.service_id_min);
  expectBytes(o.issuer_signature, `${path}.issuer_signature`, LIMITS.signature, true);
  return o as unknown as RecordMetadata;
}

function metadataPeerIds(m: RecordMetadata, path: string): void {
  expectPeerId(m.issued_by, `${path}.issued_by`);
  expectPeerId(m.peer_id, `${path}.peer_id`);
  m.relay_id.forEach((r, i) => expectPeerId(r, `${path}.relay_id[${i}]`));
}

/** SPEC §3.2 + §3.5 step 1 for RecordMetadata alone (register_node_provider). */
export function parseMetadata(x: unknown, path = 'metadata'): RecordMetadata {
  const m = metadataTypes(x, path);
  metadataPeerIds(m, path);
  return m;
}

/** SPEC §3.3 + §3.5 step 1 for a Record. */
export function parseRecord(x: unknown, path = 'record'): Record {
  const o = expectFields(x, path, ['metadata', 'timestamp_created', 'signature']);
  const m = metadataTypes(o.metadata, `${path}.metadata`);
  expectTimestamp(o.timestamp_created, `${path}.timestamp_created`);
  expectBytes(o.signature, `${path}.signature`, LIMITS.signature, true);
  metadataPeerIds(m, `${path}.metadata`);
  return o as unknown as Record;
}

const TOMBSTONE_FIELDS = ['key_id', 'issued_by', 'peer_id', 'timestamp_issued', 'solution', 'issuer_signature'] as const;

/** SPEC §3.4 + §3.5 step 1 for a Tombstone. */
export function parseTombstone(x: unknown, path = 'tombstone'): Tombstone {
  const o = expectFields(x, path, TOMBSTONE_FIELDS);
  expectResourceId(o.key_id, `${path}.key_id`);
  expectPeerIdString(o.issued_by, `${path}.issued_by`);
  expectPeerIdString(o.peer_id, `${path}.peer_id`);
  expectTimestamp(o.timestamp_issued, `${path}.timestamp_issued`);
  expectBytes(o.solution, `${path}.solution`, LIMITS.solution);
  expectBytes(o.issuer_signature, `${path}.issuer_signature`, LIMITS.signature, true);
  const t = o as unknown as Tombstone;
  expectPeerId(t.issued_by, `${path}.issued_by`);
  expectPeerId(t.peer_id, `${path}.peer_id`);
  return t;
}
