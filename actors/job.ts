/**
 * What the scheduled jobs (SPEC §5; actors/renew.ts, gc.ts, republish.ts, sync-job.ts) share: the `run` event, the
 * bookkeeping of runs in the context (what an operator reads in `actors.get job:gc` and the visualiser),
 * and the order of jobs due at the same instant.
 *
 * When a job is due is the runtime scheduler's business (SPEC §5's exact schedule, stepped through by the
 * manual clock), so the job machines have no timers of their own: each waits for `run`, goes through its
 * named phases, records the run, and waits again. A failed phase ends the run (recorded as failed).
 */

export type JobKind = 'renew' | 'gc' | 'republish' | 'sync';

/** SPEC §5: jobs due at the same instant run in this order. */
export const JOB_ORDER: readonly JobKind[] = ['renew', 'gc', 'republish', 'sync'];

export interface JobInput {
  interval: number;
  nextDueAt: number;
  lastRunAt: number | null;
}

export interface JobRun {
  at: number;
  /** The run's result, or its failure. */
  result?: unknown;
  error?: string;
}

export interface JobContext extends JobInput {
  runs: number;
  failures: number;
  /** The instant of the run in progress. */
  runningAt: number | null;
  /** The latest runs, newest first. */
  history: JobRun[];
}

/** Every job's one event: run now, at node-clock `at`; the next run is due at `nextDueAt`. */
export type JobEvent = { type: 'run'; at: number; nextDueAt: number };

/** What a phase is given: the instant of its run. */
export interface PhaseInput {
  at: number;
}

const HISTORY = 20;

export function initialJobContext(input: JobInput): JobContext {
  return { ...input, runs: 0, failures: 0, runningAt: null, history: [] };
}

/** `run` received: the run starts. */
export function startRun(event: JobEvent): Pick<JobContext, 'runningAt' | 'nextDueAt'> {
  return { runningAt: event.at, nextDueAt: event.nextDueAt };
}

/** The run is over, with `result` or the failure `error`. */
export function endRun(context: JobContext, outcome: { result: unknown } | { error: unknown }): Partial<JobContext> {
  const at = context.runningAt!;
  const run: JobRun = 'error' in outcome ? { at, error: outcome.error instanceof Error ? outcome.error.message : String(outcome.error) } : { at, result: outcome.result };
  return {
    runs: context.runs + 1,
    failures: context.failures + ('error' in outcome ? 1 : 0),
    lastRunAt: at,
    runningAt: null,
    history: [run, ...context.history].slice(0, HISTORY),
  };
}

/** The placeholder of a phase the runtime has not provided. */
export const notProvided = (job: string, phase: string) => () => Promise.reject(new Error(`${job} job: no ${phase} effect provided`));
