import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { SignpostError } from '../../../protocols/errors.js';
import { attachRpcServer, type RpcConnection, type RpcDispatcher, type RpcLimits } from '../../../runtime/rpc/server.js';
import { routeUpgrade } from '../../../runtime/base/websocket.js';
import { RpcClient, RpcConnectionError, RpcError } from '../../../runtime/client/rpc-client.js';

const DEFAULT_LIMITS: RpcLimits = {
  max_frame_bytes: 1_048_576,
  max_batch: 100,
  max_concurrent_requests: 256,
  rate_limit_per_s: 2000,
  rate_limit_burst: 4000,
};

/** A dispatcher with a few behaviours, recording what it ran and how many calls were in flight at once. */
function fakeDispatcher() {
  const seen: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const methods: Record<string, (params: any, conn: RpcConnection) => Promise<unknown>> = {
    echo: async (params) => params,
    slow: async (params) => {
      await sleep(params?.ms ?? 20);
      return params?.n ?? null;
    },
    fail: async () => {
      throw new SignpostError('key_not_found', 'Key abc is not held by this node', { key_id: 'abc' });
    },
    boom: async () => {
      throw new TypeError('undefined is not a function');
    },
    bigint: async () => 1n,
    nothing: async () => undefined,
    // Asks the client (a serving SDK) and returns its answer, as a relay hands over a provider call.
    ask: async (params, conn) => conn.request('provider.call', params, params?.timeoutMs ?? 1000),
    subscribe: async (_params, conn) => {
      conn.notify('event', { hello: conn.id });
      conn.onClose(() => seen.push('closed'));
      return 'ok';
    },
  };
  const dispatcher: RpcDispatcher = {
    has: (method) => method in methods,
    async call(method, params, conn) {
      seen.push(method);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        return await methods[method]!(params, conn);
      } finally {
        inFlight--;
      }
    },
  };
  return { dispatcher, seen, maxInFlight: () => maxInFlight };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  vi.restoreAllMocks();
});

async function startServer(limits: Partial<RpcLimits> = {}) {
  const fake = fakeDispatcher();
  const log = vi.fn();
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const rpc = attachRpcServer(server, '/rpc', fake.dispatcher, { ...DEFAULT_LIMITS, ...limits }, log);
  const port = (server.address() as AddressInfo).port;
  cleanups.push(async () => {
    await rpc.close();
    await new Promise((resolve) => server.close(resolve));
  });
  return { ...fake, log, rpc, server, port, url: `ws://127.0.0.1:${port}/rpc` };
}

/** A bare WebSocket that queues what it receives, to check exact frames. */
async function openRaw(url: string) {
  const ws = new WebSocket(url);
  const inbox: string[] = [];
  const waiters: Array<(text: string) => void> = [];
  ws.on('message', (data) => {
    const text = data.toString();
    const waiter = waiters.shift();
    if (waiter) waiter(text);
    else inbox.push(text);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  cleanups.push(async () => {
    ws.close();
    await closed;
  });
  const next = (timeoutMs = 2000) =>
    inbox.length > 0
      ? Promise.resolve(inbox.shift()!)
      : new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no frame received')), timeoutMs);
          waiters.push((text) => (clearTimeout(timer), resolve(text)));
        });
  return {
    ws,
    closed,
    next,
    nextJson: async () => JSON.parse(await next()),
    /** Sends a frame and returns the next frame received. */
    exchange: async (frame: string | Buffer) => (ws.send(frame), next()),
  };
}

const err = (id: unknown, rpcCode: number, message: string, data: object) =>
  JSON.stringify({ jsonrpc: '2.0', id, error: { code: rpcCode, message, data } });

