/**
 * The storage rules of SPEC §4.1–4.5 as pure functions: slot order, key order, rank, the provider limit,
 * visibility, garbage collection and the time rules. No I/O, no clock (the caller passes `now`), no
 * signature checks (digests and work bits are precomputed in each Entry). Every other module calls these;
 * none re-implements them (DESIGN principle 1).
 */
import { compareBytes, compareUtf8 } from './encoding.js';
import { SignpostError } from './errors.js';
import { b64 } from './objects.js';
import { keyPolicy, type KeyPolicy } from './pow.js';
import type { Entry, Key, Record, RecordEntry, RuleConfig, StoredKey, Tombstone, TombstoneEntry } from './types.js';

/** Everything one node holds for one resource. Map key = slotKey(issued_by, peer_id). */
export interface ResourceState {
  stored: StoredKey | null;
  entries: ReadonlyMap<string, Entry>;
}

/** What the rules read besides the state: the node clock, the limits, and who "this node" is. */
export interface RuleContext {
  now: number;
  cfg: RuleConfig;
  hostPeerId: string;
  /**
   * Further nodes whose own records count as host records: in a view merged from several nodes' answers
   * (resolve_providers, SPEC §5) every node that answered is a host. Absent on a single node.
   */
  hosts?: ReadonlySet<string>;
}

const OPEN: KeyPolicy = { type: 'open' };

/** Sign of a number as -1, 0 or 1. */
const sign = (n: number): number => (n > 0 ? 1 : n < 0 ? -1 : 0);

/** Byte order of two lowercase-hex digests of equal length (text order of hex is byte order). */
const compareDigest = (a: string, b: string): number => (a === b ? 0 : a > b ? 1 : -1);

// SPEC §6: the policy of a key; a key whose challenge does not parse is treated as open (validation refuses such keys at the edge).
export function policyOfKey(key: Key): KeyPolicy {
  return keyPolicy(key) ?? OPEN;
}

/** The policy of the stored key; no key is treated as open. */
function policyOf(state: ResourceState): KeyPolicy {
  return state.stored ? policyOfKey(state.stored.key) : OPEN;
}

function issuedAt(e: Entry): number {
  return e.kind === 'record' ? e.record.metadata.timestamp_issued : e.tombstone.timestamp_issued;
}

// SPEC §4.3: a slot is (key_id, issued_by, peer_id); within one key it is (issued_by, peer_id). Peer ids have no spaces.
export function slotKey(issuedBy: string, peerId: string): string {
  return `${issuedBy} ${peerId}`;
}

// SPEC §4.3: the slot an entry belongs to.
export function entrySlot(e: Entry): { key_id: string; issued_by: string; peer_id: string } {
  const s = e.kind === 'record' ? e.record.metadata : e.tombstone;
  return { key_id: s.key_id, issued_by: s.issued_by, peer_id: s.peer_id };
}

// SPEC §4.3: an entry's slot within its key, as ResourceState keys its entries.
export function entrySlotKey(e: Entry): string {
  const s = entrySlot(e);
  return slotKey(s.issued_by, s.peer_id);
}

// SPEC §4.2: key order — higher timestamp_created, then the greater signature bytes. >0 when a wins.
export function compareKeys(a: Key, b: Key): number {
  return sign(a.timestamp_created - b.timestamp_created) || compareBytes(b64(a.signature), b64(b.signature));
}

// SPEC §4.3: slot order — issued, tombstone over record, created (renewal), digest. >0 when a wins.
export function compareEntries(a: Entry, b: Entry): number {
  const byIssued = sign(issuedAt(a) - issuedAt(b));
  if (byIssued) return byIssued;
  if (a.kind !== b.kind) return a.kind === 'tombstone' ? 1 : -1;
  if (a.kind === 'record' && b.kind === 'record') {
    const byCreated = sign(a.record.timestamp_created - b.record.timestamp_created);
    if (byCreated) return byCreated;
  }
  return compareDigest(a.digest, b.digest);
}

// SPEC §4.4 + §6: rank — hashcash: higher S = bits + issued / half_life; otherwise higher issued; ties by greater digest. <0 when a ranks better.
export function compareRank(a: RecordEntry, b: RecordEntry, policy: KeyPolicy): number {
  const dIssued = a.record.metadata.timestamp_issued - b.record.metadata.timestamp_issued;
  // S_a − S_b = ((bits_a − bits_b)·half_life + Δissued) / half_life: compared exactly in integers (both terms
  // are exact doubles and a rounded sum is zero only when the exact sum is), unlike two rounded quotients.
  const better = policy.type === 'hashcash' ? (a.bits - b.bits) * policy.halfLife + dIssued : dIssued;
  return -sign(better) || compareDigest(b.digest, a.digest);
}

