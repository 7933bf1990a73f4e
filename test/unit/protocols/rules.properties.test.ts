import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64urlEncode, toHex } from '../../../protocols/encoding.js';
import { recordDigest, tombstoneDigest } from '../../../protocols/objects.js';
import { hashcashChallenge, keyPolicy, powScore, type KeyPolicy } from '../../../protocols/pow.js';
import {
  applyEntry,
  checkKeyTime,
  checkRecordTime,
  clearExpired,
  compareEntries,
  compareRank,
  enforceEntryBound,
  entryAllowed,
  gcDueAt,
  isHostRecord,
  isServed,
  mergeEntries,
  servedRecords,
  visibleTombstones,
  type ResourceState,
  type RuleContext,
} from '../../../protocols/rules.js';
import { DEFAULT_RULE_CONFIG, type Entry, type Key, type RecordEntry, type RuleConfig, type StoredKey } from '../../../protocols/types.js';

// Small value spaces so that slots collide and every tie-break is reached. Digests are real, so two entries
// with one digest are the same entry; work bits are derived from the digest as real bits are from a hash.
const HOST = 'host';
const OWNER = 'owner';
const T = 10;

const ctx = (now: number, cfg: Partial<RuleConfig> = {}): RuleContext => ({
  now,
  cfg: { ...DEFAULT_RULE_CONFIG, expired_timeout: T, stale_timeout: 5, records_limit: 2, ...cfg },
  hostPeerId: HOST,
});

interface EntrySpec {
  tombstone: boolean;
  keyId: string;
  by: string;
  peer: string;
  issued: number;
  renewal: number;
  value: string;
}

function build(s: EntrySpec): Entry {
  if (s.tombstone) {
    const t = { key_id: s.keyId, issued_by: s.by, peer_id: s.peer, timestamp_issued: s.issued, solution: s.value, issuer_signature: '' };
    return { kind: 'tombstone', tombstone: t, digest: toHex(tombstoneDigest(t)) };
  }
  const record = {
    metadata: {
      key_id: s.keyId,
      issued_by: s.by,
      peer_id: s.peer,
      timestamp_issued: s.issued,
      solution: s.value,
      value: '',
      relay_id: [],
      service_id: [],
      issuer_signature: '',
    },
    timestamp_created: s.issued + s.renewal,
    signature: '',
  };
  const digest = toHex(recordDigest(record));
  return { kind: 'record', record, digest, bits: parseInt(digest[0], 16) % 5 };
}

const entryArb = (keyIds = ['k1']): fc.Arbitrary<Entry> =>
  fc
    .record({
      tombstone: fc.boolean(),
      keyId: fc.constantFrom(...keyIds),
      by: fc.constantFrom(OWNER, 'a', 'b'),
      peer: fc.constantFrom('p1', 'p2', HOST),
      issued: fc.integer({ min: 0, max: 20 }),
      renewal: fc.integer({ min: 0, max: 6 }),
      value: fc.constantFrom('', 'AA', 'AQ'),
    })
    .map(build);

const entriesArb = fc.array(entryArb(), { maxLength: 14 });

function keyWith(challenge_type: Key['challenge_type'], challenge: Uint8Array = new Uint8Array(0), created = 0): Key {
  return { id: 'k1', label: '', owner_peer_id: OWNER, timestamp_created: created, challenge: base64urlEncode(challenge), challenge_type, signature: '' };
}

const storedArb: fc.Arbitrary<StoredKey> = fc
  .record({
    policy: fc.oneof(
      fc.constant({ type: '' as const, challenge: new Uint8Array(0) }),
      fc.constant({ type: 'owner/v1' as const, challenge: new Uint8Array(0) }),
      fc.record({ minBits: fc.integer({ min: 0, max: 4 }), halfLife: fc.integer({ min: 1, max: 8 }) }).map((h) => ({
        type: 'hashcash/v1' as const,
        challenge: hashcashChallenge(h.minBits, h.halfLife),
      })),
    ),
    created: fc.integer({ min: 0, max: 20 }),
    published: fc.option(fc.integer({ min: 0, max: 30 })),
  })
  .map((k) => ({ key: keyWith(k.policy.type, k.policy.challenge, k.created), published: k.published }));

const nowArb = fc.integer({ min: 0, max: 40 });

function stateOf(entries: Entry[], stored: StoredKey | null): ResourceState {
  let s: ResourceState = { stored, entries: new Map() };
  for (const e of entries) s = applyEntry(s, e).state;
  return s;
}

