/**
 * The node-to-node wire protocol v1 (SPEC §8, protocols/wire.ts) as pure functions: every frame type
 * round-trips through the MessagePack codec; bytes that are not a frame, frames with missing, unknown or
 * ill-typed fields, and invalid peer ids are refused with a SignpostError (never another exception); every
 * peer method's params are checked by `parsePeerRequest`; and the answers a node parses from its peers
 * (`find_node`, `get`) and the addresses it accepts (`ws://HOST:PORT`, `wss://HOST:PORT`).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base58Decode, base58Encode } from '../../../protocols/encoding.js';
import { resourceId } from '../../../protocols/objects.js';
import {
  MAX_ADDRESS_BYTES,
  MAX_FIND_NODE_PEERS,
  MAX_REPUBLISH_ENTRIES,
  NONCE_BYTES,
  WIRE_VERSIONS,
  agreedVersion,
  decodeFrame,
  encodeFrame,
  expectAddress,
  parseFindNodeResult,
  parseKeyContents,
  parsePeerRequest,
  type Frame,
} from '../../../protocols/wire.js';
import { key, peer, record, tombstone } from '../../helpers/objects.js';
import { outcome } from '../../helpers/outcome.js';

const TS = 1_700_000_000;
const A = peer(1);
const B = peer(2);
const k0 = key(A, 'weather', TS);
const r0 = record(k0, B, TS);
const t0 = tombstone(k0, A, B.peerId, TS + 1);
/** SPEC §1: a peer id whose key is the identity point (small order): well-formed, but invalid. */
const IDENTITY_POINT_PEER_ID = '12D3KooW9tGaPdJo5jmCpadQ971nfiq4kLcQjeBPYTfutBTtckPH';

const bytes = (n: number, fill = 7): Uint8Array => new Uint8Array(n).fill(fill);


/** Encodes any value the way frames are encoded (so malformed "frames" use the real codec). */
const pack = (x: unknown): Uint8Array => encodeFrame(x as Frame);
const decodeOutcome = (x: unknown): string => outcome(() => decodeFrame(pack(x)));

/** Buffers (what the decoder gives) and Uint8Arrays compare as plain byte lists. */
function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return { bytes: Array.from(x) };
  if (Array.isArray(x)) return x.map(plain);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
  return x;
}

const hello = (over: Record<string, unknown> = {}) => ({
  t: 'hello',
  versions: [...WIRE_VERSIONS],
  peer_id: A.peerId,
  nonce: bytes(NONCE_BYTES),
  address: 'ws://127.0.0.1:7070',
  observed: '10.0.0.2',
  ...over,
});
const auth = (over: Record<string, unknown> = {}) => ({ t: 'auth', version: 1, signature: bytes(64), ...over });
const req = (over: Record<string, unknown> = {}) => ({ t: 'req', id: 1, method: 'ping', params: {}, ...over });
const res = (over: Record<string, unknown> = {}) => ({ t: 'res', id: 1, result: {}, ...over });
const err = (over: Record<string, unknown> = {}) => ({ t: 'err', id: 1, code: 'key_not_found', message: 'no such key', ...over });
const FRAMES = { hello, auth, req, res, err } as const;