// SPEC §6: owner/v1 accepts only entries issued by the owner; hashcash/v1 needs min_bits of work from records, none from tombstones.
export function entryAllowed(e: Entry, policy: KeyPolicy): boolean {
  switch (policy.type) {
    case 'open':
      return true;
    case 'owner':
      return entrySlot(e).issued_by === policy.owner;
    case 'hashcash':
      return e.kind === 'tombstone' || e.bits >= policy.minBits;
  }
}

// SPEC §4.4: a host record is one whose metadata.peer_id is this node (or, in a merged view, a node that answered).
export function isHostRecord(e: Pick<RecordEntry, 'record'>, ctx: Pick<RuleContext, 'hostPeerId' | 'hosts'>): boolean {
  const peer = e.record.metadata.peer_id;
  return peer === ctx.hostPeerId || (ctx.hosts?.has(peer) ?? false);
}

// SPEC §4.5: live when now − timestamp_created < expired_timeout; a host record is always live on its host.
export function isRecordLive(e: RecordEntry, ctx: RuleContext): boolean {
  return isHostRecord(e, ctx) || ctx.now - e.record.timestamp_created < ctx.cfg.expired_timeout;
}

// SPEC §4.5: a tombstone is visible while now − timestamp_issued < expired_timeout.
export function isTombstoneVisible(e: TombstoneEntry, ctx: RuleContext): boolean {
  return ctx.now - e.tombstone.timestamp_issued < ctx.cfg.expired_timeout;
}

/** Records that may be served at all: live and allowed by the current key's policy. */
function candidateRecords(state: ResourceState, ctx: RuleContext, policy: KeyPolicy): RecordEntry[] {
  const out: RecordEntry[] = [];
  for (const e of state.entries.values()) {
    if (e.kind === 'record' && entryAllowed(e, policy) && isRecordLive(e, ctx)) out.push(e);
  }
  return out;
}

// SPEC §4.4 + §4.5: every host record plus the best records_limit other live allowed records, in rank order; nothing is deleted.
export function servedRecords(state: ResourceState, ctx: RuleContext): RecordEntry[] {
  if (!state.stored) return [];
  const policy = policyOf(state);
  const ranked = candidateRecords(state, ctx, policy).sort((a, b) => compareRank(a, b, policy));
  let others = 0;
  return ranked.filter((e) => isHostRecord(e, ctx) || others++ < ctx.cfg.records_limit);
}

// SPEC §4.4: whether the record in `slot` is served (O(n): it is served when fewer than records_limit non-host candidates rank better).
export function isServed(state: ResourceState, slot: string, ctx: RuleContext): boolean {
  const e = state.entries.get(slot);
  if (!state.stored || !e || e.kind !== 'record') return false;
  const policy = policyOf(state);
  if (!entryAllowed(e, policy) || !isRecordLive(e, ctx)) return false;
  if (isHostRecord(e, ctx)) return true;
  let better = 0;
  for (const o of candidateRecords(state, ctx, policy)) {
    if (!isHostRecord(o, ctx) && compareRank(o, e, policy) < 0) better++;
  }
  return better < ctx.cfg.records_limit;
}

// SPEC §4.5: get_tombstones — allowed tombstones still visible, sorted by (issued_by, peer_id) byte-wise.
export function visibleTombstones(state: ResourceState, ctx: RuleContext): TombstoneEntry[] {
  if (!state.stored) return [];
  const policy = policyOf(state);
  const out: TombstoneEntry[] = [];
  for (const e of state.entries.values()) {
    if (e.kind === 'tombstone' && entryAllowed(e, policy) && isTombstoneVisible(e, ctx)) out.push(e);
  }
  return out.sort(
    (a, b) =>
      compareUtf8(a.tombstone.issued_by, b.tombstone.issued_by) || compareUtf8(a.tombstone.peer_id, b.tombstone.peer_id),
  );
}

// SPEC §4.3: write one entry into its slot by slot order only (the caller has verified it and its key).
export function applyEntry(
  state: ResourceState,
  e: Entry,
): { state: ResourceState; outcome: 'stored' | 'identical' | 'lost'; replaced?: Entry } {
  const slot = entrySlotKey(e);
  const current = state.entries.get(slot);
  const order = current ? compareEntries(e, current) : 1;
  if (order === 0) return { state, outcome: 'identical' };
  if (order < 0) return { state, outcome: 'lost' };
  const entries = new Map(state.entries);
  entries.set(slot, e);
  return current
    ? { state: { stored: state.stored, entries }, outcome: 'stored', replaced: current }
    : { state: { stored: state.stored, entries }, outcome: 'stored' };
}

