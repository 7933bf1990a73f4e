/**
 * The JSON-RPC 2.0 interface of a node (SPEC §9) as one table: every method's name, params (with JSON
 * Schemas) and result. The node's server takes the names and the required and optional params from here
 * (runtime/rpc/), the SDK calls only names from here (runtime/client/), `rpc.discover` returns the OpenRPC
 * 1.3 document generated from it, and docs/rpc.md is generated from that document, so any language can
 * generate a client and no list of methods is written twice.
 *
 * The schemas describe shapes; the node checks every value with the stricter rules of SPEC §3.5 in their
 * order (protocols/validate.ts), so a value a schema allows can still be refused with its own error code.
 */
import { ERROR_CODES, type ErrorCode } from './errors.js';
import { MAX_CALL_BYTES, MAX_METHOD_BYTES, MAX_SERVED_SERVICES } from './relay.js';
import { LIMITS } from './types.js';

/** The `error` member of a JSON-RPC answer; `data.code` is the stable string code of SPEC §7. */
export interface RpcErrorObject {
  code: number;
  message: string;
  data?: Record<string, unknown>;
}

/** A JSON Schema (draft 2020-12, as OpenRPC 1.3 uses it). */
export type JsonSchema = { [keyword: string]: unknown };

export interface ParamSpec {
  schema: JsonSchema;
  required?: boolean;
  description: string;
}

export interface MethodSpec {
  summary: string;
  params: { [name: string]: ParamSpec };
  result: { name: string; schema: JsonSchema };
  /** Only on a node in test mode (the manual clock, SPEC §10). */
  testMode?: boolean;
}

// ---- schemas of SPEC §3 ----

const str = (description: string, maxBytes?: number, minBytes?: number): JsonSchema => ({
  type: 'string',
  description: maxBytes === undefined ? description : `${description} (${minBytes ?? 0}..${maxBytes} bytes of UTF-8)`,
});
const b64 = (description: string, maxBytes: number, exact = false): JsonSchema => ({
  type: 'string',
  contentEncoding: 'base64url',
  description: `${description}: ${exact ? '' : '0..'}${maxBytes} bytes, base64url without padding`,
});
const u64 = (description: string): JsonSchema => ({ type: 'integer', minimum: 0, maximum: LIMITS.max_timestamp, description });
const object = (properties: { [name: string]: JsonSchema }, description?: string): JsonSchema => ({
  type: 'object',
  ...(description ? { description } : {}),
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});
const list = (items: JsonSchema, description?: string): JsonSchema => ({ type: 'array', items, ...(description ? { description } : {}) });
const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

const PEER_ID_SCHEMA: JsonSchema = { type: 'string', description: 'Ed25519 peer id (base58btc, 12D3KooW…, SPEC §1)' };
const RESOURCE_ID_SCHEMA: JsonSchema = { type: 'string', description: 'resource id: base58 of 32 bytes (SPEC §3.1)' };
const PEER_ID = ref('PeerId');
const RESOURCE_ID = ref('ResourceId');

