/**
 * Anti-entropy sync (runtime/net/sync.ts) between nodes composed as real nodes are, on the in-memory
 * transport (the real wire codec and schemas) and store: one session leaves both replicas with the same
 * slot winners whatever each held, a stream that does not decode falls back to listing and still
 * converges, and the answering side keeps its limits (busy, budgets, clock skew, garbage costs the sender).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig, type Config } from '../../../config/index.js';
import { toHex } from '../../../protocols/encoding.js';
import { identityFromSeed } from '../../../protocols/identity.js';
import { seededRandom } from '../../../protocols/random.js';
import { decodeResponse, encodeRequest, encodeResponse, type SyncRequest } from '../../../protocols/sync/messages.js';
import { BucketSet } from '../../../protocols/sync/range.js';
import { BEGIN_SKETCHES, emptySummary, fingerprint, towBytes } from '../../../protocols/sync/summary.js';
import type { Key, Record as ProviderRecord, Tombstone } from '../../../protocols/types.js';
import { ManualClock, systemTimers } from '../../../runtime/base/clock.js';
import { logger } from '../../../runtime/base/log.js';
import { MemoryNetwork, type MemoryTransport } from '../../../runtime/net/memory-transport.js';
import { peerService } from '../../../runtime/net/peer-service.js';
import { composeNode, type SignpostNode } from '../../../runtime/node/compose.js';
import { MemoryStore } from '../../../runtime/store/memory-store.js';
import { ed25519, key, peer, record, tombstone } from '../../helpers/objects.js';

const T0 = 1_700_000_000;
const ALL = BucketSet.all().intervals();

interface TestNode {
  node: SignpostNode;
  transport: MemoryTransport;
  address: string;
  peerId: string;
}

let running: TestNode[] = [];
afterEach(async () => {
  await Promise.all(running.map((n) => n.node.stop()));
  running = [];
});

/** A node on `network`, joined to nobody (sessions are started by hand). */
async function start(network: MemoryNetwork, seed: number, config: Partial<Config> = {}): Promise<TestNode> {
  const identity = identityFromSeed(new Uint8Array(32).fill(seed), ed25519);
  const address = `ws://10.7.0.${seed}:7070`;
  const transport = network.join(identity.peerId, address);
  const node = await composeNode({
    config: { ...defaultConfig(), workers: 0, clock: 'manual', clock_start: T0, replicate_interval: 1e9, ...config },
    identity,
    transport,
    store: new MemoryStore(),
    clock: new ManualClock(T0),
    random: seededRandom(seed),
    ed25519,
    log: logger('error', () => undefined),
    dataDir: null,
    addresses: () => [address],
  });
  await node.start();
  const n = { node, transport, address, peerId: identity.peerId };
  running.push(n);
  return n;
}

const network = () => new MemoryNetwork({ timers: systemTimers, random: seededRandom(9) });

/** What a node holds, as comparable text: every key with its slot winners (digests). */
async function holdings(n: TestNode): Promise<string[]> {
  const out: string[] = [];
  for (let after: string | null = null; ; ) {
    const ids = n.node.store.listKeyIds(after, 100);
    if (ids.length === 0) return out.sort();
    for (const id of ids) {
      const snap = n.node.store.load(id);
      out.push(`${id} ${snap.stored?.key.signature}`);
      for (const e of snap.entries) out.push(`${id} ${e.kind} ${e.digest}`);
    }
    after = ids[ids.length - 1];
  }
}

const sessionWith = (from: TestNode, to: TestNode) => from.node.sync.session({ peerId: to.peerId, address: to.address }, T0);

// A pool of signed writes both sides draw from: keys (two versions of one), records in several versions
// per slot, and tombstones, all live at T0.
const owners = [peer(61), peer(62)];
const issuers = Array.from({ length: 6 }, (_, i) => peer(70 + i));
const keys: Key[] = [key(owners[0], 'sync-a', T0 - 500), key(owners[0], 'sync-a', T0 - 400), key(owners[1], 'sync-b', T0 - 500), key(owners[1], 'sync-c', T0 - 300)];
type Write = { kind: 'key'; key: Key } | { kind: 'record'; record: ProviderRecord } | { kind: 'tombstone'; tombstone: Tombstone };
const pool: Write[] = [
  ...keys.map((k) => ({ kind: 'key' as const, key: k })),
  ...keys.flatMap((k) =>
    issuers.flatMap((issuer, i) => [
      { kind: 'record' as const, record: record(k, issuer, T0 - 200 + i) },
      { kind: 'record' as const, record: record(k, issuer, T0 - 100 + i, { value: `v2-${i}` }) },
      { kind: 'tombstone' as const, tombstone: tombstone(k, issuer, issuer.peerId, T0 - 150 + i) },
    ]),
  ),
];

