/**
 * The in-memory network (runtime/net/memory-transport.ts), which the simulator and the multi-node tests
 * run on: a Transport (net/transport.ts) whose messages cross the real wire codec and schemas, on a
 * network whose latency, loss and partitions the caller controls, in virtual time. Every test runs on
 * `VirtualTimers`, so a delay is asserted to the millisecond and nothing waits for real.
 */
import { describe, expect, it } from 'vitest';
import { SignpostError, type ErrorCode } from '../../../protocols/errors.js';
import { seededRandom, type Random } from '../../../protocols/random.js';
import { encodeFrame, type PeerRequest } from '../../../protocols/wire.js';
import type { TimerHandle, Timers } from '../../../runtime/base/clock.js';
import { MemoryNetwork, type MemoryTransport, type NetworkConditions } from '../../../runtime/net/memory-transport.js';
import type { PeerHandler, PeerLink } from '../../../runtime/net/transport.js';
import { peer } from '../../helpers/objects.js';

/** Wall-clock timers in virtual time: nothing fires until `advance` moves time past it. */
class VirtualTimers implements Timers {
  private time = 0;
  private lastId = 0;
  private readonly armed = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    this.armed.set(++this.lastId, { at: this.time + Math.max(0, ms), fn });
    return this.lastId;
  }

  clearTimeout(handle: TimerHandle): void {
    this.armed.delete(handle as number);
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way in time order (ties in the order they
   * were set) and letting promise callbacks run after each, as the event loop would.
   */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    await settle();
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const timer of this.armed) if (timer[1].at <= end && (!next || timer[1].at < next[1].at)) next = timer;
      if (!next) break;
      this.armed.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
      await settle();
    }
    this.time = end;
  }
}

/** Runs every promise callback already queued (and those they queue). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A promise's state, readable at any moment of virtual time. */
function watch<T>(p: Promise<T>) {
  const w: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: SignpostError } = { state: 'pending' };
  p.then(
    (value) => Object.assign(w, { state: 'resolved', value }),
    (error: SignpostError) => Object.assign(w, { state: 'rejected', error }),
  );
  return w;
}

const A = peer(1);
const B = peer(2);
const C = peer(3);
const ADDRESS = { a: 'ws://10.0.0.1:7070', b: 'ws://10.0.0.2:7070', c: 'ws://10.0.0.3:7070' };
const linkA: PeerLink = { peerId: A.peerId, address: ADDRESS.a };
const linkB: PeerLink = { peerId: B.peerId, address: ADDRESS.b };
const toB = { peerId: B.peerId, address: ADDRESS.b };
const TARGET = new Uint8Array(32).fill(7);

/** Nodes a and b on one network; b records what it serves and answers pings and find_node. */
function network(conditions?: NetworkConditions, random: Random = seededRandom(1)) {
  const timers = new VirtualTimers();
  const net = new MemoryNetwork({ timers, random, conditions });
  const a = net.join(A.peerId, ADDRESS.a);
  const b = net.join(B.peerId, ADDRESS.b);
  const served: Array<{ from: PeerLink; req: PeerRequest; at: number }> = [];
  let answer: PeerHandler = async (_from, req) => (req.method === 'find_node' ? { peers: [{ peer_id: C.peerId, address: ADDRESS.c }] } : undefined);
  b.serve(async (from, req) => {
    served.push({ from, req, at: timers.now() });
    return answer(from, req);
  });
  const events = { a: recorder(a), b: recorder(b) };
  return { timers, net, a, b, served, events, answers: (h: PeerHandler) => void (answer = h) };
}

function recorder(t: MemoryTransport) {
  const seen = { peer: [] as PeerLink[], banned: [] as string[] };
  t.on({ peer: (p) => seen.peer.push(p), banned: (id) => seen.banned.push(id) });
  return seen;
}

