/**
 * The edges of the client API of a real node process (SPEC §7, §9, §9.3, §9.4, §10, §12): malformed
 * frames and requests, per-connection limits, test-mode methods, node and actor introspection, sessions
 * and the HTTP endpoints.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64urlDecode, base64urlEncode } from '../../../protocols/encoding.js';
import { ERROR_CODES } from '../../../protocols/errors.js';
import { sessionDigest } from '../../../protocols/identity.js';
import { VERSION } from '../../../runtime/base/version.js';
import { RpcError, type RpcClient } from '../../../runtime/client/rpc-client.js';
import { startNodeProcess, type NodeProcess } from '../../helpers/node-process.js';
import { key, peer, record, tombstone } from '../../helpers/objects.js';
import { RawSocket } from '../../helpers/raw-socket.js';

const T0 = 1_700_000_000;
const PASSIVATE_MS = 300;
const FRAME_LIMIT = 4096;
const MAX_BATCH = 5;
const RATE = 10;
const BURST = 20;

let node: NodeProcess; // manual clock, small passivation time
let limited: NodeProcess; // system clock, small frame / batch / rate limits
let spawnedAt: number;
const sockets: RawSocket[] = [];

async function raw(n: NodeProcess = node): Promise<RawSocket> {
  const s = await RawSocket.open(n.rpcUrl);
  sockets.push(s);
  return s;
}

/** The error of a call, or fails the test. */
async function failure(client: RpcClient, method: string, params?: object): Promise<RpcError> {
  try {
    const result = await client.call(method, params);
    throw new Error(`${method} succeeded with ${JSON.stringify(result)}`);
  } catch (e) {
    if (!(e instanceof RpcError)) throw e;
    return e;
  }
}

function expectError(answer: any, id: unknown, code: keyof typeof ERROR_CODES): void {
  expect(answer).toMatchObject({ jsonrpc: '2.0', id, error: { code: ERROR_CODES[code], data: { code } } });
  expect(answer).not.toHaveProperty('result');
  expect(typeof answer.error.message).toBe('string');
  expect(answer.error.message.length).toBeGreaterThan(5);
}

beforeAll(async () => {
  spawnedAt = Date.now();
  [node, limited] = await Promise.all([
    startNodeProcess({ env: { clock_start: T0, passivate_after_ms: PASSIVATE_MS } }),
    startNodeProcess({
      manual: false,
      env: { max_frame_bytes: FRAME_LIMIT, max_batch: MAX_BATCH, rate_limit_per_s: RATE, rate_limit_burst: BURST },
    }),
  ]);
});

afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  const codes = await Promise.all([node?.stop(), limited?.stop()]);
  expect(codes).toEqual([0, 0]);
});