const policyOf = (s: ResourceState): KeyPolicy => keyPolicy(s.stored!.key)!;
const sortedEntries = (s: ResourceState) => [...s.entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const isLiveRecord = (e: Entry, c: RuleContext): e is RecordEntry =>
  e.kind === 'record' && (e.record.metadata.peer_id === HOST || c.now - e.record.timestamp_created < T);
const entryIssuer = (e: Entry) => (e.kind === 'record' ? e.record.metadata.issued_by : e.tombstone.issued_by);
const entryPeer = (e: Entry) => (e.kind === 'record' ? e.record.metadata.peer_id : e.tombstone.peer_id);
const isLiveTombstone = (e: Entry, c: RuleContext) => e.kind === 'tombstone' && c.now - e.tombstone.timestamp_issued < T;

describe('merge (§4.3)', () => {
  const lists = fc.array(entryArb(['k1', 'k2']), { maxLength: 10 });

  it('is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(lists, lists, lists, (a, b, c) => {
        expect(mergeEntries([a, b])).toEqual(mergeEntries([b, a]));
        expect(mergeEntries([mergeEntries([a, b]), c])).toEqual(mergeEntries([a, mergeEntries([b, c])]));
        expect(mergeEntries([a, a])).toEqual(mergeEntries([a]));
        expect(mergeEntries([mergeEntries([a])])).toEqual(mergeEntries([a]));
      }),
    );
  });

  it('slot order is a total order: antisymmetric, transitive, 0 only for the same entry', () => {
    const sameSlot = fc.array(entryArb(), { minLength: 3, maxLength: 3 });
    fc.assert(
      fc.property(sameSlot, ([a, b, c]) => {
        expect(compareEntries(a, b)).toBe(-compareEntries(b, a) || 0);
        expect(compareEntries(a, b) === 0).toBe(a.kind === b.kind && a.digest === b.digest);
        if (compareEntries(a, b) > 0 && compareEntries(b, c) > 0) expect(compareEntries(a, c)).toBe(1);
      }),
    );
  });
});

describe('order of arrival (§4.3, §4.4)', () => {
  it('applying the same entries in any order, any number of times, gives the same store and the same answers', () => {
    const arb = entriesArb.chain((es) =>
      fc.tuple(fc.constant(es), fc.shuffledSubarray(es, { minLength: es.length, maxLength: es.length })),
    );
    fc.assert(
      fc.property(arb, storedArb, nowArb, fc.integer({ min: 0, max: 4 }), ([a, b], stored, now, limit) => {
        const c = ctx(now, { records_limit: limit });
        const x = stateOf(a, stored);
        const y = stateOf([...b, ...a], stored);
        expect(sortedEntries(y)).toEqual(sortedEntries(x));
        expect(servedRecords(y, c)).toEqual(servedRecords(x, c));
        expect(visibleTombstones(y, c)).toEqual(visibleTombstones(x, c));
        expect([...x.entries.values()].sort((p, q) => (p.digest < q.digest ? -1 : 1))).toEqual(
          mergeEntries([a]).sort((p, q) => (p.digest < q.digest ? -1 : 1)),
        );
      }),
    );
  });
});

describe('provider limit (§4.4)', () => {
  it('serves every host record plus exactly the best records_limit other live allowed records, and deletes nothing', () => {
    fc.assert(
      fc.property(entriesArb, storedArb, nowArb, fc.integer({ min: 0, max: 4 }), (es, stored, now, limit) => {
        const c = ctx(now, { records_limit: limit });
        const s = stateOf(es, stored);
        const policy = policyOf(s);
        const rank = (p: RecordEntry, q: RecordEntry) => compareRank(p, q, policy);
        const candidates = [...s.entries.values()].filter((e): e is RecordEntry => isLiveRecord(e, c) && entryAllowed(e, policy));
        const hosts = candidates.filter((e) => e.record.metadata.peer_id === HOST);
        const best = candidates.filter((e) => e.record.metadata.peer_id !== HOST).sort(rank).slice(0, limit);
        const served = servedRecords(s, c);
        expect(served).toEqual([...hosts, ...best].sort(rank));
        for (const [slot, e] of s.entries) expect(isServed(s, slot, c)).toBe(served.includes(e as RecordEntry));
        expect(s.entries.size).toBe(new Set(es.map((e) => JSON.stringify([entryIssuer(e), entryPeer(e)]))).size);
      }),
    );
  });

  it('under hashcash/v1 ranks by the score S = bits + timestamp_issued / half_life_s', () => {
    const records = fc.array(entryArb(), { minLength: 2, maxLength: 2 }).filter((l) => l.every((e) => e.kind === 'record'));
    fc.assert(
      fc.property(records, fc.integer({ min: 1, max: 8 }), ([a, b], halfLife) => {
        const [p, q] = [a, b] as RecordEntry[];
        const policy = { type: 'hashcash', minBits: 0, halfLife } as const;
        const score = (e: RecordEntry) => powScore(e.bits, e.record.metadata.timestamp_issued, halfLife);
        const d = score(q) - score(p); // a float tie within rounding is a real tie here (tiny values)
        const byScore = Math.abs(d) < 1e-9 ? 0 : Math.sign(d);
        expect(compareRank(p, q, policy)).toBe(byScore || (p.digest === q.digest ? 0 : p.digest > q.digest ? -1 : 1));
      }),
    );
  });

  it('the hard bound keeps at most max_entries_per_key entries and never drops an allowed host record', () => {
    fc.assert(
      fc.property(entriesArb, storedArb, fc.integer({ min: 0, max: 8 }), (es, stored, max) => {
        const s = stateOf(es, stored);
        const c = ctx(0, { max_entries_per_key: max });
        const { state, dropped } = enforceEntryBound(s, c);
        const keptHost = (e: Entry) => e.kind === 'record' && isHostRecord(e, { hostPeerId: HOST }) && entryAllowed(e, policyOf(s));
        expect(state.entries.size).toBe(s.entries.size - dropped.length);
        expect(state.entries.size <= max || [...state.entries.values()].every(keptHost)).toBe(true);
        for (const slot of dropped) expect(keptHost(s.entries.get(slot)!)).toBe(false);
      }),
    );
  });
});

