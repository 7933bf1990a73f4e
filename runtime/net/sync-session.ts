/**
 * The initiating side of one sync session (actors/sync.ts's phases): what each phase sends, how it reads
 * the answers, and what it hands to the next phase. The decisions (how many symbols, when to list) are
 * protocols/sync/plan.ts's; the decoding is protocols/sync/riblt.ts's.
 */
import { SignpostError } from '../../protocols/errors.js';
import { compareBytes, toHex } from '../../protocols/encoding.js';
import { resourceLocation } from '../../protocols/kademlia.js';
import {
  MAX_WANT,
  decodeResponse,
  encodeRequest,
  entryBytes,
  olderFingerprints,
  resourceOf,
  type CodedMsg,
  type SyncEntry,
  type SyncRequest,
  type SyncResponse,
} from '../../protocols/sync/messages.js';
import { firstRequest, listingIsCheaper, nextBatchEnd, symbolCap } from '../../protocols/sync/plan.js';
import { bucketOf, type BucketSet } from '../../protocols/sync/range.js';
import { Decoder, type Symbols } from '../../protocols/sync/riblt.js';
import { BEGIN_SKETCHES, estimateDifference, fingerprint, olderThanSuffixes, suffixStart, towBytes, type Summary } from '../../protocols/sync/summary.js';
import { ID_PREFIX_BYTES } from '../../protocols/sync/sync-index.js';
import { syncEntryId } from '../../protocols/sync/items.js';
import type { CompareOutput, FetchOutput, ReconcileOutput, StoreOutput, Traffic } from '../../actors/sync.js';
import type { Shards } from '../store/shards.js';
import type { PeerTarget, Transport } from './transport.js';

export interface SessionParts {
  transport: Transport;
  shards: Shards;
  requestTimeoutMs: number;
  maxFrameBytes: number;
  /** Stores entries a neighbour sent (verified like any write). */
  store(entries: SyncEntry[]): Promise<StoreOutput>;
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => compareBytes(a, b) === 0;
const prefixHex = (id: Uint8Array): string => toHex(id.subarray(0, ID_PREFIX_BYTES));

/** Bytes of a frame spent on everything but its entries (a safe margin for the exchange's framing). */
const FRAME_MARGIN = 1024;

export class InitiatedSession {
  readonly traffic: Traffic = { roundTrips: 0, bytesSent: 0, bytesReceived: 0 };
  /** The range both sides compared, once known. */
  compared: BucketSet | null = null;
  private own: Summary | null = null;
  private coded: CodedMsg | null = null;
  private estimate = 0;
  private ours: Uint8Array[] = [];
  /** Our entries of `ours`, when reconciling already read them. */
  private push: SyncEntry[] | null = null;
  private theirs: Uint8Array[] = [];
  private received: SyncEntry[] = [];
  /** Entries sent and received, for the node's counters, and their bytes as they travel (what the bench compares with). */
  entriesSent = 0;
  entriesReceived = 0;
  entryBytes = 0;

  constructor(
    private readonly parts: SessionParts,
    private readonly peer: PeerTarget & { peerId: string },
    private readonly id: number,
    private readonly at: number,
    private readonly range: BucketSet,
  ) {}

  /** Counts one frame pair of this session (the node routes its transport's traffic here). */
  count(sent: number, received: number): void {
    this.traffic.bytesSent += sent;
    this.traffic.bytesReceived += received;
  }

  private async ask(m: SyncRequest): Promise<SyncResponse> {
    const answer = await this.parts.transport.request(this.peer, 'sync', encodeRequest(m), this.parts.requestTimeoutMs);
    this.traffic.roundTrips++;
    try {
      return decodeResponse(answer, m);
    } catch (e) {
      // A malformed answer costs the neighbour, as a malformed request would.
      this.parts.transport.penalise(this.peer.peerId);
      throw e;
    }
  }

  private get intervals(): [number, number][] {
    return this.compared!.intervals();
  }