/** The signed objects and the shapes the results share, by name (`#/components/schemas/…`). */
export const SCHEMAS: { [name: string]: JsonSchema } = {
  PeerId: PEER_ID_SCHEMA,
  ResourceId: RESOURCE_ID_SCHEMA,
  Key: object(
    {
      id: RESOURCE_ID,
      label: str('label', LIMITS.label),
      owner_peer_id: PEER_ID,
      timestamp_created: u64('version of the key (seconds)'),
      challenge: b64('challenge, meaning set by challenge_type', LIMITS.challenge),
      challenge_type: { type: 'string', enum: ['', 'hashcash/v1', 'owner/v1'], description: 'access policy (SPEC §6)' },
      signature: b64('Ed25519 by owner_peer_id over key_digest', LIMITS.signature, true),
    },
    'a resource, signed by its owner (SPEC §3.1)',
  ),
  RecordMetadata: object(
    {
      key_id: RESOURCE_ID,
      issued_by: PEER_ID,
      peer_id: PEER_ID,
      timestamp_issued: u64('version of the record (seconds)'),
      solution: b64('proof of work', LIMITS.solution),
      value: str('free-form value, e.g. an address', LIMITS.value),
      relay_id: list(PEER_ID, '0 or 1 peer ids: the node that relays for the host'),
      service_id: list(str('service', LIMITS.service_id_max, LIMITS.service_id_min), '0 or 1 services'),
      issuer_signature: b64('Ed25519 by issued_by over metadata_digest', LIMITS.signature, true),
    },
    "what a provider's issuer signs (SPEC §3.2)",
  ),
  Record: object(
    {
      metadata: ref('RecordMetadata'),
      timestamp_created: u64('set and renewed by the host (seconds)'),
      signature: b64('Ed25519 by metadata.peer_id (the host) over record_digest', LIMITS.signature, true),
    },
    'a provider, co-signed by its host (SPEC §3.3)',
  ),
  Tombstone: object(
    {
      key_id: RESOURCE_ID,
      issued_by: PEER_ID,
      peer_id: PEER_ID,
      timestamp_issued: u64('seconds'),
      solution: b64('proof of work', LIMITS.solution),
      issuer_signature: b64('Ed25519 by issued_by over tombstone_digest', LIMITS.signature, true),
    },
    'a signed removal of one provider slot (SPEC §3.4)',
  ),
  KeyItem: object({ key: ref('Key'), records: list(ref('Record')), tombstones: list(ref('Tombstone')) }, 'a key with its served records and visible tombstones'),
  PeerError: object({ peer_id: PEER_ID, code: { type: 'string' }, message: { type: 'string' } }, 'one node that failed in a fan-out call'),
  RepublishResult: object({ updated: { type: 'integer' }, rejected: list(object({ index: { type: 'integer' }, code: { type: 'string' } })) }),
  ActorSummary: object({ id: { type: 'string' }, kind: { type: 'string' }, state: {}, started_at: { type: 'integer' } }),
};

// ---- params and results ----

const KEY_ID: ParamSpec = { schema: RESOURCE_ID, required: true, description: 'the resource id' };
const ACK: ParamSpec = { schema: { type: 'integer', minimum: 1, description: 'nodes of the neighbourhood that must succeed, 1..k (default 1)' }, description: 'quorum' };
const TIMEOUT_MS: ParamSpec = { schema: { type: 'integer', minimum: 1, maximum: 60_000 }, description: 'bound on the whole call in ms (default request_timeout_ms)' };
const FAN_OUT = { ack: ACK, timeout_ms: TIMEOUT_MS };
const LABEL_OWNER = {
  label: { schema: str('label', LIMITS.label), required: true, description: 'the resource label' },
  owner_peer_id: { schema: PEER_ID, required: true, description: 'the owner' },
};
const acks = (more: { [name: string]: JsonSchema } = {}): JsonSchema => object({ ...more, acks: { type: 'integer' }, errors: list(ref('PeerError')) });
const EMPTY: JsonSchema = object({});
const SERVICE_ID = str('service', LIMITS.service_id_max, LIMITS.service_id_min);
const param = (schema: JsonSchema, description: string, required = true): ParamSpec => ({ schema, description, required });