describe('frames round-trip through encodeFrame / decodeFrame', () => {
  const examples: Array<[string, Frame]> = [
    ['hello with an address', hello() as Frame],
    ['hello without an address', hello({ address: null }) as Frame],
    ['hello with several versions', hello({ versions: [0, 1, 7] }) as Frame],
    ['hello with a wss address', hello({ address: 'wss://node.example:8443' }) as Frame],
    ['hello that observed nothing', hello({ observed: null }) as Frame],
    ['auth', auth() as Frame],
    ['req ping', req() as Frame],
    ['req find_node with binary params', req({ id: 0xffffffff, method: 'find_node', params: { target: bytes(32, 9) } }) as Frame],
    ['req put_record with a signed object', req({ id: 0, method: 'put_record', params: { record: r0 } }) as Frame],
    ['res with a nested result', res({ id: 42, result: { peers: [{ peer_id: A.peerId, address: 'ws://h:1' }], n: 3, ok: true, none: null } }) as Frame],
    ['res with a scalar result', res({ result: 'x' }) as Frame],
    ['err', err({ id: 3, code: 'invalid_params', message: 'é ✓ 🚀' }) as Frame],
  ];
  it.each(examples)('%s', (_name, frame) => {
    const encoded = encodeFrame(frame);
    expect(encoded).toBeInstanceOf(Uint8Array);
    expect(plain(decodeFrame(encoded))).toEqual(plain(frame));
  });

  it('binary fields come back as bytes (Uint8Array), not as lists or strings', () => {
    const f = decodeFrame(encodeFrame(hello() as Frame));
    expect(f.t).toBe('hello');
    if (f.t === 'hello') {
      expect(f.nonce).toBeInstanceOf(Uint8Array);
      expect(f.nonce.length).toBe(NONCE_BYTES);
    }
    const a = decodeFrame(encodeFrame(auth() as Frame));
    if (a.t === 'auth') expect(a.signature).toBeInstanceOf(Uint8Array);
  });

  it('any request, result and error with JSON-like payloads round-trips (property)', () => {
    const json = fc
      .jsonValue({ maxDepth: 4 })
      .map((v) => JSON.parse(JSON.stringify(v)) as unknown) // -0 → 0, as JSON would
      .filter((v) => !JSON.stringify(v).includes('"__proto__"'));
    const id = fc.integer({ min: 0, max: 0xffffffff });
    const method = fc.string({ maxLength: 10 });
    const frame = fc.oneof(
      fc.record({ t: fc.constant('req' as const), id, method, params: json }),
      fc.record({ t: fc.constant('res' as const), id, result: json }),
      fc.record({ t: fc.constant('err' as const), id, code: fc.string({ maxLength: 20 }), message: fc.string({ maxLength: 200 }) }),
    );
    fc.assert(
      fc.property(frame, (f) => {
        expect(plain(decodeFrame(encodeFrame(f as Frame)))).toEqual(plain(f));
      }),
      { numRuns: 300 },
    );
  });
});