  async compare(): Promise<CompareOutput> {
    const own = await this.parts.shards.syncSummary(this.at, this.range.intervals());
    const answer = await this.ask({ op: 'begin', session: this.id, at: this.at, range: this.range, count: own.count, fingerprint: fingerprint(own), sketch: towBytes(own, BEGIN_SKETCHES) });
    if (answer.op === 'equal') {
      this.compared = this.range;
      return { equal: true, range: this.range.toString(), estimate: 0 };
    }
    if (answer.op !== 'coded') throw new SignpostError('internal_error', 'unexpected answer to begin');
    if (answer.range && !answer.range.intersect(this.range).equals(answer.range)) {
      this.parts.transport.penalise(this.peer.peerId);
      throw new SignpostError('invalid_params', `sync: ${this.peer.peerId} compared buckets ${answer.range} outside those asked (${this.range})`);
    }
    this.compared = answer.range ?? this.range;
    this.own = answer.range ? await this.parts.shards.syncSummary(this.at, this.intervals) : own;
    const equal = sameBytes(fingerprint(this.own), answer.fingerprint);
    this.coded = answer;
    this.estimate = equal ? 0 : estimateDifference({ count: this.own.count, tow: towBytes(this.own) }, { count: answer.count, tow: answer.sketch });
    return { equal, range: this.compared.toString(), estimate: this.estimate };
  }

  async reconcile(): Promise<ReconcileOutput> {
    const coded = this.coded!;
    const own = this.own!;
    const cap = symbolCap(own.count, coded.count);
    let first: Symbols | null = null;
    if (coded.mode === 'symbols') first = coded.symbols;
    else {
      // The suffix table: find the smallest time suffix that holds every difference (the items older than
      // it are the same here and there), and list the neighbour's items of it when that costs less.
      const older = olderThanSuffixes(await this.parts.shards.syncTimeBins(this.at, this.intervals));
      const theirs = olderFingerprints(coded);
      const j = older.findIndex((o, i) => {
        const fp = theirs[i];
        return o.count === coded.older[i].count && (fp === null || sameBytes(fingerprint(o, fp.length), fp));
      });
      const suffix = j < 0 ? null : j;
      const listed = suffix === null ? coded.count : coded.count - coded.older[suffix].count;
      if (listingIsCheaper(this.estimate, listed)) {
        await this.listing(suffix, own.count + coded.count);
        return { ours: this.ours.length, theirs: this.theirs.length, method: 'listing', symbols: 0 };
      }
    }
    const decoder = new Decoder();
    let block = first;
    for (;;) {
      if (block && block.length > 0) decoder.extend(block, await this.parts.shards.syncSymbols(this.at, this.intervals, block.from, block.to));
      if (decoder.decoded() || decoder.failure !== null || decoder.received >= cap) break;
      const from = decoder.received;
      const to = from === 0 ? Math.min(cap, firstRequest(this.estimate)) : nextBatchEnd(from, decoder.estimate(), cap);
      const answer = await this.ask({ op: 'symbols', session: this.id, from, to });
      if (answer.op !== 'symbols' || answer.symbols.length === 0) break;
      block = answer.symbols;
    }
    if (decoder.decoded()) {
      // What decoded as ours must be ours: a stream that decodes to ids this node does not hold was not
      // the neighbour's set (garbage, or a bug); then the listing decides.
      const found = await this.parts.shards.syncEntries(decoder.localOnly);
      const held = new Set(found.map((f) => prefixHex(f.id)));
      if (decoder.localOnly.every((id) => held.has(prefixHex(id)))) {
        this.ours = decoder.localOnly;
        this.push = found.map((f) => f.entry);
        this.theirs = decoder.remoteOnly;
        return { ours: this.ours.length, theirs: this.theirs.length, method: 'symbols', symbols: decoder.received };
      }
    }
    // The symbols did not decode (garbage, or more differences than the cap allows): list them all.
    await this.listing(null, own.count + coded.count);
    return { ours: this.ours.length, theirs: this.theirs.length, method: 'listing', symbols: decoder.received };
  }

