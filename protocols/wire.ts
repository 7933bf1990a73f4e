/**
 * The node-to-node wire protocol, version 1 (SPEC §8). One MessagePack-encoded map per binary WebSocket
 * frame. This file is the protocol's documentation: every message, its fields and its limits.
 *
 * Connection (both sides at once, `ws://HOST:PORT/p2p`):
 *
 *   → { t: "hello", versions: [1], peer_id, nonce: bin(32), address: "ws://HOST:PORT" | null, observed?: HOST | null }
 *   ← { t: "hello", … }                       (the other side's, independently)
 *   → { t: "auth", version, signature: bin(64) }
 *
 * `address` is the base URL the sender announces (what other nodes should dial); an address a receiver
 * cannot accept (not `ws(s)://HOST:PORT`, a wildcard host such as `0.0.0.0`, over 256 bytes) is taken as
 * none. `observed` is the host the sender sees the receiver at (the host it dialled, or the remote address
 * of the socket it accepted), like libp2p identify's observed address: a node behind NAT or a proxy learns
 * how others see it. Receivers verify an announced address by dialling it back before they pass it on.
 *
 * `version` is the highest version both `versions` lists hold; `signature` is Ed25519 by the sender over
 * `p2pAuthDigest(nonce of the other side, other side's peer id, own peer id)`. A side that has not received
 * a valid `auth` within the handshake timeout closes the socket (4001); no common version closes it (4002).
 * Only after both `auth`s does anything else flow, so every peer id a node acts on is the key holder's.
 *
 * Then request/response pairs, either direction:
 *
 *   → { t: "req", id: u32, method, params }
 *   ← { t: "res", id, result }  |  { t: "err", id, code, message }
 *
 * `code` is a SPEC §7 code. Signed objects travel in their JSON shape (SPEC §3) and are parsed and verified
 * by the receiver exactly as JSON-RPC input is. Methods:
 *
 * | method     | params                              | result                                  |
 * | ---------- | ----------------------------------- | --------------------------------------- |
 * | ping       | {}                                  | {}                                      |
 * | find_node  | {target: bin(32)}                   | {peers: [{peer_id, address}]} (≤ 256)   |
 * | store_key  | {key}                               | {} — stored as `register_key` does      |
 * | put_record | {record}                            | {}                                      |
 * | add_tombstone | {tombstone}                      | {}                                      |
 * | get        | {key_id}                            | {key, records, tombstones, partial?: true} |
 * | republish  | {key, records, tombstones}          | {updated, rejected} — `republish_key`, then the entries |
 * | sync       | bin (protocols/sync/messages.ts)    | bin — one step of an anti-entropy session |
 * | relay_call | {peer_id, service_id, method, params: JSON text, from: peer id | null, timeout_ms} | {answer: JSON text of {result} or {error}} |
 *
 * `partial: true` in a `get` answer says the node has not finished its first sync of that resource's
 * range since it started or since the range became its own: the answer may lack entries, so a reader
 * counts it only when no complete answer is to be had.
 *
 * `relay_call` asks the receiver to hand a call to the provider `peer_id` it relays for (protocols/relay.ts):
 * `from` is the caller as the sending node authenticated it; the receiver adds who sent it (the node it
 * authenticated). Failures of the relay itself are `err` frames (`provider_unreachable`,
 * `provider_timeout`, `rate_limited`); the provider's own answer, error or not, is the `answer`.
 */
import { Packr } from 'msgpackr';
import { SignpostError } from './errors.js';
import { isValidPeerId } from './identity.js';
import {
  expectFields,
  expectList,
  expectResourceId,
  expectString,
  isPlainObject,
  parseKey,
  parseRecord,
  parseTombstone,
} from './validate.js';
import { LIMITS, type Key, type Record as ProviderRecord, type Tombstone } from './types.js';
import { isWildcardHost } from './urls.js';
import { decodeRequest, type SyncRequest } from './sync/messages.js';
import { expectMethodName, MAX_CALL_BYTES, parseProviderAnswer, type ProviderAnswer, type RelayCall } from './relay.js';