describe('decodeFrame refuses what is not a frame', () => {
  it('bytes that are not MessagePack: empty, truncated, trailing bytes → invalid_request', () => {
    const good = encodeFrame(res() as Frame);
    expect(outcome(() => decodeFrame(new Uint8Array()))).toBe('invalid_request');
    expect(outcome(() => decodeFrame(good.slice(0, good.length - 3)))).toBe('invalid_request');
    expect(outcome(() => decodeFrame(new Uint8Array([...good, 0x00])))).toBe('invalid_request');
    expect(outcome(() => decodeFrame(new Uint8Array([0xc1])))).toBe('invalid_request');
    expect(outcome(() => decodeFrame(new TextEncoder().encode('{"t":"req"}')))).toBe('invalid_request');
  });

  it('random bytes never throw anything but a SignpostError (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const code = outcome(() => decodeFrame(b));
        expect(['ok', 'invalid_request', 'invalid_params', 'invalid_peer_id']).toContain(code);
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid frames never throw anything but a SignpostError (property)', () => {
    const frames = [hello(), auth(), req({ method: 'find_node', params: { target: bytes(32) } }), res(), err()].map((f) => pack(f));
    fc.assert(
      fc.property(fc.nat(frames.length - 1), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (i, edits) => {
        const b = Uint8Array.from(frames[i]);
        for (const [at, v] of edits) b[at % b.length] = v;
        expect(['ok', 'invalid_request', 'invalid_params', 'invalid_peer_id']).toContain(outcome(() => decodeFrame(b)));
      }),
      { numRuns: 2000 },
    );
  });

  it('a value that is not a map, or a map without a string "t" → invalid_request', () => {
    for (const x of [null, true, 0, 1.5, 'hello', ['hello'], bytes(4), {}, { type: 'req' }, { t: 1 }, { t: null }, { t: ['req'] }]) {
      expect(decodeOutcome(x), JSON.stringify(x)).toBe('invalid_request');
    }
  });

  it('an unknown frame type → invalid_request', () => {
    for (const t of ['', 'HELLO', 'request', 'ping', 'response', 'error', 'constructor', '__proto__', 'toString']) {
      expect(decodeOutcome({ ...req(), t }), t).toBe('invalid_request');
    }
  });

  it.each(Object.keys(FRAMES) as Array<keyof typeof FRAMES>)('a %s frame with a missing or an unknown field is refused', (type) => {
    const full: Record<string, unknown> = FRAMES[type]();
    // hello.observed is the one optional field (tested on its own).
    for (const field of Object.keys(full).filter((f) => f !== 't' && !(type === 'hello' && f === 'observed'))) {
      const missing = { ...full };
      delete missing[field];
      expect(decodeOutcome(missing), `${type} without ${field}`).toBe('invalid_params');
    }
    expect(decodeOutcome({ ...full, extra: 1 }), `${type} with an extra field`).toBe('invalid_params');
    expect(decodeOutcome({ ...full, constructor: 1 }), `${type} with a "constructor" field`).toBe('invalid_params');
  });

  it.each(['req', 'res', 'err'] as const)('a %s frame whose id is not a u32 → invalid_request', (type) => {
    for (const id of [-1, 1.5, 2 ** 32, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, '1', null, true, [1], bytes(4)]) {
      expect(decodeOutcome(FRAMES[type]({ id })), `${type} id ${String(id)}`).toBe('invalid_request');
    }
    expect(decodeOutcome(FRAMES[type]({ id: 0 }))).toBe('ok');
    expect(decodeOutcome(FRAMES[type]({ id: 0xffffffff }))).toBe('ok');
  });

  it('hello.nonce must be exactly 32 bytes of binary → invalid_params', () => {
    for (const nonce of [bytes(0), bytes(31), bytes(33), bytes(64), 'x'.repeat(32), Array(32).fill(1), null]) {
      expect(decodeOutcome(hello({ nonce })), `nonce ${String(nonce)}`).toBe('invalid_params');
    }
  });

  it('auth.signature must be exactly 64 bytes of binary → invalid_params; auth.version an integer → invalid_request', () => {
    for (const signature of [bytes(63), bytes(65), bytes(0), 'x'.repeat(64), null]) {
      expect(decodeOutcome(auth({ signature })), `signature ${String(signature)}`).toBe('invalid_params');
    }
    for (const version of [1.5, '1', null, [1]]) expect(decodeOutcome(auth({ version })), `version ${String(version)}`).toBe('invalid_request');
  });

  it('hello.peer_id that is not a valid Ed25519 peer id → invalid_peer_id', () => {
    const raw = base58Decode(A.peerId)!;
    const otherKeyType = Uint8Array.from(raw);
    otherKeyType[3] = 0x02; // protobuf key type Secp256k1 instead of Ed25519
    const cases = [
      '',
      'x',
      A.peerId.slice(0, 51),
      `${A.peerId}1`,
      A.peerId.toLowerCase(),
      IDENTITY_POINT_PEER_ID,
      base58Encode(otherKeyType),
      'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N',
      42,
      null,
    ];
    for (const peer_id of cases) expect(decodeOutcome(hello({ peer_id })), `peer_id ${String(peer_id)}`).toBe('invalid_peer_id');
  });

  it('hello.versions must be a list of 1..16 integers → invalid_request', () => {
    for (const versions of [[], Array(17).fill(1), [1.5], ['1'], [null], 1, '1', null, { 0: 1 }]) {
      expect(decodeOutcome(hello({ versions })), `versions ${JSON.stringify(versions)}`).toBe('invalid_request');
    }
    expect(decodeOutcome(hello({ versions: Array(16).fill(1) }))).toBe('ok');
    expect(decodeOutcome(hello({ versions: [2, 3] }))).toBe('ok'); // decodes; the handshake decides (4002)
  });

  it('hello.address that no node could dial (not ws(s)://HOST:PORT, a wildcard) is taken as none', () => {
    for (const address of ['', 'ws://h', 'http://h:1', 'ws://h:1/p2p', 'ws://0.0.0.0:7070', 'ws://[::]:7070', 42, [], {}]) {
      const f = decodeFrame(pack(hello({ address })));
      expect(f.t === 'hello' && f.address, `address ${JSON.stringify(address)}`).toBeNull();
    }
    const f = decodeFrame(pack(hello({ address: 'ws://NODE.example:7070/' })));
    expect(f.t === 'hello' && f.address).toBe('ws://node.example:7070');
  });

  it('hello.observed is optional, a string of at most 256 bytes', () => {
    const { observed: _, ...without } = hello();
    expect(decodeOutcome(without)).toBe('ok');
    expect(decodeOutcome(hello({ observed: 'x'.repeat(257) }))).toBe('invalid_params');
    expect(decodeOutcome(hello({ observed: 7 }))).toBe('invalid_params');
  });

  it('req.method is a string of at most 32 bytes; err.code at most 64 and err.message at most 4096', () => {
    expect(decodeOutcome(req({ method: 'm'.repeat(32) }))).toBe('ok');
    expect(decodeOutcome(req({ method: 'm'.repeat(33) }))).toBe('invalid_params');
    expect(decodeOutcome(req({ method: 'é'.repeat(17) }))).toBe('invalid_params'); // 34 bytes
    expect(decodeOutcome(req({ method: 7 }))).toBe('invalid_params');
    expect(decodeOutcome(err({ code: 'c'.repeat(64) }))).toBe('ok');
    expect(decodeOutcome(err({ code: 'c'.repeat(65) }))).toBe('invalid_params');
    expect(decodeOutcome(err({ message: 'm'.repeat(4096) }))).toBe('ok');
    expect(decodeOutcome(err({ message: 'm'.repeat(4097) }))).toBe('invalid_params');
    expect(decodeOutcome(err({ code: 1 }))).toBe('invalid_params');
  });

  it('a frame keeps no prototype tricks: a "__proto__" key is refused as an unknown field', () => {
    // {t: "req", id: 1, method: "ping", params: {"__proto__": {"x": 1}}} written by hand.
    const s = (x: string) => [0xa0 | x.length, ...new TextEncoder().encode(x)];
    const b = new Uint8Array([0x84, ...s('t'), ...s('req'), ...s('id'), 1, ...s('method'), ...s('ping'), ...s('params'), 0x81, ...s('__proto__'), 0x81, ...s('x'), 1]);
    const f = decodeFrame(b);
    expect(f.t).toBe('req');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    if (f.t === 'req') expect(outcome(() => parsePeerRequest(f.method, f.params))).toBe('invalid_params');
  });
});

