/**
 * The sync messages (protocols/sync/messages.ts) as pure functions: every request and response round-trips
 * (properties over arbitrary valid values), the layout is the one the module's tables describe (checked
 * byte by byte on small examples), and anything else (truncated, trailing bytes, an unknown op or one that
 * does not answer the request, fields over their limits, ill-formed ranges, flags and varints, garbage
 * entries) is refused with a SignpostError `invalid_params` and never another exception.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { SignpostError } from '../../../../protocols/errors.js';
import { toHex } from '../../../../protocols/encoding.js';
import {
  MAX_ENTRIES,
  MAX_LISTED,
  MAX_SYMBOLS_PER_MESSAGE,
  MAX_WANT,
  SYMBOL_BYTES,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  entryBytes,
  olderFingerprints,
  resourceOf,
  type CodedMsg,
  type OlderPart,
  type SyncEntry,
  type SyncRequest,
  type SyncResponse,
} from '../../../../protocols/sync/messages.js';
import { BUCKETS, BucketSet } from '../../../../protocols/sync/range.js';
import { COUNT_MODULUS, Symbols, codedItem } from '../../../../protocols/sync/riblt.js';
import { BEGIN_SKETCHES, FINGERPRINT_BYTES, SUFFIXES, TABLE_FINGERPRINT_BYTES, TOW_SKETCHES } from '../../../../protocols/sync/summary.js';
import { ID_PREFIX_BYTES } from '../../../../protocols/sync/sync-index.js';
import { key, peer, record, tombstone } from '../../../helpers/objects.js';
import { outcome } from '../../../helpers/outcome.js';

const TS = 1_700_000_000;
const A = peer(1);
const B = peer(2);
const k0 = key(A, 'weather', TS);
const k1 = key(B, 'maps', TS + 3, { challenge_type: 'owner/v1' });
const ENTRIES: SyncEntry[] = [
  { kind: 'key', key: k0 },
  { kind: 'key', key: k1 },
  { kind: 'record', record: record(k0, B, TS, { created: TS + 2 }) },
  { kind: 'record', record: record(k1, B, TS + 4, { host: A, value: 'tcp://x:1' }) },
  { kind: 'tombstone', tombstone: tombstone(k0, A, B.peerId, TS + 5) },
];

/** LEB128, written here independently of the module. */
function varint(x: number): number[] {
  const out: number[] = [];
  while (x >= 0x80) {
    out.push((x % 0x80) | 0x80);
    x = Math.floor(x / 0x80);
  }
  out.push(x);
  return out;
}
const bytes = (...parts: (number | number[] | Uint8Array)[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => (typeof p === 'number' ? [p] : [...p])));

// ---- generators of valid messages ----

const arbBytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const arbSession = fc.integer({ min: 0, max: 0xffffffff });
const arbUint = fc.oneof(fc.nat(300), fc.nat(), fc.maxSafeNat());
const arbRange = fc
  .array(fc.tuple(fc.integer({ min: 0, max: BUCKETS - 1 }), fc.integer({ min: 1, max: 200 })), { maxLength: 12 })
  .map((runs) => BucketSet.fromIntervals(runs.map(([s, n]) => [s, s + n] as const)));

function arbSymbols(from: fc.Arbitrary<number>, maxLength = 20): fc.Arbitrary<Symbols> {
  return fc
    .tuple(
      from,
      fc.array(
        fc.tuple(fc.array(fc.nat(0xffffffff), { minLength: 4, maxLength: 4 }), fc.nat(0xffffffff), fc.nat(0xffff), fc.integer({ min: -100_000, max: 100_000 })),
        { maxLength },
      ),
    )
    .map(([f, slots]) => {
      const s = new Symbols(f, f + slots.length);
      slots.forEach(([sums, c0, c1, count], i) => {
        s.sums.set(sums, 4 * i);
        s.checks[2 * i] = c0;
        s.checks[2 * i + 1] = c1;
        s.counts[i] = count;
      });
      return s;
    });
}

