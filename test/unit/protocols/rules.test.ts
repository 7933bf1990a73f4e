import { describe, expect, it } from 'vitest';
import { base64urlEncode, toHex } from '../../../protocols/encoding.js';
import { recordDigest, tombstoneDigest } from '../../../protocols/objects.js';
import { powScore } from '../../../protocols/pow.js';
import {
  applyEntry,
  checkKeyTime,
  checkRecordTime,
  checkTombstoneTime,
  clearExpired,
  compareEntries,
  compareKeys,
  compareRank,
  enforceEntryBound,
  entryAllowed,
  gcDueAt,
  isKeyStale,
  isRecordLive,
  isServed,
  isTombstoneVisible,
  mergeEntries,
  mergeKeys,
  servedRecords,
  slotKey,
  visibleTombstones,
  type ResourceState,
  type RuleContext,
} from '../../../protocols/rules.js';
import {
  DEFAULT_RULE_CONFIG,
  type ChallengeType,
  type Entry,
  type Key,
  type Record,
  type RecordEntry,
  type RuleConfig,
  type StoredKey,
  type TombstoneEntry,
} from '../../../protocols/types.js';

// Fake but well-formed data: peer ids are plain strings (the rules never parse them), digests are real.
const HOST = 'host';
const OWNER = 'owner';
const KEY_ID = 'key';
const T = DEFAULT_RULE_CONFIG.expired_timeout;

const ctx = (now: number, cfg: Partial<RuleConfig> = {}): RuleContext => ({
  now,
  cfg: { ...DEFAULT_RULE_CONFIG, ...cfg },
  hostPeerId: HOST,
});

function rec(o: { by?: string; peer?: string; issued?: number; created?: number; value?: string; bits?: number } = {}): RecordEntry {
  const issued = o.issued ?? 100;
  const record: Record = {
    metadata: {
      key_id: KEY_ID,
      issued_by: o.by ?? OWNER,
      peer_id: o.peer ?? 'p1',
      timestamp_issued: issued,
      solution: '',
      value: o.value ?? '',
      relay_id: [],
      service_id: [],
      issuer_signature: '',
    },
    timestamp_created: o.created ?? issued,
    signature: '',
  };
  return { kind: 'record', record, digest: toHex(recordDigest(record)), bits: o.bits ?? 0 };
}

function tomb(o: { by?: string; peer?: string; issued?: number; solution?: string } = {}): TombstoneEntry {
  const tombstone = {
    key_id: KEY_ID,
    issued_by: o.by ?? OWNER,
    peer_id: o.peer ?? 'p1',
    timestamp_issued: o.issued ?? 100,
    solution: o.solution ?? '',
    issuer_signature: '',
  };
  return { kind: 'tombstone', tombstone, digest: toHex(tombstoneDigest(tombstone)) };
}

function sig(...first: number[]): string {
  const b = new Uint8Array(64);
  b.set(first);
  return base64urlEncode(b);
}

function key(o: { created?: number; signature?: string; type?: ChallengeType; challenge?: Uint8Array } = {}): Key {
  return {
    id: KEY_ID,
    label: 'label',
    owner_peer_id: OWNER,
    timestamp_created: o.created ?? 0,
    challenge: base64urlEncode(o.challenge ?? new Uint8Array(0)),
    challenge_type: o.type ?? '',
    signature: o.signature ?? sig(1),
  };
}

function state(entries: Entry[], stored: StoredKey | null = { key: key(), published: null }): ResourceState {
  let s: ResourceState = { stored, entries: new Map() };
  for (const e of entries) s = applyEntry(s, e).state;
  return s;
}

const slotOf = (e: Entry) =>
  e.kind === 'record' ? slotKey(e.record.metadata.issued_by, e.record.metadata.peer_id) : slotKey(e.tombstone.issued_by, e.tombstone.peer_id);

