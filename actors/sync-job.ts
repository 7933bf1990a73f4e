/**
 * The `sync` job (SPEC §5): every `sync_interval`, one anti-entropy session (actors/sync.ts) with each
 * neighbour, one at a time, the least recently synced first. It also runs once when the node has joined
 * the network, so a node that restarted or is new in a neighbourhood catches up at once.
 *
 *   waiting ──run──▶ syncing ──▶ waiting
 *
 * A run's result counts its sessions by outcome and the entries that moved; the context keeps the last
 * sessions (newest first) for `actors.get job:sync` and the visualiser.
 *
 * @example
 * const sync = createActor(syncJobMachineWith({ round: ({ at }) => service.round(at) }), { input: { interval: 60, nextDueAt: 60, lastRunAt: null } }).start();
 */
import { assign, fromPromise, setup } from 'xstate';
import { endRun, initialJobContext, notProvided, startRun, type JobContext, type JobEvent, type JobInput, type PhaseInput } from './job.js';
import type { SyncSessionOutput } from './sync.js';

/** What one run did. */
export interface SyncRound {
  /** The buckets this node holds (`0-1023`, …), or why the run did nothing. */
  range: string;
  neighbours: number;
  equal: number;
  done: number;
  failed: number;
  busy: number;
  /** Entries sent to neighbours and received from them. */
  pushed: number;
  received: number;
  sessions: SyncSessionOutput[];
}

export interface SyncJobWork {
  round(input: PhaseInput): Promise<SyncRound>;
}

export interface SyncJobContext extends JobContext {
  /** The last sessions, newest first. */
  sessions: SyncSessionOutput[];
}

const LAST_SESSIONS = 20;

export const syncJobMachine = setup({
  types: { context: {} as SyncJobContext, events: {} as JobEvent, input: {} as JobInput },
  actors: { round: fromPromise<SyncRound, PhaseInput>(notProvided('sync', 'round')) },
}).createMachine({
  id: 'sync',
  context: ({ input }) => ({ ...initialJobContext(input), sessions: [] }),
  initial: 'waiting',
  states: {
    waiting: {
      on: { run: { target: 'syncing', actions: assign(({ event }) => startRun(event)) } },
    },
    syncing: {
      invoke: {
        src: 'round',
        input: ({ context }) => ({ at: context.runningAt! }),
        onDone: {
          target: 'waiting',
          actions: assign(({ context, event }) => {
            const { sessions, ...result } = event.output;
            return { ...endRun(context, { result }), sessions: [...[...sessions].reverse(), ...context.sessions].slice(0, LAST_SESSIONS) };
          }),
        },
        onError: { target: 'waiting', actions: assign(({ context, event }) => endRun(context, { error: event.error })) },
      },
    },
  },
});

export function syncJobMachineWith(work: SyncJobWork) {
  return syncJobMachine.provide({ actors: { round: fromPromise<SyncRound, PhaseInput>(({ input }) => work.round(input)) } });
}