/** Versions this build speaks, highest last. */
export const WIRE_VERSIONS = [1] as const;
export const NONCE_BYTES = 32;
/** Peers one `find_node` answer may carry. */
export const MAX_FIND_NODE_PEERS = 256;
/** Records or tombstones one `republish` may carry (SPEC §4.4's max_entries_per_key is 1024 by default). */
export const MAX_REPUBLISH_ENTRIES = 4096;
/** Longest address accepted in a hello or a find_node answer. */
export const MAX_ADDRESS_BYTES = 256;

export type Hello = { t: 'hello'; versions: number[]; peer_id: string; nonce: Uint8Array; address: string | null; observed?: string | null };
export type Auth = { t: 'auth'; version: number; signature: Uint8Array };
export type WireRequest = { t: 'req'; id: number; method: string; params: unknown };
export type WireResult = { t: 'res'; id: number; result: unknown };
export type WireError = { t: 'err'; id: number; code: string; message: string };
export type Frame = Hello | Auth | WireRequest | WireResult | WireError;

/** A request as the receiving node acts on it, after its schema check. */
export type PeerRequest =
  | { method: 'ping' }
  | { method: 'find_node'; target: Uint8Array }
  | { method: 'store_key'; key: Key }
  | { method: 'put_record'; record: ProviderRecord }
  | { method: 'add_tombstone'; tombstone: Tombstone }
  | { method: 'get'; key_id: string }
  | { method: 'republish'; key: Key; records: unknown[]; tombstones: unknown[] }
  | { method: 'sync'; message: SyncRequest }
  | { method: 'relay_call'; call: RelayCall };

export interface PeerAddress {
  peer_id: string;
  address: string;
}

export interface KeyContents {
  key: Key;
  records: ProviderRecord[];
  tombstones: Tombstone[];
  /** The answering node has not finished its first sync of this range (see above). */
  partial?: true;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, bundleStrings: false });

export function encodeFrame(f: Frame): Uint8Array {
  return packr.pack(f);
}

/**
 * Decodes one frame and checks its schema; throws a SignpostError for anything else (`invalid_request`
 * for bytes that are not a frame, `invalid_params` / `invalid_peer_id` for a field that is wrong).
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  let f: unknown;
  try {
    f = packr.unpack(bytes);
  } catch (e) {
    throw new SignpostError('invalid_request', `frame is not MessagePack: ${(e as Error).message}`);
  }
  if (!isPlainObject(f) || typeof f.t !== 'string') throw new SignpostError('invalid_request', 'frame is not a map with a "t" field');
  switch (f.t) {
    case 'hello': {
      expectFields(f, 'hello', ['t', 'versions', 'peer_id', 'nonce', 'address'], ['observed']);
      const versions = f.versions;
      if (!Array.isArray(versions) || versions.length === 0 || versions.length > 16 || !versions.every((v) => Number.isInteger(v))) {
        throw new SignpostError('invalid_request', 'hello.versions must be a list of 1..16 integers');
      }
      if (!isValidPeerId(f.peer_id)) throw new SignpostError('invalid_peer_id', 'hello.peer_id is not a valid peer id');
      expectBin(f.nonce, 'hello.nonce', NONCE_BYTES);
      const address = f.address === null ? null : addressOrNull(f.address);
      const observed = f.observed === undefined || f.observed === null ? null : expectString(f.observed, 'hello.observed', MAX_ADDRESS_BYTES);
      return { t: 'hello', versions: versions as number[], peer_id: f.peer_id, nonce: f.nonce as Uint8Array, address, observed };
    }
    case 'auth':
      expectFields(f, 'auth', ['t', 'version', 'signature']);
      if (!Number.isInteger(f.version)) throw new SignpostError('invalid_request', 'auth.version must be an integer');
      expectBin(f.signature, 'auth.signature', 64);
      return f as unknown as Auth;
    case 'req':
      expectFields(f, 'req', ['t', 'id', 'method', 'params']);
      return { t: 'req', id: expectId(f.id), method: expectString(f.method, 'req.method', 32), params: f.params };
    case 'res':
      expectFields(f, 'res', ['t', 'id', 'result']);
      return { t: 'res', id: expectId(f.id), result: f.result };
    case 'err':
      expectFields(f, 'err', ['t', 'id', 'code', 'message']);
      return { t: 'err', id: expectId(f.id), code: expectString(f.code, 'err.code', 64), message: expectString(f.message, 'err.message', MAX_ERROR_MESSAGE_BYTES) };
    default:
      throw new SignpostError('invalid_request', `unknown frame type ${JSON.stringify(f.t).slice(0, 40)}`);
  }
}

/** Longest `err.message` a frame may carry (bytes of UTF-8). */
export const MAX_ERROR_MESSAGE_BYTES = 4096;

