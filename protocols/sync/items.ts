/**
 * What sync compares: the entries a node holds, one item each (SPEC §4.3's slot winners, and the key).
 *
 * - An item's id is `sha256(str("signpost/sync-item/v1") ‖ str(kind) ‖ bytes(digest) ‖ bytes(signature))`:
 *   the digest of SPEC §3 with the signature that digest does not cover (the key's, the host's, the
 *   tombstone issuer's), so two versions of an entry, or one entry signed twice, are two items.
 * - Entries the current key's policy does not allow are left out (gc removes them).
 * - Expiry must not make replicas look different, so each item has an instant at which it leaves the set
 *   on every node alike: `expired_timeout` after it was written (`ts`: a record's and a key's
 *   `timestamp_created`, a tombstone's `timestamp_issued`), and a key later still while any of its entries
 *   is in the set. (Local facts such as when a key was last republished here, or
 *   whether this node hosts a record, are not used: they differ between nodes.)
 */
import { sha256 } from '../crypto.js';
import { CanonicalWriter, fromHex } from '../encoding.js';
import { b64, keyDigest } from '../objects.js';
import { entryAllowed, policyOfKey, type ResourceState } from '../rules.js';
import { recordEntry, tombstoneEntry } from '../signed.js';
import type { Entry, Key } from '../types.js';
import type { SyncEntry } from './messages.js';

export type ItemKind = 'key' | 'record' | 'tombstone';

/** One item of a resource: its id, when it leaves the set, and what identifies its version cheaply. */
export interface ItemSpec {
  kind: ItemKind;
  /** The entry's slot (`issued_by peer_id`), null for the key. */
  slot: string | null;
  /** Changes whenever the item's id does (the digest and signature as stored), so ids are hashed once. */
  version: string;
  id(): Uint8Array;
  /**
   * When the item was written: a key's and a record's `timestamp_created`, a tombstone's
   * `timestamp_issued`. It is compared until `ts + expired_timeout` (a key: longer while an entry is).
   */
  ts: number;
}

export function itemId(kind: ItemKind, digest: Uint8Array, signature: Uint8Array): Uint8Array {
  return sha256(new CanonicalWriter().str('signpost/sync-item/v1').str(kind).bytes(digest).bytes(signature).finish());
}

export function keyItemId(key: Key): Uint8Array {
  return itemId('key', keyDigest(key), b64(key.signature));
}

export function entryItemId(e: Entry): Uint8Array {
  return e.kind === 'record'
    ? itemId('record', fromHex(e.digest), b64(e.record.signature))
    : itemId('tombstone', fromHex(e.digest), b64(e.tombstone.issuer_signature));
}

function keyVersion(k: Key): string {
  return `${k.timestamp_created} ${k.challenge_type} ${k.challenge} ${k.signature}`;
}

function entryVersion(e: Entry): string {
  return e.kind === 'record' ? `r ${e.digest} ${e.record.signature}` : `t ${e.digest} ${e.tombstone.issuer_signature}`;
}

/** When an entry was written (what its expiry counts from). */
export function entryTime(e: Entry): number {
  return e.kind === 'record' ? e.record.timestamp_created : e.tombstone.timestamp_issued;
}

/**
 * The items of one resource's state: the key (its own expiry; the index keeps it while an entry is in
 * the set) and every entry its policy allows. Nothing when no key is held.
 */
export function itemsOf(state: ResourceState): ItemSpec[] {
  const stored = state.stored;
  if (!stored) return [];
  const key = stored.key;
  const out: ItemSpec[] = [{ kind: 'key', slot: null, version: keyVersion(key), id: () => keyItemId(key), ts: key.timestamp_created }];
  const policy = policyOfKey(key);
  for (const [slot, e] of state.entries) {
    if (!entryAllowed(e, policy)) continue;
    out.push({ kind: e.kind, slot, version: entryVersion(e), id: () => entryItemId(e), ts: entryTime(e) });
  }
  return out;
}

/** The item id of an entry as it travels. */
export function syncEntryId(e: SyncEntry): Uint8Array {
  if (e.kind === 'key') return keyItemId(e.key);
  return entryItemId(e.kind === 'record' ? recordEntry(e.record) : tombstoneEntry(e.tombstone));
}