describe('key order (§4.2)', () => {
  it('prefers the higher timestamp_created', () => {
    expect(compareKeys(key({ created: 2, signature: sig(0) }), key({ created: 1, signature: sig(255) }))).toBe(1);
  });

  it('breaks a tie by signature bytes, not by their base64url text', () => {
    const a = key({ signature: sig(0xd0) }); // text starts with '0'
    const b = key({ signature: sig(0x68) }); // text starts with 'a' ('0' < 'a' as text)
    expect(a.signature < b.signature).toBe(true);
    expect(compareKeys(a, b)).toBe(1);
    expect(compareKeys(b, a)).toBe(-1);
    expect(compareKeys(a, { ...a })).toBe(0);
  });

  it('mergeKeys returns the winner whatever the order', () => {
    const keys = [key({ created: 1 }), key({ created: 3, signature: sig(1) }), key({ created: 3, signature: sig(2) })];
    expect(mergeKeys(keys)).toBe(keys[2]);
    expect(mergeKeys([...keys].reverse())).toBe(keys[2]);
  });
});

describe('slot order (§4.3)', () => {
  it('prefers the higher timestamp_issued, even over a tombstone', () => {
    expect(compareEntries(rec({ issued: 101 }), tomb({ issued: 100 }))).toBe(1);
    expect(compareEntries(tomb({ issued: 100 }), rec({ issued: 101 }))).toBe(-1);
  });

  it('lets a tombstone beat a record at equal timestamp_issued, whatever the renewal', () => {
    expect(compareEntries(tomb({ issued: 100 }), rec({ issued: 100, created: 999 }))).toBe(1);
    expect(compareEntries(rec({ issued: 100, created: 999 }), tomb({ issued: 100 }))).toBe(-1);
  });

  it('lets a renewal (higher timestamp_created) win', () => {
    expect(compareEntries(rec({ created: 200 }), rec({ created: 150 }))).toBe(1);
  });

  it('breaks the last tie by the greater digest', () => {
    const [lo, hi] = [rec({ value: 'x' }), rec({ value: 'y' })].sort((a, b) => (a.digest < b.digest ? -1 : 1));
    expect(compareEntries(hi, lo)).toBe(1);
    expect(compareEntries(lo, hi)).toBe(-1);
    const [tlo, thi] = [tomb({ solution: 'AA' }), tomb({ solution: 'AQ' })].sort((a, b) => (a.digest < b.digest ? -1 : 1));
    expect(compareEntries(thi, tlo)).toBe(1);
  });

  it('is 0 only for the same entry', () => {
    expect(compareEntries(rec(), rec())).toBe(0);
    expect(compareEntries(tomb(), tomb())).toBe(0);
  });

  it('applyEntry stores, replaces, ignores an identical entry and refuses a loser, without mutating', () => {
    const s0 = state([]);
    const first = applyEntry(s0, rec({ created: 100 }));
    expect(first.outcome).toBe('stored');
    expect(first.replaced).toBeUndefined();
    expect(s0.entries.size).toBe(0);
    const renewal = rec({ created: 150 });
    const second = applyEntry(first.state, renewal);
    expect(second).toMatchObject({ outcome: 'stored', replaced: rec({ created: 100 }) });
    expect(first.state.entries.get(slotKey(OWNER, 'p1'))).toEqual(rec({ created: 100 }));
    expect(applyEntry(second.state, rec({ created: 150 }))).toEqual({ state: second.state, outcome: 'identical' });
    expect(applyEntry(second.state, rec({ created: 120 }))).toEqual({ state: second.state, outcome: 'lost' });
  });

  it('mergeEntries keeps slot winners sorted by (key_id, issued_by, peer_id) byte-wise', () => {
    const a = rec({ by: '\uff61', peer: 'p' }); // U+FF61 sorts before U+1F600 in UTF-8 but after it in UTF-16
    const b = rec({ by: '\u{1f600}', peer: 'p' });
    const t = tomb({ by: '\uff61', peer: 'p', issued: 100 });
    expect(mergeEntries([[b, a], [t]])).toEqual([t, b]);
    expect(mergeEntries([[a], [b]]).map((e) => e.kind === 'record' && e.record.metadata.issued_by)).toEqual(['\uff61', '\u{1f600}']);
  });
});