describe('JSON-RPC envelope', () => {
  it('answers a call with its result and the same id', async () => {
    const { url } = await startServer();
    const raw = await openRaw(url);
    expect(await raw.exchange('{"jsonrpc":"2.0","id":"a","method":"echo","params":{"x":1}}')).toBe('{"jsonrpc":"2.0","id":"a","result":{"x":1}}');
    expect(await raw.exchange('{"jsonrpc":"2.0","id":2,"method":"nothing"}')).toBe('{"jsonrpc":"2.0","id":2,"result":null}');
  });

  it('answers invalid JSON with parse_error and id null', async () => {
    const { url } = await startServer();
    const raw = await openRaw(url);
    expect(JSON.parse(await raw.exchange('{"jsonrpc":"2.0","id":1,'))).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: expect.stringMatching(/^invalid JSON: /), data: { code: 'parse_error' } },
    });
  });

  it('answers an invalid request with its id when the id can be read, else with null', async () => {
    const { url } = await startServer();
    const raw = await openRaw(url);
    const invalid = (id: unknown, message: string) => err(id, -32600, message, { code: 'invalid_request' });
    expect(await raw.exchange('{"jsonrpc":"1.0","id":7,"method":"echo"}')).toBe(invalid(7, '"jsonrpc" must be "2.0"'));
    expect(await raw.exchange('{"id":"x","method":"echo"}')).toBe(invalid('x', '"jsonrpc" must be "2.0"'));
    expect(await raw.exchange('{"jsonrpc":"2.0","id":8,"method":1}')).toBe(invalid(8, '"method" must be a string'));
    expect(await raw.exchange('{"jsonrpc":"2.0","id":9,"method":"echo","params":"x"}')).toBe(invalid(9, '"params" must be an object when present'));
    expect(await raw.exchange('{"jsonrpc":"2.0","id":10,"method":"echo","params":null}')).toBe(invalid(10, '"params" must be an object when present'));
    expect(await raw.exchange('{"jsonrpc":"2.0","id":11,"method":"echo","extra":1}')).toBe(invalid(11, 'unknown member "extra" in request'));
    expect(await raw.exchange('{"jsonrpc":"2.0","id":{},"method":"echo"}')).toBe(invalid(null, '"id" must be a string, a number or null'));
    expect(await raw.exchange('42')).toBe(invalid(null, 'a request must be an object'));
    // Without an id it is not a notification but an invalid request: JSON-RPC answers it with id null.
    expect(await raw.exchange('{"jsonrpc":"2.0","method":1}')).toBe(invalid(null, '"method" must be a string'));
  });

  it('answers positional params with invalid_params and an unknown method with method_not_found', async () => {
    const { url, seen } = await startServer();
    const raw = await openRaw(url);
    expect(await raw.exchange('{"jsonrpc":"2.0","id":1,"method":"echo","params":[1,2]}')).toBe(
      err(1, -32602, 'echo: positional params are not accepted; params must be an object', { code: 'invalid_params' }),
    );
    expect(await raw.exchange('{"jsonrpc":"2.0","id":2,"method":"nope"}')).toBe(err(2, -32601, "unknown method 'nope'", { code: 'method_not_found' }));
    expect(seen).toEqual([]);
  });

  it('answers a binary frame with invalid_request', async () => {
    const { url } = await startServer();
    const raw = await openRaw(url);
    expect(await raw.exchange(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"echo"}'))).toBe(
      err(null, -32600, 'binary frames are not accepted on /rpc', { code: 'invalid_request' }),
    );
  });

  it('runs notifications without answering them, even when they fail', async () => {
    const { url, seen } = await startServer();
    const raw = await openRaw(url);
    for (const method of ['echo', 'fail', 'boom', 'nope']) raw.ws.send(JSON.stringify({ jsonrpc: '2.0', method, params: {} }));
    raw.ws.send('{"jsonrpc":"2.0","method":"echo","params":[1]}');
    // The first frame back is the answer to this call: nothing was sent for the notifications.
    expect(await raw.exchange('{"jsonrpc":"2.0","id":"last","method":"echo"}')).toBe('{"jsonrpc":"2.0","id":"last","result":null}');
    await sleep(20);
    expect(seen.slice(0, 3).sort()).toEqual(['boom', 'echo', 'fail']);
  });
});

