/**
 * Black-box tests of the provider limit (SPEC §4.4) and the policies that rank or refuse providers (§6)
 * through a node's socket: records_limit = 32 with reserve, FIFO rank (higher timestamp_issued ranks
 * better) and its digest tie-break, hashcash/v1 score and insufficient_work, host records exempt, the
 * reserve served again when a served record is tombstoned or expires, and the max_entries_per_key bound.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useNodeProcess } from '../../helpers/node-process.js';
import { key, peer, record, tombstone } from '../../helpers/objects.js';
import { ascii, expectCode, mineExact, recordDigestHex, tag, tamper, workBits, type KeyItem } from '../../helpers/registry.js';
import { hashcashChallenge } from '../../../protocols/pow.js';
import { makeRecord } from '../../../protocols/signed.js';
import type { Identity } from '../../../protocols/identity.js';
import type { Key, Record as ProviderRecord, Tombstone } from '../../../protocols/types.js';
import type { RpcClient } from '../../../runtime/client/rpc-client.js';

const NOW = 1_700_000_000;
const LIMIT = 32;
/** No scheduled job may run during these tests. */
const NO_JOBS = { gc_interval: 1_000_000_000, replicate_interval: 1_000_000_000, renew_interval: 86_399 };

/** Distinct issuers from a numbered range (seeds ≥ 256 never collide with the small ones). */
const issuers = (from: number, n: number): Identity[] => Array.from({ length: n }, (_, i) => peer(from + i));

function helpers(rpc: () => RpcClient, owner: Identity) {
  let labels = 0;
  return {
    async freshKey(opts: Parameters<typeof key>[3] = {}): Promise<Key> {
      const k = key(owner, `limit-${labels++}`, NOW - 100_000, opts);
      expect(await rpc().call('registry.register_key', { key: k })).toEqual({ key_id: k.id });
      return k;
    },
    put: (r: unknown) => rpc().call('registry.put_record', { record: r }),
    bury: (t: unknown) => rpc().call('registry.add_tombstone', { tombstone: t }),
    served: (k: Key) => rpc().call<ProviderRecord[]>('registry.get_records', { key_id: k.id }),
    tombstones: (k: Key) => rpc().call<Tombstone[]>('registry.get_tombstones', { key_id: k.id }),
  };
}

/** Expects a put to be answered records_limit_exceeded with error.data.reserved = true. */
async function expectReserved(call: Promise<unknown>): Promise<void> {
  const e = await expectCode(call, 'records_limit_exceeded');
  expect(e.rpcCode).toBe(1009);
  expect(e.data.reserved).toBe(true);
}