/** The code of the SignpostError `p` rejects with; fails the test if it resolves or throws anything else. */
async function codeOf(p: Promise<unknown>): Promise<ErrorCode> {
  const e = await p.then(
    (v) => {
      throw new Error(`expected a failure, got ${JSON.stringify(v)}`);
    },
    (err: unknown) => err,
  );
  if (!(e instanceof SignpostError)) throw e;
  return e.code;
}

describe('MemoryTransport: requests and answers', () => {
  it('carries a request and its answer through the wire codec', async () => {
    const { timers, net, a, served } = network();
    const answer = watch(a.request(toB, 'find_node', { target: TARGET }, 1000));
    await timers.advance(0);

    expect(served).toMatchObject([{ from: linkA, req: { method: 'find_node' }, at: 0 }]);
    const { target } = served[0].req as { target: Uint8Array };
    expect(new Uint8Array(target)).toEqual(TARGET); // decoded from the frame's bytes
    expect(answer).toEqual({ state: 'resolved', value: { peers: [{ peer_id: C.peerId, address: ADDRESS.c }] } });
    // exactly the bytes a socket would carry: one request frame, one answer frame
    const request = encodeFrame({ t: 'req', id: 1, method: 'find_node', params: { target: TARGET } });
    const result = encodeFrame({ t: 'res', id: 1, result: answer.value });
    expect(net.stats).toEqual({ messages: 2, bytes: request.length + result.length, lost: 0 });
  });

  it('answers {} for a handler that returns nothing', async () => {
    const { timers, a } = network();
    const answer = watch(a.request(toB, 'ping', {}, 1000));
    await timers.advance(0);
    expect(answer).toEqual({ state: 'resolved', value: {} });
  });

  it("fails with the error the peer's handler threw, code kept and message naming the peer", async () => {
    const { timers, a, answers } = network();
    answers(async () => {
      throw new SignpostError('key_not_found', 'Key k1 is not held by this node');
    });
    const failed = watch(a.request(toB, 'get', { key_id: 'a'.repeat(43) }, 1000));
    await timers.advance(0);
    expect(failed.error).toBeInstanceOf(SignpostError);
    expect([failed.error!.code, failed.error!.message]).toEqual(['key_not_found', `${B.peerId}: Key k1 is not held by this node`]);

    answers(async () => {
      throw new TypeError('cannot read x of undefined');
    });
    const crashed = watch(a.request(toB, 'ping', {}, 1000));
    await timers.advance(0);
    expect([crashed.error?.code, crashed.error?.message]).toEqual(['internal_error', `${B.peerId}: cannot read x of undefined`]);
  });

  it('fails with peer_unreachable at a node that does not serve peers yet', async () => {
    const { timers, net, a } = network();
    net.join(C.peerId, ADDRESS.c);
    const p = codeOf(a.request({ address: ADDRESS.c }, 'ping', {}, 1000));
    await timers.advance(0);
    expect(await p).toBe('peer_unreachable');
  });

  it('refuses to send a request larger than max_frame_bytes', async () => {
    const timers = new VirtualTimers();
    const net = new MemoryNetwork({ timers, random: seededRandom(1), maxFrameBytes: 64 });
    const a = net.join(A.peerId, ADDRESS.a);
    net.join(B.peerId, ADDRESS.b).serve(async () => ({}));
    expect(await codeOf(a.request(toB, 'get', { key_id: 'a'.repeat(100) }, 1000))).toBe('invalid_params');
    expect(net.stats.messages).toBe(0);
  });

  it('gives every address to one node only', () => {
    const { net } = network();
    expect(() => net.join(C.peerId, ADDRESS.b)).toThrow(`${ADDRESS.b} is already taken`);
  });
});

