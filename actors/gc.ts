/**
 * The `gc` job (SPEC §5): every `gc_interval`, `clear_expired` over the keys whose gc time has come.
 *
 *   waiting ──run──▶ collecting ──▶ waiting
 *
 * @example
 * const gc = createActor(gcMachineWith({ collect: ({ at }) => shards.clearExpired() }), { input: { interval: 3600, nextDueAt: 3600, lastRunAt: null } }).start();
 * gc.send({ type: 'run', at: 3600, nextDueAt: 7200 });
 */
import { assign, fromPromise, setup } from 'xstate';
import type { ClearCounts } from '../protocols/registry.js';
import { endRun, initialJobContext, notProvided, startRun, type JobContext, type JobEvent, type JobInput, type PhaseInput } from './job.js';

export interface GcWork {
  collect(input: PhaseInput): Promise<ClearCounts>;
}

export const gcMachine = setup({
  types: { context: {} as JobContext, events: {} as JobEvent, input: {} as JobInput },
  actors: { collect: fromPromise<ClearCounts, PhaseInput>(notProvided('gc', 'collect')) },
}).createMachine({
  id: 'gc',
  context: ({ input }) => initialJobContext(input),
  initial: 'waiting',
  states: {
    waiting: {
      on: { run: { target: 'collecting', actions: assign(({ event }) => startRun(event)) } },
    },
    collecting: {
      invoke: {
        src: 'collect',
        input: ({ context }) => ({ at: context.runningAt! }),
        onDone: { target: 'waiting', actions: assign(({ context, event }) => endRun(context, { result: event.output })) },
        onError: { target: 'waiting', actions: assign(({ context, event }) => endRun(context, { error: event.error })) },
      },
    },
  },
});

export function gcMachineWith(work: GcWork) {
  return gcMachine.provide({ actors: { collect: fromPromise<ClearCounts, PhaseInput>(({ input }) => work.collect(input)) } });
}
