/**
 * Anti-entropy sync across five real node processes (real WebSocket, real LMDB, manual clocks): a write that
 * sits on one node only reaches every other replica within one `sync_interval`; a tombstone wins everywhere;
 * a node killed during writes and restarted on the same data dir and port catches up; with sync off nothing
 * moves; and the sync counters of GET /metrics and the `job:sync` actor show what happened.
 *
 * The republish job never runs (replicate_interval 1e9), and the writes are local (`registry.*`, no fan-out),
 * so sync is the only thing that can move them. With the default k = 20 every node holds every bucket.
 *
 * Clocks: every node's manual clock starts at 0 and the tests move all of them together. One interval is
 * stepped as 59 s (no job falls due) and then 1 s, so that while the sync rounds run every node's clock is
 * within max_clock_skew (30 s) of the others': a begin whose `at` is more than that away from the answering
 * node's clock is refused, and one RPC of a Promise.all may reach its node after another node's round began.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { key, peer, record, tombstone } from '../../helpers/objects.js';
import { pollUntil, restartMember, startCluster, stopCluster, waitForLookupsIdle, waitForPeers, type ClusterNode } from '../../helpers/cluster.js';
import { metric, scrape, series } from '../../helpers/metrics.js';
import type { Key, Record as ProviderRecord, Tombstone } from '../../../protocols/types.js';

const NODES = 5;
const INTERVAL = 60;
const NODE_ENV = { workers: 0, replicate_interval: 1e9, sync_interval: INTERVAL };
const OUTCOMES = ['equal', 'done', 'failed', 'busy'];

interface SessionView {
  peer_id: string;
  at: number;
  outcome: string;
  pushed: number;
  received: number;
  stored: number;
  bytesSent: number;
  error: string | null;
}
interface SyncJobView {
  state: unknown;
  context: { runs: number; lastRunAt: number | null; nextDueAt: number; history: { at: number; result?: { neighbours: number; done: number; equal: number; failed: number; busy: number }; error?: string }[]; sessions: SessionView[] };
}

const syncJob = (n: ClusterNode) => n.rpc.call<SyncJobView>('actors.get', { id: 'job:sync' });

/** Waits (bounded) until no node runs a sync round or session (e.g. the round each node runs once it has joined). */
async function waitForSyncIdle(nodes: readonly ClusterNode[], timeoutMs = 15_000): Promise<void> {
  const busy = async () => {
    const views = await Promise.all(
      nodes.map(async (n) => {
        const live = (await n.rpc.call<{ id: string; kind: string }[]>('actors.list')).filter((a) => a.kind === 'sync' && a.id !== 'job:sync');
        const job = await syncJob(n);
        return job.state === 'waiting' && job.context.runs >= 1 && live.length === 0 ? null : `${n.peerId.slice(-6)}: job ${JSON.stringify(job.state)} runs ${job.context.runs}, sessions ${live.map((a) => a.id).join(' ')}`;
      }),
    );
    return views.filter((v): v is string => v !== null);
  };
  const left = await pollUntil(busy, (b) => b.length === 0, timeoutMs, 100);
  if (left.length > 0) expect.fail(`sync still running after ${timeoutMs} ms: ${left.join('; ')}`);
}

/** One sync_interval on every node, stepped 59 + 1 so the clocks stay within max_clock_skew (module comment). */
async function advanceInterval(nodes: readonly ClusterNode[]): Promise<number> {
  await Promise.all(nodes.map((n) => n.rpc.call('debug.advance_time', { seconds: INTERVAL - 1 })));
  const nows = await Promise.all(nodes.map((n) => n.rpc.call<{ now: number }>('debug.advance_time', { seconds: 1 }).then((r) => r.now)));
  expect(new Set(nows).size, `clocks ${nows.join(', ')}`).toBe(1);
  return nows[0];
}

/** The issuers of the records `n` serves for `keyId`, or the error code when it does not hold the key. */
async function issuersOn(n: ClusterNode, keyId: string): Promise<string[] | string> {
  try {
    return (await n.rpc.call<ProviderRecord[]>('registry.get_records', { key_id: keyId })).map((r) => r.metadata.issued_by).sort();
  } catch (e) {
    return (e as { code?: string }).code ?? (e as Error).message;
  }
}