describe('MemoryTransport: untrusted requests stop at the edge', () => {
  it('answers a request that fails its schema with invalid_params or method_not_found, never calling the handler', async () => {
    const { timers, a, served } = network();
    const shortTarget = codeOf(a.request(toB, 'find_node', { target: new Uint8Array(3) }, 1000));
    const extraField = codeOf(a.request(toB, 'ping', { extra: 1 }, 1000));
    const unknown = codeOf(a.request(toB, 'steal_keys', {}, 1000));
    await timers.advance(0);
    expect([await shortTarget, await extraField, await unknown]).toEqual(['invalid_params', 'invalid_params', 'method_not_found']);
    expect(served).toEqual([]);
  });

  it('bans a sender once its violations exceed the budget: it leaves peers() and is served no more', async () => {
    const { timers, a, b, served, events } = network();
    const violate = async () => {
      const code = codeOf(a.request(toB, 'find_node', { target: new Uint8Array(3) }, 1000));
      await timers.advance(0);
      return code;
    };
    for (let i = 0; i < 16; i++) expect(await violate()).toBe('invalid_params'); // the budget: 16 points a minute
    expect(events.b.banned).toEqual([]);
    expect(b.peers()).toEqual([linkA]);

    expect(await violate()).toBe('invalid_params'); // the 17th is still answered, then the sender is banned
    expect(events.b.banned).toEqual([A.peerId]);
    expect(b.peers()).toEqual([]);

    const after = codeOf(a.request(toB, 'ping', {}, 1000));
    await timers.advance(1000);
    expect(['peer_timeout', 'peer_unreachable']).toContain(await after);
    expect(served).toEqual([]);
    // nor does the banning node call the banned one
    expect(await codeOf(b.request({ peerId: A.peerId, address: ADDRESS.a }, 'ping', {}, 1000))).toBe('peer_unreachable');
  });

  it('penalise(): a peer that forged answers is banned over its budget and no longer called', async () => {
    const { timers, net, a, events } = network();
    const first = a.request(toB, 'ping', {}, 1000);
    await timers.advance(0);
    await first;
    a.penalise(B.peerId, 10);
    a.penalise(B.peerId, 6);
    expect(events.a.banned).toEqual([]);
    expect(a.peers()).toEqual([linkB]);

    a.penalise(B.peerId);
    expect(events.a.banned).toEqual([B.peerId]);
    expect(a.peers()).toEqual([]);
    const sent = net.stats.messages;
    expect(await codeOf(a.request(toB, 'ping', {}, 1000))).toBe('peer_unreachable');
    expect(net.stats.messages).toBe(sent);
  });

  it('a banned peer called by address alone does not come back into peers()', async () => {
    const { timers, a, b, events } = network();
    a.serve(async () => ({}));
    const first = a.request(toB, 'ping', {}, 1000);
    await timers.advance(0);
    await first;
    b.penalise(A.peerId, 17);
    await timers.advance(1000); // past the once-a-second limit on `peer` events
    const seen = events.b.peer.length;

    const call = watch(b.request({ address: ADDRESS.a }, 'ping', {}, 1000));
    await timers.advance(1000);
    expect(b.peers()).toEqual([]);
    expect(events.b.peer).toHaveLength(seen);
    expect(call.error?.code).toBe('peer_unreachable');
  });

  it('a request frame that does not decode costs the sender and throws nowhere', async () => {
    const { timers, a, b, events } = network();
    const p = watch(a.request(toB, 'x'.repeat(40), {}, 1000));
    await expect(timers.advance(1000)).resolves.toBeUndefined();
    expect(p.error?.code).toBe('peer_timeout');
    b.penalise(A.peerId, 16); // over the budget of 16 only if the bad frame cost its point
    expect(events.b.banned).toEqual([A.peerId]);
  });

  it('an answer frame that does not decode fails only its request, throwing nowhere', async () => {
    const { timers, a, answers } = network();
    answers(async () => {
      throw new SignpostError('key_not_found', 'x'.repeat(5000));
    });
    const p = watch(a.request(toB, 'ping', {}, 1000));
    await expect(timers.advance(1000)).resolves.toBeUndefined();
    expect(p.state).toBe('rejected');
  });
});