// SPEC §4.4: the hard bound max_entries_per_key — drop policy-invalid entries, then the lowest-ranked non-host records, then the oldest tombstones.
export function enforceEntryBound(state: ResourceState, ctx: RuleContext): { state: ResourceState; dropped: string[] } {
  const excess = state.entries.size - ctx.cfg.max_entries_per_key;
  if (excess <= 0) return { state, dropped: [] };
  const policy = policyOf(state);
  const invalid: string[] = [];
  const records: RecordEntry[] = [];
  const tombstones: TombstoneEntry[] = [];
  for (const [slot, e] of state.entries) {
    if (!entryAllowed(e, policy)) invalid.push(slot);
    else if (e.kind === 'tombstone') tombstones.push(e);
    else if (!isHostRecord(e, ctx)) records.push(e);
  }
  const victims = [
    ...invalid.sort(compareUtf8),
    ...records.sort((a, b) => compareRank(b, a, policy)).map(entrySlotKey),
    ...tombstones
      .sort((a, b) => sign(a.tombstone.timestamp_issued - b.tombstone.timestamp_issued) || compareDigest(a.digest, b.digest))
      .map(entrySlotKey),
  ];
  const dropped = victims.slice(0, excess);
  const entries = new Map(state.entries);
  for (const slot of dropped) entries.delete(slot);
  return { state: { stored: state.stored, entries }, dropped };
}

// SPEC §4.3 + §9.1 registry.merge: the slot winners over all lists, sorted by (key_id, issued_by, peer_id) byte-wise.
export function mergeEntries(lists: Entry[][]): Entry[] {
  const winners = new Map<string, Entry>();
  for (const list of lists) {
    for (const e of list) {
      const s = entrySlot(e);
      const id = `${s.key_id} ${slotKey(s.issued_by, s.peer_id)}`;
      const current = winners.get(id);
      if (!current || compareEntries(e, current) > 0) winners.set(id, e);
    }
  }
  return [...winners.values()].sort((a, b) => {
    const x = entrySlot(a);
    const y = entrySlot(b);
    return compareUtf8(x.key_id, y.key_id) || compareUtf8(x.issued_by, y.issued_by) || compareUtf8(x.peer_id, y.peer_id);
  });
}

// SPEC §4.2 + §9.1 registry.merge_keys: the winning key (the caller checks the list is non-empty and of one id).
export function mergeKeys(keys: Key[]): Key {
  return keys.reduce((best, k) => (compareKeys(k, best) > 0 ? k : best));
}

// SPEC §4.1 + §4.5 evict_stale: a key is stale when never published or published stale_timeout or more ago.
export function isKeyStale(stored: StoredKey, ctx: RuleContext): boolean {
  return stored.published === null || ctx.now - stored.published >= ctx.cfg.stale_timeout;
}

/** The time from which a key with no entries left may be deleted (SPEC §4.5). */
function keyExpiresAt(stored: StoredKey, cfg: RuleConfig): number {
  return Math.max(stored.key.timestamp_created, stored.published ?? stored.key.timestamp_created) + cfg.expired_timeout;
}

// SPEC §4.5 clear_expired + §4.2: delete policy-invalid entries and non-live non-host records, then expired tombstones, then the key if nothing keeps it.
export function clearExpired(
  state: ResourceState,
  ctx: RuleContext,
): { state: ResourceState; deleted: string[]; count_records: number; count_tombstones: number; deleteKey: boolean } {
  const policy = policyOf(state);
  const invalid: string[] = [];
  const deadRecords: string[] = [];
  const deadTombstones: string[] = [];
  let count_records = 0;
  let count_tombstones = 0;
  for (const slot of [...state.entries.keys()].sort(compareUtf8)) {
    const e = state.entries.get(slot)!;
    if (!entryAllowed(e, policy)) invalid.push(slot);
    else if (e.kind === 'record' && !isRecordLive(e, ctx)) deadRecords.push(slot);
    else if (e.kind === 'tombstone' && !isTombstoneVisible(e, ctx)) deadTombstones.push(slot);
    else continue;
    if (e.kind === 'record') count_records++;
    else count_tombstones++;
  }
  const deleted = [...invalid, ...deadRecords, ...deadTombstones];
  let entries = state.entries;
  if (deleted.length) {
    const kept = new Map(entries);
    for (const slot of deleted) kept.delete(slot);
    entries = kept;
  }
  // What is left is exactly the live records (host records included) and the unexpired tombstones, so the
  // key goes only when nothing is left and it is old enough.
  const deleteKey = !!state.stored && entries.size === 0 && ctx.now >= keyExpiresAt(state.stored, ctx.cfg);
  const next = deleteKey ? { stored: null, entries } : deleted.length ? { stored: state.stored, entries } : state;
  return { state: next, deleted, count_records, count_tombstones, deleteKey };
}

