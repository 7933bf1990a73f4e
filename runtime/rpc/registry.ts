/**
 * `registry.*` (SPEC §9.1, `registry.list_keys` of §9.4): the node's local store, no network fan-out.
 * Params are parsed by protocols/validate.ts in SPEC §3.5's order, then handed to the resource's actor.
 */
import { SignpostError } from '../../protocols/errors.js';
import { resourceId } from '../../protocols/objects.js';
import { mergeEntries, mergeKeys } from '../../protocols/rules.js';
import { recordEntry } from '../../protocols/signed.js';
import { LIMITS, type RecordEntry } from '../../protocols/types.js';
import {
  expectList,
  expectPeerId,
  expectPeerIdString,
  expectResourceId,
  expectString,
  expectTimestamp,
  isPlainObject,
  parseKey,
  parseRecord,
  parseTombstone,
} from '../../protocols/validate.js';
import { MAX_REPUBLISH_ENTRIES } from '../../protocols/wire.js';
import type { Handlers, NodeFacade } from './facade.js';

/** `resource_id(label, owner_peer_id)` from `registry.get_key_id` / `resources.get_resource_id` params. */
export function keyIdOf(p: { [name: string]: unknown }): string {
  const label = expectString(p.label, 'label', LIMITS.label);
  const owner = expectPeerIdString(p.owner_peer_id, 'owner_peer_id');
  expectPeerId(owner, 'owner_peer_id');
  return resourceId(label, owner);
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

export function registryHandlers(node: NodeFacade): Handlers {
  const { shards } = node;
  /** A republish batch: handed to its key's actor, or every entry refused when none names a key. */
  const republish = (items: unknown[], keyOf: (item: unknown) => unknown, path: string, type: 'republish_records' | 'republish_tombstones') => {
    const keyId = batchKeyId(items, keyOf, path);
    if (keyId === null) return { updated: 0, rejected: items.map((_, index) => ({ index, code: 'invalid_params' })) };
    return shards.request(keyId, { type, items });
  };
  return {
    'registry.get_key_id': keyIdOf,
    'registry.register_key': (p) => {
      const key = parseKey(p.key);
      return shards.request(key.id, { type: 'register_key', key });
    },
    'registry.republish_key': async (p) => {
      const key = parseKey(p.key);
      await shards.request(key.id, { type: 'republish_key', key });
      return {};
    },
    'registry.get_key_metadata': (p) => shards.request(expectResourceId(p.key_id, 'key_id'), { type: 'get_key_metadata' }),
    'registry.put_record': (p) => {
      const record = parseRecord(p.record);
      return shards.request(record.metadata.key_id, { type: 'put_record', record });
    },
    'registry.get_records': (p) => shards.request(expectResourceId(p.key_id, 'key_id'), { type: 'get_records' }),
    'registry.add_tombstone': (p) => {
      const tombstone = parseTombstone(p.tombstone);
      return shards.request(tombstone.key_id, { type: 'add_tombstone', tombstone });
    },
    'registry.get_tombstones': (p) => shards.request(expectResourceId(p.key_id, 'key_id'), { type: 'get_tombstones' }),
    'registry.republish_records': (p) =>
      republish(expectList(p.records, 'records', MAX_REPUBLISH_ENTRIES), (r) => (isPlainObject(r) && isPlainObject(r.metadata) ? r.metadata.key_id : undefined), 'records', 'republish_records'),
    'registry.republish_tombstones': (p) =>
      republish(expectList(p.tombstones, 'tombstones', MAX_REPUBLISH_ENTRIES), (t) => (isPlainObject(t) ? t.key_id : undefined), 'tombstones', 'republish_tombstones'),
    'registry.evict_stale': () => shards.evictStale(),
    'registry.clear_expired': () => shards.clearExpired(),
    'registry.merge': (p) => {
      const lists = expectList(p.records, 'records', MAX_REPUBLISH_ENTRIES).map((l, i) =>
        expectList(l, `records[${i}]`, MAX_REPUBLISH_ENTRIES).map((r, j) => recordEntry(parseRecord(r, `records[${i}][${j}]`))),
      );
      return mergeEntries(lists).map((e) => (e as RecordEntry).record);
    },
    'registry.merge_keys': (p) => {
      const keys = expectList(p.keys, 'keys', MAX_REPUBLISH_ENTRIES).map((k, i) => parseKey(k, `keys[${i}]`));
      if (keys.length === 0) throw new SignpostError('invalid_params', 'keys must not be empty');
      if (keys.some((k) => k.id !== keys[0].id)) throw new SignpostError('invalid_params', 'keys must all have the same id');
      return mergeKeys(keys);
    },
    'registry.list_keys': async (p) => {
      const after = p.after === undefined || p.after === null ? null : expectString(p.after, 'after', 64);
      const limit = p.limit === undefined ? 100 : expectTimestamp(p.limit, 'limit');
      if (limit < 1 || limit > 1000) throw new SignpostError('invalid_params', `limit must be 1..1000, got ${limit}`);
      const ids = node.store.listKeyIds(after, limit + 1);
      const page = ids.slice(0, limit);
      const keys = await shards.listItems(page);
      return { keys, next: ids.length > limit ? page[page.length - 1] : null };
    },
  };
}
