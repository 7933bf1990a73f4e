/**
 * The bootstrap machine (actors/bootstrap.ts) with fake dial, join and refresh effects on a
 * SimulatedClock: a node joins through the first bootstrap node that answers, retries with doubling
 * backoff while none does, refreshes its buckets on schedule, and dials again when its table empties.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { bootstrapMachine, type BootstrapInput, type RefreshOutput } from '../../../actors/bootstrap.js';

const URLS = ['ws://127.0.0.1:7071', 'ws://127.0.0.1:7072'];
const REFRESH_MS = 600_000;

/** Lets pending promise reactions (the fake effects' answers) run. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Fake effects: every call is logged; each answer is scripted by the test (dial answers by default, the table is not empty). */
function fakeNetwork() {
  const calls: string[] = [];
  const dialed: string[][] = [];
  let dialFailures = 0;
  let answering: string[] | null = null;
  let joinFails = false;
  let emptyTable = false;
  let refreshFails = false;
  const actors = {
    dial: fromPromise<string[], { urls: string[] }>(async ({ input }) => {
      calls.push('dial');
      dialed.push(input.urls);
      if (dialFailures > 0) {
        dialFailures--;
        throw new Error(`no bootstrap node answered (${input.urls.join(', ')})`);
      }
      return answering ?? input.urls;
    }),
    join: fromPromise<void>(async () => {
      calls.push('join');
      if (joinFails) throw new Error('join lookup failed');
    }),
    refresh: fromPromise<RefreshOutput>(async () => {
      calls.push('refresh');
      if (refreshFails) throw new Error('refresh failed');
      return { emptyTable };
    }),
  };
  return {
    actors,
    calls,
    dialed,
    failDials: (n: number) => void (dialFailures = n),
    answer: (urls: string[]) => void (answering = urls),
    failJoin: () => void (joinFails = true),
    setEmptyTable: (empty: boolean) => void (emptyTable = empty),
    failRefresh: (fails: boolean) => void (refreshFails = fails),
  };
}

function start(net: ReturnType<typeof fakeNetwork>, input: Partial<BootstrapInput> = {}) {
  const clock = new SimulatedClock();
  const actor = createActor(bootstrapMachine.provide({ actors: net.actors }), { clock, input: { urls: URLS, refreshMs: REFRESH_MS, ...input } }).start();
  return { clock, actor, state: () => actor.getSnapshot().value as string, context: () => actor.getSnapshot().context };
}

/** Checks that each next dialing round comes exactly `waits[i]` ms after the previous one failed. */
async function expectWaits(clock: SimulatedClock, net: ReturnType<typeof fakeNetwork>, waits: number[]) {
  for (const wait of waits) {
    const before = net.dialed.length;
    clock.increment(wait - 1);
    await settle();
    expect(net.dialed.length, `no dial before ${wait} ms`).toBe(before);
    clock.increment(1);
    await settle();
    expect(net.dialed.length, `a dial after ${wait} ms`).toBe(before + 1);
  }
}