describe('rank (§4.4, §6)', () => {
  const open = { type: 'open' } as const;
  it('ranks a later timestamp_issued first, then the greater digest', () => {
    expect(compareRank(rec({ issued: 2 }), rec({ issued: 1 }), open)).toBe(-1);
    const [lo, hi] = [rec({ value: 'x' }), rec({ value: 'y' })].sort((a, b) => (a.digest < b.digest ? -1 : 1));
    expect(compareRank(hi, lo, open)).toBe(-1);
    expect(compareRank(lo, lo, open)).toBe(0);
  });

  it('ranks by score under hashcash: one bit of work is worth one half-life', () => {
    const policy = { type: 'hashcash', minBits: 0, halfLife: 10 } as const;
    expect(compareRank(rec({ issued: 100, bits: 3 }), rec({ issued: 109, bits: 2 }), policy)).toBe(-1);
    expect(compareRank(rec({ issued: 100, bits: 3 }), rec({ issued: 111, bits: 2 }), policy)).toBe(1);
    const [lo, hi] = [rec({ issued: 100, bits: 3 }), rec({ issued: 110, bits: 2 })].sort((a, b) => (a.digest < b.digest ? -1 : 1));
    expect(compareRank(hi, lo, policy)).toBe(-1); // equal score: digest
  });

  it('compares scores exactly where the floating-point quotients round together', () => {
    const policy = { type: 'hashcash', minBits: 0, halfLife: 1 } as const;
    const ts = Number.MAX_SAFE_INTEGER;
    expect(powScore(2, ts, 1)).toBe(powScore(1, ts, 1));
    expect(compareRank(rec({ issued: ts, bits: 2 }), rec({ issued: ts, bits: 1 }), policy)).toBe(-1);
  });
});

describe('access policies (§6)', () => {
  it('owner/v1 allows only the owner, for records and tombstones', () => {
    const p = { type: 'owner', owner: OWNER } as const;
    expect(entryAllowed(rec({ by: OWNER }), p)).toBe(true);
    expect(entryAllowed(rec({ by: 'x' }), p)).toBe(false);
    expect(entryAllowed(tomb({ by: 'x' }), p)).toBe(false);
  });

  it('hashcash/v1 needs min_bits from records and nothing from tombstones', () => {
    const p = { type: 'hashcash', minBits: 8, halfLife: 60 } as const;
    expect(entryAllowed(rec({ bits: 7 }), p)).toBe(false);
    expect(entryAllowed(rec({ bits: 8 }), p)).toBe(true);
    expect(entryAllowed(tomb({ by: 'anyone' }), p)).toBe(true);
    expect(entryAllowed(rec({ by: 'anyone' }), { type: 'open' })).toBe(true);
  });
});