/** Every method of SPEC §9, by name. */
export const RPC_METHODS = {
  // 9.1 registry.* — the node's local store
  'registry.get_key_id': { summary: 'resource_id(label, owner_peer_id)', params: LABEL_OWNER, result: { name: 'key_id', schema: RESOURCE_ID } },
  'registry.register_key': { summary: 'stores a key (SPEC §4.2)', params: { key: param(ref('Key'), 'the signed key') }, result: { name: 'registered', schema: object({ key_id: RESOURCE_ID }) } },
  'registry.republish_key': { summary: 'stores a key and marks it published now', params: { key: param(ref('Key'), 'the signed key') }, result: { name: 'empty', schema: EMPTY } },
  'registry.get_key_metadata': { summary: 'the key held here', params: { key_id: KEY_ID }, result: { name: 'key', schema: ref('Key') } },
  'registry.put_record': { summary: 'stores a provider record (SPEC §4.3, §4.4)', params: { record: param(ref('Record'), 'the signed record') }, result: { name: 'empty', schema: EMPTY } },
  'registry.get_records': { summary: 'the served records, best first', params: { key_id: KEY_ID }, result: { name: 'records', schema: list(ref('Record')) } },
  'registry.add_tombstone': { summary: 'stores a tombstone', params: { tombstone: param(ref('Tombstone'), 'the signed tombstone') }, result: { name: 'empty', schema: EMPTY } },
  'registry.get_tombstones': { summary: 'the visible tombstones', params: { key_id: KEY_ID }, result: { name: 'tombstones', schema: list(ref('Tombstone')) } },
  'registry.republish_records': { summary: 'stores records of one key, each on its own', params: { records: param(list(ref('Record')), 'records of one key') }, result: { name: 'result', schema: ref('RepublishResult') } },
  'registry.republish_tombstones': { summary: 'stores tombstones of one key, each on its own', params: { tombstones: param(list(ref('Tombstone')), 'tombstones of one key') }, result: { name: 'result', schema: ref('RepublishResult') } },
  'registry.evict_stale': { summary: 'the keys not republished for stale_timeout, marked published now', params: {}, result: { name: 'items', schema: list(ref('KeyItem')) } },
  'registry.clear_expired': { summary: 'deletes what expired (SPEC §4.5)', params: {}, result: { name: 'counts', schema: object({ count_keys: { type: 'integer' }, count_records: { type: 'integer' }, count_tombstones: { type: 'integer' } }) } },
  'registry.merge': { summary: 'the slot winners of several record lists (SPEC §4.3)', params: { records: param(list(list(ref('Record'))), 'lists of records') }, result: { name: 'records', schema: list(ref('Record')) } },
  'registry.merge_keys': { summary: 'the winner of several versions of a key (SPEC §4.2)', params: { keys: param(list(ref('Key')), 'versions of one key') }, result: { name: 'key', schema: ref('Key') } },
  'registry.list_keys': {
    summary: 'every key held here, a page at a time, sorted by id',
    params: {
      after: param({ type: ['string', 'null'] }, 'list ids greater than this one', false),
      limit: param({ type: 'integer', minimum: 1, maximum: 1000 }, 'page size (default 100)', false),
    },
    result: { name: 'page', schema: object({ keys: list(ref('KeyItem')), next: { type: ['string', 'null'] } }) },
  },
  // 9.2 resources.* — the Resources API
  'resources.get_resource_id': { summary: 'resource_id(label, owner_peer_id)', params: LABEL_OWNER, result: { name: 'resource_id', schema: RESOURCE_ID } },
  'resources.create_resource': { summary: 'stores a key on its neighbourhood', params: { key: param(ref('Key'), 'the signed key'), ...FAN_OUT }, result: { name: 'created', schema: acks({ resource_id: RESOURCE_ID }) } },
  'resources.get_resource': { summary: 'the key, merged from its neighbourhood', params: { resource_id: KEY_ID, ...FAN_OUT }, result: { name: 'resource', schema: acks({ resource: ref('Key') }) } },
  'resources.register_provider': { summary: 'stores a provider record on its neighbourhood', params: { record: param(ref('Record'), 'the signed record'), ...FAN_OUT }, result: { name: 'registered', schema: acks() } },
  'resources.register_node_provider': {
    summary: 'this node co-signs and hosts a provider an authenticated admin issued',
    params: { metadata: param(ref('RecordMetadata'), 'metadata issued by the admin for this node'), ...FAN_OUT },
    result: { name: 'registered', schema: acks({ record: ref('Record') }) },
  },
  'resources.unregister_provider': { summary: 'stores a tombstone on its neighbourhood', params: { tombstone: param(ref('Tombstone'), 'the signed tombstone'), ...FAN_OUT }, result: { name: 'unregistered', schema: acks() } },
  'resources.resolve_providers': {
    summary: 'the live providers, merged from the neighbourhood, best first',
    params: { resource_id: KEY_ID, ...FAN_OUT, service_id: param(str('only the providers of this service', LIMITS.service_id_max, LIMITS.service_id_min), 'service filter', false) },
    result: { name: 'resolved', schema: acks({ providers: list(ref('Record')) }) },
  },
  'resources.subscribe': {
    summary: 'notifications resources.providers_changed {subscription, resource_id, providers} at once and at every change',
    params: { resource_id: KEY_ID },
    result: { name: 'subscribed', schema: object({ subscription: { type: 'string' } }) },
  },
  'resources.unsubscribe': { summary: 'ends a subscription of this connection', params: { subscription: param({ type: 'string' }, 'the subscription id') }, result: { name: 'empty', schema: EMPTY } },
  'resources.call_provider': {
    summary: "calls a method of a provider through its relay (SPEC §9.5); the provider's own error comes back with data.from_provider: true",
    params: {
      peer_id: param(PEER_ID, 'the provider (a record\'s metadata.peer_id)'),
      relay_id: param({ type: ['string', 'null'], description: "the provider's relay (a record's relay_id[0]); absent or null when the provider is a node" }, 'the relay', false),
      service_id: param(SERVICE_ID, 'the service the provider serves'),
      method: param(str('method name', MAX_METHOD_BYTES, 1), 'the method to call'),
      params: param({ description: `any JSON, at most ${MAX_CALL_BYTES} bytes (default null)` }, 'what the method is called with', false),
      timeout_ms: TIMEOUT_MS,
    },
    result: { name: 'called', schema: object({ result: { description: `the provider's result, at most ${MAX_CALL_BYTES} bytes of JSON` } }) },
  },
  // 9.3 session.*
  'session.challenge': { summary: 'a fresh nonce for session.authenticate', params: {}, result: { name: 'challenge', schema: object({ nonce: b64('nonce', 32, true) }) } },
  'session.authenticate': {
    summary: 'authenticates this connection as peer_id',
    params: { peer_id: param(PEER_ID, 'who the client is'), signature: param(b64('Ed25519 by peer_id over the session digest', LIMITS.signature, true), 'proof') },
    result: { name: 'session', schema: object({ peer_id: PEER_ID }) },
  },
  'session.serve': {
    summary: 'this authenticated connection answers provider.call requests for these services (SPEC §9.5)',
    params: {
      service_ids: param(list(SERVICE_ID, `1..${MAX_SERVED_SERVICES} services`), 'the services'),
      as_node: param({ type: 'boolean' }, 'serve as this node (a node provider; admins only), default false', false),
    },
    result: { name: 'empty', schema: EMPTY },
  },
  'session.unserve': { summary: 'stops answering provider.call for these services', params: { service_ids: param(list(SERVICE_ID), 'the services') }, result: { name: 'empty', schema: EMPTY } },
  // 9.4 node.*, actors.*, debug.*
  'node.info': {
    summary: 'who this node is, where it listens, and its clock',
    params: {},
    result: { name: 'info', schema: object({ peer_id: PEER_ID, version: { type: 'string' }, addresses: list({ type: 'string' }), uptime_s: { type: 'integer' }, now: { type: 'integer' } }) },
  },
  'node.peers': {
    summary: 'the routing table',
    params: {},
    result: { name: 'peers', schema: list(object({ peer_id: PEER_ID, address: { type: 'string' }, distance_bucket: { type: 'integer' }, last_seen: { type: 'integer' } })) },
  },
  'actors.list': { summary: 'every live actor, sorted by id', params: {}, result: { name: 'actors', schema: list(ref('ActorSummary')) } },
  'actors.get': {
    summary: "one live actor: its state, context and machine definition",
    params: { id: param({ type: 'string' }, 'the actor id') },
    result: { name: 'actor', schema: object({ id: { type: 'string' }, kind: { type: 'string' }, state: {}, context: {}, machine: {} }) },
  },
  'rpc.discover': { summary: 'this document (OpenRPC 1.3)', params: {}, result: { name: 'openrpc', schema: { type: 'object' } } },
  'debug.set_time': { summary: 'jumps the manual clock to now', params: { now: param(u64('seconds'), 'the new time') }, result: { name: 'clock', schema: object({ now: { type: 'integer' } }) }, testMode: true },
  'debug.advance_time': {
    summary: 'steps the manual clock forward through every due job',
    params: { seconds: param({ type: 'integer', minimum: 0 }, 'how far') },
    result: { name: 'clock', schema: object({ now: { type: 'integer' } }) },
    testMode: true,
  },
  'debug.crash_worker': {
    summary: 'ends a shard worker thread (it is restarted)',
    params: { worker: param({ type: 'integer', minimum: 0 }, 'the worker index'), how: param({ type: 'string', enum: ['exit', 'throw'] }, 'how it ends (default exit)', false) },
    result: { name: 'empty', schema: EMPTY },
    testMode: true,
  },
} as const satisfies { [name: string]: MethodSpec };