describe('the provider limit under default and hashcash keys', () => {
  const hostIdentity = peer(250);
  const owner = peer(31);
  const running = useNodeProcess({ identity: hostIdentity, env: { clock_start: NOW, ...NO_JOBS } });
  const h = helpers(() => running.rpc, owner);

  beforeAll(() => {
    expect(running.node.peerId).toBe(hostIdentity.peerId);
  });

  it('serves the best 32 by FIFO rank; worse records are kept in reserve and served again when a served one is removed', async () => {
    const k = await h.freshKey();
    const ids = issuers(1000, LIMIT);
    const first = ids.map((p, i) => record(k, p, NOW - 1000 + i)); // first[31] is the newest
    // arrival order does not matter: odd ones first, then even ones
    for (const r of [...first.filter((_, i) => i % 2), ...first.filter((_, i) => i % 2 === 0)]) expect(await h.put(r)).toEqual({});
    const byRank = [...first].reverse();
    expect((await h.served(k)).map(tag)).toEqual(byRank.map(tag));
    expect(await h.served(k)).toEqual(byRank);

    // the 33rd and 34th rank below all 32 (issued earlier): kept in reserve, answered records_limit_exceeded
    const r33 = record(k, peer(1100), NOW - 2000);
    const r34 = record(k, peer(1101), NOW - 2001);
    await expectReserved(h.put(r33));
    await expectReserved(h.put(r34));
    await expectReserved(h.put(r33)); // identical, still in reserve
    expect(await h.served(k)).toEqual(byRank);

    // a newer record ranks first and pushes the oldest served one (first[0]) into reserve
    const newest = record(k, peer(1102), NOW);
    expect(await h.put(newest)).toEqual({});
    const servedNow = [newest, ...byRank.slice(0, LIMIT - 1)];
    expect((await h.served(k)).map(tag)).toEqual(servedNow.map(tag));

    // a reserved record arriving by republish is kept too, neither stored as served nor rejected
    const r35 = record(k, peer(1103), NOW - 1500);
    expect(await running.rpc.call('registry.republish_records', { records: [r35, r33] })).toEqual({ updated: 1, rejected: [] });
    expect((await h.served(k)).map(tag)).toEqual(servedNow.map(tag));

    // evict_stale and list_keys show the served records only, in rank order
    const stale = (await running.rpc.call<KeyItem[]>('registry.evict_stale', {})).find((i) => i.key.id === k.id);
    expect(stale?.records.map(tag)).toEqual(servedNow.map(tag));
    const listed = (await running.rpc.call<{ keys: KeyItem[] }>('registry.list_keys', { limit: 1000 })).keys.find((i) => i.key.id === k.id);
    expect(listed?.records).toEqual(servedNow);

    // removing served records brings the reserve back, best first: first[0], then r35, then r33
    await h.bury(tombstone(k, peer(1102), peer(1102).peerId, NOW));
    expect((await h.served(k)).map(tag)).toEqual(byRank.map(tag));
    await h.bury(tombstone(k, ids[31], ids[31].peerId, NOW));
    expect((await h.served(k)).map(tag)).toEqual([...byRank.slice(1), r35].map(tag));
    await h.bury(tombstone(k, ids[30], ids[30].peerId, NOW));
    expect((await h.served(k)).map(tag)).toEqual([...byRank.slice(2), r35, r33].map(tag));
    expect(await h.put(r33)).toEqual({}); // served now: no error
    await expectReserved(h.put(r34));
  });

  it('breaks rank ties by the greater record_digest, whatever the order of arrival', async () => {
    const ids = issuers(1200, LIMIT - 1);
    const [lo, hi] = [peer(1300), peer(1301)];
    for (const [order, k] of [['lo first', await h.freshKey()], ['hi first', await h.freshKey()]] as const) {
      for (const [i, p] of ids.entries()) expect(await h.put(record(k, p, NOW - 100 + i))).toEqual({});
      const [rLo, rHi] = [record(k, lo, NOW - 500), record(k, hi, NOW - 500)].sort((a, b) => ascii(recordDigestHex(a), recordDigestHex(b)));
      if (order === 'lo first') {
        expect(await h.put(rLo)).toEqual({});
        expect(await h.put(rHi)).toEqual({});
      } else {
        expect(await h.put(rHi)).toEqual({});
        await expectReserved(h.put(rLo));
      }
      const served = await h.served(k);
      expect(served).toHaveLength(LIMIT);
      expect(served[LIMIT - 1]).toEqual(rHi);
      expect(served.map(tag)).not.toContain(tag(rLo));
    }
  });

  it('hashcash/v1: a record below min_bits is insufficient_work (before its signatures); tombstones need no work', async () => {
    const k = await h.freshKey({ challenge: hashcashChallenge(2, 1000), challenge_type: 'hashcash/v1' });
    const p = peer(1350);
    for (const bits of [0, 1]) {
      const r = makeRecord(p, mineExact(p, { key_id: k.id, peer_id: p.peerId, timestamp_issued: NOW }, bits), NOW);
      expect(workBits(r)).toBe(bits);
      const e = await expectCode(h.put(r), 'insufficient_work');
      expect(e.rpcCode).toBe(1012);
      await expectCode(h.put({ ...r, signature: tamper(r.signature) }), 'insufficient_work');
    }
    const enough = makeRecord(p, mineExact(p, { key_id: k.id, peer_id: p.peerId, timestamp_issued: NOW - 1 }, 2), NOW - 1);
    expect(await h.put(enough)).toEqual({});
    expect(await h.served(k)).toEqual([enough]);
    const t = tombstone(k, p, p.peerId, NOW);
    expect(t.solution).toBe('');
    expect(await h.bury(t)).toEqual({});
    expect(await h.served(k)).toEqual([]);
    expect(await h.tombstones(k)).toEqual([t]);
  });

  it('hashcash/v1 ranks by score S = bits + issued / half_life, not by age alone', async () => {
    const halfLife = 1000;
    const k = await h.freshKey({ challenge: hashcashChallenge(2, halfLife), challenge_type: 'hashcash/v1' });
    const mined = (p: Identity, issued: number, bits: number) =>
      makeRecord(p, mineExact(p, { key_id: k.id, peer_id: p.peerId, timestamp_issued: issued }, bits), issued);
    // 32 records of exactly 3 bits, issued 0.100..0.131 half-lives ago: S = NOW/1000 + 2.900 .. 2.869
    const three = issuers(1400, LIMIT).map((p, i) => mined(p, NOW - 100 - i, 3));
    for (const r of three) expect(await h.put(r)).toEqual({});
    expect((await h.served(k)).map(tag)).toEqual(three.map(tag));
    // the newest record but with 2 bits: S = NOW/1000 + 2 — in reserve (FIFO would have served it first)
    await expectReserved(h.put(mined(peer(1450), NOW, 2)));
    // 4 bits, 1.2 half-lives old: S = NOW/1000 + 2.8 — below every 3-bit record: work decays with age
    await expectReserved(h.put(mined(peer(1451), NOW - 1200, 4)));
    // 5 bits, 1.5 half-lives old: S = NOW/1000 + 3.5 — ranks first, the weakest 3-bit record goes to reserve
    const strong = mined(peer(1452), NOW - 1500, 5);
    expect(await h.put(strong)).toEqual({});
    expect((await h.served(k)).map(tag)).toEqual([strong, ...three.slice(0, LIMIT - 1)].map(tag));
    await expectReserved(h.put(three[LIMIT - 1]));
    // removing the strong record serves the reserve again, by score: the weakest 3-bit record, not the newer 2-bit one
    expect(await h.bury(tombstone(k, peer(1452), peer(1452).peerId, NOW))).toEqual({});
    expect((await h.served(k)).map(tag)).toEqual(three.map(tag));
  });

  it('host records of this node are exempt from the limit and do not take a non-host place', async () => {
    const k = await h.freshKey();
    const others = issuers(1500, LIMIT).map((p, i) => record(k, p, NOW - 100 + i));
    for (const r of others) expect(await h.put(r)).toEqual({});
    // hosted by this node (peer_id = node peer id, co-signed by the node's key), ranked below every other record
    const host1 = record(k, peer(1600), NOW - 5000, { host: hostIdentity });
    const host2 = record(k, peer(1601), NOW - 6000, { host: hostIdentity });
    expect(host1.metadata.peer_id).toBe(running.node.peerId);
    expect(await h.put(host1)).toEqual({});
    expect(await h.put(host2)).toEqual({});
    const byRank = [...others].reverse();
    expect((await h.served(k)).map(tag)).toEqual([...byRank, host1, host2].map(tag));
    // a non-host record as old as the host records is in reserve; a newer one pushes out a non-host record only
    await expectReserved(h.put(record(k, peer(1602), NOW - 5500)));
    const newest = record(k, peer(1603), NOW);
    expect(await h.put(newest)).toEqual({});
    expect((await h.served(k)).map(tag)).toEqual([newest, ...byRank.slice(0, LIMIT - 1), host1, host2].map(tag));
    // a record hosted by another peer is not exempt, even when issued by this node's identity
    await expectReserved(h.put(record(k, hostIdentity, NOW - 7000, { host: peer(1604) })));
  });
});

