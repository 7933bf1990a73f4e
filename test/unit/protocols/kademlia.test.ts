/**
 * Kademlia geometry and the routing table (SPEC §5, protocols/kademlia.ts): the XOR metric, distance
 * buckets (⌊log2(distance)⌋, SPEC §9.4), bucket-refresh targets, and the k-bucket rules (k per bucket,
 * least recently seen first, ping-before-evict, closest(n)). Distances are checked against BigInt
 * arithmetic, so the byte-wise code is compared with the plain mathematical definition.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../protocols/encoding.js';
import { peerIdBytes } from '../../../protocols/identity.js';
import {
  LOCATION_BYTES,
  RoutingTable,
  closestOf,
  compareDistance,
  distanceBucket,
  nodeLocation,
  randomLocationInBucket,
  xorDistance,
  type Contact,
} from '../../../protocols/kademlia.js';
import { ipGroupOf } from '../../../protocols/urls.js';
import { peer } from '../../helpers/objects.js';

const location = fc.uint8Array({ minLength: LOCATION_BYTES, maxLength: LOCATION_BYTES });
const bucketIndex = fc.integer({ min: 0, max: LOCATION_BYTES * 8 - 1 });

const big = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt(`0x${toHex(b)}`));
const distance = (a: Uint8Array, b: Uint8Array): bigint => big(a) ^ big(b);
const sign = (x: bigint | number): number => (x > 0 ? 1 : x < 0 ? -1 : 0);
/** ⌊log2(d)⌋ for d > 0, −1 for 0. */
const log2Floor = (d: bigint): number => (d === 0n ? -1 : d.toString(2).length - 1);

