/**
 * Calls to providers through their relay (SPEC §9.5): the limits and the shapes both ends check.
 *
 * A caller asks its node (`resources.call_provider`); the node sends `relay_call` to the provider's relay
 * (the record's `relay_id`, or the provider itself when it is a node); the relay hands the call to the
 * client connection authenticated as the provider that serves the service (`session.serve`), as a
 * JSON-RPC request `provider.call` from node to client, and the answer travels back the same way.
 *
 * Params and answers cross the node-to-node wire as JSON text, so what the callee receives is exactly
 * what the caller sent, and each hop checks sizes on the text it forwards.
 */
import { SignpostError } from './errors.js';
import type { RpcErrorObject } from './rpc.js';
import { utf8Length } from './encoding.js';
import { expectString, isPlainObject } from './validate.js';

/** Longest params or answer of one call (bytes of its JSON text). */
export const MAX_CALL_BYTES = 65_536;
/** Calls one serving session, or one caller's connection, may have in flight. */
export const MAX_CALLS_IN_FLIGHT = 64;
/** Longest method name of a provider call. */
export const MAX_METHOD_BYTES = 128;
/** Services one `session.serve` may name. */
export const MAX_SERVED_SERVICES = 64;
/** Longest error message of a provider's answer, as on the wire (protocols/wire.ts). */
export const MAX_ANSWER_MESSAGE_BYTES = 4096;

/** JSON-RPC code of a handler's failure that carries no code of its own (the implementation-defined server range). */
export const PROVIDER_ERROR_CODE = -32000;

/** What a provider answered: its result, or its own JSON-RPC error. */
export type ProviderAnswer = { result: unknown } | { error: RpcErrorObject };

/** The JSON text of `value`, refused with `invalid_params` over MAX_CALL_BYTES or when JSON cannot carry it. */
export function callJson(value: unknown, path: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value ?? null);
  } catch (e) {
    throw new SignpostError('invalid_params', `${path} is not JSON: ${(e as Error).message}`);
  }
  if (text === undefined) throw new SignpostError('invalid_params', `${path} is not JSON`);
  const bytes = text.length > MAX_CALL_BYTES / 3 ? utf8Length(text) : text.length;
  if (bytes > MAX_CALL_BYTES) {
    throw new SignpostError('invalid_params', `${path} is ${bytes} bytes of JSON, over the ${MAX_CALL_BYTES} a provider call carries`, { max_bytes: MAX_CALL_BYTES, bytes });
  }
  return text;
}

/** A provider call's method name: 1..128 bytes. */
export function expectMethodName(x: unknown, path: string): string {
  return expectString(x, path, MAX_METHOD_BYTES, 1);
}

/**
 * A serving client's JSON-RPC answer (its `result` or `error` member), checked: exactly one of the two,
 * an error with an integer `code`, a string `message` and an object `data` when present, and at most
 * MAX_CALL_BYTES of JSON. Anything else is `invalid_request`, blamed on `who`.
 */
export function parseProviderAnswer(x: unknown, who: string): ProviderAnswer {
  if (!isPlainObject(x) || 'result' in x === 'error' in x) {
    throw new SignpostError('invalid_request', `${who} answered without exactly one of "result" and "error"`);
  }
  // Too large or not JSON: the provider's answer is at fault, not the caller's params.
  const within = (value: unknown, what: string) => {
    try {
      callJson(value, what);
    } catch (e) {
      throw new SignpostError('invalid_request', (e as Error).message, (e as SignpostError).data);
    }
  };
  if ('result' in x) {
    within(x.result, `the result of ${who}`);
    return { result: x.result };
  }
  const e = x.error;
  if (!isPlainObject(e) || !Number.isInteger(e.code) || typeof e.message !== 'string' || (e.data !== undefined && !isPlainObject(e.data))) {
    throw new SignpostError('invalid_request', `${who} answered an error that is not {code: integer, message: string, data?: object}`);
  }
  within(e, `the error of ${who}`);
  const message = utf8Length(e.message) > MAX_ANSWER_MESSAGE_BYTES ? `${e.message.slice(0, MAX_ANSWER_MESSAGE_BYTES / 3)}…` : e.message;
  return { error: { code: e.code as number, message, ...(e.data === undefined ? {} : { data: e.data as Record<string, unknown> }) } };
}

/** The answer as the caller gets it: a provider's error keeps its code, message and data, with `data.from_provider: true`. */
export function callerError(error: RpcErrorObject): RpcErrorObject {
  return { code: error.code, message: error.message, data: { ...(error.data ?? {}), from_provider: true } };
}

/**
 * A provider's own error on its way back to a JSON-RPC caller: the client edge answers `error` as it is,
 * where a SignpostError would be rewritten with its SPEC §7 code.
 */
export class ProviderError extends Error {
  constructor(readonly error: RpcErrorObject) {
    super(error.message);
    this.name = 'ProviderError';
  }
}

/** The error a serving SDK answers for a handler that threw something that is not a JSON-RPC error. */
export function handlerError(message: string): RpcErrorObject {
  return { code: PROVIDER_ERROR_CODE, message, data: { code: 'provider_error' } };
}

/** `relay_call` (protocols/wire.ts): one call handed to a relay, params as JSON text. */
export interface RelayCall {
  peer_id: string;
  service_id: string;
  method: string;
  /** JSON text, at most MAX_CALL_BYTES. */
  params: string;
  /** The caller as its node authenticated it (SPEC §9.3), or null. */
  from: string | null;
  timeout_ms: number;
}

/** One call for a provider this node relays for. */
export interface Delivery {
  /** The provider: a client's peer id, or this node's for a node provider. */
  peerId: string;
  serviceId: string;
  method: string;
  params: unknown;
  /** The caller as its node authenticated it, or null. */
  from: string | null;
  /** The node that handed the call to this one (authenticated by the wire handshake), or null for a caller of this node. */
  via: string | null;
  timeoutMs: number;
}
