/**
 * What the SDK checks in every signed object a node hands it: the client trusts its node to route, never
 * to tell the truth about someone else's objects.
 *
 * - a Key: its shape (SPEC §3.5 step 1, which recomputes `id` from label and owner), its owner's
 *   signature, and that it is the resource that was asked for;
 * - a Record: its shape, both signatures (issuer over the metadata, host over the record), that it belongs
 *   to the resource that was asked for, and, when a service was asked for, to that service.
 *
 * A failure is a VerificationError naming the node, the method and the offending object. The SDK refuses
 * the whole answer rather than dropping the bad entry: a node that forged or altered one entry may as well
 * have withheld honest ones, so none of its answer can be trusted.
 */
import { SignpostError, type ErrorCode } from '../../protocols/errors.js';
import { offersService } from '../../protocols/rules.js';
import { verifyKey, verifyRecordOf, type SignatureVerifier } from '../../protocols/signed.js';
import type { Key, Record as ProviderRecord, RecordMetadata } from '../../protocols/types.js';
import { parseKey, parseRecord } from '../../protocols/validate.js';

/** A node answered with a signed object that does not verify, or that is not what was asked for. */
export class VerificationError extends Error {
  constructor(
    /** Why, as a SPEC §7 code: `invalid_signature`, `invalid_key`, `invalid_record`, `invalid_params`, … */
    readonly code: ErrorCode,
    /** The method whose answer failed. */
    readonly method: string,
    /** The node that answered, when known. */
    readonly nodePeerId: string | null,
    message: string,
  ) {
    super(`${method}: the node${nodePeerId ? ` ${nodePeerId}` : ''} answered with an object that does not verify: ${message}`);
    this.name = 'VerificationError';
  }
}

/** Where an answer came from (for the error), and how its signatures are checked. */
export interface AnswerSource {
  method: string;
  nodePeerId: string | null;
  verify: SignatureVerifier;
}

function refuse(from: AnswerSource, code: ErrorCode, message: string): never {
  throw new VerificationError(code, from.method, from.nodePeerId, message);
}

/** Runs a protocol check; its SignpostError becomes a VerificationError with the same code. */
function checked<T>(from: AnswerSource, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof SignpostError) refuse(from, e.code, e.message);
    throw e;
  }
}

/** A Key the node returned for `resourceId`. */
export function verifiedKey(x: unknown, resourceId: string, from: AnswerSource): Key {
  return checked(from, () => {
    const key = parseKey(x, 'resource');
    if (key.id !== resourceId) refuse(from, 'invalid_key', `resource ${key.id} is not the resource asked for, ${resourceId}`);
    verifyKey(key, from.verify);
    return key;
  });
}

/** A Record the node returned for `resourceId` (and `serviceId`, when one was asked for). */
export function verifiedRecord(x: unknown, resourceId: string, from: AnswerSource, serviceId?: string, path = 'record'): ProviderRecord {
  return checked(from, () => {
    const record = parseRecord(x, path);
    verifyRecordOf(record, resourceId, from.verify, path);
    if (serviceId !== undefined && !offersService(record, serviceId)) {
      refuse(from, 'invalid_record', `${path} is for service ${JSON.stringify(record.metadata.service_id[0] ?? null)}, not ${JSON.stringify(serviceId)}`);
    }
    return record;
  });
}

/** A provider list (resolve_providers, providers_changed): every entry verified, or the whole list refused. */
export function verifiedProviders(x: unknown, resourceId: string, from: AnswerSource, serviceId?: string): ProviderRecord[] {
  if (!Array.isArray(x)) refuse(from, 'invalid_params', `providers is not a list`);
  return x.map((r, i) => verifiedRecord(r, resourceId, from, serviceId, `providers[${i}]`));
}

/** The host record a node co-signed for `metadata` (register_node_provider): exactly that metadata, hosted by the node. */
export function verifiedHostRecord(x: unknown, metadata: RecordMetadata, from: AnswerSource & { nodePeerId: string }): ProviderRecord {
  const record = verifiedRecord(x, metadata.key_id, from);
  if (!sameMetadata(record.metadata, metadata)) refuse(from, 'invalid_record', 'record.metadata is not the metadata that was sent');
  if (record.metadata.peer_id !== from.nodePeerId) refuse(from, 'invalid_record', `record is hosted by ${record.metadata.peer_id}, not by the node`);
  return record;
}

function sameMetadata(a: RecordMetadata, b: RecordMetadata): boolean {
  return (
    a.key_id === b.key_id &&
    a.issued_by === b.issued_by &&
    a.peer_id === b.peer_id &&
    a.timestamp_issued === b.timestamp_issued &&
    a.solution === b.solution &&
    a.value === b.value &&
    a.issuer_signature === b.issuer_signature &&
    a.relay_id.length === b.relay_id.length &&
    a.relay_id.every((r, i) => r === b.relay_id[i]) &&
    a.service_id.length === b.service_id.length &&
    a.service_id.every((s, i) => s === b.service_id[i])
  );
}
