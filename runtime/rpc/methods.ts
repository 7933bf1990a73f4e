/**
 * The JSON-RPC methods of one node (SPEC §9.1, §9.3, §9.4): params checked at the edge, then handed to
 * the resource shard. Method names are a public interface.
 */
import { SignpostError } from '../../protocols/errors.js';
import { base64urlDecode, base64urlEncode } from '../../protocols/encoding.js';
import { publicKeyOf, sessionDigest } from '../../protocols/identity.js';
import { verifyStrict, type Ed25519 } from '../../protocols/crypto.js';
import type { Random } from '../../protocols/random.js';
import { resourceId } from '../../protocols/objects.js';
import { mergeEntries, mergeKeys } from '../../protocols/rules.js';
import { recordEntry } from '../../protocols/signed.js';
import {
  expectBytes,
  expectFields,
  expectList,
  expectPeerId,
  expectPeerIdString,
  expectResourceId,
  expectString,
  expectTimestamp,
  isPlainObject,
  parseKey,
  parseMetadata,
  parseRecord,
  parseTombstone,
} from '../../protocols/validate.js';
import { LIMITS, type RecordEntry } from '../../protocols/types.js';
import type { RpcConnection, RpcDispatcher } from './server.js';
import type { Shards } from '../store/shards.js';
import type { Clock } from '../base/clock.js';
import type { Store } from '../store/store.js';
import type { NodeActors } from '../inspect/actors.js';
import type { Dht } from '../net/dht.js';
import type { FanOut } from '../net/quorum.js';
import type { Resources } from '../net/resources.js';
import type { Subscriptions } from './subscriptions.js';
import { MAX_REPUBLISH_ENTRIES } from '../../protocols/wire.js';

/** The clock controls of test mode (SPEC §10), owned by the node's job scheduler. */
export interface ClockControls {
  setTime(now: number): Promise<number>;
  advance(seconds: unknown): Promise<number>;
}

export interface NodeFacade {
  peerId: string;
  version: string;
  addresses(): string[];
  /** Seconds since the node started (wall clock). */
  uptimeS(): number;
  clock: Clock;
  store: Store;
  shards: Shards;
  jobs: ClockControls;
  actors: NodeActors;
  dht: Dht;
  resources: Resources;
  subscriptions: Subscriptions;
  random: Random;
  ed25519: Ed25519;
  /** Neighbourhood size (the largest `ack`), default fan-out timeout, and the admins of SPEC §9.3. */
  k: number;
  requestTimeoutMs: number;
  admins: readonly string[];
}

type Handler = (params: { [k: string]: unknown }, conn: RpcConnection) => unknown | Promise<unknown>;

/** Checks a method's params object: named only, no unknown fields. */
function params(method: string, p: unknown, required: readonly string[], optional: readonly string[] = []): { [k: string]: unknown } {
  if (p === undefined && required.length === 0) return {};
  if (Array.isArray(p)) throw new SignpostError('invalid_params', `${method}: params must be an object of named params, not a list`);
  if (!isPlainObject(p)) throw new SignpostError('invalid_params', `${method}: params must be an object`);
  return expectFields(p, 'params', required, optional);
}

/** The one key id a republish batch is about (SPEC §4.3: entries of two keys are `invalid_params`). */
function batchKeyId(items: unknown[], keyOf: (item: unknown) => unknown, path: string): string | null {
  let keyId: string | null = null;
  items.forEach((item, i) => {
    const k = keyOf(item);
    if (typeof k !== 'string') return;
    try {
      expectResourceId(k, `${path}[${i}].key_id`);
    } catch {
      return;
    }
    if (keyId !== null && k !== keyId) throw new SignpostError('invalid_params', `${path} must all belong to one key: ${keyId} and ${k}`);
    keyId = k;
  });
  return keyId;
}