describe('agreedVersion', () => {
  it('is the highest version both sides speak, or null', () => {
    expect(agreedVersion([1])).toBe(1);
    expect(agreedVersion([0, 1, 2, 3])).toBe(1);
    expect(agreedVersion([2, 3])).toBeNull();
    expect(agreedVersion([0])).toBeNull();
  });
});

describe('parsePeerRequest', () => {
  const target = bytes(32, 1);
  const valid: Array<[string, unknown, object]> = [
    ['ping', {}, { method: 'ping' }],
    ['find_node', { target }, { method: 'find_node', target }],
    ['store_key', { key: k0 }, { method: 'store_key', key: k0 }],
    ['put_record', { record: r0 }, { method: 'put_record', record: r0 }],
    ['add_tombstone', { tombstone: t0 }, { method: 'add_tombstone', tombstone: t0 }],
    ['get', { key_id: k0.id }, { method: 'get', key_id: k0.id }],
    ['republish', { key: k0, records: [r0], tombstones: [t0] }, { method: 'republish', key: k0, records: [r0], tombstones: [t0] }],
  ];
  it.each(valid)('%s with valid params', (method, params, expected) => {
    expect(parsePeerRequest(method, params)).toEqual(expected);
  });

  it('parses signed objects as they travel: decoded from a real frame', () => {
    for (const [method, params, expected] of valid) {
      const f = decodeFrame(encodeFrame({ t: 'req', id: 9, method, params }));
      if (f.t !== 'req') throw new Error('not a req');
      expect(plain(parsePeerRequest(f.method, f.params))).toEqual(plain(expected));
    }
  });

  it('an unknown method → method_not_found (also names of Object.prototype)', () => {
    for (const m of ['', 'PING', 'find-node', 'register_key', 'hasOwnProperty', 'constructor', '__proto__', 'toString']) {
      expect(outcome(() => parsePeerRequest(m, {})), m).toBe('method_not_found');
    }
  });

  const bad: Array<[string, string, unknown]> = [
    ['ping', 'null', null],
    ['ping', 'undefined', undefined],
    ['ping', 'a list', []],
    ['ping', 'an unknown field', { x: 1 }],
    ['ping', 'a string', 'x'],
    ['find_node', 'no target', {}],
    ['find_node', 'a 31-byte target', { target: bytes(31) }],
    ['find_node', 'a 33-byte target', { target: bytes(33) }],
    ['find_node', 'a string target', { target: 'a'.repeat(32) }],
    ['find_node', 'a list target', { target: Array(32).fill(0) }],
    ['find_node', 'an extra field', { target, extra: 1 }],
    ['store_key', 'no key', {}],
    ['store_key', 'a null key', { key: null }],
    ['store_key', 'a key with an unknown field', { key: { ...k0, extra: 1 } }],
    ['store_key', 'a key with a label over 256 bytes', { key: { ...k0, label: 'x'.repeat(257) } }],
    ['store_key', 'an extra field', { key: k0, extra: 1 }],
    ['put_record', 'an empty record', { record: {} }],
    ['put_record', 'a negative timestamp', { record: { ...r0, timestamp_created: -1 } }],
    ['add_tombstone', 'a string timestamp', { tombstone: { ...t0, timestamp_issued: '1' } }],
    ['add_tombstone', 'a record instead', { record: r0 }],
    ['get', 'no key_id', {}],
    ['get', 'a key_id that is not a resource id', { key_id: 'nope' }],
    ['get', 'a number key_id', { key_id: 42 }],
    ['get', 'an extra field', { key_id: k0.id, extra: true }],
    ['republish', 'no tombstones', { key: k0, records: [] }],
    ['republish', 'records not a list', { key: k0, records: {}, tombstones: [] }],
    ['republish', 'tombstones not a list', { key: k0, records: [], tombstones: 'x' }],
    ['republish', `more than ${MAX_REPUBLISH_ENTRIES} records`, { key: k0, records: Array(MAX_REPUBLISH_ENTRIES + 1).fill(0), tombstones: [] }],
  ];
  it.each(bad)('%s with %s → invalid_params', (method, _what, params) => {
    expect(outcome(() => parsePeerRequest(method, params))).toBe('invalid_params');
  });

  it('objects that parse but disagree fail with their own codes (invalid_peer_id, invalid_key)', () => {
    expect(outcome(() => parsePeerRequest('store_key', { key: { ...k0, id: resourceId('other', A.peerId) } }))).toBe('invalid_key');
    expect(outcome(() => parsePeerRequest('store_key', { key: { ...k0, owner_peer_id: IDENTITY_POINT_PEER_ID } }))).toBe('invalid_peer_id');
    expect(outcome(() => parsePeerRequest('add_tombstone', { tombstone: { ...t0, peer_id: 'not-a-peer' } }))).toBe('invalid_peer_id');
  });

  it('republish entries are not parsed here (a bad entry never blocks the others, SPEC §4.3)', () => {
    const r = parsePeerRequest('republish', { key: k0, records: [{ junk: 1 }, r0], tombstones: [42] });
    expect(r).toEqual({ method: 'republish', key: k0, records: [{ junk: 1 }, r0], tombstones: [42] });
    expect(outcome(() => parsePeerRequest('republish', { key: k0, records: Array(MAX_REPUBLISH_ENTRIES).fill(0), tombstones: [] }))).toBe('ok');
  });
});

