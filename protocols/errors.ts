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
