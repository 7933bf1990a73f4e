/**
 * What sync compares (protocols/sync/items.ts): an item's id is SPEC's
 * `sha256(str("signpost/sync-item/v1") ‖ str(kind) ‖ bytes(digest) ‖ bytes(signature))` (checked against
 * node:crypto), so it changes with the kind, the digest and the signature the digest does not cover; the
 * items of a resource are its key and every entry its policy allows, each with the time its expiry counts
 * from (`timestamp_created` of a key and a record, `timestamp_issued` of a tombstone).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64urlEncode, fromHex, toHex } from '../../../../protocols/encoding.js';
import { b64, keyDigest } from '../../../../protocols/objects.js';
import { counterSolution, hashcashChallenge } from '../../../../protocols/pow.js';
import { entrySlotKey, type ResourceState } from '../../../../protocols/rules.js';
import { recordEntry, tombstoneEntry } from '../../../../protocols/signed.js';
import { entryItemId, entryTime, itemId, itemsOf, keyItemId, syncEntryId, type ItemKind } from '../../../../protocols/sync/items.js';
import type { Entry, Key } from '../../../../protocols/types.js';
import { key, peer, record, tombstone } from '../../../helpers/objects.js';

const TS = 1_700_000_000;
const OWNER = peer(1);
const OTHER = peer(2);
const HOST = peer(3);

/** The SPEC's item id, computed independently. */
function oracleId(kind: string, digest: Uint8Array, signature: Uint8Array): string {
  const field = (b: Uint8Array) => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return Buffer.concat([len, b]);
  };
  return createHash('sha256')
    .update(Buffer.concat([field(Buffer.from('signpost/sync-item/v1')), field(Buffer.from(kind)), field(digest), field(signature)]))
    .digest('hex');
}

const state = (k: Key | null, entries: Entry[] = []): ResourceState => ({
  stored: k ? { key: k, published: null } : null,
  entries: new Map(entries.map((e) => [entrySlotKey(e), e])),
});

describe('item ids', () => {
  const arbBytes = fc.uint8Array({ maxLength: 80 });
  const arbKind = fc.constantFrom<ItemKind>('key', 'record', 'tombstone');

  it('are the SPEC hash of kind, digest and signature, 32 bytes', () => {
    fc.assert(
      fc.property(arbKind, arbBytes, arbBytes, (kind, digest, sig) => {
        const id = itemId(kind, digest, sig);
        expect(id.length).toBe(32);
        expect(toHex(id)).toBe(oracleId(kind, digest, sig));
        expect(toHex(itemId(kind, digest.slice(), sig.slice()))).toBe(toHex(id));
      }),
      { numRuns: 100 },
    );
  });

  it('change with the kind, the digest or the signature, and do not run fields together', () => {
    fc.assert(
      fc.property(arbKind, arbKind, arbBytes, arbBytes, arbBytes, (k1, k2, d, s, other) => {
        const id = toHex(itemId(k1, d, s));
        if (k1 !== k2) expect(toHex(itemId(k2, d, s))).not.toBe(id);
        if (toHex(other) !== toHex(d)) expect(toHex(itemId(k1, other, s))).not.toBe(id);
        if (toHex(other) !== toHex(s)) expect(toHex(itemId(k1, d, other))).not.toBe(id);
      }),
      { numRuns: 100 },
    );
    // Length-prefixed: moving a byte from the digest to the signature is another item.
    expect(toHex(itemId('key', Uint8Array.of(1, 2), Uint8Array.of(3)))).not.toBe(toHex(itemId('key', Uint8Array.of(1), Uint8Array.of(2, 3))));
  });

  it('of a key: its digest with its signature; a new version of the key is a new item', () => {
    const k = key(OWNER, 'weather', TS);
    expect(toHex(keyItemId(k))).toBe(oracleId('key', keyDigest(k), b64(k.signature)));
    expect(toHex(keyItemId({ ...k }))).toBe(toHex(keyItemId(k)));
    expect(toHex(keyItemId(key(OWNER, 'weather', TS + 1)))).not.toBe(toHex(keyItemId(k)));
    // The same digest signed again (another signature) is another item.
    const resigned = { ...k, signature: base64urlEncode(OWNER.sign(new Uint8Array(32))) };
    expect(toHex(keyDigest(resigned))).toBe(toHex(keyDigest(k)));
    expect(toHex(keyItemId(resigned))).not.toBe(toHex(keyItemId(k)));
  });

  it('of a record: its digest with the host signature (which the digest does not cover)', () => {
    const k = key(OWNER, 'weather', TS);
    const r = record(k, OTHER, TS, { host: HOST, created: TS + 5 });
    const e = recordEntry(r);
    expect(toHex(entryItemId(e))).toBe(oracleId('record', fromHex(e.digest), b64(r.signature)));
    const resigned = { ...r, signature: base64urlEncode(HOST.sign(new Uint8Array(32))) };
    expect(recordEntry(resigned).digest).toBe(e.digest);
    expect(toHex(entryItemId(recordEntry(resigned)))).not.toBe(toHex(entryItemId(e)));
    // A renewal (a new timestamp_created) is a new item too.
    expect(toHex(entryItemId(recordEntry(record(k, OTHER, TS, { host: HOST, created: TS + 6 }))))).not.toBe(toHex(entryItemId(e)));
  });

  it('of a tombstone: its digest with the issuer signature; never the id of a record', () => {
    const k = key(OWNER, 'weather', TS);
    const t = tombstone(k, OTHER, HOST.peerId, TS + 1);
    const e = tombstoneEntry(t);
    expect(toHex(entryItemId(e))).toBe(oracleId('tombstone', fromHex(e.digest), b64(t.issuer_signature)));
    expect(toHex(entryItemId(e))).not.toBe(toHex(itemId('record', fromHex(e.digest), b64(t.issuer_signature))));
  });

  it('of an entry as it travels are those of the entry as stored', () => {
    const k = key(OWNER, 'weather', TS);
    const r = record(k, OTHER, TS);
    const t = tombstone(k, OTHER, HOST.peerId, TS + 1);
    expect(toHex(syncEntryId({ kind: 'key', key: k }))).toBe(toHex(keyItemId(k)));
    expect(toHex(syncEntryId({ kind: 'record', record: r }))).toBe(toHex(entryItemId(recordEntry(r))));
    expect(toHex(syncEntryId({ kind: 'tombstone', tombstone: t }))).toBe(toHex(entryItemId(tombstoneEntry(t))));
  });
});

