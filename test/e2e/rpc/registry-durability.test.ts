/**
 * Black-box tests of what a node keeps across restarts (SPEC §4.5: every acknowledged write survives a
 * crash and a restart) and of `registry.list_keys` paging (§9.4). Each test runs its own node processes
 * on its own data directory.
 */
import { describe, expect, it } from 'vitest';
import { startNodeProcess, tempDir, type NodeProcess } from '../../helpers/node-process.js';
import { key, peer, record, tombstone } from '../../helpers/objects.js';
import { ascii, expectCode, tag, type KeyItem } from '../../helpers/registry.js';
import type { Identity } from '../../../protocols/identity.js';
import type { Key, Record as ProviderRecord } from '../../../protocols/types.js';
import type { RpcClient } from '../../../runtime/client/rpc-client.js';

const NOW = 1_700_000_000;
const STALE = 3600;
const EXPIRED = 86_400;
const NO_JOBS = { gc_interval: 1_000_000_000, replicate_interval: 1_000_000_000, renew_interval: EXPIRED - 1 };

/** SIGKILL at once (NodeProcess.kill closes the clients first, which gives the node time). */
const crash = (node: NodeProcess): void => void node.child.kill('SIGKILL');

type Page = { keys: KeyItem[]; next: string | null };

async function start(dataDir: string, identity: Identity): Promise<{ node: NodeProcess; rpc: RpcClient }> {
  const node = await startNodeProcess({ dataDir, identity, env: { clock_start: NOW, ...NO_JOBS } });
  return { node, rpc: await node.client() };
}

describe('registry.list_keys', () => {
  it('pages through every held key by id: limit, after, and next = null on the last page', async () => {
    const { node, rpc } = await start(tempDir(), peer(231));
    try {
      const owner = peer(71);
      const keys = ['a', 'b', 'c', 'd', 'e'].map((l) => key(owner, `list-${l}`, NOW)).sort((x, y) => ascii(x.id, y.id));
      for (const k of keys) await rpc.call('registry.register_key', { key: k });
      const r = record(keys[2], peer(72), NOW);
      const t = tombstone(keys[2], peer(73), peer(73).peerId, NOW);
      await rpc.call('registry.put_record', { record: r });
      await rpc.call('registry.add_tombstone', { tombstone: t });
      const item = (k: Key): KeyItem => ({ key: k, records: k === keys[2] ? [r] : [], tombstones: k === keys[2] ? [t] : [] });
      const ids = keys.map((k) => k.id);

      const p1 = await rpc.call<Page>('registry.list_keys', { limit: 2 });
      expect(p1).toEqual({ keys: keys.slice(0, 2).map(item), next: ids[1] });
      const p2 = await rpc.call<Page>('registry.list_keys', { limit: 2, after: p1.next });
      expect(p2).toEqual({ keys: keys.slice(2, 4).map(item), next: ids[3] });
      const p3 = await rpc.call<Page>('registry.list_keys', { limit: 2, after: p2.next });
      expect(p3).toEqual({ keys: [item(keys[4])], next: null });
      // a page that ends exactly at the last key is the last page
      expect(await rpc.call<Page>('registry.list_keys', { limit: 3, after: ids[1] })).toEqual({ keys: keys.slice(2).map(item), next: null });
      expect(await rpc.call<Page>('registry.list_keys', { limit: 5 })).toEqual({ keys: keys.map(item), next: null });
      expect(await rpc.call<Page>('registry.list_keys', {})).toEqual({ keys: keys.map(item), next: null });
      expect(await rpc.call<Page>('registry.list_keys')).toEqual({ keys: keys.map(item), next: null });
      expect(await rpc.call<Page>('registry.list_keys', { limit: 1, after: ids[4] })).toEqual({ keys: [], next: null });
      expect(await rpc.call<Page>('registry.list_keys', { limit: 1, after: null })).toEqual({ keys: [item(keys[0])], next: ids[0] });
      // `after` need not be a held id
      const between = ids[2].slice(0, -1);
      expect((await rpc.call<Page>('registry.list_keys', { after: between })).keys.map((i) => i.key.id)).toEqual(ids.filter((id) => id > between));
      await expectCode(rpc.call('registry.list_keys', { limit: 0 }), 'invalid_params');
      await expectCode(rpc.call('registry.list_keys', { limit: 1001 }), 'invalid_params');
      await expectCode(rpc.call('registry.list_keys', { limit: 1.5 }), 'invalid_params');
      await expectCode(rpc.call('registry.list_keys', { after: 5 }), 'invalid_params');
      await expectCode(rpc.call('registry.list_keys', { cursor: ids[0] }), 'invalid_params');
    } finally {
      expect(await node.stop()).toBe(0);
    }
  });
});