const arbBegin = fc.record({
  op: fc.constant('begin' as const),
  session: arbSession,
  at: arbUint,
  range: arbRange,
  count: arbUint,
  fingerprint: arbBytes(FINGERPRINT_BYTES),
  sketch: arbBytes(BEGIN_SKETCHES),
});
const arbSymbolsRequest = fc
  .tuple(arbSession, fc.nat(2 ** 40), fc.integer({ min: 1, max: MAX_SYMBOLS_PER_MESSAGE }))
  .map(([session, from, n]): SyncRequest => ({ op: 'symbols', session, from, to: from + n }));
const arbIdsRequest = fc.record({
  op: fc.constant('ids' as const),
  session: arbSession,
  suffix: fc.option(fc.nat(SUFFIXES - 1)),
  after: fc.option(arbBytes(ID_PREFIX_BYTES)),
});
const arbExchange = fc.record({
  op: fc.constant('exchange' as const),
  session: arbSession,
  last: fc.boolean(),
  want: fc.array(arbBytes(ID_PREFIX_BYTES), { maxLength: 30 }),
  push: fc.subarray(ENTRIES),
});
const arbRequest: fc.Arbitrary<SyncRequest> = fc.oneof(arbBegin, arbSymbolsRequest, arbIdsRequest, arbExchange);

/** A suffix table as a responder builds it: counts never grow, a fingerprint exactly where the count is new and not 0. */
const arbOlder = (count: number): fc.Arbitrary<OlderPart[]> =>
  fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), arbBytes(TABLE_FINGERPRINT_BYTES)), { minLength: SUFFIXES, maxLength: SUFFIXES }).map((steps) => {
    let previous = count;
    return steps.map(([f, fp]) => {
      const c = f < 0.3 ? previous : Math.floor(previous * f);
      const part = { count: c, fingerprint: c > 0 && c !== previous ? fp : null };
      previous = c;
      return part;
    });
  });

/** A response with a request it answers. */
const arbAnswer: fc.Arbitrary<[SyncResponse, SyncRequest]> = fc.oneof(
  arbBegin.map((b): [SyncResponse, SyncRequest] => [{ op: 'equal' }, b]),
  fc
    .tuple(arbBegin, fc.option(arbRange), arbUint, arbBytes(FINGERPRINT_BYTES), arbBytes(TOW_SKETCHES), arbSymbols(fc.constant(0)))
    .map(([b, range, count, fingerprint, sketch, symbols]): [SyncResponse, SyncRequest] => [{ op: 'coded', range, count, fingerprint, sketch, mode: 'symbols', symbols }, b]),
  fc
    .tuple(arbBegin, fc.option(arbRange), fc.oneof(fc.nat(20), fc.nat()), arbBytes(FINGERPRINT_BYTES), arbBytes(TOW_SKETCHES))
    .chain(([b, range, count, fingerprint, sketch]) =>
      arbOlder(count).map((older): [SyncResponse, SyncRequest] => [{ op: 'coded', range, count, fingerprint, sketch, mode: 'suffixes', older }, b]),
    ),
  fc
    .tuple(arbSymbols(fc.nat(2 ** 40)), arbSession, fc.nat(100))
    .map(([symbols, session, extra]): [SyncResponse, SyncRequest] => [
      { op: 'symbols', symbols },
      { op: 'symbols', session, from: symbols.from, to: symbols.to + Math.max(extra, symbols.length === 0 ? 1 : 0) },
    ]),
  fc
    .tuple(fc.boolean(), fc.array(arbBytes(ID_PREFIX_BYTES), { maxLength: 40 }), arbIdsRequest)
    .map(([more, ids, req]): [SyncResponse, SyncRequest] => [{ op: 'ids', more, ids }, req]),
  arbExchange.chain((req) =>
    fc
      .tuple(fc.nat(req.want.length), fc.nat(MAX_ENTRIES), fc.nat(MAX_ENTRIES), fc.subarray(ENTRIES))
      .map(([served, stored, rejected, entries]): [SyncResponse, SyncRequest] => [{ op: 'entries', served, stored, rejected, entries }, req]),
  ),
);