describe('JSON-RPC envelope errors (SPEC §7, §9)', () => {
  it('answers invalid JSON with parse_error and id null', async () => {
    const s = await raw();
    for (const frame of ['{"jsonrpc":"2.0","id":1,"method":', '', 'nul', '{"a":1}}', "{'jsonrpc':'2.0'}", '[1,]']) {
      expectError(await s.roundTrip(frame), null, 'parse_error');
    }
    // the connection is still usable
    expect(await s.roundTrip({ jsonrpc: '2.0', id: 2, method: 'node.info' })).toMatchObject({ id: 2, result: { peer_id: node.peerId } });
  });

  it('answers what is not a JSON-RPC 2.0 request with invalid_request, with the id when it can be read', async () => {
    const s = await raw();
    expectError(await s.roundTrip({ id: 7, method: 'node.info' }), 7, 'invalid_request');
    expectError(await s.roundTrip({ jsonrpc: '1.0', id: 'x', method: 'node.info' }), 'x', 'invalid_request');
    expectError(await s.roundTrip({ jsonrpc: '2.0', id: 3, method: 5 }), 3, 'invalid_request');
    expectError(await s.roundTrip({ jsonrpc: '2.0', id: 4, method: 'node.info', params: 'x' }), 4, 'invalid_request');
    expectError(await s.roundTrip({ jsonrpc: '2.0', id: 5, method: 'node.info', extra: true }), 5, 'invalid_request');
    expectError(await s.roundTrip({ jsonrpc: '2.0', id: { n: 1 }, method: 'node.info' }), null, 'invalid_request');
    expectError(await s.roundTrip('42'), null, 'invalid_request');
    expectError(await s.roundTrip('"node.info"'), null, 'invalid_request');
    expectError(await s.roundTrip('null'), null, 'invalid_request');
    expectError(await s.roundTrip('[]'), null, 'invalid_request');
    // in a batch, each bad entry is answered on its own and the good ones run
    const answers = await s.roundTrip([{ jsonrpc: '2.0', id: 10, method: 'node.info' }, 5, { jsonrpc: '2.0', id: 11 }]);
    expect(answers).toHaveLength(3);
    expect(answers.find((a: any) => a.id === 10)).toMatchObject({ result: { peer_id: node.peerId } });
    expectError(answers.find((a: any) => a.id === 11), 11, 'invalid_request');
    expectError(answers.find((a: any) => a.id === null), null, 'invalid_request');
  });

  it('answers an unknown method with method_not_found, and a notification not at all', async () => {
    const s = await raw();
    expectError(await s.roundTrip({ jsonrpc: '2.0', id: 1, method: 'registry.nope', params: {} }), 1, 'method_not_found');
    expectError(await s.roundTrip({ jsonrpc: '2.0', id: 2, method: '' }), 2, 'method_not_found');
    expectError(await s.roundTrip({ jsonrpc: '2.0', id: 3, method: 'constructor' }), 3, 'method_not_found');
    expectError(await s.roundTrip({ jsonrpc: '2.0', id: 4, method: '__proto__' }), 4, 'method_not_found');
    s.send(JSON.stringify({ jsonrpc: '2.0', method: 'registry.nope' }));
    s.send(JSON.stringify({ jsonrpc: '2.0', method: 'node.info' }));
    // a batch of notifications only is not answered either
    s.send(JSON.stringify([{ jsonrpc: '2.0', method: 'node.info' }, { jsonrpc: '2.0', method: 'registry.get_records', params: { key_id: 1 } }]));
    expect(await s.silentFor(200)).toBe(true);
    expect(await s.roundTrip({ jsonrpc: '2.0', id: 5, method: 'node.info' })).toMatchObject({ id: 5, result: { peer_id: node.peerId } });
  });

  it('answers a binary frame with invalid_request and closes a text frame that is not UTF-8 with 1007', async () => {
    const s = await raw();
    s.send(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'node.info' })), { binary: true });
    const binary = await s.next();
    expectError(binary, null, 'invalid_request');
    expect(binary.error.message).toContain('binary');
    expect(await s.roundTrip({ jsonrpc: '2.0', id: 2, method: 'node.info' })).toMatchObject({ id: 2, result: { peer_id: node.peerId } });
    s.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await s.closed).code).toBe(1007);
    const again = await raw();
    expect(await again.roundTrip({ jsonrpc: '2.0', id: 3, method: 'node.info' })).toMatchObject({ id: 3, result: { peer_id: node.peerId } });
  });

  it('answers positional params with invalid_params', async () => {
    const rpc = await node.client();
    const k = key(peer(1), 'positional', T0);
    for (const [method, params] of [
      ['registry.get_records', [k.id]],
      ['registry.register_key', [k]],
      ['node.info', []],
      ['registry.evict_stale', []],
    ] as const) {
      const e = await failure(rpc, method, params as unknown as object);
      expect(e.code, method).toBe('invalid_params');
      expect(e.rpcCode).toBe(-32602);
      expect(e.message).toMatch(/positional|object/);
    }
  });

  it('answers wrong param types for every registry.* method with invalid_params and data.code', async () => {
    const rpc = await node.client();
    const A = peer(1);
    const k = key(A, 'types', T0);
    const r = record(k, peer(2), T0);
    const t = tombstone(k, peer(2), peer(2).peerId, T0);
    const cases: [string, unknown][] = [
      ['registry.get_key_id', { label: 5, owner_peer_id: A.peerId }],
      ['registry.get_key_id', { label: 'x', owner_peer_id: 7 }],
      ['registry.get_key_id', { label: 'x' }],
      ['registry.get_key_id', undefined],
      ['registry.register_key', { key: 'key' }],
      ['registry.register_key', { key: { ...k, timestamp_created: String(T0) } }],
      ['registry.register_key', { key: k, extra: 1 }],
      ['registry.register_key', {}],
      ['registry.republish_key', { key: null }],
      ['registry.republish_key', { key: [k] }],
      ['registry.get_key_metadata', { key_id: 5 }],
      ['registry.get_key_metadata', { key_id: 'not base58 !' }],
      ['registry.get_key_metadata', { key_id: k.id + '1' }],
      ['registry.put_record', { record: [] }],
      ['registry.put_record', { record: { ...r, timestamp_created: -1 } }],
      ['registry.get_records', { key_id: null }],
      ['registry.get_records', undefined],
      ['registry.add_tombstone', { tombstone: 5 }],
      ['registry.add_tombstone', { tombstone: { ...t, solution: 'AA==' } }],
      ['registry.get_tombstones', { key_id: {} }],
      ['registry.republish_records', { records: {} }],
      ['registry.republish_records', { records: 'x' }],
      ['registry.republish_tombstones', { tombstones: 5 }],
      ['registry.evict_stale', { now: T0 }],
      ['registry.clear_expired', { force: true }],
      ['registry.merge', { records: 5 }],
      ['registry.merge', { records: [5] }],
      ['registry.merge', { records: [[5]] }],
      ['registry.merge', { records: [[{ ...r, signature: '' }]] }],
      ['registry.merge_keys', { keys: 'x' }],
      ['registry.merge_keys', { keys: [] }],
      ['registry.merge_keys', { keys: [k, key(A, 'other', T0)] }],
      ['registry.merge_keys', { keys: [{ ...k, label: 7 }] }],
      ['registry.list_keys', { limit: '10' }],
      ['registry.list_keys', { limit: 0 }],
      ['registry.list_keys', { limit: 1001 }],
      ['registry.list_keys', { limit: 1.5 }],
      ['registry.list_keys', { after: 5 }],
      ['registry.list_keys', { before: 'x' }],
    ];
    const answers = await rpc.batch(cases.map(([method, params]) => ({ method, params: params as object })));
    answers.forEach((a, i) => {
      const what = `${cases[i][0]} ${JSON.stringify(cases[i][1])?.slice(0, 80)}`;
      expect(a.result, what).toBeUndefined();
      expect(a.error?.code, what).toBe(-32602);
      expect(a.error?.data?.code, what).toBe('invalid_params');
      expect(a.error?.message.length, what).toBeGreaterThan(5);
    });
    // every registry.* method of SPEC §9.1 (and list_keys of §9.4) is covered
    const covered = new Set(cases.map(([m]) => m));
    for (const m of ['get_key_id', 'register_key', 'republish_key', 'get_key_metadata', 'put_record', 'get_records', 'add_tombstone', 'get_tombstones',
      'republish_records', 'republish_tombstones', 'evict_stale', 'clear_expired', 'merge', 'merge_keys', 'list_keys']) {
      expect(covered.has(`registry.${m}`), m).toBe(true);
    }
    // nothing was stored
    expect((await failure(rpc, 'registry.get_key_metadata', { key_id: k.id })).code).toBe('key_not_found');
  });
});

