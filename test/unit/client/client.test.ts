/**
 * What the SDK signs and sends (SPEC §3, §9.2, §9.3), against a fake node: fields, the node's clock as the
 * only time source, session authentication, subscriptions across reconnects, and keep-alive
 * registrations wired to the connection.
 */
import { describe, expect, it } from 'vitest';
import { SignpostClient } from '../../../runtime/client/client.js';
import { base64urlDecode } from '../../../protocols/encoding.js';
import { sessionDigest } from '../../../protocols/identity.js';
import { verifyStrict } from '../../../protocols/crypto.js';
import { leadingZeroBits, workHash } from '../../../protocols/pow.js';
import { metadataDigest } from '../../../protocols/objects.js';
import { verifyKey, verifyRecord, verifyTombstone } from '../../../protocols/signed.js';
import { parseKey, parseRecord, parseTombstone } from '../../../protocols/validate.js';
import type { Record as ProviderRecord } from '../../../protocols/types.js';
import { eventually, FakeNode, rpcError } from '../../helpers/sdk.js';
import { ed25519, key, peer, record, verify } from '../../helpers/objects.js';

/** A node clock far from the local wall clock: everything the SDK signs must carry it. */
const NODE_NOW = 1_234_567;
const nodeId = peer(9);
const me = peer(3);

/** A fake node that holds the resources it is given and accepts every write. */
function fakeNode(keys: ReturnType<typeof key>[] = []) {
  const held = new Map(keys.map((k) => [k.id, k]));
  return new FakeNode(nodeId.peerId, NODE_NOW)
    .on('resources.create_resource', (p) => (held.set(p.key.id, p.key), { resource_id: p.key.id, acks: 1, errors: [] }))
    .on('resources.get_resource', (p) => {
      const k = held.get(p.resource_id);
      if (!k) throw rpcError('key_not_found');
      return { resource: k, acks: 1, errors: [] };
    })
    .on('resources.register_provider', () => ({ acks: 1, errors: [] }))
    .on('resources.unregister_provider', () => ({ acks: 1, errors: [] }));
}

describe('signing with the node clock', () => {
  it('createResource signs a key owned by the client at the node’s now, with the asked policy', async () => {
    const node = fakeNode();
    const c = new SignpostClient(node, me);
    const r = await c.createResource('weather', { minBits: 12, halfLifeS: 600, ack: 2, timeoutMs: 1500 });
    const [sent] = node.sent('resources.create_resource');
    expect(sent.ack).toBe(2);
    expect(sent.timeout_ms).toBe(1500);
    const k = parseKey(sent.key);
    verifyKey(k, verify);
    expect(k).toEqual(r.key);
    expect(r.resourceId).toBe(c.getResourceId('weather'));
    expect(k.owner_peer_id).toBe(me.peerId);
    expect(k.timestamp_created).toBe(NODE_NOW);
    expect(k.challenge_type).toBe('hashcash/v1');
    expect([...base64urlDecode(k.challenge)!]).toEqual([12, 0x58, 0x02, 0, 0]);
  });

  it('registerProvider: the client issues and hosts the record, its node is the relay', async () => {
    const K = key(peer(1), 'weather', 100);
    const node = fakeNode([K]);
    const c = new SignpostClient(node, me);
    const r = await c.registerProvider(K.id, 'https://me.example', { serviceId: 'api' });
    const [sent] = node.sent('resources.register_provider');
    const rec = parseRecord(sent.record);
    verifyRecord(rec, verify);
    expect(rec).toEqual(r.record);
    expect(rec.metadata).toMatchObject({
      key_id: K.id,
      issued_by: me.peerId,
      peer_id: me.peerId,
      relay_id: [nodeId.peerId],
      service_id: ['api'],
      value: 'https://me.example',
      timestamp_issued: NODE_NOW,
      solution: '',
    });
    expect(rec.timestamp_created).toBe(NODE_NOW);
    expect(sent.ack).toBeUndefined();
  });

  it('under hashcash/v1 the metadata carries a solution with at least min_bits (mined here from sources)', async () => {
    const K = key(peer(1), 'hard', 100, { challenge_type: 'hashcash/v1', challenge: new Uint8Array([10, 60, 0, 0, 0]) });
    const node = fakeNode([K]);
    const r = await new SignpostClient(node, me).registerProvider(K.id, 'v', { workBits: 11 });
    expect(r.record.metadata.solution).not.toBe('');
    expect(leadingZeroBits(workHash(metadataDigest(r.record.metadata)))).toBeGreaterThanOrEqual(11);
    verifyRecord(r.record, verify);
  });

  it('unregisterProvider signs a tombstone of the client’s slot at the node’s now (or of another host’s slot)', async () => {
    const K = key(peer(1), 'weather', 100);
    const node = fakeNode([K]);
    const c = new SignpostClient(node, me);
    await c.unregisterProvider(K.id);
    await c.unregisterProvider(K.id, { peerId: nodeId.peerId });
    const [mine, hosted] = node.sent('resources.unregister_provider').map((p) => parseTombstone(p.tombstone));
    verifyTombstone(mine, verify);
    expect(mine).toMatchObject({ key_id: K.id, issued_by: me.peerId, peer_id: me.peerId, timestamp_issued: NODE_NOW });
    expect(hosted).toMatchObject({ issued_by: me.peerId, peer_id: nodeId.peerId });
  });

  it('registerNodeProvider authenticates the connection once, with a signature over the session digest', async () => {
    const K = key(peer(1), 'weather', 100);
    const nonce = new Uint8Array(32).fill(7);
    const node = fakeNode([K])
      .on('session.challenge', () => ({ nonce: Buffer.from(nonce).toString('base64url') }))
      .on('session.authenticate', (p) => ({ peer_id: p.peer_id }))
      .on('resources.register_node_provider', async (p) => {
        const { makeRecord } = await import('../../../protocols/signed.js');
        return { record: makeRecord(nodeId, p.metadata, NODE_NOW), acks: 1, errors: [] };
      });
    const c = new SignpostClient(node, me);
    const r = await c.registerNodeProvider(K.id, 'node-hosted', { serviceId: 'api' });
    await c.registerNodeProvider(K.id, 'again');
    const auths = node.sent('session.authenticate');
    expect(auths).toHaveLength(1);
    expect(auths[0].peer_id).toBe(me.peerId);
    expect(verifyStrict(ed25519, me.publicKey, sessionDigest(nonce, nodeId.peerId), base64urlDecode(auths[0].signature)!)).toBe(true);
    expect(r.record.metadata).toMatchObject({ issued_by: me.peerId, peer_id: nodeId.peerId, relay_id: [], service_id: ['api'], timestamp_issued: NODE_NOW });

    // A new connection is a new session: the client authenticates again.
    node.status('down');
    node.status('up');
    await c.registerNodeProvider(K.id, 'after reconnect');
    expect(node.sent('session.authenticate')).toHaveLength(2);
  });
});