// SPEC §4.5: the earliest node-clock time at which clearExpired would delete something (now when policy-invalid entries wait), or null if never.
export function gcDueAt(state: ResourceState, ctx: RuleContext): number | null {
  const policy = policyOf(state);
  const T = ctx.cfg.expired_timeout;
  let due: number | null = null;
  let hostRecord = false;
  for (const e of state.entries.values()) {
    let at: number;
    if (!entryAllowed(e, policy)) at = ctx.now;
    else if (e.kind === 'tombstone') at = e.tombstone.timestamp_issued + T;
    else if (isHostRecord(e, ctx)) {
      hostRecord = true;
      continue;
    } else at = e.record.timestamp_created + T;
    due = due === null ? at : Math.min(due, at);
  }
  // Every other entry goes before the key can; a host record of this node keeps the key forever.
  if (due !== null || hostRecord || !state.stored) return due;
  return keyExpiresAt(state.stored, ctx.cfg);
}

// SPEC §5 renew: this node's host records, each with the node-clock time it is due for renewal (its
// timestamp_created is renew_interval in the past).
function hostRecordsWithRenewal(state: ResourceState, ctx: RuleContext): { e: RecordEntry; at: number }[] {
  const out: { e: RecordEntry; at: number }[] = [];
  for (const e of state.entries.values()) {
    if (e.kind === 'record' && isHostRecord(e, ctx)) out.push({ e, at: e.record.timestamp_created + ctx.cfg.renew_interval });
  }
  return out;
}

// SPEC §5 renew: the earliest time a host record of this node is due for renewal, or null when the key holds none.
export function renewDueAt(state: ResourceState, ctx: RuleContext): number | null {
  const ats = hostRecordsWithRenewal(state, ctx).map((h) => h.at);
  return ats.length ? Math.min(...ats) : null;
}

// SPEC §5 renew: the host records of this node due for renewal now.
export function hostRecordsToRenew(state: ResourceState, ctx: RuleContext): RecordEntry[] {
  return hostRecordsWithRenewal(state, ctx)
    .filter((h) => h.at <= ctx.now)
    .map((h) => h.e);
}

function assertNotInFuture(what: string, field: string, ts: number, ctx: RuleContext): void {
  if (ts - ctx.now > ctx.cfg.max_clock_skew) {
    throw new SignpostError(
      'timestamp_in_future',
      `${what} in the future: ${field} ${ts} > now ${ctx.now} + skew ${ctx.cfg.max_clock_skew}`,
    );
  }
}

function assertNotExpired(what: string, field: string, ts: number, ctx: RuleContext): void {
  if (ctx.now - ts >= ctx.cfg.expired_timeout) {
    throw new SignpostError(
      'record_expired',
      `${what} has expired: now ${ctx.now} - ${field} ${ts} >= expired_timeout ${ctx.cfg.expired_timeout}`,
    );
  }
}

// SPEC §4.1: a key must not be created more than max_clock_skew in the future.
export function checkKeyTime(key: Key, ctx: RuleContext): void {
  assertNotInFuture("Key can't be registered", 'timestamp_created', key.timestamp_created, ctx);
}

// SPEC §3.2, §9.2: a record offers a service when its service_id (0 or 1 strings) names it.
export function offersService(record: Record, serviceId: string): boolean {
  return record.metadata.service_id.includes(serviceId);
}

// SPEC §4.1: a record is not issued after it was created (the one time rule that needs no clock).
export function checkRecordOrder(record: Record): void {
  const issued = record.metadata.timestamp_issued;
  const created = record.timestamp_created;
  if (issued > created) {
    throw new SignpostError('invalid_record', `Record is issued after it was created: timestamp_issued ${issued} > timestamp_created ${created}`);
  }
}

// SPEC §4.1: record checks in order — created in future, issued in future, issued after created, expired.
export function checkRecordTime(record: Record, ctx: RuleContext): void {
  const issued = record.metadata.timestamp_issued;
  const created = record.timestamp_created;
  assertNotInFuture("Record can't be created", 'timestamp_created', created, ctx);
  assertNotInFuture("Record can't be issued", 'timestamp_issued', issued, ctx);
  checkRecordOrder(record);
  assertNotExpired('Record', 'timestamp_created', created, ctx);
}

// SPEC §4.1: tombstone checks in order — issued in future, expired.
export function checkTombstoneTime(t: Tombstone, ctx: RuleContext): void {
  assertNotInFuture("Tombstone can't be issued", 'timestamp_issued', t.timestamp_issued, ctx);
  assertNotExpired('Tombstone', 'timestamp_issued', t.timestamp_issued, ctx);
}
