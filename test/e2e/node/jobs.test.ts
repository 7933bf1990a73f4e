/**
 * Black-box tests of the scheduled jobs (SPEC §4.5, §5 "Scheduled jobs" and "At-rest upkeep", §9.4, §10):
 * real node processes on the manual clock, moved through hours and days by `debug.advance_time` and
 * `debug.set_time`; what each job did is read only through the public API (`registry.*`, `actors.get
 * job:<name>`, the inspection stream).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeProcess, tempDir, useNodeProcess, type NodeProcess, type NodeProcessOptions } from '../../helpers/node-process.js';
import { key, peer, record } from '../../helpers/objects.js';
import { expectCode } from '../../helpers/registry.js';
import { advance, dueTimes, jobView, jump, nodeNow, type JobRun } from '../../helpers/jobs.js';
import { InspectClient } from '../../helpers/inspect.js';
import { generateIdentity, identityToFile, type Identity } from '../../../protocols/identity.js';
import { makeMetadata, makeRecord, verifyRecord } from '../../../protocols/signed.js';
import type { Key, Record as ProviderRecord } from '../../../protocols/types.js';
import type { RpcClient } from '../../../runtime/client/rpc-client.js';
import { systemRandom } from '../../../protocols/random.js';
import { ed25519, verify } from '../../helpers/objects.js';

const T0 = 1_700_000_000;
const HOUR = 3600;
const RENEW = 43_200;
const EXPIRED = 86_400;
const NOTHING_CLEARED = { count_keys: 0, count_records: 0, count_tombstones: 0 };

const register = async (rpc: RpcClient, k: Key) => expect(await rpc.call('registry.register_key', { key: k })).toEqual({ key_id: k.id });
const republish = async (rpc: RpcClient, k: Key) => expect(await rpc.call('registry.republish_key', { key: k })).toEqual({});
const put = async (rpc: RpcClient, r: ProviderRecord) => expect(await rpc.call('registry.put_record', { record: r })).toEqual({});
const records = (rpc: RpcClient, k: Key) => rpc.call<ProviderRecord[]>('registry.get_records', { key_id: k.id });
const ats = (history: JobRun[]) => history.map((h) => h.at);

/** A node identity the test knows (so it can sign host records), in its own file passed with --identity. */
function identityFile(): { identity: Identity; file: string } {
  const identity = generateIdentity(systemRandom, ed25519);
  const file = join(tempDir('signpost-identity-'), 'node.json');
  writeFileSync(file, JSON.stringify(identityToFile(identity)), { mode: 0o600 });
  return { identity, file };
}

/** A record hosted by `host` (this node), issued by `issuer`, created (signed by the host) at `created`. */
function hostRecord(k: Key, issuer: Identity, host: Identity, issued: number, created = issued): ProviderRecord {
  return makeRecord(host, makeMetadata(issuer, { key_id: k.id, peer_id: host.peerId, timestamp_issued: issued, value: 'hosted here' }), created);
}

