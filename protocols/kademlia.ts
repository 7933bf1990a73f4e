/**
 * Kademlia geometry and the routing table (SPEC §5), as pure data: no sockets, no clock. The runtime
 * (runtime/net/dht.ts) pings, times and connects; this module only decides.
 *
 * A node's location is `sha256(peer id bytes)`; a resource's location is the 32 bytes of its id. Distance
 * is the XOR of two 256-bit locations, compared as big-endian numbers.
 *
 * @example
 * const table = new RoutingTable(myLocation, 20);
 * const outcome = table.add({ peerId, address, location: nodeLocation(peerId)!, lastSeen: now });
 * if (outcome.kind === 'full') pingThenMaybeReplace(outcome.oldest);
 * const nearest = table.closest(resourceLocation(id)!, 20);
 */
import { sha256 } from './crypto.js';
import { peerIdBytes } from './identity.js';
import { resourceIdBytes } from './objects.js';

export const LOCATION_BYTES = 32;

const locations = new Map<string, Uint8Array | null>();
const LOCATION_CACHE = 100_000;

/**
 * `sha256(peer id bytes)`, or null for a string that is not a peer id. Cached (a node meets the same
 * peers again and again); the array returned is shared, so it is never to be written to.
 */
export function nodeLocation(peerId: string): Uint8Array | null {
  const hit = locations.get(peerId);
  if (hit !== undefined) return hit;
  const b = peerIdBytes(peerId);
  const location = b ? sha256(b) : null;
  if (locations.size >= LOCATION_CACHE) locations.clear();
  locations.set(peerId, location);
  return location;
}

/** The 32 bytes under a resource id, or null. */
export function resourceLocation(resourceId: string): Uint8Array | null {
  return resourceIdBytes(resourceId);
}

export function xorDistance(a: Uint8Array, b: Uint8Array): Uint8Array {
  const d = new Uint8Array(LOCATION_BYTES);
  for (let i = 0; i < LOCATION_BYTES; i++) d[i] = a[i] ^ b[i];
  return d;
}

/** Negative when `a` is closer to `target` than `b`, positive when farther, 0 when equally close. */
export function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < LOCATION_BYTES; i++) {
    const x = a[i] ^ target[i];
    const y = b[i] ^ target[i];
    if (x !== y) return x - y;
  }
  return 0;
}

/** ⌊log2(xor distance)⌋, 0..255 (SPEC §9.4 `distance_bucket`); −1 for distance 0 (the same location). */
export function distanceBucket(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < LOCATION_BYTES; i++) {
    const x = a[i] ^ b[i];
    if (x !== 0) return (LOCATION_BYTES - 1 - i) * 8 + (31 - Math.clz32(x));
  }
  return -1;
}

/** A random location whose distance from `self` falls in bucket `bucket` (for bucket refresh). */
export function randomLocationInBucket(self: Uint8Array, bucket: number, random: Uint8Array): Uint8Array {
  const out = new Uint8Array(self);
  const byte = LOCATION_BYTES - 1 - (bucket >> 3);
  const bit = bucket & 7;
  // Bits above `bucket` stay equal to self, bit `bucket` flips, bits below are random.
  const below = (1 << bit) - 1;
  out[byte] = (self[byte] ^ (1 << bit)) & ~below | (random[byte] & below);
  for (let i = byte + 1; i < LOCATION_BYTES; i++) out[i] = random[i];
  return out;
}

/** A node the table knows: authenticated peer id, the address it told us, when it was last heard from. */
export interface Contact {
  peerId: string;
  /** Base URL `ws://HOST:PORT` (or wss://). */
  address: string;
  location: Uint8Array;
  /** Wall-clock milliseconds of the last message from it. */
  lastSeen: number;
}

export type AddOutcome =
  | { kind: 'added' }
  | { kind: 'updated' }
  /** The bucket is full: ping `oldest` and call `replace` if it does not answer (live contacts are kept). */
  | { kind: 'full'; oldest: Contact }
  /** Refused by the peer-diversity limit: its IP group already has as many contacts as it may. */
  | { kind: 'diversity' }
  | { kind: 'self' };

/**
 * The routing table's peer-diversity limit (as go-libp2p-kbucket's filter): at most `perTable` contacts of
 * one IP group in the whole table and `perBucket` in one bucket. `groupOf` gives a contact's group, or null
 * for one the limit does not apply to.
 */
