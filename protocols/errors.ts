/**
 * Error codes of SPEC §7. Every failure the node reports carries one stable `code` and a human message
 * naming the offending object; JSON-RPC answers put the code in `error.data.code`.
 */

export const ERROR_CODES = {
  parse_error: -32700,
  invalid_request: -32600,
  method_not_found: -32601,
  invalid_params: -32602,
  internal_error: -32603,
  invalid_peer_id: 1001,
  invalid_signature: 1002,
  invalid_key: 1003,
  invalid_record: 1003,
  timestamp_in_future: 1004,
  record_expired: 1005,
  key_not_found: 1006,
  key_outdated: 1007,
  newer_entry_exists: 1008,
  records_limit_exceeded: 1009,
  unsupported_challenge_type: 1010,
  policy_violation: 1011,
  insufficient_work: 1012,
  unauthorized: 1013,
  rate_limited: 1014,
  quorum_not_reached: 1015,
  peer_unreachable: 1016,
  peer_timeout: 1017,
  actor_not_found: 1018,
  busy: 1019,
  provider_unreachable: 1020,
  provider_timeout: 1021,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * A failure with a stable code. `data` holds extra details that travel in `error.data` next to `code`.
 *
 * @example
 * throw new SignpostError('key_not_found', `Key ${keyId} is not held by this node`);
 */
export class SignpostError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'SignpostError';
  }

  /** The JSON-RPC numeric error code for this failure. */
  get rpcCode(): number {
    return ERROR_CODES[this.code];
  }
}

/** Plain-data form of an error, as it crosses threads or the wire. */
export interface ErrorData {
  code: ErrorCode;
  message: string;
  data?: Record<string, unknown>;
}

export function toErrorData(e: unknown): ErrorData {
  if (e instanceof SignpostError) {
    return Object.keys(e.data).length ? { code: e.code, message: e.message, data: e.data } : { code: e.code, message: e.message };
  }
  return { code: 'internal_error', message: e instanceof Error ? e.message : String(e) };
}

export function fromErrorData(d: ErrorData): SignpostError {
  return new SignpostError(d.code, d.message, d.data ?? {});
}

/** One node's failure in a fan-out call (SPEC §9.2 `errors`). */
export interface PeerError {
  peer_id: string;
  code: ErrorCode | string;
  message: string;
}

/** A failure as both ends see it: the node's SignpostError, the SDK's RpcError. */
export interface CodedFailure {
  code: string;
  data?: Record<string, unknown>;
}

/** Codes that say a node did not answer at all (as opposed to answering with a refusal). */
const NO_ANSWER = new Set(['peer_timeout', 'peer_unreachable']);

/**
 * Unwraps a fan-out failure (SPEC §9.2): true when `failure` is a code `test` accepts, or is
 * `quorum_not_reached` whose nodes all failed with such a code. With `answersOnly`, nodes that timed out or
 * could not be reached are left out, and at least one node must have answered.
 *
 * @example
 * failedWith(e, (code) => code === 'key_not_found', { answersOnly: true }); // every node that answered lacks the key
 */
export function failedWith(failure: CodedFailure, test: (code: string) => boolean, opts: { answersOnly?: boolean } = {}): boolean {
  if (test(failure.code)) return true;
  if (failure.code !== 'quorum_not_reached') return false;
  const errors = failure.data?.errors;
  if (!Array.isArray(errors)) return false;
  const counted = (errors as PeerError[]).filter((x) => !(opts.answersOnly && NO_ANSWER.has(x.code)));
  return counted.length > 0 && counted.every((x) => test(x.code));
}
