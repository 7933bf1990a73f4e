/**
 * `signpost provider call` and `--serve-echo` without a node (runtime/cli/providers.ts, format.ts): the
 * JSON arguments, each outcome as `--json` and people see it, and the echo method.
 */
import { describe, expect, it } from 'vitest';
import { callArguments, ECHO_HANDLERS } from '../../../runtime/cli/providers.js';
import { callOutcomeJson, outcomesText } from '../../../runtime/cli/format.js';
import { UsageError } from '../../../runtime/cli/command.js';
import { RpcError } from '../../../runtime/client/rpc-client.js';
import type { CallContext } from '../../../runtime/client/client.js';
import { key, peer, record } from '../../helpers/objects.js';

const T = 1_700_000_000;
const k = key(peer(1), 'calls', T);
const relay = peer(9).peerId;
const served = record(k, peer(2), T, { fields: { relay_id: [relay], service_id: ['echo'] } });
const node = record(k, peer(3), T, { fields: { service_id: ['echo'] } });
const bare = record(k, peer(4), T, { fields: { relay_id: [relay] } });

describe('provider call arguments', () => {
  it('spreads a JSON array, takes any other JSON value as the one argument, none without JSON', () => {
    expect(callArguments('["hi", 2]')).toEqual(['hi', 2]);
    expect(callArguments('[[1, 2]]')).toEqual([[1, 2]]);
    expect(callArguments('[]')).toEqual([]);
    expect(callArguments('{"a": 1}')).toEqual([{ a: 1 }]);
    expect(callArguments('"hi"')).toEqual(['hi']);
    expect(callArguments('null')).toEqual([null]);
    expect(callArguments(undefined)).toEqual([]);
  });

  it('invalid JSON is a usage error naming the problem', () => {
    expect(() => callArguments('["hi", 2')).toThrow(UsageError);
    expect(() => callArguments('hi')).toThrow(/^the arguments are not JSON: .*JSON/);
  });
});

describe('provider call outcomes', () => {
  it('as JSON: who, then the result or the error (code, message, data)', () => {
    expect(callOutcomeJson({ provider: served, ok: true, result: { x: 1 } })).toEqual({ peer_id: peer(2).peerId, relay_id: relay, service_id: 'echo', ok: true, result: { x: 1 } });
    expect(callOutcomeJson({ provider: node, ok: true, result: undefined })).toEqual({ peer_id: peer(3).peerId, relay_id: null, service_id: 'echo', ok: true, result: null });
    const e = new RpcError({ code: 4000, message: 'no such thing', data: { code: 'app_error', from_provider: true } });
    expect(callOutcomeJson({ provider: served, ok: false, error: e })).toEqual({
      peer_id: peer(2).peerId,
      relay_id: relay,
      service_id: 'echo',
      ok: false,
      error: { code: 'app_error', message: 'no such thing', data: { code: 'app_error', from_provider: true } },
    });
    // A record without a service cannot be called; any other local failure keeps its message.
    expect(callOutcomeJson({ provider: bare, ok: false, error: new Error('callProvider: …') })).toMatchObject({ service_id: null, ok: false, error: { code: 'no_service', message: expect.stringContaining('--service S') } });
    expect(callOutcomeJson({ provider: served, ok: false, error: new Error('socket closed') })).toMatchObject({ ok: false, error: { code: 'client_error', message: 'socket closed', data: {} } });
  });

  it('for people: one block per provider, then how many answered', () => {
    const ok = callOutcomeJson({ provider: served, ok: true, result: { echo: ['hi', 2] } });
    const failed = callOutcomeJson({ provider: node, ok: false, error: new RpcError({ code: 1020, message: 'not connected', data: { code: 'provider_unreachable' } }) });
    expect(outcomesText('R', undefined, [ok, failed])).toBe(
      [
        `provider ${peer(2).peerId}`,
        `  relay    ${relay}`,
        '  service  echo',
        '  ok       {"echo":["hi",2]}',
        `provider ${peer(3).peerId}`,
        '  relay    - (a node, called directly)',
        '  service  echo',
        '  error    provider_unreachable: not connected',
        '1 of 2 providers failed',
      ].join('\n'),
    );
    expect(outcomesText('R', undefined, [ok])).toMatch(/\nthe provider answered$/);
    expect(outcomesText('R', undefined, [ok, ok])).toMatch(/\nall 2 providers answered$/);
    expect(outcomesText('R', undefined, [])).toBe('no providers of R');
    expect(outcomesText('R', 'echo', [])).toBe('no providers of R for service echo');
  });
});

describe('--serve-echo', () => {
  it('echo answers with its arguments and the caller from its CallContext', () => {
    const context: CallContext = { from: peer(5).peerId, via: null, callId: '1', serviceId: 'echo', method: 'echo' };
    expect(ECHO_HANDLERS.echo.call(context, 'hi', 2)).toEqual({ echo: ['hi', 2], from: peer(5).peerId });
    expect(ECHO_HANDLERS.echo.call({ ...context, from: null })).toEqual({ echo: [], from: null });
  });
});
