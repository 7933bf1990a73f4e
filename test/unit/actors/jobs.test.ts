/**
 * The scheduled job machines (actors/gc.ts, renew.ts, republish.ts, with actors/job.ts) with fake work:
 * each waits for `run`, goes through its phases with the run's instant, records the run (result or
 * error) in the context an operator reads through `actors.get job:<name>`, and waits again. Republish
 * pushes the stale keys PUSH_BATCH at a time and adds up the pushes.
 */
import { describe, expect, it } from 'vitest';
import { createActor, waitFor, type AnyActorRef } from 'xstate';
import { gcMachineWith } from '../../../actors/gc.js';
import { renewMachineWith, type PushTally, type RenewResult } from '../../../actors/renew.js';
import { PUSH_BATCH, republishMachineWith } from '../../../actors/republish.js';
import type { JobContext, JobInput } from '../../../actors/job.js';
import type { ClearCounts, KeyItem } from '../../../protocols/registry.js';
import { key, peer } from '../../helpers/objects.js';

const INPUT: JobInput = { interval: 3600, nextDueAt: 3600, lastRunAt: null };
const COUNTS: ClearCounts = { count_keys: 1, count_records: 2, count_tombstones: 3 };

/** The part of a job's snapshot every job machine shares. */
type JobSnapshot = { value: unknown; context: JobContext };

/** Sends `run` at `at` (next due an interval later) and resolves with the snapshot once the run is recorded. */
async function run<A extends AnyActorRef>(actor: A, at: number) {
  const before = (actor.getSnapshot() as JobSnapshot).context.runs;
  actor.send({ type: 'run', at, nextDueAt: at + INPUT.interval });
  return waitFor(actor, (s) => (s as JobSnapshot).context.runs > before && (s as JobSnapshot).value === 'waiting', { timeout: 1000 });
}

/** `n` stale keys as evict_stale returns them. */
const staleKeys = (n: number): KeyItem[] => Array.from({ length: n }, (_, i) => ({ key: key(peer(1), `svc-${i}`, 1000), records: [], tombstones: [] }));

