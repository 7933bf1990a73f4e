/**
 * The `republish` job (SPEC §5): every `replicate_interval`, the keys not republished here for
 * `stale_timeout` are evicted from the stale index (`evict_stale`) and pushed, with their records and
 * tombstones, to their current neighbourhoods, so nodes that joined since hold them too.
 *
 *   waiting ──run──▶ evicting ──▶ pushing ⟲ (a batch of keys at a time) ──▶ waiting
 *
 * Pushing goes through the stale keys a batch at a time; a key whose push fails counts its failed
 * node-to-node pushes and the run goes on with the next. A run's result is `{stale_keys, pushed, failed}`.
 *
 * @example
 * const republish = createActor(republishMachineWith({ evict, push }), { input: { interval: 3600, nextDueAt: 3600, lastRunAt: null } }).start();
 */
import { assign, fromPromise, setup } from 'xstate';
import type { KeyItem } from '../protocols/registry.js';
import { endRun, initialJobContext, notProvided, startRun, type JobContext, type JobEvent, type JobInput, type PhaseInput } from './job.js';
import type { PushTally } from './renew.js';

/** Keys pushed per step of `pushing` (each batch's keys go out in parallel). */
export const PUSH_BATCH = 8;

export interface RepublishWork {
  evict(input: PhaseInput): Promise<KeyItem[]>;
  push(input: PhaseInput & { items: KeyItem[] }): Promise<PushTally>;
}

export interface RepublishContext extends JobContext {
  /** The stale keys of the run in progress, and how many of them are pushed. */
  stale: KeyItem[];
  done: number;
  pushed: number;
  failed: number;
}

type PushInput = PhaseInput & { items: KeyItem[] };

const resultOf = (c: RepublishContext) => ({ stale_keys: c.stale.length, pushed: c.pushed, failed: c.failed });

export const republishMachine = setup({
  types: { context: {} as RepublishContext, events: {} as JobEvent, input: {} as JobInput },
  actors: {
    evict: fromPromise<KeyItem[], PhaseInput>(notProvided('republish', 'evict')),
    push: fromPromise<PushTally, PushInput>(notProvided('republish', 'push')),
  },
  guards: {
    morePending: ({ context }) => context.done + PUSH_BATCH < context.stale.length,
  },
  actions: {
    tally: assign(({ context }, out: PushTally) => ({
      done: Math.min(context.stale.length, context.done + PUSH_BATCH),
      pushed: context.pushed + out.pushed,
      failed: context.failed + out.failed,
    })),
    finish: assign(({ context }) => ({ ...endRun(context, { result: resultOf(context) }), stale: [], done: 0, pushed: 0, failed: 0 })),
  },
}).createMachine({
  id: 'republish',
  context: ({ input }) => ({ ...initialJobContext(input), stale: [], done: 0, pushed: 0, failed: 0 }),
  initial: 'waiting',
  states: {
    waiting: {
      on: { run: { target: 'evicting', actions: assign(({ event }) => ({ ...startRun(event), stale: [], done: 0, pushed: 0, failed: 0 })) } },
    },
    evicting: {
      invoke: {
        src: 'evict',
        input: ({ context }) => ({ at: context.runningAt! }),
        onDone: [
          { guard: ({ event }) => event.output.length === 0, target: 'waiting', actions: 'finish' },
          { target: 'pushing', actions: assign({ stale: ({ event }) => event.output }) },
        ],
        onError: { target: 'waiting', actions: assign(({ context, event }) => endRun(context, { error: event.error })) },
      },
    },
    pushing: {
      invoke: {
        src: 'push',
        input: ({ context }) => ({ at: context.runningAt!, items: context.stale.slice(context.done, context.done + PUSH_BATCH) }),
        onDone: [
          { guard: 'morePending', target: 'pushing', reenter: true, actions: { type: 'tally', params: ({ event }) => event.output } },
          { target: 'waiting', actions: [{ type: 'tally', params: ({ event }) => event.output }, 'finish'] },
        ],
        onError: { target: 'waiting', actions: assign(({ context, event }) => ({ ...endRun(context, { error: event.error }), stale: [], done: 0, pushed: 0, failed: 0 })) },
      },
    },
  },
});

export function republishMachineWith(work: RepublishWork) {
  return republishMachine.provide({
    actors: {
      evict: fromPromise<KeyItem[], PhaseInput>(({ input }) => work.evict(input)),
      push: fromPromise<PushTally, PushInput>(({ input }) => work.push(input)),
    },
  });
}