describe('gc job: clear_expired every gc_interval (default intervals)', () => {
  const owner = peer(71);
  // Two workers, so "advance returns after the jobs finished" covers runs spread over two threads.
  const running = useNodeProcess({ env: { clock_start: T0, workers: 2 } });

  it('removes a record on the hour it expires and its key once nothing keeps it, one run per hour, without clear_expired', async () => {
    const rpc = running.rpc;
    const k = key(owner, 'gc-job', T0);
    await register(rpc, k);
    const r = record(k, peer(72), T0);
    await put(rpc, r);
    expect(await advance(rpc, 2 * HOUR)).toBe(T0 + 2 * HOUR);
    await republish(rpc, k); // published at T0 + 2 h: the key may go from T0 + 26 h (SPEC §4.5)

    expect(await advance(rpc, 21 * HOUR)).toBe(T0 + 23 * HOUR);
    expect(await records(rpc, k)).toEqual([r]);
    let gc = await jobView(rpc, 'gc');
    expect(gc.runs).toBe(23);
    expect(gc.history.map((h) => h.result)).toEqual(Array(20).fill(NOTHING_CLEARED));

    expect(await advance(rpc, HOUR)).toBe(T0 + 24 * HOUR);
    expect(await records(rpc, k)).toEqual([]);
    gc = await jobView(rpc, 'gc');
    expect(gc).toMatchObject({ state: 'waiting', interval: HOUR, runs: 24, failures: 0, lastRunAt: T0 + 24 * HOUR, nextDueAt: T0 + 25 * HOUR });
    // one run per hour, each at its due time (the history keeps the latest 20)
    expect(ats(gc.history)).toEqual(dueTimes(T0, HOUR, 5, 24));
    expect(gc.history[0]).toEqual({ at: T0 + 24 * HOUR, result: { count_keys: 0, count_records: 1, count_tombstones: 0 } });
    expect(gc.history.slice(1).map((h) => h.result)).toEqual(Array(19).fill(NOTHING_CLEARED));
    // the key is not old enough yet: it stays, empty
    expect(await rpc.call('registry.get_key_metadata', { key_id: k.id })).toEqual(k);

    await advance(rpc, HOUR);
    expect(await rpc.call('registry.get_key_metadata', { key_id: k.id })).toEqual(k);
    expect((await jobView(rpc, 'gc')).history[0]).toEqual({ at: T0 + 25 * HOUR, result: NOTHING_CLEARED });

    await advance(rpc, HOUR);
    await expectCode(rpc.call('registry.get_key_metadata', { key_id: k.id }), 'key_not_found');
    expect((await jobView(rpc, 'gc')).history[0]).toEqual({ at: T0 + 26 * HOUR, result: { count_keys: 1, count_records: 0, count_tombstones: 0 } });
    expect((await rpc.call<{ keys: unknown[] }>('registry.list_keys', {})).keys).toEqual([]);
  });

  it('advance_time returns only after the jobs it stepped through have finished', async () => {
    const rpc = running.rpc;
    const now = await nodeNow(rpc);
    const nextGc = (await jobView(rpc, 'gc')).nextDueAt;
    expect(nextGc).toBe(now + HOUR);
    // 40 keys over both workers, each with one record; all of them expire 100 s after now
    const created = now + 100 - EXPIRED;
    const keys = Array.from({ length: 40 }, (_, i) => key(owner, `gc-many-${i}`, created));
    for (const k of keys) {
      await register(rpc, k);
      await put(rpc, record(k, peer(73), created));
    }
    expect((await rpc.call<{ keys: unknown[] }>('registry.list_keys', { limit: 1000 })).keys).toHaveLength(40);
    await advance(rpc, HOUR);
    // the very next call sees every deletion of the gc run at nextGc
    expect((await rpc.call<{ keys: unknown[] }>('registry.list_keys', { limit: 1000 })).keys).toEqual([]);
    const gc = await jobView(rpc, 'gc');
    expect(gc.state).toBe('waiting');
    expect(gc.history[0]).toEqual({ at: nextGc, result: { count_keys: 40, count_records: 40, count_tombstones: 0 } });
  });
});

