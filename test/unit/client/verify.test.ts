/**
 * The SDK trusts its node to route, not to tell the truth: every signed object it receives is verified,
 * and a node that forges or alters a resource or a provider is caught with a VerificationError.
 */
import { describe, expect, it } from 'vitest';
import { SignpostClient, VerificationError } from '../../../runtime/client/client.js';
import { makeKey, makeMetadata, makeRecord } from '../../../protocols/signed.js';
import type { Key, Record as ProviderRecord } from '../../../protocols/types.js';
import { FakeNode } from '../../helpers/sdk.js';
import { key, peer, record } from '../../helpers/objects.js';

const T = 1_700_000_000;
const owner = peer(1);
const provider = peer(2);
const nodeId = peer(9);
const client = peer(3);
const K = key(owner, 'weather', T);
const OTHER = key(owner, 'traffic', T);

function clientOver(node: FakeNode): SignpostClient {
  return new SignpostClient(node, client);
}

function resolving(providers: unknown[]): SignpostClient {
  return clientOver(new FakeNode(nodeId.peerId, T).on('resources.resolve_providers', () => ({ providers, acks: 1, errors: [] })));
}

async function refusal(p: Promise<unknown>): Promise<VerificationError> {
  const e = await p.then(
    () => {
      throw new Error('expected a VerificationError');
    },
    (e: unknown) => e,
  );
  expect(e).toBeInstanceOf(VerificationError);
  return e as VerificationError;
}

const clone = <T>(x: T): T => structuredClone(x);

describe('resolveProviders verifies every provider', () => {
  const honest = record(K, provider, T, { fields: { service_id: ['api'] } });
  const second = record(K, peer(4), T + 1);

  it('returns honest providers as the node ranked them', async () => {
    const r = await resolving([honest, second]).resolveProviders(K.id);
    expect(r.providers).toEqual([honest, second]);
    expect(r.acks).toBe(1);
  });

  it('a provider whose value was altered after signing is refused (invalid_signature)', async () => {
    const tampered = clone(honest);
    tampered.metadata.value = 'https://evil.example';
    const e = await refusal(resolving([second, tampered]).resolveProviders(K.id));
    expect(e.code).toBe('invalid_signature');
    expect(e.method).toBe('resources.resolve_providers');
    expect(e.message).toContain(`issuer_signature by ${provider.peerId}`);
  });

  it('a record re-hosted by the node under its own key (host signature by someone else) is refused', async () => {
    // The node re-signs the provider's metadata as if it hosted it, but claims the provider as host.
    const forged: ProviderRecord = { ...makeRecord(nodeId, honest.metadata, T + 5) };
    const e = await refusal(resolving([forged]).resolveProviders(K.id));
    expect(e.code).toBe('invalid_signature');
    expect(e.message).toContain(`host signature by ${provider.peerId}`);
  });

  it('a renewal the host never signed (timestamp_created moved) is refused', async () => {
    const moved = clone(honest);
    moved.timestamp_created = T + 3600;
    expect((await refusal(resolving([moved]).resolveProviders(K.id))).code).toBe('invalid_signature');
  });

  it('a valid provider of another resource is refused (invalid_record)', async () => {
    const elsewhere = record(OTHER, provider, T);
    const e = await refusal(resolving([honest, elsewhere]).resolveProviders(K.id));
    expect(e.code).toBe('invalid_record');
    expect(e.message).toContain(`belongs to resource ${OTHER.id}`);
  });

  it('with a serviceId, a provider of another service is refused', async () => {
    const e = await refusal(resolving([second]).resolveProviders(K.id, { serviceId: 'api' }));
    expect(e.code).toBe('invalid_record');
    expect(e.message).toContain('not "api"');
    expect((await resolving([honest]).resolveProviders(K.id, { serviceId: 'api' })).providers).toEqual([honest]);
  });

  it('a malformed provider (unknown field, bad peer id) is refused by shape', async () => {
    expect((await refusal(resolving([{ ...honest, extra: 1 }]).resolveProviders(K.id))).code).toBe('invalid_params');
    const badPeer = clone(honest);
    badPeer.metadata.peer_id = '12D3KooWnot-a-peer-id';
    expect((await refusal(resolving([badPeer]).resolveProviders(K.id))).code).toBe('invalid_peer_id');
    expect((await refusal(resolving('nope' as never).resolveProviders(K.id))).code).toBe('invalid_params');
  });

  it('executeOnProviders never calls a provider from a forged answer', async () => {
    const tampered = clone(honest);
    tampered.metadata.value = 'https://evil.example';
    const called: string[] = [];
    await refusal(resolving([tampered]).executeOnProviders(K.id, (p) => called.push(p.metadata.value)));
    expect(called).toEqual([]);
  });
});

describe('getResource verifies the key', () => {
  const getting = (resource: unknown) => clientOver(new FakeNode(nodeId.peerId, T).on('resources.get_resource', () => ({ resource, acks: 1, errors: [] })));

  it('returns an honest key', async () => {
    expect((await getting(K).getResource(K.id)).resource).toEqual(K);
  });

  it('a key whose label was altered no longer matches its id (invalid_key)', async () => {
    const e = await refusal(getting({ ...K, label: 'weather2' }).getResource(K.id));
    expect(e.code).toBe('invalid_key');
  });

  it('a key whose policy was altered fails its owner signature (invalid_signature)', async () => {
    const e = await refusal(getting({ ...K, challenge_type: 'owner/v1' } satisfies Key).getResource(K.id));
    expect(e.code).toBe('invalid_signature');
    expect(e.message).toContain(`signature by owner ${owner.peerId}`);
  });

  it('a valid key of another resource is refused', async () => {
    const e = await refusal(getting(OTHER).getResource(K.id));
    expect(e.code).toBe('invalid_key');
    expect(e.message).toContain('not the resource asked for');
  });

  it('a key signed by the node in the owner’s name is refused', async () => {
    const forged = { ...makeKey(nodeId, { label: 'weather', timestamp_created: T }), id: K.id, owner_peer_id: owner.peerId };
    expect((await refusal(getting(forged).getResource(K.id))).code).toBe('invalid_signature');
  });
});

describe('registerNodeProvider verifies the host record the node co-signs', () => {
  const adminNode = (answer: (metadata: any) => unknown) =>
    new FakeNode(nodeId.peerId, T)
      .on('resources.get_resource', () => ({ resource: K, acks: 1, errors: [] }))
      .on('session.challenge', () => ({ nonce: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }))
      .on('session.authenticate', (p) => ({ peer_id: p.peer_id }))
      .on('resources.register_node_provider', (p) => ({ record: answer(p.metadata), acks: 1, errors: [] }));

  it('accepts the record the node signed over exactly the metadata sent', async () => {
    const r = await clientOver(adminNode((m) => makeRecord(nodeId, m, T))).registerNodeProvider(K.id, 'v');
    expect(r.record.metadata.peer_id).toBe(nodeId.peerId);
    expect(r.record.metadata.issued_by).toBe(client.peerId);
  });

  it('refuses a record whose metadata the node swapped for other (validly signed) metadata', async () => {
    const other = makeMetadata(client, { key_id: K.id, peer_id: nodeId.peerId, timestamp_issued: T - 100, value: 'old value' });
    const e = await refusal(clientOver(adminNode(() => makeRecord(nodeId, other, T))).registerNodeProvider(K.id, 'v'));
    expect(e.code).toBe('invalid_record');
    expect(e.message).toContain('not the metadata that was sent');
  });
});
