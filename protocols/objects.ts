/**
 * Resource ids and the digests of SPEC §3: the only bytes that are signed.
 */
import { CanonicalWriter, base58Decode, base58Encode, base64urlDecode } from './encoding.js';
import { sha256 } from './crypto.js';
import type { Key, Record, RecordMetadata, Tombstone } from './types.js';

const EMPTY = new Uint8Array(0);

/** Decodes a byte field that has already passed shape validation. */
export function b64(field: string): Uint8Array {
  return base64urlDecode(field) ?? EMPTY;
}

/** SPEC §3.1: `resource_id(label, owner)`. */
export function resourceId(label: string, ownerPeerId: string): string {
  return base58Encode(resourceLocation(label, ownerPeerId));
}

function resourceLocation(label: string, ownerPeerId: string): Uint8Array {
  return sha256(new CanonicalWriter().str('signpost/resource-id/v1').str(label).str(ownerPeerId).finish());
}

/** The 32-byte Kademlia location under a resource id, or null when the id is not canonical base58 of 32 bytes. */
export function resourceIdBytes(id: string): Uint8Array | null {
  if (typeof id !== 'string' || id.length < 32 || id.length > 44) return null;
  const b = base58Decode(id);
  if (!b || b.length !== 32 || base58Encode(b) !== id) return null;
  return b;
}

export function keyDigest(k: Key): Uint8Array {
  return sha256(
    new CanonicalWriter()
      .str('signpost/key/v1')
      .str(k.label)
      .str(k.owner_peer_id)
      .u64(k.timestamp_created)
      .bytes(b64(k.challenge))
      .str(k.challenge_type)
      .finish(),
  );
}

export function metadataDigest(m: Omit<RecordMetadata, 'issuer_signature'>): Uint8Array {
  return sha256(metadataPreimage(m).bytes);
}

/**
 * The bytes `metadata_digest` hashes (SPEC §3.2), and the offset of the solution's own bytes in them: a
 * proof-of-work search (pow.ts) rewrites only those between two hashes.
 */
export function metadataPreimage(m: Omit<RecordMetadata, 'issuer_signature'>): { bytes: Uint8Array; solutionAt: number } {
  const w = new CanonicalWriter().str('signpost/record-metadata/v1').str(m.key_id).str(m.issued_by).str(m.peer_id).u64(m.timestamp_issued);
  const solutionAt = w.length + 4; // after the u32 length of bytes(solution)
  return { bytes: w.bytes(b64(m.solution)).str(m.value).list(m.relay_id).list(m.service_id).finish(), solutionAt };
}

export function recordDigest(r: Record, mdDigest: Uint8Array = metadataDigest(r.metadata)): Uint8Array {
  return sha256(
    new CanonicalWriter()
      .str('signpost/record/v1')
      .bytes(mdDigest)
      .bytes(b64(r.metadata.issuer_signature))
      .u64(r.timestamp_created)
      .finish(),
  );
}

export function tombstoneDigest(t: Tombstone): Uint8Array {
  return sha256(
    new CanonicalWriter()
      .str('signpost/tombstone/v1')
      .str(t.key_id)
      .str(t.issued_by)
      .str(t.peer_id)
      .u64(t.timestamp_issued)
      .bytes(b64(t.solution))
      .finish(),
  );
}