describe('the order of SPEC §3.5 over the wire', () => {
  it('answers shape, peer-id, challenge-type, time and signature errors in that order', async () => {
    const rpc = await node.client();
    const A = peer(1);
    const SMALL_ORDER = '12D3KooW9tGaPdJo5jmCpadQ971nfiq4kLcQjeBPYTfutBTtckPH';
    const zeros = base64urlEncode(new Uint8Array(64));
    const k = key(A, 'order', T0);
    const cases: [string, object, keyof typeof ERROR_CODES][] = [
      ['registry.get_key_id', { label: 'x', owner_peer_id: 'QmXW4p1anTVYxQgASDHZWx5acR6wEM99jfvLwFcRUGB8zo' }, 'invalid_peer_id'],
      ['registry.get_key_id', { label: 'x', owner_peer_id: A.peerId.repeat(3) }, 'invalid_peer_id'],
      ['registry.get_key_id', { label: 'a'.repeat(257), owner_peer_id: 'nope' }, 'invalid_params'],
      ['registry.register_key', { key: { ...k, owner_peer_id: SMALL_ORDER, signature: zeros.slice(2) } }, 'invalid_params'],
      ['registry.register_key', { key: { ...k, owner_peer_id: SMALL_ORDER, challenge_type: 'bogus/v1' } }, 'invalid_peer_id'],
      ['registry.register_key', { key: { ...k, challenge_type: 'bogus/v1', label: 'moved' } }, 'unsupported_challenge_type'],
      ['registry.register_key', { key: { ...k, label: 'moved', signature: zeros } }, 'invalid_key'],
      ['registry.register_key', { key: { ...key(A, 'future', T0 + 31), signature: zeros } }, 'timestamp_in_future'],
      ['registry.register_key', { key: { ...k, signature: zeros } }, 'invalid_signature'],
      ['registry.register_key', { key: { ...k, timestamp_created: T0 - 1 } }, 'invalid_signature'],
    ];
    const answers = await rpc.batch(cases.map(([method, params]) => ({ method, params })));
    answers.forEach((a, i) => {
      const [method, , want] = cases[i];
      expect(a.error?.data?.code, `${i}: ${method} ${a.error?.message}`).toBe(want);
      expect(a.error?.code).toBe(ERROR_CODES[want]);
    });
    expect(await rpc.call('registry.get_key_id', { label: 'x', owner_peer_id: A.peerId })).toBe(key(A, 'x', T0).id);
    expect(await rpc.call('registry.register_key', { key: k })).toEqual({ key_id: k.id });
  });
});

