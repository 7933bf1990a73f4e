/**
 * Reads that see what their node holds and repair what others miss (SPEC §5), across three real node
 * processes in test mode. The writes are local (`registry.put_record` on one node, no fan-out) and the
 * clocks never move, so neither republish nor sync can spread them: only the reads can.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Record as ProviderRecord } from '../../../protocols/types.js';
import { pollUntil, startCluster, stopCluster, type ClusterNode } from '../../helpers/cluster.js';
import { metric, scrape } from '../../helpers/metrics.js';
import { key, peer, record } from '../../helpers/objects.js';

const owner = peer(100);

/** The issuers of the records `n` itself holds for `keyId` (its local store). */
async function heldBy(n: ClusterNode, keyId: string): Promise<string[]> {
  return (await n.rpc.call<ProviderRecord[]>('registry.get_records', { key_id: keyId })).map((r) => r.metadata.issued_by).sort();
}

async function resolved(n: ClusterNode, keyId: string, ack: number): Promise<string[]> {
  const r = await n.rpc.call<{ providers: ProviderRecord[] }>('resources.resolve_providers', { resource_id: keyId, ack });
  return r.providers.map((p) => p.metadata.issued_by).sort();
}

describe('reads', () => {
  let nodes: ClusterNode[];

  beforeAll(async () => {
    nodes = await startCluster(3, { env: { replicate_interval: 1e9 } });
  }, 60_000);

  afterAll(async () => {
    await stopCluster(nodes);
  });

  it("see what the serving node holds, with ack = 1, however fast the other nodes answer", async () => {
    const [a] = nodes;
    for (let i = 0; i < 10; i++) {
      const k = key(owner, `read-your-writes-${i}`, 0);
      await a.rpc.call('resources.create_resource', { key: k, ack: 3 });
      // On a only: the others hold the key and answer at once, without the record.
      const r = record(k, peer(110 + i), 0);
      await a.rpc.call('registry.put_record', { record: r });
      expect(await resolved(a, k.id, 1)).toEqual([r.metadata.issued_by]);
    }
  });

  it('repair the nodes whose answers missed an entry, so that they serve it themselves', async () => {
    const [a, b, c] = nodes;
    const k = key(owner, 'read-repair', 0);
    await a.rpc.call('resources.create_resource', { key: k, ack: 3 });
    const r = record(k, peer(120), 0);
    await b.rpc.call('registry.put_record', { record: r });
    expect(await heldBy(a, k.id)).toEqual([]);
    expect(await heldBy(c, k.id)).toEqual([]);
    const before = metric(await scrape(c.httpUrl), 'signpost_read_repairs_total') ?? 0;
    // c asks all three: b's answer has the record, a's and c's do not.
    expect(await resolved(c, k.id, 3)).toEqual([r.metadata.issued_by]);
    for (const n of [a, c]) {
      expect(await pollUntil(() => heldBy(n, k.id), (h) => h.length === 1, 5_000)).toEqual([r.metadata.issued_by]);
    }
    expect(metric(await scrape(c.httpUrl), 'signpost_read_repairs_total')).toBe(before + 2);
  });

  it('are counted in /metrics as node-to-node requests, by method and side', async () => {
    const [a, b, c] = nodes;
    const sent = async (n: ClusterNode, method: string, side: string) => metric(await scrape(n.httpUrl), 'signpost_peer_requests_total', { method, side }) ?? 0;
    const k = key(owner, 'peer-requests', 0);
    await a.rpc.call('resources.create_resource', { key: k, ack: 3 });
    const before = { a: await sent(a, 'get', 'sent'), b: await sent(b, 'get', 'served'), c: await sent(c, 'get', 'served') };
    // ack = 3 of 3 nodes: a answers itself and asks both others.
    await resolved(a, k.id, 3);
    expect(await sent(a, 'get', 'sent')).toBe(before.a + 2);
    expect(await sent(b, 'get', 'served')).toBe(before.b + 1);
    expect(await sent(c, 'get', 'served')).toBe(before.c + 1);
  });
});
