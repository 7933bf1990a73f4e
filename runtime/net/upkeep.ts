/**
 * The network side of the upkeep jobs (SPEC §5): republish pushes each stale key, with its records and
 * tombstones, to the key's current neighbourhood (so nodes that joined later hold it too); renew's
 * publishing phase pushes the host records it re-signed.
 */
import type { PushTally } from '../../actors/renew.js';
import type { KeyItem } from '../../protocols/registry.js';
import { isHostRecord } from '../../protocols/rules.js';
import type { Shards } from '../store/shards.js';
import type { Neighbourhoods } from './neighbourhood.js';

/** Pushes of one upkeep run, to at most this many keys at once. */
const PUSH_CONCURRENCY = 8;

export class Upkeep {
  constructor(
    private readonly opts: { peerId: string; shards: Shards; neighbourhoods: Neighbourhoods; requestTimeoutMs: number },
  ) {}

  /**
   * Pushes each key with its records and tombstones to its current neighbourhood (`republish`); counts the
   * node-to-node pushes that succeeded and failed.
   */
  async push(items: readonly KeyItem[]): Promise<PushTally> {
    const { neighbourhoods, requestTimeoutMs } = this.opts;
    let pushed = 0;
    let failed = 0;
    const queue = [...items];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const deadline = neighbourhoods.timers.now() + requestTimeoutMs;
        const nodes = await neighbourhoods.of(item.key.id, deadline, true);
        const params = { key: item.key, records: item.records, tombstones: item.tombstones };
        const results = await Promise.allSettled(nodes.filter((n) => !n.self).map((n) => neighbourhoods.send(n, 'republish', params, requestTimeoutMs)));
        for (const r of results) r.status === 'fulfilled' ? pushed++ : failed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUSH_CONCURRENCY, items.length) }, worker));
    return { pushed, failed };
  }

  /** The items of `keyIds` with only this node's host records re-signed at `at` (renew's publishing phase). */
  async renewedItems(keyIds: readonly string[], at: number): Promise<KeyItem[]> {
    const items = await this.opts.shards.listItems([...keyIds]);
    const host = { hostPeerId: this.opts.peerId };
    return items.map((i) => ({
      key: i.key,
      records: i.records.filter((r) => isHostRecord({ record: r }, host) && r.timestamp_created === at),
      tombstones: [],
    }));
  }
}
