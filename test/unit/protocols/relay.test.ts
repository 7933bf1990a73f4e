/**
 * The shapes and limits of provider calls (protocols/relay.ts, the `relay_call` wire method): what a
 * caller, a relay and a serving client may send, and the errors each gets.
 */
import { describe, expect, it } from 'vitest';
import { SignpostError } from '../../../protocols/errors.js';
import { callerError, callJson, MAX_CALL_BYTES, parseProviderAnswer } from '../../../protocols/relay.js';
import { decodeFrame, encodeFrame, parsePeerRequest, parseRelayAnswer, relayAnswer } from '../../../protocols/wire.js';
import { peer } from '../../helpers/objects.js';

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof SignpostError) return e.code;
    throw e;
  }
  throw new Error('expected a SignpostError');
};

describe('callJson', () => {
  it('takes JSON up to 65 536 bytes of UTF-8 and refuses one byte more, naming the limit', () => {
    const fits = 'x'.repeat(MAX_CALL_BYTES - 2); // with its quotes: exactly the limit
    expect(callJson(fits, 'params').length).toBe(MAX_CALL_BYTES);
    expect(() => callJson(`${fits}x`, 'params')).toThrow(/65537 bytes of JSON, over the 65536/);
    // Bytes, not code units: 'é' is two bytes.
    expect(codeOf(() => callJson('é'.repeat(MAX_CALL_BYTES / 2), 'params'))).toBe('invalid_params');
  });

  it('refuses what JSON cannot carry', () => {
    expect(codeOf(() => callJson(1n, 'params'))).toBe('invalid_params');
    const cycle: { self?: unknown } = {};
    cycle.self = cycle;
    expect(codeOf(() => callJson(cycle, 'params'))).toBe('invalid_params');
    expect(callJson(undefined, 'params')).toBe('null');
  });
});

describe("a provider's answer", () => {
  it('is a result, or an error with an integer code, a string message and object data', () => {
    expect(parseProviderAnswer({ jsonrpc: '2.0', id: 'n1', result: [1, 2] }, 'p')).toEqual({ result: [1, 2] });
    expect(parseProviderAnswer({ error: { code: 7, message: 'no', data: { a: 1 } } }, 'p')).toEqual({ error: { code: 7, message: 'no', data: { a: 1 } } });
    expect(parseProviderAnswer({ error: { code: -32000, message: 'no' } }, 'p')).toEqual({ error: { code: -32000, message: 'no' } });
    for (const bad of [{}, { result: 1, error: { code: 1, message: 'x' } }, { error: { code: 1.5, message: 'x' } }, { error: { code: 1 } }, { error: { code: 1, message: 'x', data: 3 } }, null, 'x']) {
      expect(codeOf(() => parseProviderAnswer(bad, 'p'))).toBe('invalid_request');
    }
  });

  it('over 64 KiB is the provider\'s fault: invalid_request, not the caller\'s invalid_params', () => {
    expect(codeOf(() => parseProviderAnswer({ result: 'x'.repeat(MAX_CALL_BYTES) }, 'provider P'))).toBe('invalid_request');
    expect(codeOf(() => parseProviderAnswer({ error: { code: 1, message: 'm', data: { x: 'y'.repeat(MAX_CALL_BYTES) } } }, 'p'))).toBe('invalid_request');
  });

  it('reaches the caller unchanged, with from_provider', () => {
    expect(callerError({ code: 4000, message: 'm', data: { code: 'app', n: 1 } })).toEqual({ code: 4000, message: 'm', data: { code: 'app', n: 1, from_provider: true } });
    expect(callerError({ code: 4000, message: 'm' }).data).toEqual({ from_provider: true });
  });
});

describe('relay_call on the wire', () => {
  const params = { peer_id: peer(1).peerId, service_id: 'echo', method: 'echo', params: '["hi"]', from: null, timeout_ms: 6000 };
  const parse = (p: object) => {
    const f = decodeFrame(encodeFrame({ t: 'req', id: 1, method: 'relay_call', params: p }));
    return parsePeerRequest((f as { method: string }).method, (f as { params: unknown }).params);
  };

  it('parses a call, from an anonymous or an authenticated caller', () => {
    expect(parse(params)).toEqual({ method: 'relay_call', call: params });
    expect(parse({ ...params, from: peer(2).peerId })).toMatchObject({ call: { from: peer(2).peerId } });
  });

  it('refuses wrong fields with their own codes', () => {
    expect(codeOf(() => parse({ ...params, peer_id: 'nope' }))).toBe('invalid_peer_id');
    expect(codeOf(() => parse({ ...params, from: 'nope' }))).toBe('invalid_peer_id');
    expect(codeOf(() => parse({ ...params, timeout_ms: 0 }))).toBe('invalid_params');
    expect(codeOf(() => parse({ ...params, timeout_ms: 60_001 }))).toBe('invalid_params');
    expect(codeOf(() => parse({ ...params, timeout_ms: 1.5 }))).toBe('invalid_params');
    expect(codeOf(() => parse({ ...params, service_id: '' }))).toBe('invalid_params');
    expect(codeOf(() => parse({ ...params, method: 'm'.repeat(129) }))).toBe('invalid_params');
    expect(codeOf(() => parse({ ...params, params: 'x'.repeat(MAX_CALL_BYTES + 1) }))).toBe('invalid_params');
    expect(codeOf(() => parse({ ...params, extra: 1 }))).toBe('invalid_params');
    const { from: _from, ...noFrom } = params;
    expect(codeOf(() => parse(noFrom))).toBe('invalid_params');
  });

  it("answers carry the provider's answer as JSON text, checked again by the caller's node", () => {
    expect(parseRelayAnswer(relayAnswer({ result: { a: 1 } }), 'relay R')).toEqual({ result: { a: 1 } });
    expect(parseRelayAnswer(relayAnswer({ error: { code: 5, message: 'x' } }), 'relay R')).toEqual({ error: { code: 5, message: 'x' } });
    expect(codeOf(() => parseRelayAnswer({ answer: '{not json' }, 'relay R'))).toBe('invalid_request');
    expect(codeOf(() => parseRelayAnswer({ answer: '{}' }, 'relay R'))).toBe('invalid_request');
    expect(codeOf(() => parseRelayAnswer({ answer: 1 }, 'relay R'))).toBe('invalid_params');
  });
});
