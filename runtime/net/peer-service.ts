/**
 * What a node answers its peers (protocols/wire.ts methods): routing (`ping`, `find_node`), the writes of
 * the Resources API fan-out, reads, and republish pushes. Who sent a request does not change the answer;
 * every write is admitted by the resource's actor like any other (SPEC §3.5).
 */
import { keyNotHeld, type KeyItem } from '../../protocols/registry.js';
import type { Key } from '../../protocols/types.js';
import type { PeerRequest } from '../../protocols/wire.js';
import type { Shards } from '../store/shards.js';
import type { Dht } from './dht.js';

/** This node's own `get` answer for `keyId`. */
export async function localItem(shards: Shards, keyId: string): Promise<KeyItem> {
  const [item] = await shards.listItems([keyId]);
  if (!item) throw keyNotHeld(keyId);
  return item;
}

export function peerService(dht: Dht, shards: Shards): (req: PeerRequest) => Promise<unknown> {
  const acceptPush = async (key: Key, records: unknown[], tombstones: unknown[]) => {
    await shards.request(key.id, { type: 'republish_key', key });
    const r = records.length ? await shards.request<{ updated: number }>(key.id, { type: 'republish_records', items: records }) : { updated: 0 };
    const t = tombstones.length ? await shards.request<{ updated: number }>(key.id, { type: 'republish_tombstones', items: tombstones }) : { updated: 0 };
    return { updated: r.updated + t.updated };
  };
  return async (req) => {
    switch (req.method) {
      case 'ping':
        return {};
      case 'find_node':
        return { peers: dht.closestKnown(req.target) };
      case 'store_key':
        await shards.request(req.key.id, { type: 'register_key', key: req.key });
        return {};
      case 'put_record':
        await shards.request(req.record.metadata.key_id, { type: 'put_record', record: req.record });
        return {};
      case 'add_tombstone':
        await shards.request(req.tombstone.key_id, { type: 'add_tombstone', tombstone: req.tombstone });
        return {};
      case 'get':
        return localItem(shards, req.key_id);
      case 'republish':
        return acceptPush(req.key, req.records, req.tombstones);
    }
  };
}
