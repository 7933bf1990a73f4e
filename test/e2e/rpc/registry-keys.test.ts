/**
 * Black-box tests of keys (resources) through a node's socket: SPEC §3.5 checks and their order, the key
 * time rule of §4.1, the key order and register / republish semantics of §4.2, §6 challenge shapes, and
 * `registry.get_key_id`, `registry.get_key_metadata`, `registry.merge_keys` of §9.1.
 * One node, manual clock fixed at NOW (no time travel here).
 */
import { describe, expect, it } from 'vitest';
import { useNodeProcess } from '../../helpers/node-process.js';
import { key, peer } from '../../helpers/objects.js';
import { expectCode, tamper, SMALL_ORDER_PEER_ID, type KeyItem } from '../../helpers/registry.js';
import { hashcashChallenge } from '../../../protocols/pow.js';
import { base64urlDecode, compareBytes } from '../../../protocols/encoding.js';
import { resourceId } from '../../../protocols/objects.js';
import { makeKey } from '../../../protocols/signed.js';
import type { ChallengeType, Key } from '../../../protocols/types.js';

const NOW = 1_700_000_000;
const SKEW = 30;

describe('registry keys over the socket', () => {
  const running = useNodeProcess({ env: { clock_start: NOW } });
  const owner = peer(11);


  const register = (k: unknown) => running.rpc.call('registry.register_key', { key: k });
  const republish = (k: unknown) => running.rpc.call('registry.republish_key', { key: k });
  const stored = (id: string) => running.rpc.call<Key>('registry.get_key_metadata', { key_id: id });
  const staleIds = async () => (await running.rpc.call<KeyItem[]>('registry.evict_stale', {})).map((i) => i.key.id);

  // ---- §4.1 time rule ----

  it('accepts a key created exactly max_clock_skew in the future', async () => {
    const k = key(owner, 'skew-edge', NOW + SKEW);
    expect(await register(k)).toEqual({ key_id: k.id });
    expect(await stored(k.id)).toEqual(k);
  });

  it('refuses a key created max_clock_skew + 1 in the future (timestamp_in_future), on register and republish', async () => {
    const k = key(owner, 'skew-over', NOW + SKEW + 1);
    const e = await expectCode(register(k), 'timestamp_in_future');
    expect(e.message).toContain(String(NOW + SKEW + 1));
    await expectCode(republish(k), 'timestamp_in_future');
    await expectCode(stored(k.id), 'key_not_found');
  });

  // ---- §3.5 order of checks ----

  it('checks time before signatures: a future key with a bad signature is timestamp_in_future', async () => {
    const k = key(owner, 'future-badsig', NOW + SKEW + 1);
    await expectCode(register({ ...k, signature: tamper(k.signature) }), 'timestamp_in_future');
  });

  it('checks shapes before time: a future key whose id mismatches is invalid_key', async () => {
    const k = key(owner, 'future-badid', NOW + SKEW + 1);
    await expectCode(register({ ...k, id: resourceId('other', owner.peerId) }), 'invalid_key');
  });

  it('checks shape steps in order: invalid_params, invalid_peer_id, unsupported_challenge_type, invalid_key', async () => {
    const k = key(owner, 'order', NOW);
    const badId = resourceId('elsewhere', owner.peerId);
    // a label over 256 bytes wins over everything else
    await expectCode(register({ ...k, label: 'x'.repeat(257), owner_peer_id: SMALL_ORDER_PEER_ID, challenge_type: 'x/v9', id: badId }), 'invalid_params');
    await expectCode(register({ ...k, owner_peer_id: SMALL_ORDER_PEER_ID, challenge_type: 'x/v9', id: badId }), 'invalid_peer_id');
    await expectCode(register({ ...k, challenge_type: 'x/v9', id: badId }), 'unsupported_challenge_type');
    await expectCode(register({ ...k, id: badId, signature: tamper(k.signature) }), 'invalid_key');
  });

  it('refuses unknown fields and missing fields as invalid_params', async () => {
    const k = key(owner, 'fields', NOW);
    await expectCode(register({ ...k, extra: 1 }), 'invalid_params');
    const { signature: _omitted, ...noSig } = k;
    await expectCode(register(noSig), 'invalid_params');
    await expectCode(register({ ...k, timestamp_created: -1 }), 'invalid_params');
    await expectCode(register({ ...k, signature: k.signature.slice(0, 40) }), 'invalid_params');
    await expectCode(stored(k.id), 'key_not_found');
  });

  // ---- §3.1 / §6 shapes ----

  it('refuses a key whose id is not resource_id(label, owner) (invalid_key)', async () => {
    const k = key(owner, 'mismatch', NOW);
    const e = await expectCode(register({ ...k, id: resourceId('mismatch2', owner.peerId) }), 'invalid_key');
    expect(e.rpcCode).toBe(1003);
    await expectCode(stored(k.id), 'key_not_found');
  });

  it('refuses a non-empty challenge for "" and "owner/v1" (invalid_key)', async () => {
    for (const challenge_type of ['', 'owner/v1'] as ChallengeType[]) {
      const k = key(owner, `nonempty-${challenge_type}`, NOW, { challenge: new Uint8Array([1]), challenge_type });
      await expectCode(register(k), 'invalid_key');
      await expectCode(stored(k.id), 'key_not_found');
    }
  });

  it('refuses a hashcash/v1 challenge that is not u8(min_bits) ‖ u32(half_life ≥ 1) (invalid_key)', async () => {
    const bad = [new Uint8Array(0), new Uint8Array([4, 1, 0, 0]), new Uint8Array([4, 1, 0, 0, 0, 0]), hashcashChallenge(4, 0)];
    for (const [i, challenge] of bad.entries()) {
      const k = key(owner, `hashcash-bad-${i}`, NOW, { challenge, challenge_type: 'hashcash/v1' });
      await expectCode(register(k), 'invalid_key');
    }
    const ok = key(owner, 'hashcash-ok', NOW, { challenge: hashcashChallenge(0, 1), challenge_type: 'hashcash/v1' });
    expect(await register(ok)).toEqual({ key_id: ok.id });
  });

  it('refuses an unknown challenge_type (unsupported_challenge_type)', async () => {
    const k = key(owner, 'unsupported', NOW, { challenge_type: 'hashcash/v2' as ChallengeType });
    const e = await expectCode(register(k), 'unsupported_challenge_type');
    expect(e.rpcCode).toBe(1010);
  });

  it('refuses an owner that is not a valid peer id (invalid_peer_id)', async () => {
    for (const bad of [SMALL_ORDER_PEER_ID, 'not-a-peer-id', owner.peerId.slice(0, -1)]) {
      const k = { ...key(owner, 'bad-owner', NOW), owner_peer_id: bad, id: resourceId('bad-owner', bad) };
      await expectCode(register(k), 'invalid_peer_id');
    }
    await expectCode(running.rpc.call('registry.get_key_id', { label: 'x', owner_peer_id: SMALL_ORDER_PEER_ID }), 'invalid_peer_id');
  });

  it('refuses a key whose signature does not verify (invalid_signature)', async () => {
    const k = key(owner, 'badsig', NOW);
    const e = await expectCode(register({ ...k, signature: tamper(k.signature) }), 'invalid_signature');
    expect(e.rpcCode).toBe(1002);
    // a valid signature by another peer over the same digest does not verify either
    const forged = makeKey(peer(12), { label: 'badsig', timestamp_created: NOW });
    await expectCode(register({ ...k, signature: forged.signature }), 'invalid_signature');
    await expectCode(republish({ ...k, signature: tamper(k.signature) }), 'invalid_signature');
    await expectCode(stored(k.id), 'key_not_found');
  });

  // ---- §4.2 key versions ----

  it('a newer version replaces the stored key', async () => {
    const v1 = key(owner, 'versions', NOW - 100);
    const v2 = key(owner, 'versions', NOW - 50);
    expect(await register(v1)).toEqual({ key_id: v1.id });
    expect(await stored(v1.id)).toEqual(v1);
    expect(await register(v2)).toEqual({ key_id: v1.id });
    expect(await stored(v1.id)).toEqual(v2);
  });

  it('register of an older version is key_outdated and keeps the newer one', async () => {
    const v1 = key(owner, 'outdated', NOW - 100);
    const v2 = key(owner, 'outdated', NOW - 50);
    await register(v2);
    const e = await expectCode(register(v1), 'key_outdated');
    expect(e.rpcCode).toBe(1007);
    expect(await stored(v1.id)).toEqual(v2);
  });

  it('checks signatures before the key order: an older version with a bad signature is invalid_signature', async () => {
    const v1 = key(owner, 'outdated-badsig', NOW - 100);
    const v2 = key(owner, 'outdated-badsig', NOW - 50);
    await register(v2);
    await expectCode(register({ ...v1, signature: tamper(v1.signature) }), 'invalid_signature');
  });

  it('republish of an older version is a success that changes nothing (not even the publish time)', async () => {
    const v1 = key(owner, 'republish-old', NOW - 100);
    const v2 = key(owner, 'republish-old', NOW - 50);
    await register(v2); // never published: stale
    expect(await republish(v1)).toEqual({});
    expect(await stored(v1.id)).toEqual(v2);
    expect(await staleIds()).toContain(v1.id);
  });

  it('republish of a new or winning key stores it as published now (not stale)', async () => {
    const v1 = key(owner, 'republish-new', NOW - 100);
    expect(await republish(v1)).toEqual({});
    expect(await stored(v1.id)).toEqual(v1);
    expect(await staleIds()).not.toContain(v1.id);
    // a winning version registered is stored as never published, hence stale at once
    const v2 = key(owner, 'republish-new', NOW - 50);
    await register(v2);
    expect(await staleIds()).toContain(v1.id);
    // and republishing the winner publishes it
    const v3 = key(owner, 'republish-new', NOW - 10);
    expect(await republish(v3)).toEqual({});
    expect(await stored(v1.id)).toEqual(v3);
    expect(await staleIds()).not.toContain(v1.id);
  });

  it('republish of the identical key only marks it published', async () => {
    const k = key(owner, 'republish-identical', NOW - 10);
    await register(k);
    expect(await staleIds()).toContain(k.id);
    expect(await republish(k)).toEqual({});
    expect(await stored(k.id)).toEqual(k);
    expect(await staleIds()).not.toContain(k.id);
  });

  it('an identical register_key is a success that changes nothing and does not reset timestamp_published', async () => {
    const k = key(owner, 'identical', NOW - 10);
    expect(await register(k)).toEqual({ key_id: k.id });
    await republish(k);
    expect(await staleIds()).not.toContain(k.id);
    expect(await register(k)).toEqual({ key_id: k.id });
    expect(await stored(k.id)).toEqual(k);
    expect(await staleIds()).not.toContain(k.id);
  });

  it('at equal timestamp_created the greater signature bytes win, whatever the order of arrival', async () => {
    for (const [label, greaterFirst] of [['tie-a', false], ['tie-b', true]] as const) {
      const a = key(owner, label, NOW - 5);
      const b = key(owner, label, NOW - 5, { challenge_type: 'owner/v1' });
      expect(a.id).toBe(b.id);
      const cmp = compareBytes(base64urlDecode(a.signature)!, base64urlDecode(b.signature)!);
      expect(cmp).not.toBe(0);
      const [greater, lesser] = cmp > 0 ? [a, b] : [b, a];
      if (greaterFirst) {
        await register(greater);
        await expectCode(register(lesser), 'key_outdated');
        expect(await republish(lesser)).toEqual({});
      } else {
        await register(lesser);
        expect(await register(greater)).toEqual({ key_id: a.id });
      }
      expect(await stored(a.id)).toEqual(greater);
      expect(await running.rpc.call('registry.merge_keys', { keys: [lesser, greater] })).toEqual(greater);
      expect(await running.rpc.call('registry.merge_keys', { keys: [greater, lesser] })).toEqual(greater);
    }
  });

  // ---- §9.1 reads and merge_keys ----

  it('get_key_id returns resource_id(label, owner) and get_key_metadata of an unknown key is key_not_found', async () => {
    const k = key(owner, 'get-id', NOW);
    expect(await running.rpc.call('registry.get_key_id', { label: 'get-id', owner_peer_id: owner.peerId })).toBe(k.id);
    const e = await expectCode(stored(k.id), 'key_not_found');
    expect(e.rpcCode).toBe(1006);
    await expectCode(running.rpc.call('registry.get_key_metadata', { key_id: 'not-a-resource-id' }), 'invalid_params');
  });

  it('merge_keys returns the winner by the key order and refuses an empty list or mixed ids', async () => {
    const v1 = key(owner, 'merge', NOW - 3);
    const v2 = key(owner, 'merge', NOW - 2);
    const v3 = key(owner, 'merge', NOW - 1);
    expect(await running.rpc.call('registry.merge_keys', { keys: [v2, v3, v1] })).toEqual(v3);
    expect(await running.rpc.call('registry.merge_keys', { keys: [v1] })).toEqual(v1);
    await expectCode(running.rpc.call('registry.merge_keys', { keys: [] }), 'invalid_params');
    await expectCode(running.rpc.call('registry.merge_keys', { keys: [v1, key(owner, 'merge-other', NOW)] }), 'invalid_params');
    await expectCode(running.rpc.call('registry.merge_keys', { keys: v1 }), 'invalid_params');
    await expectCode(running.rpc.call('registry.merge_keys', { keys: [{ ...v1, extra: true }] }), 'invalid_params');
    // merge_keys reads nothing from the store and stores nothing
    await expectCode(stored(v1.id), 'key_not_found');
  });
});