describe('clear_expired and its due time (§4.5, §4.2)', () => {
  it('deletes exactly the forbidden, dead non-host and expired entries, then a key nothing keeps', () => {
    fc.assert(
      fc.property(entriesArb, storedArb, nowArb, (es, stored, now) => {
        const c = ctx(now);
        const s = stateOf(es, stored);
        const policy = policyOf(s);
        const doomed = [...s.entries].filter(([, e]) => !entryAllowed(e, policy) || !(isLiveRecord(e, c) || isLiveTombstone(e, c)));
        const left = [...s.entries.values()].filter((e) => !doomed.some(([, d]) => d === e));
        const keyAge = now - Math.max(stored.key.timestamp_created, stored.published ?? stored.key.timestamp_created);
        const keyGoes =
          !left.some((e) => isLiveRecord(e, c)) &&
          !left.some((e) => isLiveTombstone(e, c)) &&
          !left.some((e) => e.kind === 'record' && isHostRecord(e, { hostPeerId: HOST })) &&
          keyAge >= T;

        const r = clearExpired(s, c);
        expect(new Set(r.deleted)).toEqual(new Set(doomed.map(([slot]) => slot)));
        expect(r.count_records).toBe(doomed.filter(([, e]) => e.kind === 'record').length);
        expect(r.count_tombstones).toBe(doomed.filter(([, e]) => e.kind === 'tombstone').length);
        expect(r.deleteKey).toBe(keyGoes);
        expect(r.state.stored).toBe(keyGoes ? null : stored);
        // it deletes nothing anyone is served, and a second run at the same time finds nothing
        if (!keyGoes) {
          expect(servedRecords(r.state, c)).toEqual(servedRecords(s, c));
          expect(visibleTombstones(r.state, c)).toEqual(visibleTombstones(s, c));
          const again = clearExpired(r.state, c);
          expect([again.deleted, again.deleteKey]).toEqual([[], false]);
        }
      }),
    );
  });

  it('gcDueAt is the first time clear_expired deletes something', () => {
    const did = (s: ResourceState, now: number) => {
      const r = clearExpired(s, ctx(now));
      return r.deleted.length > 0 || r.deleteKey;
    };
    fc.assert(
      fc.property(entriesArb, storedArb, nowArb, (es, stored, now) => {
        const s = stateOf(es, stored);
        const due = gcDueAt(s, ctx(now));
        if (due === null) {
          expect(did(s, now + 1000)).toBe(false);
        } else if ([...s.entries.values()].some((e) => !entryAllowed(e, policyOf(s)))) {
          expect(due).toBeLessThanOrEqual(now); // forbidden entries are due at once
          expect(did(s, now)).toBe(true);
        } else {
          expect([did(s, due - 1), did(s, due)]).toEqual([false, true]);
        }
      }),
    );
  });
});

describe('time rules (§4.1)', () => {
  const ts = fc.integer({ min: 0, max: 200 });

  it('rejects a key exactly when timestamp_created > now + max_clock_skew', () => {
    fc.assert(
      fc.property(ts, ts, fc.integer({ min: 0, max: 50 }), (created, now, skew) => {
        const c = ctx(now, { max_clock_skew: skew });
        const run = () => checkKeyTime(keyWith('', undefined, created), c);
        if (created > now + skew) expect(run).toThrow(expect.objectContaining({ code: 'timestamp_in_future' }));
        else expect(run).not.toThrow();
      }),
    );
  });

  it('reports the first failing record rule in the order SPEC §4.1 lists them', () => {
    fc.assert(
      fc.property(ts, ts, ts, (issued, created, now) => {
        const c = ctx(now, { max_clock_skew: 30, expired_timeout: 60 });
        const e = build({ tombstone: false, keyId: 'k1', by: 'a', peer: 'p1', issued, renewal: 0, value: '' }) as RecordEntry;
        const record = { ...e.record, timestamp_created: created };
        const expected =
          created > now + 30 || issued > now + 30
            ? 'timestamp_in_future'
            : issued > created
              ? 'invalid_record'
              : now - created >= 60
                ? 'record_expired'
                : null;
        let code: string | null = null;
        try {
          checkRecordTime(record, c);
        } catch (err) {
          code = (err as { code: string }).code;
        }
        expect(code).toBe(expected);
      }),
    );
  });
});
