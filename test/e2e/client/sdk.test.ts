/**
 * The SDK as a user of the package runs it (the built dist/, whose entry the package exports) against real
 * node processes in test mode: every Resources API operation, the node's clock as the time source,
 * proof of work mined in a worker, node-hosted providers for admins, subscriptions, and keep-alive
 * registrations that renew and survive the node restarting.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcError, SignpostClient, type PeerError } from '../../../dist/runtime/index.js';
import type { Record as ProviderRecord } from '../../../protocols/types.js';
import { leadingZeroBits, workHash } from '../../../protocols/pow.js';
import { metadataDigest } from '../../../protocols/objects.js';
import { startNodeProcess, tempDir, useNodeProcess, type NodeProcess } from '../../helpers/node-process.js';
import { peer } from '../../helpers/objects.js';
import { eventually } from '../../helpers/sdk.js';

const T0 = 1_700_000_000;
const admin = peer(40);
const alice = peer(41);
const bob = peer(42);

/** The SPEC §7 codes of a failure: its own, and those of every node in a quorum failure. */
function codesOf(e: unknown): string[] {
  if (!(e instanceof RpcError)) throw e;
  const errors = Array.isArray(e.data.errors) ? (e.data.errors as PeerError[]) : [];
  return [e.code, ...errors.map((x) => x.code)];
}

async function failure(p: Promise<unknown>): Promise<string[]> {
  return p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    codesOf,
  );
}

const values = (providers: ProviderRecord[]) => providers.map((p) => p.metadata.value);

