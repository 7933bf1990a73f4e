/**
 * `composeNode` (runtime/node/compose.ts) builds a whole node from its parts. Here 50 nodes run in this one
 * process on the in-memory transport and store, each composed exactly as a real node is, and the
 * Resources API runs through them as clients would call it: create, register, resolve from every node,
 * unregister.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closestOf, nodeLocation, resourceLocation } from '../../../protocols/kademlia.js';
import type { Record as ProviderRecord } from '../../../protocols/types.js';
import { memoryCluster, type MemoryCluster } from '../../helpers/memory-cluster.js';
import { key, peer, record, tombstone } from '../../helpers/objects.js';

const T0 = 1_700_000_000;
const N = 50;
const K = 20;

let cluster: MemoryCluster;

/** Polls `check` until it holds (bounded). */
async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  cluster = await memoryCluster({ nodes: N, seed: 7, now: T0 });
  // Joined: every node knows at least K others, so every neighbourhood is a full K.
  await until(() => cluster.nodes.every((n) => n.dht.table.size >= K), 'every routing table to hold K peers');
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

describe(`${N} nodes in one process on the in-memory transport`, () => {
  const owner = peer(201);
  const provider = peer(202);
  const k = key(owner, 'memory-weather', T0);
  let rec: ProviderRecord;

  it('creates a resource through one node; it is stored on exactly its K closest nodes', async () => {
    const created = await cluster.nodes[0].call<{ resource_id: string; acks: number }>('resources.create_resource', { key: k, ack: K });
    expect(created).toMatchObject({ resource_id: k.id, acks: K });
    const holders = cluster.nodes.filter((n) => n.store.load(k.id).stored !== null).map((n) => n.identity.peerId);
    const closest = closestOf(
      cluster.nodes.map((n) => ({ peerId: n.identity.peerId, location: nodeLocation(n.identity.peerId)! })),
      resourceLocation(k.id)!,
      K,
    ).map((c) => c.peerId);
    expect(holders.sort()).toEqual(closest.sort());
  });

  it('registers a provider through another node, and every node resolves it', async () => {
    rec = record(k, provider, T0, { fields: { relay_id: [cluster.nodes[7].identity.peerId], service_id: ['forecast'] } });
    expect(await cluster.nodes[7].call('resources.register_provider', { record: rec, ack: K })).toMatchObject({ acks: K, errors: [] });
    for (const node of cluster.nodes) {
      const { providers } = await node.call<{ providers: ProviderRecord[] }>('resources.resolve_providers', { resource_id: k.id, ack: 3, service_id: 'forecast' });
      expect(providers).toEqual([rec]);
    }
  });

  it('unregisters it, and no node resolves it any more', async () => {
    const t = tombstone(k, provider, provider.peerId, T0);
    expect(await cluster.nodes[33].call('resources.unregister_provider', { tombstone: t, ack: K })).toMatchObject({ acks: K });
    for (const node of cluster.nodes) {
      const { providers } = await node.call<{ providers: ProviderRecord[] }>('resources.resolve_providers', { resource_id: k.id, ack: 3 });
      expect(providers).toEqual([]);
    }
  });

  it('carried every message through the wire codec', () => {
    expect(cluster.network.stats.messages).toBeGreaterThan(N * 2);
    expect(cluster.network.stats.lost).toBe(0);
  });
});
