/**
 * When the scheduled jobs run (SPEC §5): each job is due at its persisted last run + its interval (a
 * persisted time later than now counts as now), or at start + interval if it never ran; `renew` also runs
 * once at start, and a job that fell due while the node was down runs once at start (a restart is a jump
 * of the clock). Jobs due at the same instant run in the order renew, gc, republish.
 *
 * Under the manual clock, `advance` steps through every due time in order (a job due n times runs n
 * times, each at its due time) and `setTime` is a jump: an overdue job runs once, at the new time, and is
 * next due at now + interval. Under the system clock a timer wakes the scheduler at the next due time
 * (at least every minute, so a jump of the system clock is noticed), and it runs what is due the way a
 * jump does. Runs never overlap; each run's time is persisted, so a restart neither re-runs nor skips one.
 */
import { createActor, waitFor, type Actor } from 'xstate';
import { SignpostError } from '../../protocols/errors.js';
import { JOB_ORDER, type JobContext, type JobInput, type JobKind } from '../../actors/job.js';
import { gcMachine, gcMachineWith, type GcWork } from '../../actors/gc.js';
import { renewMachine, renewMachineWith, type RenewWork } from '../../actors/renew.js';
import { republishMachine, republishMachineWith, type RepublishWork } from '../../actors/republish.js';
import { syncJobMachine, syncJobMachineWith, type SyncJobWork } from '../../actors/sync-job.js';
import type { Random } from '../../protocols/random.js';
import { InspectionTracker, machineJson, type ActorDetail, type ActorEvent, type ActorSource, type ActorSummary } from '../inspect/actor-view.js';
import type { Clock, ManualClock } from '../base/clock.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../base/log.js';

/** A job to schedule: its kind, seconds between runs, and the work of its phases. */
export type JobSpec =
  | { kind: 'renew'; interval: number; work: RenewWork }
  | { kind: 'gc'; interval: number; work: GcWork }
  | { kind: 'republish'; interval: number; work: RepublishWork }
  | { kind: 'sync'; interval: number; jitter: number; work: SyncJobWork };

type JobActor = Actor<typeof renewMachine> | Actor<typeof gcMachine> | Actor<typeof republishMachine> | Actor<typeof syncJobMachine>;

export interface JobRunObserver {
  (kind: JobKind, durationMs: number, ok: boolean): void;
}

export interface SchedulerOptions {
  clock: Clock;
  store: Store;
  /** Draws the jitter of jobs that have one. */
  random: Random;
  jobs: JobSpec[];
  log: Logger;
  onRun?: JobRunObserver;
  onInspect(e: ActorEvent): void;
}

interface Job {
  kind: JobKind;
  interval: number;
  /** Fraction of the interval a due time may move either way (system clock only). */
  jitter: number;
  due: number;
  machine: unknown;
  actor: JobActor;
  startedAt: number;
}

const MACHINES = { renew: machineJson(renewMachine), gc: machineJson(gcMachine), republish: machineJson(republishMachine), sync: machineJson(syncJobMachine) };

export const JOB_ACTOR_PREFIX = 'job:';
const lastRunMeta = (kind: JobKind) => `job_last_run:${kind}`;
/** A bound on the job runs one `advance` steps through, so one call cannot keep the node busy for hours. */
const MAX_STEPPED_RUNS = 100_000;
/** Longest sleep under the system clock, so a jump of the system clock is noticed within it. */
const MAX_SLEEP_MS = 60_000;

export class Scheduler implements ActorSource {
  readonly prefix = JOB_ACTOR_PREFIX;
  private readonly jobs: Job[];
  private readonly inspection: InspectionTracker;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: unknown = null;
  private stopped = false;

  constructor(private readonly opts: SchedulerOptions) {
    const now = opts.clock.now();
    this.inspection = new InspectionTracker(() => opts.clock.now(), opts.onInspect);
    this.jobs = [...opts.jobs]
      .sort((a, b) => JOB_ORDER.indexOf(a.kind) - JOB_ORDER.indexOf(b.kind))
      .map((spec) => {
        const last = opts.store.getMeta<number>(lastRunMeta(spec.kind));
        const jitter = spec.kind === 'sync' ? spec.jitter : 0;
        const due = this.after(last === undefined ? now : Math.min(last, now), spec.interval, jitter);
        const id = JOB_ACTOR_PREFIX + spec.kind;
        const options = { id, input: { interval: spec.interval, nextDueAt: due, lastRunAt: last ?? null } satisfies JobInput, inspect: this.inspection.inspector(id, spec.kind) };
        const actor: JobActor =
          spec.kind === 'renew'
            ? createActor(renewMachineWith(spec.work), options)
            : spec.kind === 'gc'
              ? createActor(gcMachineWith(spec.work), options)
              : spec.kind === 'republish'
                ? createActor(republishMachineWith(spec.work), options)
                : createActor(syncJobMachineWith(spec.work), options);
        actor.start();
        return { kind: spec.kind, interval: spec.interval, jitter, due, machine: MACHINES[spec.kind], actor, startedAt: now };
      });
  }

