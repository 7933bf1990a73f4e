/**
 * Calling providers through their relay (SPEC §9.5), with real node processes and the SDK as a user of
 * the package runs it: a provider client on one node serves methods, callers on other nodes reach it
 * through that node, and the relay keeps its limits (who the caller is, sizes, calls in flight, budgets).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcClient, RpcError, SignpostClient } from '../../../dist/runtime/index.js';
import type { Record as ProviderRecord } from '../../../protocols/types.js';
import { pollUntil, restartMember, startCluster, stopCluster, type ClusterNode } from '../../helpers/cluster.js';
import { metric, scrape } from '../../helpers/metrics.js';
import { peer } from '../../helpers/objects.js';

const owner = peer(50);
const provider = peer(51);
const caller = peer(52);
const other = peer(53);

async function failure(p: Promise<unknown>): Promise<RpcError> {
  return p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e) => {
      if (!(e instanceof RpcError)) throw e;
      return e;
    },
  );
}

describe('provider calls through the relay, three nodes', () => {
  let nodes: ClusterNode[];
  const clients: SignpostClient[] = [];
  const connect = async (identity: typeof provider, node: ClusterNode) => {
    const c = await SignpostClient.connect(node.rpcUrl, { identity, reconnectBaseMs: 50 });
    clients.push(c);
    return c;
  };
  let record: ProviderRecord;
  let served: SignpostClient;

  beforeAll(async () => {
    // A small relay budget on every node, so a flood is cut short within the test.
    nodes = await startCluster(3, { env: { relay_rate_per_s: 20, relay_rate_burst: 100 } });
    const o = await connect(owner, nodes[0]);
    const { resourceId } = await o.createResource('relay-e2e', { ack: 3 });
    served = await connect(provider, nodes[0]);
    record = (await served.registerProvider(resourceId, 'behind NAT', { serviceId: 'calc', ack: 3 })).record;
    await served.serve('calc', {
      async echo(this: { from: string | null; via: string | null }, text: string) {
        return { text, from: this.from, via: this.via };
      },
      async add(a: number, b: number) {
        return a + b;
      },
      async slow(ms: number) {
        await new Promise((r) => setTimeout(r, ms));
        return 'late';
      },
      async big(bytes: number) {
        return 'x'.repeat(bytes);
      },
      async fail() {
        throw { code: 4000, message: 'no such thing', data: { code: 'app_error', detail: 7 } };
      },
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await stopCluster(nodes);
  });

  it('a caller on another node reaches the provider through its node and gets its answers', async () => {
    const c = await connect(caller, nodes[2]);
    expect(record.metadata.relay_id).toEqual([nodes[0].peerId]);
    expect(await c.callProvider(record, 'add', 2, 3)).toBe(5);
    // `from` is the caller as its node authenticated it; `via` the node the relay authenticated.
    expect(await c.callProvider(record, 'echo', 'hi')).toEqual({ text: 'hi', from: caller.peerId, via: nodes[2].peerId });
  });

  it("the provider's own error comes back unchanged, marked from_provider", async () => {
    const c = await connect(caller, nodes[1]);
    const e = await failure(c.callProvider(record, 'fail'));
    expect(e.rpcCode).toBe(4000);
    expect(e.message).toBe('no such thing');
    expect(e.data).toEqual({ code: 'app_error', detail: 7, from_provider: true });
    const missing = await failure(c.callProvider(record, 'nope'));
    expect(missing.code).toBe('method_not_found');
    expect(missing.data.from_provider).toBe(true);
  });

  it('an anonymous caller is from null, and no caller can say who it is', async () => {
    const rpc = await RpcClient.connect(nodes[1].rpcUrl);
    try {
      const params = { peer_id: provider.peerId, relay_id: nodes[0].peerId, service_id: 'calc', method: 'echo', params: ['anon'] };
      expect(await rpc.call('resources.call_provider', params)).toEqual({ result: { text: 'anon', from: null, via: nodes[1].peerId } });
      const forged = await failure(rpc.call('resources.call_provider', { ...params, from: caller.peerId }));
      expect(forged.code).toBe('invalid_params');
      // Serving needs an authenticated connection: nobody serves as someone else.
      expect((await failure(rpc.call('session.serve', { service_ids: ['calc'] }))).code).toBe('unauthorized');
    } finally {
      await rpc.close();
    }
  });

  it('a slow handler is provider_timeout', async () => {
    const c = await connect(caller, nodes[2]);
    const started = Date.now();
    const e = await failure(c.callPeer({ peerId: provider.peerId, relayId: nodes[0].peerId, serviceId: 'calc', method: 'slow', params: [3000], timeoutMs: 300 }));
    expect(e.code).toBe('provider_timeout');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('params and results are at most 64 KiB', async () => {
    const c = await connect(caller, nodes[2]);
    expect(((await c.callProvider(record, 'big', 60_000)) as string).length).toBe(60_000);
    const tooBig = await failure(c.callProvider(record, 'echo', 'y'.repeat(70_000)));
    expect(tooBig.code).toBe('invalid_params');
    expect(tooBig.message).toMatch(/65536/);
    const answerTooBig = await failure(c.callProvider(record, 'big', 70_000));
    expect(answerTooBig.code).toBe('invalid_request');
    expect(answerTooBig.data.from_provider).toBeUndefined();
    // The provider is still served after both.
    expect(await c.callProvider(record, 'add', 1, 1)).toBe(2);
  });

  it('a flood from one caller is rate-limited at the relay, and another caller still gets through', async () => {
    const flooder = await connect(peer(54), nodes[1]);
    // Three waves of 60 calls (under the 64 a connection may have in flight) against a budget of 100 and 20/s.
    const outcomes: PromiseSettledResult<unknown>[] = [];
    for (let wave = 0; wave < 3; wave++) outcomes.push(...(await Promise.allSettled(Array.from({ length: 60 }, (_, i) => flooder.callProvider(record, 'add', i, 1)))));
    const limited = outcomes.filter((o) => o.status === 'rejected' && (o.reason as RpcError).code === 'rate_limited');
    const answered = outcomes.filter((o) => o.status === 'fulfilled').length;
    expect(answered).toBeGreaterThanOrEqual(100);
    expect(limited.length).toBeGreaterThanOrEqual(40);
    expect(limited.length + answered).toBe(180);
    expect((limited[0] as PromiseRejectedResult).reason.message).toMatch(/relay budget exceeded/);
    const c = await connect(other, nodes[1]);
    expect(await c.callProvider(record, 'add', 40, 2)).toBe(42);
    // The relay counts what it delivered, by outcome, and the connection that serves.
    const m = await scrape(nodes[0].httpUrl);
    expect(metric(m, 'signpost_relay_calls_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(101);
    expect(metric(m, 'signpost_relay_calls_total', { outcome: 'rate_limited' })).toBe(limited.length);
    expect(metric(m, 'signpost_relay_calls_total', { outcome: 'provider_error' })).toBeGreaterThanOrEqual(2);
    expect(metric(m, 'signpost_serving_sessions')).toBe(1);
  });

  it('a caller connection has at most 64 calls in flight', async () => {
    const c = await connect(peer(55), nodes[0]);
    // Local calls (the relay is the caller's own node) with a handler that holds each call 500 ms.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 80 }, () => c.callPeer({ peerId: provider.peerId, relayId: nodes[0].peerId, serviceId: 'calc', method: 'slow', params: [500] })),
    );
    const limited = outcomes.filter((o) => o.status === 'rejected' && (o.reason as RpcError).code === 'rate_limited');
    expect(limited.length).toBeGreaterThanOrEqual(16);
    expect((limited[0] as PromiseRejectedResult).reason.message).toMatch(/64 provider calls in flight/);
  });

  it('when the provider disconnects, a call fails with provider_unreachable within a second', async () => {
    const leaving = await connect(peer(56), nodes[0]);
    const { record: r } = await leaving.registerProvider(record.metadata.key_id, 'leaving', { serviceId: 'calc', ack: 3 });
    await leaving.serve('calc', { ping: async () => 'pong' });
    const c = await connect(caller, nodes[2]);
    expect(await c.callProvider(r, 'ping')).toBe('pong');
    await leaving.close();
    const started = Date.now();
    const e = await failure(c.callProvider(r, 'ping'));
    expect(e.code).toBe('provider_unreachable');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('executeOnProviders over three relays, one of them down', () => {
  let nodes: ClusterNode[];
  const clients: SignpostClient[] = [];

  beforeAll(async () => {
    nodes = await startCluster(4);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await stopCluster(nodes.filter((n) => n.child.exitCode === null));
  });

  it('returns two successes and one provider_unreachable', async () => {
    const o = await SignpostClient.connect(nodes[3].rpcUrl, { identity: owner });
    clients.push(o);
    const { resourceId } = await o.createResource('relay-e2e-three', { ack: 4 });
    for (const [i, node] of nodes.slice(0, 3).entries()) {
      const p = await SignpostClient.connect(node.rpcUrl, { identity: peer(60 + i) });
      clients.push(p);
      await p.registerProvider(resourceId, `provider ${i}`, { serviceId: 'hello', ack: 4 });
      await p.serve('hello', { async do_smth(value: number) { return `${i}:${value}`; } });
    }
    await nodes[1].kill();
    const outcomes = await o.executeOnProviders(resourceId, (_provider, call) => call('do_smth', 7), { ack: 2 });
    expect(outcomes).toHaveLength(3);
    const byValue = new Map(outcomes.map((x) => [x.provider.metadata.value, x]));
    expect(byValue.get('provider 0')).toMatchObject({ ok: true, result: '0:7' });
    expect(byValue.get('provider 2')).toMatchObject({ ok: true, result: '2:7' });
    const down = byValue.get('provider 1')!;
    expect(down.ok).toBe(false);
    expect(((down as { error: RpcError }).error).code).toBe('provider_unreachable');
  }, 60_000);
});

describe('node providers and reconnects', () => {
  let nodes: ClusterNode[];
  const clients: SignpostClient[] = [];
  const admin = peer(90);

  beforeAll(async () => {
    nodes = await startCluster(2, { env: { admins: admin.peerId } });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await stopCluster(nodes.filter((n) => n.child.exitCode === null));
  });

  it("an admin serves as its node, and callers reach the node provider directly (no relay)", async () => {
    const a = await SignpostClient.connect(nodes[0].rpcUrl, { identity: admin });
    clients.push(a);
    const { record } = await a.createResourceAndRegisterNodeProvider('relay-e2e-node', 'the node itself', { serviceId: 'status', ack: 2 });
    expect(record.metadata.peer_id).toBe(nodes[0].peerId);
    expect(record.metadata.relay_id).toEqual([]);
    await a.serve('status', { async health() { return { up: true, served_as: 'node' }; } }, { asNode: true });
    const c = await SignpostClient.connect(nodes[1].rpcUrl, { identity: caller });
    clients.push(c);
    expect(await c.callProvider(record, 'health')).toEqual({ up: true, served_as: 'node' });
    // A client that is not an admin cannot serve as the node.
    const notAdmin = await SignpostClient.connect(nodes[0].rpcUrl, { identity: other });
    clients.push(notAdmin);
    await expect(notAdmin.serve('status', { async health() { return 'forged'; } }, { asNode: true })).rejects.toThrow(/not an admin/);
  });

  it('serves again after its node restarts, without the provider doing anything', async () => {
    const p = await SignpostClient.connect(nodes[0].rpcUrl, { identity: provider, reconnectBaseMs: 50, reconnectMaxMs: 200 });
    clients.push(p);
    await p.serve('calc', { async add(a: number, b: number) { return a + b; } });
    const c = await SignpostClient.connect(nodes[1].rpcUrl, { identity: caller });
    clients.push(c);
    const target = { peerId: provider.peerId, relayId: nodes[0].peerId, serviceId: 'calc', method: 'add', params: [1, 2] };
    expect(await c.callPeer(target)).toBe(3);
    await nodes[0].stop();
    nodes[0] = await restartMember(nodes[0], [nodes[1].baseUrl], { env: { admins: admin.peerId } });
    const answered = await pollUntil(
      () => c.callPeer<number>({ ...target, timeoutMs: 1000 }).catch((e: RpcError) => e.code),
      (v) => v === 3,
      15_000,
      200,
    );
    expect(answered).toBe(3);
  }, 60_000);
});
