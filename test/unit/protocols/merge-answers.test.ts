/**
 * `mergeAnswers` (protocols/registry.ts): how `resolve_providers` / `get_resource` turn several nodes'
 * answers into one view (SPEC §4.2, §4.3, §4.4, §5). The newest key wins; every slot is won by the order
 * of §4.3 over all answers, tombstones included, so a provider deleted on one node never comes back from a
 * lagging replica; the providers are the records hosted by an answering node plus the best
 * `records_limit` others, in rank order.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../protocols/encoding.js';
import { recordDigest } from '../../../protocols/objects.js';
import { lacks, mergeAnswers, type KeyItem, type RuleContext } from '../../../protocols/registry.js';
import { DEFAULT_RULE_CONFIG, type Key, type Record as ProviderRecord, type Tombstone } from '../../../protocols/types.js';
import { key, peer, record, tombstone } from '../../helpers/objects.js';

const TS = 1_700_000_000;
const NOW = TS + 100;
const OWNER = peer(1);
const RESOLVER = peer(2); // the node that merges (it did not answer)
const N1 = peer(3); // nodes of the neighbourhood that answered
const N2 = peer(4);
const N3 = peer(5); // a node that did not answer
const ISSUERS = Array.from({ length: 8 }, (_, i) => peer(20 + i));

const k0 = key(OWNER, 'weather', TS);

const ctx = (over: Partial<RuleContext['cfg']> = {}, now = NOW): RuleContext => ({
  now,
  cfg: { ...DEFAULT_RULE_CONFIG, ...over },
  hostPeerId: RESOLVER.peerId,
});

const answer = (records: ProviderRecord[] = [], tombstones: Tombstone[] = [], k: Key = k0): KeyItem => ({ key: k, records, tombstones });
const hosts = (...ids: { peerId: string }[]) => new Set(ids.map((x) => x.peerId));
const slotOf = (r: ProviderRecord) => `${r.metadata.issued_by}/${r.metadata.peer_id}`;
const slots = (rs: ProviderRecord[]) => rs.map(slotOf);

/** Every order of `xs`. */
function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));
}