describe('lifetimes at their exact boundaries (§4.1, §4.5)', () => {
  it('a record is live until expired_timeout, a host record always', () => {
    expect(isRecordLive(rec({ created: 100 }), ctx(100 + T - 1))).toBe(true);
    expect(isRecordLive(rec({ created: 100 }), ctx(100 + T))).toBe(false);
    expect(isRecordLive(rec({ created: 100 }), ctx(100 + T + 1))).toBe(false);
    expect(isRecordLive(rec({ created: 100, peer: HOST }), ctx(100 + 10 * T))).toBe(true);
  });

  it('uses signed ages: a future timestamp or a clock below the timeout never wraps', () => {
    expect(isRecordLive(rec({ issued: 0, created: 50 }), ctx(10))).toBe(true);
    expect(isTombstoneVisible(tomb({ issued: 0 }), ctx(5))).toBe(true);
    expect(isKeyStale({ key: key(), published: 100 }, ctx(0))).toBe(false);
  });

  it('a tombstone is visible until expired_timeout', () => {
    expect(isTombstoneVisible(tomb({ issued: 100 }), ctx(100 + T - 1))).toBe(true);
    expect(isTombstoneVisible(tomb({ issued: 100 }), ctx(100 + T))).toBe(false);
    expect(isTombstoneVisible(tomb({ issued: 100 }), ctx(100 + T + 1))).toBe(false);
  });

  it('a key is stale when never published or published stale_timeout ago', () => {
    const S = DEFAULT_RULE_CONFIG.stale_timeout;
    expect(isKeyStale({ key: key(), published: null }, ctx(0))).toBe(true);
    expect(isKeyStale({ key: key(), published: 100 }, ctx(100 + S - 1))).toBe(false);
    expect(isKeyStale({ key: key(), published: 100 }, ctx(100 + S))).toBe(true);
    expect(isKeyStale({ key: key(), published: 100 }, ctx(100 + S + 1))).toBe(true);
  });
});

describe('served records and tombstones (§4.4, §4.5)', () => {
  const c = ctx(1000, { records_limit: 2 });
  const best = rec({ by: 'a', issued: 300 });
  const second = rec({ by: 'b', issued: 200 });
  const reserve = rec({ by: 'c', issued: 100 });
  const host = rec({ by: 'h', peer: HOST, issued: 1 });

  it('serves all host records plus the best records_limit others, in rank order, and keeps the rest', () => {
    const s = state([reserve, host, second, best, tomb({ by: 'd', issued: 900 })]);
    expect(servedRecords(s, c)).toEqual([best, second, host]);
    expect(s.entries.size).toBe(5);
    expect(isServed(s, slotOf(reserve), c)).toBe(false);
    expect(isServed(s, slotOf(host), c)).toBe(true);
    expect(isServed(s, slotOf(second), c)).toBe(true);
  });

  it('serves a record in reserve again once a better one expires', () => {
    const renewed = [rec({ by: 'b', issued: 200, created: 900 }), rec({ by: 'c', issued: 100, created: 900 })];
    const s = state([rec({ by: 'a', issued: 300, created: 300 }), ...renewed]);
    expect(isServed(s, slotOf(renewed[1]), ctx(300 + T - 1, { records_limit: 2 }))).toBe(false);
    expect(servedRecords(s, ctx(300 + T, { records_limit: 2 }))).toEqual(renewed);
    expect(isServed(s, slotOf(renewed[1]), ctx(300 + T, { records_limit: 2 }))).toBe(true);
  });

  it('neither serves nor counts entries the current key version forbids', () => {
    const s = state([rec({ by: 'x', issued: 900 }), rec({ by: OWNER }), tomb({ by: 'x', peer: 'p3' }), tomb({ by: OWNER, peer: 'p2' })], {
      key: key({ type: 'owner/v1' }),
      published: null,
    });
    const one = ctx(1000, { records_limit: 1 });
    expect(servedRecords(s, one)).toEqual([rec({ by: OWNER })]);
    expect(isServed(s, slotKey('x', 'p1'), one)).toBe(false);
    expect(visibleTombstones(s, one)).toEqual([tomb({ by: OWNER, peer: 'p2' })]);
  });

  it('serves nothing without a key', () => {
    expect(servedRecords(state([best], null), c)).toEqual([]);
    expect(visibleTombstones(state([tomb()], null), c)).toEqual([]);
  });

  it('lists visible tombstones sorted by (issued_by, peer_id) as UTF-8 bytes', () => {
    const t1 = tomb({ by: '\u{1f600}', peer: 'a' });
    const t2 = tomb({ by: '\uff61', peer: 'b' });
    const t3 = tomb({ by: '\uff61', peer: 'a' });
    const old = tomb({ by: 'a', issued: 0 });
    expect(visibleTombstones(state([t1, t2, t3, old]), ctx(T))).toEqual([t3, t2, t1]);
  });
});

