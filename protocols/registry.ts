/**
 * The operations of one resource (SPEC §4, §3.5 steps 2–6) as pure functions over a ResourceState.
 * Each returns the next state, the result, and the changes to persist; the resource actor applies them.
 * Shapes (step 1) are checked by validate.ts before an operation is called.
 */
import { SignpostError, type ErrorCode } from './errors.js';
import {
  applyEntry,
  checkKeyTime,
  checkRecordTime,
  checkTombstoneTime,
  clearExpired as clearExpiredRule,
  hostRecordsToRenew,
  compareKeys,
  enforceEntryBound,
  entryAllowed,
  isHostRecord,
  isKeyStale,
  isServed,
  mergeEntries,
  mergeKeys,
  servedRecords,
  entrySlot,
  entrySlotKey,
  policyOfKey,
  visibleTombstones,
  type ResourceState,
  type RuleContext,
} from './rules.js';
import { alreadyVerified, recordEntry, signRecord, tombstoneEntry, verifyKey, verifyRecord, verifyTombstone, type SignatureVerifier } from './signed.js';
import { parseRecord, parseTombstone } from './validate.js';
import type { Entry, Key, Record, RecordEntry, StoredKey, Tombstone, TombstoneEntry } from './types.js';

export type { ResourceState, RuleContext };
export { entrySlotKey };

/** What an operation changed; `key` is the new stored key, `null` when the key was deleted. */
export interface Changes {
  key?: StoredKey | null;
  put: Entry[];
  deleted: Entry[];
}

export interface OpOutcome<T> {
  state: ResourceState;
  result: T;
  changes: Changes;
  /** Set when the change is kept but the caller is answered with this error (a record in reserve). */
  error?: SignpostError;
}

export type EmptyResult = { [k: string]: never };

const noChanges = (): Changes => ({ put: [], deleted: [] });
const unchanged = <T>(state: ResourceState, result: T): OpOutcome<T> => ({ state, result, changes: noChanges() });

export function emptyState(): ResourceState {
  return { stored: null, entries: new Map() };
}

export function stateFromEntries(stored: StoredKey | null, entries: Iterable<Entry>): ResourceState {
  const map = new Map<string, Entry>();
  for (const e of entries) map.set(entrySlotKey(e), e);
  return { stored, entries: map };
}

/** SPEC §3.5 step 3: what a node answers for a key it does not hold. */
export function keyNotHeld(keyId: string): SignpostError {
  return new SignpostError('key_not_found', `Key ${keyId} is not held by this node`);
}

function requireKey(state: ResourceState, keyId: string): StoredKey {
  if (!state.stored) throw keyNotHeld(keyId);
  return state.stored;
}

function sameKey(a: Key, b: Key): boolean {
  return a.timestamp_created === b.timestamp_created && a.signature === b.signature && a.label === b.label &&
    a.challenge === b.challenge && a.challenge_type === b.challenge_type;
}

/**
 * `register_key` and `republish_key` (SPEC §4.2). Register stores a new or winning key as never
 * published and refuses a losing one (`key_outdated`); republish marks the key published now and
 * ignores a losing one.
 */
export function putKey(state: ResourceState, key: Key, mode: 'register' | 'republish', ctx: RuleContext, verify: SignatureVerifier): OpOutcome<{ key_id: string }> {
  const stored = state.stored;
  const identical = stored !== null && sameKey(stored.key, key);
  admitKey(key, ctx, identical ? alreadyVerified : verify);
  const result = { key_id: key.id };
  const published = mode === 'republish' ? ctx.now : null;
  if (stored === null || (!identical && compareKeys(key, stored.key) > 0)) {
    const next: StoredKey = { key, published };
    return { state: { stored: next, entries: state.entries }, result, changes: { key: next, put: [], deleted: [] } };
  }
  if (identical) {
    if (mode === 'register') return unchanged(state, result);
    const next: StoredKey = { key: stored.key, published };
    return { state: { stored: next, entries: state.entries }, result, changes: { key: next, put: [], deleted: [] } };
  }
  if (mode === 'register') {
    throw new SignpostError('key_outdated', `Key ${key.id}: a newer version is stored (timestamp_created ${stored.key.timestamp_created}, this one ${key.timestamp_created})`);
  }
  return unchanged(state, result);
}

