/**
 * Negative cases of the shapes of SPEC §1–3 and the order of §3.5 step 1, on the pure validators the
 * node runs at its edge (protocols/validate.ts). Every limit is probed exactly at its value (accepted)
 * and one byte over (`invalid_params`), in bytes of UTF-8 or decoded bytes.
 */
import { describe, expect, it } from 'vitest';
import * as ed from '@noble/ed25519';
import { base58Decode, base58Encode, base64urlEncode } from '../../../protocols/encoding.js';
import { isValidPeerId, peerIdFromPublicKey, publicKeyOf } from '../../../protocols/identity.js';
import { resourceId } from '../../../protocols/objects.js';
import { parseKey, parseMetadata, parseRecord, parseTombstone } from '../../../protocols/validate.js';
import { key, peer, record, tombstone } from '../../helpers/objects.js';
import { outcome } from '../../helpers/outcome.js';


function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a failure');
}

const TS = 1_700_000_000;
const A = peer(1);
const B = peer(2);
const C = peer(3);
const k0 = key(A, 'weather', TS);
const r0 = record(k0, B, TS, { host: C, fields: { relay_id: [A.peerId], service_id: ['forecast'] } });
const t0 = tombstone(k0, B, C.peerId, TS);

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));
const withKey = (patch: Record<string, unknown>) => ({ ...clone(k0), ...patch });
const withMeta = (patch: Record<string, unknown>) => ({ ...clone(r0), metadata: { ...clone(r0.metadata), ...patch } });
const withRecord = (patch: Record<string, unknown>) => ({ ...clone(r0), ...patch });
const withTombstone = (patch: Record<string, unknown>) => ({ ...clone(t0), ...patch });
const b64 = (n: number, fill = 7) => base64urlEncode(new Uint8Array(n).fill(fill));

// ---- peer ids (SPEC §1) ----

const GOOD = A.peerId;
/** A secp256k1 peer id (libp2p: identity multihash of the protobuf with Type = Secp256k1 (2), 33 bytes). */
const SECP256K1 = base58Encode(new Uint8Array([0x00, 0x25, 0x08, 0x02, 0x12, 0x21, 0x02, ...new Uint8Array(32).fill(0x11)]));
/** An RSA-style peer id: a sha2-256 multihash of the key, the key not inlined. */
const RSA = base58Encode(new Uint8Array([0x12, 0x20, ...new Uint8Array(32).fill(0x42)]));
const SMALL_ORDER = '12D3KooW9tGaPdJo5jmCpadQ971nfiq4kLcQjeBPYTfutBTtckPH';
/** A key of order 8·L: a valid prime-order point plus a point of order 8 ([L]A ≠ identity). */
const TORSION_POINT = ed.Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05');
const MIXED_ORDER = peerIdFromPublicKey(ed.Point.BASE.multiply(12345n).add(TORSION_POINT).toBytes());
/** y = p + 1 (≥ p): a non-canonical encoding of the identity point. */
const NON_CANONICAL_Y = (() => {
  const enc = new Uint8Array(32);
  let y = ed.Point.CURVE().p + 1n;
  for (let i = 0; i < 32; i++, y >>= 8n) enc[i] = Number(y & 0xffn);
  return peerIdFromPublicKey(enc);
})();
const pidBytes = base58Decode(GOOD)!;
const withPrefix = (prefix: number[]) => base58Encode(new Uint8Array([...prefix, ...pidBytes.slice(6)]));

