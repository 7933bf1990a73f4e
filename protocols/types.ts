/**
 * The signed objects of SPEC §3 in their JSON form (byte fields are base64url without padding,
 * timestamps are whole seconds), and the stored forms the rules work on.
 */

/** SPEC §3.1: a resource, signed by its owner. */
export interface Key {
  id: string;
  label: string;
  owner_peer_id: string;
  timestamp_created: number;
  challenge: string;
  challenge_type: ChallengeType;
  signature: string;
}

export type ChallengeType = '' | 'hashcash/v1' | 'owner/v1';
export const CHALLENGE_TYPES: readonly ChallengeType[] = ['', 'hashcash/v1', 'owner/v1'];

/** SPEC §3.2: what the provider's issuer signs. */
export interface RecordMetadata {
  key_id: string;
  issued_by: string;
  peer_id: string;
  timestamp_issued: number;
  solution: string;
  value: string;
  relay_id: string[];
  service_id: string[];
  issuer_signature: string;
}

/** SPEC §3.3: a provider, co-signed by its host (`metadata.peer_id`). */
export interface Record {
  metadata: RecordMetadata;
  timestamp_created: number;
  signature: string;
}

/** SPEC §3.4: a signed removal of one slot. */
export interface Tombstone {
  key_id: string;
  issued_by: string;
  peer_id: string;
  timestamp_issued: number;
  solution: string;
  issuer_signature: string;
}

/** A key as a node holds it. `published` is the node-clock time of the last republish to it, or null. */
export interface StoredKey {
  key: Key;
  published: number | null;
}

/**
 * One slot's entry as stored: the signed object plus what the rules need that is derived from it once
 * (digest as lowercase hex, proof-of-work bits of a record).
 */
export type Entry = RecordEntry | TombstoneEntry;

export interface RecordEntry {
  kind: 'record';
  record: Record;
  /** record_digest, lowercase hex. */
  digest: string;
  /** Leading zero bits of the work hash (SPEC §6); computed for every record, used under hashcash/v1. */
  bits: number;
}

export interface TombstoneEntry {
  kind: 'tombstone';
  tombstone: Tombstone;
  /** tombstone_digest, lowercase hex. */
  digest: string;
}

/** Slot identity (SPEC §4.3) inside one key. */
export interface SlotId {
  issued_by: string;
  peer_id: string;
}

/** The limits and timeouts the rules read (SPEC §4.1, §4.4, §12). */
export interface RuleConfig {
  max_clock_skew: number;
  stale_timeout: number;
  expired_timeout: number;
  renew_interval: number;
  records_limit: number;
  max_entries_per_key: number;
}

export const DEFAULT_RULE_CONFIG: RuleConfig = {
  max_clock_skew: 30,
  stale_timeout: 3600,
  expired_timeout: 86400,
  renew_interval: 43200,
  records_limit: 32,
  max_entries_per_key: 1024,
};

/** SPEC §3 field limits (bytes of UTF-8 for strings, decoded bytes for byte fields). */
export const LIMITS = {
  label: 256,
  challenge: 256,
  solution: 64,
  value: 1024,
  service_id_min: 1,
  service_id_max: 128,
  signature: 64,
  max_timestamp: Number.MAX_SAFE_INTEGER,
} as const;
