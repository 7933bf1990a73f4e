/**
 * The sync session machine (actors/sync.ts) and the sync job (actors/sync-job.ts) with fake work: a
 * session goes idle → comparing → (equal: done) or reconciling → fetching → storing → done, and any
 * phase that fails ends it in failed (busy when the neighbour said busy); its output counts what moved
 * and the traffic. The job records each run's counts and keeps the last sessions, newest first.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import { SignpostError } from '../../../protocols/errors.js';
import { syncSessionMachine, type CompareOutput, type FetchOutput, type ReconcileOutput, type StoreOutput, type SyncSessionOutput, type Traffic } from '../../../actors/sync.js';
import { syncJobMachineWith, type SyncRound } from '../../../actors/sync-job.js';

const traffic = (rt: number): Traffic => ({ roundTrips: rt, bytesSent: 100 * rt, bytesReceived: 50 * rt });

interface Script {
  compare?: CompareOutput | Error;
  reconcile?: ReconcileOutput | Error;
  fetch?: FetchOutput | Error;
  store?: StoreOutput | Error;
}

/** Runs one session whose phases answer as scripted; resolves with its output and the states it went through. */
async function session(script: Script): Promise<{ output: SyncSessionOutput; states: unknown[] }> {
  let rt = 0;
  const phase = <T>(answer: T | Error | undefined) =>
    fromPromise(async () => {
      rt++;
      if (answer instanceof Error) throw answer;
      if (answer === undefined) throw new Error('phase not expected');
      return { output: answer, traffic: traffic(rt) };
    });
  const actor = createActor(
    syncSessionMachine.provide({ actors: { compare: phase(script.compare), reconcile: phase(script.reconcile), fetch: phase(script.fetch), store: phase(script.store) } }),
    { input: { peerId: 'peer-1', at: 1000 } },
  );
  const states: unknown[] = [];
  actor.subscribe((s) => states.push(s.value));
  const done = toPromise(actor);
  actor.start();
  actor.send({ type: 'start' });
  return { output: await done, states: states.filter((s, i) => s !== states[i - 1]) };
}

const reconciled: ReconcileOutput = { ours: 2, theirs: 3, method: 'symbols', symbols: 9 };
const fetched: FetchOutput = { pushed: 2, accepted: 2, refused: 0, received: 3 };

describe('a sync session', () => {
  it('between equal sets is comparing then done, in one phase', async () => {
    const { output, states } = await session({ compare: { equal: true, range: '0-1023', estimate: 0 } });
    expect(states).toEqual(['idle', 'comparing', 'done']);
    expect(output).toMatchObject({ peer_id: 'peer-1', at: 1000, outcome: 'equal', range: '0-1023', estimate: 0, method: null, roundTrips: 1, bytesSent: 100, bytesReceived: 50 });
  });

  it('that differs goes through reconciling, fetching and storing, and counts what moved', async () => {
    const { output, states } = await session({
      compare: { equal: false, range: '0-511', estimate: 5 },
      reconcile: reconciled,
      fetch: fetched,
      store: { stored: 3, rejected: 0 },
    });
    expect(states).toEqual(['idle', 'comparing', 'reconciling', 'fetching', 'storing', 'done']);
    expect(output).toMatchObject({ outcome: 'done', range: '0-511', estimate: 5, method: 'symbols', ours: 2, theirs: 3, pushed: 2, received: 3, stored: 3, rejected: 0, roundTrips: 4, error: null });
  });

  it('fails where a phase fails, with its error; a busy neighbour is its own outcome', async () => {
    const failed = await session({ compare: { equal: false, range: '0-1023', estimate: 1 }, reconcile: reconciled, fetch: new SignpostError('peer_timeout', 'no answer') });
    expect(failed.states).toEqual(['idle', 'comparing', 'reconciling', 'fetching', 'failed']);
    expect(failed.output).toMatchObject({ outcome: 'failed', error: 'no answer', code: 'peer_timeout', ours: 2, theirs: 3 });
    const busy = await session({ compare: new SignpostError('busy', 'three sessions already') });
    expect(busy.states).toEqual(['idle', 'comparing', 'failed']);
    expect(busy.output).toMatchObject({ outcome: 'busy', error: 'three sessions already', code: 'busy' });
  });
});

describe('the sync job', () => {
  const out = (peer: string, outcome: SyncSessionOutput['outcome']): SyncSessionOutput => ({
    peer_id: peer,
    at: 60,
    outcome,
    range: '0-1023',
    estimate: 0,
    method: null,
    ours: 0,
    theirs: 0,
    pushed: 0,
    received: 0,
    stored: 0,
    rejected: 0,
    roundTrips: 1,
    bytesSent: 70,
    bytesReceived: 23,
    error: null,
    code: null,
  });

  it('records each run and keeps the last sessions, newest first', async () => {
    const rounds: SyncRound[] = [
      { range: '0-1023', neighbours: 2, equal: 1, done: 0, failed: 0, busy: 1, pushed: 0, received: 0, sessions: [out('a', 'equal'), out('b', 'busy')] },
      { range: '0-1023', neighbours: 1, equal: 1, done: 0, failed: 0, busy: 0, pushed: 0, received: 0, sessions: [out('b', 'equal')] },
    ];
    let i = 0;
    const job = createActor(syncJobMachineWith({ round: async () => rounds[i++] }), { input: { interval: 60, nextDueAt: 60, lastRunAt: null } }).start();
    for (const at of [60, 120]) {
      const before = job.getSnapshot().context.runs;
      job.send({ type: 'run', at, nextDueAt: at + 60 });
      await new Promise<void>((resolve) => {
        const sub = job.subscribe((s) => s.context.runs > before && s.value === 'waiting' && (sub.unsubscribe(), resolve()));
      });
    }
    const c = job.getSnapshot().context;
    expect(c.history.map((h) => h.at)).toEqual([120, 60]);
    expect(c.history[1].result).toEqual({ range: '0-1023', neighbours: 2, equal: 1, done: 0, failed: 0, busy: 1, pushed: 0, received: 0 });
    expect(c.sessions.map((s) => [s.peer_id, s.outcome])).toEqual([['b', 'equal'], ['b', 'busy'], ['a', 'equal']]);
  });
});
