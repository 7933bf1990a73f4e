/**
 * The sync protocol's messages: one peer method, `sync`, whose params and result are one binary message
 * each, compact because a session between replicas that agree is a single round trip (about 90 bytes of
 * frames in all). Every message starts with its op byte; numbers are unsigned LEB128 varints; ids are
 * named by their first ID_PREFIX_BYTES bytes.
 *
 * Initiator → responder:
 *
 * | op | message  | fields |
 * | -- | -------- | ------ |
 * | 1  | begin    | session, at, range, count, fingerprint(8), sketch(BEGIN_SKETCHES = 16) |
 * | 2  | symbols  | session, from, to (at most MAX_SYMBOLS_PER_MESSAGE) |
 * | 3  | ids      | session, suffix (0: all; j + 1: suffix j), after (flag + prefix) |
 * | 4  | exchange | session, last (0/1), want (n + prefixes, at most MAX_WANT), push (entries) |
 *
 * Responder → initiator:
 *
 * | op | message  | fields |
 * | -- | -------- | ------ |
 * | 1  | equal    | — (the range asked for is the range compared, and the sets are equal) |
 * | 2  | coded    | range (flag 0: as asked; 1: intervals), count, fingerprint, sketch(TOW_SKETCHES = 32), mode, then mode 0: symbols; mode 1: suffix table |
 * | 3  | symbols  | from, symbols |
 * | 4  | ids      | more (0/1), n + prefixes |
 * | 5  | entries  | served (wants answered, in order), stored, rejected, entries |
 *
 * A range is `n` then `n` pairs (start, length) of buckets, in increasing order, not touching, within
 * BUCKETS. A suffix table (protocols/sync/summary.ts) is, for each suffix j in order, the count of the
 * items older than it, written as how many fewer they are than for the previous suffix (than the whole
 * range, for the first), then their fingerprint (TABLE_FINGERPRINT_BYTES) unless that count is 0 or
 * unchanged (the same items then: the sets are nested). A symbol is 16 bytes of XORed short ids, 6 of XORed checksums and a 16-bit count (mod 2^16).
 * Entries are MessagePack: a list of `[kind, object]`, kind `k` (a Key), `r` (a Record) or `t` (a
 * Tombstone), in SPEC §3's JSON shape, parsed like any other input.
 */
import { Packr } from 'msgpackr';
import { SignpostError } from '../errors.js';
import { parseKey, parseRecord, parseTombstone } from '../validate.js';
import type { Key, Record as ProviderRecord, Tombstone } from '../types.js';
import { BUCKETS, BucketSet } from './range.js';
import { CHECK_BYTES, COUNT_MODULUS, SHORT_ID_BYTES, Symbols } from './riblt.js';
import { BEGIN_SKETCHES, FINGERPRINT_BYTES, SUFFIXES, TABLE_FINGERPRINT_BYTES, TOW_SKETCHES } from './summary.js';
import { ID_PREFIX_BYTES } from './sync-index.js';

export const SYMBOL_BYTES = SHORT_ID_BYTES + CHECK_BYTES + 2;
/** Symbols one message may ask for or carry (about 690 KB, within the default 1 MiB frame). */
export const MAX_SYMBOLS_PER_MESSAGE = 16384;
/** Ids one `exchange` may ask for, and one `ids` answer may list. */
export const MAX_WANT = 4096;
export const MAX_LISTED = 32768;
/** Entries one message may carry. */
export const MAX_ENTRIES = 4096;

/** An entry as it travels: the key, a record or a tombstone. */
export type SyncEntry = { kind: 'key'; key: Key } | { kind: 'record'; record: ProviderRecord } | { kind: 'tombstone'; tombstone: Tombstone };

export interface BeginMsg {
  op: 'begin';
  session: number;
  at: number;
  range: BucketSet;
  count: number;
  fingerprint: Uint8Array;
  sketch: Uint8Array;
}
export type SyncRequest =
  | BeginMsg
  | { op: 'symbols'; session: number; from: number; to: number }
  /** `suffix`: list only the items of that time suffix (null: all). */
  | { op: 'ids'; session: number; suffix: number | null; after: Uint8Array | null }
  | { op: 'exchange'; session: number; last: boolean; want: Uint8Array[]; push: SyncEntry[] };

/** The summary of the items older than one time suffix, as the suffix table carries it. */
export interface OlderPart {
  count: number;
  /** null: the same items as the previous suffix's (or none). */
  fingerprint: Uint8Array | null;
}

