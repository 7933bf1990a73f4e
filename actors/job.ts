/**
 * The scheduled jobs (SPEC §5, DESIGN: actors/republish, gc, renew) as explicit machines. Each waits for a
 * `run` event carrying the node-clock instant it runs at, goes through its named phases, and records the
 * run in its context, which is what an operator reads (`actors.get job:gc`, the visualiser).
 *
 *   renew:     waiting → renewing → waiting
 *   gc:        waiting → collecting → waiting
 *   republish: waiting → evicting → pushing → waiting
 *
 * The work of each phase is an injected promise actor (the runtime's shards, the network layer), so tests
 * and the simulator can swap it; when a job is due is the runtime scheduler's business (SPEC §5's exact
 * schedule, stepped through by the manual clock), so the machine has no timers of its own.
 *
 * @example
 * const gc = createActor(jobMachine('gc', { collecting: async ({ at }) => shards.clearExpired() }), { input: { interval: 3600, nextDueAt: 3600, lastRunAt: null } }).start();
 * gc.send({ type: 'run', at: 3600 });
 */
import { assign, fromPromise, setup, type AnyStateMachine } from 'xstate';

export type JobKind = 'renew' | 'gc' | 'republish';

/** SPEC §5: jobs due at the same instant run in this order. */
export const JOB_ORDER: readonly JobKind[] = ['renew', 'gc', 'republish'];

/** The named phases of each job, in order. */
export const JOB_PHASES = {
  renew: ['renewing', 'publishing'],
  gc: ['collecting'],
  republish: ['evicting', 'pushing'],
} as const satisfies { [K in JobKind]: readonly string[] };

/** What a phase gets: the run's instant and the previous phase's output (undefined for the first). */
export interface PhaseInput {
  at: number;
  previous: unknown;
}

export type JobWork<K extends JobKind> = { [P in (typeof JOB_PHASES)[K][number]]: (input: PhaseInput) => Promise<unknown> };

export interface JobRun {
  at: number;
  /** The last phase's output, or the failure. */
  result?: unknown;
  error?: string;
}

export interface JobInput {
  interval: number;
  nextDueAt: number;
  lastRunAt: number | null;
}

export interface JobContext extends JobInput {
  runs: number;
  failures: number;
  /** The run in progress, and the output its last phase handed on. */
  runningAt: number | null;
  carry: unknown;
  /** The latest runs, newest first. */
  history: JobRun[];
}

export type JobEvent = { type: 'run'; at: number; nextDueAt: number };

const HISTORY = 20;

const record = (context: JobContext, run: JobRun): Partial<JobContext> => ({
  runs: context.runs + 1,
  failures: context.failures + (run.error === undefined ? 0 : 1),
  lastRunAt: run.at,
  runningAt: null,
  carry: undefined,
  history: [run, ...context.history].slice(0, HISTORY),
});

/** The machine of one job, its phases doing `work`. A failed phase ends the run (recorded) and the job waits again. */
export function jobMachine<K extends JobKind>(kind: K, work: JobWork<K>): AnyStateMachine {
  const phases: readonly string[] = JOB_PHASES[kind];
  const run = work as { [phase: string]: (input: PhaseInput) => Promise<unknown> };
  const actors = Object.fromEntries(phases.map((p) => [p, fromPromise<unknown, PhaseInput>(({ input }) => run[p](input))]));
  const states: { [name: string]: object } = {
    waiting: {
      on: {
        run: {
          target: phases[0],
          actions: assign(({ event }) => ({ runningAt: event.at, nextDueAt: event.nextDueAt, carry: undefined })),
        },
      },
    },
  };
  type Args = { context: JobContext; event: unknown };
  const finish = assign((a: Args) => record(a.context, { at: a.context.runningAt!, result: (a.event as { output: unknown }).output }));
  const handOn = assign({ carry: (a: Args) => (a.event as { output: unknown }).output });
  const fail = assign((a: Args) => {
    const error = (a.event as { error: unknown }).error;
    return record(a.context, { at: a.context.runningAt!, error: error instanceof Error ? error.message : String(error) });
  });
  phases.forEach((phase, i) => {
    const last = i === phases.length - 1;
    states[phase] = {
      invoke: {
        src: phase,
        input: ({ context }: { context: JobContext }) => ({ at: context.runningAt!, previous: context.carry }),
        onDone: last ? { target: 'waiting', actions: finish } : { target: phases[i + 1], actions: handOn },
        onError: { target: 'waiting', actions: fail },
      },
    };
  });
  return setup({
    types: { context: {} as JobContext, events: {} as JobEvent, input: {} as JobInput },
    actors,
  }).createMachine({
    id: kind,
    context: ({ input }) => ({ ...input, runs: 0, failures: 0, runningAt: null, carry: undefined, history: [] }),
    initial: 'waiting',
    states: states as never,
  }) as unknown as AnyStateMachine;
}