describe('per-connection limits (SPEC §12)', () => {
  it('accepts a frame of exactly max_frame_bytes', async () => {
    const s = await raw(limited);
    const base = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'node.info' });
    const frame = base.slice(0, -1) + ' '.repeat(FRAME_LIMIT - base.length) + '}';
    expect(Buffer.byteLength(frame)).toBe(FRAME_LIMIT);
    expect(await s.roundTrip(frame)).toMatchObject({ id: 1, result: { peer_id: limited.peerId } });
  });

  it('closes an oversized frame with 1009 and a reason, and then serves a new connection', async () => {
    const s = await raw(limited);
    const base = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'node.info' });
    s.send(base.slice(0, -1) + ' '.repeat(FRAME_LIMIT - base.length + 1) + '}'); // one byte over
    const closed = await Promise.race([s.closed, sleep(5000).then(() => null)]);
    expect(closed).not.toBeNull();
    expect(closed!.code).toBe(1009);
    expect(closed!.reason).toContain('max_frame_bytes');
    expect(closed!.reason).toContain(String(FRAME_LIMIT));
    expect(s.received).toEqual([]);

    const again = await raw(limited);
    expect(await again.roundTrip({ jsonrpc: '2.0', id: 2, method: 'node.info' })).toMatchObject({ id: 2, result: { peer_id: limited.peerId } });
  });

  it('refuses a batch larger than max_batch as a whole, and runs one of max_batch', async () => {
    const s = await raw(limited);
    const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i + 1, method: 'node.info' }));
    const refused = await s.roundTrip(batch(MAX_BATCH + 1));
    expectError(refused, null, 'invalid_request');
    expect(refused.error.data).toMatchObject({ max_batch: MAX_BATCH, size: MAX_BATCH + 1 });
    const ran = await s.roundTrip(batch(MAX_BATCH));
    expect(ran).toHaveLength(MAX_BATCH);
    expect(ran.map((a: any) => a.id).sort()).toEqual([1, 2, 3, 4, 5]);
    for (const a of ran) expect(a.result.peer_id).toBe(limited.peerId);
  });

  it('answers rate_limited once the burst is spent, and refills at rate_limit_per_s', async () => {
    const s = await raw(limited);
    const n = BURST + 15;
    for (let i = 1; i <= n; i++) s.send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'node.info' }));
    const answers = await Promise.all(Array.from({ length: n }, () => s.next()));
    const ok = answers.filter((a) => 'result' in a);
    const limitedAnswers = answers.filter((a) => a.error?.data?.code === 'rate_limited');
    expect(ok.length + limitedAnswers.length).toBe(n);
    expect(ok.length).toBeGreaterThanOrEqual(BURST);
    expect(ok.length).toBeLessThanOrEqual(BURST + 2);
    for (const a of limitedAnswers) {
      expect(a.error.code).toBe(1014);
      expect(a.error.data).toMatchObject({ rate_limit_per_s: RATE, rate_limit_burst: BURST });
    }
    // the first BURST requests in arrival order got through
    expect(ok.map((a) => a.id).sort((x, y) => x - y).slice(0, BURST)).toEqual(Array.from({ length: BURST }, (_, i) => i + 1));
    // a fresh connection has its own bucket
    const other = await raw(limited);
    expect(await other.roundTrip({ jsonrpc: '2.0', id: 1, method: 'node.info' })).toHaveProperty('result');
    // after 1/RATE s a token is back
    await sleep(1000 / RATE + 150);
    expect(await s.roundTrip({ jsonrpc: '2.0', id: 'later', method: 'node.info' })).toHaveProperty('result');
  });
});