describe('parseFindNodeResult', () => {
  const good = (i: number) => ({ peer_id: peer(10 + i).peerId, address: `ws://127.0.0.1:${7000 + i}` });

  it('keeps the peers that parse, normalises their addresses, and counts the others', () => {
    const out = parseFindNodeResult({
      peers: [
        good(0),
        { peer_id: IDENTITY_POINT_PEER_ID, address: 'ws://127.0.0.1:1' },
        { peer_id: 'junk', address: 'ws://127.0.0.1:1' },
        { ...good(1), address: 'http://127.0.0.1:1' },
        { ...good(2), extra: 1 },
        { peer_id: peer(13).peerId },
        42,
        null,
        { ...good(3), address: 'WS://127.0.0.1:7003/' },
      ],
    });
    expect(out.peers).toEqual([good(0), good(3)]);
    expect(out.dropped).toBe(7);
  });

  it('accepts an empty list and exactly the maximum; refuses more, a non-list, or extra fields', () => {
    expect(parseFindNodeResult({ peers: [] })).toEqual({ peers: [], dropped: 0 });
    expect(parseFindNodeResult({ peers: Array.from({ length: MAX_FIND_NODE_PEERS }, () => good(0)) }).peers).toHaveLength(MAX_FIND_NODE_PEERS);
    expect(outcome(() => parseFindNodeResult({ peers: Array.from({ length: MAX_FIND_NODE_PEERS + 1 }, () => good(0)) }))).toBe('invalid_params');
    expect(outcome(() => parseFindNodeResult({ peers: {} }))).toBe('invalid_params');
    expect(outcome(() => parseFindNodeResult({}))).toBe('invalid_params');
    expect(outcome(() => parseFindNodeResult({ peers: [], more: [] }))).toBe('invalid_params');
    expect(outcome(() => parseFindNodeResult(null))).toBe('invalid_params');
  });
});