/** A location whose distance from `self` is exactly `d`. */
function atDistance(self: Uint8Array, d: bigint): Uint8Array {
  const hex = (big(self) ^ d).toString(16).padStart(LOCATION_BYTES * 2, '0');
  return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

let seq = 0;
function contact(loc: Uint8Array, lastSeen = 0): Contact {
  seq++;
  return { peerId: `peer-${seq}-${toHex(loc).slice(0, 8)}`, address: `ws://127.0.0.1:${1000 + (seq % 60000)}`, location: loc, lastSeen };
}

describe('nodeLocation', () => {
  it('is sha256 of the 38 decoded peer id bytes', () => {
    const p = peer(7);
    const bytes = peerIdBytes(p.peerId)!;
    expect(bytes.length).toBe(38);
    const expected = createHash('sha256').update(bytes).digest();
    expect(toHex(nodeLocation(p.peerId)!)).toBe(expected.toString('hex'));
  });

  it('is null for strings that are not peer ids', () => {
    for (const s of ['', 'hello', `${peer(1).peerId}x`, peer(1).peerId.slice(0, 51), 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N']) {
      expect(nodeLocation(s)).toBeNull();
    }
  });
});

describe('XOR distance', () => {
  it('is the bitwise XOR of the two locations as 256-bit numbers', () => {
    fc.assert(
      fc.property(location, location, (a, b) => {
        expect(big(xorDistance(a, b))).toBe(distance(a, b));
      }),
    );
  });

  it('is a metric: zero only to itself, symmetric, triangle inequality', () => {
    fc.assert(
      fc.property(location, location, location, (a, b, c) => {
        expect(big(xorDistance(a, a))).toBe(0n);
        expect(toHex(xorDistance(a, b))).toBe(toHex(xorDistance(b, a)));
        if (toHex(a) !== toHex(b)) expect(big(xorDistance(a, b))).toBeGreaterThan(0n);
        expect(big(xorDistance(a, c))).toBeLessThanOrEqual(big(xorDistance(a, b)) + big(xorDistance(b, c)));
      }),
    );
  });

  it('is unidirectional: from one point, each distance is reached by exactly one location', () => {
    fc.assert(
      fc.property(location, location, (a, b) => {
        const d = xorDistance(a, b);
        expect(toHex(xorDistance(a, d))).toBe(toHex(b));
      }),
    );
  });

  it('compareDistance has the sign of d(target, a) − d(target, b)', () => {
    fc.assert(
      fc.property(location, location, location, (t, a, b) => {
        expect(sign(compareDistance(t, a, b))).toBe(sign(distance(t, a) - distance(t, b)));
        expect(sign(compareDistance(t, a, b))).toBe(-sign(compareDistance(t, b, a)));
        expect(compareDistance(t, a, a)).toBe(0);
      }),
    );
  });

  it('compareDistance decides on the most significant differing bit, also with near-equal locations', () => {
    // Locations that differ from the target only in their low bits: the first bytes are equal, so the
    // comparison must go down to the last byte.
    fc.assert(
      fc.property(location, fc.bigInt({ min: 0n, max: 2n ** 16n }), fc.bigInt({ min: 0n, max: 2n ** 16n }), (t, da, db) => {
        const a = atDistance(t, da);
        const b = atDistance(t, db);
        expect(sign(compareDistance(t, a, b))).toBe(sign(da - db));
      }),
    );
  });
});

describe('distanceBucket', () => {
  it('is ⌊log2(xor distance)⌋, −1 for the same location', () => {
    fc.assert(
      fc.property(location, location, (a, b) => {
        expect(distanceBucket(a, b)).toBe(log2Floor(distance(a, b)));
        expect(distanceBucket(a, b)).toBe(distanceBucket(b, a));
      }),
    );
  });

  it('is exact at every power of two: distance 2^i and 2^(i+1) − 1 are bucket i', () => {
    const self = new Uint8Array(LOCATION_BYTES).fill(0xa5);
    for (let i = 0; i < 256; i++) {
      expect(distanceBucket(self, atDistance(self, 1n << BigInt(i)))).toBe(i);
      expect(distanceBucket(self, atDistance(self, (1n << BigInt(i + 1)) - 1n))).toBe(i);
    }
    expect(distanceBucket(self, self)).toBe(-1);
  });
});

describe('randomLocationInBucket', () => {
  it('lands in the bucket it was asked for, whatever the random bytes', () => {
    fc.assert(
      fc.property(location, bucketIndex, location, (self, b, random) => {
        const target = randomLocationInBucket(self, b, random);
        expect(target.length).toBe(LOCATION_BYTES);
        expect(distanceBucket(self, target)).toBe(b);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps the bits above the bucket, flips the bucket bit, and takes the bits below from the random bytes', () => {
    fc.assert(
      fc.property(location, bucketIndex, location, (self, b, random) => {
        const d = distance(self, randomLocationInBucket(self, b, random));
        const below = (1n << BigInt(b)) - 1n;
        expect(d >> BigInt(b)).toBe(1n);
        expect(d & below).toBe((big(self) ^ big(random)) & below);
      }),
    );
  });

  it('does not modify its inputs', () => {
    const self = new Uint8Array(LOCATION_BYTES).fill(3);
    const random = new Uint8Array(LOCATION_BYTES).fill(0xff);
    randomLocationInBucket(self, 100, random);
    expect(self.every((x) => x === 3)).toBe(true);
    expect(random.every((x) => x === 0xff)).toBe(true);
  });
});

describe('RoutingTable', () => {
  const self = new Uint8Array(LOCATION_BYTES).fill(0x11);
  /** n distinct locations in bucket `b` of `self`. */
  const inBucket = (b: number, n: number): Uint8Array[] =>
    Array.from({ length: n }, (_, i) => atDistance(self, (1n << BigInt(b)) + BigInt(i)));

  it('refuses its own location', () => {
    const table = new RoutingTable(self, 3);
    expect(table.add(contact(self))).toEqual({ kind: 'self' });
    expect(table.size).toBe(0);
  });

  it('holds at most k contacts per bucket and reports the oldest when a bucket is full', () => {
    const k = 4;
    const table = new RoutingTable(self, k);
    const cs = inBucket(200, k + 3).map((l) => contact(l));
    for (const c of cs.slice(0, k)) expect(table.add(c)).toEqual({ kind: 'added' });
    for (const c of cs.slice(k)) {
      const out = table.add(c);
      expect(out.kind).toBe('full');
      if (out.kind === 'full') expect(out.oldest.peerId).toBe(cs[0].peerId);
    }
    expect(table.size).toBe(k);
    expect(table.contacts().map((c) => c.peerId)).toEqual(cs.slice(0, k).map((c) => c.peerId));
    expect(table.nonEmptyBuckets()).toEqual([200]);
    expect(table.bucketOf(cs[0].location)).toBe(200);
  });

  it('fills other buckets independently of a full one', () => {
    const table = new RoutingTable(self, 2);
    for (const l of inBucket(10, 2)) table.add(contact(l));
    expect(table.add(contact(inBucket(10, 3)[2])).kind).toBe('full');
    expect(table.add(contact(inBucket(11, 1)[0]))).toEqual({ kind: 'added' });
    expect(table.add(contact(inBucket(0, 1)[0]))).toEqual({ kind: 'added' });
    expect(table.nonEmptyBuckets()).toEqual([0, 10, 11]);
    expect(table.size).toBe(4);
  });

  it('keeps each bucket least recently seen first: a contact heard again moves to the tail', () => {
    const table = new RoutingTable(self, 3);
    const [a, b, c] = inBucket(50, 3).map((l) => contact(l, 1));
    table.add(a);
    table.add(b);
    table.add(c);
    expect(table.add({ ...a, lastSeen: 2, address: 'ws://127.0.0.1:9' })).toEqual({ kind: 'updated' });
    expect(table.contacts().map((x) => x.peerId)).toEqual([b.peerId, c.peerId, a.peerId]);
    // The update took the new fields.
    expect(table.get(a.peerId, a.location)).toMatchObject({ lastSeen: 2, address: 'ws://127.0.0.1:9' });
    expect(table.size).toBe(3);
    // Now b is the oldest: a new contact in the full bucket names it.
    const out = table.add(contact(inBucket(50, 4)[3]));
    expect(out).toEqual({ kind: 'full', oldest: b });
  });

  it('updates a known contact even when its bucket is full', () => {
    const table = new RoutingTable(self, 2);
    const [a, b] = inBucket(7, 2).map((l) => contact(l));
    table.add(a);
    table.add(b);
    expect(table.add(a)).toEqual({ kind: 'updated' });
    expect(table.contacts().map((x) => x.peerId)).toEqual([b.peerId, a.peerId]);
  });

  it('replace evicts the oldest for the candidate only if the oldest is still there', () => {
    const table = new RoutingTable(self, 2);
    const [a, b, c] = inBucket(30, 3).map((l) => contact(l));
    table.add(a);
    table.add(b);
    const out = table.add(c);
    expect(out).toEqual({ kind: 'full', oldest: a });
    expect(table.replace(a, c)).toBe(true);
    expect(table.contacts().map((x) => x.peerId)).toEqual([b.peerId, c.peerId]);
    expect(table.get(a.peerId, a.location)).toBeUndefined();
    // a is gone now: a second replace of it changes nothing.
    const d = contact(inBucket(30, 4)[3]);
    expect(table.replace(a, d)).toBe(false);
    expect(table.contacts().map((x) => x.peerId)).toEqual([b.peerId, c.peerId]);
  });

  it('replace after the oldest was removed (it failed elsewhere) leaves the table alone', () => {
    const table = new RoutingTable(self, 2);
    const [a, b, c] = inBucket(30, 3).map((l) => contact(l));
    table.add(a);
    table.add(b);
    expect(table.add(c).kind).toBe('full');
    expect(table.remove(a.peerId, a.location)).toBe(true);
    expect(table.remove(a.peerId, a.location)).toBe(false);
    expect(table.replace(a, c)).toBe(false);
    expect(table.contacts().map((x) => x.peerId)).toEqual([b.peerId]);
  });

  it('get and remove find contacts by peer id within their bucket; remove of self is false', () => {
    const table = new RoutingTable(self, 5);
    const [a] = inBucket(99, 1).map((l) => contact(l));
    table.add(a);
    expect(table.get(a.peerId, a.location)).toBe(a);
    expect(table.get('someone-else', a.location)).toBeUndefined();
    expect(table.get(a.peerId, self)).toBeUndefined();
    expect(table.remove(a.peerId, self)).toBe(false);
    expect(table.size).toBe(1);
  });

  it('closest(n) equals a brute-force sort of all contacts by XOR distance', () => {
    fc.assert(
      fc.property(
        location,
        fc.uniqueArray(location, { minLength: 0, maxLength: 80, selector: (l) => toHex(l) }),
        location,
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 1, max: 8 }),
        (me, locations, target, n, k) => {
          const table = new RoutingTable(me, k);
          for (const l of locations) table.add(contact(l));
          const all = table.contacts();
          // Bucket capacity holds: no bucket over k, and exactly the first k of each bucket are kept.
          const perBucket = new Map<number, number>();
          for (const c of all) perBucket.set(table.bucketOf(c.location), (perBucket.get(table.bucketOf(c.location)) ?? 0) + 1);
          for (const count of perBucket.values()) expect(count).toBeLessThanOrEqual(k);
          const expected = [...all].sort((x, y) => sign(distance(target, x.location) - distance(target, y.location))).slice(0, n);
          expect(table.closest(target, n).map((c) => c.peerId)).toEqual(expected.map((c) => c.peerId));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('closest(Infinity) returns every contact, and closest never returns more than it holds', () => {
    const table = new RoutingTable(self, 20);
    const cs = [...inBucket(3, 5), ...inBucket(100, 5)].map((l) => contact(l));
    for (const c of cs) table.add(c);
    expect(table.closest(self, Infinity)).toHaveLength(10);
    expect(table.closest(self, 3).map((c) => c.peerId)).toEqual(cs.slice(0, 3).map((c) => c.peerId));
    expect(table.closest(self, 0)).toEqual([]);
  });
});

describe('closestOf', () => {
  it('sorts any items by the XOR distance of their location, closest first, without changing the input', () => {
    fc.assert(
      fc.property(fc.uniqueArray(location, { maxLength: 40, selector: (l) => toHex(l) }), location, (locations, target) => {
        const items = locations.map((l, i) => ({ i, location: l }));
        const before = items.map((x) => x.i);
        const sorted = closestOf(items, target, items.length);
        expect(items.map((x) => x.i)).toEqual(before);
        for (let j = 1; j < sorted.length; j++) {
          expect(distance(target, sorted[j - 1].location) < distance(target, sorted[j].location)).toBe(true);
        }
        expect(new Set(sorted.map((x) => x.i)).size).toBe(items.length);
      }),
    );
  });
});

describe('peer diversity (the routing table limit per IP group)', () => {
  const self = new Uint8Array(LOCATION_BYTES).fill(0x22);
  const limit = (exemptPrivate = true) => ({ perTable: 3, perBucket: 2, groupOf: (c: Contact) => ipGroupOf(c.address, exemptPrivate) });
  const at = (address: string, bucket: number, i: number): Contact => ({ ...contact(atDistance(self, (1n << BigInt(bucket)) + BigInt(i))), address });

  it('groups IPv4 by /16 and IPv6 by /32, names not at all, and private ranges only when asked', () => {
    expect(ipGroupOf('ws://203.0.113.7:7070', true)).toBe('203.0');
    expect(ipGroupOf('ws://203.0.200.1:7070', true)).toBe('203.0');
    expect(ipGroupOf('ws://[2001:db8:1::5]:7070', true)).toBe('2001:0db8');
    expect(ipGroupOf('wss://node.example:443', true)).toBeNull();
    for (const local of ['ws://127.0.0.1:1', 'ws://10.1.2.3:1', 'ws://172.20.0.1:1', 'ws://192.168.1.1:1', 'ws://169.254.1.1:1', 'ws://100.64.0.1:1', 'ws://[::1]:1', 'ws://[fd00::1]:1', 'ws://[fe80::1]:1']) {
      expect(ipGroupOf(local, true), local).toBeNull();
      expect(ipGroupOf(local, false), local).not.toBeNull();
    }
    expect(ipGroupOf('ws://172.32.0.1:1', true)).toBe('172.32');
  });

  it('200 identities from one address fill no more than the limit, and others still get in', () => {
    const table = new RoutingTable(self, 20, limit());
    const sybils = Array.from({ length: 200 }, (_, i) => at('ws://203.0.113.9:7070', 100 + (i % 50), i));
    const outcomes = sybils.map((c) => table.add(c).kind);
    expect(outcomes.filter((k) => k === 'added')).toHaveLength(3);
    expect(outcomes.filter((k) => k === 'diversity')).toHaveLength(197);
    const honest = Array.from({ length: 30 }, (_, i) => at(`ws://${20 + i}.1.0.1:7070`, 100 + (i % 50), 1000 + i));
    expect(honest.map((c) => table.add(c).kind).every((k) => k === 'added')).toBe(true);
    expect(table.size).toBe(33);
  });

  it('allows at most 2 of a group per bucket, and frees a place when a contact leaves', () => {
    const table = new RoutingTable(self, 20, limit());
    const same = [0, 1, 2].map((i) => at('ws://198.51.100.1:1', 150, i));
    expect(same.map((c) => table.add(c).kind)).toEqual(['added', 'added', 'diversity']);
    expect(table.add(at('ws://198.51.100.1:1', 151, 9)).kind).toBe('added'); // the third, in another bucket
    expect(table.add(at('ws://198.51.7.7:1', 152, 9)).kind).toBe('diversity'); // the table holds 3 of 198.51
    expect(table.remove(same[0].peerId, same[0].location)).toBe(true);
    expect(table.add(same[2]).kind).toBe('added');
  });

  it('leaves loopback and private addresses alone unless told not to, and a known contact keeps its place', () => {
    const open = new RoutingTable(self, 20, limit());
    expect(Array.from({ length: 20 }, (_, i) => open.add(at('ws://127.0.0.1:7070', 120, i)).kind).every((k) => k === 'added')).toBe(true);
    const strict = new RoutingTable(self, 20, limit(false));
    const local = Array.from({ length: 5 }, (_, i) => at('ws://127.0.0.1:7070', 120, i));
    expect(local.map((c) => strict.add(c).kind)).toEqual(['added', 'added', 'diversity', 'diversity', 'diversity']);
    expect(strict.add({ ...local[0], lastSeen: 5 }).kind).toBe('updated');
  });
});
