/**
 * Black-box tests that move the node clock (SPEC §4.5, §10): visibility windows of records, tombstones
 * and stale keys at their exact boundaries, the contents of evict_stale, clear_expired and its counts
 * (including entries invalidated by a new key version), and host records that never expire on their host.
 * Every node here runs alone with the manual clock and no scheduled job falling due.
 */
import { describe, expect, it } from 'vitest';
import { useNodeProcess } from '../../helpers/node-process.js';
import { key, peer, record, tombstone } from '../../helpers/objects.js';
import { ascii, expectCode, mineExact, tag, ttag, type KeyItem } from '../../helpers/registry.js';
import { hashcashChallenge } from '../../../protocols/pow.js';
import { makeRecord } from '../../../protocols/signed.js';
import type { Key, Record as ProviderRecord, Tombstone } from '../../../protocols/types.js';
import type { RpcClient } from '../../../runtime/client/rpc-client.js';

const NOW = 1_700_000_000;
const STALE = 3600;
const EXPIRED = 86_400;
/** Jobs that would change what these tests observe never fall due (renew must stay below expired_timeout). */
const NO_JOBS = { gc_interval: 1_000_000_000, replicate_interval: 1_000_000_000, renew_interval: EXPIRED - 1 };

/** A record's slot and version without timestamp_created (which a host's renewal may change). */
const slotTag = (r: ProviderRecord) => `${r.metadata.issued_by.slice(-5)}>${r.metadata.peer_id.slice(-5)}@${r.metadata.timestamp_issued}`;

function client(rpc: () => RpcClient) {
  return {
    now: async () => (await rpc().call<{ now: number }>('node.info', {})).now,
    setTime: async (t: number) => expect(await rpc().call('debug.set_time', { now: t })).toEqual({ now: t }),
    register: async (k: Key) => expect(await rpc().call('registry.register_key', { key: k })).toEqual({ key_id: k.id }),
    republish: async (k: Key) => expect(await rpc().call('registry.republish_key', { key: k })).toEqual({}),
    put: async (r: ProviderRecord) => expect(await rpc().call('registry.put_record', { record: r })).toEqual({}),
    bury: async (t: Tombstone) => expect(await rpc().call('registry.add_tombstone', { tombstone: t })).toEqual({}),
    records: (k: Key) => rpc().call<ProviderRecord[]>('registry.get_records', { key_id: k.id }),
    tombstones: (k: Key) => rpc().call<Tombstone[]>('registry.get_tombstones', { key_id: k.id }),
    stale: () => rpc().call<KeyItem[]>('registry.evict_stale', {}),
    clear: () => rpc().call<{ count_keys: number; count_records: number; count_tombstones: number }>('registry.clear_expired', {}),
    staleIds: async () => (await rpc().call<KeyItem[]>('registry.evict_stale', {})).map((i) => i.key.id),
  };
}