describe('mergeAnswers', () => {
  describe('tombstones', () => {
    const provider = ISSUERS[0];
    const served = record(k0, provider, TS, { host: N3 });
    const removed = tombstone(k0, provider, N3.peerId, TS + 10);

    it('a tombstone from one answer hides the record a lagging answer still serves, in any order', () => {
      const lagging = answer([served]);
      const upToDate = answer([], [removed]);
      for (const order of permutations([lagging, upToDate, answer()])) {
        const merged = mergeAnswers(order, hosts(N1, N2), ctx());
        expect(merged.records).toEqual([]);
        expect(merged.tombstones).toEqual([removed]);
      }
    });

    it('hides it even when the record is hosted by an answering node and many replicas still serve it', () => {
      const hosted = record(k0, provider, TS, { host: N1 });
      const t = tombstone(k0, provider, N1.peerId, TS + 10);
      const merged = mergeAnswers([answer([hosted]), answer([hosted]), answer([hosted]), answer([], [t])], hosts(N1, N2), ctx());
      expect(merged.records).toEqual([]);
      expect(merged.tombstones).toEqual([t]);
    });

    it('at an equal timestamp_issued the tombstone wins (SPEC §4.3 rule 2)', () => {
      const t = tombstone(k0, provider, N3.peerId, TS);
      const merged = mergeAnswers([answer([served]), answer([], [t])], hosts(N1), ctx());
      expect(merged.records).toEqual([]);
      expect(merged.tombstones).toEqual([t]);
    });

    it('a record issued after the tombstone (registered again) wins over it', () => {
      const again = record(k0, provider, TS + 20, { host: N3 });
      const merged = mergeAnswers([answer([again]), answer([], [removed]), answer([served])], hosts(N1), ctx());
      expect(merged.records).toEqual([again]);
      expect(merged.tombstones).toEqual([]);
    });

    it('a tombstone only hides its own slot (same issuer and host)', () => {
      const otherHost = record(k0, provider, TS, { host: N2 });
      const otherIssuer = record(k0, ISSUERS[1], TS, { host: N3 });
      const merged = mergeAnswers([answer([served, otherHost, otherIssuer]), answer([], [removed])], hosts(N1), ctx());
      expect(slots(merged.records).sort()).toEqual(slots([otherHost, otherIssuer]).sort());
    });

    it('expired tombstones are not returned', () => {
      const old = tombstone(k0, provider, N3.peerId, TS);
      const later = ctx({}, TS + DEFAULT_RULE_CONFIG.expired_timeout); // the tombstone is expired now
      const merged = mergeAnswers([answer([], [old])], hosts(N1), later);
      expect(merged.tombstones).toEqual([]);
    });

    it('returns the visible tombstones sorted by (issued_by, peer_id)', () => {
      const ts = [
        tombstone(k0, ISSUERS[3], N2.peerId, TS),
        tombstone(k0, ISSUERS[1], N3.peerId, TS),
        tombstone(k0, ISSUERS[1], N1.peerId, TS),
        tombstone(k0, ISSUERS[2], N1.peerId, TS),
      ];
      const merged = mergeAnswers([answer([], ts.slice(0, 2)), answer([], ts.slice(2))], hosts(N1), ctx());
      const expected = [...ts].sort((a, b) => (a.issued_by < b.issued_by ? -1 : a.issued_by > b.issued_by ? 1 : a.peer_id < b.peer_id ? -1 : a.peer_id > b.peer_id ? 1 : 0));
      expect(merged.tombstones).toEqual(expected);
    });
  });

  describe('keys and slots', () => {
    it('the newest key wins: higher timestamp_created, whatever answer carries it', () => {
      const older = key(OWNER, 'weather', TS);
      const newer = key(OWNER, 'weather', TS + 50);
      expect(newer.id).toBe(older.id);
      for (const order of permutations([answer([], [], older), answer([], [], newer), answer([], [], older)])) {
        expect(mergeAnswers(order, hosts(N1), ctx()).key).toEqual(newer);
      }
    });

    it('at an equal timestamp_created, the greater signature wins', () => {
      const a = key(OWNER, 'weather', TS + 5, { challenge_type: '' });
      const b = key(OWNER, 'weather', TS + 5, { challenge_type: 'owner/v1' });
      expect(a.signature).not.toBe(b.signature);
      const winner = Buffer.compare(Buffer.from(a.signature, 'base64url'), Buffer.from(b.signature, 'base64url')) > 0 ? a : b;
      expect(mergeAnswers([answer([], [], a), answer([], [], b)], hosts(N1), ctx()).key).toEqual(winner);
      expect(mergeAnswers([answer([], [], b), answer([], [], a)], hosts(N1), ctx()).key).toEqual(winner);
    });

    it('the newest key\'s policy decides what is served: owner/v1 drops records of other issuers', () => {
      const open = key(OWNER, 'weather', TS);
      const owned = key(OWNER, 'weather', TS + 1, { challenge_type: 'owner/v1' });
      const byOwner = record(open, OWNER, TS, { host: N3 });
      const byOther = record(open, ISSUERS[0], TS, { host: N3 });
      const merged = mergeAnswers([answer([byOwner, byOther], [], open), answer([], [], owned)], hosts(N1), ctx());
      expect(merged.key).toEqual(owned);
      expect(merged.records).toEqual([byOwner]);
    });

    it('one slot, several versions: the latest issued wins; at equal issued the renewal (later created) wins', () => {
      const p = ISSUERS[0];
      const v1 = record(k0, p, TS, { host: N3, value: 'v1' });
      const v2 = record(k0, p, TS + 5, { host: N3, value: 'v2' });
      const v2renewed = record(k0, p, TS + 5, { host: N3, value: 'v2', created: TS + 40 });
      for (const order of permutations([answer([v1]), answer([v2renewed]), answer([v2])])) {
        expect(mergeAnswers(order, hosts(N1), ctx()).records).toEqual([v2renewed]);
      }
    });

    it('is idempotent and order-independent: repeating or shuffling answers changes nothing', () => {
      const rs = ISSUERS.slice(0, 5).map((p, i) => record(k0, p, TS + i, { host: i % 2 ? N1 : N3 }));
      const t = tombstone(k0, ISSUERS[2], N3.peerId, TS + 30);
      const answers = [answer(rs.slice(0, 3)), answer(rs.slice(2), [t]), answer([rs[4]])];
      const reference = mergeAnswers(answers, hosts(N1, N2), ctx({ records_limit: 2 }));
      for (const order of permutations(answers)) expect(mergeAnswers(order, hosts(N1, N2), ctx({ records_limit: 2 }))).toEqual(reference);
      expect(mergeAnswers([...answers, ...answers], hosts(N1, N2), ctx({ records_limit: 2 }))).toEqual(reference);
    });

    it('does not modify the answers it is given', () => {
      const rs = [record(k0, ISSUERS[0], TS, { host: N3 })];
      const a = answer(rs, [tombstone(k0, ISSUERS[0], N3.peerId, TS + 1)]);
      const copy = structuredClone(a);
      mergeAnswers([a], hosts(N1), ctx());
      expect(a).toEqual(copy);
    });
  });

  describe('the provider limit and rank', () => {
    const LIMIT = 2;
    // Four records hosted by a node that did not answer (N3): only the best LIMIT are served.
    const others = ISSUERS.slice(0, 4).map((p, i) => record(k0, p, TS + i, { host: N3 }));
    // Two records hosted by answering nodes, ranked below all the others (older timestamp_issued).
    const hostedN1 = record(k0, ISSUERS[4], TS - 20, { host: N1 });
    const hostedN2 = record(k0, ISSUERS[5], TS - 10, { host: N2 });

    it('keeps the records hosted by answering nodes beyond records_limit, plus the best records_limit others', () => {
      const merged = mergeAnswers([answer([...others, hostedN1]), answer([hostedN2, others[0]])], hosts(N1, N2), ctx({ records_limit: LIMIT }));
      // Rank order (newest issued first): others[3], others[2], then the host records; others[0..1] are in reserve.
      expect(slots(merged.records)).toEqual(slots([others[3], others[2], hostedN2, hostedN1]));
    });

    it('a record hosted by a node that did not answer counts against the limit', () => {
      const merged = mergeAnswers([answer([...others, hostedN1, hostedN2])], hosts(N1), ctx({ records_limit: LIMIT }));
      // N2 did not answer: its record is an ordinary one, ranked last, so it is not served.
      expect(slots(merged.records)).toEqual(slots([others[3], others[2], hostedN1]));
    });

    it('a record hosted by the merging node itself counts against the limit when that node did not answer', () => {
      // resolve_providers on a node outside the resource's neighbourhood: its own hosted record is not a
      // record of "a node that answered" (SPEC §5), so it competes with the others like any record, and
      // every node resolving the same answers returns the same providers.
      const hostedHere = record(k0, ISSUERS[6], TS - 30, { host: RESOLVER });
      const merged = mergeAnswers([answer([...others, hostedHere])], hosts(N1, N2), ctx({ records_limit: LIMIT }));
      expect(slots(merged.records)).toEqual(slots([others[3], others[2]]));
      const elsewhere = mergeAnswers([answer([...others, hostedHere])], hosts(N1, N2), { ...ctx({ records_limit: LIMIT }), hostPeerId: N3.peerId });
      expect(slots(merged.records)).toEqual(slots(elsewhere.records));
    });

    it('with no answering hosts and no limit pressure, every live record is served, best rank first', () => {
      const merged = mergeAnswers([answer(others.slice(0, 2)), answer(others.slice(2))], new Set(), ctx());
      expect(slots(merged.records)).toEqual(slots([...others].reverse()));
    });

    it('ties on timestamp_issued rank by the greater record digest', () => {
      const tied = ISSUERS.slice(0, 5).map((p) => record(k0, p, TS, { host: N3 }));
      const merged = mergeAnswers([answer(tied)], new Set(), ctx());
      const byDigest = [...tied].sort((a, b) => (toHex(recordDigest(b)) < toHex(recordDigest(a)) ? -1 : 1));
      expect(slots(merged.records)).toEqual(slots(byDigest));
      const limited = mergeAnswers([answer(tied)], new Set(), ctx({ records_limit: 2 }));
      expect(slots(limited.records)).toEqual(slots(byDigest.slice(0, 2)));
    });

    it('a tombstone frees a place under the limit: the next best record is served', () => {
      const t = tombstone(k0, ISSUERS[3], N3.peerId, TS + 50);
      const merged = mergeAnswers([answer(others), answer([], [t])], new Set(), ctx({ records_limit: LIMIT }));
      expect(slots(merged.records)).toEqual(slots([others[2], others[1]]));
    });

    it('expired records are not served, except records hosted by an answering node', () => {
      const expired = record(k0, ISSUERS[6], TS - 100, { host: N3 });
      const expiredHosted = record(k0, ISSUERS[7], TS - 100, { host: N1 });
      const now = TS - 100 + DEFAULT_RULE_CONFIG.expired_timeout;
      const merged = mergeAnswers([answer([expired, expiredHosted, others[0]])], hosts(N1), ctx({}, now));
      expect(slots(merged.records)).toEqual(slots([others[0], expiredHosted]));
    });
  });
});

describe('lacks (read repair)', () => {
  const r1 = record(k0, ISSUERS[0], TS);
  const r2 = record(k0, ISSUERS[1], TS);
  const r1v2 = record(k0, ISSUERS[0], TS + 10, { value: 'v2' });
  const t2 = tombstone(k0, ISSUERS[1], ISSUERS[1].peerId, TS + 20);

  it('is false for an answer that holds the whole merged view, and true for one missing a record, a version, a tombstone or the key', () => {
    const merged = mergeAnswers([answer([r1v2, r2]), answer([r1], [t2])], hosts(N1, N2), ctx());
    expect(merged.records.map((r) => r.metadata.value)).toEqual(['v2']);
    expect(lacks(merged, merged)).toBe(false);
    expect(lacks(answer([r1v2], [t2]), merged)).toBe(false);
    expect(lacks(answer([r1], [t2]), merged)).toBe(true); // an older version of the slot
    expect(lacks(answer([r1v2]), merged)).toBe(true); // the tombstone
    expect(lacks(answer([], [t2]), merged)).toBe(true); // the record
    expect(lacks(answer([r1v2], [t2], key(OWNER, 'weather', TS - 1)), merged)).toBe(true); // an older key
  });
});