describe('hard bound max_entries_per_key (§4.4)', () => {
  it('drops forbidden entries, then the lowest-ranked non-host records, then the oldest tombstones', () => {
    const owner = { key: key({ type: 'owner/v1' }), published: null };
    const forbidden = rec({ by: 'x', issued: 999 });
    const host = rec({ peer: HOST, issued: 1 });
    const low = rec({ peer: 'a', issued: 2 });
    const high = rec({ peer: 'b', issued: 3 });
    const oldT = tomb({ peer: 'c', issued: 5 });
    const newT = tomb({ peer: 'd', issued: 6 });
    const s = state([newT, high, forbidden, host, oldT, low], owner);
    const drop = (max: number) => enforceEntryBound(s, ctx(10, { max_entries_per_key: max })).dropped;
    expect(drop(6)).toEqual([]);
    expect(drop(5)).toEqual([slotOf(forbidden)]);
    expect(drop(3)).toEqual([slotOf(forbidden), slotOf(low), slotOf(high)]);
    expect(drop(1)).toEqual([slotOf(forbidden), slotOf(low), slotOf(high), slotOf(oldT), slotOf(newT)]);
    const bounded = enforceEntryBound(s, ctx(10, { max_entries_per_key: 0 }));
    expect([...bounded.state.entries.values()]).toEqual([host]);
    expect(s.entries.size).toBe(6);
  });
});

describe('clear_expired (§4.5, §4.2)', () => {
  it('deletes forbidden entries, then dead non-host records, then expired tombstones, and counts them', () => {
    const owner = { key: key({ type: 'owner/v1' }), published: 0 };
    const s = state(
      [
        rec({ by: 'x', peer: HOST, created: 500 }), // forbidden, even a host record
        tomb({ by: 'x', peer: 'p9', issued: 500 }), // forbidden
        rec({ peer: 'dead', created: 10 }),
        rec({ peer: 'live', created: 11 }),
        rec({ peer: HOST, created: 0 }),
        tomb({ peer: 'gone', issued: 10 }),
        tomb({ peer: 'kept', issued: 11 }),
      ],
      owner,
    );
    const r = clearExpired(s, ctx(10 + T));
    expect(r.deleted).toEqual([slotKey('x', HOST), slotKey('x', 'p9'), slotKey(OWNER, 'dead'), slotKey(OWNER, 'gone')]);
    expect([r.count_records, r.count_tombstones, r.deleteKey]).toEqual([2, 2, false]);
    expect([...r.state.entries.keys()].sort()).toEqual([slotKey(OWNER, HOST), slotKey(OWNER, 'kept'), slotKey(OWNER, 'live')]);
  });

  it('deletes a key only when nothing keeps it and it is expired_timeout past its last creation or publication', () => {
    const stored = (published: number | null, created = 100) => ({ key: key({ created }), published });
    const run = (s: ResourceState, now: number) => clearExpired(s, ctx(now)).deleteKey;
    expect(run(state([], stored(null)), 100 + T - 1)).toBe(false);
    expect(run(state([], stored(null)), 100 + T)).toBe(true);
    expect(run(state([], stored(200)), 100 + T)).toBe(false);
    expect(run(state([], stored(200)), 200 + T)).toBe(true);
    expect(run(state([], stored(50)), 100 + T)).toBe(true);
    expect(run(state([rec({ peer: HOST, created: 0 })], stored(null)), 10 * T)).toBe(false);
    expect(run(state([tomb({ issued: 101 })], stored(null)), 100 + T)).toBe(false);
    expect(run(state([rec({ created: 101 })], stored(null)), 100 + T)).toBe(false);
    // entries that expire in the same call do not keep the key
    expect(run(state([rec({ created: 100 }), tomb({ peer: 'p2', issued: 100 })], stored(null)), 100 + T)).toBe(true);
    const gone = clearExpired(state([], stored(null)), ctx(100 + T));
    expect(gone.state.stored).toBeNull();
  });

  it('gcDueAt is the first time clear_expired has work', () => {
    const stored = { key: key({ created: 100 }), published: 300 };
    expect(gcDueAt(state([], stored), ctx(0))).toBe(300 + T);
    expect(gcDueAt(state([rec({ created: 150 }), tomb({ peer: 'p2', issued: 120 })], stored), ctx(0))).toBe(120 + T);
    expect(gcDueAt(state([rec({ peer: HOST, created: 0 })], stored), ctx(0))).toBeNull();
    expect(gcDueAt(state([rec({ peer: HOST }), tomb({ peer: 'p2', issued: 7 })], stored), ctx(0))).toBe(7 + T);
    expect(gcDueAt(state([rec({ by: 'x', created: 150 })], { key: key({ type: 'owner/v1' }), published: 300 }), ctx(42))).toBe(42);
    expect(gcDueAt(state([], null), ctx(0))).toBeNull();
  });
});

