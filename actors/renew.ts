/**
 * The `renew` job (SPEC §5): every `renew_interval` (and once when the node starts), this node re-signs its
 * host records that are due, then publishes them to their resources' neighbourhoods.
 *
 *   waiting ──run──▶ renewing ──▶ publishing ──▶ waiting
 *
 * A run's result is `{keys, renewed, pushed, failed}`: keys visited, records re-signed, and node-to-node
 * pushes that succeeded and failed.
 *
 * @example
 * const renew = createActor(renewMachineWith({ renew, publish }), { input: { interval: 43200, nextDueAt: 43200, lastRunAt: null } }).start();
 */
import { assign, fromPromise, setup } from 'xstate';
import { endRun, initialJobContext, notProvided, startRun, type JobContext, type JobEvent, type JobInput, type PhaseInput } from './job.js';

/** What the `renewing` phase did: keys visited, host records re-signed, and the keys that had any. */
export interface RenewResult {
  keys: number;
  renewed: number;
  key_ids: string[];
}

/** What the `publishing` phase did: node-to-node pushes that succeeded and failed. */
export interface PushTally {
  pushed: number;
  failed: number;
}

export interface RenewWork {
  renew(input: PhaseInput): Promise<RenewResult>;
  publish(input: PhaseInput & { renewed: RenewResult }): Promise<PushTally>;
}

export interface RenewContext extends JobContext {
  /** The renewing phase's result, while the run publishes it. */
  renewed: RenewResult | null;
}

export const renewMachine = setup({
  types: { context: {} as RenewContext, events: {} as JobEvent, input: {} as JobInput },
  actors: {
    renew: fromPromise<RenewResult, PhaseInput>(notProvided('renew', 'renew')),
    publish: fromPromise<PushTally, PhaseInput & { renewed: RenewResult }>(notProvided('renew', 'publish')),
  },
}).createMachine({
  id: 'renew',
  context: ({ input }) => ({ ...initialJobContext(input), renewed: null }),
  initial: 'waiting',
  states: {
    waiting: {
      on: { run: { target: 'renewing', actions: assign(({ event }) => startRun(event)) } },
    },
    renewing: {
      invoke: {
        src: 'renew',
        input: ({ context }) => ({ at: context.runningAt! }),
        onDone: { target: 'publishing', actions: assign({ renewed: ({ event }) => event.output }) },
        onError: { target: 'waiting', actions: assign(({ context, event }) => endRun(context, { error: event.error })) },
      },
    },
    publishing: {
      invoke: {
        src: 'publish',
        input: ({ context }) => ({ at: context.runningAt!, renewed: context.renewed! }),
        onDone: {
          target: 'waiting',
          actions: assign(({ context, event }) => {
            const { keys, renewed } = context.renewed!;
            return { ...endRun(context, { result: { keys, renewed, pushed: event.output.pushed, failed: event.output.failed } }), renewed: null };
          }),
        },
        onError: { target: 'waiting', actions: assign(({ context, event }) => ({ ...endRun(context, { error: event.error }), renewed: null })) },
      },
    },
  },
});

export function renewMachineWith(work: RenewWork) {
  return renewMachine.provide({
    actors: {
      renew: fromPromise<RenewResult, PhaseInput>(({ input }) => work.renew(input)),
      publish: fromPromise<PushTally, PhaseInput & { renewed: RenewResult }>(({ input }) => work.publish(input)),
    },
  });
}