/** Access policy and proof of work (SPEC §6) of one entry under the stored key. */
function checkPolicy(stored: StoredKey, e: Entry): void {
  const policy = policyOfKey(stored.key);
  if (entryAllowed(e, policy)) return;
  const issuer = entrySlot(e).issued_by;
  if (policy.type === 'owner') {
    throw new SignpostError('policy_violation', `Key ${stored.key.id} is owner/v1: only its owner ${policy.owner} may write, not ${issuer}`);
  }
  if (policy.type === 'hashcash' && e.kind === 'record') {
    throw new SignpostError('insufficient_work', `Record by ${issuer}: proof of work has ${e.bits} bits, key ${stored.key.id} needs ${policy.minBits}`);
  }
  throw new SignpostError('policy_violation', `Entry by ${issuer} is not allowed by key ${stored.key.id}`);
}

/**
 * Stores an entry by the slot order and the entry bound (SPEC §4.3, §4.4). `lost`: the slot's stored entry
 * wins; `dropped`: the entry won its slot but is itself the first the max_entries_per_key bound drops, so
 * nothing is stored (the state is returned unchanged).
 */
function storeEntry(
  state: ResourceState,
  e: Entry,
  ctx: RuleContext,
): { state: ResourceState; changes: Changes; outcome: 'stored' | 'identical' | 'lost' | 'dropped' } {
  const applied = applyEntry(state, e);
  if (applied.outcome !== 'stored') return { state, changes: noChanges(), outcome: applied.outcome };
  const bounded = enforceEntryBound(applied.state, ctx);
  if (!bounded.state.entries.has(entrySlotKey(e))) return { state, changes: noChanges(), outcome: 'dropped' };
  const deleted = bounded.dropped.map((slot) => applied.state.entries.get(slot)!);
  return { state: bounded.state, changes: { put: [e], deleted }, outcome: 'stored' };
}

/** The answer to a write the max_entries_per_key bound drops at once: not kept, not even in reserve. */
function droppedError(e: Entry, ctx: RuleContext): SignpostError {
  const s = entrySlot(e);
  const what = e.kind === 'record' ? 'Record' : 'Tombstone';
  return new SignpostError(
    'records_limit_exceeded',
    `${what} ${describeSlot(e)} is not kept: key ${s.key_id} already holds max_entries_per_key ${ctx.cfg.max_entries_per_key} entries that rank above it`,
    { reserved: false },
  );
}

function describeSlot(e: Entry): string {
  const s = entrySlot(e);
  return `${s.key_id}/${s.issued_by}/${s.peer_id}`;
}

// ---- admission (SPEC §3.5 steps 2–5) ----
//
// The one place a signed write is admitted. Every node that stores a write runs all of it, against the
// resource's state; the node a client sends a write to also runs the stateless steps (time rules and
// signatures) before it sends the write anywhere, with no `state`, so a forged or future write gets its
// own error at once. A write identical to the one stored (a republish) is not verified again.

/** A key: time rules, then the owner's signature. */
export function admitKey(key: Key, ctx: RuleContext, verify: SignatureVerifier): void {
  checkKeyTime(key, ctx);
  verifyKey(key, verify);
}

/** A record: time rules; with `state`, the key must be held and its policy allow the record; signatures. */
export function admitRecord(record: Record, ctx: RuleContext, verify: SignatureVerifier, state?: ResourceState): RecordEntry {
  checkRecordTime(record, ctx);
  const e = recordEntry(record);
  if (state) {
    checkPolicy(requireKey(state, record.metadata.key_id), e);
    const current = state.entries.get(entrySlotKey(e));
    if (current?.kind === 'record' && current.digest === e.digest && current.record.signature === record.signature) return e;
  }
  verifyRecord(record, verify);
  return e;
}

/** A tombstone: time rules; with `state`, the key must be held and its policy allow it; the signature. */
export function admitTombstone(t: Tombstone, ctx: RuleContext, verify: SignatureVerifier, state?: ResourceState): TombstoneEntry {
  checkTombstoneTime(t, ctx);
  const e = tombstoneEntry(t);
  if (state) {
    checkPolicy(requireKey(state, t.key_id), e);
    const current = state.entries.get(entrySlotKey(e));
    if (current?.kind === 'tombstone' && current.digest === e.digest && current.tombstone.issuer_signature === t.issuer_signature) return e;
  }
  verifyTombstone(t, verify);
  return e;
}