describe('MemoryTransport: network conditions', () => {
  it('delivers each message after latencyMs of its direction', async () => {
    const calls: string[] = [];
    const latencyMs = (from: string, to: string) => (calls.push(`${from}>${to}`), from === ADDRESS.a ? 10 : 30);
    const { timers, a, served } = network({ latencyMs });
    const answer = watch(a.request(toB, 'ping', {}, 1000));
    await timers.advance(9);
    expect(served).toEqual([]);
    await timers.advance(1);
    expect(served.map((s) => s.at)).toEqual([10]);
    await timers.advance(29);
    expect(answer.state).toBe('pending');
    await timers.advance(1);
    expect(answer.state).toBe('resolved');
    expect(calls).toEqual([`${ADDRESS.a}>${ADDRESS.b}`, `${ADDRESS.b}>${ADDRESS.a}`]);
  });

  it('replays the same virtual times from the same seed', async () => {
    const arrivals = async (seed: number) => {
      const { timers, a } = network({ latencyMs: (_f, _t, random) => Math.floor(random.float() * 100) }, seededRandom(seed));
      const at: number[] = [];
      for (let i = 0; i < 5; i++) {
        const p = a.request(toB, 'ping', {}, 1000).then(() => at.push(timers.now()));
        await timers.advance(200);
        await p;
      }
      return at;
    };
    const once = await arrivals(1);
    expect(await arrivals(1)).toEqual(once);
    expect(new Set(once.map((t, i) => t - 200 * i)).size).toBeGreaterThan(1); // the latency did vary
    expect(await arrivals(2)).not.toEqual(once);
  });

  it('fails a lost request with peer_timeout at its deadline, never serving it', async () => {
    const { timers, net, a, served } = network({ lost: (from) => from === ADDRESS.a });
    const p = watch(a.request(toB, 'ping', {}, 500));
    await timers.advance(499);
    expect(p.state).toBe('pending');
    await timers.advance(1);
    expect(p.error?.code).toBe('peer_timeout');
    expect(served).toEqual([]);
    expect(net.stats).toMatchObject({ messages: 1, lost: 1 });
  });

  it('fails a request whose answer is lost with peer_timeout, though the peer served it', async () => {
    const { timers, net, a, served } = network({ lost: (from) => from === ADDRESS.b });
    const p = watch(a.request(toB, 'ping', {}, 500));
    await timers.advance(500);
    expect(p.error?.code).toBe('peer_timeout');
    expect(served).toHaveLength(1);
    expect(net.stats).toMatchObject({ messages: 2, lost: 1 });
  });

  it('loses messages as often as the seeded `lost` says', async () => {
    const { timers, net, a } = network({ lost: (_f, _t, random) => random.float() < 0.5 });
    const results = [];
    for (let i = 0; i < 40; i++) {
      const p = a.request(toB, 'ping', {}, 100).then(() => 'ok', (e: SignpostError) => e.code);
      await timers.advance(100);
      results.push(await p);
    }
    const ok = results.filter((r) => r === 'ok').length;
    expect(results.every((r) => r === 'ok' || r === 'peer_timeout')).toBe(true);
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThan(40);
    expect(net.stats.lost).toBe(40 - ok); // every failed exchange lost exactly one message
  });

  it('models a partition with `reachable`: peer_timeout while cut off, answers again once healed', async () => {
    let partitioned = true;
    const { timers, a, served } = network({ reachable: (from, to) => !partitioned || [from, to].sort().join() !== [ADDRESS.a, ADDRESS.b].join() });
    const cut = watch(a.request(toB, 'ping', {}, 300));
    await timers.advance(300);
    expect(cut.error?.code).toBe('peer_timeout');
    expect(served).toEqual([]);

    partitioned = false;
    const healed = watch(a.request(toB, 'ping', {}, 300));
    await timers.advance(0);
    expect(healed.state).toBe('resolved');
  });

  it('fails with peer_unreachable after one round trip when nobody is at the address', async () => {
    const { timers, a } = network({ latencyMs: () => 5 });
    const p = watch(a.request({ address: 'ws://10.0.0.99:7070' }, 'ping', {}, 10_000));
    await timers.advance(10);
    expect([p.error?.code, p.error?.message]).toEqual(['peer_unreachable', 'cannot connect to ws://10.0.0.99:7070']);
  });

  it('fails with peer_unreachable when another peer answers at the address, without serving it', async () => {
    const { timers, a, served, events } = network();
    const p = watch(a.request({ peerId: C.peerId, address: ADDRESS.b }, 'ping', {}, 1000));
    await timers.advance(0);
    expect([p.error?.code, p.error?.message]).toEqual(['peer_unreachable', `${ADDRESS.b} is ${B.peerId}, not ${C.peerId}`]);
    expect(served).toEqual([]);
    expect(a.peers()).toEqual([]);
    expect(events.a.peer).toEqual([]);
  });
});