const BAD_PEER_IDS: [string, string][] = [
  ['empty string', ''],
  ["'0' is not base58", GOOD.slice(0, -1) + '0'],
  ["'O' is not base58", GOOD.slice(0, 20) + 'O' + GOOD.slice(21)],
  ["'I' is not base58", GOOD.slice(0, 20) + 'I' + GOOD.slice(21)],
  ["'l' is not base58", GOOD.slice(0, 20) + 'l' + GOOD.slice(21)],
  ['non-ASCII look-alike', GOOD.slice(0, 20) + 'К' + GOOD.slice(21)],
  ['truncated by one', GOOD.slice(0, -1)],
  ['truncated to 8', GOOD.slice(0, 8)],
  ['one character too many', GOOD + '1'],
  ['leading/trailing space', ` ${GOOD}`],
  ['lowercase', GOOD.toLowerCase()],
  ['secp256k1 key type (16Uiu2…)', SECP256K1],
  ['a real secp256k1 peer id', '16Uiu2HAm3cuhhRL2msUuLF62KRSfneFDx94RsuouyW25Ho42cFMq'],
  ['sha2-256 multihash (Qm…)', RSA],
  ['a real RSA peer id', 'QmXW4p1anTVYxQgASDHZWx5acR6wEM99jfvLwFcRUGB8zo'],
  ['wrong key type in the protobuf (08 02)', withPrefix([0x00, 0x24, 0x08, 0x02, 0x12, 0x20])],
  ['wrong multihash code (0x12)', withPrefix([0x12, 0x24, 0x08, 0x01, 0x12, 0x20])],
  ['wrong multihash length (0x25)', withPrefix([0x00, 0x25, 0x08, 0x01, 0x12, 0x20])],
  ['wrong data length (0x21)', withPrefix([0x00, 0x24, 0x08, 0x01, 0x12, 0x21])],
  ['extra leading zero byte (leading "1")', '1' + GOOD],
  ['missing leading zero byte', GOOD.slice(1)],
  ['extra zero byte instead of the last key byte', base58Encode(new Uint8Array([0, ...pidBytes.slice(0, 37)]))],
  ['small-order key (identity point)', SMALL_ORDER],
  ['mixed-order key (prime-order point + 8-torsion)', MIXED_ORDER],
  ['non-canonical point encoding (y ≥ p)', NON_CANONICAL_Y],
];

describe('peer ids (SPEC §1)', () => {
  it('accepts the test peers and reads their keys back', () => {
    for (const p of [A, B, C]) {
      expect(p.peerId).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/);
      expect(publicKeyOf(p.peerId)).toEqual(p.publicKey);
    }
    expect(SECP256K1.startsWith('16Uiu2')).toBe(true);
    expect(RSA.startsWith('Qm')).toBe(true);
    expect(MIXED_ORDER).toHaveLength(52);
    expect(MIXED_ORDER.startsWith('12D3KooW')).toBe(true);
  });

  it.each(BAD_PEER_IDS)('rejects %s', (_why, bad) => {
    expect(bad).not.toBe(GOOD);
    expect(isValidPeerId(bad)).toBe(false);
    expect(publicKeyOf(bad)).toBeNull();
    // wherever a peer id is expected it is invalid_peer_id, in every object
    expect(outcome(() => parseKey({ ...withKey({ owner_peer_id: bad }), id: resourceId('weather', bad) }))).toBe('invalid_peer_id');
    expect(outcome(() => parseRecord(withMeta({ issued_by: bad })))).toBe('invalid_peer_id');
    expect(outcome(() => parseRecord(withMeta({ peer_id: bad })))).toBe('invalid_peer_id');
    expect(outcome(() => parseRecord(withMeta({ relay_id: [bad] })))).toBe('invalid_peer_id');
    expect(outcome(() => parseMetadata(withMeta({ issued_by: bad }).metadata))).toBe('invalid_peer_id');
    expect(outcome(() => parseTombstone(withTombstone({ issued_by: bad })))).toBe('invalid_peer_id');
    expect(outcome(() => parseTombstone(withTombstone({ peer_id: bad })))).toBe('invalid_peer_id');
  });

  it('a long string where a peer id is expected is still invalid_peer_id, not a size error', () => {
    const long = GOOD.repeat(4);
    expect(outcome(() => parseTombstone(withTombstone({ peer_id: long })))).toBe('invalid_peer_id');
    expect(outcome(() => parseRecord(withMeta({ relay_id: [long] })))).toBe('invalid_peer_id');
  });

  it('a peer id that is not a string, or has a lone surrogate, is invalid_params', () => {
    for (const bad of [42, null, [GOOD], { id: GOOD }, true]) {
      expect(outcome(() => parseTombstone(withTombstone({ peer_id: bad })))).toBe('invalid_params');
    }
    expect(outcome(() => parseTombstone(withTombstone({ peer_id: GOOD.slice(0, -1) + '\ud800' })))).toBe('invalid_params');
  });

  it('names the field in the message', () => {
    expect(message(() => parseRecord(withMeta({ peer_id: SMALL_ORDER })))).toContain('record.metadata.peer_id');
    expect(message(() => parseTombstone(withTombstone({ issued_by: RSA })))).toContain('tombstone.issued_by');
  });
});