describe('itemsOf', () => {
  const k = key(OWNER, 'weather', TS);

  it('is nothing without a key, whatever entries are held', () => {
    expect(itemsOf(state(null))).toEqual([]);
    expect(itemsOf(state(null, [recordEntry(record(k, OTHER, TS))]))).toEqual([]);
  });

  it('is the key and every entry of an open key, each with its slot, id and write time', () => {
    const r = recordEntry(record(k, OTHER, TS + 10, { host: HOST, created: TS + 20 }));
    const t = tombstoneEntry(tombstone(k, OWNER, HOST.peerId, TS + 30));
    const items = itemsOf(state(k, [r, t]));
    expect(items.map((i) => [i.kind, i.slot, i.ts])).toEqual([
      ['key', null, TS],
      ['record', entrySlotKey(r), TS + 20], // timestamp_created, not timestamp_issued
      ['tombstone', entrySlotKey(t), TS + 30],
    ]);
    expect(items.map((i) => toHex(i.id()))).toEqual([keyItemId(k), entryItemId(r), entryItemId(t)].map(toHex));
    expect(entryTime(r)).toBe(TS + 20);
    expect(entryTime(t)).toBe(TS + 30);
  });

  it('gives a new version string exactly when the id changes', () => {
    const r1 = recordEntry(record(k, OTHER, TS, { created: TS }));
    const r2 = recordEntry(record(k, OTHER, TS, { created: TS + 1 })); // renewed: same slot, new item
    const a = itemsOf(state(k, [r1]));
    const b = itemsOf(state(k, [r2]));
    const again = itemsOf(state({ ...k }, [recordEntry(record(k, OTHER, TS, { created: TS }))]));
    expect(b[1].slot).toBe(a[1].slot);
    expect(b[1].version).not.toBe(a[1].version);
    expect(toHex(b[1].id())).not.toBe(toHex(a[1].id()));
    expect(again.map((i) => i.version)).toEqual(a.map((i) => i.version));
    expect(again.map((i) => toHex(i.id()))).toEqual(a.map((i) => toHex(i.id())));
    const k2 = key(OWNER, 'weather', TS + 1);
    expect(itemsOf(state(k2))[0].version).not.toBe(a[0].version);
  });

  it('leaves out the entries an owner/v1 key does not allow', () => {
    const owned = key(OWNER, 'private', TS, { challenge_type: 'owner/v1' });
    const mine = recordEntry(record(owned, OWNER, TS, { host: HOST }));
    const theirs = recordEntry(record(owned, OTHER, TS, { host: HOST }));
    const theirTombstone = tombstoneEntry(tombstone(owned, OTHER, HOST.peerId, TS + 1));
    const myTombstone = tombstoneEntry(tombstone(owned, OWNER, OTHER.peerId, TS + 1));
    const items = itemsOf(state(owned, [mine, theirs, theirTombstone, myTombstone]));
    expect(items.map((i) => i.kind)).toEqual(['key', 'record', 'tombstone']);
    expect(items.slice(1).map((i) => toHex(i.id()))).toEqual([entryItemId(mine), entryItemId(myTombstone)].map(toHex));
  });

  it('leaves out the records with too little work under hashcash/v1 (tombstones need none)', () => {
    const MIN = 3;
    const hashcash = key(OWNER, 'work', TS, { challenge_type: 'hashcash/v1', challenge: hashcashChallenge(MIN, 3600) });
    /** The first record of `host`'s slot whose work is enough (or not). */
    const find = (host: number, strong: boolean): Entry => {
      for (let c = 0; c < 1000; c++) {
        const e = recordEntry(record(hashcash, OTHER, TS, { host: peer(host), fields: { solution: counterSolution(c) } }));
        if (e.bits >= MIN === strong) return e;
      }
      throw new Error('no solution found');
    };
    const enough = find(10, true);
    const weak = find(11, false);
    const t = tombstoneEntry(tombstone(hashcash, OTHER, HOST.peerId, TS + 1));
    const items = itemsOf(state(hashcash, [enough, weak, t]));
    expect(items.map((i) => toHex(i.id()))).toEqual([keyItemId(hashcash), entryItemId(enough), entryItemId(t)].map(toHex));
  });
});