describe('bootstrap machine', () => {
  it('dials every bootstrap URL, joins, and is ready; records who answered', async () => {
    const net = fakeNetwork();
    net.answer([URLS[1]]);
    const { state, context } = start(net);
    expect(state()).toBe('dialing');
    expect(net.dialed).toEqual([URLS]);
    await settle();
    expect(state()).toBe('ready');
    expect(net.calls).toEqual(['dial', 'join']);
    expect(context()).toMatchObject({ answered: [URLS[1]], joins: 1, failures: 0, lastError: null });
  });

  it('with no bootstrap URLs it is ready at once, without dialing or joining', async () => {
    const net = fakeNetwork();
    const { state, context } = start(net, { urls: [] });
    expect(state()).toBe('ready');
    await settle();
    expect(net.calls).toEqual([]);
    expect(context().joins).toBe(0);
  });

  it('retries the bootstrap nodes with a backoff that doubles up to its cap, then joins', async () => {
    const net = fakeNetwork();
    net.failDials(5);
    const { clock, state, context } = start(net, { backoffBaseMs: 100, backoffMaxMs: 500 });
    await settle();
    expect(state()).toBe('backoff');
    expect(context().failures).toBe(1);
    expect(context().lastError).toContain('no bootstrap node answered');

    // Waits 100, 200, 400, 500 (capped), 500 ms before the 2nd..6th rounds.
    await expectWaits(clock, net, [100, 200, 400, 500, 500]);
    expect(state()).toBe('ready');
    expect(net.calls.filter((c) => c === 'join')).toHaveLength(1);
    expect(context()).toMatchObject({ failures: 0, lastError: null, joins: 1 });
  });

  it('backs off from 0.5 s, doubling, up to 30 s by default', async () => {
    const net = fakeNetwork();
    net.failDials(Infinity);
    const { clock, context } = start(net);
    await settle();
    await expectWaits(clock, net, [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(context().failures).toBe(9);
  });

  it('a failed join still leaves the node ready (it has a bootstrap node), without counting a join', async () => {
    const net = fakeNetwork();
    net.failJoin();
    const { state, context } = start(net);
    await settle();
    expect(state()).toBe('ready');
    expect(context().joins).toBe(0);
  });

  it('refreshes the buckets 5 s after joining, 30 s later, then every refreshMs while the table has peers', async () => {
    const net = fakeNetwork();
    const { clock, state, context } = start(net);
    await settle();
    for (const wait of [5_000, 30_000, REFRESH_MS]) {
      clock.increment(wait - 1);
      await settle();
      expect(state()).toBe('ready');
      clock.increment(1);
      expect(state()).toBe('refreshing');
      await settle();
      expect(state()).toBe('ready');
    }
    clock.increment(REFRESH_MS);
    await settle();
    expect(net.calls).toEqual(['dial', 'join', 'refresh', 'refresh', 'refresh', 'refresh']);
    expect(context().refreshes).toBe(4);
  });

  it('a failed refresh waits for the next one', async () => {
    const net = fakeNetwork();
    const { clock, state, context } = start(net);
    await settle();
    net.failRefresh(true);
    clock.increment(REFRESH_MS);
    await settle();
    expect(state()).toBe('ready');
    expect(context().refreshes).toBe(0);
    net.failRefresh(false);
    clock.increment(REFRESH_MS);
    await settle();
    expect(net.calls).toEqual(['dial', 'join', 'refresh', 'refresh']);
    expect(context().refreshes).toBe(1);
  });

  it('an empty routing table after a refresh dials the bootstrap nodes again and joins again', async () => {
    const net = fakeNetwork();
    const { clock, state, context } = start(net);
    await settle();
    net.setEmptyTable(true);
    net.failDials(1);
    clock.increment(REFRESH_MS);
    expect(state()).toBe('refreshing');
    await settle();
    // The refresh found nobody: back to the bootstrap nodes, with the backoff when they do not answer.
    expect(net.calls).toEqual(['dial', 'join', 'refresh', 'dial']);
    expect(state()).toBe('backoff');
    net.setEmptyTable(false);
    clock.increment(500);
    await settle();
    expect(state()).toBe('ready');
    expect(net.calls).toEqual(['dial', 'join', 'refresh', 'dial', 'dial', 'join']);
    expect(context()).toMatchObject({ joins: 2, refreshes: 0, failures: 0 });
  });

  it('without bootstrap URLs an empty table is refreshed again later, never dialed', async () => {
    const net = fakeNetwork();
    net.setEmptyTable(true);
    const { clock, state, context } = start(net, { urls: [] });
    for (let i = 0; i < 3; i++) {
      clock.increment(REFRESH_MS);
      await settle();
    }
    expect(state()).toBe('ready');
    expect(net.calls).toEqual(['refresh', 'refresh', 'refresh']);
    expect(context().refreshes).toBe(3);
  });
});