// ---- Key (SPEC §3.1) ----

describe('Key shapes (SPEC §3.1)', () => {
  it('accepts the well-formed key and returns it', () => {
    expect(parseKey(clone(k0))).toEqual(k0);
  });

  it.each([
    ['128 × 2-byte é = 256 bytes', 'é'.repeat(128), 'ok'],
    ['128 × é + a = 257 bytes', 'é'.repeat(128) + 'a', 'invalid_params'],
    ['64 × 4-byte emoji = 256 bytes', '😀'.repeat(64), 'ok'],
    ['64 × emoji + a = 257 bytes', '😀'.repeat(64) + 'a', 'invalid_params'],
    ['85 × 3-byte € + a = 256 bytes', '€'.repeat(85) + 'a', 'ok'],
    ['85 × € + ab = 257 bytes', '€'.repeat(85) + 'ab', 'invalid_params'],
    ['256 × a', 'a'.repeat(256), 'ok'],
    ['257 × a', 'a'.repeat(257), 'invalid_params'],
    ['empty', '', 'ok'],
    ['lone high surrogate', 'a\ud800b', 'invalid_params'],
    ['lone low surrogate', '\udfff', 'invalid_params'],
    ['reversed pair', '\ude00\ud83d', 'invalid_params'],
  ])('label %s → %s', (_why, label, want) => {
    // a properly signed key with that label, so only the label's shape decides
    const k = label.isWellFormed() ? key(A, label, TS) : { ...withKey({ label }), id: resourceId(label, A.peerId) };
    expect(outcome(() => parseKey(k))).toBe(want);
  });

  it.each([
    ['256 bytes (size ok, but "" needs an empty challenge)', b64(256), 'invalid_key'],
    ['257 bytes', b64(257), 'invalid_params'],
    ['padded "=" ', base64urlEncode(new Uint8Array([1])) + '==', 'invalid_params'],
    ['standard alphabet "+"', '+w', 'invalid_params'],
    ['standard alphabet "/"', '/w', 'invalid_params'],
    ['non-zero trailing bits', 'AB', 'invalid_params'],
    ['length 1 mod 4', 'AAAAA', 'invalid_params'],
    ['whitespace', 'AA AA', 'invalid_params'],
    ['not a string', [1, 2], 'invalid_params'],
  ])('challenge %s → %s', (_why, challenge, want) => {
    expect(outcome(() => parseKey(withKey({ challenge })))).toBe(want);
  });

  it.each([
    ['64 bytes', b64(64), 'ok'],
    ['63 bytes', b64(63), 'invalid_params'],
    ['65 bytes', b64(65), 'invalid_params'],
    ['empty', '', 'invalid_params'],
    ['padded', b64(64) + '==', 'invalid_params'],
    ['non-zero trailing bits', b64(64).slice(0, -1) + 'x', 'invalid_params'],
    ['"+" instead of "-"', b64(64, 0xfb).replace(/-/g, '+'), 'invalid_params'],
    ['"/" instead of "_"', b64(64, 0xff).replace(/_/g, '/'), 'invalid_params'],
    ['hex', 'ab'.repeat(64), 'invalid_params'],
    ['a number', 5, 'invalid_params'],
  ])('signature %s → %s', (_why, signature, want) => {
    // shape only: a signature that merely does not verify is a later step (invalid_signature)
    expect(outcome(() => parseKey(withKey({ signature })))).toBe(want);
  });

  it.each([
    ['0', 0, 'ok'],
    ['2^53 − 1', Number.MAX_SAFE_INTEGER, 'ok'],
    ['2^53', 2 ** 53, 'invalid_params'],
    ['2^64', 2 ** 64, 'invalid_params'],
    ['−1', -1, 'invalid_params'],
    ['1.5', 1.5, 'invalid_params'],
    ['1e-300', 1e-300, 'invalid_params'],
    ['NaN', NaN, 'invalid_params'],
    ['Infinity', Infinity, 'invalid_params'],
    ['a numeric string', '1700000000', 'invalid_params'],
    ['a bigint', 1700000000n, 'invalid_params'],
    ['null', null, 'invalid_params'],
  ])('timestamp_created %s → %s', (_why, ts, want) => {
    expect(outcome(() => parseKey(withKey({ timestamp_created: ts })))).toBe(want);
  });

  it.each([
    ['""', '', 'ok'],
    ['"owner/v1"', 'owner/v1', 'ok'],
    ['"hashcash/v1" with a 5-byte challenge', 'hashcash/v1', 'ok'],
    ['"hashcash/v2"', 'hashcash/v2', 'unsupported_challenge_type'],
    ['"OWNER/V1"', 'OWNER/V1', 'unsupported_challenge_type'],
    ['"owner/v1 " (trailing space)', 'owner/v1 ', 'unsupported_challenge_type'],
    ['a number', 1, 'invalid_params'],
    ['a lone surrogate', '\ud800', 'invalid_params'],
  ])('challenge_type %s → %s', (_why, challenge_type, want) => {
    const challenge = challenge_type === 'hashcash/v1' ? base64urlEncode(new Uint8Array([8, 60, 0, 0, 0])) : '';
    expect(outcome(() => parseKey(withKey({ challenge_type, challenge })))).toBe(want);
  });

  it('a challenge that does not fit its type is invalid_key', () => {
    expect(outcome(() => parseKey(withKey({ challenge_type: 'owner/v1', challenge: b64(1) })))).toBe('invalid_key');
    expect(outcome(() => parseKey(withKey({ challenge_type: 'hashcash/v1', challenge: b64(4) })))).toBe('invalid_key');
    // half_life 0
    expect(outcome(() => parseKey(withKey({ challenge_type: 'hashcash/v1', challenge: base64urlEncode(new Uint8Array([8, 0, 0, 0, 0])) })))).toBe('invalid_key');
  });

  it('an id that is not resource_id(label, owner) is invalid_key', () => {
    expect(outcome(() => parseKey(withKey({ id: resourceId('other', A.peerId) })))).toBe('invalid_key');
    expect(outcome(() => parseKey(withKey({ id: resourceId('weather', B.peerId) })))).toBe('invalid_key');
    expect(outcome(() => parseKey(withKey({ label: 'Weather' })))).toBe('invalid_key');
    expect(message(() => parseKey(withKey({ label: 'Weather' })))).toContain(resourceId('Weather', A.peerId));
  });

  it.each([...['id', 'label', 'owner_peer_id', 'timestamp_created', 'challenge', 'challenge_type', 'signature'].map((f) => [f])])(
    'a missing %s is invalid_params',
    (field) => {
      const k = clone(k0) as unknown as Record<string, unknown>;
      delete k[field];
      expect(outcome(() => parseKey(k))).toBe('invalid_params');
      expect(message(() => parseKey(k))).toContain(field);
    },
  );

  it('an unknown field is invalid_params, whatever its name or value', () => {
    for (const extra of ['extra', 'Label', '__proto__', 'constructor', 'toString', '']) {
      const k = JSON.parse(JSON.stringify(k0).replace(/^\{/, `{${JSON.stringify(extra)}:1,`));
      expect(Object.keys(k)).toContain(extra);
      expect(outcome(() => parseKey(k)), extra).toBe('invalid_params');
    }
  });

  it('a key that is not an object is invalid_params', () => {
    for (const x of [null, undefined, 'key', 42, [k0], [] as unknown[]]) expect(outcome(() => parseKey(x))).toBe('invalid_params');
  });
});

// ---- RecordMetadata and Record (SPEC §3.2, §3.3) ----

describe('RecordMetadata and Record shapes (SPEC §3.2, §3.3)', () => {
  it('accepts the well-formed record (and its metadata alone)', () => {
    expect(parseRecord(clone(r0))).toEqual(r0);
    expect(parseMetadata(clone(r0.metadata))).toEqual(r0.metadata);
  });

  it.each([
    ['1024 × a', 'a'.repeat(1024), 'ok'],
    ['1025 × a', 'a'.repeat(1025), 'invalid_params'],
    ['341 × € + a = 1024 bytes', '€'.repeat(341) + 'a', 'ok'],
    ['341 × € + ab = 1025 bytes', '€'.repeat(341) + 'ab', 'invalid_params'],
    ['256 × 😀 = 1024 bytes', '😀'.repeat(256), 'ok'],
    ['255 × 😀 + é + ab = 1024 bytes', '😀'.repeat(255) + 'éab', 'ok'],
    ['256 × 😀 + a', '😀'.repeat(256) + 'a', 'invalid_params'],
    ['empty', '', 'ok'],
    ['a lone surrogate', 'ok\ud83d', 'invalid_params'],
    ['a number', 1, 'invalid_params'],
  ])('value %s → %s', (_why, value, want) => {
    expect(outcome(() => parseRecord(withMeta({ value })))).toBe(want);
  });

  it.each([
    ['one of 128 bytes', ['s'.repeat(128)], 'ok'],
    ['one of 64 × é = 128 bytes', ['é'.repeat(64)], 'ok'],
    ['one of 129 bytes', ['s'.repeat(129)], 'invalid_params'],
    ['one of 64 × é + a = 129 bytes', ['é'.repeat(64) + 'a'], 'invalid_params'],
    ['one of 1 byte', ['s'], 'ok'],
    ['one empty string', [''], 'invalid_params'],
    ['none', [], 'ok'],
    ['two', ['a', 'b'], 'invalid_params'],
    ['a string, not a list', 'forecast', 'invalid_params'],
    ['a list holding a number', [1], 'invalid_params'],
    ['a lone surrogate', ['\udc00'], 'invalid_params'],
  ])('service_id %s → %s', (_why, service_id, want) => {
    expect(outcome(() => parseRecord(withMeta({ service_id })))).toBe(want);
  });

  it.each([
    ['none', [], 'ok'],
    ['one peer id', [C.peerId], 'ok'],
    ['two peer ids', [A.peerId, C.peerId], 'invalid_params'],
    ['a peer id, not a list', A.peerId, 'invalid_params'],
    ['null', null, 'invalid_params'],
    ['one bad peer id', ['nope'], 'invalid_peer_id'],
  ])('relay_id %s → %s', (_why, relay_id, want) => {
    expect(outcome(() => parseRecord(withMeta({ relay_id })))).toBe(want);
  });

  it.each([
    ['64 bytes', b64(64), 'ok'],
    ['65 bytes', b64(65), 'invalid_params'],
    ['empty', '', 'ok'],
    ['padded', b64(1) + '==', 'invalid_params'],
    ['"+"', '+A', 'invalid_params'],
    ['"/"', '/A', 'invalid_params'],
    ['non-zero trailing bits', 'AAB', 'invalid_params'],
  ])('solution %s → %s', (_why, solution, want) => {
    expect(outcome(() => parseRecord(withMeta({ solution })))).toBe(want);
  });

  it.each([
    ['63 bytes', b64(63)],
    ['65 bytes', b64(65)],
    ['empty', ''],
    ['padded', b64(64) + '=='],
    ['non-zero trailing bits', b64(64).slice(0, -1) + 'B'],
  ])('issuer_signature and the host signature of %s are invalid_params', (_why, sig) => {
    expect(outcome(() => parseRecord(withMeta({ issuer_signature: sig })))).toBe('invalid_params');
    expect(outcome(() => parseRecord(withRecord({ signature: sig })))).toBe('invalid_params');
  });

  it.each([
    ['2^53 − 1', Number.MAX_SAFE_INTEGER, 'ok'],
    ['2^53', 2 ** 53, 'invalid_params'],
    ['−1', -1, 'invalid_params'],
    ['0.5', 0.5, 'invalid_params'],
    ['a string', '0', 'invalid_params'],
  ])('timestamp_issued / timestamp_created %s → %s', (_why, ts, want) => {
    expect(outcome(() => parseRecord(withMeta({ timestamp_issued: ts })))).toBe(want);
    expect(outcome(() => parseRecord(withRecord({ timestamp_created: ts })))).toBe(want);
  });

  it.each([
    ['not base58', '0'.repeat(44)],
    ['31 bytes', base58Encode(new Uint8Array(31).fill(9))],
    ['33 bytes', base58Encode(new Uint8Array(33).fill(9))],
    ['a leading "1" too many (non-canonical)', '1' + k0.id],
    ['a peer id', A.peerId],
    ['empty', ''],
    ['a number', 7],
  ])('key_id %s is invalid_params', (_why, key_id) => {
    expect(outcome(() => parseRecord(withMeta({ key_id })))).toBe('invalid_params');
    expect(outcome(() => parseTombstone(withTombstone({ key_id })))).toBe('invalid_params');
  });

  it('missing and unknown fields are invalid_params, at both levels', () => {
    for (const f of Object.keys(r0.metadata)) {
      const r = clone(r0) as unknown as { metadata: Record<string, unknown> };
      delete r.metadata[f];
      expect(outcome(() => parseRecord(r)), f).toBe('invalid_params');
    }
    for (const f of ['metadata', 'timestamp_created', 'signature']) {
      const r = clone(r0) as unknown as Record<string, unknown>;
      delete r[f];
      expect(outcome(() => parseRecord(r)), f).toBe('invalid_params');
    }
    expect(outcome(() => parseRecord(withMeta({ extra: '' })))).toBe('invalid_params');
    expect(outcome(() => parseRecord(withRecord({ extra: null })))).toBe('invalid_params');
    expect(outcome(() => parseRecord(withRecord({ metadata: [] })))).toBe('invalid_params');
    expect(outcome(() => parseRecord(withRecord({ metadata: null })))).toBe('invalid_params');
    expect(outcome(() => parseMetadata({ ...clone(r0.metadata), timestamp_created: TS }))).toBe('invalid_params');
  });
});

// ---- Tombstone (SPEC §3.4) ----

describe('Tombstone shapes (SPEC §3.4)', () => {
  it('accepts the well-formed tombstone', () => {
    expect(parseTombstone(clone(t0))).toEqual(t0);
  });

  it.each([
    ['solution of 64 bytes', { solution: b64(64) }, 'ok'],
    ['solution of 65 bytes', { solution: b64(65) }, 'invalid_params'],
    ['solution padded', { solution: 'AA==' }, 'invalid_params'],
    ['issuer_signature of 63 bytes', { issuer_signature: b64(63) }, 'invalid_params'],
    ['issuer_signature of 65 bytes', { issuer_signature: b64(65) }, 'invalid_params'],
    ['timestamp_issued 2^53', { timestamp_issued: 2 ** 53 }, 'invalid_params'],
    ['timestamp_issued −5', { timestamp_issued: -5 }, 'invalid_params'],
    ['timestamp_issued 1.25', { timestamp_issued: 1.25 }, 'invalid_params'],
    ['an unknown field', { value: '' }, 'invalid_params'],
    ['a record field', { relay_id: [] }, 'invalid_params'],
  ])('%s → %s', (_why, patch, want) => {
    expect(outcome(() => parseTombstone(withTombstone(patch)))).toBe(want);
  });

  it('every missing field is invalid_params', () => {
    for (const f of Object.keys(t0)) {
      const t = clone(t0) as unknown as Record<string, unknown>;
      delete t[f];
      expect(outcome(() => parseTombstone(t)), f).toBe('invalid_params');
    }
  });
});

// ---- the order of SPEC §3.5 step 1 ----

describe('the order of SPEC §3.5 step 1', () => {
  it('types and sizes come before peer ids', () => {
    // a label over its limit and a bad owner peer id
    expect(outcome(() => parseKey(withKey({ label: 'a'.repeat(257), owner_peer_id: 'nope' })))).toBe('invalid_params');
    // the bad peer id comes first in field order, the bad signature last
    expect(outcome(() => parseKey(withKey({ owner_peer_id: SMALL_ORDER, signature: b64(63) })))).toBe('invalid_params');
    expect(outcome(() => parseKey(withKey({ owner_peer_id: 'nope', timestamp_created: -1 })))).toBe('invalid_params');
    // record: a bad metadata peer id, then an outer signature of 65 bytes
    expect(outcome(() => parseRecord({ ...withMeta({ issued_by: RSA }), signature: b64(65) }))).toBe('invalid_params');
    expect(outcome(() => parseRecord({ ...withMeta({ peer_id: RSA }), timestamp_created: 1.5 }))).toBe('invalid_params');
    expect(outcome(() => parseRecord(withMeta({ relay_id: ['nope'], service_id: [''] })))).toBe('invalid_params');
    // tombstone: bad peer ids and a solution over its limit
    expect(outcome(() => parseTombstone(withTombstone({ issued_by: 'x', peer_id: 'y', solution: b64(65) })))).toBe('invalid_params');
    // an unknown field beats a bad peer id
    expect(outcome(() => parseTombstone({ ...withTombstone({ peer_id: 'y' }), extra: 1 }))).toBe('invalid_params');
  });

  it('peer ids come before the challenge type', () => {
    expect(outcome(() => parseKey(withKey({ owner_peer_id: SECP256K1, challenge_type: 'pow/v9' })))).toBe('invalid_peer_id');
    expect(outcome(() => parseKey(withKey({ owner_peer_id: SMALL_ORDER, challenge_type: 'x', id: resourceId('someone else', B.peerId) })))).toBe('invalid_peer_id');
  });

  it('a key id that is not the base58 of 32 bytes is a shape error, before the peer ids (SPEC §3.5 step 1)', () => {
    for (const id of ['not-an-id', '', '1'.repeat(44), `${resourceId('x', B.peerId)}1`]) {
      expect(outcome(() => parseKey(withKey({ id })))).toBe('invalid_params');
      expect(outcome(() => parseKey(withKey({ id, owner_peer_id: SMALL_ORDER })))).toBe('invalid_params');
    }
  });

  it('the challenge type comes before the id check and the challenge fit', () => {
    // owner B with A's key id: id mismatch
    expect(outcome(() => parseKey(withKey({ owner_peer_id: B.peerId, challenge_type: 'hashcash/v2' })))).toBe('unsupported_challenge_type');
    expect(outcome(() => parseKey(withKey({ label: 'other', challenge_type: 'x', challenge: b64(3) })))).toBe('unsupported_challenge_type');
  });

  it('the id check and the challenge fit come last, and before any signature check', () => {
    // a signature that does not verify (all zeros) is not a shape error
    expect(outcome(() => parseKey(withKey({ signature: b64(64, 0) })))).toBe('ok');
    expect(outcome(() => parseKey(withKey({ label: 'moved', signature: b64(64, 0) })))).toBe('invalid_key');
    expect(outcome(() => parseKey(withKey({ challenge: b64(2), signature: b64(64, 0) })))).toBe('invalid_key');
  });
});