async function tombstonesOn(n: ClusterNode, keyId: string): Promise<Tombstone[] | string> {
  try {
    return await n.rpc.call<Tombstone[]>('registry.get_tombstones', { key_id: keyId });
  } catch (e) {
    return (e as { code?: string }).code ?? (e as Error).message;
  }
}

/** Registers `k` and puts `records` on `n` alone (the registry.* methods never fan out). */
async function writeLocally(n: ClusterNode, k: Key, records: ProviderRecord[]): Promise<void> {
  await n.rpc.call('registry.register_key', { key: k });
  for (const r of records) await n.rpc.call('registry.put_record', { record: r });
}

const short = (n: ClusterNode) => n.peerId.slice(-6);
const sumOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

interface SyncMetrics {
  sessions: Record<string, number>;
  bytesSent: number;
  bytesReceived: number;
  entriesSent: number;
  entriesReceived: number;
}

async function syncMetrics(n: ClusterNode): Promise<SyncMetrics> {
  const s = await scrape(n.httpUrl);
  expect(s.status).toBe(200);
  const sessions = Object.fromEntries(series(s, 'signpost_sync_sessions_total').map((x) => [x.labels.outcome, x.value]));
  const get = (name: string, direction: string) => metric(s, name, { direction }) ?? Number.NaN;
  return {
    sessions,
    bytesSent: get('signpost_sync_bytes_total', 'sent'),
    bytesReceived: get('signpost_sync_bytes_total', 'received'),
    entriesSent: get('signpost_sync_entries_total', 'sent'),
    entriesReceived: get('signpost_sync_entries_total', 'received'),
  };
}

