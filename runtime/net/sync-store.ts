/**
 * Entries that arrive by sync, stored the way a republish push is (SPEC §4.2–4.3): per resource, the key
 * first (`republish_key`), then its records and tombstones, each verified by the resource's actor like
 * any write: signatures, time rules, policy. A bad entry is refused on its own and never blocks the others.
 */
import { resourceOf, type SyncEntry } from '../../protocols/sync/messages.js';
import type { StoreOutput } from '../../actors/sync.js';
import type { Key } from '../../protocols/types.js';
import type { Shards } from '../store/shards.js';

/** Resources stored at once. */
const CONCURRENCY = 8;

interface Group {
  keyId: string;
  key: Key | null;
  records: unknown[];
  tombstones: unknown[];
}

/**
 * Stores `entries` (grouped by resource); `stored` counts what changed, `rejected` what was refused (an
 * entry that loses its slot to what is held is neither). `invalid` is told when a refusal says the sender
 * forged something (a bad signature), so the caller can make it pay.
 */
export async function storeSyncEntries(shards: Shards, entries: readonly SyncEntry[], invalid: () => void): Promise<StoreOutput> {
  const groups = new Map<string, Group>();
  for (const e of entries) {
    const keyId = resourceOf(e);
    let g = groups.get(keyId);
    if (!g) groups.set(keyId, (g = { keyId, key: null, records: [], tombstones: [] }));
    if (e.kind === 'key') g.key = e.key;
    else if (e.kind === 'record') g.records.push(e.record);
    else g.tombstones.push(e.tombstone);
  }
  const out: StoreOutput = { stored: 0, rejected: 0 };
  const refused = (code: string, n = 1) => {
    out.rejected += n;
    if (code === 'invalid_signature') invalid();
  };
  const store = async (g: Group) => {
    if (g.key) {
      try {
        await shards.request(g.keyId, { type: 'republish_key', key: g.key });
        out.stored++;
      } catch (e) {
        refused((e as { code?: string }).code ?? 'internal_error');
      }
    }
    for (const [type, items] of [['republish_records', g.records], ['republish_tombstones', g.tombstones]] as const) {
      if (items.length === 0) continue;
      try {
        const r = await shards.request<{ updated: number; rejected: { code: string }[] }>(g.keyId, { type, items });
        out.stored += r.updated;
        for (const x of r.rejected) refused(x.code);
      } catch (e) {
        refused((e as { code?: string }).code ?? 'internal_error', items.length);
      }
    }
  };
  const queue = [...groups.values()];
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
    for (let g = queue.shift(); g; g = queue.shift()) await store(g);
  }));
  return out;
}