describe('batches', () => {
  it('answers one entry per non-notification, as an array', async () => {
    const { url } = await startServer();
    const raw = await openRaw(url);
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'echo', params: { a: 1 } },
      { jsonrpc: '2.0', method: 'echo', params: { notified: true } },
      { jsonrpc: '2.0', id: 2, method: 'fail' },
      42,
      { jsonrpc: '2.0', id: 3, method: 'nope' },
      { jsonrpc: '2.0', id: 4, method: 'slow', params: { n: 4 } },
    ];
    const answers = JSON.parse(await raw.exchange(JSON.stringify(batch)));
    expect(answers).toHaveLength(5);
    expect(answers).toEqual(
      expect.arrayContaining([
        { jsonrpc: '2.0', id: 1, result: { a: 1 } },
        { jsonrpc: '2.0', id: 2, error: { code: 1006, message: 'Key abc is not held by this node', data: { code: 'key_not_found', key_id: 'abc' } } },
        { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'a request must be an object', data: { code: 'invalid_request' } } },
        { jsonrpc: '2.0', id: 3, error: { code: -32601, message: "unknown method 'nope'", data: { code: 'method_not_found' } } },
        { jsonrpc: '2.0', id: 4, result: 4 },
      ]),
    );
  });

  it('does not answer a batch of notifications', async () => {
    const { url, seen } = await startServer();
    const raw = await openRaw(url);
    raw.ws.send(JSON.stringify([{ jsonrpc: '2.0', method: 'echo' }, { jsonrpc: '2.0', method: 'fail' }]));
    expect(await raw.exchange('{"jsonrpc":"2.0","id":1,"method":"echo"}')).toBe('{"jsonrpc":"2.0","id":1,"result":null}');
    expect(seen).toContain('fail');
  });

  it('answers an empty batch with a single invalid_request', async () => {
    const { url } = await startServer();
    const raw = await openRaw(url);
    expect(await raw.exchange('[]')).toBe(err(null, -32600, 'empty batch', { code: 'invalid_request' }));
  });

  it('refuses a batch longer than max_batch with a single invalid_request naming the limit', async () => {
    const { url, seen } = await startServer({ max_batch: 3 });
    const raw = await openRaw(url);
    const batch = [1, 2, 3, 4].map((id) => ({ jsonrpc: '2.0', id, method: 'echo' }));
    expect(await raw.exchange(JSON.stringify(batch))).toBe(
      err(null, -32600, 'batch of 4 requests exceeds max_batch 3', { code: 'invalid_request', max_batch: 3, size: 4 }),
    );
    expect(seen).toEqual([]);
  });
});

describe('limits', () => {
  it('answers rate_limited without running once the bucket is empty, and refills over time', async () => {
    const { url, seen } = await startServer({ rate_limit_per_s: 20, rate_limit_burst: 3 });
    const raw = await openRaw(url);
    const batch = [1, 2, 3, 4, 5].map((id) => ({ jsonrpc: '2.0', id, method: 'echo', params: { id } }));
    const answers: any[] = JSON.parse(await raw.exchange(JSON.stringify(batch)));
    const limited = answers.filter((a) => a.error);
    expect(answers.filter((a) => 'result' in a).map((a) => a.id).sort()).toEqual([1, 2, 3]);
    expect(limited.map((a) => a.id).sort()).toEqual([4, 5]);
    expect(limited[0].error).toEqual({
      code: 1014,
      message: 'rate limit exceeded: 20 requests/s, burst 3',
      data: { code: 'rate_limited', rate_limit_per_s: 20, rate_limit_burst: 3 },
    });
    expect(seen).toEqual(['echo', 'echo', 'echo']);
    await sleep(120); // 20/s: two tokens back
    expect(await raw.exchange('{"jsonrpc":"2.0","id":6,"method":"echo"}')).toBe('{"jsonrpc":"2.0","id":6,"result":null}');
  });

  it('stops reading a flooder once its bucket is empty, and closes it (1008) when it keeps at it', async () => {
    const { url, seen } = await startServer({ rate_limit_per_s: 50, rate_limit_burst: 5, flood_close_ms: 400 });
    const raw = await openRaw(url);
    let answers = 0;
    raw.ws.on('message', () => answers++);
    let sent = 0;
    const started = Date.now();
    let closed: { code: number; reason: string } | null = null;
    void raw.closed.then((c) => (closed = c));
    // Bounded: at most 3 s, 20 frames every millisecond.
    while (!closed && Date.now() - started < 3000) {
      for (let i = 0; i < 20; i++, sent++) raw.ws.send(`{"jsonrpc":"2.0","id":${sent},"method":"echo"}`);
      await sleep(1);
    }
    expect(closed).toMatchObject({ code: 1008, reason: 'rate limit exceeded for 0.4 s: 50 requests/s, burst 5' });
    expect(Date.now() - started).toBeLessThan(1500);
    // Only what the bucket allowed ran; most frames were never read, let alone answered.
    expect(seen.length).toBeLessThanOrEqual(5 + 50);
    expect(answers).toBeLessThan(sent / 2);
  });

  it('closes the connection with 1009 and a clear reason on a frame over max_frame_bytes', async () => {
    const { url, rpc } = await startServer({ max_frame_bytes: 1024 });
    const raw = await openRaw(url);
    raw.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: { pad: 'x'.repeat(2000) } }));
    expect(await raw.closed).toEqual({ code: 1009, reason: 'frame exceeds max_frame_bytes 1024' });
    await sleep(20);
    expect(rpc.connections()).toBe(0);
    // The node keeps serving others.
    const other = await openRaw(url);
    expect(await other.exchange('{"jsonrpc":"2.0","id":1,"method":"echo"}')).toBe('{"jsonrpc":"2.0","id":1,"result":null}');
  });

  it('never runs more than max_concurrent_requests at once, pausing the socket instead of failing', async () => {
    const pause = vi.spyOn(WebSocket.prototype, 'pause');
    const resume = vi.spyOn(WebSocket.prototype, 'resume');
    const { url, maxInFlight } = await startServer({ max_concurrent_requests: 2 });
    const client = await RpcClient.connect(url);
    cleanups.push(() => client.close());
    const results = await Promise.all(Array.from({ length: 10 }, (_, n) => client.call('slow', { n, ms: 15 })));
    expect(results).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(maxInFlight()).toBe(2);
    expect(pause).toHaveBeenCalled(); // only the server side pauses in this test
    expect(resume).toHaveBeenCalled();
    // A batch larger than the limit is spread over the two slots too.
    const batch = await client.batch(Array.from({ length: 10 }, (_, n) => ({ method: 'slow', params: { n, ms: 5 } })));
    expect(batch.map((a) => a.result)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(maxInFlight()).toBe(2);
  });
});