describe(`${NODES} nodes with sync every ${INTERVAL} s and no republish`, () => {
  let nodes: ClusterNode[] = [];
  beforeAll(async () => {
    nodes = await startCluster(NODES, { env: NODE_ENV });
    await waitForSyncIdle(nodes);
  }, 60_000);
  afterAll(async () => stopCluster(nodes));

  const owner = peer(51);
  const k1 = key(owner, 'sync-one-node', 0);
  const r1 = record(k1, peer(52), 0);
  let before: SyncMetrics[] = [];

  it('a write made on one node only is on every other node after one interval', async () => {
    const writer = nodes[1];
    await writeLocally(writer, k1, [r1]);
    const others = nodes.filter((n) => n !== writer);
    // Not there yet: nothing but sync can bring it.
    expect(await Promise.all(others.map((n) => issuersOn(n, k1.id)))).toEqual(others.map(() => 'key_not_found'));
    expect(await issuersOn(writer, k1.id)).toEqual([r1.metadata.issued_by]);

    before = await Promise.all(nodes.map(syncMetrics));
    expect(await advanceInterval(nodes)).toBe(INTERVAL);

    const held = await Promise.all(nodes.map(async (n) => [short(n), await issuersOn(n, k1.id)]));
    expect(Object.fromEntries(held)).toEqual(Object.fromEntries(nodes.map((n) => [short(n), [r1.metadata.issued_by]])));
    for (const n of others) expect(await n.rpc.call<Key>('registry.get_key_metadata', { key_id: k1.id })).toEqual(k1);
  });

  it("GET /metrics counts the interval's sync sessions, bytes and entries", async () => {
    expect(before.length, 'the first test captured the counters before its interval').toBe(NODES);
    const after = await Promise.all(nodes.map(syncMetrics));
    for (const [i, m] of after.entries()) {
      expect(Object.keys(m.sessions).sort(), `outcome labels on ${short(nodes[i])}`).toEqual([...OUTCOMES].sort());
      expect(m.bytesSent, `bytes sent by ${short(nodes[i])}`).toBeGreaterThan(0);
      expect(m.bytesReceived, `bytes received by ${short(nodes[i])}`).toBeGreaterThan(0);
    }
    const writer = 1;
    const delta = (i: number, f: (m: SyncMetrics) => number) => f(after[i]) - f(before[i]);
    // The writer's round: one session with each of its 4 neighbours, none of them failed.
    expect(delta(writer, (m) => sumOf(Object.values(m.sessions)))).toBe(NODES - 1);
    expect(delta(writer, (m) => m.sessions.failed + m.sessions.busy)).toBe(0);
    expect(delta(writer, (m) => m.bytesSent)).toBeGreaterThan(0);
    // The key and its record left the writer (≥ 2 entries) and arrived on each of the 4 others (≥ 8 in all).
    expect(delta(writer, (m) => m.entriesSent)).toBeGreaterThanOrEqual(2);
    expect(sumOf(nodes.map((_, i) => delta(i, (m) => m.sessions.done)))).toBeGreaterThanOrEqual(1);
    expect(sumOf(nodes.map((_, i) => delta(i, (m) => m.entriesReceived)))).toBeGreaterThanOrEqual(2 * (NODES - 1));
    expect(sumOf(nodes.map((_, i) => delta(i, (m) => m.entriesSent)))).toBeGreaterThanOrEqual(2 * (NODES - 1));
  });

  it('actors.get job:sync shows the last sessions, newest first, and the runs', async () => {
    const writer = nodes[1];
    const job = await syncJob(writer);
    expect(job.state).toBe('waiting');
    // Runs: once after joining (at 0), then at 60.
    expect(job.context.runs).toBeGreaterThanOrEqual(2);
    expect(job.context.lastRunAt).toBe(INTERVAL);
    expect(job.context.nextDueAt).toBe(2 * INTERVAL);
    const latest = job.context.history[0];
    expect(latest.at).toBe(INTERVAL);
    expect(latest.error).toBeUndefined();
    expect(latest.result).toMatchObject({ neighbours: NODES - 1, failed: 0, busy: 0 });
    expect(latest.result!.done + latest.result!.equal).toBe(NODES - 1);
    expect(job.context.history.every((h) => h.at === 0 || h.at === INTERVAL)).toBe(true);

    const sessions = job.context.sessions;
    expect(sessions.length).toBeGreaterThanOrEqual(NODES - 1);
    for (const s of sessions) expect(OUTCOMES).toContain(s.outcome);
    // Newest first: the 4 sessions of the run at 60 lead, one with each other node.
    const ats = sessions.map((s) => s.at);
    expect(ats).toEqual([...ats].sort((a, b) => b - a));
    const last = sessions.slice(0, NODES - 1);
    expect(last.every((s) => s.at === INTERVAL)).toBe(true);
    expect(last.map((s) => s.peer_id).sort()).toEqual(nodes.filter((n) => n !== writer).map((n) => n.peerId).sort());
    expect(last.every((s) => s.bytesSent > 0)).toBe(true);
    // What the writer's sessions pushed is what the run says it pushed.
    expect(sumOf(last.map((s) => s.pushed))).toBe((latest.result as { pushed?: number }).pushed);
  });

  it('a tombstone added on one node only wins on every node after one interval', async () => {
    const k2 = key(owner, 'sync-tombstone', 0);
    const gone = peer(53);
    const r2 = record(k2, gone, INTERVAL);
    for (const n of nodes) await writeLocally(n, k2, [r2]);
    expect(await Promise.all(nodes.map((n) => issuersOn(n, k2.id)))).toEqual(nodes.map(() => [gone.peerId]));

    const t = tombstone(k2, gone, gone.peerId, INTERVAL + 1);
    const remover = nodes[2];
    await remover.rpc.call('registry.add_tombstone', { tombstone: t });
    expect(await issuersOn(remover, k2.id)).toEqual([]);
    const others = nodes.filter((n) => n !== remover);
    expect(await Promise.all(others.map((n) => issuersOn(n, k2.id)))).toEqual(others.map(() => [gone.peerId]));
    expect(await Promise.all(others.map((n) => tombstonesOn(n, k2.id)))).toEqual(others.map(() => []));

    expect(await advanceInterval(nodes)).toBe(2 * INTERVAL);

    expect(await Promise.all(nodes.map((n) => tombstonesOn(n, k2.id)))).toEqual(nodes.map(() => [t]));
    expect(await Promise.all(nodes.map((n) => issuersOn(n, k2.id)))).toEqual(nodes.map(() => []));
  });

  it('a node killed during writes and restarted with its data dir converges within one interval', async () => {
    const victim = nodes[3];
    const writer = nodes[1];
    const via = nodes[2];
    const now = 2 * INTERVAL;
    await victim.kill();
    const live = nodes.filter((n) => n !== victim);

    // Local writes on the writer only: a new key with a record, a new record of k1, a tombstone of r1.
    const k3 = key(owner, 'sync-while-down-local', now);
    const r3 = record(k3, peer(54), now);
    await writeLocally(writer, k3, [r3]);
    const r1b = record(k1, peer(55), now);
    await writer.rpc.call('registry.put_record', { record: r1b });
    const t1 = tombstone(k1, peer(52), r1.metadata.peer_id, now);
    await writer.rpc.call('registry.add_tombstone', { tombstone: t1 });
    // Writes fanned out to the neighbourhood while the victim is down (every live node acks).
    const k4 = key(owner, 'sync-while-down-fanout', now);
    const r4 = record(k4, peer(56), now);
    expect((await via.rpc.call<{ acks: number }>('resources.create_resource', { key: k4, ack: NODES - 1 })).acks).toBe(NODES - 1);
    expect((await via.rpc.call<{ acks: number }>('resources.register_provider', { record: r4, ack: NODES - 1 })).acks).toBe(NODES - 1);

    // Same data dir (identity, store) and port; its clock starts where the others' are.
    const back = await restartMember(victim, [nodes[0].baseUrl], { env: { ...NODE_ENV, clock_start: now } });
    nodes[nodes.indexOf(victim)] = back;
    expect((await back.rpc.call<{ now: number }>('debug.set_time', { now })).now).toBe(now);
    await waitForPeers([back], NODES - 1);
    await waitForLookupsIdle(nodes);
    await waitForSyncIdle(nodes);

    expect(await advanceInterval(nodes)).toBe(3 * INTERVAL);

    const want = {
      k1: [r1b.metadata.issued_by],
      k1Tombstones: [t1],
      k3: [r3.metadata.issued_by],
      k4: [r4.metadata.issued_by],
    };
    for (const n of [back, ...live]) {
      const got = {
        k1: await issuersOn(n, k1.id),
        k1Tombstones: await tombstonesOn(n, k1.id),
        k3: await issuersOn(n, k3.id),
        k4: await issuersOn(n, k4.id),
      };
      expect(got, `held by ${short(n)}${n === back ? ' (restarted)' : ''}`).toEqual(want);
    }
    const job = await syncJob(back);
    expect(job.context.lastRunAt).toBe(3 * INTERVAL);
    expect(job.context.history.every((h) => h.error === undefined)).toBe(true);
  });
});