/** Applies writes through the node's local registry (admitted like any write; refusals are part of the game). */
async function apply(n: TestNode, writes: Write[]): Promise<void> {
  // Keys first, so that entries find their key (a store holds entries only under a key).
  const ordered = [...writes.filter((w) => w.kind === 'key'), ...writes.filter((w) => w.kind !== 'key')];
  for (const w of ordered) {
    const call =
      w.kind === 'key'
        ? n.node.call('registry.register_key', { key: w.key })
        : w.kind === 'record'
          ? n.node.call('registry.put_record', { record: w.record })
          : n.node.call('registry.add_tombstone', { tombstone: w.tombstone });
    await call.catch(() => undefined);
  }
}

describe('one session', () => {
  it('leaves both replicas with the same winners, whatever each held (random stores)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.subarray(pool), fc.subarray(pool), async (left, right) => {
        const net = network();
        const [a, b] = [await start(net, 1), await start(net, 2)];
        await apply(a, left);
        await apply(b, right);
        const { output } = await sessionWith(a, b);
        expect(['equal', 'done']).toContain(output.outcome);
        expect(await holdings(a)).toEqual(await holdings(b));
        const [sa, sb] = await Promise.all([a.node.shards.syncSummary(T0, ALL), b.node.shards.syncSummary(T0, ALL)]);
        expect(toHex(fingerprint(sa))).toBe(toHex(fingerprint(sb)));
        await Promise.all([a.node.stop(), b.node.stop()]);
        running = [];
      }),
      { numRuns: 15 },
    );
  }, 120_000);

  it('finds two stores built from different interleavings of the same writes equal, in one round trip', async () => {
    // Every key is in (an entry is stored only under its key); the entries are any subset, and each side
    // sees keys and entries in its own order (two versions of a key, several versions of a slot).
    const keyWrites = pool.filter((w) => w.kind === 'key');
    const entryWrites = pool.filter((w) => w.kind !== 'key');
    const orders = fc.subarray(entryWrites).chain((entries) => {
      const ws = [...keyWrites, ...entries];
      const shuffled = fc.shuffledSubarray(ws, { minLength: ws.length, maxLength: ws.length });
      return fc.tuple(shuffled, shuffled);
    });
    await fc.assert(
      fc.asyncProperty(orders, async ([left, right]) => {
        const net = network();
        const [a, b] = [await start(net, 1), await start(net, 2)];
        await apply(a, left);
        await apply(b, right);
        const [sa, sb] = await Promise.all([a.node.shards.syncSummary(T0, ALL), b.node.shards.syncSummary(T0, ALL)]);
        expect(sa.count).toBeGreaterThan(0);
        expect(toHex(fingerprint(sa))).toBe(toHex(fingerprint(sb)));
        const { output } = await sessionWith(a, b);
        expect(output).toMatchObject({ outcome: 'equal', roundTrips: 1 });
        await Promise.all([a.node.stop(), b.node.stop()]);
        running = [];
      }),
      { numRuns: 15 },
    );
  }, 120_000);

  it('between equal replicas is one round trip of under 100 bytes', async () => {
    const net = network();
    const [a, b] = [await start(net, 1), await start(net, 2)];
    await apply(a, pool);
    await apply(b, pool);
    const { output } = await sessionWith(a, b);
    expect(output).toMatchObject({ outcome: 'equal', roundTrips: 1 });
    expect(output.bytesSent + output.bytesReceived).toBeLessThanOrEqual(100);
  });

  it('falls back to listing when the symbols do not decode, and still converges', async () => {
    const net = network();
    const [a, b] = [await start(net, 1), await start(net, 2)];
    await apply(a, pool.slice(0, 30));
    await apply(b, pool.slice(0, 20));
    // b answers with every symbol's checksum spoiled: nothing ever peels.
    const honest = peerService(b.node.dht, b.node.shards, b.node.sync, b.node.relay);
    b.transport.serve(async (from, req) => {
      const answer = await honest(from, req);
      if (req.method !== 'sync' || (req.message.op !== 'begin' && req.message.op !== 'symbols')) return answer;
      const m = decodeResponse(answer, req.message);
      const symbols = m.op === 'symbols' ? m.symbols : m.op === 'coded' && m.mode === 'symbols' ? m.symbols : null;
      if (symbols) for (let i = 0; i < symbols.checks.length; i++) symbols.checks[i] ^= 0x5a5a;
      return encodeResponse(m);
    });
    const { output } = await sessionWith(a, b);
    expect(output).toMatchObject({ outcome: 'done', method: 'listing' });
    expect(await holdings(a)).toEqual(await holdings(b));
  });

  it('sends only what differs: the entries of one missed write, not the rest', async () => {
    const net = network();
    const [a, b] = [await start(net, 1), await start(net, 2)];
    await apply(a, pool);
    await apply(b, pool);
    const late = record(keys[2], peer(90), T0 - 5);
    await a.node.call('registry.put_record', { record: late });
    const { output } = await sessionWith(a, b);
    expect(output).toMatchObject({ outcome: 'done', ours: 1, theirs: 0, pushed: 1, received: 0 });
    expect(await b.node.call('registry.get_records', { key_id: keys[2].id })).toContainEqual(late);
  });
});

