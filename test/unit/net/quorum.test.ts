/**
 * `quorum()` (runtime/net/quorum.ts): the fan-out of every Resources API call (SPEC §5, §9.2). It settles
 * as soon as the outcome is known: `ack` successes (without waiting for the rest), or `quorum_not_reached`
 * at once when too few nodes can still succeed, or at the deadline (the nodes still pending become
 * `peer_timeout` errors). With `settleAll` it waits for every node or the deadline; with `widen` (reads) it
 * asks a few first and the rest only when needed. The calls here are
 * fakes whose promises the test settles by hand.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SignpostError } from '../../../protocols/errors.js';
import { systemTimers } from '../../../runtime/base/clock.js';
import { quorum as fanOut, type Neighbour, type Quorum, type Widening } from '../../../runtime/net/quorum.js';

/** The fan-out on the process's own timers (deadlines are wall-clock milliseconds of `systemTimers`). */
const quorum = <T>(nodes: Neighbour[], ack: number, deadline: number, call: (n: Neighbour, ms: number) => Promise<T>, opts?: { settleAll?: boolean; partial?: (answer: T) => boolean; widen?: Widening<T> }) =>
  fanOut(nodes, ack, deadline, call, systemTimers, opts);

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const nodes = (n: number): Neighbour[] =>
  Array.from({ length: n }, (_, i) => ({ peerId: `node-${i}`, address: i === 0 ? null : `ws://127.0.0.1:${7000 + i}`, self: i === 0 }));

/** A fake fan-out: one deferred per node, and a record of every call. */
function fakeCalls(ns: readonly Neighbour[]) {
  const pending = new Map(ns.map((n) => [n.peerId, deferred<string>()]));
  const calls: Array<{ peerId: string; timeoutMs: number }> = [];
  const call = (n: Neighbour, timeoutMs: number) => {
    calls.push({ peerId: n.peerId, timeoutMs });
    return pending.get(n.peerId)!.promise;
  };
  const ok = (i: number) => pending.get(ns[i].peerId)!.resolve(`answer-${i}`);
  const fail = (i: number, e: unknown = new SignpostError('key_not_found', `no key on node-${i}`)) => pending.get(ns[i].peerId)!.reject(e);
  return { call, calls, ok, fail };
}

/** The state of a promise after pending callbacks have run: 'pending', or how it settled. */
async function state<T>(p: Promise<T>): Promise<{ status: 'pending' } | { status: 'resolved'; value: T } | { status: 'rejected'; error: unknown }> {
  let out: { status: 'pending' } | { status: 'resolved'; value: T } | { status: 'rejected'; error: unknown } = { status: 'pending' };
  p.then(
    (value) => (out = { status: 'resolved', value }),
    (error) => (out = { status: 'rejected', error }),
  );
  await sleep(0);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<SignpostError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SignpostError);
    return e as SignpostError;
  }
  throw new Error('expected a rejection');
}

const soon = (ms = 5000) => systemTimers.now() + ms;

