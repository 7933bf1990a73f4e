/**
 * What a node answers its peers (protocols/wire.ts methods): routing (`ping`, `find_node`), the writes of
 * the Resources API fan-out, reads, republish pushes, sync sessions and calls to the providers it relays for. Who sent a request does not change the answer;
 * every write is admitted by the resource's actor like any other (SPEC §3.5).
 */
import { keyNotHeld, type KeyItem } from '../../protocols/registry.js';
import type { Key } from '../../protocols/types.js';
import type { PeerRequest } from '../../protocols/wire.js';
import type { Shards } from '../store/shards.js';
import type { Dht } from './dht.js';
import type { Relay } from './relay.js';
import type { Sync } from './sync.js';
import type { PeerLink } from './transport.js';

/**
 * This node's own `get` answer for `keyId`, `partial` while its first sync of the key's range has not
 * finished (net/sync.ts).
 */
export async function localItem(shards: Shards, sync: Pick<Sync, 'isComplete'>, keyId: string): Promise<KeyItem & { partial?: true }> {
  const [item] = await shards.listItems([keyId]);
  if (!item) throw keyNotHeld(keyId);
  return sync.isComplete(keyId) ? item : { ...item, partial: true };
}

/**
 * Stores a pushed key with its records and tombstones (a republish, or a read repair), each admitted by the
 * resource's actor like any write; `updated` counts the entries that changed something.
 */
export async function acceptPush(shards: Shards, key: Key, records: unknown[], tombstones: unknown[]): Promise<{ updated: number }> {
  await shards.request(key.id, { type: 'republish_key', key });
  const r = records.length ? await shards.request<{ updated: number }>(key.id, { type: 'republish_records', items: records }) : { updated: 0 };
  const t = tombstones.length ? await shards.request<{ updated: number }>(key.id, { type: 'republish_tombstones', items: tombstones }) : { updated: 0 };
  return { updated: r.updated + t.updated };
}

export function peerService(dht: Dht, shards: Shards, sync: Sync, relay: Pick<Relay, 'serve'>): (from: PeerLink, req: PeerRequest) => Promise<unknown> {
  return async (from, req) => {
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
        return localItem(shards, sync, req.key_id);
      case 'republish':
        return acceptPush(shards, req.key, req.records, req.tombstones);
      case 'sync':
        return sync.respond(from, req.message);
      case 'relay_call':
        return relay.serve(from, req.call);
    }
  };
}
