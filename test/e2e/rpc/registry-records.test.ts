/**
 * Black-box tests of records and tombstones through a node's socket: the record and tombstone time rules
 * of SPEC §4.1, the verification order of §3.5, the slot order of §4.3, republish_records /
 * republish_tombstones, key_not_found, and `registry.merge` (§9.1).
 * One node, manual clock fixed at NOW (no time travel here); each test uses its own key.
 */
import { describe, expect, it } from 'vitest';
import { useNodeProcess } from '../../helpers/node-process.js';
import { key, peer, record, tombstone } from '../../helpers/objects.js';
import { ascii, expectCode, recordDigestHex, tag, tamper, tombstoneDigestHex, ttag, SMALL_ORDER_PEER_ID } from '../../helpers/registry.js';
import { makeMetadata, makeRecord, makeTombstone } from '../../../protocols/signed.js';
import type { Key, Record as ProviderRecord, Tombstone } from '../../../protocols/types.js';

const NOW = 1_700_000_000;
const SKEW = 30;
const EXPIRED = 86_400;

describe('registry records and tombstones over the socket', () => {
  const running = useNodeProcess({ env: { clock_start: NOW } });
  const owner = peer(21);
  const alice = peer(22);
  const bob = peer(23);
  const host = peer(24);


  let labels = 0;
  /** A fresh registered key for one test. */
  async function freshKey(opts: Parameters<typeof key>[3] = {}): Promise<Key> {
    const k = key(owner, `records-${labels++}`, NOW - 1000, opts);
    expect(await running.rpc.call('registry.register_key', { key: k })).toEqual({ key_id: k.id });
    return k;
  }
  const put = (r: unknown) => running.rpc.call('registry.put_record', { record: r });
  const bury = (t: unknown) => running.rpc.call('registry.add_tombstone', { tombstone: t });
  const records = (k: Key) => running.rpc.call<ProviderRecord[]>('registry.get_records', { key_id: k.id });
  const tombstones = (k: Key) => running.rpc.call<Tombstone[]>('registry.get_tombstones', { key_id: k.id });
  /** A key this node does not hold. */
  const unknownKey = key(owner, 'never-registered', NOW);

  // ---- §4.1 record time rules, in their order ----

  it('accepts a record created exactly max_clock_skew in the future', async () => {
    const k = await freshKey();
    const r = record(k, alice, NOW + SKEW);
    expect(await put(r)).toEqual({});
    expect(await records(k)).toEqual([r]);
  });

  it('refuses a record created max_clock_skew + 1 in the future (timestamp_in_future)', async () => {
    const k = await freshKey();
    const e = await expectCode(put(record(k, alice, NOW, { created: NOW + SKEW + 1 })), 'timestamp_in_future');
    expect(e.rpcCode).toBe(1004);
    expect(await records(k)).toEqual([]);
  });

  it('refuses a record issued max_clock_skew + 1 in the future before comparing issued with created', async () => {
    const k = await freshKey();
    // created is fine, issued is in the future and after created: the future rule comes first
    await expectCode(put(record(k, alice, NOW + SKEW + 1, { created: NOW + SKEW })), 'timestamp_in_future');
    expect(await records(k)).toEqual([]);
  });

  it('refuses a record issued after it was created (invalid_record)', async () => {
    const k = await freshKey();
    const e = await expectCode(put(record(k, alice, NOW + 10, { created: NOW + 5 })), 'invalid_record');
    expect(e.rpcCode).toBe(1003);
    await expectCode(put(record(k, alice, NOW - EXPIRED + 1, { created: NOW - EXPIRED })), 'invalid_record'); // before the expiry rule
    expect(await records(k)).toEqual([]);
  });

  it('refuses a record whose age is expired_timeout (record_expired) and accepts one a second younger', async () => {
    const k = await freshKey();
    const e = await expectCode(put(record(k, alice, NOW - EXPIRED)), 'record_expired');
    expect(e.rpcCode).toBe(1005);
    // the age counts from timestamp_created, not timestamp_issued
    const young = record(k, alice, NOW - EXPIRED - 500, { created: NOW - EXPIRED + 1 });
    expect(await put(young)).toEqual({});
    expect(await records(k)).toEqual([young]);
  });

  // ---- §4.1 tombstone time rules ----

  it('accepts a tombstone issued exactly max_clock_skew in the future and refuses one a second later', async () => {
    const k = await freshKey();
    const ok = tombstone(k, alice, host.peerId, NOW + SKEW);
    expect(await bury(ok)).toEqual({});
    await expectCode(bury(tombstone(k, bob, host.peerId, NOW + SKEW + 1)), 'timestamp_in_future');
    expect(await tombstones(k)).toEqual([ok]);
  });

  it('refuses a tombstone issued expired_timeout ago (record_expired) and accepts one a second younger', async () => {
    const k = await freshKey();
    await expectCode(bury(tombstone(k, alice, host.peerId, NOW - EXPIRED)), 'record_expired');
    const young = tombstone(k, alice, host.peerId, NOW - EXPIRED + 1);
    expect(await bury(young)).toEqual({});
    expect(await tombstones(k)).toEqual([young]);
  });

  // ---- §3.5 order of checks ----

  it('checks time rules before signatures', async () => {
    const k = await freshKey();
    const future = record(k, alice, NOW + SKEW + 1);
    await expectCode(put({ ...future, signature: tamper(future.signature) }), 'timestamp_in_future');
    const expired = record(k, alice, NOW - EXPIRED);
    await expectCode(put({ ...expired, metadata: { ...expired.metadata, issuer_signature: tamper(expired.metadata.issuer_signature) } }), 'record_expired');
    const inverted = record(k, alice, NOW, { created: NOW - 1 });
    await expectCode(put({ ...inverted, signature: tamper(inverted.signature) }), 'invalid_record');
    const t = tombstone(k, alice, host.peerId, NOW + SKEW + 1);
    await expectCode(bury({ ...t, issuer_signature: tamper(t.issuer_signature) }), 'timestamp_in_future');
  });

  it('checks time rules before the key: a future record of an unknown key is timestamp_in_future', async () => {
    await expectCode(put(record(unknownKey, alice, NOW + SKEW + 1)), 'timestamp_in_future');
    await expectCode(bury(tombstone(unknownKey, alice, host.peerId, NOW - EXPIRED)), 'record_expired');
  });

  it('checks the key before signatures: a badly signed record of an unknown key is key_not_found', async () => {
    const r = record(unknownKey, alice, NOW);
    await expectCode(put({ ...r, signature: tamper(r.signature) }), 'key_not_found');
    const t = tombstone(unknownKey, alice, host.peerId, NOW);
    await expectCode(bury({ ...t, issuer_signature: tamper(t.issuer_signature) }), 'key_not_found');
  });

  it('is key_not_found for put_record, add_tombstone, get_records, get_tombstones of an unknown key', async () => {
    const e = await expectCode(put(record(unknownKey, alice, NOW)), 'key_not_found');
    expect(e.rpcCode).toBe(1006);
    await expectCode(bury(tombstone(unknownKey, alice, host.peerId, NOW)), 'key_not_found');
    await expectCode(records(unknownKey), 'key_not_found');
    await expectCode(tombstones(unknownKey), 'key_not_found');
  });

  it('checks shapes first: invalid_params, then invalid_peer_id, before anything else', async () => {
    const r = record(unknownKey, alice, NOW + SKEW + 1);
    const badPeer = { ...r, metadata: { ...r.metadata, peer_id: SMALL_ORDER_PEER_ID } };
    // an over-long value beats a bad peer id, which beats the time rule and the unknown key
    await expectCode(put({ ...badPeer, metadata: { ...badPeer.metadata, value: 'v'.repeat(1025) } }), 'invalid_params');
    await expectCode(put(badPeer), 'invalid_peer_id');
    await expectCode(put({ ...r, extra: 1 }), 'invalid_params');
    await expectCode(put({ ...r, metadata: { ...r.metadata, extra: 1 } }), 'invalid_params');
    await expectCode(put({ ...r, metadata: { ...r.metadata, relay_id: [alice.peerId, bob.peerId] } }), 'invalid_params');
    await expectCode(put({ ...r, metadata: { ...r.metadata, service_id: [''] } }), 'invalid_params');
  });

  // ---- §1 peer ids ----

  it('refuses invalid peer ids in issued_by, peer_id and relay_id of records and in tombstones (invalid_peer_id)', async () => {
    const k = await freshKey();
    const r = record(k, alice, NOW);
    const e = await expectCode(put({ ...r, metadata: { ...r.metadata, issued_by: 'not-a-peer-id' } }), 'invalid_peer_id');
    expect(e.rpcCode).toBe(1001);
    await expectCode(put({ ...r, metadata: { ...r.metadata, peer_id: SMALL_ORDER_PEER_ID } }), 'invalid_peer_id');
    await expectCode(put({ ...r, metadata: { ...r.metadata, relay_id: [alice.peerId.slice(1)] } }), 'invalid_peer_id');
    const t = tombstone(k, alice, host.peerId, NOW);
    await expectCode(bury({ ...t, peer_id: SMALL_ORDER_PEER_ID }), 'invalid_peer_id');
    await expectCode(bury({ ...t, issued_by: 'x' }), 'invalid_peer_id');
    expect(await records(k)).toEqual([]);
    expect(await tombstones(k)).toEqual([]);
  });

  // ---- §3.5 step 5: every signature ----

  it('refuses a record whose issuer_signature does not verify (invalid_signature)', async () => {
    const k = await freshKey();
    const good = record(k, alice, NOW, { host });
    // tampered signature
    const bad1 = makeRecord(host, { ...good.metadata, issuer_signature: tamper(good.metadata.issuer_signature) }, NOW);
    const e = await expectCode(put(bad1), 'invalid_signature');
    expect(e.rpcCode).toBe(1002);
    // metadata changed after the issuer signed it, co-signed by the host
    const bad2 = makeRecord(host, { ...good.metadata, value: 'changed' }, NOW);
    await expectCode(put(bad2), 'invalid_signature');
    expect(await records(k)).toEqual([]);
  });

  it('refuses a record whose host signature does not verify (invalid_signature)', async () => {
    const k = await freshKey();
    const good = record(k, alice, NOW, { host });
    await expectCode(put({ ...good, signature: tamper(good.signature) }), 'invalid_signature');
    // signed by the issuer instead of the host
    await expectCode(put(makeRecord(alice, good.metadata, NOW)), 'invalid_signature');
    // the host signature binds timestamp_created
    await expectCode(put({ ...good, timestamp_created: NOW + 1 }), 'invalid_signature');
    expect(await records(k)).toEqual([]);
    expect(await put(good)).toEqual({});
    expect(await records(k)).toEqual([good]);
  });

  it('refuses a tombstone whose issuer_signature does not verify (invalid_signature)', async () => {
    const k = await freshKey();
    const t = tombstone(k, alice, host.peerId, NOW);
    await expectCode(bury({ ...t, issuer_signature: tamper(t.issuer_signature) }), 'invalid_signature');
    await expectCode(bury({ ...t, timestamp_issued: NOW - 1 }), 'invalid_signature');
    await expectCode(bury({ ...t, issued_by: bob.peerId }), 'invalid_signature');
    expect(await tombstones(k)).toEqual([]);
  });

  // ---- §4.3 slot order ----

  it('a tombstone beats a record of the same slot at equal timestamp_issued', async () => {
    const k = await freshKey();
    const r = record(k, alice, NOW - 10, { host });
    const t = tombstone(k, alice, host.peerId, NOW - 10);
    expect(await put(r)).toEqual({});
    expect(await bury(t)).toEqual({});
    expect(await records(k)).toEqual([]);
    expect(await tombstones(k)).toEqual([t]);
    // the record cannot come back, even renewed (higher created, same issued)
    await expectCode(put(r), 'newer_entry_exists');
    await expectCode(put(record(k, alice, NOW - 10, { host, created: NOW })), 'newer_entry_exists');
    expect(await records(k)).toEqual([]);
  });

  it('a record issued after the tombstone of its slot wins over it', async () => {
    const k = await freshKey();
    const t = tombstone(k, alice, host.peerId, NOW - 10);
    const r = record(k, alice, NOW - 9, { host });
    expect(await bury(t)).toEqual({});
    expect(await put(r)).toEqual({});
    expect(await records(k)).toEqual([r]);
    expect(await tombstones(k)).toEqual([]);
    await expectCode(bury(t), 'newer_entry_exists');
  });

  it('a renewal (same timestamp_issued, higher timestamp_created) wins; the older creation loses', async () => {
    const k = await freshKey();
    const first = record(k, alice, NOW - 100, { host });
    const renewed = record(k, alice, NOW - 100, { host, created: NOW - 50 });
    expect(await put(first)).toEqual({});
    expect(await put(renewed)).toEqual({});
    expect(await records(k)).toEqual([renewed]);
    const e = await expectCode(put(first), 'newer_entry_exists');
    expect(e.rpcCode).toBe(1008);
    expect(await records(k)).toEqual([renewed]);
  });

  it('between two records equal in issued and created, the greater record_digest wins, whatever the order', async () => {
    const k = await freshKey();
    const [r1, r2] = [record(k, alice, NOW, { value: 'one' }), record(k, alice, NOW, { value: 'two' })].sort((a, b) => ascii(recordDigestHex(a), recordDigestHex(b)));
    // lesser first, then greater: replaced
    expect(await put(r1)).toEqual({});
    expect(await put(r2)).toEqual({});
    expect(await records(k)).toEqual([r2]);
    await expectCode(put(r1), 'newer_entry_exists');
    // greater first (another slot), then lesser: refused
    const [s1, s2] = [record(k, bob, NOW, { value: 'one' }), record(k, bob, NOW, { value: 'two' })].sort((a, b) => ascii(recordDigestHex(a), recordDigestHex(b)));
    expect(await put(s2)).toEqual({});
    await expectCode(put(s1), 'newer_entry_exists');
    expect((await records(k)).map(tag).sort()).toEqual([r2, s2].map(tag).sort());
    expect(await records(k)).toContainEqual(s2);
  });

  it('between two tombstones equal in issued, the greater tombstone_digest wins', async () => {
    const k = await freshKey();
    const mk = (solution: string) => makeTombstone(alice, { key_id: k.id, peer_id: host.peerId, timestamp_issued: NOW, solution });
    const [t1, t2] = [mk(''), mk('AQ')].sort((a, b) => ascii(tombstoneDigestHex(a), tombstoneDigestHex(b)));
    expect(await bury(t1)).toEqual({});
    expect(await bury(t2)).toEqual({});
    expect(await tombstones(k)).toEqual([t2]);
    await expectCode(bury(t1), 'newer_entry_exists');
  });

  it('a write that loses to the stored entry is newer_entry_exists and changes nothing', async () => {
    const k = await freshKey();
    const newer = record(k, alice, NOW - 5);
    expect(await put(newer)).toEqual({});
    await expectCode(put(record(k, alice, NOW - 6, { created: NOW })), 'newer_entry_exists');
    await expectCode(bury(tombstone(k, alice, alice.peerId, NOW - 6)), 'newer_entry_exists');
    expect(await records(k)).toEqual([newer]);
    expect(await tombstones(k)).toEqual([]);
  });

  it('an identical write is a success that changes nothing', async () => {
    const k = await freshKey();
    const r = record(k, alice, NOW - 5);
    const t = tombstone(k, bob, host.peerId, NOW - 5);
    expect(await put(r)).toEqual({});
    expect(await put(r)).toEqual({});
    expect(await bury(t)).toEqual({});
    expect(await bury(t)).toEqual({});
    expect(await records(k)).toEqual([r]);
    expect(await tombstones(k)).toEqual([t]);
  });

  it('slots are (issued_by, peer_id): one issuer on two hosts holds two records', async () => {
    const k = await freshKey();
    const onHost = record(k, alice, NOW - 5, { host });
    const onSelf = record(k, alice, NOW - 6);
    await put(onHost);
    await put(onSelf);
    expect(await records(k)).toEqual([onHost, onSelf]);
    const t = tombstone(k, alice, host.peerId, NOW - 4);
    await bury(t);
    expect(await records(k)).toEqual([onSelf]);
    expect(await tombstones(k)).toEqual([t]);
  });

  it('get_tombstones sorts by (issued_by, peer_id)', async () => {
    const k = await freshKey();
    const ts = [
      tombstone(k, alice, host.peerId, NOW - 1),
      tombstone(k, bob, alice.peerId, NOW - 2),
      tombstone(k, alice, bob.peerId, NOW - 3),
      tombstone(k, bob, host.peerId, NOW - 4),
    ];
    for (const t of ts) await bury(t);
    const expected = [...ts].sort((a, b) => ascii(a.issued_by, b.issued_by) || ascii(a.peer_id, b.peer_id));
    expect((await tombstones(k)).map(ttag)).toEqual(expected.map(ttag));
    expect(await tombstones(k)).toEqual(expected);
  });

  // ---- republish_records / republish_tombstones ----

  it('republish_records stores each good entry and lists the failures by index', async () => {
    const k = await freshKey();
    const stored = record(k, alice, NOW - 10);
    const winner = record(k, bob, NOW - 10);
    await put(stored);
    await put(winner);
    const carol = peer(25);
    const dave = peer(26);
    const fresh = record(k, carol, NOW - 7);
    const replacing = record(k, alice, NOW - 9); // beats `stored`
    const losing = record(k, bob, NOW - 11); // loses to `winner`
    const badSig = record(k, dave, NOW - 8);
    const malformed = { ...record(k, dave, NOW - 8), signature: undefined };
    const unknownField = { ...record(k, dave, NOW - 8), extra: 1 };
    const future = record(k, peer(27), NOW + SKEW + 1);
    const invalidPeer = { ...record(k, dave, NOW - 8), metadata: { ...record(k, dave, NOW - 8).metadata, peer_id: SMALL_ORDER_PEER_ID } };
    const result = await running.rpc.call('registry.republish_records', {
      records: [fresh, losing, { ...badSig, signature: tamper(badSig.signature) }, malformed, replacing, winner, unknownField, future, invalidPeer, 'not an object'],
    });
    expect(result).toEqual({
      updated: 2,
      rejected: [
        { index: 2, code: 'invalid_signature' },
        { index: 3, code: 'invalid_params' },
        { index: 6, code: 'invalid_params' },
        { index: 7, code: 'timestamp_in_future' },
        { index: 8, code: 'invalid_peer_id' },
        { index: 9, code: 'invalid_params' },
      ],
    });
    expect(await records(k)).toEqual([fresh, replacing, winner]);
  });

  it('republish_tombstones stores each good entry and lists the failures by index', async () => {
    const k = await freshKey();
    const r = record(k, alice, NOW - 10, { host });
    const old = tombstone(k, bob, host.peerId, NOW - 3);
    await put(r);
    await bury(old);
    const removal = tombstone(k, alice, host.peerId, NOW - 9); // beats r
    const losing = tombstone(k, bob, host.peerId, NOW - 4); // loses to `old`
    const bad = tombstone(k, peer(25), host.peerId, NOW - 5);
    const expired = tombstone(k, peer(26), host.peerId, NOW - EXPIRED);
    const fresh = tombstone(k, peer(27), host.peerId, NOW - 1);
    const result = await running.rpc.call('registry.republish_tombstones', {
      tombstones: [removal, losing, { ...bad, issuer_signature: tamper(bad.issuer_signature) }, expired, { ...fresh, solution: '!' }, old, fresh],
    });
    expect(result).toEqual({
      updated: 2,
      rejected: [
        { index: 2, code: 'invalid_signature' },
        { index: 3, code: 'record_expired' },
        { index: 4, code: 'invalid_params' },
      ],
    });
    expect(await records(k)).toEqual([]);
    expect((await tombstones(k)).map(ttag).sort()).toEqual([removal, old, fresh].map(ttag).sort());
  });

  it('republish of entries of two keys is invalid_params and stores nothing', async () => {
    const k1 = await freshKey();
    const k2 = await freshKey();
    const e = await expectCode(running.rpc.call('registry.republish_records', { records: [record(k1, alice, NOW), record(k2, alice, NOW)] }), 'invalid_params');
    expect(e.rpcCode).toBe(-32602);
    await expectCode(running.rpc.call('registry.republish_tombstones', { tombstones: [tombstone(k1, alice, host.peerId, NOW), tombstone(k2, alice, host.peerId, NOW)] }), 'invalid_params');
    expect(await records(k1)).toEqual([]);
    expect(await records(k2)).toEqual([]);
    expect(await tombstones(k1)).toEqual([]);
  });

  it('republish of entries of an unknown key is key_not_found', async () => {
    await expectCode(running.rpc.call('registry.republish_records', { records: [record(unknownKey, alice, NOW)] }), 'key_not_found');
    await expectCode(running.rpc.call('registry.republish_tombstones', { tombstones: [tombstone(unknownKey, alice, host.peerId, NOW)] }), 'key_not_found');
  });

  it('republish whose records / tombstones param is not a list is invalid_params', async () => {
    const k = await freshKey();
    const r = record(k, alice, NOW);
    await expectCode(running.rpc.call('registry.republish_records', { records: r }), 'invalid_params');
    await expectCode(running.rpc.call('registry.republish_records', { records: 'x' }), 'invalid_params');
    await expectCode(running.rpc.call('registry.republish_records', {}), 'invalid_params');
    await expectCode(running.rpc.call('registry.republish_records', { records: [r], extra: 1 }), 'invalid_params');
    await expectCode(running.rpc.call('registry.republish_tombstones', { tombstones: { 0: tombstone(k, alice, host.peerId, NOW) } }), 'invalid_params');
    expect(await records(k)).toEqual([]);
  });

  // ---- registry.merge ----

  it('merge returns the slot winners sorted by (key_id, issued_by, peer_id), checking shapes but not signatures', async () => {
    const k1 = key(owner, 'merge-1', NOW); // neither key is held: merge does not look
    const k2 = key(owner, 'merge-2', NOW);
    const a1 = record(k1, alice, NOW - 10);
    const a1renewed = record(k1, alice, NOW - 10, { created: NOW - 5 });
    const a1newer = record(k1, alice, NOW - 9);
    const b1 = record(k1, bob, NOW - 20, { host });
    const b1forged = { ...record(k1, bob, NOW - 19, { host }), signature: tamper(b1.signature) };
    const a2 = record(k2, alice, NOW - 30);
    const [d1, d2] = [record(k2, bob, NOW, { value: 'p' }), record(k2, bob, NOW, { value: 'q' })].sort((x, y) => ascii(recordDigestHex(x), recordDigestHex(y)));
    const merged = await running.rpc.call<ProviderRecord[]>('registry.merge', {
      records: [
        [a1, b1, d2],
        [a1renewed, a2],
        [b1forged, d1, a1newer, a1],
        [],
      ],
    });
    const winners = [a1newer, b1forged, a2, d2];
    const expected = winners.sort(
      (x, y) => ascii(x.metadata.key_id, y.metadata.key_id) || ascii(x.metadata.issued_by, y.metadata.issued_by) || ascii(x.metadata.peer_id, y.metadata.peer_id),
    );
    expect(merged.map(tag)).toEqual(expected.map(tag));
    expect(merged).toEqual(expected);
    // the order of the lists does not matter
    expect(await running.rpc.call('registry.merge', { records: [[a1newer, a1, a2], [d1], [b1forged, d2], [b1, a1renewed]] })).toEqual(expected);
    expect(await running.rpc.call('registry.merge', { records: [] })).toEqual([]);
    // merge stores nothing
    await expectCode(running.rpc.call('registry.get_records', { key_id: k1.id }), 'key_not_found');
  });

  it('merge refuses malformed params (invalid_params / invalid_peer_id)', async () => {
    const k = key(owner, 'merge-bad', NOW);
    const r = record(k, alice, NOW);
    await expectCode(running.rpc.call('registry.merge', { records: [r] }), 'invalid_params'); // a list of records, not a list of lists
    await expectCode(running.rpc.call('registry.merge', { records: [[{ ...r, extra: 1 }]] }), 'invalid_params');
    await expectCode(running.rpc.call('registry.merge', { records: [[{ ...r, timestamp_created: -1 }]] }), 'invalid_params');
    await expectCode(running.rpc.call('registry.merge', { records: [[{ ...r, metadata: { ...r.metadata, issued_by: 'nope' } }]] }), 'invalid_peer_id');
    await expectCode(running.rpc.call('registry.merge', {}), 'invalid_params');
  });

  // ---- owner/v1 (§6) ----

  it('owner/v1 accepts records and tombstones by the owner only (policy_violation), checked before signatures', async () => {
    const k = await freshKey({ challenge_type: 'owner/v1' });
    const byOwner = record(k, owner, NOW - 2, { host });
    expect(await put(byOwner)).toEqual({});
    const e = await expectCode(put(record(k, alice, NOW - 1)), 'policy_violation');
    expect(e.rpcCode).toBe(1011);
    const forged = record(k, alice, NOW - 1, { host });
    await expectCode(put({ ...forged, signature: tamper(forged.signature) }), 'policy_violation');
    await expectCode(bury(tombstone(k, alice, host.peerId, NOW - 1)), 'policy_violation');
    await expectCode(bury(tombstone(k, alice, alice.peerId, NOW - 1)), 'policy_violation');
    // republish lists the policy failures
    expect(await running.rpc.call('registry.republish_records', { records: [record(k, bob, NOW - 1), record(k, owner, NOW - 1)] })).toEqual({
      updated: 1,
      rejected: [{ index: 0, code: 'policy_violation' }],
    });
    const ownerTomb = tombstone(k, owner, host.peerId, NOW - 1);
    expect(await bury(ownerTomb)).toEqual({});
    expect(await records(k)).toEqual([record(k, owner, NOW - 1)]);
    expect(await tombstones(k)).toEqual([ownerTomb]);
  });

  it('issuer and host may differ, and both must sign (hosted record by another peer)', async () => {
    const k = await freshKey();
    const md = makeMetadata(alice, { key_id: k.id, peer_id: host.peerId, timestamp_issued: NOW - 3, value: 'hosted' });
    const r = makeRecord(host, md, NOW - 1);
    expect(await put(r)).toEqual({});
    expect(await records(k)).toEqual([r]);
  });
});