export type RpcMethod = keyof typeof RPC_METHODS;

/**
 * The request a node sends a client that serves a provider (`session.serve`, SPEC §9.5), on the client's
 * own connection; the client answers it with a result or a JSON-RPC error, like any call.
 */
export const CLIENT_METHODS = {
  'provider.call': {
    summary: 'a caller calls a method of a service this client serves',
    params: {
      call_id: param({ type: 'string' }, 'unique per relay'),
      from: param({ type: ['string', 'null'] }, "the caller's peer id as its node authenticated it, or null for an anonymous caller"),
      via: param({ type: ['string', 'null'] }, 'the node that handed the call to this relay (authenticated by the relay), or null when the caller is a client of this node'),
      service_id: param(SERVICE_ID, 'the service'),
      method: param({ type: 'string' }, 'the method'),
      params: param({}, 'what the caller sent'),
    },
    result: { name: 'result', schema: { description: `any JSON, at most ${MAX_CALL_BYTES} bytes` } },
  },
} as const satisfies { [name: string]: MethodSpec };

/** The required and the optional param names of `method`. */
export function paramNames(method: RpcMethod): { required: string[]; optional: string[] } {
  const params = Object.entries(RPC_METHODS[method].params as { [name: string]: ParamSpec });
  return { required: params.filter(([, p]) => p.required).map(([n]) => n), optional: params.filter(([, p]) => !p.required).map(([n]) => n) };
}