describe('time rules (§4.1)', () => {
  const now = 1_700_000_000;
  const c = ctx(now);
  const record = (issued: number, created: number) => rec({ issued, created }).record;
  const fails = (f: () => void) => {
    try {
      f();
    } catch (e) {
      return [(e as { code: string }).code, (e as Error).message];
    }
    return null;
  };

  it('rejects a key created more than max_clock_skew in the future, with the SPEC §7 message', () => {
    expect(fails(() => checkKeyTime(key({ created: now + 30 }), c))).toBeNull();
    expect(fails(() => checkKeyTime(key({ created: now + 100 }), c))).toEqual([
      'timestamp_in_future',
      "Key can't be registered in the future: timestamp_created 1700000100 > now 1700000000 + skew 30",
    ]);
    expect(fails(() => checkKeyTime(key({ created: 0 }), c))).toBeNull(); // keys never expire by age here
  });

  it('checks a record in the listed order', () => {
    expect(fails(() => checkRecordTime(record(now + 31, now + 31), c))?.[1]).toMatch(/^Record can't be created in the future: timestamp_created/);
    expect(fails(() => checkRecordTime(record(now + 31, now + 30), c))?.[1]).toMatch(/^Record can't be issued in the future: timestamp_issued/);
    expect(fails(() => checkRecordTime(record(now - T + 1, now - T), c))?.[0]).toBe('invalid_record');
    expect(fails(() => checkRecordTime(record(now - T, now - T), c))?.[0]).toBe('record_expired');
  });

  it('accepts a record at the exact boundaries', () => {
    expect(fails(() => checkRecordTime(record(now + 30, now + 30), c))).toBeNull();
    expect(fails(() => checkRecordTime(record(now - T + 1, now - T + 1), c))).toBeNull();
    expect(fails(() => checkRecordTime(record(0, 5), ctx(3)))).toBeNull();
  });

  it('checks a tombstone: future first, then expiry', () => {
    const t = (issued: number) => tomb({ issued }).tombstone;
    expect(fails(() => checkTombstoneTime(t(now + 30), c))).toBeNull();
    expect(fails(() => checkTombstoneTime(t(now + 31), c))?.[0]).toBe('timestamp_in_future');
    expect(fails(() => checkTombstoneTime(t(now - T + 1), c))).toBeNull();
    expect(fails(() => checkTombstoneTime(t(now - T), c))).toEqual([
      'record_expired',
      `Tombstone has expired: now ${now} - timestamp_issued ${now - T} >= expired_timeout ${T}`,
    ]);
    // ages are signed: a timestamp a little ahead of the clock has a negative age, so it is not expired
    expect(fails(() => checkTombstoneTime(t(5), ctx(0, { expired_timeout: 0 })))).toBeNull();
    expect(fails(() => checkTombstoneTime(t(0), ctx(0, { expired_timeout: 0 })))?.[0]).toBe('record_expired');
  });
});