/** A message as comparable plain data (sets of buckets as runs, symbols with counts as they travel, bytes as hex). */
function plain(x: unknown): unknown {
  if (x instanceof BucketSet) return { buckets: x.intervals() };
  if (x instanceof Symbols)
    return { from: x.from, to: x.to, sums: [...x.sums], checks: [...x.checks], counts: [...x.counts].map((c) => ((c % COUNT_MODULUS) + COUNT_MODULUS) % COUNT_MODULUS) };
  if (x instanceof Uint8Array) return toHex(x);
  if (Array.isArray(x)) return x.map(plain);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
  return x;
}

/** The code a decode throws ('ok' if it does not); anything but a SignpostError fails the test. */
const requestOutcome = (b: unknown) => outcome(() => decodeRequest(b));
const responseOutcome = (b: unknown, to: SyncRequest) => outcome(() => decodeResponse(b, to));
const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SignpostError);
    expect((e as SignpostError).code).toBe('invalid_params');
    return e instanceof Error ? e.message : '';
  }
  throw new Error('expected a refusal');
};

describe('round trips', () => {
  it('every request decodes to what was encoded', () => {
    fc.assert(
      fc.property(arbRequest, (m) => {
        expect(plain(decodeRequest(encodeRequest(m)))).toEqual(plain(m));
      }),
      { numRuns: 300 },
    );
  });

  it('every response decodes, against the request it answers, to what was encoded (counts mod 2^16)', () => {
    fc.assert(
      fc.property(arbAnswer, ([m, to]) => {
        expect(plain(decodeResponse(encodeResponse(m), to))).toEqual(plain(m));
      }),
      { numRuns: 300 },
    );
  });

  it('symbols coded from real ids travel unchanged and keep decoding', () => {
    const s = new Symbols(5, 40);
    for (let i = 0; i < 30; i++) s.add(codedItem(new Uint8Array(32).fill(i + 1)), 1);
    const to: SyncRequest = { op: 'symbols', session: 1, from: 5, to: 40 };
    const back = decodeResponse(encodeResponse({ op: 'symbols', symbols: s }), to);
    expect(back.op === 'symbols' && back.symbols).toEqual(s);
  });

  it('a begin carries only the first BEGIN_SKETCHES sketches, an ids request only an id prefix', () => {
    const sketch = Uint8Array.from({ length: TOW_SKETCHES }, (_, i) => i);
    const m = decodeRequest(encodeRequest({ op: 'begin', session: 1, at: 2, range: BucketSet.all(), count: 3, fingerprint: new Uint8Array(8), sketch }));
    expect(m.op === 'begin' && [...m.sketch]).toEqual([...sketch.subarray(0, BEGIN_SKETCHES)]);
    const after = Uint8Array.from({ length: 32 }, (_, i) => i);
    const ids = decodeRequest(encodeRequest({ op: 'ids', session: 1, suffix: null, after }));
    expect(ids.op === 'ids' && ids.after && [...ids.after]).toEqual([...after.subarray(0, ID_PREFIX_BYTES)]);
    const ex = decodeRequest(encodeRequest({ op: 'exchange', session: 1, last: false, want: [after], push: [] }));
    expect(ex.op === 'exchange' && ex.want.map(toHex)).toEqual([toHex(after.subarray(0, ID_PREFIX_BYTES))]);
  });

  it('accepts a Buffer (a Uint8Array) as well', () => {
    const m: SyncRequest = { op: 'symbols', session: 9, from: 3, to: 10 };
    expect(decodeRequest(Buffer.from(encodeRequest(m)))).toEqual(m);
  });
});