  /**
   * Runs `renew` once (SPEC §5: host records that expired while the node was down come first), then every
   * job that fell due while the node was down, once (a restart is a jump of the clock), then arms the timer.
   */
  async start(): Promise<void> {
    const now = this.opts.clock.now();
    const renew = this.jobs.find((j) => j.kind === 'renew');
    await this.serially(async () => {
      if (renew) await this.run(renew, now);
      await this.runDue(now);
    });
    if (this.opts.clock.kind === 'system') this.arm();
  }

  /** Manual clock: steps to `now + seconds` through every due time in order; resolves when all runs are done. */
  advance(seconds: unknown): Promise<number> {
    return this.serially(async () => {
      const clock = this.manual();
      const target = clock.after(seconds);
      const runs = this.jobs.reduce((n, j) => n + (j.due <= target ? Math.floor((target - j.due) / j.interval) + 1 : 0), 0);
      if (runs > MAX_STEPPED_RUNS) {
        throw new SignpostError('invalid_params', `debug.advance_time: ${seconds} s would run ${runs} jobs one by one; at most ${MAX_STEPPED_RUNS} per call (debug.set_time jumps instead)`);
      }
      for (;;) {
        const next = this.nextDue();
        if (!next || next.due > target) break;
        clock.set(next.due);
        await this.run(next, next.due);
      }
      return clock.set(target);
    });
  }

  /** Manual clock: jumps to `now`; each overdue job runs once, at `now`. */
  setTime(now: number): Promise<number> {
    return this.serially(async () => {
      this.manual().set(now);
      await this.runDue(now);
      return now;
    });
  }

  /** Runs job `kind` now, outside its schedule (it is next due an interval from now); no-op for a job not scheduled. */
  trigger(kind: JobKind): Promise<void> {
    return this.serially(async () => {
      const job = this.jobs.find((j) => j.kind === kind);
      if (job && !this.stopped) await this.run(job, this.opts.clock.now());
    });
  }

  /** The due time one interval after `at`: jittered under the system clock, exact under the manual one. */
  private after(at: number, interval: number, jitter: number): number {
    if (jitter === 0 || this.opts.clock.kind !== 'system') return at + interval;
    const u = this.opts.random.bytes(4).reduce((n, b) => n * 256 + b, 0) / 2 ** 32;
    return at + Math.max(1, Math.round(interval * (1 + jitter * (2 * u - 1))));
  }

  private manual(): ManualClock {
    if (this.opts.clock.kind !== 'manual') throw new SignpostError('invalid_params', 'the node clock is the system clock');
    return this.opts.clock as ManualClock;
  }

  private nextDue(): Job | undefined {
    // Ties keep JOB_ORDER (the array order): reduce keeps the first of equal due times.
    return this.jobs.reduce<Job | undefined>((best, j) => (!best || j.due < best.due ? j : best), undefined);
  }

  private async runDue(now: number): Promise<void> {
    for (const job of this.jobs) if (job.due <= now) await this.run(job, now);
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** One run of a job at `at`; it is next due at `at + interval`. */
  private async run(job: Job, at: number): Promise<void> {
    const actor = job.actor;
    const before = actor.getSnapshot().context.runs;
    job.due = this.after(at, job.interval, job.jitter);
    const wall = this.opts.clock.wall;
    const started = wall.now();
    const finished = waitFor(actor, (s) => s.context.runs > before && s.value === 'waiting', { timeout: Infinity });
    actor.send({ type: 'run', at, nextDueAt: job.due });
    const ctx: JobContext = (await finished).context;
    const ms = wall.now() - started;
    const latest = ctx.history[0];
    if (latest?.error !== undefined) this.opts.log.error('job failed', { job: job.kind, at, error: latest.error });
    else this.opts.log.debug('job ran', { job: job.kind, at, ms: Math.round(ms), result: latest?.result });
    this.opts.onRun?.(job.kind, ms, latest?.error === undefined);
    await this.opts.store.putMeta(lastRunMeta(job.kind), at);
  }

  /** System clock: sleeps until the next due time (at most MAX_SLEEP_MS), then runs what is due. */
  private arm(): void {
    if (this.stopped) return;
    const next = this.nextDue();
    const waitMs = next ? Math.min(MAX_SLEEP_MS, Math.max(0, (next.due - this.opts.clock.now()) * 1000)) : MAX_SLEEP_MS;
    this.timer = this.opts.clock.wall.setTimeout(() => {
      this.serially(() => this.runDue(this.opts.clock.now())).finally(() => this.arm());
    }, waitMs);
  }

  setInspecting(on: boolean): void {
    this.inspection.set(on, () => this.jobs.map((j) => [j.actor.id, j.actor.getSnapshot().value]));
  }

  actors(): ActorSummary[] {
    return this.jobs.map((j) => ({ id: j.actor.id, kind: j.kind, state: j.actor.getSnapshot().value, started_at: j.startedAt }));
  }

  actor(id: string): ActorDetail | null {
    const job = this.jobs.find((j) => j.actor.id === id);
    if (!job) return null;
    const s = job.actor.getSnapshot();
    // The stale keys a republish run is pushing are shown as a count, not as their contents.
    const context = 'stale' in s.context ? { ...s.context, stale: s.context.stale.length } : s.context;
    return { id, kind: job.kind, state: s.value, context, machine: job.machine };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.clock.wall.clearTimeout(this.timer);
    await this.chain;
    for (const j of this.jobs) j.actor.stop();
  }
}