interface CodedHeader {
  op: 'coded';
  /** null: the range asked for. */
  range: BucketSet | null;
  count: number;
  fingerprint: Uint8Array;
  sketch: Uint8Array;
}

/** The first symbols at once, or (for more than a few differences) the suffix table to choose from. */
export type CodedMsg = CodedHeader & ({ mode: 'symbols'; symbols: Symbols } | { mode: 'suffixes'; older: OlderPart[] });

/**
 * The fingerprint of the items older than each suffix, from a suffix table: a table fingerprint, or the
 * range's own (8 bytes) where they are the whole range; null where there are none.
 */
export function olderFingerprints(m: Extract<CodedMsg, { mode: 'suffixes' }>): (Uint8Array | null)[] {
  let previous = m.fingerprint;
  return m.older.map((o) => (o.count === 0 ? null : (previous = o.fingerprint ?? previous)));
}
export type SyncResponse =
  | { op: 'equal' }
  | CodedMsg
  | { op: 'symbols'; symbols: Symbols }
  | { op: 'ids'; more: boolean; ids: Uint8Array[] }
  | { op: 'entries'; served: number; stored: number; rejected: number; entries: SyncEntry[] };

const REQUEST_OPS = ['', 'begin', 'symbols', 'ids', 'exchange'] as const;
const RESPONSE_OPS = ['', 'equal', 'coded', 'symbols', 'ids', 'entries'] as const;

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, bundleStrings: false });

// ---- writing ----

class Writer {
  private buf = new Uint8Array(256);
  private n = 0;