export interface DiversityLimit {
  perTable: number;
  perBucket: number;
  groupOf(c: Contact): string | null;
}

/**
 * k-buckets indexed by distance bucket (0..255). Each bucket is ordered least recently seen first, as in
 * the Kademlia paper: a live old contact is never evicted for a new one.
 */
export class RoutingTable {
  private readonly buckets: Contact[][] = Array.from({ length: LOCATION_BYTES * 8 }, () => []);
  /** Contacts per IP group (only with a diversity limit). */
  private readonly groups = new Map<string, number>();

  constructor(
    readonly self: Uint8Array,
    readonly k: number,
    private readonly diversity: DiversityLimit | null = null,
  ) {}

  bucketOf(location: Uint8Array): number {
    return distanceBucket(this.self, location);
  }

  /** Records that `c` was heard from (it moves to the tail of its bucket). */
  add(c: Contact): AddOutcome {
    const b = this.bucketOf(c.location);
    if (b < 0) return { kind: 'self' };
    const bucket = this.buckets[b];
    const i = bucket.findIndex((x) => x.peerId === c.peerId);
    if (i >= 0) {
      // The same peer, perhaps at another address: it keeps its place whatever its group.
      this.forget(bucket.splice(i, 1)[0]);
      bucket.push(c);
      this.count(c);
      return { kind: 'updated' };
    }
    const group = this.diversity?.groupOf(c) ?? null;
    if (group !== null && !this.roomFor(group, bucket)) return { kind: 'diversity' };
    if (bucket.length < this.k) {
      bucket.push(c);
      this.count(c);
      return { kind: 'added' };
    }
    return { kind: 'full', oldest: bucket[0] };
  }

  /** Whether one more contact of `group` fits the diversity limit, in the table and in `bucket`. */
  private roomFor(group: string, bucket: Contact[]): boolean {
    const d = this.diversity!;
    if ((this.groups.get(group) ?? 0) >= d.perTable) return false;
    let inBucket = 0;
    for (const x of bucket) if (d.groupOf(x) === group) inBucket++;
    return inBucket < d.perBucket;
  }

  private count(c: Contact): void {
    const group = this.diversity?.groupOf(c) ?? null;
    if (group !== null) this.groups.set(group, (this.groups.get(group) ?? 0) + 1);
  }

  private forget(c: Contact): void {
    const group = this.diversity?.groupOf(c) ?? null;
    if (group === null) return;
    const n = (this.groups.get(group) ?? 1) - 1;
    if (n <= 0) this.groups.delete(group);
    else this.groups.set(group, n);
  }

  /** Replaces `oldest` (which did not answer a ping) by `c`, if `oldest` is still in its bucket. */
  replace(oldest: Contact, c: Contact): boolean {
    const bucket = this.buckets[this.bucketOf(oldest.location)];
    const i = bucket.findIndex((x) => x.peerId === oldest.peerId);
    if (i < 0) return false;
    this.forget(bucket.splice(i, 1)[0]);
    this.add(c);
    return true;
  }

  remove(peerId: string, location: Uint8Array): boolean {
    const b = this.bucketOf(location);
    if (b < 0) return false;
    const bucket = this.buckets[b];
    const i = bucket.findIndex((x) => x.peerId === peerId);
    if (i < 0) return false;
    this.forget(bucket.splice(i, 1)[0]);
    return true;
  }

  get(peerId: string, location: Uint8Array): Contact | undefined {
    const b = this.bucketOf(location);
    return b < 0 ? undefined : this.buckets[b].find((x) => x.peerId === peerId);
  }

  /** The `n` contacts closest to `target`, closest first. */
  closest(target: Uint8Array, n: number): Contact[] {
    return closestOf(this.contacts(), target, n);
  }

  contacts(): Contact[] {
    return this.buckets.flat();
  }

  get size(): number {
    let n = 0;
    for (const b of this.buckets) n += b.length;
    return n;
  }

  /** Indices of the buckets that hold at least one contact. */
  nonEmptyBuckets(): number[] {
    const out: number[] = [];
    this.buckets.forEach((b, i) => b.length > 0 && out.push(i));
    return out;
  }
}

/** The `n` items closest to `target` by their `location`, closest first. */
export function closestOf<T extends { location: Uint8Array }>(items: Iterable<T>, target: Uint8Array, n: number): T[] {
  return [...items].sort((a, b) => compareDistance(target, a.location, b.location)).slice(0, n);
}