export function createDispatcher(node: NodeFacade): RpcDispatcher {
  const { shards: shard, jobs, resources } = node;

  /** SPEC §5 / §9: `ack` 1..K (default 1), `timeout_ms` 1..60000 (default request_timeout_ms). */
  const fanOut = (p: { [k: string]: unknown }): FanOut => {
    const ack = p.ack === undefined ? 1 : expectTimestamp(p.ack, 'ack');
    if (ack < 1 || ack > node.k) throw new SignpostError('invalid_params', `ack must be 1..${node.k} (k), got ${ack}`);
    const timeoutMs = p.timeout_ms === undefined ? node.requestTimeoutMs : expectTimestamp(p.timeout_ms, 'timeout_ms');
    if (timeoutMs < 1 || timeoutMs > 60_000) throw new SignpostError('invalid_params', `timeout_ms must be 1..60000, got ${timeoutMs}`);
    return { ack, timeoutMs };
  };
  const FAN_OUT = ['ack', 'timeout_ms'] as const;
  const getKeyId = (p: { [k: string]: unknown }) => {
    const label = expectString(p.label, 'label', LIMITS.label);
    const owner = expectPeerIdString(p.owner_peer_id, 'owner_peer_id');
    expectPeerId(owner, 'owner_peer_id');
    return resourceId(label, owner);
  };

  const methods: { [name: string]: { required: readonly string[]; optional?: readonly string[]; run: Handler } } = {
    'registry.get_key_id': { required: ['label', 'owner_peer_id'], run: getKeyId },
    'registry.register_key': {
      required: ['key'],
      run: (p) => {
        const key = parseKey(p.key);
        return shard.request(key.id, { type: 'register_key', key });
      },
    },
    'registry.republish_key': {
      required: ['key'],
      run: async (p) => {
        const key = parseKey(p.key);
        await shard.request(key.id, { type: 'republish_key', key });
        return {};
      },
    },
    'registry.get_key_metadata': {
      required: ['key_id'],
      run: (p) => shard.request(expectResourceId(p.key_id, 'key_id'), { type: 'get_key_metadata' }),
    },
    'registry.put_record': {
      required: ['record'],
      run: (p) => {
        const record = parseRecord(p.record);
        return shard.request(record.metadata.key_id, { type: 'put_record', record });
      },
    },
    'registry.get_records': {
      required: ['key_id'],
      run: (p) => shard.request(expectResourceId(p.key_id, 'key_id'), { type: 'get_records' }),
    },
    'registry.add_tombstone': {
      required: ['tombstone'],
      run: (p) => {
        const tombstone = parseTombstone(p.tombstone);
        return shard.request(tombstone.key_id, { type: 'add_tombstone', tombstone });
      },
    },
    'registry.get_tombstones': {
      required: ['key_id'],
      run: (p) => shard.request(expectResourceId(p.key_id, 'key_id'), { type: 'get_tombstones' }),
    },
    'registry.republish_records': {
      required: ['records'],
      run: (p) => {
        const items = expectList(p.records, 'records', MAX_REPUBLISH_ENTRIES);
        const keyId = batchKeyId(items, (r) => (isPlainObject(r) && isPlainObject(r.metadata) ? r.metadata.key_id : undefined), 'records');
        if (keyId === null) return { updated: 0, rejected: items.map((_, index) => ({ index, code: 'invalid_params' })) };
        return shard.request(keyId, { type: 'republish_records', items });
      },
    },
    'registry.republish_tombstones': {
      required: ['tombstones'],
      run: (p) => {
        const items = expectList(p.tombstones, 'tombstones', MAX_REPUBLISH_ENTRIES);
        const keyId = batchKeyId(items, (t) => (isPlainObject(t) ? t.key_id : undefined), 'tombstones');
        if (keyId === null) return { updated: 0, rejected: items.map((_, index) => ({ index, code: 'invalid_params' })) };
        return shard.request(keyId, { type: 'republish_tombstones', items });
      },
    },
    'registry.evict_stale': { required: [], run: () => shard.evictStale() },
    'registry.clear_expired': { required: [], run: () => shard.clearExpired() },
    'registry.merge': {
      required: ['records'],
      run: (p) => {
        const lists = expectList(p.records, 'records', MAX_REPUBLISH_ENTRIES).map((l, i) =>
          expectList(l, `records[${i}]`, MAX_REPUBLISH_ENTRIES).map((r, j) => recordEntry(parseRecord(r, `records[${i}][${j}]`))),
        );
        return mergeEntries(lists).map((e) => (e as RecordEntry).record);
      },
    },
    'registry.merge_keys': {
      required: ['keys'],
      run: (p) => {
        const keys = expectList(p.keys, 'keys', MAX_REPUBLISH_ENTRIES).map((k, i) => parseKey(k, `keys[${i}]`));
        if (keys.length === 0) throw new SignpostError('invalid_params', 'keys must not be empty');
        if (keys.some((k) => k.id !== keys[0].id)) throw new SignpostError('invalid_params', 'keys must all have the same id');
        return mergeKeys(keys);
      },
    },
    'registry.list_keys': {
      required: [],
      optional: ['after', 'limit'],
      run: async (p) => {
        const after = p.after === undefined || p.after === null ? null : expectString(p.after, 'after', 64);
        const limit = p.limit === undefined ? 100 : expectTimestamp(p.limit, 'limit');
        if (limit < 1 || limit > 1000) throw new SignpostError('invalid_params', `limit must be 1..1000, got ${limit}`);
        const ids = node.store.listKeyIds(after, limit + 1);
        const page = ids.slice(0, limit);
        const keys = await shard.listItems(page);
        return { keys, next: ids.length > limit ? page[page.length - 1] : null };
      },
    },
    'resources.get_resource_id': { required: ['label', 'owner_peer_id'], run: getKeyId },
    'resources.create_resource': {
      required: ['key'],
      optional: FAN_OUT,
      run: (p) => resources.createResource(parseKey(p.key), fanOut(p)),
    },
    'resources.get_resource': {
      required: ['resource_id'],
      optional: FAN_OUT,
      run: (p) => resources.getResource(expectResourceId(p.resource_id, 'resource_id'), fanOut(p)),
    },
    'resources.register_provider': {
      required: ['record'],
      optional: FAN_OUT,
      run: (p) => resources.registerProvider(parseRecord(p.record), fanOut(p)),
    },
    'resources.register_node_provider': {
      required: ['metadata'],
      optional: FAN_OUT,
      run: (p, conn) => {
        const metadata = parseMetadata(p.metadata);
        const f = fanOut(p);
        const who = conn.session.peerId;
        if (who === null || !node.admins.includes(who)) {
          throw new SignpostError('unauthorized', who === null
            ? 'resources.register_node_provider needs an authenticated admin (session.challenge, then session.authenticate)'
            : `${who} is not an admin of this node (config "admins")`);
        }
        return resources.registerNodeProvider(metadata, who, f);
      },
    },
    'resources.unregister_provider': {
      required: ['tombstone'],
      optional: FAN_OUT,
      run: (p) => resources.unregisterProvider(parseTombstone(p.tombstone), fanOut(p)),
    },
    'resources.resolve_providers': {
      required: ['resource_id'],
      optional: [...FAN_OUT, 'service_id'],
      run: (p) => {
        const id = expectResourceId(p.resource_id, 'resource_id');
        const serviceId = p.service_id === undefined ? undefined : expectString(p.service_id, 'service_id', LIMITS.service_id_max, LIMITS.service_id_min);
        return resources.resolveProviders(id, fanOut(p), serviceId);
      },
    },
    'resources.subscribe': {
      required: ['resource_id'],
      run: (p, conn) => node.subscriptions.subscribe(conn, expectResourceId(p.resource_id, 'resource_id')),
    },
    'resources.unsubscribe': {
      required: ['subscription'],
      run: (p, conn) => {
        node.subscriptions.unsubscribe(conn, expectString(p.subscription, 'subscription', 64));
        return {};
      },
    },
    'session.challenge': {
      required: [],
      run: (_p, conn) => {
        const nonce = node.random.bytes(32);
        conn.session.nonce = nonce;
        return { nonce: base64urlEncode(nonce) };
      },
    },
    'session.authenticate': {
      required: ['peer_id', 'signature'],
      run: (p, conn) => {
        const peerId = expectPeerIdString(p.peer_id, 'peer_id');
        const signature = expectBytes(p.signature, 'signature', LIMITS.signature, true);
        expectPeerId(peerId, 'peer_id');
        const nonce = conn.session.nonce;
        conn.session.nonce = null; // a nonce serves one attempt
        if (!nonce) throw new SignpostError('unauthorized', 'session.authenticate: no current nonce; call session.challenge first');
        const ok = verifyStrict(node.ed25519, publicKeyOf(peerId)!, sessionDigest(nonce, node.peerId), base64urlDecode(signature)!);
        if (!ok) throw new SignpostError('invalid_signature', `session.authenticate: signature by ${peerId} over the session digest does not verify`);
        conn.session.peerId = peerId;
        return { peer_id: peerId };
      },
    },
    'node.info': {
      required: [],
      run: () => ({
        peer_id: node.peerId,
        version: node.version,
        addresses: node.addresses(),
        uptime_s: node.uptimeS(),
        now: node.clock.now(),
      }),
    },
    'node.peers': { required: [], run: () => node.dht.peers() },
    'actors.list': { required: [], run: () => node.actors.list() },
    'actors.get': { required: ['id'], run: (p) => node.actors.get(expectString(p.id, 'id', 256)) },
  };

  if (node.clock.kind === 'manual') {
    methods['debug.set_time'] = {
      required: ['now'],
      run: async (p) => ({ now: await jobs.setTime(expectTimestamp(p.now, 'now')) }),
    };
    methods['debug.advance_time'] = {
      required: ['seconds'],
      // The clock owns the rule: a non-negative safe integer that keeps now within 2^53 − 1.
      run: async (p) => ({ now: await jobs.advance(p.seconds) }),
    };
    methods['debug.crash_worker'] = {
      required: ['worker'],
      optional: ['how'],
      run: async (p) => {
        const worker = expectTimestamp(p.worker, 'worker');
        const how = p.how === undefined ? 'exit' : p.how;
        if (how !== 'exit' && how !== 'throw') throw new SignpostError('invalid_params', `how must be "exit" or "throw", got ${JSON.stringify(how)}`);
        await shard.crashWorker(worker, how);
        return {};
      },
    };
  }

  return {
    has: (method) => Object.hasOwn(methods, method),
    async call(method, raw, conn) {
      const m = methods[method];
      return m.run(params(method, raw, m.required, m.optional), conn);
    },
  };
}