  private room(more: number): void {
    if (this.n + more <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + more));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }

  byte(b: number): this {
    this.room(1);
    this.buf[this.n++] = b;
    return this;
  }

  uint(x: number): this {
    this.room(8);
    while (x >= 0x80) {
      this.buf[this.n++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.n++] = x;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
    return this;
  }

  range(r: BucketSet): this {
    const runs = r.intervals();
    this.uint(runs.length);
    for (const [a, b] of runs) this.uint(a).uint(b - a);
    return this;
  }

  symbols(s: Symbols): this {
    this.uint(s.length);
    this.room(s.length * SYMBOL_BYTES);
    const words = SHORT_ID_BYTES / 4;
    for (let i = 0; i < s.length; i++) {
      for (let j = 0; j < words; j++) this.word(s.sums[i * words + j]);
      this.word(s.checks[2 * i]);
      const high = s.checks[2 * i + 1];
      this.buf[this.n++] = high & 0xff;
      this.buf[this.n++] = (high >>> 8) & 0xff;
      const c = ((s.counts[i] % COUNT_MODULUS) + COUNT_MODULUS) % COUNT_MODULUS;
      this.buf[this.n++] = c & 0xff;
      this.buf[this.n++] = c >>> 8;
    }
    return this;
  }

  entries(list: readonly SyncEntry[]): this {
    const packed = packr.pack(list.map(entryTuple));
    return this.uint(packed.length).bytes(packed);
  }

  private word(w: number): this {
    this.buf[this.n++] = w & 0xff;
    this.buf[this.n++] = (w >>> 8) & 0xff;
    this.buf[this.n++] = (w >>> 16) & 0xff;
    this.buf[this.n++] = w >>> 24;
    return this;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

/** The resource an entry belongs to. */
export function resourceOf(e: SyncEntry): string {
  return e.kind === 'key' ? e.key.id : e.kind === 'record' ? e.record.metadata.key_id : e.tombstone.key_id;
}

function entryTuple(e: SyncEntry): [string, unknown] {
  return e.kind === 'key' ? ['k', e.key] : e.kind === 'record' ? ['r', e.record] : ['t', e.tombstone];
}

/** Bytes of one entry as it travels (what `bytes_total` is compared with). */
export function entryBytes(e: SyncEntry): number {
  return packr.pack(entryTuple(e)).length;
}

export function encodeRequest(m: SyncRequest): Uint8Array {
  const w = new Writer().byte(REQUEST_OPS.indexOf(m.op)).uint(m.session);
  switch (m.op) {
    case 'begin':
      return w.uint(m.at).range(m.range).uint(m.count).bytes(m.fingerprint).bytes(m.sketch.subarray(0, BEGIN_SKETCHES)).finish();
    case 'symbols':
      return w.uint(m.from).uint(m.to).finish();
    case 'ids':
      w.uint(m.suffix === null ? 0 : m.suffix + 1);
      return (m.after ? w.byte(1).bytes(m.after.subarray(0, ID_PREFIX_BYTES)) : w.byte(0)).finish();
    case 'exchange':
      w.byte(m.last ? 1 : 0).uint(m.want.length);
      for (const id of m.want) w.bytes(id.subarray(0, ID_PREFIX_BYTES));
      return w.entries(m.push).finish();
  }
}

export function encodeResponse(m: SyncResponse): Uint8Array {
  const w = new Writer().byte(RESPONSE_OPS.indexOf(m.op));
  switch (m.op) {
    case 'equal':
      return w.finish();
    case 'coded':
      (m.range ? w.byte(1).range(m.range) : w.byte(0)).uint(m.count).bytes(m.fingerprint).bytes(m.sketch);
      if (m.mode === 'symbols') return w.byte(0).symbols(m.symbols).finish();
      w.byte(1);
      let previous = m.count;
      for (const o of m.older) {
        w.uint(previous - o.count);
        if (o.fingerprint) w.bytes(o.fingerprint);
        previous = o.count;
      }
      return w.finish();
    case 'symbols':
      return w.uint(m.symbols.from).symbols(m.symbols).finish();
    case 'ids':
      w.byte(m.more ? 1 : 0).uint(m.ids.length);
      for (const id of m.ids) w.bytes(id.subarray(0, ID_PREFIX_BYTES));
      return w.finish();
    case 'entries':
      return w.uint(m.served).uint(m.stored).uint(m.rejected).entries(m.entries).finish();
  }
}

// ---- reading (every field checked; anything else is `invalid_params`) ----

const bad = (why: string): SignpostError => new SignpostError('invalid_params', `sync message: ${why}`);

class Reader {
  private at = 0;

  constructor(private readonly b: Uint8Array) {}

  byte(): number {
    if (this.at >= this.b.length) throw bad('truncated');
    return this.b[this.at++];
  }

  flag(what: string): boolean {
    const f = this.byte();
    if (f > 1) throw bad(`${what} must be 0 or 1`);
    return f === 1;
  }

  uint(what: string, max = Number.MAX_SAFE_INTEGER): number {
    let x = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      x += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (x > max) throw bad(`${what} ${x} is over ${max}`);
        return x;
      }
      scale *= 0x80;
    }
    throw bad(`${what} is not a varint of at most 8 bytes`);
  }

  bytes(n: number): Uint8Array {
    if (this.at + n > this.b.length) throw bad('truncated');
    const out = this.b.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }

  range(): BucketSet {
    const n = this.uint('range length', BUCKETS / 2);
    const runs: [number, number][] = [];
    let end = -1;
    for (let i = 0; i < n; i++) {
      const start = this.uint('range start', BUCKETS - 1);
      const length = this.uint('range length', BUCKETS);
      if (length === 0 || start <= end || start + length > BUCKETS) throw bad('range intervals must be non-empty, increasing, apart and within the buckets');
      end = start + length;
      runs.push([start, end]);
    }
    return BucketSet.fromIntervals(runs);
  }

  coded(): CodedMsg {
    const header: CodedHeader = { op: 'coded', range: this.flag('range flag') ? this.range() : null, count: this.uint('count'), fingerprint: this.bytes(FINGERPRINT_BYTES), sketch: this.bytes(TOW_SKETCHES) };
    if (!this.flag('mode')) return { ...header, mode: 'symbols', symbols: this.symbols(0) };
    const older: OlderPart[] = [];
    let previous = header.count;
    for (let j = 0; j < SUFFIXES; j++) {
      const count = previous - this.uint('older count', previous);
      older.push({ count, fingerprint: count > 0 && count !== previous ? this.bytes(TABLE_FINGERPRINT_BYTES) : null });
      previous = count;
    }
    return { ...header, mode: 'suffixes', older };
  }

  prefixes(max: number, what: string): Uint8Array[] {
    const n = this.uint(what, max);
    return Array.from({ length: n }, () => this.bytes(ID_PREFIX_BYTES));
  }

  symbols(from: number): Symbols {
    const n = this.uint('symbol count', MAX_SYMBOLS_PER_MESSAGE);
    if (this.at + n * SYMBOL_BYTES > this.b.length) throw bad('truncated symbols');
    const s = new Symbols(from, from + n);
    const words = SHORT_ID_BYTES / 4;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < words; j++) s.sums[i * words + j] = this.word();
      s.checks[2 * i] = this.word();
      s.checks[2 * i + 1] = this.b[this.at] | (this.b[this.at + 1] << 8);
      s.counts[i] = this.b[this.at + 2] | (this.b[this.at + 3] << 8);
      this.at += 4;
    }
    return s;
  }

  entries(): SyncEntry[] {
    const n = this.uint('entries length', this.b.length);
    const bytes = this.bytes(n);
    let list: unknown;
    try {
      list = packr.unpack(bytes);
    } catch (e) {
      throw bad(`entries are not MessagePack: ${(e as Error).message}`);
    }
    if (!Array.isArray(list) || list.length > MAX_ENTRIES) throw bad(`entries must be a list of at most ${MAX_ENTRIES}`);
    return list.map((t, i) => {
      if (!Array.isArray(t) || t.length !== 2) throw bad(`entries[${i}] must be [kind, object]`);
      const path = `entries[${i}]`;
      if (t[0] === 'k') return { kind: 'key', key: parseKey(t[1], path) };
      if (t[0] === 'r') return { kind: 'record', record: parseRecord(t[1], path) };
      if (t[0] === 't') return { kind: 'tombstone', tombstone: parseTombstone(t[1], path) };
      throw bad(`entries[${i}] has an unknown kind`);
    });
  }

  private word(): number {
    const b = this.b;
    const w = (b[this.at] | (b[this.at + 1] << 8) | (b[this.at + 2] << 16) | (b[this.at + 3] << 24)) >>> 0;
    this.at += 4;
    return w;
  }

  end(): void {
    if (this.at !== this.b.length) throw bad(`${this.b.length - this.at} bytes after the message`);
  }
}