describe('renew job: host records re-signed every renew_interval (default intervals)', () => {
  const { identity: node, file } = identityFile();
  const owner = peer(81);
  const k = key(owner, 'renew-job', T0);
  const hosted = hostRecord(k, peer(82), node, T0);
  const other = record(k, peer(83), T0); // hosted elsewhere: not this node's to renew
  let hostedLater: ProviderRecord;
  let n: NodeProcess;
  let rpc: RpcClient;
  const opts: NodeProcessOptions = { args: ['--identity', file], env: { clock_start: T0 } };

  beforeAll(async () => {
    n = await startNodeProcess(opts);
    rpc = await n.client();
  });
  afterAll(async () => {
    expect(await n.stop()).toBe(0);
  });

  const byIssuer = async (issuer: Identity) => (await records(rpc, k)).find((r) => r.metadata.issued_by === issuer.peerId);

  it('renews a host record once it is renew_interval old, with timestamp_created = now and a valid signature by the node; leaves the others alone', async () => {
    expect(n.peerId).toBe(node.peerId);
    expect(await jobView(rpc, 'renew')).toMatchObject({ runs: 1, lastRunAt: T0, nextDueAt: T0 + RENEW });
    await register(rpc, k);
    await put(rpc, hosted);
    await put(rpc, other);
    await advance(rpc, 6 * HOUR);
    hostedLater = hostRecord(k, peer(84), node, T0 + 6 * HOUR); // only 6 h old at the next run
    await put(rpc, hostedLater);

    expect(await advance(rpc, 6 * HOUR)).toBe(T0 + RENEW);
    const renewed = (await byIssuer(peer(82)))!;
    expect(renewed.timestamp_created).toBe(T0 + RENEW);
    expect(renewed.metadata).toEqual(hosted.metadata);
    expect(renewed.signature).not.toBe(hosted.signature);
    expect(() => verifyRecord(renewed, verify)).not.toThrow(); // signed by metadata.peer_id = the node
    expect(await byIssuer(peer(84))).toEqual(hostedLater);
    expect(await byIssuer(peer(83))).toEqual(other);
    const renew = await jobView(rpc, 'renew');
    expect(renew).toMatchObject({ runs: 2, failures: 0, lastRunAt: T0 + RENEW, nextDueAt: T0 + 2 * RENEW });
    expect(ats(renew.history)).toEqual([T0 + RENEW, T0]);
    expect(renew.history[0].result).toMatchObject({ renewed: 1 });
  });

  it('keeps host records live on their host for days (renewed every 12 h) while other records expire', async () => {
    expect(await advance(rpc, 36 * HOUR)).toBe(T0 + 4 * RENEW);
    const rs = await records(rpc, k);
    expect(rs.map((r) => [r.metadata.issued_by, r.timestamp_created]).sort()).toEqual(
      [
        [peer(82).peerId, T0 + 4 * RENEW],
        [peer(84).peerId, T0 + 4 * RENEW], // created at 6 h: renewed at 24 h, 36 h and 48 h
      ].sort(),
    );
    for (const r of rs) expect(() => verifyRecord(r, verify)).not.toThrow();
    const renew = await jobView(rpc, 'renew');
    expect(ats(renew.history)).toEqual(dueTimes(T0, RENEW, 0, 4));
    // 12 h: the first; 24 h: both (the second is 18 h old); 36 h and 48 h: both again
    expect(renew.history.map((h) => (h.result as { renewed: number }).renewed)).toEqual([2, 2, 2, 1, 0]);
  });

  it('runs once at start: host records that expired while the node was down are renewed before it serves', async () => {
    expect(await n.stop()).toBe(0);
    const restart = T0 + 4 * RENEW + 30 * HOUR; // the host records are older than expired_timeout
    n = await startNodeProcess({ ...opts, dataDir: n.dataDir, env: { clock_start: restart } });
    rpc = await n.client();
    const rs = await records(rpc, k);
    expect(rs.map((r) => r.timestamp_created)).toEqual([restart, restart]);
    expect(rs.map((r) => r.metadata).sort((a, b) => (a.issued_by < b.issued_by ? -1 : 1))).toEqual(
      [hosted.metadata, hostedLater.metadata].sort((a, b) => (a.issued_by < b.issued_by ? -1 : 1)),
    );
    for (const r of rs) expect(() => verifyRecord(r, verify)).not.toThrow();
    const renew = await jobView(rpc, 'renew');
    expect(renew).toMatchObject({ runs: 1, lastRunAt: restart, nextDueAt: restart + RENEW });
    expect(renew.history).toEqual([{ at: restart, result: expect.objectContaining({ renewed: 2 }) }]);
  });
});

describe('republish job: evict_stale every replicate_interval (default intervals)', () => {
  const owner = peer(91);
  const running = useNodeProcess({ env: { clock_start: T0 } });

  it('counts the keys never published or published stale_timeout ago or more, pushes nothing, and does not refresh them itself', async () => {
    const rpc = running.rpc;
    const [a, b, c] = ['a', 'b', 'c'].map((l) => key(owner, `republish-${l}`, T0));
    for (const k of [a, b, c]) await register(rpc, k); // never published
    await republish(rpc, b); // published at T0
    await advance(rpc, HOUR / 2);
    await republish(rpc, c); // published at T0 + 30 min

    await advance(rpc, HOUR / 2); // run at T0 + 1 h: a (never), b (1 h ago)
    let job = await jobView(rpc, 'republish');
    expect(job).toMatchObject({ runs: 1, failures: 0, lastRunAt: T0 + HOUR, nextDueAt: T0 + 2 * HOUR });
    expect(job.history).toEqual([{ at: T0 + HOUR, result: { stale_keys: 2, pushed: 0, failed: 0 } }]);
    // the job never republishes to the node itself: a and b are still stale
    const stale = (await rpc.call<{ key: Key }[]>('registry.evict_stale', {})).map((i) => i.key.id);
    expect(stale.sort()).toEqual([a.id, b.id].sort());

    await advance(rpc, HOUR / 2);
    await republish(rpc, a);
    await republish(rpc, b); // both published at T0 + 1.5 h
    await advance(rpc, HOUR / 2); // run at T0 + 2 h: c (1.5 h ago)
    await advance(rpc, HOUR); // run at T0 + 3 h: all three
    job = await jobView(rpc, 'republish');
    expect(job).toMatchObject({ runs: 3, lastRunAt: T0 + 3 * HOUR, nextDueAt: T0 + 4 * HOUR });
    expect(job.history).toEqual([
      { at: T0 + 3 * HOUR, result: { stale_keys: 3, pushed: 0, failed: 0 } },
      { at: T0 + 2 * HOUR, result: { stale_keys: 1, pushed: 0, failed: 0 } },
      { at: T0 + HOUR, result: { stale_keys: 2, pushed: 0, failed: 0 } },
    ]);
  });
});