describe('robustness', () => {
  it('answers internal_error for a non-SignpostError, logs it, and keeps the connection usable', async () => {
    const { url, log } = await startServer();
    const client = await RpcClient.connect(url);
    cleanups.push(() => client.close());
    const error = (await client.call('boom').catch((e) => e)) as RpcError;
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ code: 'internal_error', rpcCode: -32603, message: 'internal error in boom; the node logged the details' });
    expect(log).toHaveBeenCalledWith('rpc method threw', expect.objectContaining({ method: 'boom', error: expect.stringContaining('TypeError') }));
    expect(await client.call('echo', { still: 'here' })).toEqual({ still: 'here' });
  });

  it('answers internal_error for a result JSON cannot carry', async () => {
    const { url } = await startServer();
    const client = await RpcClient.connect(url);
    cleanups.push(() => client.close());
    await expect(client.call('bigint')).rejects.toMatchObject({ code: 'internal_error' });
  });

  it('survives arbitrary frames and keeps answering', async () => {
    const { url } = await startServer();
    const raw = await openRaw(url);
    const frames = fc.sample(
      fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v)), fc.jsonValue().map((v) => JSON.stringify([v, { jsonrpc: '2.0', method: 'echo', params: v }]))),
      300,
    );
    for (const frame of frames) raw.ws.send(frame);
    raw.ws.send('{"jsonrpc":"2.0","id":"final","method":"echo"}');
    let last: any;
    do last = await raw.nextJson();
    while (last?.id !== 'final');
    expect(last).toEqual({ jsonrpc: '2.0', id: 'final', result: null });
    expect(raw.ws.readyState).toBe(WebSocket.OPEN);
  });
});