describe('visibility windows and evict_stale', () => {
  const hostIdentity = peer(240);
  const owner = peer(41);
  const running = useNodeProcess({ identity: hostIdentity, env: { clock_start: NOW, ...NO_JOBS } });
  const c = client(() => running.rpc);


  it('a record is served while now − timestamp_created < expired_timeout (boundaries T − 1, T, T + 1)', async () => {
    const t0 = await c.now();
    const k = key(owner, 'window-records', t0);
    await c.register(k);
    const r = record(k, peer(42), t0);
    const later = record(k, peer(43), t0 - 10, { created: t0 + 1 }); // issued earlier, created a second later
    await c.put(r);
    await c.put(later);
    await c.setTime(t0 + EXPIRED - 1);
    expect((await c.records(k)).map(tag)).toEqual([r, later].map(tag));
    expect((await c.stale()).find((i) => i.key.id === k.id)?.records).toEqual([r, later]);
    await c.setTime(t0 + EXPIRED);
    expect(await c.records(k)).toEqual([later]);
    expect((await c.stale()).find((i) => i.key.id === k.id)?.records).toEqual([later]);
    const listed = (await running.rpc.call<{ keys: KeyItem[] }>('registry.list_keys', { limit: 1000 })).keys.find((i) => i.key.id === k.id);
    expect(listed?.records).toEqual([later]);
    await expectCode(running.rpc.call('registry.put_record', { record: r }), 'record_expired');
    await c.setTime(t0 + EXPIRED + 1);
    expect(await c.records(k)).toEqual([]);
  });

  it('a tombstone is visible while now − timestamp_issued < expired_timeout (boundaries T − 1, T, T + 1)', async () => {
    const t0 = await c.now();
    const k = key(owner, 'window-tombstones', t0);
    await c.register(k);
    const t = tombstone(k, peer(42), peer(44).peerId, t0);
    const later = tombstone(k, peer(43), peer(44).peerId, t0 + 1);
    await c.bury(t);
    await c.bury(later);
    const sorted = [t, later].sort((a, b) => ascii(a.issued_by, b.issued_by));
    await c.setTime(t0 + EXPIRED - 1);
    expect(await c.tombstones(k)).toEqual(sorted);
    await c.setTime(t0 + EXPIRED);
    expect(await c.tombstones(k)).toEqual([later]);
    expect((await c.stale()).find((i) => i.key.id === k.id)?.tombstones).toEqual([later]);
    await expectCode(running.rpc.call('registry.add_tombstone', { tombstone: t }), 'record_expired');
    await c.setTime(t0 + EXPIRED + 1);
    expect(await c.tombstones(k)).toEqual([]);
  });

  it('a never-published key is stale at any now; a republished one exactly stale_timeout after its publication', async () => {
    const t0 = await c.now();
    const never = key(owner, 'stale-never', t0 + 30); // created in the (allowed) future, never published
    const published = key(owner, 'stale-published', t0);
    await c.register(never);
    await c.register(published);
    expect(await c.staleIds()).toEqual(expect.arrayContaining([never.id, published.id]));
    const p = t0 + 10;
    await c.setTime(p);
    await c.republish(published);
    expect(await c.staleIds()).not.toContain(published.id);
    await c.setTime(p + STALE - 1);
    expect(await c.staleIds()).not.toContain(published.id);
    expect(await c.staleIds()).toContain(never.id);
    await c.setTime(p + STALE);
    expect(await c.staleIds()).toContain(published.id);
    await c.setTime(p + STALE + 1);
    expect(await c.staleIds()).toContain(published.id);
    await c.republish(published); // fresh again
    expect(await c.staleIds()).not.toContain(published.id);
    expect(await c.staleIds()).toContain(never.id);
  });

  it('evict_stale returns, sorted by key id, each stale key with its served records in rank order and its tombstones', async () => {
    const t0 = await c.now();
    const [a, b, d] = [peer(45), peer(46), peer(47)];
    const keys = ['evict-1', 'evict-2', 'evict-3', 'evict-4', 'evict-5'].map((l) => key(owner, l, t0));
    for (const k of keys) await c.register(k);
    const [withEntries, fresh, empty, republishedLongAgo, tombstonesOnly] = keys;
    const rs = [record(withEntries, a, t0 - 30), record(withEntries, b, t0 - 10), record(withEntries, d, t0 - 20, { host: a })];
    for (const r of rs) await c.put(r);
    const ts = [tombstone(withEntries, d, d.peerId, t0 - 5), tombstone(withEntries, b, a.peerId, t0 - 6)];
    for (const t of ts) await c.bury(t);
    const onlyTs = [tombstone(tombstonesOnly, b, b.peerId, t0), tombstone(tombstonesOnly, a, b.peerId, t0), tombstone(tombstonesOnly, a, a.peerId, t0)];
    for (const t of onlyTs) await c.bury(t);
    await c.republish(republishedLongAgo);
    await c.setTime(t0 + STALE);
    await c.republish(fresh);
    const byTombstoneOrder = (x: Tombstone, y: Tombstone) => ascii(x.issued_by, y.issued_by) || ascii(x.peer_id, y.peer_id);
    const expected: KeyItem[] = [
      { key: withEntries, records: [rs[1], rs[2], rs[0]], tombstones: [...ts].sort(byTombstoneOrder) },
      { key: empty, records: [], tombstones: [] },
      { key: republishedLongAgo, records: [], tombstones: [] },
      { key: tombstonesOnly, records: [], tombstones: [...onlyTs].sort(byTombstoneOrder) },
    ].sort((x, y) => ascii(x.key.id, y.key.id));
    const items = await c.stale();
    const ids = items.map((i) => i.key.id);
    expect(ids).toEqual([...ids].sort(ascii));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).not.toContain(fresh.id);
    const mine = items.filter((i) => keys.some((k) => k.id === i.key.id));
    expect(mine.map((i) => i.tombstones.map(ttag))).toEqual(expected.map((i) => i.tombstones.map(ttag)));
    expect(mine).toEqual(expected);
    // evict_stale deletes nothing
    expect(await c.stale()).toEqual(items);
    expect(await c.records(withEntries)).toEqual(expected.find((i) => i.key.id === withEntries.id)!.records);
  });

  it('a host record is live on its host whatever its age', async () => {
    const t0 = await c.now();
    const k = key(owner, 'host-live', t0);
    await c.register(k);
    const hosted = record(k, peer(48), t0, { host: hostIdentity });
    const other = record(k, peer(49), t0 + 1);
    await c.put(hosted);
    await c.put(other);
    await c.setTime(t0 + 3 * EXPIRED);
    expect((await c.records(k)).map(slotTag)).toEqual([slotTag(hosted)]);
    expect((await c.stale()).find((i) => i.key.id === k.id)?.records.map(slotTag)).toEqual([slotTag(hosted)]);
  });
});