describe('test mode (SPEC §10)', () => {
  it('has no debug.* methods with the system clock', async () => {
    const rpc = await limited.client();
    for (const [method, params] of [['debug.set_time', { now: 2_000_000_000 }], ['debug.advance_time', { seconds: 1 }]] as const) {
      const e = await failure(rpc, method, params);
      expect(e.code).toBe('method_not_found');
      expect(e.rpcCode).toBe(-32601);
    }
    const now = (await rpc.call<{ now: number }>('node.info')).now;
    expect(Math.abs(now - Math.floor(Date.now() / 1000))).toBeLessThanOrEqual(2);
  });

  it('refuses to move the manual clock backwards', async () => {
    const rpc = await node.client();
    expect((await failure(rpc, 'debug.set_time', { now: T0 - 1 })).code).toBe('invalid_params');
    expect((await failure(rpc, 'debug.set_time', { now: -5 })).code).toBe('invalid_params');
    expect((await failure(rpc, 'debug.set_time', { now: 2 ** 53 })).code).toBe('invalid_params');
    expect((await failure(rpc, 'debug.set_time', { now: String(T0) })).code).toBe('invalid_params');
    expect((await failure(rpc, 'debug.set_time', {})).code).toBe('invalid_params');
    expect((await failure(rpc, 'debug.advance_time', { seconds: -1 })).code).toBe('invalid_params');
    expect((await failure(rpc, 'debug.advance_time', { seconds: 0.5 })).code).toBe('invalid_params');
    expect((await failure(rpc, 'debug.advance_time', { seconds: 2 ** 53 - 1 })).code).toBe('invalid_params');
    expect((await failure(rpc, 'debug.advance_time', { seconds: 1, extra: 1 })).code).toBe('invalid_params');
    // standing still is allowed, and nothing above moved the clock
    expect(await rpc.call('debug.set_time', { now: T0 })).toEqual({ now: T0 });
    expect(await rpc.call('debug.advance_time', { seconds: 0 })).toEqual({ now: T0 });
    expect((await rpc.call<{ now: number }>('node.info')).now).toBe(T0);
  });
});

