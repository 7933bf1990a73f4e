/**
 * Nine real nodes on loopback with k = 6 (issue 4): what a client sees when replicas die or miss a write.
 * Each resource lives on its 6 closest nodes, so three of the nine never hold it; a node that does not
 * hold a resource answers key_not_found, which is never an ack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { key, peer, record, tombstone } from '../../helpers/objects.js';
import {
  holdersOf,
  pollUntil,
  restartMember,
  startCluster,
  stopCluster,
  trueClosest,
  type ClusterNode,
  type PeerRow,
} from '../../helpers/cluster.js';
import type { Record as ProviderRecord, Tombstone } from '../../../protocols/types.js';

const NODES = 9;
const K = 6;
const NODE_ENV = { k: K, workers: 0 };

interface Resolved {
  providers: ProviderRecord[];
  acks: number;
  errors: { peer_id: string; code: string }[];
}

const issuers = (rs: ProviderRecord[]) => rs.map((r) => r.metadata.issued_by).sort();

describe(`${NODES} nodes with k = ${K}: replicas that die or miss a write`, () => {
  let nodes: ClusterNode[] = [];
  beforeAll(async () => {
    nodes = await startCluster(NODES, { env: NODE_ENV, minPeers: K });
  }, 60_000);
  afterAll(async () => stopCluster(nodes));

  const owner = peer(31);

  /** Creates `k` and registers `records` with ack = K, and checks they sit on exactly the true K closest. */
  async function seed(k: ReturnType<typeof key>, records: ProviderRecord[], via: ClusterNode): Promise<ClusterNode[]> {
    expect((await via.rpc.call<{ acks: number }>('resources.create_resource', { key: k, ack: K })).acks).toBe(K);
    for (const r of records) expect((await via.rpc.call<{ acks: number }>('resources.register_provider', { record: r, ack: K })).acks).toBe(K);
    const holders = await holdersOf(nodes, k.id);
    expect(holders).toEqual(trueClosest(nodes.map((n) => n.peerId), k.id, K).sort());
    return nodes.filter((n) => holders.includes(n.peerId));
  }

  it('a replica that was down during an unregister does not bring the provider back: resolve with ack = 6 hides it from every node', async () => {
    const k = key(owner, 'faults-missed-unregister', 0);
    const [gone, kept] = [peer(32), peer(33)];
    const records = [record(k, gone, 0), record(k, kept, 0)];
    const holders = await seed(k, records, nodes[0]);

    // One holder is killed, the provider is unregistered from the five others, then the holder comes back
    // with the store it had: it still serves the removed record and has no tombstone.
    const lagging = holders.find((n) => n !== nodes[0])!;
    const via = nodes.find((n) => n !== lagging && !holders.includes(n)) ?? nodes.find((n) => n !== lagging)!;
    await lagging.kill();
    const t: Tombstone = tombstone(k, gone, gone.peerId, 1);
    const removed = await via.rpc.call<{ acks: number }>('resources.unregister_provider', { tombstone: t, ack: K - 1 });
    expect(removed.acks).toBe(K - 1);

    const back = await restartMember(lagging, [nodes[0].baseUrl], { env: NODE_ENV });
    nodes[nodes.indexOf(lagging)] = back;
    expect(issuers(await back.rpc.call<ProviderRecord[]>('registry.get_records', { key_id: k.id }))).toEqual(issuers(records));
    expect(await back.rpc.call<Tombstone[]>('registry.get_tombstones', { key_id: k.id })).toEqual([]);

    // Bounded wait until every node's neighbourhood has the restarted node again (all 6 holders answer).
    const reads = await pollUntil(
      () => Promise.all(nodes.map((n) => n.rpc.call('resources.get_resource', { resource_id: k.id, ack: K }).then(() => 'ok', (e: Error) => e.message))),
      (rs) => rs.every((r) => r === 'ok'),
      10_000,
      200,
    );
    expect(reads).toEqual(nodes.map(() => 'ok'));

    for (const n of nodes) {
      const res = await n.rpc.call<Resolved>('resources.resolve_providers', { resource_id: k.id, ack: K });
      expect(res.acks).toBe(K);
      expect(issuers(res.providers), `resolved via ${n.peerId}`).toEqual([kept.peerId]);
    }
  });

  it('a node that stalls past the lookup query timeout is dropped from the routing table of the node that asked it, and is back once it answers again', async () => {
    const asker = nodes[0];
    const known = (await asker.rpc.call<PeerRow[]>('node.peers')).map((p) => p.peer_id);
    const stalled = nodes.find((n) => n !== asker && known.includes(n.peerId))!;
    // A resource whose neighbourhood has the stalled node in it, so the asker's lookup queries it.
    const k = [...Array(100).keys()].map((i) => key(owner, `faults-stall-${i}`, 0)).find((c) => trueClosest(nodes.map((n) => n.peerId), c.id, K).includes(stalled.peerId))!;

    stalled.child.kill('SIGSTOP');
    try {
      const created = await asker.rpc.call<{ acks: number }>('resources.create_resource', { key: k, ack: 1 });
      expect(created.acks).toBeGreaterThanOrEqual(1);
      expect((await asker.rpc.call<PeerRow[]>('node.peers')).map((p) => p.peer_id)).not.toContain(stalled.peerId);
    } finally {
      stalled.child.kill('SIGCONT');
    }
    // Its late answer, on the connection that stayed open, is enough to bring it back.
    const back = await pollUntil(async () => (await asker.rpc.call<PeerRow[]>('node.peers')).map((p) => p.peer_id), (ps) => ps.includes(stalled.peerId), 5000);
    expect(back).toContain(stalled.peerId);
  });

  it('kill -9 of a third of the holders: resolve from every survivor still returns every provider', async () => {
    const k = key(owner, 'faults-kill-a-third', 0);
    const records = [peer(34), peer(35), peer(36)].map((p) => record(k, p, 0));
    const holders = await seed(k, records, nodes[1]);

    const killed = holders.filter((n) => n !== nodes[0]).slice(0, K / 3);
    await Promise.all(killed.map((n) => n.kill()));
    const survivors = nodes.filter((n) => !killed.includes(n));
    const liveHolders = holders.length - killed.length;

    for (const n of survivors) {
      // Every surviving holder answers (ack = 4 of the 4 left) and none has lost a provider.
      const all = await n.rpc.call<Resolved>('resources.resolve_providers', { resource_id: k.id, ack: liveHolders });
      expect(all.acks).toBe(liveHolders);
      expect(issuers(all.providers), `resolved via ${n.peerId}`).toEqual(issuers(records));
      // The default ack = 1: any one surviving replica is enough.
      const one = await n.rpc.call<Resolved>('resources.resolve_providers', { resource_id: k.id });
      expect(issuers(one.providers), `resolved via ${n.peerId} with ack = 1`).toEqual(issuers(records));
    }
  });
});
