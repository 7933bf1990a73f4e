/**
 * The client-side registration machine (actors/registration.ts) with fake effects on a SimulatedClock:
 * it renews on schedule, retries with backoff, re-registers after a reconnect, unregisters on stop, and
 * gives up on a permanent refusal.
 */
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { registrationMachineWith, type RegisterInput, type RegistrationEffects } from '../../../actors/registration.js';
import { backoffMs } from '../../../actors/backoff.js';
import type { Record as ProviderRecord } from '../../../protocols/types.js';
import { key, peer, record } from '../../helpers/objects.js';

const K = key(peer(1), 'svc', 1000);
const RENEW_MS = 60_000;

/** Lets pending promise reactions (the fake effects' answers) run. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

class PermanentError extends Error {}

/** Fake effects: every `register` call is logged; failures are scripted by the test. */
function fakeNetwork() {
  const calls: RegisterInput[] = [];
  const unregistered: (ProviderRecord | null)[] = [];
  let failNext = 0;
  let failWith: () => Error = () => new Error('node unreachable');
  let version = 0;
  const effects: RegistrationEffects = {
    async register(input) {
      calls.push(input);
      if (failNext > 0) {
        failNext--;
        throw failWith();
      }
      version++;
      return record(K, peer(2), 1000, { created: 1000 + version });
    },
    async unregister({ record: r }) {
      unregistered.push(r);
    },
    isPermanent: (e) => e instanceof PermanentError,
  };
  return {
    effects,
    calls,
    unregistered,
    fail(n: number, make?: () => Error) {
      failNext = n;
      if (make) failWith = make;
    },
  };
}

function start(net: ReturnType<typeof fakeNetwork>, input: { retryBaseMs?: number; retryMaxMs?: number } = {}) {
  const clock = new SimulatedClock();
  const actor = createActor(registrationMachineWith(net.effects), { clock, input: { renewIntervalMs: RENEW_MS, ...input } }).start();
  return { clock, actor, state: () => actor.getSnapshot().value as string, context: () => actor.getSnapshot().context };
}

