/**
 * The store in memory: the same interface and ordering as the LMDB store (store.ts), nothing durable. For
 * unit tests and the simulator, where thousands of nodes run in one process; a real node always runs on
 * LMDB. As with LMDB, a write becomes visible when it commits (on a later microtask, in the order the
 * writes were made), and the store keeps copies: what a caller changes afterwards is not stored.
 */
import { compareUtf8 } from '../../protocols/encoding.js';
import { slotKey } from '../../protocols/rules.js';
import type { Entry, StoredKey } from '../../protocols/types.js';
import type { DueIndex, ResourceSnapshot, Store, StoreStats, StoreWrite } from './store.js';

export class MemoryStore implements Store {
  private readonly keys = new Map<string, StoredKey>();
  private readonly entries = new Map<string, Map<string, Entry>>();
  private readonly due: { [I in DueIndex]: Map<string, number> } = { gc: new Map(), renew: new Map() };
  private readonly meta = new Map<string, unknown>();
  private commits = 0;
  private closed = false;

  load(keyId: string): ResourceSnapshot {
    const stored = this.keys.get(keyId);
    return {
      keyId,
      stored: stored ? structuredClone(stored) : null,
      entries: [...(this.entries.get(keyId)?.values() ?? [])].map((e) => structuredClone(e)),
      gcAt: this.due.gc.get(keyId) ?? null,
    };
  }

  async write(changes: StoreWrite[]): Promise<void> {
    if (this.closed) throw new Error('store is closed');
    const copies = structuredClone(changes);
    // Committed on a later microtask, like a group commit: not visible before the write's promise settles.
    await Promise.resolve();
    // Atomic like a transaction: a change that throws leaves nothing of the write behind.
    const undo: (() => void)[] = [];
    try {
      for (const c of copies) this.apply(c, undo);
    } catch (e) {
      for (const u of undo.reverse()) u();
      throw e;
    }
    this.commits++;
  }

  listKeyIds(after: string | null, limit: number): string[] {
    const ids = [...this.keys.keys()].sort(compareUtf8);
    return ids.filter((id) => after === null || compareUtf8(id, after) > 0).slice(0, Math.max(0, limit));
  }

  staleKeyIds(publishedAtOrBefore: number): string[] {
    return [...this.keys].filter(([, k]) => k.published === null || k.published <= publishedAtOrBefore).map(([id]) => id).sort(compareUtf8);
  }

  dueKeyIds(index: DueIndex, now: number): string[] {
    return [...this.due[index]].filter(([, at]) => at <= now).map(([id]) => id).sort(compareUtf8);
  }

  stats(): StoreStats {
    let entries = 0;
    for (const m of this.entries.values()) entries += m.size;
    return { commits: this.commits, bytes: 0, entries };
  }

  getMeta<T>(name: string): T | undefined {
    return structuredClone(this.meta.get(name)) as T | undefined;
  }

  async putMeta(name: string, value: unknown): Promise<void> {
    if (this.closed) throw new Error('store is closed');
    const copy = structuredClone(value);
    await Promise.resolve();
    this.meta.set(name, copy);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private apply(c: StoreWrite, undo: (() => void)[]): void {
    const restore = <K, V>(map: Map<K, V>, key: K) => {
      const had = map.has(key);
      const old = map.get(key);
      undo.push(() => (had ? map.set(key, old as V) : map.delete(key)));
    };
    switch (c.op) {
      case 'putKey':
        restore(this.keys, c.keyId);
        this.keys.set(c.keyId, c.stored);
        return;
      case 'deleteKey':
        restore(this.keys, c.keyId);
        restore(this.entries, c.keyId);
        restore(this.due.gc, c.keyId);
        restore(this.due.renew, c.keyId);
        this.keys.delete(c.keyId);
        this.entries.delete(c.keyId);
        this.due.gc.delete(c.keyId);
        this.due.renew.delete(c.keyId);
        return;
      case 'putEntry':
      case 'deleteEntry': {
        restore(this.entries, c.keyId);
        const slots = new Map(this.entries.get(c.keyId));
        if (c.op === 'putEntry') slots.set(slotKey(c.issuedBy, c.peerId), c.entry);
        else slots.delete(slotKey(c.issuedBy, c.peerId));
        this.entries.set(c.keyId, slots);
        return;
      }
      case 'setDue':
        restore(this.due[c.index], c.keyId);
        if (c.at === null) this.due[c.index].delete(c.keyId);
        else this.due[c.index].set(c.keyId, c.at);
        return;
      default:
        throw new Error(`unknown store op ${(c as { op: unknown }).op}`);
    }
  }
}
