/**
 * Twenty real nodes on loopback with k = 5 (issue 4): a neighbourhood is the true 5 closest nodes to the
 * resource, whichever node looks it up. The routing tables cannot hold everyone at k = 5, so this is the
 * iterative lookup at work, not a full table sorted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { key, peer } from '../../helpers/objects.js';
import { heldKeyIds, startCluster, stopCluster, trueClosest, type ClusterNode, type PeerRow } from '../../helpers/cluster.js';
import type { Key } from '../../../protocols/types.js';

const NODES = 20;
const K = 5;
const IDS = 50;
/**
 * Resources handled at once (each node looks each of them up). A lookup treats a node that takes over 2 s
 * to answer as gone, so the test keeps every node's backlog short: on two cores already busy with other
 * work, 20 nodes each running 10 lookups at once were seen to miss neighbours that way.
 */
const CHUNK = 5;

function chunks<T>(xs: readonly T[], n: number): T[][] {
  return Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, (i + 1) * n));
}

describe(`${NODES} nodes with k = ${K}`, () => {
  let nodes: ClusterNode[] = [];
  beforeAll(async () => {
    nodes = await startCluster(NODES, { env: { k: K, workers: 0 }, minPeers: K });
  }, 60_000);
  afterAll(async () => stopCluster(nodes));

  // 50 resources of one owner: their ids are sha256 outputs, i.e. 50 random locations.
  const owner = peer(21);
  const keys: Key[] = Array.from({ length: IDS }, (_, i) => key(owner, `neighbourhood-${i}`, 0));

  it('no routing table holds the whole network (lookups, not full tables, find the neighbours)', async () => {
    const sizes = await Promise.all(nodes.map(async (n) => (await n.rpc.call<PeerRow[]>('node.peers')).length));
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(K);
    expect(sizes.some((s) => s < NODES - 1)).toBe(true);
  });

  it('a resource created through any node with ack = 5 is stored on exactly the true 5 closest nodes', async () => {
    const peerIds = nodes.map((n) => n.peerId);
    // Node i % 20 creates resource i: every node is the entry point for some resources.
    for (const batch of chunks(keys.map((k, i) => ({ k, via: nodes[i % NODES] })), CHUNK)) {
      const created = await Promise.all(batch.map(({ k, via }) => via.rpc.call<{ resource_id: string; acks: number; errors: unknown[] }>('resources.create_resource', { key: k, ack: K })));
      for (const c of created) {
        expect(c.acks).toBe(K);
        expect(c.errors).toEqual([]);
      }
    }
    const held = await Promise.all(nodes.map((n) => heldKeyIds(n)));
    for (const k of keys) {
      const holders = nodes.filter((_, i) => held[i].has(k.id)).map((n) => n.peerId).sort();
      expect(holders, `holders of ${k.id}`).toEqual(trueClosest(peerIds, k.id, K).sort());
    }
  });

  it('every node finds the same neighbourhood: get_resource with ack = 5 succeeds from all 20 with no error', async () => {
    // Only the true 5 closest hold each resource (previous test), and a node that does not hold it answers
    // key_not_found, which is no ack: 5 acks and no error mean the caller's neighbourhood is exactly those 5.
    for (const batch of chunks(keys, CHUNK)) {
      const answers = await Promise.all(
        nodes.map((n) => n.rpc.batch(batch.map((k) => ({ method: 'resources.get_resource', params: { resource_id: k.id, ack: K } })))),
      );
      answers.forEach((perNode, i) =>
        perNode.forEach((a, j) => {
          const where = `get_resource ${batch[j].id} via node ${i}`;
          expect(a.error, `${where}: ${JSON.stringify(a.error)}`).toBeUndefined();
          const r = a.result as { resource: Key; acks: number; errors: unknown[] };
          expect(r.acks, where).toBe(K);
          expect(r.errors, where).toEqual([]);
          expect(r.resource, where).toEqual(batch[j]);
        }),
      );
    }
  });
});