describe('the answering side', () => {
  /** A begin from `from` to `to` whose fingerprint cannot match: the session stays open on `to`. */
  const openSession = (from: TestNode, to: TestNode, session: number, at = T0) => {
    const s = emptySummary();
    s.count = 12345;
    const begin: SyncRequest = { op: 'begin', session, at, range: BucketSet.all(), count: 12345, fingerprint: fingerprint(s), sketch: towBytes(s, BEGIN_SKETCHES) };
    return from.transport.request({ peerId: to.peerId, address: to.address }, 'sync', encodeRequest(begin), 2000);
  };

  it('answers busy past three sessions at once; a new begin from the same neighbour replaces its own', async () => {
    const net = network();
    const b = await start(net, 2);
    await apply(b, pool.slice(0, 10));
    const others = [await start(net, 3), await start(net, 4), await start(net, 5), await start(net, 6)];
    for (const [i, o] of others.slice(0, 3).entries()) await openSession(o, b, i + 1);
    await expect(openSession(others[3], b, 1)).rejects.toMatchObject({ code: 'busy' });
    await expect(openSession(others[0], b, 9)).resolves.toBeInstanceOf(Uint8Array);
  });

  it('refuses a session whose instant is more than max_clock_skew from its own clock', async () => {
    const net = network();
    const [a, b] = [await start(net, 1), await start(net, 2)];
    await expect(openSession(a, b, 1, T0 + 31)).rejects.toMatchObject({ code: 'invalid_params', message: expect.stringContaining('max_clock_skew') });
  });

  it('refuses steps of a session it does not have, and symbols past the session budget', async () => {
    const net = network();
    const [a, b] = [await start(net, 1), await start(net, 2)];
    await apply(b, pool.slice(0, 10));
    const ask = (m: SyncRequest) => a.transport.request({ peerId: b.peerId, address: b.address }, 'sync', encodeRequest(m), 2000);
    await expect(ask({ op: 'symbols', session: 7, from: 0, to: 10 })).rejects.toMatchObject({ code: 'invalid_params', message: expect.stringContaining('no session 7') });
    await openSession(a, b, 7);
    // The budget is 2 × (12345 + b's count) + 64 symbols: asking for more ends the session.
    let from = 0;
    const refused = async () => {
      for (let i = 0; i < 10; i++) {
        await ask({ op: 'symbols', session: 7, from, to: from + 16384 });
        from += 16384;
      }
    };
    await expect(refused()).rejects.toMatchObject({ code: 'invalid_params', message: expect.stringContaining('symbols') });
    await expect(ask({ op: 'ids', session: 7, suffix: null, after: null })).rejects.toMatchObject({ message: expect.stringContaining('no session 7') });
  });

  it('makes a neighbour that sends garbage pay: it is banned', async () => {
    const net = network();
    const [a, b] = [await start(net, 1), await start(net, 2)];
    const garbage = () => a.transport.request({ peerId: b.peerId, address: b.address }, 'sync', new Uint8Array([4, 1, 0, 200]), 2000);
    let last: unknown;
    for (let i = 0; i < 20; i++) last = await garbage().catch((e: unknown) => e);
    expect(last).toMatchObject({ code: 'peer_unreachable', message: expect.stringContaining('banned') });
  });
});

describe('answers before the first sync', () => {
  it('a node that has not finished a sync since it started marks its answers partial; after one, not', async () => {
    const net = network();
    // Bootstrapping from an address nobody answers: never joined, so never synced.
    const lonely = await start(net, 1, { bootstrap: ['ws://10.7.9.9:7070'] });
    const k = keys[0];
    await lonely.node.call('registry.register_key', { key: k });
    expect(lonely.node.sync.isComplete(k.id)).toBe(false);
    const asker = await start(net, 2);
    const answer = await asker.transport.request({ peerId: lonely.peerId, address: lonely.address }, 'get', { key_id: k.id }, 2000);
    expect(answer).toMatchObject({ partial: true });
    // A node with nobody to join is complete once it has joined (itself): its first round found nobody to ask.
    expect(asker.node.sync.isComplete(k.id)).toBe(true);
  });

  it('with sync off, every answer is complete', async () => {
    const net = network();
    const off = await start(net, 1, { sync_interval: 0, bootstrap: ['ws://10.7.9.9:7070'] });
    expect(off.node.sync.isComplete(keys[0].id)).toBe(true);
  });
});