/** A promise the test settles, to look at a job between its phases. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('scheduled jobs', () => {
  describe('gc', () => {
    it('waits for run, collects at the run’s instant, records the run and waits again', async () => {
      const seen: number[] = [];
      const gc = createActor(gcMachineWith({ collect: async ({ at }) => (seen.push(at), COUNTS) }), { input: INPUT }).start();
      expect(gc.getSnapshot().value).toBe('waiting');
      expect(gc.getSnapshot().context).toMatchObject({ runs: 0, failures: 0, lastRunAt: null, nextDueAt: 3600, history: [] });

      const s = await run(gc, 3600);
      expect(seen).toEqual([3600]);
      expect(s.context).toMatchObject({ runs: 1, failures: 0, lastRunAt: 3600, nextDueAt: 7200, runningAt: null, interval: 3600 });
      expect(s.context.history).toEqual([{ at: 3600, result: COUNTS }]);
    });

    it('is in collecting while the work runs, and ignores a second run meanwhile', async () => {
      const work = deferred<ClearCounts>();
      let calls = 0;
      const gc = createActor(gcMachineWith({ collect: () => (calls++, work.promise) }), { input: INPUT }).start();
      gc.send({ type: 'run', at: 3600, nextDueAt: 7200 });
      expect(gc.getSnapshot().value).toBe('collecting');
      expect(gc.getSnapshot().context.runningAt).toBe(3600);
      gc.send({ type: 'run', at: 3700, nextDueAt: 7300 });
      work.resolve(COUNTS);
      const s = await waitFor(gc, (x) => x.value === 'waiting');
      expect(calls).toBe(1);
      expect(s.context).toMatchObject({ runs: 1, lastRunAt: 3600, nextDueAt: 7200 });
    });

    it('a failed collect records the error, counts a failure, and the next run works', async () => {
      let fail = true;
      const gc = createActor(
        gcMachineWith({
          collect: async () => {
            if (fail) throw new Error('store closed');
            return COUNTS;
          },
        }),
        { input: { interval: 3600, nextDueAt: 7200, lastRunAt: 3600 } },
      ).start();
      let s = await run(gc, 7200);
      expect(s.value).toBe('waiting');
      expect(s.context).toMatchObject({ runs: 1, failures: 1, lastRunAt: 7200, nextDueAt: 10_800 });
      expect(s.context.history).toEqual([{ at: 7200, error: 'store closed' }]);
      fail = false;
      s = await run(gc, 10_800);
      expect(s.context).toMatchObject({ runs: 2, failures: 1, lastRunAt: 10_800 });
      expect(s.context.history).toEqual([
        { at: 10_800, result: COUNTS },
        { at: 7200, error: 'store closed' },
      ]);
    });

    it('a non-Error rejection is recorded as its string', async () => {
      const gc = createActor(gcMachineWith({ collect: () => Promise.reject('disk full') }), { input: INPUT }).start();
      const s = await run(gc, 3600);
      expect(s.context.history[0]).toEqual({ at: 3600, error: 'disk full' });
    });

    it('keeps the 20 latest runs, newest first', async () => {
      const gc = createActor(gcMachineWith({ collect: async () => COUNTS }), { input: INPUT }).start();
      for (let n = 1; n <= 25; n++) await run(gc, 3600 * n);
      const { history, runs } = gc.getSnapshot().context;
      expect(runs).toBe(25);
      expect(history.map((r) => r.at)).toEqual(Array.from({ length: 20 }, (_, i) => 3600 * (25 - i)));
    });
  });

  describe('renew', () => {
    const RENEWED: RenewResult = { keys: 3, renewed: 2, key_ids: ['k1', 'k2'] };

    it('renews, then publishes what it renewed, and records keys, renewed, pushed and failed', async () => {
      const phases: string[] = [];
      let published: unknown = null;
      const renew = createActor(
        renewMachineWith({
          renew: async ({ at }) => (phases.push(`renew@${at}`), RENEWED),
          publish: async (input) => {
            phases.push(`publish@${input.at}`);
            published = input.renewed;
            return { pushed: 5, failed: 1 };
          },
        }),
        { input: { interval: 43_200, nextDueAt: 43_200, lastRunAt: null } },
      ).start();
      const s = await run(renew, 1000);
      expect(phases).toEqual(['renew@1000', 'publish@1000']);
      expect(published).toEqual(RENEWED);
      expect(s.context.history).toEqual([{ at: 1000, result: { keys: 3, renewed: 2, pushed: 5, failed: 1 } }]);
      expect(s.context).toMatchObject({ runs: 1, failures: 0, lastRunAt: 1000, renewed: null });
    });

    it('goes through renewing, then publishing', async () => {
      const renewing = deferred<RenewResult>();
      const publishing = deferred<PushTally>();
      const renew = createActor(renewMachineWith({ renew: () => renewing.promise, publish: () => publishing.promise }), { input: INPUT }).start();
      renew.send({ type: 'run', at: 3600, nextDueAt: 7200 });
      expect(renew.getSnapshot().value).toBe('renewing');
      renewing.resolve(RENEWED);
      await waitFor(renew, (s) => s.value === 'publishing');
      expect(renew.getSnapshot().context.renewed).toEqual(RENEWED);
      publishing.resolve({ pushed: 0, failed: 0 });
      await waitFor(renew, (s) => s.value === 'waiting');
    });

    it('a failed renewing phase records the error and publishes nothing', async () => {
      let publishes = 0;
      const renew = createActor(
        renewMachineWith({
          renew: () => Promise.reject(new Error('signing failed')),
          publish: async () => (publishes++, { pushed: 0, failed: 0 }),
        }),
        { input: INPUT },
      ).start();
      const s = await run(renew, 3600);
      expect(publishes).toBe(0);
      expect(s.context).toMatchObject({ runs: 1, failures: 1, lastRunAt: 3600 });
      expect(s.context.history).toEqual([{ at: 3600, error: 'signing failed' }]);
    });

    it('a failed publishing phase records the error and forgets what it renewed', async () => {
      const renew = createActor(renewMachineWith({ renew: async () => RENEWED, publish: () => Promise.reject(new Error('no route')) }), { input: INPUT }).start();
      const s = await run(renew, 3600);
      expect(s.context).toMatchObject({ runs: 1, failures: 1, renewed: null });
      expect(s.context.history).toEqual([{ at: 3600, error: 'no route' }]);
    });
  });

  describe('republish', () => {
    /** Fake work: evict returns `stale`; push logs each batch and answers with `answer(batch)`. */
    function republisher(stale: KeyItem[], answer: (items: KeyItem[], call: number) => Promise<PushTally> = async (items) => ({ pushed: items.length * 3, failed: 0 })) {
      const batches: KeyItem[][] = [];
      const evictedAt: number[] = [];
      const pushedAt: number[] = [];
      const actor = createActor(
        republishMachineWith({
          evict: async ({ at }) => (evictedAt.push(at), stale),
          push: ({ at, items }) => {
            pushedAt.push(at);
            batches.push(items);
            return answer(items, batches.length);
          },
        }),
        { input: INPUT },
      ).start();
      return { actor, batches, evictedAt, pushedAt };
    }

    it('pushes the stale keys PUSH_BATCH at a time, each once, in order, and tallies the pushes', async () => {
      const stale = staleKeys(2 * PUSH_BATCH + 3);
      const r = republisher(stale, async (items) => ({ pushed: items.length * 3, failed: 1 }));
      const s = await run(r.actor, 3600);
      expect(r.evictedAt).toEqual([3600]);
      expect(r.batches.map((b) => b.length)).toEqual([PUSH_BATCH, PUSH_BATCH, 3]);
      expect(r.batches.flat()).toEqual(stale);
      expect(r.pushedAt).toEqual([3600, 3600, 3600]);
      expect(s.context.history).toEqual([{ at: 3600, result: { stale_keys: 2 * PUSH_BATCH + 3, pushed: 3 * (2 * PUSH_BATCH + 3), failed: 3 } }]);
      expect(s.context).toMatchObject({ runs: 1, failures: 0, lastRunAt: 3600, nextDueAt: 7200, stale: [], done: 0, pushed: 0, failed: 0 });
    });

    it('a whole number of batches is pushed without an empty extra batch', async () => {
      for (const [n, sizes] of [
        [1, [1]],
        [PUSH_BATCH, [PUSH_BATCH]],
        [2 * PUSH_BATCH, [PUSH_BATCH, PUSH_BATCH]],
      ] as const) {
        const r = republisher(staleKeys(n));
        const s = await run(r.actor, 3600);
        expect(r.batches.map((b) => b.length)).toEqual(sizes);
        expect(s.context.history[0]).toEqual({ at: 3600, result: { stale_keys: n, pushed: 3 * n, failed: 0 } });
      }
    });

    it('no stale keys: the run ends without pushing and records zeros', async () => {
      const r = republisher([]);
      const s = await run(r.actor, 3600);
      expect(r.batches).toEqual([]);
      expect(s.context.history).toEqual([{ at: 3600, result: { stale_keys: 0, pushed: 0, failed: 0 } }]);
    });

    it('goes through evicting, then pushing', async () => {
      const pushing = deferred<PushTally>();
      const r = republisher(staleKeys(2), () => pushing.promise);
      r.actor.send({ type: 'run', at: 3600, nextDueAt: 7200 });
      expect(r.actor.getSnapshot().value).toBe('evicting');
      await waitFor(r.actor, (s) => s.value === 'pushing');
      expect(r.actor.getSnapshot().context.stale).toHaveLength(2);
      pushing.resolve({ pushed: 2, failed: 0 });
      await waitFor(r.actor, (s) => s.value === 'waiting');
    });

    it('a failed evict records the error and pushes nothing', async () => {
      const actor = createActor(
        republishMachineWith({ evict: () => Promise.reject(new Error('index corrupt')), push: async () => ({ pushed: 0, failed: 0 }) }),
        { input: INPUT },
      ).start();
      const s = await run(actor, 3600);
      expect(s.context).toMatchObject({ runs: 1, failures: 1, lastRunAt: 3600 });
      expect(s.context.history).toEqual([{ at: 3600, error: 'index corrupt' }]);
    });

    it('a failed push ends the run with its error; the next run starts from fresh stale keys and tallies', async () => {
      let failing = true;
      const r = republisher(staleKeys(3 * PUSH_BATCH), async (items, call) => {
        if (failing && call === 2) throw new Error('push crashed');
        return { pushed: items.length, failed: 0 };
      });
      let s = await run(r.actor, 3600);
      expect(r.batches).toHaveLength(2);
      expect(s.value).toBe('waiting');
      expect(s.context).toMatchObject({ runs: 1, failures: 1, stale: [], done: 0, pushed: 0, failed: 0 });
      expect(s.context.history).toEqual([{ at: 3600, error: 'push crashed' }]);

      failing = false;
      s = await run(r.actor, 7200);
      expect(r.batches.slice(2).map((b) => b.length)).toEqual([PUSH_BATCH, PUSH_BATCH, PUSH_BATCH]);
      expect(s.context.history[0]).toEqual({ at: 7200, result: { stale_keys: 3 * PUSH_BATCH, pushed: 3 * PUSH_BATCH, failed: 0 } });
      expect(s.context).toMatchObject({ runs: 2, failures: 1, lastRunAt: 7200 });
    });
  });
});