/** `put_record` (SPEC §4.3, §4.4): a record in reserve is kept and answered `records_limit_exceeded`. */
export function putRecord(state: ResourceState, record: Record, ctx: RuleContext, verify: SignatureVerifier): OpOutcome<EmptyResult> {
  const e = admitRecord(record, ctx, verify, state);
  const stored = storeEntry(state, e, ctx);
  if (stored.outcome === 'lost') {
    throw new SignpostError('newer_entry_exists', `Record ${describeSlot(e)}: the stored entry of this slot wins over timestamp_issued ${record.metadata.timestamp_issued}`);
  }
  if (stored.outcome === 'dropped') throw droppedError(e, ctx);
  const slot = entrySlotKey(e);
  if (!isHostRecord(e, ctx) && !isServed(stored.state, slot, ctx)) {
    const err = new SignpostError('records_limit_exceeded', `Record ${describeSlot(e)} is kept in reserve: key ${record.metadata.key_id} already serves ${ctx.cfg.records_limit} better-ranked records`, { reserved: true });
    return { state: stored.state, result: {}, changes: stored.changes, error: err };
  }
  return { state: stored.state, result: {}, changes: stored.changes };
}

/** `add_tombstone` (SPEC §4.3). */
export function addTombstone(state: ResourceState, t: Tombstone, ctx: RuleContext, verify: SignatureVerifier): OpOutcome<EmptyResult> {
  const e = admitTombstone(t, ctx, verify, state);
  const stored = storeEntry(state, e, ctx);
  if (stored.outcome === 'lost') {
    throw new SignpostError('newer_entry_exists', `Tombstone ${describeSlot(e)}: the stored entry of this slot wins over timestamp_issued ${t.timestamp_issued}`);
  }
  if (stored.outcome === 'dropped') throw droppedError(e, ctx);
  return { state: stored.state, result: {}, changes: stored.changes };
}

export interface RepublishResult {
  updated: number;
  rejected: { index: number; code: ErrorCode }[];
}

/**
 * `republish_records` / `republish_tombstones` (SPEC §4.3): each entry verified on its own; losing
 * entries and entries the limit does not serve are skipped (kept by the slot order, as every replica
 * keeps them), failures are listed, one bad entry never blocks the others.
 */
export function republishEntries(
  state: ResourceState,
  kind: 'record' | 'tombstone',
  raw: readonly unknown[],
  keyId: string,
  ctx: RuleContext,
  verify: SignatureVerifier,
): OpOutcome<RepublishResult> {
  requireKey(state, keyId);
  let current = state;
  const changes = noChanges();
  const result: RepublishResult = { updated: 0, rejected: [] };
  raw.forEach((item, index) => {
    try {
      let e: Entry;
      if (kind === 'record') {
        const r = parseRecord(item, `records[${index}]`);
        if (r.metadata.key_id !== keyId) throw new SignpostError('invalid_params', `records[${index}] belongs to another key`);
        e = admitRecord(r, ctx, verify, current);
      } else {
        const t = parseTombstone(item, `tombstones[${index}]`);
        if (t.key_id !== keyId) throw new SignpostError('invalid_params', `tombstones[${index}] belongs to another key`);
        e = admitTombstone(t, ctx, verify, current);
      }
      const stored = storeEntry(current, e, ctx);
      if (stored.outcome !== 'stored') return;
      current = stored.state;
      result.updated++;
      mergeChanges(changes, stored.changes);
    } catch (err) {
      result.rejected.push({ index, code: err instanceof SignpostError ? err.code : 'internal_error' });
    }
  });
  return { state: current, result, changes };
}

function mergeChanges(into: Changes, more: Changes): void {
  const removedSlots = new Set(more.deleted.map(entrySlotKey));
  into.put = into.put.filter((e) => !removedSlots.has(entrySlotKey(e)));
  for (const e of more.put) {
    const slot = entrySlotKey(e);
    into.put = into.put.filter((p) => entrySlotKey(p) !== slot);
    into.put.push(e);
  }
  into.deleted.push(...more.deleted);
  if (more.key !== undefined) into.key = more.key;
}

// ---- reads ----

export function getKey(state: ResourceState, keyId: string): Key {
  return requireKey(state, keyId).key;
}

export function getRecords(state: ResourceState, keyId: string, ctx: RuleContext): Record[] {
  requireKey(state, keyId);
  return servedRecords(state, ctx).map((e) => e.record);
}

export function getTombstones(state: ResourceState, keyId: string, ctx: RuleContext): Tombstone[] {
  requireKey(state, keyId);
  return visibleTombstones(state, ctx).map((e) => e.tombstone);
}

export interface KeyItem {
  key: Key;
  records: Record[];
  tombstones: Tombstone[];
}