describe('node.* and actors.* (SPEC §9.4)', () => {
  it('node.info has peer_id, version, addresses, an integer uptime and now = clock_start', async () => {
    const rpc = await node.client();
    const info = await rpc.call<any>('node.info');
    expect(Object.keys(info).sort()).toEqual(['addresses', 'now', 'peer_id', 'uptime_s', 'version']);
    expect(info.peer_id).toBe(node.peerId);
    expect(info.version).toBe(VERSION);
    expect(info.now).toBe(T0);
    expect(Number.isInteger(info.uptime_s)).toBe(true);
    expect(info.uptime_s).toBeGreaterThanOrEqual(0);
    expect(info.uptime_s).toBeLessThanOrEqual(Math.ceil((Date.now() - spawnedAt) / 1000));
    expect(info.addresses).toContain(node.rpcUrl.replace(/\/rpc$/, ''));
    for (const a of info.addresses) expect(a).toMatch(/^ws:\/\/127\.0\.0\.1:\d+/);
    expect(await rpc.call('node.info', {})).toMatchObject({ peer_id: node.peerId });
    expect((await failure(rpc, 'node.info', { verbose: true })).code).toBe('invalid_params');
  });

  it('lists a resource actor after a register, sorted by id, and describes it with its machine', async () => {
    const rpc = await node.client();
    const keys = [key(peer(11), 'actors-a', T0), key(peer(12), 'actors-b', T0), key(peer(13), 'actors-c', T0)];
    for (const k of keys) expect(await rpc.call('registry.register_key', { key: k })).toEqual({ key_id: k.id });
    const list = await rpc.call<any[]>('actors.list');
    const ids = list.map((a) => a.id);
    expect(ids).toEqual([...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const k of keys) {
      const a = list.find((x) => x.id.includes(k.id));
      expect(a, k.id).toEqual({ id: a.id, kind: 'resource', state: 'holding', started_at: T0 });
    }

    const id = list.find((x) => x.id.includes(keys[0].id))!.id;
    const got = await rpc.call<any>('actors.get', { id });
    expect(Object.keys(got).sort()).toEqual(['context', 'id', 'kind', 'machine', 'state']);
    expect(got).toMatchObject({ id, kind: 'resource', state: 'holding' });
    expect(JSON.stringify(got.context)).toContain(keys[0].id);
    expect(got.context.key).toEqual(keys[0]);
    expect(got.machine.id).toBe('resource');
    expect(Object.keys(got.machine.states).sort()).toEqual(['activating', 'empty', 'holding', 'passivated']);

    for (const bad of ['resource:nope', 'nope', '', 'resource:' + key(peer(14), 'never', T0).id]) {
      const e = await failure(rpc, 'actors.get', { id: bad });
      expect(e.code, bad).toBe('actor_not_found');
      expect(e.rpcCode).toBe(1018);
    }
    expect((await failure(rpc, 'actors.get', { id: 5 })).code).toBe('invalid_params');
    expect((await failure(rpc, 'actors.get', {})).code).toBe('invalid_params');
  });

  it('passivates an idle resource actor and serves its data again after re-activation', async () => {
    const rpc = await node.client();
    const k = key(peer(21), 'passivate', T0);
    const r = record(k, peer(22), T0);
    await rpc.call('registry.register_key', { key: k });
    await rpc.call('registry.put_record', { record: r });
    const isLive = async () => (await rpc.call<any[]>('actors.list')).some((a) => a.id.includes(k.id));
    expect(await isLive()).toBe(true);
    const deadline = Date.now() + PASSIVATE_MS * 10;
    while ((await isLive()) && Date.now() < deadline) await sleep(50);
    expect(await isLive()).toBe(false);
    expect((await failure(rpc, 'actors.get', { id: `resource:${k.id}` })).code).toBe('actor_not_found');
    // still held, and listed without waking it
    const page = await rpc.call<any>('registry.list_keys', { limit: 1000 });
    expect(page.keys.find((x: any) => x.key.id === k.id)).toMatchObject({ key: k, records: [r] });
    expect(await isLive()).toBe(false);
    // a read re-activates it from the store
    expect(await rpc.call('registry.get_key_metadata', { key_id: k.id })).toEqual(k);
    expect(await rpc.call('registry.get_records', { key_id: k.id })).toEqual([r]);
    expect(await isLive()).toBe(true);
    expect((await rpc.call<any>('actors.get', { id: `resource:${k.id}` })).context.key).toEqual(k);
  });
});

describe('session.* (SPEC §9.3)', () => {
  const client = peer(31);
  const sessionSig = (nonce: string, signer = client, nodePeerId = node.peerId) =>
    base64urlEncode(signer.sign(sessionDigest(base64urlDecode(nonce)!, nodePeerId)));

  it('gives a fresh 32-byte nonce for every challenge', async () => {
    const rpc = await node.client();
    const a = await rpc.call<{ nonce: string }>('session.challenge');
    const b = await rpc.call<{ nonce: string }>('session.challenge', {});
    expect(Object.keys(a)).toEqual(['nonce']);
    expect(base64urlDecode(a.nonce)).toHaveLength(32);
    expect(base64urlDecode(b.nonce)).toHaveLength(32);
    expect(a.nonce).not.toBe(b.nonce);
    expect((await failure(rpc, 'session.challenge', { x: 1 })).code).toBe('invalid_params');
  });

  it('authenticates a signature over the session digest', async () => {
    const rpc = await node.client();
    const { nonce } = await rpc.call<{ nonce: string }>('session.challenge');
    expect(await rpc.call('session.authenticate', { peer_id: client.peerId, signature: sessionSig(nonce) })).toEqual({ peer_id: client.peerId });
  });

  it('refuses a reused nonce, a replaced nonce and no challenge with unauthorized', async () => {
    const rpc = await node.client();
    expect((await failure(rpc, 'session.authenticate', { peer_id: client.peerId, signature: sessionSig(base64urlEncode(new Uint8Array(32))) })).code).toBe('unauthorized');
    const { nonce } = await rpc.call<{ nonce: string }>('session.challenge');
    const sig = sessionSig(nonce);
    await rpc.call('session.authenticate', { peer_id: client.peerId, signature: sig });
    const reused = await failure(rpc, 'session.authenticate', { peer_id: client.peerId, signature: sig });
    expect(reused.code).toBe('unauthorized');
    expect(reused.rpcCode).toBe(1013);
    // a new challenge replaces the old nonce
    const first = await rpc.call<{ nonce: string }>('session.challenge');
    await rpc.call('session.challenge');
    expect((await failure(rpc, 'session.authenticate', { peer_id: client.peerId, signature: sessionSig(first.nonce) })).code).toBe('invalid_signature');
    // a nonce belongs to its connection
    const other = await node.client();
    const mine = await rpc.call<{ nonce: string }>('session.challenge');
    expect((await failure(other, 'session.authenticate', { peer_id: client.peerId, signature: sessionSig(mine.nonce) })).code).toBe('unauthorized');
  });

  it('refuses a bad signature with invalid_signature, and the failed attempt uses the nonce up', async () => {
    const rpc = await node.client();
    let { nonce } = await rpc.call<{ nonce: string }>('session.challenge');
    // signed by someone else
    expect((await failure(rpc, 'session.authenticate', { peer_id: client.peerId, signature: sessionSig(nonce, peer(32)) })).code).toBe('invalid_signature');
    expect((await failure(rpc, 'session.authenticate', { peer_id: client.peerId, signature: sessionSig(nonce) })).code).toBe('unauthorized');
    // for another node
    ({ nonce } = await rpc.call<{ nonce: string }>('session.challenge'));
    expect((await failure(rpc, 'session.authenticate', { peer_id: client.peerId, signature: sessionSig(nonce, client, limited.peerId) })).code).toBe('invalid_signature');
    // all zeros
    ({ nonce } = await rpc.call<{ nonce: string }>('session.challenge'));
    const e = await failure(rpc, 'session.authenticate', { peer_id: client.peerId, signature: base64urlEncode(new Uint8Array(64)) });
    expect(e.code).toBe('invalid_signature');
    expect(e.rpcCode).toBe(1002);
  });

  it('uses the nonce up in an attempt refused for its shape or its peer id too', async () => {
    const rpc = await node.client();
    for (const refused of [{ peer_id: 'not-a-peer-id' }, { peer_id: client.peerId, signature: 'AAAA' }]) {
      const { nonce } = await rpc.call<{ nonce: string }>('session.challenge');
      const honest = { peer_id: client.peerId, signature: sessionSig(nonce) };
      const e = await failure(rpc, 'session.authenticate', { ...honest, ...refused });
      expect(['invalid_peer_id', 'invalid_params']).toContain(e.code);
      // The right signature over that nonce comes too late.
      expect((await failure(rpc, 'session.authenticate', { peer_id: client.peerId, signature: sessionSig(nonce) })).code).toBe('unauthorized');
    }
  });

  it('checks shapes, then the peer id, then the nonce', async () => {
    const rpc = await node.client();
    const sig = base64urlEncode(new Uint8Array(64));
    // no challenge yet: shape and peer-id errors still come first
    const badPeer = await failure(rpc, 'session.authenticate', { peer_id: '12D3KooW9tGaPdJo5jmCpadQ971nfiq4kLcQjeBPYTfutBTtckPH', signature: sig });
    expect(badPeer.code).toBe('invalid_peer_id');
    expect(badPeer.rpcCode).toBe(1001);
    expect((await failure(rpc, 'session.authenticate', { peer_id: 'QmXW4p1anTVYxQgASDHZWx5acR6wEM99jfvLwFcRUGB8zo', signature: sig })).code).toBe('invalid_peer_id');
    for (const params of [
      { peer_id: client.peerId },
      { signature: sig },
      { peer_id: client.peerId, signature: base64urlEncode(new Uint8Array(63)) },
      { peer_id: client.peerId, signature: sig + '==' },
      { peer_id: 42, signature: sig },
      { peer_id: 'nope', signature: 'not base64url!' },
      { peer_id: client.peerId, signature: sig, nonce: 'x' },
    ]) {
      expect((await failure(rpc, 'session.authenticate', params)).code, JSON.stringify(params)).toBe('invalid_params');
    }
    expect((await failure(rpc, 'session.authenticate', { peer_id: client.peerId, signature: sig })).code).toBe('unauthorized');
  });
});

describe('HTTP (SPEC §9)', () => {
  it('serves /healthz and a page at / that names the peer id', async () => {
    const health = await fetch(new URL('healthz', node.httpUrl));
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, peer_id: node.peerId });
    const page = await fetch(node.httpUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain(node.peerId);
    expect(html).toContain(node.rpcUrl);
    expect((await fetch(new URL('no-such-page', node.httpUrl))).status).toBe(404);
  });
});