describe('layout', () => {
  it('requests: op byte, session, then the fields of the table', () => {
    const fp = Uint8Array.from({ length: 8 }, (_, i) => 0xf0 + i);
    const sk = Uint8Array.from({ length: 16 }, (_, i) => i);
    const range = BucketSet.fromIntervals([
      [0, 1],
      [300, 1024],
    ]);
    expect([...encodeRequest({ op: 'begin', session: 300, at: TS, range, count: 5, fingerprint: fp, sketch: sk })]).toEqual([
      ...bytes(1, varint(300), varint(TS), varint(2), 0, 1, varint(300), varint(724), 5, fp, sk),
    ]);
    expect([...encodeRequest({ op: 'symbols', session: 1, from: 64, to: 200 })]).toEqual([2, 1, 64, ...varint(200)]);
    expect([...encodeRequest({ op: 'ids', session: 1, suffix: null, after: null })]).toEqual([3, 1, 0, 0]);
    expect([...encodeRequest({ op: 'ids', session: 1, suffix: 3, after: fp })]).toEqual([3, 1, 4, 1, ...fp]);
    const ex = encodeRequest({ op: 'exchange', session: 1, last: true, want: [fp], push: [] });
    expect([...ex]).toEqual([4, 1, 1, 1, ...fp, 1, 0x90]); // an empty MessagePack list
  });

  it('responses: equal is one byte; a symbol is 16 + 6 + 2 bytes, counts mod 2^16 little-endian', () => {
    expect([...encodeResponse({ op: 'equal' })]).toEqual([1]);
    expect(SYMBOL_BYTES).toBe(24);
    const s = new Symbols(7, 8);
    s.sums.set([0x04030201, 0x08070605, 0x0c0b0a09, 0x100f0e0d]);
    s.checks[0] = 0x14131211;
    s.checks[1] = 0x1615;
    s.counts[0] = -2;
    expect([...encodeResponse({ op: 'symbols', symbols: s })]).toEqual([
      3, 7, 1, ...Array.from({ length: 16 }, (_, i) => i + 1), 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0xfe, 0xff,
    ]);
    const n = 100;
    const big = encodeResponse({ op: 'symbols', symbols: new Symbols(1000, 1000 + n) });
    expect(big.length).toBe(1 + varint(1000).length + varint(n).length + n * SYMBOL_BYTES);
  });

  it('a suffix table: for each suffix how many fewer items are older, and a fingerprint where that is new and not 0', () => {
    const f = (x: number) => new Uint8Array(TABLE_FINGERPRINT_BYTES).fill(x);
    const counts = [10, 10, 7, 7, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let previous = 10;
    const older = counts.map((c, j) => {
      const part = { count: c, fingerprint: c > 0 && c !== previous ? f(j) : null };
      previous = c;
      return part;
    });
    const m: CodedMsg = { op: 'coded', range: null, count: 10, fingerprint: new Uint8Array(8), sketch: new Uint8Array(32), mode: 'suffixes', older };
    expect([...encodeResponse(m)]).toEqual([...bytes(2, 0, 10, new Uint8Array(8), new Uint8Array(32), 1, 0, 0, 3, f(2), 0, 4, f(4), 3, 0, 0, 0, 0, 0, 0, 0, 0)]);
  });
});

describe('olderFingerprints', () => {
  it('the whole range’s fingerprint while the older items are all of them, the last table fingerprint while unchanged, null where none', () => {
    const whole = new Uint8Array(8).fill(1);
    const f = (x: number) => new Uint8Array(TABLE_FINGERPRINT_BYTES).fill(x);
    const older: OlderPart[] = [
      { count: 10, fingerprint: null },
      { count: 8, fingerprint: f(2) },
      { count: 8, fingerprint: null },
      { count: 0, fingerprint: null },
      ...Array.from({ length: SUFFIXES - 4 }, () => ({ count: 0, fingerprint: null })),
    ];
    const got = olderFingerprints({ op: 'coded', range: null, count: 10, fingerprint: whole, sketch: new Uint8Array(32), mode: 'suffixes', older });
    expect(got.slice(0, 4).map((x) => x && toHex(x))).toEqual([toHex(whole), toHex(f(2)), toHex(f(2)), null]);
    expect(got.slice(4).every((x) => x === null)).toBe(true);
  });
});

describe('entries', () => {
  it('round-trip every kind, and name their resource', () => {
    const m: SyncRequest = { op: 'exchange', session: 1, last: true, want: [], push: ENTRIES };
    expect(decodeRequest(encodeRequest(m))).toEqual(m);
    expect(ENTRIES.map(resourceOf)).toEqual([k0.id, k1.id, k0.id, k1.id, k0.id]);
    for (const e of ENTRIES) expect(entryBytes(e)).toBeGreaterThan(50);
  });

  it('refuse what is not MessagePack, not a list, an unknown kind, or an object that does not parse', () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, bundleStrings: false });
    const withEntries = (packed: Uint8Array) => bytes(4, 1, 0, 0, varint(packed.length), packed);
    expect(message(() => decodeRequest(withEntries(Uint8Array.of(0x92, 0x01))))).toMatch(/not MessagePack/); // a list of 2 with 1
    expect(message(() => decodeRequest(withEntries(Uint8Array.of(0x90, 0x90))))).toMatch(/not MessagePack/); // two values
    expect(message(() => decodeRequest(withEntries(packr.pack({ k: 1 }))))).toMatch(/list/);
    expect(message(() => decodeRequest(withEntries(packr.pack([['x', {}]]))))).toMatch(/unknown kind/);
    expect(message(() => decodeRequest(withEntries(packr.pack([['k']]))))).toMatch(/\[kind, object\]/);
    expect(message(() => decodeRequest(withEntries(packr.pack([['k', { ...k0, extra: 1 }]]))))).toMatch(/entries\[0\]/);
    expect(message(() => decodeRequest(withEntries(new Uint8Array(200_000).fill(0x91))))).toMatch(/not MessagePack/); // nested too deep
  });

  it('refuse more than MAX_ENTRIES in one message', () => {
    const push = new Array<SyncEntry>(MAX_ENTRIES + 1).fill(ENTRIES[0]);
    expect(message(() => decodeRequest(encodeRequest({ op: 'exchange', session: 1, last: true, want: [], push })))).toMatch(/at most 4096/);
    expect(requestOutcome(encodeRequest({ op: 'exchange', session: 1, last: true, want: [], push: push.slice(1) }))).toBe('ok');
  });

  it('any MessagePack value as entries is refused with a SignpostError or parses', () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, bundleStrings: false });
    const codes = new Set(['ok', 'invalid_params', 'invalid_key', 'invalid_peer_id', 'unsupported_challenge_type']);
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.array(fc.tuple(fc.constantFrom('k', 'r', 't'), fc.anything()))), (x) => {
        let packed: Uint8Array;
        try {
          packed = packr.pack(x);
        } catch {
          return;
        }
        expect(codes).toContain(requestOutcome(bytes(4, 1, 0, 0, varint(packed.length), packed)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('refusals', () => {
  it('every truncation of a valid message is invalid_params', () => {
    fc.assert(
      fc.property(arbRequest, (m) => {
        const b = encodeRequest(m);
        for (let n = 0; n < b.length; n++) expect(requestOutcome(b.subarray(0, n))).toBe('invalid_params');
      }),
      { numRuns: 60 },
    );
    fc.assert(
      fc.property(arbAnswer, ([m, to]) => {
        const b = encodeResponse(m);
        for (let n = 0; n < b.length; n++) expect(responseOutcome(b.subarray(0, n), to)).toBe('invalid_params');
      }),
      { numRuns: 60 },
    );
  });

  it('trailing bytes are invalid_params', () => {
    fc.assert(
      fc.property(arbRequest, arbAnswer, fc.uint8Array({ minLength: 1, maxLength: 5 }), (req, [res, to], extra) => {
        expect(message(() => decodeRequest(bytes(encodeRequest(req), extra)))).toMatch(/bytes after the message/);
        expect(message(() => decodeResponse(bytes(encodeResponse(res), extra), to))).toMatch(/bytes after the message/);
      }),
      { numRuns: 60 },
    );
  });

  it('what is not binary is invalid_params', () => {
    for (const x of [null, undefined, 'abc', [1, 2], 7, {}, new ArrayBuffer(4)]) {
      expect(message(() => decodeRequest(x))).toMatch(/binary/);
      expect(message(() => decodeResponse(x, { op: 'symbols', session: 1, from: 0, to: 1 }))).toMatch(/binary/);
    }
  });

  it('an unknown op, or a response that does not answer the request, is invalid_params', () => {
    for (const op of [0, 5, 6, 0x80, 0xff]) expect(message(() => decodeRequest(bytes(op, 1, 0, 0)))).toMatch(/unknown op/);
    const begin: SyncRequest = { op: 'begin', session: 1, at: 1, range: BucketSet.all(), count: 0, fingerprint: new Uint8Array(8), sketch: new Uint8Array(16) };
    const symbols: SyncRequest = { op: 'symbols', session: 1, from: 0, to: 4 };
    const ids: SyncRequest = { op: 'ids', session: 1, suffix: null, after: null };
    const exchange: SyncRequest = { op: 'exchange', session: 1, last: true, want: [], push: [] };
    const equal = encodeResponse({ op: 'equal' });
    const listed = encodeResponse({ op: 'ids', more: false, ids: [] });
    expect(message(() => decodeResponse(equal, symbols))).toMatch(/equal does not answer symbols/);
    expect(message(() => decodeResponse(equal, ids))).toMatch(/does not answer ids/);
    expect(message(() => decodeResponse(equal, exchange))).toMatch(/does not answer exchange/);
    expect(message(() => decodeResponse(listed, begin))).toMatch(/ids does not answer begin/);
    expect(message(() => decodeResponse(encodeResponse({ op: 'symbols', symbols: new Symbols(0, 1) }), ids))).toMatch(/does not answer/);
    for (const op of [0, 6, 0xff]) expect(message(() => decodeResponse(bytes(op), begin))).toMatch(/an unknown op does not answer begin/);
    expect(responseOutcome(equal, begin)).toBe('ok');
  });

  it('a symbols request asks for at least 1 and at most MAX_SYMBOLS_PER_MESSAGE symbols', () => {
    const req = (from: number, to: number) => bytes(2, 1, varint(from), varint(to));
    expect(requestOutcome(req(10, 10 + MAX_SYMBOLS_PER_MESSAGE))).toBe('ok');
    expect(message(() => decodeRequest(req(10, 11 + MAX_SYMBOLS_PER_MESSAGE)))).toMatch(/at most 16384/);
    expect(message(() => decodeRequest(req(10, 10)))).toMatch(/at least 1/);
    expect(message(() => decodeRequest(req(10, 9)))).toMatch(/at least 1/);
  });

  it('symbols answer from where they were asked, no more than asked, no more than a message', () => {
    const asked: SyncRequest = { op: 'symbols', session: 1, from: 10, to: 20 };
    expect(responseOutcome(encodeResponse({ op: 'symbols', symbols: new Symbols(10, 20) }), asked)).toBe('ok');
    expect(responseOutcome(encodeResponse({ op: 'symbols', symbols: new Symbols(10, 12) }), asked)).toBe('ok'); // fewer is fine
    expect(message(() => decodeResponse(encodeResponse({ op: 'symbols', symbols: new Symbols(11, 20) }), asked))).toMatch(/symbols from 11, asked from 10/);
    expect(message(() => decodeResponse(encodeResponse({ op: 'symbols', symbols: new Symbols(10, 21) }), asked))).toMatch(/more symbols than asked/);
    const begin: SyncRequest = { op: 'begin', session: 1, at: 1, range: BucketSet.all(), count: 0, fingerprint: new Uint8Array(8), sketch: new Uint8Array(16) };
    const coded = (n: number): CodedMsg => ({ op: 'coded', range: null, count: 0, fingerprint: new Uint8Array(8), sketch: new Uint8Array(32), mode: 'symbols', symbols: new Symbols(0, n) });
    expect(responseOutcome(encodeResponse(coded(MAX_SYMBOLS_PER_MESSAGE)), begin)).toBe('ok');
    expect(message(() => decodeResponse(encodeResponse(coded(MAX_SYMBOLS_PER_MESSAGE + 1)), begin))).toMatch(/symbol count/);
    // A count that claims more symbols than the bytes that follow.
    expect(message(() => decodeResponse(bytes(3, 10, varint(5), new Uint8Array(4 * SYMBOL_BYTES)), asked))).toMatch(/truncated/);
  });

  it('limits on ids wanted and listed, and on what an entries answer may count', () => {
    const want = (n: number) => Array.from({ length: n }, () => new Uint8Array(8));
    expect(requestOutcome(encodeRequest({ op: 'exchange', session: 1, last: true, want: want(MAX_WANT), push: [] }))).toBe('ok');
    expect(message(() => decodeRequest(encodeRequest({ op: 'exchange', session: 1, last: true, want: want(MAX_WANT + 1), push: [] })))).toMatch(/want 4097 is over 4096/);
    const ids: SyncRequest = { op: 'ids', session: 1, suffix: null, after: null };
    expect(responseOutcome(encodeResponse({ op: 'ids', more: true, ids: want(MAX_LISTED) }), ids)).toBe('ok');
    expect(message(() => decodeResponse(encodeResponse({ op: 'ids', more: true, ids: want(MAX_LISTED + 1) }), ids))).toMatch(/ids 32769 is over 32768/);
    const exchange: SyncRequest = { op: 'exchange', session: 1, last: true, want: want(3), push: [] };
    const entries = (served: number, stored: number, rejected: number) => encodeResponse({ op: 'entries', served, stored, rejected, entries: [] });
    expect(responseOutcome(entries(3, MAX_ENTRIES, MAX_ENTRIES), exchange)).toBe('ok');
    expect(message(() => decodeResponse(entries(4, 0, 0), exchange))).toMatch(/served 4 is over 3/);
    expect(message(() => decodeResponse(entries(0, MAX_ENTRIES + 1, 0), exchange))).toMatch(/stored/);
    expect(message(() => decodeResponse(entries(0, 0, MAX_ENTRIES + 1), exchange))).toMatch(/rejected/);
  });

  it('sessions are 32-bit, suffixes at most SUFFIXES, flags 0 or 1, varints at most 8 bytes', () => {
    expect(requestOutcome(bytes(2, varint(0xffffffff), 0, 1))).toBe('ok');
    expect(message(() => decodeRequest(bytes(2, varint(2 ** 32), 0, 1)))).toMatch(/session/);
    expect(requestOutcome(bytes(3, 1, varint(SUFFIXES), 0))).toBe('ok');
    expect(message(() => decodeRequest(bytes(3, 1, varint(SUFFIXES + 1), 0)))).toMatch(/suffix 15 is over 14/);
    expect(message(() => decodeRequest(bytes(3, 1, 0, 2)))).toMatch(/after flag must be 0 or 1/);
    expect(message(() => decodeRequest(bytes(4, 1, 2, 0, 1, 0x90)))).toMatch(/last must be 0 or 1/);
    const ids: SyncRequest = { op: 'ids', session: 1, suffix: null, after: null };
    expect(message(() => decodeResponse(bytes(4, 2, 0), ids))).toMatch(/more must be 0 or 1/);
    const begin: SyncRequest = { op: 'begin', session: 1, at: 1, range: BucketSet.all(), count: 0, fingerprint: new Uint8Array(8), sketch: new Uint8Array(16) };
    expect(message(() => decodeResponse(bytes(2, 2), begin))).toMatch(/range flag/);
    expect(message(() => decodeResponse(bytes(2, 0, 0, new Uint8Array(8 + 32), 2), begin))).toMatch(/mode/);
    // The largest safe integer takes 8 bytes; 9 are refused, and so is a value past 2^53.
    expect(requestOutcome(bytes(2, 1, varint(Number.MAX_SAFE_INTEGER - 1), varint(Number.MAX_SAFE_INTEGER)))).toBe('ok');
    expect(message(() => decodeRequest(bytes(2, 1, [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 1)))).toMatch(/at most 8 bytes/);
    expect(message(() => decodeRequest(bytes(2, 1, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], 1)))).toMatch(/from .* is over/);
  });

  it('a range is increasing, non-empty runs apart from each other within the buckets', () => {
    const begin = (...range: number[]) => bytes(1, 1, 1, range, 0, new Uint8Array(8 + 16));
    const far = varint(BUCKETS - 6); // two bytes
    expect(requestOutcome(begin(0))).toBe('ok'); // no buckets
    expect(requestOutcome(begin(2, 0, 5, 6, ...far))).toBe('ok');
    for (const bad of [
      [1, 0, 0], // empty run
      [2, 0, 5, 5, 1], // touching the previous run
      [2, 10, 5, 3, 1], // decreasing
      [2, 0, 5, 2, 1], // overlapping
      [1, ...varint(BUCKETS - 1), 2], // past the last bucket
      [1, ...varint(BUCKETS), 1], // a start past the buckets
      [1, 0, ...varint(BUCKETS + 1)],
      [...varint(BUCKETS / 2 + 1)], // more runs than can be apart
    ])
      expect(message(() => decodeRequest(begin(...bad))), JSON.stringify(bad)).toMatch(/range/);
    const back = decodeRequest(begin(2, 0, 5, 6, ...far));
    expect(back.op === 'begin' && back.range.toString()).toBe(`0-4,6-${BUCKETS - 1}`);
  });

  it('a suffix table cannot count more older items than the range holds', () => {
    const begin: SyncRequest = { op: 'begin', session: 1, at: 1, range: BucketSet.all(), count: 0, fingerprint: new Uint8Array(8), sketch: new Uint8Array(16) };
    const head = bytes(2, 0, 5, new Uint8Array(8 + 32), 1);
    expect(message(() => decodeResponse(bytes(head, 6, new Array(13).fill(0)), begin))).toMatch(/older count 6 is over 5/);
    expect(responseOutcome(bytes(head, 5, new Array(13).fill(0)), begin)).toBe('ok');
  });

  it('random bytes, and valid messages with a byte changed, decode or are invalid_params (never another exception)', () => {
    const requests = fc.sample(arbRequest, 20);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...requests), (b, to) => {
        expect(['ok', 'invalid_params']).toContain(requestOutcome(b));
        expect(['ok', 'invalid_params']).toContain(responseOutcome(b, to));
      }),
      { numRuns: 1000 },
    );
    const codes = ['ok', 'invalid_params', 'invalid_key', 'invalid_peer_id', 'unsupported_challenge_type'];
    fc.assert(
      fc.property(arbRequest, arbAnswer, fc.nat(), fc.integer({ min: 1, max: 255 }), (req, [res, to], at, xor) => {
        const a = encodeRequest(req);
        a[at % a.length] ^= xor;
        expect(codes).toContain(requestOutcome(a));
        const b = encodeResponse(res);
        b[at % b.length] ^= xor;
        expect(codes).toContain(responseOutcome(b, to));
      }),
      { numRuns: 500 },
    );
  });

  it('what decodes encodes back to the same message (non-minimal varints are read, and written minimal)', () => {
    let decoded = 0;
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.nat(3), fc.integer({ min: 0x80, max: 0x83 }), fc.nat(255)), { minLength: 1, maxLength: 12 }), fc.constantFrom(2, 3), (tail, op) => {
        let m: SyncRequest;
        try {
          m = decodeRequest(bytes(op, tail));
        } catch {
          return;
        }
        decoded++;
        expect(plain(decodeRequest(encodeRequest(m)))).toEqual(plain(m));
      }),
      { numRuns: 2000 },
    );
    expect(decoded).toBeGreaterThan(5); // about 1 in 60 inputs is a message
    // 0x80 0x00 is a (non-minimal) 0.
    expect(decodeRequest(bytes(2, 0x80, 0x00, 0, 1))).toEqual({ op: 'symbols', session: 0, from: 0, to: 1 });
  });
});
