/**
 * The provider limit across replicas (issue 4, SPEC §4.4): two clients register 40 providers under one
 * resource at once, through two different nodes, so every replica sees them in its own order. Each
 * replica must end up serving the same 32 (records_limit), the best by rank, in the same order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { key, peer, record } from '../../helpers/objects.js';
import { holdersOf, pollUntil, startCluster, stopCluster, trueClosest, type ClusterNode } from '../../helpers/cluster.js';
import { RpcError, type RpcClient } from '../../../runtime/client/rpc-client.js';
import { recordDigest } from '../../../protocols/objects.js';
import { toHex } from '../../../protocols/encoding.js';
import type { Record as ProviderRecord } from '../../../protocols/types.js';

const NODES = 6;
const K = 4;
const LIMIT = 32; // records_limit, the default
const PROVIDERS = 40;
/** Every node's manual clock starts here, so 40 providers can have distinct past timestamps. */
const START = 1000;

/**
 * SPEC §4.4 rank without a policy, written from the text: higher timestamp_issued first, ties by the
 * greater record_digest.
 */
function byRank(a: ProviderRecord, b: ProviderRecord): number {
  if (a.metadata.timestamp_issued !== b.metadata.timestamp_issued) return b.metadata.timestamp_issued - a.metadata.timestamp_issued;
  const [da, db] = [toHex(recordDigest(a)), toHex(recordDigest(b))];
  return da < db ? 1 : da > db ? -1 : 0;
}

const issuers = (rs: ProviderRecord[]) => rs.map((r) => r.metadata.issued_by);

describe(`two clients registering ${PROVIDERS} providers under one resource (${NODES} nodes, k = ${K})`, () => {
  let nodes: ClusterNode[] = [];
  beforeAll(async () => {
    nodes = await startCluster(NODES, { env: { k: K, workers: 0, clock_start: START }, minPeers: K });
  }, 60_000);
  afterAll(async () => stopCluster(nodes));

  const k = key(peer(51), 'limit-across-replicas', START);
  // Issue times in an order unrelated to the registration order, with four records tied at the limit's
  // edge (ranks 31..34), so the digest tie-break decides which two of them are served.
  const records = Array.from({ length: PROVIDERS }, (_, i) => {
    const v = (i * 7) % PROVIDERS;
    const issued = START - 40 + (v >= 6 && v <= 9 ? 8 : v);
    return record(k, peer(100 + i), issued);
  });
  const best = [...records].sort(byRank).slice(0, LIMIT);

  it('every replica serves the same best 32, and every node resolves exactly them', async () => {
    expect((await nodes[0].rpc.call<{ acks: number }>('resources.create_resource', { key: k, ack: K })).acks).toBe(K);
    const replicas = await holdersOf(nodes, k.id);
    expect(replicas).toEqual(trueClosest(nodes.map((n) => n.peerId), k.id, K).sort());
    const replicaNodes = nodes.filter((n) => replicas.includes(n.peerId));

    // Two clients, on two nodes, each sending its half at once: one the even providers first to last, the
    // other the odd ones last to first, so the replicas see two interleaved orders.
    const clients: RpcClient[] = [await nodes[2].client(), await nodes[3].client()];
    const pending = new Map<number, Promise<{ acks: number }>>();
    for (let j = 0; j < PROVIDERS / 2; j++) {
      for (const i of [2 * j, PROVIDERS - 1 - 2 * j]) {
        pending.set(i, clients[i % 2].call<{ acks: number }>('resources.register_provider', { record: records[i], ack: K }));
      }
    }
    const outcomes = await Promise.allSettled(records.map((_, i) => pending.get(i)!));
    outcomes.forEach((o, i) => {
      const r = records[i];
      if (best.includes(r)) {
        // One of the best 32 never has 32 better ahead of it: every replica takes it.
        expect(o.status === 'fulfilled' && o.value.acks, `provider ${i}`).toBe(K);
      } else if (o.status === 'rejected') {
        // One that is not may be refused by a replica that already serves 32 better ones (kept in reserve).
        const e = o.reason as RpcError;
        expect(e).toBeInstanceOf(RpcError);
        expect(e.code).toBe('quorum_not_reached');
        expect(new Set((e.data.errors as { code: string }[]).map((x) => x.code))).toEqual(new Set(['records_limit_exceeded']));
      }
    });

    // A refused call returns at the first refusal while its other writes carry on: wait (bounded) for them.
    const served = () => Promise.all(replicaNodes.map((n) => n.rpc.call<ProviderRecord[]>('registry.get_records', { key_id: k.id })));
    const final = await pollUntil(served, (all) => all.every((rs) => rs.length === LIMIT && issuers(rs).join() === issuers(best).join()), 10_000);
    for (const [i, rs] of final.entries()) expect(issuers(rs), `replica ${replicas[i]}`).toEqual(issuers(best));
    expect(final.every((rs) => JSON.stringify(rs) === JSON.stringify(final[0]))).toBe(true);

    for (const n of nodes) {
      const res = await n.rpc.call<{ providers: ProviderRecord[]; acks: number }>('resources.resolve_providers', { resource_id: k.id, ack: K });
      expect(res.acks).toBe(K);
      expect(issuers(res.providers), `resolved via ${n.peerId}`).toEqual(issuers(best));
    }
  });

  it('a provider ranked below the 32 is refused by every replica: quorum_not_reached with records_limit_exceeded from each', async () => {
    const late = record(k, peer(200), START - 100);
    const err = await nodes[4].rpc.call('resources.register_provider', { record: late, ack: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe('quorum_not_reached');
    expect((err as RpcError).data.acks).toBe(0);
    const errors = (err as RpcError).data.errors as { peer_id: string; code: string }[];
    expect(errors.map((e) => e.peer_id).sort()).toEqual(trueClosest(nodes.map((n) => n.peerId), k.id, K).sort());
    expect(errors.map((e) => e.code)).toEqual(Array(K).fill('records_limit_exceeded'));
    const res = await nodes[5].rpc.call<{ providers: ProviderRecord[] }>('resources.resolve_providers', { resource_id: k.id, ack: K });
    expect(issuers(res.providers)).toEqual(issuers(best));
  });
});