/**
 * The `err` frame answering request `id` with `e`: its SPEC §7 code (`internal_error` for anything but a
 * SignpostError) and its message, cut to what a frame may carry.
 */
export function errorFrame(id: number, e: unknown): WireError {
  const code = e instanceof SignpostError ? e.code : 'internal_error';
  const message = e instanceof Error ? e.message : String(e);
  // A code unit is at most 3 bytes of UTF-8 (a surrogate pair, 2 units, is 4).
  const cut = message.length * 3 > MAX_ERROR_MESSAGE_BYTES ? `${message.slice(0, MAX_ERROR_MESSAGE_BYTES / 3 - 1).replace(/[\uD800-\uDBFF]$/, '')}…` : message;
  return { t: 'err', id, code, message: cut };
}

/** The highest version both sides speak, or null. */
export function agreedVersion(theirs: readonly number[]): number | null {
  let best: number | null = null;
  for (const v of WIRE_VERSIONS) if (theirs.includes(v)) best = v;
  return best;
}

/** Checks a request's params against its method's schema (SPEC §8: a failure fails only this request). */
export function parsePeerRequest(method: string, p: unknown): PeerRequest {
  switch (method) {
    case 'ping':
      expectFields(p, 'params', []);
      return { method };
    case 'find_node': {
      const q = expectFields(p, 'params', ['target']);
      expectBin(q.target, 'target', 32);
      return { method, target: q.target as Uint8Array };
    }
    case 'store_key':
      return { method, key: parseKey(expectFields(p, 'params', ['key']).key) };
    case 'put_record':
      return { method, record: parseRecord(expectFields(p, 'params', ['record']).record) };
    case 'add_tombstone':
      return { method, tombstone: parseTombstone(expectFields(p, 'params', ['tombstone']).tombstone) };
    case 'get':
      return { method, key_id: expectResourceId(expectFields(p, 'params', ['key_id']).key_id, 'key_id') };
    case 'republish': {
      const q = expectFields(p, 'params', ['key', 'records', 'tombstones']);
      return { method, key: parseKey(q.key), records: expectList(q.records, 'records', MAX_REPUBLISH_ENTRIES), tombstones: expectList(q.tombstones, 'tombstones', MAX_REPUBLISH_ENTRIES) };
    }
    case 'sync':
      return { method, message: decodeRequest(p) };
    case 'relay_call': {
      const q = expectFields(p, 'params', ['peer_id', 'service_id', 'method', 'params', 'from', 'timeout_ms']);
      if (!isValidPeerId(q.peer_id)) throw new SignpostError('invalid_peer_id', 'relay_call.peer_id is not a valid peer id');
      if (q.from !== null && !isValidPeerId(q.from)) throw new SignpostError('invalid_peer_id', 'relay_call.from is not a valid peer id');
      if (!Number.isInteger(q.timeout_ms) || (q.timeout_ms as number) < 1 || (q.timeout_ms as number) > 60_000) {
        throw new SignpostError('invalid_params', 'relay_call.timeout_ms must be 1..60000');
      }
      const call: RelayCall = {
        peer_id: q.peer_id as string,
        service_id: expectString(q.service_id, 'relay_call.service_id', LIMITS.service_id_max, LIMITS.service_id_min),
        method: expectMethodName(q.method, 'relay_call.method'),
        params: expectString(q.params, 'relay_call.params', MAX_CALL_BYTES),
        from: q.from as string | null,
        timeout_ms: q.timeout_ms as number,
      };
      return { method, call };
    }
    default:
      throw new SignpostError('method_not_found', `unknown peer method ${JSON.stringify(method).slice(0, 40)}`);
  }
}