describe('advance_time steps through every due time; set_time jumps', () => {
  const running = useNodeProcess({ env: { clock_start: T0 } });

  it('advance_time 10 h runs gc and republish 10 times each, each at its due time; renew is not due yet', async () => {
    const rpc = running.rpc;
    expect(await advance(rpc, 10 * HOUR)).toBe(T0 + 10 * HOUR);
    for (const name of ['gc', 'republish'] as const) {
      const job = await jobView(rpc, name);
      expect(job).toMatchObject({ runs: 10, lastRunAt: T0 + 10 * HOUR, nextDueAt: T0 + 11 * HOUR });
      expect(ats(job.history)).toEqual(dueTimes(T0, HOUR, 1, 10));
    }
    expect(await jobView(rpc, 'renew')).toMatchObject({ runs: 1, lastRunAt: T0, nextDueAt: T0 + RENEW });
  });

  it('set_time that passes no due time runs nothing', async () => {
    const rpc = running.rpc;
    expect(await jump(rpc, T0 + 10 * HOUR + 1800)).toBe(T0 + 10 * HOUR + 1800);
    expect(await jobView(rpc, 'gc')).toMatchObject({ runs: 10, nextDueAt: T0 + 11 * HOUR });
  });

  it('set_time 10 h later runs each overdue job once, at the new time, and makes it next due at now + interval', async () => {
    const rpc = running.rpc;
    const now = T0 + 10 * HOUR + 1800 + 10 * HOUR;
    expect(await jump(rpc, now)).toBe(now);
    for (const name of ['gc', 'republish'] as const) {
      const job = await jobView(rpc, name);
      expect(job).toMatchObject({ runs: 11, lastRunAt: now, nextDueAt: now + HOUR });
      expect(ats(job.history)).toEqual([now, ...dueTimes(T0, HOUR, 1, 10)]);
    }
    const renew = await jobView(rpc, 'renew'); // was due at T0 + 12 h
    expect(renew).toMatchObject({ runs: 2, lastRunAt: now, nextDueAt: now + RENEW });
    expect(ats(renew.history)).toEqual([now, T0]);
    // the new schedule is the one that runs (not the old hourly grid)
    await advance(rpc, HOUR - 1);
    expect((await jobView(rpc, 'gc')).runs).toBe(11);
    await advance(rpc, 1);
    expect(ats((await jobView(rpc, 'gc')).history).slice(0, 2)).toEqual([now + HOUR, now]);
  });
});