describe('durability', () => {
  it('a clean restart on the same data dir keeps keys, records (served and in reserve), tombstones and publish state', async () => {
    const dataDir = tempDir();
    const identity = peer(232);
    const owner = peer(74);
    let { node, rpc } = await start(dataDir, identity);

    const a = key(owner, 'restart-a', NOW); // never published
    const b = key(owner, 'restart-b', NOW); // published at NOW + 1000
    const cOld = key(owner, 'restart-c', NOW - 10);
    const c = key(owner, 'restart-c', NOW); // replaced cOld
    for (const k of [a, b, cOld, c]) await rpc.call('registry.register_key', { key: k });
    const served = Array.from({ length: 32 }, (_, i) => record(a, peer(2000 + i), NOW - 100 + i));
    for (const r of served) await rpc.call('registry.put_record', { record: r });
    const reserved = record(a, peer(2100), NOW - 500);
    await expectCode(rpc.call('registry.put_record', { record: reserved }), 'records_limit_exceeded');
    const hosted = record(c, peer(2101), NOW, { host: identity });
    const renewed = record(c, peer(2102), NOW - 50, { created: NOW });
    await rpc.call('registry.put_record', { record: hosted });
    await rpc.call('registry.put_record', { record: renewed });
    const t1 = tombstone(a, peer(2103), peer(2104).peerId, NOW);
    const t2 = tombstone(c, peer(2102), peer(2105).peerId, NOW);
    await rpc.call('registry.add_tombstone', { tombstone: t1 });
    await rpc.call('registry.add_tombstone', { tombstone: t2 });
    await rpc.call('debug.set_time', { now: NOW + 1000 });
    await rpc.call('registry.republish_key', { key: b });

    const all = () => rpc.call<Page>('registry.list_keys', { limit: 1000 });
    const before = await all();
    const staleBefore = await rpc.call<KeyItem[]>('registry.evict_stale', {});
    expect(staleBefore.map((i) => i.key.id)).toEqual([a.id, c.id].sort(ascii));
    expect(before.keys.map((i) => i.key)).toEqual([a, b, c].sort((x, y) => ascii(x.id, y.id)));

    expect(await node.stop()).toBe(0);
    ({ node, rpc } = await start(dataDir, identity));
    try {
      expect(node.peerId).toBe(identity.peerId);
      await rpc.call('debug.set_time', { now: NOW + 1000 });
      expect(await all()).toEqual(before);
      expect(await rpc.call('registry.evict_stale', {})).toEqual(staleBefore);
      // b was published at NOW + 1000: fresh until exactly stale_timeout later
      await rpc.call('debug.set_time', { now: NOW + 1000 + STALE - 1 });
      expect((await rpc.call<KeyItem[]>('registry.evict_stale', {})).map((i) => i.key.id)).not.toContain(b.id);
      await rpc.call('debug.set_time', { now: NOW + 1000 + STALE });
      expect((await rpc.call<KeyItem[]>('registry.evict_stale', {})).map((i) => i.key.id)).toContain(b.id);
      // the reserve survived: removing a served record serves it
      await rpc.call('registry.add_tombstone', { tombstone: tombstone(a, peer(2031), peer(2031).peerId, NOW + 1000) });
      const nowServed = await rpc.call<ProviderRecord[]>('registry.get_records', { key_id: a.id });
      expect(nowServed.map(tag)).toEqual([...served.slice(0, 31).reverse(), reserved].map(tag));
      // the gc index survived: everything but the host record and its key expires on time
      await rpc.call('debug.set_time', { now: NOW + 1000 + EXPIRED });
      expect(await rpc.call('registry.clear_expired', {})).toEqual({ count_keys: 2, count_records: 33, count_tombstones: 3 });
      expect((await all()).keys.map((i) => i.key.id)).toEqual([c.id]);
    } finally {
      expect(await node.stop()).toBe(0);
    }
  });

  it('kill -9 right after acknowledged writes keeps every one of them', async () => {
    const dataDir = tempDir();
    const identity = peer(233);
    const owner = peer(75);
    let { node, rpc } = await start(dataDir, identity);
    const k = key(owner, 'crash', NOW);
    const published = key(owner, 'crash-published', NOW);
    const replaced = key(owner, 'crash-replaced', NOW - 5);
    const replacing = key(owner, 'crash-replaced', NOW);
    const r = record(k, peer(2200), NOW);
    const t = tombstone(k, peer(2201), peer(2202).peerId, NOW);
    // every write is acknowledged before the next is sent; the kill follows the last acknowledgement at once
    await rpc.call('registry.register_key', { key: k });
    await rpc.call('registry.republish_key', { key: published });
    await rpc.call('registry.register_key', { key: replaced });
    await rpc.call('registry.register_key', { key: replacing });
    await rpc.call('registry.put_record', { record: r });
    await rpc.call('registry.add_tombstone', { tombstone: t });
    crash(node);
    await node.kill();

    ({ node, rpc } = await start(dataDir, identity));
    try {
      expect(await rpc.call('registry.get_key_metadata', { key_id: k.id })).toEqual(k);
      expect(await rpc.call('registry.get_key_metadata', { key_id: replaced.id })).toEqual(replacing);
      expect(await rpc.call('registry.get_records', { key_id: k.id })).toEqual([r]);
      expect(await rpc.call('registry.get_tombstones', { key_id: k.id })).toEqual([t]);
      const stale = (await rpc.call<KeyItem[]>('registry.evict_stale', {})).map((i) => i.key.id);
      expect(stale).toEqual([k.id, replaced.id].sort(ascii));
    } finally {
      await node.kill();
    }
  });

  it('kill -9 right after an identical write is acknowledged keeps the original write it confirmed', async () => {
    const dataDir = tempDir();
    const identity = peer(234);
    let { node, rpc } = await start(dataDir, identity);
    const k = key(peer(76), 'crash-identical', NOW);
    await rpc.call('registry.register_key', { key: k });
    const rs = Array.from({ length: 30 }, (_, i) => record(k, peer(2300 + i), NOW));
    // the originals are still being committed when the identical copy of the last one is answered
    const originals = rs.map((r) => rpc.call('registry.put_record', { record: r }).catch(() => 'lost answer'));
    expect(await rpc.call('registry.put_record', { record: rs[rs.length - 1] })).toEqual({});
    crash(node);
    await node.kill();
    await Promise.all(originals);

    ({ node, rpc } = await start(dataDir, identity));
    try {
      const kept = await rpc.call<ProviderRecord[]>('registry.get_records', { key_id: k.id });
      expect(kept.map(tag)).toContain(tag(rs[rs.length - 1]));
    } finally {
      await node.kill();
    }
  });
});