describe('subscribe', () => {
  const K = key(peer(1), 'weather', 100);
  const a = record(K, peer(2), 100);
  const b = record(K, peer(4), 101);

  function subscribingNode() {
    let n = 0;
    return fakeNode([K])
      .on('resources.subscribe', () => ({ subscription: `s${++n}` }))
      .on('resources.unsubscribe', () => ({}));
  }

  it('delivers verified lists, skips repeats, and keeps following across a reconnect', async () => {
    const node = subscribingNode();
    const c = new SignpostClient(node, me);
    const seen: ProviderRecord[][] = [];
    const errors: Error[] = [];
    // The first notification overtakes the subscribe answer.
    node.on('resources.subscribe', (p) => {
      node.notify('resources.providers_changed', { subscription: 's1', resource_id: p.resource_id, providers: [a] });
      return { subscription: 's1' };
    });
    const sub = await c.subscribe(K.id, (list) => seen.push(list), { onError: (e) => errors.push(e) });
    expect(seen).toEqual([[a]]);
    node.notify('resources.providers_changed', { subscription: 's1', resource_id: K.id, providers: [a] });
    node.notify('resources.providers_changed', { subscription: 's1', resource_id: K.id, providers: [a, b] });
    node.notify('resources.providers_changed', { subscription: 'other', resource_id: K.id, providers: [] });
    expect(seen).toEqual([[a], [a, b]]);
    expect(sub.providers).toEqual([a, b]);

    node.on('resources.subscribe', () => ({ subscription: 's2' }));
    node.status('down');
    node.status('up');
    await eventually(() => expect(sub.id).toBe('s2'));
    node.notify('resources.providers_changed', { subscription: 's2', resource_id: K.id, providers: [a, b] });
    node.notify('resources.providers_changed', { subscription: 's2', resource_id: K.id, providers: [b] });
    expect(seen).toEqual([[a], [a, b], [b]]);
    expect(errors).toEqual([]);

    await sub.unsubscribe();
    expect(node.sent('resources.unsubscribe')).toEqual([{ subscription: 's2' }]);
    node.notify('resources.providers_changed', { subscription: 's2', resource_id: K.id, providers: [] });
    expect(seen).toHaveLength(3);
  });

  it('a tampered list goes to onError, never to onChange', async () => {
    const node = subscribingNode();
    const c = new SignpostClient(node, me);
    const seen: ProviderRecord[][] = [];
    const errors: Error[] = [];
    await c.subscribe(K.id, (list) => seen.push(list), { onError: (e) => errors.push(e) });
    const forged = structuredClone(a);
    forged.metadata.value = 'forged';
    node.notify('resources.providers_changed', { subscription: 's1', resource_id: K.id, providers: [b, forged] });
    expect(seen).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(/resources\.providers_changed.*does not verify/);
  });
});