describe('MemoryTransport: peers', () => {
  it('lists both ends as peers after an exchange, and reports each with a `peer` event', async () => {
    const { timers, a, b, events } = network();
    expect([a.peers(), b.peers()]).toEqual([[], []]);
    const p = a.request(toB, 'ping', {}, 1000);
    await timers.advance(0);
    await p;
    expect(a.peers()).toEqual([linkB]);
    expect(b.peers()).toEqual([linkA]);
    expect(events.a.peer).toEqual([linkB]);
    expect(events.b.peer).toEqual([linkA]);
  });

  it('reports a peer heard from again at most once a second', async () => {
    const { timers, a, events } = network();
    const ping = async () => {
      const p = a.request(toB, 'ping', {}, 1000);
      await timers.advance(0);
      await p;
    };
    await ping();
    await timers.advance(999);
    await ping();
    expect(events.a.peer).toHaveLength(1);
    await timers.advance(1);
    await ping();
    expect(events.a.peer).toEqual([linkB, linkB]);
  });

  it('reaches a connected peer by its peer id alone', async () => {
    const { timers, a } = network();
    expect(await codeOf(a.request({ peerId: B.peerId, address: null }, 'ping', {}, 1000))).toBe('peer_unreachable'); // no address known yet
    const first = a.request(toB, 'ping', {}, 1000);
    await timers.advance(0);
    await first;
    const again = watch(a.request({ peerId: B.peerId, address: null }, 'ping', {}, 1000));
    await timers.advance(0);
    expect(again.state).toBe('resolved');
  });
});

describe('MemoryTransport: close()', () => {
  it("fails the node's pending requests at once, and every later one", async () => {
    const { timers, a, answers } = network({ latencyMs: () => 10 });
    answers(() => new Promise(() => undefined)); // never answers
    const pending = watch(a.request(toB, 'ping', {}, 10_000));
    await timers.advance(50);
    expect(pending.state).toBe('pending');
    await a.close();
    await settle();
    expect(pending.error?.code).toBe('peer_unreachable');
    expect(await codeOf(a.request(toB, 'ping', {}, 1000))).toBe('peer_unreachable');
    await a.close(); // twice is fine
  });

  it('makes the node unreachable and drops it from its peers’ lists; its address can be joined again', async () => {
    const { timers, net, a, b } = network();
    const p = a.request(toB, 'ping', {}, 1000);
    await timers.advance(0);
    await p;
    await b.close();
    expect(a.peers()).toEqual([]);
    const gone = watch(a.request(toB, 'ping', {}, 1000));
    await timers.advance(0);
    expect(gone.error?.code).toBe('peer_unreachable');

    // a restarted node at the same address
    net.join(B.peerId, ADDRESS.b).serve(async () => ({ back: true }));
    const back = watch(a.request(toB, 'ping', {}, 1000));
    await timers.advance(0);
    expect(back.value).toEqual({ back: true });
  });

  it('fails at once the requests other nodes are waiting on it for', async () => {
    const { timers, a, b, answers } = network();
    let finish!: () => void;
    answers(() => new Promise((resolve) => (finish = () => resolve({ late: true }))));
    const waiting = watch(a.request(toB, 'ping', {}, 10_000));
    await timers.advance(0);
    await b.close();
    finish();
    await timers.advance(0);
    expect(waiting.error?.code).toBe('peer_unreachable');
  });
});