describe('clear_expired', () => {
  const hostIdentity = peer(241);
  const owner = peer(51);
  const running = useNodeProcess({ identity: hostIdentity, env: { clock_start: NOW, ...NO_JOBS } });
  const c = client(() => running.rpc);
  const none = { count_keys: 0, count_records: 0, count_tombstones: 0 };


  // The tests of this block run in order on one node and each leaves nothing that expires later but the
  // host-record keys, so every count is exact.

  it('deletes non-live records, then expired tombstones, then keys left with nothing and old enough, counting each', async () => {
    const T0 = await c.now();
    expect(T0).toBe(NOW);
    const [a, b, d, e] = [peer(52), peer(53), peer(54), peer(55)];
    const k1 = key(owner, 'gc-1', T0 - 1000); // records r1 (expires first) and r2 (later), tombstone t1
    const k2 = key(owner, 'gc-2', T0); // empty, never published: goes at T0 + T
    const k3 = key(owner, 'gc-3', T0); // empty, published at T0 + 50 000: goes at T0 + 50 000 + T
    const k4 = key(owner, 'gc-4', T0 - 1000); // a host record of this node: never goes
    const k5 = key(owner, 'gc-5', T0); // one record: emptied and deleted in the same call
    const k6 = key(owner, 'gc-6', T0 - EXPIRED); // old key kept only by its tombstone
    const k7 = key(owner, 'gc-7', T0 - EXPIRED); // old and empty: deleted at once
    for (const k of [k1, k2, k3, k4, k5, k6, k7]) await c.register(k);
    const r1 = record(k1, a, T0);
    const t1 = tombstone(k1, b, b.peerId, T0);
    const h = record(k4, d, T0, { host: hostIdentity });
    const r5 = record(k5, a, T0);
    const t6 = tombstone(k6, a, e.peerId, T0);
    for (const r of [r1, h, r5]) await c.put(r);
    for (const t of [t1, t6]) await c.bury(t);

    expect(await c.clear()).toEqual({ count_keys: 1, count_records: 0, count_tombstones: 0 });
    await expectCode(running.rpc.call('registry.get_key_metadata', { key_id: k7.id }), 'key_not_found');
    expect(await c.tombstones(k6)).toEqual([t6]);

    await c.setTime(T0 + 100);
    const r2 = record(k1, e, T0 + 100);
    await c.put(r2);
    await c.setTime(T0 + 50_000);
    await c.republish(k3);

    await c.setTime(T0 + EXPIRED - 1);
    expect(await c.clear()).toEqual(none);
    await c.setTime(T0 + EXPIRED);
    // r1, r5; t1, t6; keys k2 (empty), k5 and k6 (emptied by this call)
    expect(await c.clear()).toEqual({ count_keys: 3, count_records: 2, count_tombstones: 2 });
    for (const gone of [k2, k5, k6]) await expectCode(running.rpc.call('registry.get_key_metadata', { key_id: gone.id }), 'key_not_found');
    expect(await c.records(k1)).toEqual([r2]);
    expect(await c.tombstones(k1)).toEqual([]);
    expect(await running.rpc.call('registry.get_key_metadata', { key_id: k3.id })).toEqual(k3);
    expect(await c.clear()).toEqual(none); // nothing left to do

    await c.setTime(T0 + 100 + EXPIRED);
    expect(await c.clear()).toEqual({ count_keys: 1, count_records: 1, count_tombstones: 0 }); // r2, then k1
    await c.setTime(T0 + 50_000 + EXPIRED - 1);
    expect(await c.clear()).toEqual(none);
    await c.setTime(T0 + 50_000 + EXPIRED);
    expect(await c.clear()).toEqual({ count_keys: 1, count_records: 0, count_tombstones: 0 }); // k3
    // the host record and its key stay
    expect((await c.records(k4)).map(slotTag)).toEqual([slotTag(h)]);
    const held = (await running.rpc.call<{ keys: KeyItem[] }>('registry.list_keys', {})).keys.map((i) => i.key.id);
    expect(held).toEqual([k4.id]);
  });

  it('deletes and counts the entries a new key version no longer allows; they are hidden at once', async () => {
    const N = await c.now();
    const [b, x, y] = [peer(56), peer(57), peer(58)];
    const v1 = key(owner, 'gc-policy', N - 10);
    await c.register(v1);
    const byOwner = record(v1, owner, N - 1, { host: x });
    const byOther = record(v1, b, N - 2);
    const ownerTomb = tombstone(v1, owner, y.peerId, N - 3);
    const otherTomb = tombstone(v1, b, y.peerId, N - 4);
    await c.put(byOwner);
    await c.put(byOther);
    await c.bury(ownerTomb);
    await c.bury(otherTomb);
    // a hashcash key whose new version asks for more work than one record has
    const w1 = key(owner, 'gc-work', N - 10);
    await c.register(w1);
    const weak = makeRecord(b, mineExact(b, { key_id: w1.id, peer_id: b.peerId, timestamp_issued: N - 1 }, 0), N - 1);
    const strong = makeRecord(x, mineExact(x, { key_id: w1.id, peer_id: x.peerId, timestamp_issued: N - 2 }, 4), N - 2);
    const anyTomb = tombstone(w1, y, y.peerId, N - 3);
    await c.put(weak);
    await c.put(strong);
    await c.bury(anyTomb);
    expect(await c.records(w1)).toEqual([weak, strong]);

    const v2 = key(owner, 'gc-policy', N - 5, { challenge_type: 'owner/v1' });
    const w2 = key(owner, 'gc-work', N - 5, { challenge: hashcashChallenge(3, 1000), challenge_type: 'hashcash/v1' });
    await c.register(v2);
    await c.register(w2);
    expect(await c.records(v1)).toEqual([byOwner]);
    expect(await c.tombstones(v1)).toEqual([ownerTomb]);
    expect(await c.records(w1)).toEqual([strong]);
    expect(await c.tombstones(w1)).toEqual([anyTomb]);
    const item = (await c.stale()).find((i) => i.key.id === v1.id);
    expect(item).toEqual({ key: v2, records: [byOwner], tombstones: [ownerTomb] });
    await expectCode(running.rpc.call('registry.put_record', { record: byOther }), 'policy_violation');

    expect(await c.clear()).toEqual({ count_keys: 0, count_records: 2, count_tombstones: 1 }); // byOther, weak; otherTomb
    expect(await c.clear()).toEqual(none);
    expect(await c.records(v1)).toEqual([byOwner]);

    // clean up for the next test: everything left expires
    await c.setTime(N + EXPIRED);
    expect(await c.clear()).toEqual({ count_keys: 2, count_records: 2, count_tombstones: 2 });
  });

  it('never deletes a host record on its host, and its key stays', async () => {
    const M = await c.now();
    const k = key(owner, 'gc-host', M);
    await c.register(k);
    const hosted = record(k, peer(59), M, { host: hostIdentity });
    const other = record(k, peer(60), M);
    const t = tombstone(k, peer(60), peer(61).peerId, M);
    await c.put(hosted);
    await c.put(other);
    await c.bury(t);
    await c.setTime(M + 3 * EXPIRED);
    expect(await c.clear()).toEqual({ count_keys: 0, count_records: 1, count_tombstones: 1 });
    expect((await c.records(k)).map(slotTag)).toEqual([slotTag(hosted)]);
    expect(await c.tombstones(k)).toEqual([]);
    expect(await running.rpc.call('registry.get_key_metadata', { key_id: k.id })).toEqual(k);
    expect(await c.clear()).toEqual(none);
  });
});