/** A `find_node` answer: the peers in it that parse (others are dropped, and the count of dropped ones returned). */
export function parseFindNodeResult(r: unknown): { peers: PeerAddress[]; dropped: number } {
  const q = expectFields(r, 'result', ['peers']);
  if (!Array.isArray(q.peers) || q.peers.length > MAX_FIND_NODE_PEERS) {
    throw new SignpostError('invalid_params', `find_node result: peers must be a list of at most ${MAX_FIND_NODE_PEERS}`);
  }
  const peers: PeerAddress[] = [];
  let dropped = 0;
  for (const p of q.peers) {
    try {
      const e = expectFields(p, 'peer', ['peer_id', 'address']);
      if (!isValidPeerId(e.peer_id)) throw new SignpostError('invalid_peer_id', 'peer_id');
      peers.push({ peer_id: e.peer_id, address: expectAddress(e.address, 'address') });
    } catch {
      dropped++;
    }
  }
  return { peers, dropped };
}

/** A `get` answer: the key and entries, shapes checked (signatures are the caller's to verify). */
export function parseKeyContents(r: unknown): KeyContents {
  const q = expectFields(r, 'result', ['key', 'records', 'tombstones'], ['partial']);
  if (q.partial !== undefined && q.partial !== true) throw new SignpostError('invalid_params', 'result.partial must be true when present');
  const contents: KeyContents = {
    key: parseKey(q.key),
    records: expectList(q.records, 'records', MAX_REPUBLISH_ENTRIES).map((x, i) => parseRecord(x, `records[${i}]`)),
    tombstones: expectList(q.tombstones, 'tombstones', MAX_REPUBLISH_ENTRIES).map((x, i) => parseTombstone(x, `tombstones[${i}]`)),
  };
  return q.partial ? { ...contents, partial: true } : contents;
}

/** A base URL `ws://HOST:PORT` or `wss://HOST:PORT` (nothing after the port). */
export function expectAddress(x: unknown, path: string): string {
  const s = expectString(x, path, MAX_ADDRESS_BYTES);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new SignpostError('invalid_params', `${path} is not a URL: ${JSON.stringify(s)}`);
  }
  // The port must be written out; URL drops a scheme's default one (80, 443), so it is put back.
  const port = u.port || (u.protocol === 'wss:' ? '443' : '80');
  const explicitPort = /:\d+\/?$/.test(s);
  if ((u.protocol !== 'ws:' && u.protocol !== 'wss:') || u.pathname !== '/' || u.search || u.hash || !explicitPort || port === '0' || u.username || u.password) {
    throw new SignpostError('invalid_params', `${path} must be ws://HOST:PORT or wss://HOST:PORT, got ${JSON.stringify(s)}`);
  }
  // A wildcard means "any interface" to a listener: dialled, it reaches the dialler itself.
  if (isWildcardHost(u.hostname)) throw new SignpostError('invalid_params', `${path} is a wildcard address, which no other node can reach: ${JSON.stringify(s)}`);
  return `${u.protocol}//${u.hostname}:${port}`;
}

/** An announced address, or null when it is not one a node can dial (see expectAddress). */
function addressOrNull(x: unknown): string | null {
  try {
    return expectAddress(x, 'address');
  } catch {
    return null;
  }
}

function expectBin(x: unknown, path: string, length: number): void {
  if (!(x instanceof Uint8Array) || x.length !== length) throw new SignpostError('invalid_params', `${path} must be ${length} bytes`);
}

function expectId(x: unknown): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new SignpostError('invalid_request', 'id must be a u32');
  return x;
}

/** A `relay_call` answer, checked as the relay's client answer was (a relay is not trusted either). */
export function parseRelayAnswer(r: unknown, who: string): ProviderAnswer {
  const q = expectFields(r, 'result', ['answer']);
  const text = expectString(q.answer, 'result.answer', MAX_CALL_BYTES + 8192);
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new SignpostError('invalid_request', `${who} answered relay_call with text that is not JSON`);
  }
  return parseProviderAnswer(answer, who);
}

/** The `relay_call` answer for a provider's answer. */
export function relayAnswer(a: ProviderAnswer): { answer: string } {
  return { answer: JSON.stringify(a) };
}