describe('quorum', () => {
  it('calls every node at once, each with the time left until the deadline', () => {
    const ns = nodes(5);
    const f = fakeCalls(ns);
    void quorum(ns, 2, soon(3000), f.call).catch(() => undefined);
    expect(f.calls.map((c) => c.peerId)).toEqual(ns.map((n) => n.peerId));
    for (const c of f.calls) {
      expect(c.timeoutMs).toBeGreaterThan(2900);
      expect(c.timeoutMs).toBeLessThanOrEqual(3000);
    }
    for (let i = 0; i < 5; i++) f.ok(i);
  });

  it('resolves at `ack` successes without waiting for the rest', async () => {
    const ns = nodes(5);
    const f = fakeCalls(ns);
    const q = quorum(ns, 2, soon(), f.call);
    f.ok(3);
    expect((await state(q)).status).toBe('pending');
    f.fail(1);
    expect((await state(q)).status).toBe('pending');
    f.ok(0);
    const s = await state(q);
    expect(s.status).toBe('resolved');
    const r = (s as { value: Quorum<string> }).value;
    expect(r.acks).toBe(2);
    expect([...r.answers.entries()].sort()).toEqual([
      ['node-0', 'answer-0'],
      ['node-3', 'answer-3'],
    ]);
    expect(r.errors).toEqual([{ peer_id: 'node-1', code: 'key_not_found', message: 'no key on node-1' }]);
    // Later answers (the writes that carry on in the background) do not change the returned result.
    f.ok(2);
    f.fail(4);
    await sleep(0);
    expect(r.acks).toBe(2);
    expect(r.answers.size).toBe(2);
    expect(r.errors).toHaveLength(1);
  });

  it('ack = 1 resolves with the first success', async () => {
    const ns = nodes(20);
    const f = fakeCalls(ns);
    const q = quorum(ns, 1, soon(), f.call);
    f.ok(17);
    const r = await q;
    expect(r.acks).toBe(1);
    expect([...r.answers.keys()]).toEqual(['node-17']);
    expect(r.errors).toEqual([]);
  });

  it('ack = all nodes waits for every one of them', async () => {
    const ns = nodes(4);
    const f = fakeCalls(ns);
    const q = quorum(ns, 4, soon(), f.call);
    for (const i of [2, 0, 3]) f.ok(i);
    expect((await state(q)).status).toBe('pending');
    f.ok(1);
    expect((await q).acks).toBe(4);
  });

  it('fails at once with quorum_not_reached when too few nodes can still succeed', async () => {
    const ns = nodes(5);
    const f = fakeCalls(ns);
    const q = quorum(ns, 3, soon(), f.call);
    f.ok(0);
    f.fail(1);
    expect((await state(q)).status).toBe('pending'); // 1 success + 3 pending: 3 still possible
    f.fail(2, new SignpostError('peer_unreachable', 'node-2 closed'));
    expect((await state(q)).status).toBe('pending'); // 1 + 2 pending = 3: still possible
    const started = systemTimers.now();
    f.fail(3, new SignpostError('records_limit_exceeded', 'full'));
    const e = await rejection(q);
    expect(systemTimers.now() - started).toBeLessThan(100);
    expect(e.code).toBe('quorum_not_reached');
    expect(e.data.acks).toBe(1);
    expect(e.data.errors).toEqual([
      { peer_id: 'node-1', code: 'key_not_found', message: 'no key on node-1' },
      { peer_id: 'node-2', code: 'peer_unreachable', message: 'node-2 closed' },
      { peer_id: 'node-3', code: 'records_limit_exceeded', message: 'full' },
    ]);
    // node-4 has not answered: it is not listed (it may still succeed in the background).
    f.ok(4);
  });

  it('fails when every node failed, listing each error; a non-SignpostError is internal_error', async () => {
    const ns = nodes(3);
    const f = fakeCalls(ns);
    const q = quorum(ns, 1, soon(), f.call);
    f.fail(0, new SignpostError('invalid_signature', 'forged'));
    f.fail(1, new Error('boom'));
    f.fail(2, 'a string');
    const e = await rejection(q);
    expect(e.code).toBe('quorum_not_reached');
    expect(e.data.acks).toBe(0);
    expect(e.data.errors).toEqual([
      { peer_id: 'node-0', code: 'invalid_signature', message: 'forged' },
      { peer_id: 'node-1', code: 'internal_error', message: 'boom' },
      { peer_id: 'node-2', code: 'internal_error', message: 'a string' },
    ]);
  });

  it('fails immediately, before any answer, when there are fewer nodes than ack', async () => {
    for (const [n, ack] of [
      [0, 1],
      [2, 3],
      [19, 20],
    ]) {
      const ns = nodes(n);
      const f = fakeCalls(ns);
      const started = systemTimers.now();
      const e = await rejection(quorum(ns, ack, soon(), f.call));
      expect(systemTimers.now() - started).toBeLessThan(100);
      expect(e.code).toBe('quorum_not_reached');
      expect(e.data).toEqual({ acks: 0, errors: [] });
      expect(e.message).toContain(String(ack));
    }
  });

  it('at the deadline, the nodes still pending become peer_timeout errors', async () => {
    const ns = nodes(4);
    const f = fakeCalls(ns);
    const started = systemTimers.now();
    const q = quorum(ns, 3, started + 80, f.call);
    f.ok(0);
    f.fail(1);
    const e = await rejection(q);
    const took = systemTimers.now() - started;
    expect(took).toBeGreaterThanOrEqual(70);
    expect(took).toBeLessThan(1000);
    expect(e.code).toBe('quorum_not_reached');
    expect(e.data.acks).toBe(1);
    const errors = e.data.errors as Array<{ peer_id: string; code: string; message: string }>;
    expect(errors.map((x) => [x.peer_id, x.code])).toEqual([
      ['node-1', 'key_not_found'],
      ['node-2', 'peer_timeout'],
      ['node-3', 'peer_timeout'],
    ]);
    for (const x of errors) expect(x.message.length).toBeGreaterThan(0);
    // Answers after the deadline change nothing.
    f.ok(2);
    f.ok(3);
    await sleep(0);
    expect(e.data.acks).toBe(1);
    expect(errors).toHaveLength(3);
  });

  it('a deadline already past fails at once, every node a peer_timeout', async () => {
    const ns = nodes(2);
    const f = fakeCalls(ns);
    const started = systemTimers.now();
    const e = await rejection(quorum(ns, 1, systemTimers.now() - 10, f.call));
    expect(systemTimers.now() - started).toBeLessThan(100);
    expect(e.code).toBe('quorum_not_reached');
    expect((e.data.errors as Array<{ code: string }>).map((x) => x.code)).toEqual(['peer_timeout', 'peer_timeout']);
    for (const c of f.calls) expect(c.timeoutMs).toBeGreaterThanOrEqual(1);
  });

  describe('settleAll', () => {
    it('waits for every node even after ack successes, and resolves with whatever answered', async () => {
      const ns = nodes(4);
      const f = fakeCalls(ns);
      const q = quorum(ns, 1, soon(), f.call, { settleAll: true });
      f.ok(0);
      f.ok(1);
      expect((await state(q)).status).toBe('pending');
      f.fail(2);
      expect((await state(q)).status).toBe('pending');
      f.ok(3);
      const r = await q;
      expect(r.acks).toBe(3);
      expect([...r.answers.keys()].sort()).toEqual(['node-0', 'node-1', 'node-3']);
      expect(r.errors.map((x) => x.peer_id)).toEqual(['node-2']);
    });

    it('resolves (does not fail) when every node failed', async () => {
      const ns = nodes(2);
      const f = fakeCalls(ns);
      const q = quorum(ns, 2, soon(), f.call, { settleAll: true });
      f.fail(0);
      f.fail(1);
      const r = await q;
      expect(r.acks).toBe(0);
      expect(r.errors).toHaveLength(2);
    });

    it('resolves at the deadline with the pending nodes as peer_timeout errors', async () => {
      const ns = nodes(3);
      const f = fakeCalls(ns);
      const started = systemTimers.now();
      const q = quorum(ns, 3, started + 60, f.call, { settleAll: true });
      f.ok(1);
      const r = await q;
      expect(systemTimers.now() - started).toBeGreaterThanOrEqual(50);
      expect(r.acks).toBe(1);
      expect(r.errors.map((x) => [x.peer_id, x.code])).toEqual([
        ['node-0', 'peer_timeout'],
        ['node-2', 'peer_timeout'],
      ]);
      f.ok(0);
      f.ok(2);
    });

    it('resolves at once with nothing for an empty neighbourhood', async () => {
      const r = await quorum([], 1, soon(), () => Promise.resolve('x'), { settleAll: true });
      expect(r).toEqual({ acks: 0, errors: [], answers: new Map() });
    });
  });

  it('a call that throws synchronously counts as that node\'s error; the other nodes are still asked', async () => {
    const ns = nodes(3);
    const asked: string[] = [];
    const call = (n: Neighbour): Promise<string> => {
      asked.push(n.peerId);
      if (n.peerId === 'node-0') throw new SignpostError('invalid_params', 'bad key id');
      return Promise.resolve(`answer-${n.peerId}`);
    };
    const r = await quorum(ns, 2, soon(), call);
    expect(asked).toEqual(['node-0', 'node-1', 'node-2']);
    expect(r.acks).toBe(2);
  });

  describe('partial answers (a node that has not finished its first sync)', () => {
    const partial = (a: string) => a.startsWith('partial');

    it('count only once no complete answer can come: a complete one later wins the ack', async () => {
      const ns = nodes(3);
      const answers = ns.map(() => deferred<string>());
      const q = quorum(ns, 1, soon(), (n) => answers[ns.indexOf(n)].promise, { partial });
      answers[0].resolve('partial-0');
      expect((await state(q)).status).toBe('pending');
      answers[1].resolve('answer-1');
      const r = await q;
      expect(r.acks).toBe(2);
      expect([...r.answers.keys()]).toEqual(['node-0', 'node-1']);
      answers[2].resolve('answer-2');
    });

    it('count when every node has answered and too few answers are complete', async () => {
      const ns = nodes(2);
      const answers = ns.map(() => deferred<string>());
      const q = quorum(ns, 1, soon(), (n) => answers[ns.indexOf(n)].promise, { partial });
      answers[0].resolve('partial-0');
      answers[1].reject(new SignpostError('key_not_found', 'no key on node-1'));
      const r = await q;
      expect(r.acks).toBe(1);
      expect(r.answers.get('node-0')).toBe('partial-0');
    });

    it('count at the deadline', async () => {
      const ns = nodes(2);
      const answers = ns.map(() => deferred<string>());
      const q = quorum(ns, 1, systemTimers.now() + 30, (n) => answers[ns.indexOf(n)].promise, { partial });
      answers[0].resolve('partial-0');
      const r = await q;
      expect(r.acks).toBe(1);
      expect(r.errors.map((e) => [e.peer_id, e.code])).toEqual([['node-1', 'peer_timeout']]);
      answers[1].resolve('late');
    });
  });

  describe('widening (reads ask ack nodes first)', () => {
    /** Answers agree when they are the same text. */
    const widen = (first: number, afterMs = 5000): Widening<string> => ({ first, afterMs, agree: (a) => new Set(a.values()).size <= 1 });
    const same = (f: ReturnType<typeof fakeCalls>, i: number) => f.ok(i);

    it('asks only the first nodes, and resolves when their ack answers agree', async () => {
      const ns = nodes(5);
      const f = fakeCalls(ns);
      const q = quorum(ns, 1, soon(), f.call, { widen: widen(1) });
      expect(f.calls.map((c) => c.peerId)).toEqual(['node-0']);
      same(f, 0);
      const r = await q;
      expect([...r.answers.keys()]).toEqual(['node-0']);
      expect(f.calls).toHaveLength(1);
    });

    it('a failure among the first asks every other node, and the first ack of them settle it', async () => {
      const ns = nodes(4);
      const f = fakeCalls(ns);
      const q = quorum(ns, 2, soon(), f.call, { widen: widen(2) });
      f.ok(0);
      f.fail(1);
      await state(q);
      expect(f.calls.map((c) => c.peerId)).toEqual(['node-0', 'node-1', 'node-2', 'node-3']);
      f.ok(3);
      const r = await q;
      expect([...r.answers.keys()].sort()).toEqual(['node-0', 'node-3']);
      expect(r.errors.map((e) => [e.peer_id, e.code])).toEqual([['node-1', 'key_not_found']]);
    });

    it('answers that disagree ask every other node and wait for ack answers more', async () => {
      const ns = nodes(5);
      const pending = ns.map(() => deferred<string>());
      const asked: string[] = [];
      const q = quorum(ns, 2, soon(), (n) => (asked.push(n.peerId), pending[ns.indexOf(n)].promise), { widen: widen(2) });
      pending[0].resolve('old');
      pending[1].resolve('new');
      expect((await state(q)).status).toBe('pending');
      expect(asked).toEqual(['node-0', 'node-1', 'node-2', 'node-3', 'node-4']);
      pending[2].resolve('new');
      expect((await state(q)).status).toBe('pending');
      pending[4].resolve('new');
      const r = await q;
      expect([...r.answers.keys()].sort()).toEqual(['node-0', 'node-1', 'node-2', 'node-4']);
    });

    it('a partial answer among the first widens; the complete one found wins the ack', async () => {
      const ns = nodes(3);
      const pending = ns.map(() => deferred<string>());
      const q = quorum(ns, 1, soon(), (n) => pending[ns.indexOf(n)].promise, { partial: (a) => a.startsWith('partial'), widen: widen(1) });
      pending[0].resolve('partial-0');
      expect((await state(q)).status).toBe('pending');
      pending[2].resolve('answer-2');
      const r = await q;
      expect(r.answers.get('node-2')).toBe('answer-2');
    });

    it('no answer from the first within afterMs asks the rest too', async () => {
      const ns = nodes(3);
      const f = fakeCalls(ns);
      const q = quorum(ns, 1, soon(), f.call, { widen: widen(1, 20) });
      expect(f.calls).toHaveLength(1);
      await sleep(60);
      expect(f.calls.map((c) => c.peerId)).toEqual(['node-0', 'node-1', 'node-2']);
      f.ok(2);
      const r = await q;
      expect([...r.answers.keys()]).toEqual(['node-2']);
    });

    it('fails with quorum_not_reached, every node asked, when all fail', async () => {
      const ns = nodes(3);
      const f = fakeCalls(ns);
      const q = quorum(ns, 1, soon(), f.call, { widen: widen(1) });
      f.fail(0);
      await state(q);
      f.fail(1);
      f.fail(2);
      const e = await rejection(q);
      expect(e.code).toBe('quorum_not_reached');
      expect((e.data.errors as { peer_id: string }[]).map((x) => x.peer_id).sort()).toEqual(['node-0', 'node-1', 'node-2']);
    });
  });
});
