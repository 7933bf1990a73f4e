/**
 * Helpers for the black-box tests of the scheduled jobs (SPEC §5 "Scheduled jobs", test/e2e/jobs.test.ts):
 * reading a job actor through `actors.get` and moving the manual clock.
 */
import type { RpcClient } from '../../runtime/client/rpc-client.js';

export type JobName = 'renew' | 'gc' | 'republish' | 'sync';

/** One run as a job's context lists it (README: `{at, result}` or `{at, error}`). */
export interface JobRun {
  at: number;
  result?: unknown;
  error?: string;
}

/** What `actors.get job:<name>` says about a job. */
export interface JobView {
  state: unknown;
  interval: number;
  runs: number;
  failures: number;
  lastRunAt: number | null;
  nextDueAt: number;
  /** Newest first, at most 20. */
  history: JobRun[];
}

export async function jobView(rpc: RpcClient, name: JobName): Promise<JobView> {
  const a = await rpc.call<{ id: string; kind: string; state: unknown; context: Omit<JobView, 'state'> }>('actors.get', { id: `job:${name}` });
  return { state: a.state, ...a.context };
}

/** Moves the manual clock forward by `seconds` (stepping through every due time); returns the new now. */
export async function advance(rpc: RpcClient, seconds: number): Promise<number> {
  return (await rpc.call<{ now: number }>('debug.advance_time', { seconds })).now;
}

/** Jumps the manual clock to `now`; returns the new now. */
export async function jump(rpc: RpcClient, now: number): Promise<number> {
  return (await rpc.call<{ now: number }>('debug.set_time', { now })).now;
}

export async function nodeNow(rpc: RpcClient): Promise<number> {
  return (await rpc.call<{ now: number }>('node.info', {})).now;
}

/** `from + step·n` for n = last, last − 1, …, first: the `at` values of a history, newest first. */
export function dueTimes(from: number, step: number, first: number, last: number): number[] {
  const out: number[] = [];
  for (let n = last; n >= first; n--) out.push(from + step * n);
  return out;
}