describe('the reserve when a served record expires', () => {
  const owner = peer(32);
  const running = useNodeProcess({ env: { clock_start: NOW, ...NO_JOBS } });
  const h = helpers(() => running.rpc, owner);


  it('serves a reserved record as soon as a better-ranked one expires (age = expired_timeout)', async () => {
    const k = await h.freshKey();
    const young = issuers(1700, LIMIT - 1).map((p, i) => record(k, p, NOW - 50 + i));
    for (const r of young) expect(await h.put(r)).toEqual({});
    const old = record(k, peer(1750), NOW - 86_000); // ranks above `renewed`, expires first
    const renewed = record(k, peer(1751), NOW - 86_300, { created: NOW }); // issued earlier, created now
    expect(await h.put(old)).toEqual({});
    await expectReserved(h.put(renewed));
    const byRank = [...young].reverse();
    await running.rpc.call('debug.advance_time', { seconds: 399 }); // old is 86 399 s old: still live
    expect((await h.served(k)).map(tag)).toEqual([...byRank, old].map(tag));
    await running.rpc.call('debug.advance_time', { seconds: 1 }); // 86 400 s: expired
    expect((await h.served(k)).map(tag)).toEqual([...byRank, renewed].map(tag));
  });
});

describe('the max_entries_per_key bound', () => {
  const hostIdentity = peer(251);
  const owner = peer(33);
  const running = useNodeProcess({ identity: hostIdentity, env: { clock_start: NOW, records_limit: 2, max_entries_per_key: 4, ...NO_JOBS } });
  const h = helpers(() => running.rpc, owner);


  it('drops the lowest-ranked non-host record when a key holds more than max_entries_per_key entries', async () => {
    const k = await h.freshKey();
    const [p1, p2, p3, p4, p5, p6] = issuers(1800, 6);
    const [r1, r2, r3, r4] = [p1, p2, p3, p4].map((p, i) => record(k, p, NOW - 10 * (i + 1)));
    expect(await h.put(r1)).toEqual({});
    expect(await h.put(r2)).toEqual({});
    await expectReserved(h.put(r3));
    await expectReserved(h.put(r4)); // 4 entries: r1, r2 served; r3, r4 in reserve
    const t5 = tombstone(k, p5, p5.peerId, NOW); // a 5th slot: r4, the lowest-ranked record, is dropped
    expect(await h.bury(t5)).toEqual({});
    expect((await h.served(k)).map(tag)).toEqual([r1, r2].map(tag));
    expect(await h.tombstones(k)).toEqual([t5]);
    // a record that would itself be the one dropped is not kept, not even in reserve
    for (const r of [r4, record(k, p6, NOW - 100)]) {
      const e = await expectCode(h.put(r), 'records_limit_exceeded');
      expect(e.data.reserved).toBe(false);
    }
    // removing served records brings back r3, but r4 is gone
    await h.bury(tombstone(k, p1, p1.peerId, NOW));
    expect((await h.served(k)).map(tag)).toEqual([r2, r3].map(tag));
    await h.bury(tombstone(k, p2, p2.peerId, NOW));
    expect((await h.served(k)).map(tag)).toEqual([r3].map(tag));
  });

  it('drops the oldest tombstones when no non-host record is left to drop; host records are never dropped', async () => {
    const k = await h.freshKey();
    const ps = issuers(1900, 8);
    const ts = ps.slice(0, 4).map((p, i) => tombstone(k, p, p.peerId, NOW - 4 + i)); // NOW-4 .. NOW-1
    for (const t of ts) expect(await h.bury(t)).toEqual({});
    const byOrder = (x: Tombstone, y: Tombstone) => ascii(x.issued_by, y.issued_by) || ascii(x.peer_id, y.peer_id);
    const t5 = tombstone(k, ps[4], ps[4].peerId, NOW);
    expect(await h.bury(t5)).toEqual({}); // ts[0], the oldest, is dropped
    expect(await h.tombstones(k)).toEqual([...ts.slice(1), t5].sort(byOrder));
    // an older tombstone than every kept one, or a non-host record, would be the first dropped: not kept
    const e = await expectCode(h.bury(tombstone(k, ps[5], ps[5].peerId, NOW - 10)), 'records_limit_exceeded');
    expect(e.data.reserved).toBe(false);
    await expectCode(h.put(record(k, ps[6], NOW)), 'records_limit_exceeded');
    // a host record of this node is never dropped: the oldest tombstone goes instead
    const hosted = record(k, ps[7], NOW - 50, { host: hostIdentity });
    expect(await h.put(hosted)).toEqual({});
    expect(await h.served(k)).toEqual([hosted]);
    expect(await h.tombstones(k)).toEqual([...ts.slice(2), t5].sort(byOrder));
  });
});