describe('the SDK against one node', () => {
  const ctx = useNodeProcess({ env: { admins: admin.peerId } });
  const clients: SignpostClient[] = [];
  let a: SignpostClient;
  let b: SignpostClient;
  const connect = async (identity = alice, url = ctx.node.rpcUrl) => {
    const c = await SignpostClient.connect(url, { identity });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    await ctx.rpc.call('debug.set_time', { now: T0 });
    a = await connect(alice);
    // The base URL works as well as the RPC URL.
    b = await connect(bob, ctx.node.rpcUrl.replace(/\/rpc$/, ''));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  it('reads the node: info with its clock, and an empty routing table', async () => {
    const info = await a.nodeInfo();
    expect(info.peer_id).toBe(ctx.node.peerId);
    expect(info.now).toBe(T0);
    expect(await a.now()).toBe(T0);
    expect(await a.peers()).toEqual([]);
  });

  it('creates a resource signed at the node clock and gets it back verified', async () => {
    const created = await a.createResource('weather', { ack: 1, timeoutMs: 2000 });
    expect(created.resourceId).toBe(a.getResourceId('weather'));
    expect(created.resourceId).toBe(await ctx.rpc.call('resources.get_resource_id', { label: 'weather', owner_peer_id: alice.peerId }));
    expect(created.acks).toBe(1);
    expect(created.errors).toEqual([]);
    expect(created.key).toMatchObject({ label: 'weather', owner_peer_id: alice.peerId, timestamp_created: T0, challenge_type: '' });

    const got = await b.getResource(created.resourceId);
    expect(got.resource).toEqual(created.key);
    expect(got.acks).toBe(1);
    // Anyone computes the id from the label and the owner.
    expect(b.getResourceId('weather', alice.peerId)).toBe(created.resourceId);
  });

  it('an unknown resource is key_not_found; an ack above the neighbourhood is quorum_not_reached', async () => {
    expect(await failure(a.getResource(a.getResourceId('never created')))).toContain('key_not_found');
    const { resourceId } = await a.createResource('acks');
    expect((await failure(a.resolveProviders(resourceId, { ack: 2, timeoutMs: 1000 })))[0]).toBe('quorum_not_reached');
  });

  it('registers providers (the client hosts, the node relays), resolves them by rank and by service, and unregisters', async () => {
    const { resourceId } = await a.createResource('shop');
    const mine = await a.registerProvider(resourceId, 'https://alice.example', { serviceId: 'api' });
    expect(mine.acks).toBe(1);
    expect(mine.record.metadata).toMatchObject({ issued_by: alice.peerId, peer_id: alice.peerId, relay_id: [ctx.node.peerId], service_id: ['api'], timestamp_issued: T0 });
    await ctx.rpc.call('debug.advance_time', { seconds: 10 });
    const theirs = await b.registerProvider(resourceId, 'https://bob.example', { serviceId: 'web' });
    expect(theirs.record.timestamp_created).toBe(T0 + 10);

    const all = await b.resolveProviders(resourceId);
    // Open resources rank by timestamp_issued, newest first.
    expect(all.providers).toEqual([theirs.record, mine.record]);
    expect((await b.resolveProviders(resourceId, { serviceId: 'api' })).providers).toEqual([mine.record]);

    const gone = await b.unregisterProvider(resourceId);
    expect(gone.tombstone).toMatchObject({ issued_by: bob.peerId, peer_id: bob.peerId, timestamp_issued: T0 + 10 });
    expect(values((await a.resolveProviders(resourceId)).providers)).toEqual(['https://alice.example']);
  });

  it('executeOnProviders calls every provider and collects results and failures', async () => {
    const r = await a.createResourceAndRegisterProvider('fleet', 'ok', { serviceId: 'job' });
    expect(r.resource.acks).toBe(1);
    expect(r.provider.acks).toBe(1);
    await b.registerProvider(r.resourceId, 'broken', { serviceId: 'job' });
    const outcomes = await a.executeOnProviders(r.resourceId, (p) => {
      if (p.metadata.value === 'broken') throw new Error('provider down');
      return `called ${p.metadata.issued_by}`;
    });
    expect(outcomes).toHaveLength(2);
    const ok = outcomes.find((o) => o.ok)!;
    const failed = outcomes.find((o) => !o.ok)!;
    expect(ok).toMatchObject({ ok: true, result: `called ${alice.peerId}` });
    expect(failed.provider.metadata.issued_by).toBe(bob.peerId);
    expect((failed as { error: Error }).error.message).toBe('provider down');
  });

  it('owner/v1: the owner registers, anyone else is refused with policy_violation', async () => {
    const { resourceId } = await a.createResource('private', { challengeType: 'owner/v1' });
    await a.registerProvider(resourceId, 'owner');
    expect(await failure(b.registerProvider(resourceId, 'intruder'))).toContain('policy_violation');
    expect(values((await b.resolveProviders(resourceId)).providers)).toEqual(['owner']);
  });

  it('hashcash/v1: the SDK mines the proof of work, reports progress, and the node accepts it', async () => {
    const { resourceId, key } = await a.createResource('costly', { minBits: 14, halfLifeS: 3600 });
    expect(key.challenge_type).toBe('hashcash/v1');
    const progress: { tries: number; bits: number }[] = [];
    const r = await b.registerProvider(resourceId, 'worked', { workBits: 16, onProgress: (p) => progress.push(p) });
    expect(leadingZeroBits(workHash(metadataDigest(r.record.metadata)))).toBeGreaterThanOrEqual(16);
    // The last report is the result.
    expect(progress.at(-1)!.bits).toBeGreaterThanOrEqual(16);
    expect((await a.resolveProviders(resourceId)).providers).toEqual([r.record]);
  });

  it('registerNodeProvider: an admin authenticates on its own and the node hosts the record; others are unauthorized', async () => {
    const boss = await connect(admin);
    const { resourceId, record, provider } = await boss.createResourceAndRegisterNodeProvider('node-hosted', 'served by the node', { serviceId: 'api' });
    expect(provider.acks).toBe(1);
    expect(record.metadata).toMatchObject({ issued_by: admin.peerId, peer_id: ctx.node.peerId, relay_id: [], service_id: ['api'], timestamp_issued: await a.now() });
    expect((await a.resolveProviders(resourceId)).providers).toEqual([record]);

    expect(await failure(a.registerNodeProvider(resourceId, 'not an admin'))).toContain('unauthorized');

    // The issuer removes it with a tombstone for the node's slot.
    await ctx.rpc.call('debug.advance_time', { seconds: 1 });
    await boss.unregisterProvider(resourceId, { peerId: ctx.node.peerId });
    expect((await a.resolveProviders(resourceId)).providers).toEqual([]);
  });

  it('subscribe: the current list at once, every change, nothing after unsubscribe', async () => {
    const { resourceId } = await a.createResource('followed');
    const seen: string[][] = [];
    const errors: Error[] = [];
    const sub = await a.subscribe(resourceId, (providers) => seen.push(values(providers)), { onError: (e) => errors.push(e) });
    await eventually(() => expect(seen).toEqual([[]]));
    await b.registerProvider(resourceId, 'first');
    await eventually(() => expect(seen.at(-1)).toEqual(['first']));
    await ctx.rpc.call('debug.advance_time', { seconds: 1 });
    await a.registerProvider(resourceId, 'second');
    await eventually(() => expect(seen.at(-1)).toEqual(['second', 'first']));
    expect(sub.providers!.map((p) => p.metadata.value)).toEqual(['second', 'first']);

    await sub.unsubscribe();
    const count = seen.length;
    await b.unregisterProvider(resourceId);
    await new Promise((r) => setTimeout(r, 1500));
    expect(seen).toHaveLength(count);
    expect(errors).toEqual([]);
  });

  it('keepProviderAlive renews at the node clock and removes the provider on stop', async () => {
    const { resourceId } = await a.createResource('kept');
    const reg = b.keepProviderAlive(resourceId, 'alive', { renewIntervalMs: 200, serviceId: 'api' });
    const first = await reg.registered();
    expect(reg.state).toBe('registered');
    const issued = first.metadata.timestamp_issued;

    await ctx.rpc.call('debug.advance_time', { seconds: 100 });
    const now = await a.now();
    await eventually(async () => {
      const [p] = (await a.resolveProviders(resourceId)).providers;
      expect(p.timestamp_created).toBe(now);
    });
    const [renewed] = (await a.resolveProviders(resourceId)).providers;
    // The same metadata (same version of the slot), re-signed by its host at a later time.
    expect(renewed.metadata.timestamp_issued).toBe(issued);
    expect(renewed.metadata).toEqual(first.metadata);

    await ctx.rpc.call('debug.advance_time', { seconds: 1 });
    expect(await reg.stop()).toBe('unregistered');
    expect((await a.resolveProviders(resourceId)).providers).toEqual([]);
  });
});

describe('the SDK across a node restart', () => {
  let node: NodeProcess;
  const dataDir = tempDir();
  const start = async (clockStart: number, port = 0) =>
    startNodeProcess({ dataDir, env: { clock_start: clockStart }, args: port ? ['--port', String(port)] : [] });

  afterAll(async () => {
    await node?.stop();
  });

  it('reconnects, re-registers a kept-alive provider and renews its subscription', async () => {
    node = await start(T0);
    const port = Number(new URL(node.rpcUrl).port);
    const client = await SignpostClient.connect(node.rpcUrl, { identity: alice, reconnectBaseMs: 50, reconnectMaxMs: 200 });
    try {
      const status: string[] = [];
      client.onConnectionChange((s) => status.push(s));
      const { resourceId } = await client.createResource('survivor');
      const seen: ProviderRecord[][] = [];
      await client.subscribe(resourceId, (list) => seen.push(list));
      const reg = client.keepProviderAlive(resourceId, 'still here', { retryBaseMs: 50, retryMaxMs: 200 });
      const first = await reg.registered();
      expect(first.timestamp_created).toBe(T0);
      await eventually(() => expect(seen.at(-1)).toEqual([first]));

      expect(await node.stop()).toBe(0);
      await eventually(() => expect(reg.state).toBe('disconnected'));
      // The node comes back on the same address with its clock later on.
      node = await start(T0 + 500, port);
      await eventually(() => expect(status).toEqual(['down', 'up']));

      // Re-registered at the new node clock without waiting for the renewal interval (one hour).
      await eventually(() => expect(reg.record?.timestamp_created).toBe(T0 + 500));
      expect(reg.state).toBe('registered');
      // The subscription follows on the new connection.
      await eventually(() => expect(seen.at(-1)?.map((p) => p.timestamp_created)).toEqual([T0 + 500]));
      expect((await client.resolveProviders(resourceId)).providers).toEqual([reg.record]);
    } finally {
      await client.close();
    }
  });
});

describe('docs/sdk.md', () => {
  const ctx = useNodeProcess({ manual: false });

  it('the first program runs against a node: registers, resolves, prints the value, removes the provider and exits', async () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const doc = readFileSync(`${root}docs/sdk.md`, 'utf8');
    const code = doc.match(/```js\n([\s\S]*?)```/)![1].replace('ws://127.0.0.1:7070/rpc', ctx.node.rpcUrl);
    // Inside the package, `import … from 'signpost'` resolves to the package itself.
    mkdirSync(`${root}test-artifacts`, { recursive: true });
    const file = `${root}test-artifacts/sdk-example.mjs`;
    writeFileSync(file, code);
    const { stdout } = await promisify(execFile)(process.execPath, [file], { encoding: 'utf8', timeout: 15_000 });
    expect(JSON.parse(stdout)).toEqual(['wss://me.example/forecast']);
    // close() stopped the registration: its tombstone removed the provider.
    const keys = await ctx.rpc.call<{ keys: { records: unknown[]; tombstones: unknown[] }[] }>('registry.list_keys', {});
    expect(keys.keys).toHaveLength(1);
    expect(keys.keys[0].records).toEqual([]);
    expect(keys.keys[0].tombstones).toHaveLength(1);
  });
});
