/**
 * Helpers for the black-box registry tests (test/e2e/registry-*.test.ts): asserting error codes of
 * RPC answers, tampering with signatures, reading digests, and mining records with an exact amount of
 * proof of work.
 */
import { expect } from 'vitest';
import { RpcError } from '../../runtime/client/rpc-client.js';
import { ERROR_CODES, type ErrorCode } from '../../protocols/errors.js';
import { base64urlDecode, base64urlEncode } from '../../protocols/encoding.js';
import { metadataDigest } from '../../protocols/objects.js';
import { leadingZeroBits, workHash } from '../../protocols/pow.js';
import { makeMetadata, recordEntry, tombstoneEntry, type MetadataFields } from '../../protocols/signed.js';
import type { Identity } from '../../protocols/identity.js';
import type { Key, Record as ProviderRecord, RecordMetadata, Tombstone } from '../../protocols/types.js';

/** The RpcError a call fails with; fails the test when the call succeeds. */
export async function rpcError(call: Promise<unknown>): Promise<RpcError> {
  let result: unknown;
  try {
    result = await call;
  } catch (e) {
    if (e instanceof RpcError) return e;
    throw e;
  }
  throw new Error(`expected an RPC error, the call succeeded with ${JSON.stringify(result)?.slice(0, 300)}`);
}

/** Asserts the call fails with `code` (string code in error.data and its JSON-RPC number). */
export async function expectCode(call: Promise<unknown>, code: ErrorCode): Promise<RpcError> {
  const e = await rpcError(call);
  expect({ code: e.code, rpcCode: e.rpcCode }, e.message).toEqual({ code, rpcCode: ERROR_CODES[code] });
  expect(e.data.code).toBe(code);
  return e;
}

/** The same base64url signature with one bit of R flipped: same shape, does not verify. */
export function tamper(signature: string): string {
  const b = base64urlDecode(signature)!;
  b[10] ^= 1;
  return base64urlEncode(b);
}

export const recordDigestHex = (r: ProviderRecord): string => recordEntry(r).digest;
export const tombstoneDigestHex = (t: Tombstone): string => tombstoneEntry(t).digest;

/** Proof-of-work bits of a record's metadata (SPEC §6). */
export const workBits = (r: ProviderRecord): number => recordEntry(r).bits;

/** Signed metadata whose work hash has exactly `bits` leading zero bits (searching 8-byte solutions). */
export function mineExact(issuer: Identity, f: MetadataFields, bits: number): RecordMetadata {
  const sol = new Uint8Array(8);
  const view = new DataView(sol.buffer);
  for (let i = 0; i < 1 << 24; i++) {
    view.setUint32(0, i, true);
    const solution = base64urlEncode(sol);
    const unsigned: RecordMetadata = {
      key_id: f.key_id,
      issued_by: issuer.peerId,
      peer_id: f.peer_id,
      timestamp_issued: f.timestamp_issued,
      solution,
      value: f.value ?? '',
      relay_id: f.relay_id ?? [],
      service_id: f.service_id ?? [],
      issuer_signature: '',
    };
    if (leadingZeroBits(workHash(metadataDigest(unsigned))) === bits) return makeMetadata(issuer, { ...f, solution });
  }
  throw new Error(`no solution with exactly ${bits} bits`);
}

/** A short, readable name of a record for list comparisons: `<issuer tail>@<issued>/<created>`. */
export function tag(r: ProviderRecord): string {
  return `${r.metadata.issued_by.slice(-5)}@${r.metadata.timestamp_issued}/${r.timestamp_created}`;
}

export function ttag(t: Tombstone): string {
  return `${t.issued_by.slice(-5)}>${t.peer_id.slice(-5)}@${t.timestamp_issued}`;
}

/** Byte-wise order of two ASCII strings (peer ids and resource ids are base58, hence ASCII). */
export const ascii = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** What `evict_stale` / `list_keys` return for one key. */
export interface KeyItem {
  key: Key;
  records: ProviderRecord[];
  tombstones: Tombstone[];
}

/** A peer id that does not parse: its public key is the identity point (SPEC §1). */
export const SMALL_ORDER_PEER_ID = '12D3KooW9tGaPdJo5jmCpadQ971nfiq4kLcQjeBPYTfutBTtckPH';