function read<T>(bytes: unknown, body: (r: Reader) => T): T {
  if (!(bytes instanceof Uint8Array)) throw bad('must be binary');
  const r = new Reader(bytes);
  const m = body(r);
  r.end();
  return m;
}

export function decodeRequest(bytes: unknown): SyncRequest {
  return read(bytes, (r) => {
    const op = REQUEST_OPS[r.byte()];
    if (!op) throw bad('unknown op');
    const session = r.uint('session', 0xffffffff);
    switch (op) {
      case 'begin':
        return { op, session, at: r.uint('at'), range: r.range(), count: r.uint('count'), fingerprint: r.bytes(FINGERPRINT_BYTES), sketch: r.bytes(BEGIN_SKETCHES) };
      case 'symbols': {
        const from = r.uint('from');
        const to = r.uint('to');
        if (to <= from || to - from > MAX_SYMBOLS_PER_MESSAGE) throw bad(`symbols from ${from} to ${to}: at most ${MAX_SYMBOLS_PER_MESSAGE}, at least 1`);
        return { op, session, from, to };
      }
      case 'ids': {
        const suffix = r.uint('suffix', SUFFIXES);
        return { op, session, suffix: suffix === 0 ? null : suffix - 1, after: r.flag('after flag') ? r.bytes(ID_PREFIX_BYTES) : null };
      }
      case 'exchange': {
        const last = r.flag('last');
        return { op, session, last, want: r.prefixes(MAX_WANT, 'want'), push: r.entries() };
      }
      default:
        throw bad('unknown op');
    }
  });
}

/** A response, checked against the request it answers. */
export function decodeResponse(bytes: unknown, to: SyncRequest): SyncResponse {
  return read(bytes, (r): SyncResponse => {
    const op = RESPONSE_OPS[r.byte()];
    const expect = (...ops: string[]) => {
      if (!ops.includes(op)) throw bad(`${op || 'an unknown op'} does not answer ${to.op}`);
    };
    switch (to.op) {
      case 'begin':
        expect('equal', 'coded');
        if (op === 'equal') return { op };
        return r.coded();
      case 'symbols': {
        expect('symbols');
        const from = r.uint('from');
        if (from !== to.from) throw bad(`symbols from ${from}, asked from ${to.from}`);
        const symbols = r.symbols(from);
        if (symbols.to > to.to) throw bad('more symbols than asked');
        return { op: 'symbols', symbols };
      }
      case 'ids':
        expect('ids');
        return { op: 'ids', more: r.flag('more'), ids: r.prefixes(MAX_LISTED, 'ids') };
      case 'exchange': {
        expect('entries');
        const served = r.uint('served', to.want.length);
        return { op: 'entries', served, stored: r.uint('stored', MAX_ENTRIES), rejected: r.uint('rejected', MAX_ENTRIES), entries: r.entries() };
      }
    }
  });
}