describe(`${NODES} nodes with sync off (sync_interval 0) and no republish`, () => {
  let nodes: ClusterNode[] = [];
  beforeAll(async () => {
    nodes = await startCluster(NODES, { env: { ...NODE_ENV, sync_interval: 0 } });
  }, 60_000);
  afterAll(async () => stopCluster(nodes));

  it('a write made on one node only stays on that node after the same advance', async () => {
    const k = key(peer(61), 'no-sync-one-node', 0);
    const r = record(k, peer(62), 0);
    const writer = nodes[1];
    await writeLocally(writer, k, [r]);
    const others = nodes.filter((n) => n !== writer);
    expect(await Promise.all(others.map((n) => issuersOn(n, k.id)))).toEqual(others.map(() => 'key_not_found'));

    expect(await advanceInterval(nodes)).toBe(INTERVAL);

    expect(await issuersOn(writer, k.id)).toEqual([r.metadata.issued_by]);
    expect(await Promise.all(others.map((n) => issuersOn(n, k.id)))).toEqual(others.map(() => 'key_not_found'));
    // No sync job at all, and the counters never moved.
    await expect(writer.rpc.call('actors.get', { id: 'job:sync' })).rejects.toMatchObject({ code: 'actor_not_found' });
    const m = await syncMetrics(writer);
    expect(sumOf(Object.values(m.sessions))).toBe(0);
    expect(m.entriesSent + m.entriesReceived).toBe(0);
  });
});