describe('jobs due at the same instant run in the order renew, gc, republish, sync', () => {
  const { identity: node, file } = identityFile();
  const owner = peer(101);
  const running = useNodeProcess({ args: ['--identity', file], env: { clock_start: T0, renew_interval: HOUR, gc_interval: HOUR, replicate_interval: HOUR, sync_interval: HOUR } });

  it('one after the other, never overlapping, in that order (inspection stream); republish sees what gc removed', async () => {
    const rpc = running.rpc;
    // sync also ran once at start, when the node (alone) had joined: it too is due an interval later
    for (const name of ['renew', 'gc', 'republish', 'sync'] as const) expect((await jobView(rpc, name)).nextDueAt).toBe(T0 + HOUR);
    // a host record (so renew has work to do), a key that expires at T0 + 1 h and one that stays; none published
    const hostKey = key(owner, 'order-host', T0);
    const doomed = key(owner, 'order-doomed', T0 + HOUR - EXPIRED);
    const kept = key(owner, 'order-kept', T0);
    for (const k of [hostKey, doomed, kept]) await register(rpc, k);
    await put(rpc, hostRecord(hostKey, peer(102), node, T0));

    const watch = await InspectClient.open(running.node.httpUrl);
    try {
      await watch.first();
      await advance(rpc, HOUR);
      const jobSteps = () => watch.events().filter((e) => e.id.startsWith('job:')).map((e) => `${e.id} ${String(e.state_after)}`);
      await watch.until(() => jobSteps().includes('job:sync waiting'), 'sync back to waiting', 2000);
      expect(jobSteps()).toEqual([
        'job:renew renewing',
        'job:renew publishing',
        'job:renew waiting',
        'job:gc collecting',
        'job:gc waiting',
        'job:republish evicting',
        'job:republish pushing',
        'job:republish waiting',
        'job:sync syncing',
        'job:sync waiting',
      ]);
    } finally {
      watch.ws.close();
    }
    const [renew, gc, republishJob] = await Promise.all((['renew', 'gc', 'republish'] as const).map((name) => jobView(rpc, name)));
    expect(renew.history[0]).toEqual({ at: T0 + HOUR, result: expect.objectContaining({ renewed: 1 }) });
    expect(gc.history[0]).toEqual({ at: T0 + HOUR, result: { count_keys: 1, count_records: 0, count_tombstones: 0 } });
    // gc ran first: the doomed key was gone when republish looked (hostKey and kept are stale)
    expect(republishJob.history[0]).toEqual({ at: T0 + HOUR, result: { stale_keys: 2, pushed: 0, failed: 0 } });
  });
});

describe('job runs persist across restarts (SPEC §5: due at the persisted last run + interval)', () => {
  const dataDir = tempDir();
  let n: NodeProcess | undefined;
  let rpc: RpcClient;
  const start = async (clockStart: number) => {
    if (n) expect(await n.stop()).toBe(0);
    n = await startNodeProcess({ dataDir, env: { clock_start: clockStart } });
    rpc = await n.client();
  };
  afterAll(async () => {
    expect(await n?.stop()).toBe(0);
  });

  it('a restart half an hour after the last run: gc is next due at last run + interval, and no run is repeated', async () => {
    await start(T0);
    await advance(rpc, 3 * HOUR);
    expect((await jobView(rpc, 'gc')).runs).toBe(3);

    const last = T0 + 3 * HOUR;
    await start(last + 1800);
    for (const name of ['gc', 'republish'] as const) {
      expect(await jobView(rpc, name)).toMatchObject({ runs: 0, lastRunAt: last, nextDueAt: last + HOUR, history: [] });
    }
    await advance(rpc, 1799);
    expect((await jobView(rpc, 'gc')).runs).toBe(0);
    await advance(rpc, 1);
    const gc = await jobView(rpc, 'gc');
    expect(gc).toMatchObject({ runs: 1, lastRunAt: last + HOUR, nextDueAt: last + 2 * HOUR });
    expect(ats(gc.history)).toEqual([last + HOUR]);
  });

  it('a persisted last run later than the new clock_start counts as now', async () => {
    // gc's last run, persisted by the previous test, was at T0 + 4 h: later than this clock_start
    const earlier = T0 + 1800;
    await start(earlier);
    expect(await jobView(rpc, 'gc')).toMatchObject({ runs: 0, nextDueAt: earlier + HOUR });
    await advance(rpc, HOUR - 1);
    expect((await jobView(rpc, 'gc')).runs).toBe(0);
    await advance(rpc, 1);
    expect(ats((await jobView(rpc, 'gc')).history)).toEqual([earlier + HOUR]);
  });

  it('a restart long after the last run: the overdue job runs once (not once per missed hour) and the clock can move', async () => {
    const last = T0 + 1800 + HOUR; // gc's last run, persisted by the previous test
    const restart = last + 10 * HOUR;
    await start(restart);
    // SPEC §5: due at last + interval, which has passed; SPEC §10: advance_time by a non-negative amount is valid
    expect(await advance(rpc, 60)).toBe(restart + 60);
    const gc = await jobView(rpc, 'gc');
    expect(gc.runs).toBe(1);
    expect(gc.history[0].at).toBeGreaterThanOrEqual(restart);
    expect(gc.history[0].at).toBeLessThanOrEqual(restart + 60);
    expect(gc.nextDueAt).toBe(gc.history[0].at + HOUR);
  });
});