/**
 * The OpenRPC 1.3 document of this interface (what `rpc.discover` returns): `testMode` methods only
 * when the node runs the manual clock.
 */
export function openRpcDocument(version: string, opts: { testMode: boolean }): object {
  const errors = (Object.entries(ERROR_CODES) as [ErrorCode, number][]).map(([name, code]) => ({ code, message: name }));
  return {
    openrpc: '1.3.2',
    info: {
      title: 'Signpost node',
      version,
      description: 'JSON-RPC 2.0 over WebSocket at ws://HOST:PORT/rpc (SPEC §9). Errors carry their SPEC §7 name in error.data.code.',
    },
    servers: [{ name: 'node', url: 'ws://127.0.0.1:7070/rpc' }],
    methods: (Object.entries(RPC_METHODS) as [string, MethodSpec][])
      .filter(([, m]) => opts.testMode || !m.testMode)
      .map(([name, m]) => ({
        name,
        summary: m.summary,
        paramStructure: 'by-name',
        params: Object.entries(m.params).map(([p, spec]) => ({ name: p, description: spec.description, required: spec.required === true, schema: spec.schema })),
        result: m.result,
      })),
    components: { schemas: SCHEMAS, errors: Object.fromEntries(errors.map((e) => [e.message, e])) },
    // Requests the node sends a serving client (OpenRPC has no place for them; an extension member).
    'x-client-methods': Object.entries(CLIENT_METHODS).map(([name, m]) => ({
      name,
      summary: m.summary,
      params: Object.entries(m.params).map(([p, spec]) => ({ name: p, description: spec.description, required: spec.required === true, schema: spec.schema })),
      result: m.result,
    })),
  };
}