/** The item `list_keys` and `evict_stale` return for a held key. */
export function keyItem(state: ResourceState, ctx: RuleContext): KeyItem | null {
  if (!state.stored) return null;
  return {
    key: state.stored.key,
    records: servedRecords(state, ctx).map((e) => e.record),
    tombstones: visibleTombstones(state, ctx).map((e) => e.tombstone),
  };
}

/**
 * SPEC §5 resolve_providers: one view of a key merged from several nodes' answers. The key is the winner
 * of 4.2, each slot the winner of 4.3 over every answer, tombstones included (a provider one node deleted
 * stays deleted even if a lagging node still serves it). The providers are the live winners in rank order:
 * the records hosted by a node in `hosts` (the nodes that answered) plus the best `records_limit` others.
 * The caller has verified every signature.
 */
export function mergeAnswers(answers: readonly KeyItem[], hosts: ReadonlySet<string>, ctx: RuleContext): KeyItem {
  const key = mergeKeys(answers.map((a) => a.key));
  const lists = answers.map((a) => [...a.records.map(recordEntry), ...a.tombstones.map(tombstoneEntry)]);
  const state = stateFromEntries({ key, published: null }, mergeEntries(lists));
  // Only the nodes that answered are hosts here: not the merging node, unless it answered too.
  return keyItem(state, { ...ctx, hostPeerId: '', hosts })!;
}

/**
 * Read repair (SPEC §5): true when one node's answer misses part of the merged view, another version of
 * the key, or a served record or visible tombstone it does not hold, so that node should be sent the view.
 */
export function lacks(answer: KeyItem, merged: KeyItem): boolean {
  if (answer.key.signature !== merged.key.signature) return true;
  const held = new Set<string>();
  for (const r of answer.records) held.add(r.signature);
  for (const t of answer.tombstones) held.add(t.issuer_signature);
  return merged.records.some((r) => !held.has(r.signature)) || merged.tombstones.some((t) => !held.has(t.issuer_signature));
}

/** `evict_stale`'s share of one key (SPEC §4.5): the item when the key is stale, else null. */
export function staleItem(state: ResourceState, ctx: RuleContext): KeyItem | null {
  return state.stored && isKeyStale(state.stored, ctx) ? keyItem(state, ctx) : null;
}

export interface ClearCounts {
  count_keys: number;
  count_records: number;
  count_tombstones: number;
}

/** The counts of several `clear_expired` shares added up. */
export function sumClearCounts(all: readonly ClearCounts[]): ClearCounts {
  const total: ClearCounts = { count_keys: 0, count_records: 0, count_tombstones: 0 };
  for (const c of all) {
    total.count_keys += c.count_keys;
    total.count_records += c.count_records;
    total.count_tombstones += c.count_tombstones;
  }
  return total;
}

/** `clear_expired`'s share of one key (SPEC §4.5). */
export function clearExpired(state: ResourceState, ctx: RuleContext): OpOutcome<ClearCounts> {
  if (!state.stored) return unchanged(state, { count_keys: 0, count_records: 0, count_tombstones: 0 });
  const out = clearExpiredRule(state, ctx);
  const result = { count_keys: out.deleteKey ? 1 : 0, count_records: out.count_records, count_tombstones: out.count_tombstones };
  if (out.deleteKey) {
    return { state: emptyState(), result, changes: { key: null, put: [], deleted: [...state.entries.values()] } };
  }
  const deleted = out.deleted.map((slot) => state.entries.get(slot)!).filter(Boolean);
  return { state: out.state, result, changes: { put: [], deleted } };
}

/**
 * `renew`'s share of one key (SPEC §5): every host record of this node whose `timestamp_created` is at
 * least `renew_interval` before now is re-signed by `sign` (the node's key) with `timestamp_created = now`;
 * the renewal wins its slot by the slot order (same `timestamp_issued`, higher `timestamp_created`).
 */
export function renewHostRecords(state: ResourceState, ctx: RuleContext, sign: (digest: Uint8Array) => Uint8Array): OpOutcome<{ renewed: number }> {
  const due = hostRecordsToRenew(state, ctx);
  let current = state;
  const changes = noChanges();
  for (const old of due) {
    const renewed = recordEntry(signRecord(old.record.metadata, ctx.now, sign));
    const applied = applyEntry(current, renewed);
    if (applied.outcome !== 'stored') continue;
    current = applied.state;
    changes.put.push(renewed);
  }
  return { state: current, result: { renewed: changes.put.length }, changes };
}