describe('requests from the node to the client', () => {
  it("delivers a request with a string id and resolves with the client's answer, result or error", async () => {
    const { url } = await startServer();
    const client = await RpcClient.connect(url);
    cleanups.push(() => client.close());
    client.onRequest(async (method, params) => {
      if ((params as { fail?: boolean }).fail) throw { code: 4000, message: 'refused', data: { code: 'app' } };
      return { method, params };
    });
    expect(await client.call('ask', { x: 1 })).toEqual({ answer: { jsonrpc: '2.0', id: 'n1', result: { method: 'provider.call', params: { x: 1 } } } });
    expect(await client.call('ask', { fail: true })).toMatchObject({ answer: { id: 'n2', error: { code: 4000, message: 'refused', data: { code: 'app' } } } });
  });

  it('a handler that throws a plain Error answers provider_error; no handler answers method_not_found', async () => {
    const { url } = await startServer();
    const client = await RpcClient.connect(url);
    cleanups.push(() => client.close());
    expect(await client.call('ask', {})).toMatchObject({ answer: { error: { code: -32601, data: { code: 'method_not_found' } } } });
    client.onRequest(async () => {
      throw new Error('handler broke');
    });
    expect(await client.call('ask', {})).toMatchObject({ answer: { error: { code: -32000, message: 'handler broke', data: { code: 'provider_error' } } } });
  });

  it('times out a client that does not answer, and never answers an answer it did not ask for', async () => {
    const { url } = await startServer();
    const raw = await openRaw(url);
    raw.ws.send('{"jsonrpc":"2.0","id":1,"method":"ask","params":{"timeoutMs":50}}');
    expect(JSON.parse(await raw.next())).toMatchObject({ id: 'n1', method: 'provider.call' });
    expect(await raw.nextJson()).toEqual({ jsonrpc: '2.0', id: 1, result: 'timeout' });
    // A late answer, and one to an id never sent, get nothing back; the connection still answers calls.
    raw.ws.send('{"jsonrpc":"2.0","id":"n1","result":1}');
    raw.ws.send('{"jsonrpc":"2.0","id":"n99","error":{"code":1,"message":"x"}}');
    expect(await raw.exchange('{"jsonrpc":"2.0","id":2,"method":"echo","params":{"after":1}}')).toBe('{"jsonrpc":"2.0","id":2,"result":{"after":1}}');
  });

  it('resolves a request in flight with closed when the socket closes', async () => {
    const fake = await startServer();
    const raw = await openRaw(fake.url);
    let asked: Promise<unknown> | null = null;
    const original = fake.dispatcher.call.bind(fake.dispatcher);
    fake.dispatcher.call = (method, params, conn) => {
      if (method !== 'ask') return original(method, params, conn);
      asked = conn.request('provider.call', {}, 5000);
      return asked;
    };
    raw.ws.send('{"jsonrpc":"2.0","id":1,"method":"ask","params":{}}');
    await raw.next();
    raw.ws.close();
    expect(await asked).toBe('closed');
  });
});

describe('upgrade routing', () => {
  it('refuses upgrades on other paths with 404, and lets another module route its own path', async () => {
    const { server, port } = await startServer();
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/nope`);
      ws.on('unexpected-response', (_req, res) => (resolve(res.statusCode ?? 0), ws.terminate()));
      ws.on('error', () => {});
    });
    expect(status).toBe(404);
    const seenPaths: string[] = [];
    const release = routeUpgrade(server, '/p2p', (req, socket) => (seenPaths.push(req.url ?? ''), socket.destroy()));
    await new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/p2p?v=1`);
      ws.on('error', resolve);
    });
    expect(seenPaths).toEqual(['/p2p?v=1']);
    release();
  });
});

describe('RpcClient', () => {
  it('rejects a failed call with an RpcError carrying the code and data', async () => {
    const { url } = await startServer();
    const client = await RpcClient.connect(url);
    cleanups.push(() => client.close());
    const error = (await client.call('fail', {}).catch((e) => e)) as RpcError;
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe('key_not_found');
    expect(error.rpcCode).toBe(1006);
    expect(error.message).toBe('Key abc is not held by this node');
    expect(error.data).toEqual({ code: 'key_not_found', key_id: 'abc' });
  });

  it('returns batch answers in call order and rejects a batch refused as a whole', async () => {
    const { url } = await startServer({ max_batch: 2 });
    const client = await RpcClient.connect(url);
    cleanups.push(() => client.close());
    const answers = await client.batch([{ method: 'slow', params: { n: 1, ms: 20 } }, { method: 'fail' }]);
    expect(answers[0]).toEqual({ result: 1 });
    expect(answers[1]!.error).toMatchObject({ code: 1006, data: { code: 'key_not_found' } });
    await expect(client.batch([{ method: 'echo' }, { method: 'echo' }, { method: 'echo' }])).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'batch of 3 requests exceeds max_batch 2',
    });
  });

  it('receives notifications from the node and the node sees the close', async () => {
    const { url, seen } = await startServer();
    const client = await RpcClient.connect(url);
    const received = new Promise((resolve) => client.onNotification((method, params) => resolve({ method, params })));
    expect(await client.call('subscribe')).toBe('ok');
    expect(await received).toEqual({ method: 'event', params: { hello: expect.any(Number) } });
    await client.close();
    await sleep(20);
    expect(seen).toContain('closed');
  });

  it('rejects pending calls with the close code and reason when the socket closes', async () => {
    const { url, rpc } = await startServer();
    const client = await RpcClient.connect(url);
    const pending = client.call('slow', { ms: 200 }).catch((e) => e as RpcConnectionError);
    await sleep(20);
    await rpc.close();
    const error = (await pending) as RpcConnectionError;
    expect(error).toBeInstanceOf(RpcConnectionError);
    expect(error.message).toBe('connection closed (1001 node shutting down)');
    expect(error).toMatchObject({ closeCode: 1001, reason: 'node shutting down' });
  });
});
