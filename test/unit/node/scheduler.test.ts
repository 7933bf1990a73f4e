import { describe, expect, it } from 'vitest';
import { ManualClock, SystemClock, type Clock } from '../../../runtime/base/clock.js';
import { seededRandom } from '../../../protocols/random.js';
import { Scheduler, type JobSpec } from '../../../runtime/node/scheduler.js';
import { logger } from '../../../runtime/base/log.js';
import { MemoryStore } from '../../../runtime/store/memory-store.js';
import type { ActorEvent } from '../../../runtime/inspect/actor-view.js';
import { key, peer } from '../../helpers/objects.js';

/** The scheduler reads and writes only job meta (the in-memory store). */
async function metaStore(initial: { [name: string]: number } = {}): Promise<MemoryStore> {
  const store = new MemoryStore();
  for (const [name, value] of Object.entries(initial)) await store.putMeta(name, value);
  return store;
}

/** One stale key for republish to push, so a run goes through every phase. */
const STALE = [{ key: key(peer(1), 'stale', 0), records: [], tombstones: [] }];

type Run = { job: string; at: number; now: number };

const EMPTY_ROUND = { range: '0-1023', neighbours: 0, equal: 0, done: 0, failed: 0, busy: 0, pushed: 0, received: 0, sessions: [] };

async function setup(opts: { start?: number; meta?: { [name: string]: number }; intervals?: { renew?: number; gc?: number; republish?: number; sync?: number }; failGc?: boolean; clock?: Clock; seed?: number } = {}) {
  const clock = new ManualClock(opts.start ?? 0);
  const runs: Run[] = [];
  const events: ActorEvent[] = [];
  const iv = { renew: 43200, gc: 3600, republish: 3600, ...opts.intervals };
  const note = (job: string, at: number) => {
    runs.push({ job, at, now: clock.now() });
    if (job === 'gc' && opts.failGc) throw new Error('disk on fire');
  };
  const tally = async () => ({ pushed: 0, failed: 0 });
  const jobs: JobSpec[] = [
    ...(iv.sync === undefined ? [] : [{ kind: 'sync' as const, interval: iv.sync, jitter: 0.1, work: { round: async ({ at }: { at: number }) => (note('sync', at), EMPTY_ROUND) } }]),
    { kind: 'republish', interval: iv.republish, work: { evict: async ({ at }) => (note('republish', at), STALE), push: tally } },
    { kind: 'gc', interval: iv.gc, work: { collect: async ({ at }) => (note('gc', at), { count_keys: 0, count_records: 0, count_tombstones: 0 }) } },
    { kind: 'renew', interval: iv.renew, work: { renew: async ({ at }) => (note('renew', at), { keys: 0, renewed: 0, key_ids: [] }), publish: tally } },
  ];
  const store = await metaStore(opts.meta);
  const scheduler = new Scheduler({ clock: opts.clock ?? clock, store, random: seededRandom(opts.seed ?? 5), jobs, log: logger('error', () => undefined), onInspect: (e) => events.push(e) });
  return { clock, runs, events, store, scheduler };
}

