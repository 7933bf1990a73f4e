/**
 * The relay's table of serving connections (runtime/rpc/serving.ts): who may serve as whom, which
 * connection answers, and how a call fails (unreachable, timeout, in flight, a closed connection).
 */
import { describe, expect, it } from 'vitest';
import { SignpostError } from '../../../protocols/errors.js';
import { MAX_CALLS_IN_FLIGHT, type Delivery } from '../../../protocols/relay.js';
import type { ClientAnswer, RpcConnection } from '../../../runtime/rpc/server.js';
import { Serving } from '../../../runtime/rpc/serving.js';
import { peer } from '../../helpers/objects.js';

const NODE = peer(1).peerId;
const ADMIN = peer(2).peerId;
const P = peer(3).peerId;

let nextId = 1;
/** A connection authenticated as `peerId` whose client answers with `answer` (recording each request). */
function connection(peerId: string | null, answer: (params: any) => Promise<ClientAnswer> = async (p) => ({ answer: { result: p } })) {
  const closers: (() => void)[] = [];
  const requests: any[] = [];
  const conn: RpcConnection = {
    id: nextId++,
    session: { nonce: null, peerId },
    notify: () => undefined,
    request: async (method, params) => (requests.push({ method, params }), answer(params)),
    onClose: (fn) => closers.push(fn),
  };
  return { conn, requests, close: () => closers.forEach((fn) => fn()) };
}

const call = (over: Partial<Delivery> = {}): Delivery => ({ peerId: P, serviceId: 'echo', method: 'echo', params: ['hi'], from: null, via: null, timeoutMs: 1000, ...over });
const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: SignpostError) => e.code);
const serving = () => new Serving({ selfPeerId: NODE, admins: [ADMIN] });

describe('serving', () => {
  it('needs an authenticated connection, and as_node an admin', () => {
    const s = serving();
    expect(() => s.serve(connection(null).conn, ['echo'], false)).toThrow(/authenticated/);
    expect(() => s.serve(connection(P).conn, ['echo'], true)).toThrow(/not an admin/);
    s.serve(connection(ADMIN).conn, ['echo'], true);
    expect(s.serves(NODE, 'echo')).toBe(true);
    expect(s.serves(ADMIN, 'echo')).toBe(false);
  });

  it('delivers provider.call with who called and through whom, and returns the answer', async () => {
    const s = serving();
    const c = connection(P);
    s.serve(c.conn, ['echo'], false);
    expect(await s.deliver(call({ from: peer(4).peerId, via: peer(5).peerId }))).toEqual({
      result: { call_id: '1', from: peer(4).peerId, via: peer(5).peerId, service_id: 'echo', method: 'echo', params: ['hi'] },
    });
    expect(c.requests[0].method).toBe('provider.call');
  });

  it('is unreachable for a provider not connected, or not serving that service, saying which', async () => {
    const s = serving();
    await expect(s.deliver(call())).rejects.toThrow(/is not connected/);
    s.serve(connection(P).conn, ['other'], false);
    await expect(s.deliver(call())).rejects.toThrow(/does not serve 'echo'/);
    expect(await codeOf(s.deliver(call()))).toBe('provider_unreachable');
  });

  it('goes to the connection that announced the service last, and to the other once that one closes', async () => {
    const s = serving();
    const first = connection(P, async () => ({ answer: { result: 'first' } }));
    const second = connection(P, async () => ({ answer: { result: 'second' } }));
    s.serve(first.conn, ['echo'], false);
    s.serve(second.conn, ['echo'], false);
    expect(await s.deliver(call())).toEqual({ result: 'second' });
    second.close();
    expect(await s.deliver(call())).toEqual({ result: 'first' });
    s.unserve(first.conn, ['echo']);
    expect(await codeOf(s.deliver(call()))).toBe('provider_unreachable');
    expect(s.stats().sessions).toBe(0);
  });

  it('maps a timeout and a closed connection to their codes', async () => {
    const s = serving();
    s.serve(connection(P, async () => 'timeout').conn, ['slow'], false);
    s.serve(connection(peer(6).peerId, async () => 'closed').conn, ['gone'], false);
    expect(await codeOf(s.deliver(call({ serviceId: 'slow' })))).toBe('provider_timeout');
    expect(await codeOf(s.deliver(call({ peerId: peer(6).peerId, serviceId: 'gone' })))).toBe('provider_unreachable');
  });

  it(`holds at most ${MAX_CALLS_IN_FLIGHT} calls in flight per serving connection`, async () => {
    const s = serving();
    const release: (() => void)[] = [];
    s.serve(connection(P, () => new Promise((r) => release.push(() => r({ answer: { result: 1 } })))).conn, ['echo'], false);
    const held = Array.from({ length: MAX_CALLS_IN_FLIGHT }, () => s.deliver(call()));
    expect(await codeOf(s.deliver(call()))).toBe('rate_limited');
    expect(s.stats().inFlight).toBe(MAX_CALLS_IN_FLIGHT);
    release.forEach((r) => r());
    await Promise.all(held);
    const next = s.deliver(call());
    release.at(-1)!();
    expect(await next).toEqual({ result: 1 });
  });

  it('refuses to serve one connection as two providers', () => {
    const s = serving();
    const c = connection(ADMIN);
    s.serve(c.conn, ['a'], false);
    expect(() => s.serve(c.conn, ['b'], true)).toThrow(/already serves as/);
  });
});
