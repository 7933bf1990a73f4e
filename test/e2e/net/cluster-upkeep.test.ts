/**
 * Upkeep across real nodes (issue 4): a node that joins after a resource was registered receives it, with
 * its records and tombstones, from the next republish (every replicate_interval = 3600 s, pushing stale
 * keys to the key's current neighbourhood). Each node has its own manual clock, starting at 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { key, peer, record, tombstone } from '../../helpers/objects.js';
import {
  heldKeyIds,
  holdersOf,
  startCluster,
  startMember,
  stopCluster,
  trueClosest,
  waitForLookupsIdle,
  waitForPeers,
  type ClusterNode,
} from '../../helpers/cluster.js';
import type { Key, Record as ProviderRecord, Tombstone } from '../../../protocols/types.js';

const NODES = 6;
const K = 3;
// Sync off: this proves the republish alone brings a joiner what it should hold (net/sync.ts catches it up at once).
const NODE_ENV = { k: K, workers: 0, sync_interval: 0 };

describe(`a node joining ${NODES} others (k = ${K}) after registration`, () => {
  let nodes: ClusterNode[] = [];
  beforeAll(async () => {
    nodes = await startCluster(NODES, { env: NODE_ENV, minPeers: K });
  }, 60_000);
  afterAll(async () => stopCluster(nodes));

  const owner = peer(41);
  const joinerIdentity = peer(42);

  /** A resource whose neighbourhood, once the joiner is in, includes the joiner. */
  function resourceNearJoiner(peerIds: string[]): Key {
    for (let i = 0; ; i++) {
      const k = key(owner, `late-joiner-${i}`, 0);
      if (trueClosest([...peerIds, joinerIdentity.peerId], k.id, K).includes(joinerIdentity.peerId)) return k;
    }
  }

  const advanceAll = (ns: ClusterNode[], seconds: number) => Promise.all(ns.map((n) => n.rpc.call<{ now: number }>('debug.advance_time', { seconds })));

  it('receives the key, its records and its tombstones by the next republish, and serves them', async () => {
    const originals = nodes.map((n) => n.peerId);
    const k = resourceNearJoiner(originals);
    const [stays, leaves] = [peer(43), peer(44)];
    const via = nodes[0];
    expect((await via.rpc.call<{ acks: number }>('resources.create_resource', { key: k, ack: K })).acks).toBe(K);
    for (const r of [record(k, stays, 0), record(k, leaves, 0)]) {
      expect((await via.rpc.call<{ acks: number }>('resources.register_provider', { record: r, ack: K })).acks).toBe(K);
    }
    const t = tombstone(k, leaves, leaves.peerId, 1);
    expect((await via.rpc.call<{ acks: number }>('resources.unregister_provider', { tombstone: t, ack: K })).acks).toBe(K);
    const holders = await holdersOf(nodes, k.id);
    expect(holders).toEqual(trueClosest(originals, k.id, K).sort());
    const aHolder = nodes.find((n) => holders.includes(n.peerId))!;

    const joiner = await startMember([nodes[nodes.length - 1].baseUrl], { env: NODE_ENV, identity: joinerIdentity });
    nodes.push(joiner);
    await waitForPeers([joiner], K);
    await waitForLookupsIdle([joiner]); // its bootstrap lookup of itself has introduced it to its neighbours
    expect([...(await heldKeyIds(joiner))]).toEqual([]);

    // One second before the first republish nothing has moved; at 3600 s it has (advance_time returns
    // once the jobs that fell due, and the messages they sent, are done).
    await advanceAll(nodes, 3599);
    expect([...(await heldKeyIds(joiner))]).toEqual([]);
    await advanceAll(nodes, 1);

    expect(await joiner.rpc.call<Key>('registry.get_key_metadata', { key_id: k.id })).toEqual(k);
    const records = await joiner.rpc.call<ProviderRecord[]>('registry.get_records', { key_id: k.id });
    expect(records).toEqual(await aHolder.rpc.call<ProviderRecord[]>('registry.get_records', { key_id: k.id }));
    expect(records.map((r) => r.metadata.issued_by)).toEqual([stays.peerId]);
    expect(await joiner.rpc.call<Tombstone[]>('registry.get_tombstones', { key_id: k.id })).toEqual([t]);

    // Pushed to the key's neighbourhood only: the nodes that never were in it still hold nothing.
    expect(await holdersOf(nodes, k.id)).toEqual([...holders, joiner.peerId].sort());

    // A client of the joiner resolves through the new neighbourhood, the joiner's own copy included.
    const res = await joiner.rpc.call<{ providers: ProviderRecord[]; acks: number }>('resources.resolve_providers', { resource_id: k.id, ack: K });
    expect(res.acks).toBe(K);
    expect(res.providers.map((r) => r.metadata.issued_by)).toEqual([stays.peerId]);
  });
});
