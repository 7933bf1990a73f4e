/**
 * Five real nodes on loopback (issue 4): the Resources API across the network.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcError, type RpcClient } from '../../../runtime/client/rpc-client.js';
import { base64urlDecode, base64urlEncode } from '../../../protocols/encoding.js';
import { sessionDigest } from '../../../protocols/identity.js';
import { makeMetadata, verifyRecord } from '../../../protocols/signed.js';
import { key, peer, record, tombstone } from '../../helpers/objects.js';
import { startCluster, stopCluster, type ClusterNode } from '../../helpers/cluster.js';
import { metric, scrape } from '../../helpers/metrics.js';
import type { Record as ProviderRecord } from '../../../protocols/types.js';
import { verify } from '../../helpers/objects.js';

describe('a 5-node cluster', () => {
  let nodes: ClusterNode[] = [];
  beforeAll(async () => {
    nodes = await startCluster(5, { env: { workers: 0, admins: admin.peerId } });
  }, 60_000);
  afterAll(async () => stopCluster(nodes));

  const owner = peer(11);
  const admin = peer(19);
  const k = key(owner, 'cluster-5', 0);
  const providers = [peer(12), peer(13)].map((p) => record(k, p, 0));

  it('routing tables hold every other node, with addresses and distance buckets', async () => {
    for (const n of nodes) {
      const peers = await n.rpc.call<{ peer_id: string; address: string; distance_bucket: number }[]>('node.peers');
      expect(peers.map((p) => p.peer_id).sort()).toEqual(nodes.filter((o) => o !== n).map((o) => o.peerId).sort());
      for (const p of peers) {
        expect(p.address).toBe(nodes.find((o) => o.peerId === p.peer_id)!.baseUrl);
        expect(p.distance_bucket).toBeGreaterThanOrEqual(0);
        expect(p.distance_bucket).toBeLessThanOrEqual(255);
      }
    }
  });

  it('creates a resource and registers providers on one node with ack = 3, and every node resolves them with ack = 3', async () => {
    const created = await nodes[0].rpc.call<{ resource_id: string; acks: number; errors: unknown[] }>('resources.create_resource', { key: k, ack: 3 });
    expect(created.resource_id).toBe(k.id);
    expect(created.acks).toBeGreaterThanOrEqual(3);
    for (const r of providers) {
      const put = await nodes[0].rpc.call<{ acks: number }>('resources.register_provider', { record: r, ack: 3 });
      expect(put.acks).toBeGreaterThanOrEqual(3);
    }
    for (const n of nodes) {
      const got = await n.rpc.call<{ resource: unknown; acks: number }>('resources.get_resource', { resource_id: k.id, ack: 3 });
      expect(got.resource).toEqual(k);
      const res = await n.rpc.call<{ providers: ProviderRecord[]; acks: number }>('resources.resolve_providers', { resource_id: k.id, ack: 3 });
      expect(res.acks).toBeGreaterThanOrEqual(3);
      expect(res.providers.map((p) => p.metadata.issued_by).sort()).toEqual(providers.map((p) => p.metadata.issued_by).sort());
    }
  });

  it('unregisters a provider: no node resolves it any more', async () => {
    const gone = providers[0];
    const t = tombstone(k, peer(12), gone.metadata.peer_id, 1);
    const res = await nodes[2].rpc.call<{ acks: number }>('resources.unregister_provider', { tombstone: t, ack: 5 });
    expect(res.acks).toBe(5);
    for (const n of nodes) {
      const r = await n.rpc.call<{ providers: ProviderRecord[] }>('resources.resolve_providers', { resource_id: k.id, ack: 3 });
      expect(r.providers.map((p) => p.metadata.issued_by)).toEqual([providers[1].metadata.issued_by]);
    }
  });

  it('an ack larger than the cluster fails at once with quorum_not_reached; the writes carry on in the background', async () => {
    const other = key(owner, 'cluster-5-too-many', 0);
    const started = Date.now();
    const err = await nodes[1].rpc.call('resources.create_resource', { key: other, ack: 6 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe('quorum_not_reached');
    expect(Date.now() - started).toBeLessThan(1000);
    expect((err as RpcError).data.acks).toBe(0); // the count when the call returned: none had answered yet
    const got = await nodes[4].rpc.call<{ acks: number }>('resources.get_resource', { resource_id: other.id, ack: 5 });
    expect(got.acks).toBe(5);
  });

  it('resources.subscribe: the current providers at once, then each change within a second, until unsubscribe', async () => {
    const sk = key(owner, 'cluster-5-watched', 0);
    await nodes[0].rpc.call('resources.create_resource', { key: sk, ack: 5 });
    await nodes[0].rpc.call('resources.register_provider', { record: record(sk, peer(14), 0), ack: 5 });
    const watcher = await nodes[4].client();
    const seen: { subscription: string; resource_id: string; providers: ProviderRecord[] }[] = [];
    watcher.onNotification((method, params) => method === 'resources.providers_changed' && seen.push(params as (typeof seen)[number]));
    const { subscription } = await watcher.call<{ subscription: string }>('resources.subscribe', { resource_id: sk.id });
    await expect.poll(() => seen.length, { timeout: 2000 }).toBe(1);
    expect(seen[0]).toMatchObject({ subscription, resource_id: sk.id });
    expect(seen[0].providers.map((p) => p.metadata.issued_by)).toEqual([peer(14).peerId]);

    const changedAt = Date.now();
    await nodes[1].rpc.call('resources.register_provider', { record: record(sk, peer(15), 0), ack: 5 });
    await expect.poll(() => seen.length, { timeout: 1000, interval: 20 }).toBe(2);
    expect(Date.now() - changedAt).toBeLessThan(1000);
    expect(seen[1].providers.map((p) => p.metadata.issued_by).sort()).toEqual([peer(14).peerId, peer(15).peerId].sort());

    expect(await watcher.call('resources.unsubscribe', { subscription })).toEqual({});
    await nodes[1].rpc.call('resources.unregister_provider', { tombstone: tombstone(sk, peer(15), peer(15).peerId, 1), ack: 5 });
    await new Promise((r) => setTimeout(r, 400)); // longer than a change takes to arrive (above)
    expect(seen).toHaveLength(2);
    await watcher.close();
  });

  it('register_node_provider: only an authenticated admin gets the node to co-sign as host, and the record resolves everywhere', async () => {
    const nk = key(owner, 'cluster-5-node-provider', 0);
    await nodes[0].rpc.call('resources.create_resource', { key: nk, ack: 5 });
    const node = nodes[2];
    const metadata = makeMetadata(admin, { key_id: nk.id, peer_id: node.peerId, timestamp_issued: 0, value: 'node-hosted' });
    const anonymous = await node.rpc.call('resources.register_node_provider', { metadata }).catch((e: unknown) => e);
    expect((anonymous as RpcError).code).toBe('unauthorized');

    const session = await node.client();
    const authenticate = async (c: RpcClient, who = admin) => {
      const { nonce } = await c.call<{ nonce: string }>('session.challenge');
      const signature = base64urlEncode(who.sign(sessionDigest(base64urlDecode(nonce)!, node.peerId)));
      await c.call('session.authenticate', { peer_id: who.peerId, signature });
    };
    await authenticate(session, peer(18)); // authenticated, but not an admin
    expect(((await session.call('resources.register_node_provider', { metadata }).catch((e: unknown) => e)) as RpcError).code).toBe('unauthorized');
    await authenticate(session);
    const { record: hosted, acks } = await session.call<{ record: ProviderRecord; acks: number }>('resources.register_node_provider', { metadata, ack: 5 });
    expect(acks).toBe(5);
    expect(hosted.metadata).toEqual(metadata);
    expect(() => verifyRecord(hosted, verify)).not.toThrow(); // host signature by the node
    const resolved = await nodes[4].rpc.call<{ providers: ProviderRecord[] }>('resources.resolve_providers', { resource_id: nk.id, ack: 3 });
    expect(resolved.providers).toEqual([hosted]);
    await session.close();
  });

  it('/metrics shows the routing table, the peer connections and the lookups done', async () => {
    const m = await scrape(nodes[0].httpUrl);
    expect(metric(m, 'signpost_routing_table_peers')).toBe(4);
    expect(metric(m, 'signpost_peer_connections')).toBeGreaterThanOrEqual(1);
    const lookups = metric(m, 'signpost_lookups_total', { outcome: 'converged' })!;
    expect(lookups).toBeGreaterThan(0);
    expect(metric(m, 'signpost_lookup_hops_total')).toBeGreaterThanOrEqual(lookups); // every lookup here took at least one hop
  });

  it('a resource nobody holds is key_not_found', async () => {
    const nobody = key(owner, 'cluster-5-nobody', 0);
    const err = await nodes[3].rpc.call('resources.resolve_providers', { resource_id: nobody.id }).catch((e: unknown) => e);
    expect((err as RpcError).code).toBe('key_not_found');
  });
});