describe('registration machine', () => {
  it('registers at once, then renews every renewIntervalMs with the previous record', async () => {
    const net = fakeNetwork();
    const { clock, state, context } = start(net);
    expect(state()).toBe('registering');
    await settle();
    expect(state()).toBe('registered');
    expect(net.calls).toEqual([{ reason: 'register', previous: null }]);
    const first = context().record;

    clock.increment(RENEW_MS - 1);
    await settle();
    expect(net.calls).toHaveLength(1);

    clock.increment(1);
    expect(state()).toBe('renewing');
    await settle();
    expect(state()).toBe('registered');
    expect(net.calls[1]).toEqual({ reason: 'renew', previous: first });
    expect(context().record!.timestamp_created).toBeGreaterThan(first!.timestamp_created);

    for (let i = 0; i < 3; i++) {
      clock.increment(RENEW_MS);
      await settle();
    }
    expect(net.calls.map((c) => c.reason)).toEqual(['register', 'renew', 'renew', 'renew', 'renew']);
    expect(context().registrations).toBe(5);
  });

  it('retries a failed registration with exponential backoff, capped, and resets it after a success', async () => {
    const net = fakeNetwork();
    net.fail(4);
    const { clock, state, context } = start(net, { retryBaseMs: 100, retryMaxMs: 300 });
    await settle();
    expect(state()).toBe('retrying');
    expect(context().lastError).toBe('node unreachable');

    // Waits 100, 200, 300 (capped), 300 ms before the 2nd..5th attempts.
    for (const wait of [100, 200, 300, 300]) {
      const before = net.calls.length;
      clock.increment(wait - 1);
      await settle();
      expect(net.calls.length, `no attempt before ${wait} ms`).toBe(before);
      clock.increment(1);
      await settle();
      expect(net.calls.length).toBe(before + 1);
    }
    expect(state()).toBe('registered');
    expect(net.calls.map((c) => c.reason)).toEqual(['register', 'retry', 'retry', 'retry', 'retry']);
    expect(context().failures).toBe(0);
    expect(context().lastError).toBeNull();

    // A failed renewal retries from the base delay again, renewing the record it had.
    const kept = context().record;
    net.fail(1);
    clock.increment(RENEW_MS);
    await settle();
    expect(state()).toBe('retrying');
    clock.increment(100);
    await settle();
    expect(state()).toBe('registered');
    expect(net.calls.at(-1)).toEqual({ reason: 'retry', previous: kept });
  });

  it('backoff doubles from the base up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, 1000, 10_000))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('waits while disconnected and re-registers as soon as the connection is back', async () => {
    const net = fakeNetwork();
    const { clock, actor, state, context } = start(net);
    await settle();
    const before = context().record;
    actor.send({ type: 'connection.lost' });
    expect(state()).toBe('disconnected');

    // No renewal can reach the network while disconnected, however long it lasts.
    clock.increment(RENEW_MS * 3);
    await settle();
    expect(net.calls).toHaveLength(1);

    actor.send({ type: 'connection.restored' });
    expect(state()).toBe('registering');
    await settle();
    expect(state()).toBe('registered');
    expect(net.calls[1]).toEqual({ reason: 'reconnect', previous: before });

    // The renewal schedule starts again from the re-registration.
    clock.increment(RENEW_MS);
    await settle();
    expect(net.calls.map((c) => c.reason)).toEqual(['register', 'reconnect', 'renew']);
  });

  it('a connection lost mid-registration abandons that attempt and re-registers after the reconnect', async () => {
    let release!: (r: ProviderRecord) => void;
    const calls: RegisterInput[] = [];
    const effects: RegistrationEffects = {
      register: (input) => {
        calls.push(input);
        return calls.length === 1 ? new Promise((resolve) => (release = resolve)) : Promise.resolve(record(K, peer(2), 1000, { created: 1002 }));
      },
      unregister: async () => undefined,
    };
    const actor = createActor(registrationMachineWith(effects), { clock: new SimulatedClock(), input: { renewIntervalMs: RENEW_MS } }).start();
    actor.send({ type: 'connection.lost' });
    release(record(K, peer(2), 1000, { created: 1001 }));
    await settle();
    expect(actor.getSnapshot().value).toBe('disconnected');
    expect(actor.getSnapshot().context.record).toBeNull();
    actor.send({ type: 'connection.restored' });
    await settle();
    expect(actor.getSnapshot().value).toBe('registered');
    expect(actor.getSnapshot().context.record!.timestamp_created).toBe(1002);
  });

  it('unregisters the last record on stop and ends in unregistered, with no renewal after', async () => {
    const net = fakeNetwork();
    const { clock, actor, state, context } = start(net);
    await settle();
    clock.increment(RENEW_MS);
    await settle();
    const last = context().record;
    actor.send({ type: 'stop' });
    expect(state()).toBe('stopping');
    await settle();
    expect(state()).toBe('unregistered');
    expect(actor.getSnapshot().status).toBe('done');
    expect(net.unregistered).toEqual([last]);
    clock.increment(RENEW_MS * 2);
    await settle();
    expect(net.calls).toHaveLength(2);
  });

  it('stop while disconnected or retrying still sends the tombstone; a refused tombstone ends in stopped with the reason', async () => {
    const net = fakeNetwork();
    const a = start(net);
    await settle();
    a.actor.send({ type: 'connection.lost' });
    a.actor.send({ type: 'stop' });
    await settle();
    expect(a.state()).toBe('unregistered');
    expect(net.unregistered).toHaveLength(1);

    const refused = fakeNetwork();
    refused.fail(1);
    refused.effects.unregister = async () => {
      throw new Error('quorum not reached');
    };
    const b = start(refused);
    await settle();
    expect(b.state()).toBe('retrying');
    b.actor.send({ type: 'stop' });
    await settle();
    expect(b.state()).toBe('stopped');
    expect(b.context().lastError).toBe('quorum not reached');
  });

  it('a permanent refusal ends in failed without retrying', async () => {
    const net = fakeNetwork();
    net.fail(1, () => new PermanentError('policy_violation: only the owner may register'));
    const { clock, state, context } = start(net);
    await settle();
    expect(state()).toBe('failed');
    expect(context().lastError).toContain('policy_violation');
    clock.increment(RENEW_MS * 2);
    await settle();
    expect(net.calls).toHaveLength(1);
  });
});
