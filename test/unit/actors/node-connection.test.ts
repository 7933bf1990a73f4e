/**
 * The SDK's node connection machine (actors/node-connection.ts) with fake sockets on a SimulatedClock:
 * the first connection fails at once, a dropped connection is reopened with exponential backoff, and
 * close shuts the open socket and stops reconnecting.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { nodeConnectionMachine, type NodeConnectionInput, type NodeSocket } from '../../../actors/node-connection.js';

const URL = 'ws://127.0.0.1:7070/rpc';

/** Lets pending promise reactions (the fake effects' answers) run. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

class FakeSocket implements NodeSocket {
  private readonly listeners: (() => void)[] = [];
  closedByClient = 0;
  onClose(fn: () => void): void {
    this.listeners.push(fn);
  }
  async close(): Promise<void> {
    this.closedByClient++;
    this.drop();
  }
  /** The node went away. */
  drop(): void {
    for (const fn of this.listeners.splice(0)) fn();
  }
}

/** Fake `open`: each attempt is logged; it opens a new socket unless the test scripted failures. */
function fakeNode() {
  const urls: string[] = [];
  const sockets: FakeSocket[] = [];
  let failNext = 0;
  const open = fromPromise<NodeSocket, { url: string }>(async ({ input }) => {
    urls.push(input.url);
    if (failNext > 0) {
      failNext--;
      throw new Error('ECONNREFUSED');
    }
    const s = new FakeSocket();
    sockets.push(s);
    return s;
  });
  return { open, urls, sockets, fail: (n: number) => void (failNext = n), last: () => sockets.at(-1)! };
}

function start(node: ReturnType<typeof fakeNode>, input: Partial<NodeConnectionInput> = {}) {
  const clock = new SimulatedClock();
  const actor = createActor(nodeConnectionMachine.provide({ actors: { open: node.open } }), { clock, input: { url: URL, ...input } }).start();
  return { clock, actor, state: () => actor.getSnapshot().value as string, context: () => actor.getSnapshot().context };
}

/** Checks that each next connection attempt comes exactly `waits[i]` ms after the previous one ended. */
async function expectWaits(clock: SimulatedClock, node: ReturnType<typeof fakeNode>, waits: number[]) {
  for (const wait of waits) {
    const before = node.urls.length;
    clock.increment(wait - 1);
    await settle();
    expect(node.urls.length, `no attempt before ${wait} ms`).toBe(before);
    clock.increment(1);
    await settle();
    expect(node.urls.length, `an attempt after ${wait} ms`).toBe(before + 1);
  }
}

describe('node connection machine', () => {
  it('opens the connection to the url and holds its socket', async () => {
    const node = fakeNode();
    const { state, context } = start(node);
    expect(state()).toBe('connecting');
    await settle();
    expect(state()).toBe('open');
    expect(node.urls).toEqual([URL]);
    expect(context()).toMatchObject({ socket: node.last(), opened: 1, attempts: 0, lastError: null });
  });

  it('a first connection that fails ends in failed with the reason, and never retries', async () => {
    const node = fakeNode();
    node.fail(1);
    const { clock, actor, state, context } = start(node);
    await settle();
    expect(state()).toBe('failed');
    expect(actor.getSnapshot().status).toBe('done');
    expect(context().lastError).toBe('ECONNREFUSED');
    clock.increment(60_000);
    await settle();
    expect(node.urls).toHaveLength(1);
  });

  it('a dropped connection is reopened after the backoff, doubling per failed attempt up to the cap', async () => {
    const node = fakeNode();
    const { clock, state, context } = start(node, { reconnectBaseMs: 100, reconnectMaxMs: 300 });
    await settle();
    const first = node.last();
    node.fail(3);
    first.drop();
    expect(state()).toBe('backoff');
    expect(context().socket).toBeNull();
    // Waits 100 after the drop, then 200, 300 (capped), 300 after each failed attempt.
    await expectWaits(clock, node, [100, 200, 300, 300]);
    expect(state()).toBe('open');
    expect(node.sockets).toHaveLength(2);
    expect(context()).toMatchObject({ socket: node.last(), opened: 2, attempts: 0 });
    expect(context().lastError).toBeNull();
    expect(first.closedByClient).toBe(0);
  });

  it('a failed reconnect records its error while it keeps trying', async () => {
    const node = fakeNode();
    const { clock, state, context } = start(node);
    await settle();
    node.fail(1);
    node.last().drop();
    clock.increment(250);
    await settle();
    expect(state()).toBe('backoff');
    expect(context()).toMatchObject({ attempts: 2, lastError: 'ECONNREFUSED' });
  });

  it('the backoff starts from the base again after a connection was open', async () => {
    const node = fakeNode();
    const { clock, state } = start(node);
    await settle();
    node.fail(2);
    node.last().drop();
    // Defaults: 250 ms, doubled per failure.
    await expectWaits(clock, node, [250, 500, 1000]);
    expect(state()).toBe('open');
    node.last().drop();
    await expectWaits(clock, node, [250]);
    expect(state()).toBe('open');
    expect(node.sockets).toHaveLength(3);
  });

  it('close shuts the open socket and ends in closed; a drop after that reconnects nothing', async () => {
    const node = fakeNode();
    const { clock, actor, state, context } = start(node);
    await settle();
    const socket = node.last();
    actor.send({ type: 'close' });
    expect(state()).toBe('closing');
    await settle();
    expect(state()).toBe('closed');
    expect(actor.getSnapshot().status).toBe('done');
    expect(socket.closedByClient).toBe(1);
    expect(context().socket).toBeNull();
    clock.increment(60_000);
    await settle();
    expect(node.urls).toHaveLength(1);
  });

  it('close while waiting to reconnect stops reconnecting', async () => {
    const node = fakeNode();
    const { clock, actor, state } = start(node);
    await settle();
    node.last().drop();
    expect(state()).toBe('backoff');
    actor.send({ type: 'close' });
    await settle();
    expect(state()).toBe('closed');
    clock.increment(60_000);
    await settle();
    expect(node.urls).toHaveLength(1);
  });

  it('closed even when the socket fails to close cleanly', async () => {
    const node = fakeNode();
    const { actor, state } = start(node);
    await settle();
    node.last().close = async () => {
      throw new Error('already closed');
    };
    actor.send({ type: 'close' });
    actor.send({ type: 'close' });
    await settle();
    expect(state()).toBe('closed');
  });
});