describe('scheduler (SPEC §5 schedule)', () => {
  it('runs renew once at start, then nothing until a job is due', async () => {
    const { scheduler, runs } = await setup({ start: 1000 });
    await scheduler.start();
    expect(runs).toEqual([{ job: 'renew', at: 1000, now: 1000 }]);
    await scheduler.advance(3599);
    expect(runs).toHaveLength(1);
    await scheduler.stop();
  });

  it('advance steps through every due time in order, each run at its due time', async () => {
    const { scheduler, runs, clock } = await setup();
    await scheduler.start();
    runs.length = 0;
    expect(await scheduler.advance(3 * 3600 + 10)).toBe(3 * 3600 + 10);
    expect(runs).toEqual([
      { job: 'gc', at: 3600, now: 3600 },
      { job: 'republish', at: 3600, now: 3600 },
      { job: 'gc', at: 7200, now: 7200 },
      { job: 'republish', at: 7200, now: 7200 },
      { job: 'gc', at: 10800, now: 10800 },
      { job: 'republish', at: 10800, now: 10800 },
    ]);
    expect(clock.now()).toBe(3 * 3600 + 10);
    await scheduler.stop();
  });

  it('runs jobs due at the same instant in the order renew, gc, republish', async () => {
    const { scheduler, runs } = await setup({ intervals: { renew: 3600 } });
    await scheduler.start();
    runs.length = 0;
    await scheduler.advance(3600);
    expect(runs.map((r) => r.job)).toEqual(['renew', 'gc', 'republish']);
    await scheduler.stop();
  });

  it('runs sync after republish when both are due at the same instant', async () => {
    const { scheduler, runs } = await setup({ intervals: { renew: 3600, sync: 3600 } });
    await scheduler.start();
    runs.length = 0;
    await scheduler.advance(3600);
    expect(runs.map((r) => r.job)).toEqual(['renew', 'gc', 'republish', 'sync']);
    await scheduler.stop();
  });

  it('trigger runs a job now, outside its schedule, and it is next due an interval later', async () => {
    const { scheduler, runs } = await setup({ start: 100, intervals: { sync: 60 } });
    await scheduler.start();
    await scheduler.advance(30);
    runs.length = 0;
    await scheduler.trigger('sync');
    expect(runs).toEqual([{ job: 'sync', at: 130, now: 130 }]);
    await scheduler.advance(59);
    expect(runs).toHaveLength(1);
    await scheduler.advance(1);
    expect(runs.map((r) => [r.job, r.at])).toEqual([['sync', 130], ['sync', 190]]);
    await scheduler.stop();
  });

  it('a jump runs each overdue job once at the new time and makes it due at now + interval', async () => {
    const { scheduler, runs } = await setup();
    await scheduler.start();
    runs.length = 0;
    await scheduler.setTime(10 * 3600 + 5);
    expect(runs).toEqual([
      { job: 'gc', at: 36005, now: 36005 },
      { job: 'republish', at: 36005, now: 36005 },
    ]);
    runs.length = 0;
    await scheduler.advance(3599);
    expect(runs).toEqual([]);
    await scheduler.advance(1);
    expect(runs.map((r) => [r.job, r.at])).toEqual([['gc', 39605], ['republish', 39605]]);
    expect(scheduler.actor('job:gc')!.context).toMatchObject({ lastRunAt: 39605, nextDueAt: 43205 });
    await scheduler.stop();
  });

  it('a job is due at its persisted last run + interval, and a persisted time later than now counts as now', async () => {
    const { scheduler, runs, store } = await setup({ start: 5000, meta: { 'job_last_run:gc': 4000, 'job_last_run:republish': 9999 } });
    await scheduler.start();
    runs.length = 0;
    await scheduler.advance(2600); // now 7600: gc due at 4000 + 3600
    expect(runs).toEqual([{ job: 'gc', at: 7600, now: 7600 }]);
    runs.length = 0;
    await scheduler.advance(1000); // republish: 9999 > start, so due at 5000 + 3600
    expect(runs).toEqual([{ job: 'republish', at: 8600, now: 8600 }]);
    expect(store.getMeta('job_last_run:gc')).toBe(7600);
    expect(store.getMeta('job_last_run:republish')).toBe(8600);
    await scheduler.stop();
  });

  it('records a failed run in the job context and keeps the schedule', async () => {
    const { scheduler } = await setup({ failGc: true });
    await scheduler.start();
    await scheduler.advance(7200);
    const gc = scheduler.actor('job:gc')!;
    expect(gc.state).toBe('waiting');
    expect(gc.context).toMatchObject({ runs: 2, failures: 2, lastRunAt: 7200, nextDueAt: 10800 });
    expect((gc.context as { history: unknown[] }).history[0]).toEqual({ at: 7200, error: 'disk on fire' });
    await scheduler.stop();
  });

  it('refuses to step backwards and leaves the clock where it was', async () => {
    const { scheduler, clock } = await setup({ start: 100 });
    await scheduler.start();
    await expect(scheduler.setTime(50)).rejects.toMatchObject({ code: 'invalid_params' });
    await expect(scheduler.advance(-1)).rejects.toMatchObject({ code: 'invalid_params' });
    expect(clock.now()).toBe(100);
    await scheduler.stop();
  });

  it('emits inspection events with the states of each phase only while inspecting', async () => {
    const { scheduler, events } = await setup();
    await scheduler.start();
    await scheduler.advance(3600);
    expect(events).toEqual([]);
    scheduler.setInspecting(true);
    await scheduler.advance(3600);
    const republish = events.filter((e) => e.id === 'job:republish').map((e) => [e.event.type, e.state_before, e.state_after]);
    expect(republish).toEqual([
      ['run', 'waiting', 'evicting'],
      [expect.stringContaining('xstate.done.actor'), 'evicting', 'pushing'],
      [expect.stringContaining('xstate.done.actor'), 'pushing', 'waiting'],
    ]);
    expect(events.every((e) => e.at === 7200)).toBe(true);
    await scheduler.stop();
  });
});

describe('scheduler jitter (sync)', () => {
  const dueOf = (scheduler: Scheduler) => (scheduler.actor('job:sync')!.context as { nextDueAt: number }).nextDueAt;

  it('under the system clock a sync is due within ±10 % of its interval, not always at the same offset', async () => {
    const clock = new SystemClock();
    const offsets = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const { scheduler } = await setup({ clock, intervals: { sync: 600 }, seed: i });
      const offset = dueOf(scheduler) - clock.now();
      expect(offset).toBeGreaterThanOrEqual(540 - 1);
      expect(offset).toBeLessThanOrEqual(660);
      offsets.add(offset);
      await scheduler.stop();
    }
    expect(offsets.size).toBeGreaterThan(1);
  });

  it('under the manual clock it is exact', async () => {
    const { scheduler } = await setup({ start: 1000, intervals: { sync: 600 } });
    expect(dueOf(scheduler)).toBe(1600);
    await scheduler.stop();
  });
});

describe('scheduler bounds', () => {
  it('refuses an advance that would step through more than 100 000 job runs, before running any', async () => {
    const { scheduler, runs, clock } = await setup();
    await scheduler.start();
    runs.length = 0;
    await expect(scheduler.advance(3600 * 60_000)).rejects.toMatchObject({ code: 'invalid_params', message: expect.stringContaining('set_time') });
    expect(runs).toEqual([]);
    expect(clock.now()).toBe(0);
    await scheduler.setTime(3600 * 60_000);
    expect(runs.map((r) => r.job)).toEqual(['renew', 'gc', 'republish']);
    await scheduler.stop();
  });
});

describe('scheduler after a restart', () => {
  it('runs each job that fell due while the node was down once at start, then keeps stepping', async () => {
    const { scheduler, runs } = await setup({ start: 100_000, meta: { 'job_last_run:gc': 10_000, 'job_last_run:republish': 99_000 } });
    await scheduler.start();
    expect(runs).toEqual([
      { job: 'renew', at: 100_000, now: 100_000 },
      { job: 'gc', at: 100_000, now: 100_000 },
    ]);
    runs.length = 0;
    await scheduler.advance(3600);
    expect(runs).toEqual([
      { job: 'republish', at: 102_600, now: 102_600 },
      { job: 'gc', at: 103_600, now: 103_600 },
    ]);
    await scheduler.stop();
  });
});