  /** Lists the neighbour's ids of a time suffix (null: of the whole range) and compares them with ours. */
  private async listing(suffix: number | null, bound: number): Promise<void> {
    const theirs = new Map<string, Uint8Array>();
    let after: Uint8Array | null = null;
    for (;;) {
      const answer = await this.ask({ op: 'ids', session: this.id, suffix, after });
      if (answer.op !== 'ids') break;
      for (const id of answer.ids) theirs.set(prefixHex(id), id);
      if (theirs.size > bound) throw new SignpostError('invalid_params', `sync: ${this.peer.peerId} listed more ids than it said it holds`);
      if (!answer.more || answer.ids.length === 0) break;
      const last: Uint8Array = answer.ids[answer.ids.length - 1];
      if (after && compareBytes(last, after) <= 0) throw new SignpostError('invalid_params', `sync: ${this.peer.peerId} listed ids out of order`);
      after = last;
    }
    const since = suffix === null ? null : suffixStart(this.at, suffix);
    const mine = await this.parts.shards.syncIds(this.at, this.intervals, null, Number.MAX_SAFE_INTEGER, since);
    const minePrefixes = new Set(mine.map(prefixHex));
    this.ours = mine.filter((id) => !theirs.has(prefixHex(id)));
    this.theirs = [...theirs].filter(([hex]) => !minePrefixes.has(hex)).map(([, id]) => id);
  }

  async fetch(): Promise<FetchOutput> {
    const push = this.push ?? (await this.parts.shards.syncEntries(this.ours)).map((f) => f.entry);
    const wanted = new Set(this.theirs.map(prefixHex));
    let wants = [...this.theirs];
    const out: FetchOutput = { pushed: 0, accepted: 0, refused: 0, received: 0 };
    const budget = this.parts.maxFrameBytes - FRAME_MARGIN;
    let i = 0;
    // Each exchange carries what fits of our entries and up to MAX_WANT of theirs; the neighbour answers as
    // many wants as fit its frame and says how many, and the rest go in the next exchange.
    while (i < push.length || wants.length > 0) {
      const batch: SyncEntry[] = [];
      for (let bytes = 0; i < push.length && batch.length < 4096; i++) {
        const size = entryBytes(push[i]);
        if (batch.length > 0 && bytes + size > budget / 2) break;
        batch.push(push[i]);
        bytes += size;
        this.entryBytes += size;
      }
      const asked = wants.slice(0, MAX_WANT);
      const last = i >= push.length && asked.length === wants.length;
      const answer = await this.ask({ op: 'exchange', session: this.id, last, want: asked, push: batch });
      if (answer.op !== 'entries') throw new SignpostError('internal_error', 'unexpected answer to exchange');
      out.pushed += batch.length;
      out.accepted += answer.stored;
      out.refused += answer.rejected;
      for (const e of answer.entries) {
        const hex = prefixHex(syncEntryId(e));
        // Only what was asked for, from the range compared: anything else is dropped and costs the neighbour.
        if (!wanted.delete(hex) || !this.compared!.has(bucketOf(resourceLocation(resourceOf(e))!))) {
          this.parts.transport.penalise(this.peer.peerId);
          continue;
        }
        this.entryBytes += entryBytes(e);
        this.received.push(e);
      }
      wants = wants.slice(answer.served);
      if (answer.served === 0 && batch.length === 0) throw new SignpostError('internal_error', `sync: ${this.peer.peerId} answered none of the entries asked for`);
    }
    out.received = this.received.length;
    this.entriesSent += out.pushed;
    this.entriesReceived += out.received;
    return out;
  }

  async store(): Promise<StoreOutput> {
    return this.received.length ? this.parts.store(this.received) : { stored: 0, rejected: 0 };
  }
}