describe('parseKeyContents', () => {
  it('parses a get answer, shapes checked', () => {
    const out = parseKeyContents({ key: k0, records: [r0], tombstones: [t0] });
    expect(out).toEqual({ key: k0, records: [r0], tombstones: [t0] });
  });

  it('refuses a malformed answer or entry', () => {
    expect(outcome(() => parseKeyContents({ key: k0, records: [] }))).toBe('invalid_params');
    expect(outcome(() => parseKeyContents({ key: k0, records: [{ junk: 1 }], tombstones: [] }))).toBe('invalid_params');
    expect(outcome(() => parseKeyContents({ key: k0, records: [], tombstones: [{ ...t0, peer_id: 'x' }] }))).toBe('invalid_peer_id');
    expect(outcome(() => parseKeyContents({ key: k0, records: 'x', tombstones: [] }))).toBe('invalid_params');
    expect(outcome(() => parseKeyContents({ key: { ...k0, id: resourceId('zz', A.peerId) }, records: [], tombstones: [] }))).toBe('invalid_key');
  });
});

describe('expectAddress', () => {
  it('accepts ws://HOST:PORT and wss://HOST:PORT and returns them normalised', () => {
    expect(expectAddress('ws://127.0.0.1:7070', 'a')).toBe('ws://127.0.0.1:7070');
    expect(expectAddress('wss://node.example:8443', 'a')).toBe('wss://node.example:8443');
    expect(expectAddress('ws://[::1]:7070', 'a')).toBe('ws://[::1]:7070');
    expect(expectAddress('ws://Node.Example:7070/', 'a')).toBe('ws://node.example:7070');
    expect(expectAddress('WSS://h:1', 'a')).toBe('wss://h:1');
  });

  it('refuses other schemes, a missing port, a path, query, fragment or credentials', () => {
    const cases = [
      '',
      'h:1',
      '127.0.0.1:7070',
      'ws://127.0.0.1',
      'http://127.0.0.1:7070',
      'https://127.0.0.1:7070',
      'ftp://127.0.0.1:7070',
      'ws://127.0.0.1:7070/p2p',
      'ws://127.0.0.1:7070/rpc',
      'ws://127.0.0.1:7070?x=1',
      'ws://127.0.0.1:7070#x',
      'ws://user@127.0.0.1:7070',
      'ws://user:pw@127.0.0.1:7070',
      'ws://::1:7070',
      'ws://127.0.0.1:99999',
      'javascript:alert(1)',
    ];
    for (const s of cases) expect(outcome(() => expectAddress(s, 'a')), s).toBe('invalid_params');
    for (const x of [null, 42, {}, [], bytes(3)]) expect(outcome(() => expectAddress(x, 'a'))).toBe('invalid_params');
  });

  it(`refuses an address longer than ${MAX_ADDRESS_BYTES} bytes`, () => {
    const host = (n: number) => 'a'.repeat(n);
    const fits = `ws://${host(MAX_ADDRESS_BYTES - 'ws://:7070'.length)}:7070`;
    expect(fits.length).toBe(MAX_ADDRESS_BYTES);
    expect(outcome(() => expectAddress(fits, 'a'))).toBe('ok');
    expect(outcome(() => expectAddress(`ws://${host(MAX_ADDRESS_BYTES)}:7070`, 'a'))).toBe('invalid_params');
  });

  it('accepts the scheme\'s default port: a node on port 80 (ws) or 443 (wss) can say where it listens', () => {
    // The node advertises `${ws|wss}://${host}:${port}` (runtime/node/start.ts); for these ports the URL parser
    // drops the port, which must not make the address invalid.
    expect(outcome(() => expectAddress('ws://node.example:80', 'a'))).toBe('ok');
    expect(outcome(() => expectAddress('wss://node.example:443', 'a'))).toBe('ok');
    const back = new URL(expectAddress('wss://node.example:443', 'a'));
    expect([back.protocol, back.hostname, back.port || '443']).toEqual(['wss:', 'node.example', '443']);
    // …and a hello carrying it decodes.
    expect(decodeOutcome(hello({ address: 'wss://node.example:443' }))).toBe('ok');
  });
});