describe('keepProviderAlive over a connection', () => {
  const K = key(peer(1), 'weather', 100);

  it('registers, renews at the node’s now keeping the metadata, re-registers after a reconnect, and tombstones on stop', async () => {
    const node = fakeNode([K]);
    const c = new SignpostClient(node, me);
    const reg = c.keepProviderAlive(K.id, 'v', { renewIntervalMs: 40, serviceId: 'api' });
    const states: string[] = [];
    reg.onState((s) => states.push(s));
    const first = await reg.registered();
    expect(first.metadata.timestamp_issued).toBe(NODE_NOW);

    node.now = NODE_NOW + 50;
    await eventually(() => expect(reg.record!.timestamp_created).toBe(NODE_NOW + 50));
    // A renewal is the same metadata (same slot version), re-signed by the host at a later time.
    expect(reg.record!.metadata).toEqual(first.metadata);
    verifyRecord(reg.record!, verify);

    node.status('down');
    expect(reg.state).toBe('disconnected');
    const sentBefore = node.sent('resources.register_provider').length;
    node.now = NODE_NOW + 60;
    node.status('up');
    await eventually(() => expect(node.sent('resources.register_provider').length).toBeGreaterThan(sentBefore));
    await eventually(() => expect(reg.state).toBe('registered'));

    expect(await reg.stop()).toBe('unregistered');
    const [t] = node.sent('resources.unregister_provider');
    expect(t.tombstone).toMatchObject({ key_id: K.id, issued_by: me.peerId, peer_id: me.peerId });
    expect(states).toEqual(expect.arrayContaining(['registered', 'renewing', 'disconnected', 'registering', 'stopping', 'unregistered']));
    const count = node.sent('resources.register_provider').length;
    await new Promise((r) => setTimeout(r, 100));
    expect(node.sent('resources.register_provider')).toHaveLength(count);
  });

  it('a renewal refused with newer_entry_exists issues the metadata anew', async () => {
    const node = fakeNode([K]);
    const c = new SignpostClient(node, me);
    const reg = c.keepProviderAlive(K.id, 'v', { renewIntervalMs: 30 });
    const first = await reg.registered();
    node.now = NODE_NOW + 10;
    node.on('resources.register_provider', (p) => {
      if (p.record.metadata.timestamp_issued === NODE_NOW) throw rpcError('quorum_not_reached', 'quorum', { acks: 0, errors: [{ peer_id: nodeId.peerId, code: 'newer_entry_exists', message: 'tombstone' }] });
      return { acks: 1, errors: [] };
    });
    await eventually(() => expect(reg.record!.metadata.timestamp_issued).toBe(NODE_NOW + 10));
    expect(reg.record!.metadata).not.toEqual(first.metadata);
    await c.close();
    expect(reg.state).toBe('unregistered');
  });

  it('a permanent refusal fails the registration and rejects registered()', async () => {
    const node = fakeNode([K]).on('resources.register_provider', () => {
      throw rpcError('policy_violation', 'only the owner may register providers');
    });
    const reg = new SignpostClient(node, me).keepProviderAlive(K.id, 'v', { retryBaseMs: 10 });
    await expect(reg.registered()).rejects.toThrow(/failed: only the owner/);
    expect(reg.state).toBe('failed');
    expect(node.sent('resources.register_provider')).toHaveLength(1);
  });

  it('a resource not found yet is retried with backoff until it appears', async () => {
    const node = fakeNode([]);
    const reg = new SignpostClient(node, me).keepProviderAlive(K.id, 'v', { retryBaseMs: 10, retryMaxMs: 20 });
    await eventually(() => expect(node.sent('resources.get_resource').length).toBeGreaterThanOrEqual(3));
    expect(reg.state).not.toBe('registered');
    expect(reg.lastError).toBe('key_not_found');
    node.on('resources.get_resource', () => ({ resource: K, acks: 1, errors: [] }));
    await reg.registered();
    expect(reg.state).toBe('registered');
    await reg.stop();
  });
});
