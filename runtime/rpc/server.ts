/**
 * The client edge of a node: JSON-RPC 2.0 over WebSocket (SPEC §9), independent of what the methods do.
 * This file owns framing, the JSON-RPC envelope, batches, notifications and the per-connection limits
 * (frame size, batch size, rate, concurrency); a dispatcher owns the methods and validates their params.
 *
 * @example
 * const rpc = attachRpcServer(httpServer, '/rpc', dispatcher, config, log);
 * // … later
 * await rpc.close();
 */
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { WebSocket } from 'ws';
import { tokenBucket } from '../base/rate.js';
import { WebSocketServer, routeUpgrade } from '../base/websocket.js';
import { ERROR_CODES, SignpostError, type ErrorCode } from '../../protocols/errors.js';
import { ProviderError } from '../../protocols/relay.js';
import type { RpcErrorObject } from '../../protocols/rpc.js';

export interface RpcDispatcher {
  has(method: string): boolean;
  /** Runs a method. Throws SignpostError for failures; anything else thrown is a bug (`internal_error`). */
  call(method: string, params: unknown, conn: RpcConnection): Promise<unknown>;
}

export interface RpcConnection {
  readonly id: number;
  /** Per-connection session state of SPEC §9.3, owned by the `session.*` methods. */
  session: { nonce: Uint8Array | null; peerId: string | null };
  /** Sends a JSON-RPC notification to the client (subscriptions). Dropped when the socket is closed. */
  notify(method: string, params: unknown): void;
  /**
   * Sends a JSON-RPC request to the client (a call to a provider it serves) and resolves with the client's
   * answer object as it came (its `result` or `error` member is the caller's to check), or `timeout` after
   * `timeoutMs`, or `closed` when the socket closes first.
   */
  request(method: string, params: unknown, timeoutMs: number): Promise<ClientAnswer>;
  onClose(fn: () => void): void;
}

/** Per-connection limits, SPEC §12. */
export interface RpcLimits {
  max_frame_bytes: number;
  max_batch: number;
  max_concurrent_requests: number;
  rate_limit_per_s: number;
  rate_limit_burst: number;
  /** A connection that keeps emptying its bucket this long is closed (1008); default 10 000 ms. */
  flood_close_ms?: number;
}

/** A client's answer to a request from the node: the answer object, or why there is none. */
export type ClientAnswer = { answer: { [member: string]: unknown } } | 'timeout' | 'closed';

export type RpcLog = (msg: string, fields?: object) => void;

type RpcId = string | number | null;

type Outcome = { result: unknown } | { error: RpcErrorObject };

/**
 * Deepest nesting of objects and arrays accepted in `params`: the params object is level 1, and the deepest
 * valid params (a record's `relay_id` in `registry.merge`'s `records: Record[][]`) reach level 6. Params
 * cross to a worker thread by structured clone, which recurses: a deeper value fails to copy (Node throws
 * at postMessage) or, under Deno, copies and then fails to decode in the worker, which drops the whole
 * batch silently and leaves its requests unanswered. Refusing it here answers the same error everywhere.
 */
const MAX_PARAMS_DEPTH = 32;

/** A connection that keeps emptying its token bucket this long is closed (1008), unless the limits say otherwise. */
const FLOOD_CLOSE_MS = 10_000;

const defaultLog: RpcLog = (msg, fields) => console.error(JSON.stringify({ level: 'error', msg, ...fields }));

export function attachRpcServer(
  server: http.Server,
  path: string,
  dispatcher: RpcDispatcher,
  limits: RpcLimits,
  log: RpcLog = defaultLog,
): { close(): Promise<void>; connections(): number } {
  // ws checks the announced frame length before buffering the payload, so an oversized frame costs nothing.
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.max_frame_bytes });
  const release = routeUpgrade(server, path, (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => serveConnection(ws, path, dispatcher, limits, log));
  });
  return {
    connections: () => wss.clients.size,
    async close() {
      release();
      await Promise.all([...wss.clients].map((ws) => closeSocket(ws, 1001, 'node shutting down')));
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

let nextConnectionId = 1;

function serveConnection(ws: WebSocket, path: string, dispatcher: RpcDispatcher, limits: RpcLimits, log: RpcLog): void {
  const closeHandlers: Array<() => void> = [];
  let closed = false;
  // Requests this node sent the client, by id ("n1", "n2", …: never a number, so never one of the client's).
  const outgoing = new Map<string, (a: ClientAnswer) => void>();
  let nextOutgoing = 1;
  const conn: RpcConnection = {
    id: nextConnectionId++,
    session: { nonce: null, peerId: null },
    notify: (method, params) => send(() => JSON.stringify({ jsonrpc: '2.0', method, params })),
    request: (method, params, timeoutMs) =>
      new Promise<ClientAnswer>((resolve) => {
        if (closed) return resolve('closed');
        const id = `n${nextOutgoing++}`;
        const timer = setTimeout(() => settle('timeout'), timeoutMs);
        const settle = (a: ClientAnswer) => {
          clearTimeout(timer);
          outgoing.delete(id);
          resolve(a);
        };
        outgoing.set(id, settle);
        send(() => JSON.stringify({ jsonrpc: '2.0', id, method, params }));
      }),
    onClose: (fn) => (closed ? queueMicrotask(fn) : closeHandlers.push(fn)),
  };

  // ws closes an oversized frame with 1009 and no reason; say which limit it broke.
  const wsClose = ws.close.bind(ws);
  ws.close = (code?: number, reason?: string | Buffer) =>
    wsClose(code, code === 1009 && !reason ? `frame exceeds max_frame_bytes ${limits.max_frame_bytes}` : reason);

  // Flow control. When max_concurrent_requests calls are running we stop reading the socket (ws.pause())
  // instead of answering errors: TCP pushes back on the client, which simply slows down, and the node's
  // memory stays bounded. Frames ws had already read before the pause (at most one socket read) still
  // arrive; their requests wait in `waiting`. Answers not yet flushed to the kernel count as well, so a
  // client that sends without reading cannot grow our send buffer without bound.
  const waiting: Array<() => void> = [];
  let running = 0;
  let unflushedBytes = 0;
  const unflushedLimit = 4 * limits.max_frame_bytes;
  // A connection that empties its token bucket is not read until a tenth of the burst has refilled: a
  // flooder is slowed by TCP, not answered frame by frame (the frames already read get `rate_limited`).
  // One that keeps at it for `flood_close_ms` (10 s) is closed (1008).
  let throttled = false;
  /** Closed for flooding: frames still buffered are dropped unread. */
  let cutOff = false;
  let abusingSince: number | null = null;
  let lastThrottleEnd = 0;
  const floodCloseMs = limits.flood_close_ms ?? FLOOD_CLOSE_MS;
  const pauseMs = Math.max(1, (1000 * Math.max(1, limits.rate_limit_burst / 10)) / limits.rate_limit_per_s);
  const throttle = () => {
    if (throttled || closed || cutOff) return;
    const now = performance.now();
    // Back at an empty bucket within a pause of the last one: the abuse goes on.
    if (abusingSince === null || now - lastThrottleEnd > pauseMs) abusingSince = now;
    if (now - abusingSince >= floodCloseMs) {
      cutOff = true;
      log('rpc connection closed for sustained flooding', { conn: conn.id, rate_limit_per_s: limits.rate_limit_per_s });
      ws.close(1008, `rate limit exceeded for ${floodCloseMs / 1000} s: ${limits.rate_limit_per_s} requests/s, burst ${limits.rate_limit_burst}`);
      return;
    }
    throttled = true;
    updateFlow();
    setTimeout(() => {
      throttled = false;
      lastThrottleEnd = performance.now();
      updateFlow();
    }, pauseMs);
  };
  const updateFlow = () => {
    const hold = throttled || running >= limits.max_concurrent_requests || unflushedBytes > unflushedLimit;
    if (hold && !ws.isPaused) ws.pause();
    else if (!hold && ws.isPaused) ws.resume();
  };
  const startWaiting = () => {
    while (running < limits.max_concurrent_requests && waiting.length > 0 && !closed) waiting.shift()!();
    updateFlow();
  };
  const limited = (task: () => Promise<Outcome>) =>
    new Promise<Outcome>((resolve) => {
      waiting.push(() => {
        running++;
        void task().then(resolve).finally(() => {
          running--;
          startWaiting();
        });
      });
      startWaiting();
    });

  function send(serialize: () => string): void {
    if (closed) return;
    let text: string;
    try {
      text = serialize();
    } catch (e) {
      log('rpc answer not serialisable', { conn: conn.id, error: describe(e) });
      return;
    }
    const bytes = Buffer.byteLength(text);
    unflushedBytes += bytes;
    updateFlow();
    ws.send(text, () => {
      unflushedBytes -= bytes;
      updateFlow();
    });
  }

  const takeToken = tokenBucket(limits.rate_limit_per_s, limits.rate_limit_burst, () => performance.now());

  /** Runs one request object and returns its serialised answer, or null when nothing is to be answered. */
  function answer(entry: unknown): Promise<string | null> | string | null {
    // A client's answer to a request of ours is never answered (JSON-RPC 2.0); one we did not send costs a token.
    if (isAnswer(entry)) {
      const settle = typeof entry.id === 'string' ? outgoing.get(entry.id) : undefined;
      if (settle) settle({ answer: entry });
      else if (!takeToken()) throttle();
      return null;
    }
    const req = readRequest(entry);
    if ('invalid' in req) return reply(req.id, { error: rpcError('invalid_request', req.invalid) });
    const { method, params } = req;
    const isNotification = req.id === undefined;
    // The token is taken now, in arrival order, and even for a call that will fail: spam costs the sender.
    let outcome: Outcome | Promise<Outcome>;
    if (!takeToken()) {
      throttle();
      outcome = {
        error: rpcError('rate_limited', `rate limit exceeded: ${limits.rate_limit_per_s} requests/s, burst ${limits.rate_limit_burst}`, {
          rate_limit_per_s: limits.rate_limit_per_s,
          rate_limit_burst: limits.rate_limit_burst,
        }),
      };
    } else if (Array.isArray(params)) {
      outcome = { error: rpcError('invalid_params', `${method}: positional params are not accepted; params must be an object`) };
    } else if (!dispatcher.has(method)) {
      outcome = { error: rpcError('method_not_found', `unknown method '${method}'`) };
    } else if (nestedDeeperThan(params, MAX_PARAMS_DEPTH)) {
      outcome = {
        error: rpcError('invalid_params', `${method}: params nest deeper than ${MAX_PARAMS_DEPTH} levels`, { max_depth: MAX_PARAMS_DEPTH }),
      };
    } else {
      outcome = limited(() => run(method, params));
    }
    if (isNotification) return null;
    return outcome instanceof Promise ? outcome.then((o) => reply(req.id!, o)) : reply(req.id!, outcome);
  }

  async function run(method: string, params: unknown): Promise<Outcome> {
    try {
      return { result: (await dispatcher.call(method, params, conn)) ?? null };
    } catch (e) {
      if (e instanceof SignpostError) return { error: rpcError(e.code, e.message, e.data) };
      if (e instanceof ProviderError) return { error: e.error };
      log('rpc method threw', { conn: conn.id, method, error: describe(e) });
      return { error: rpcError('internal_error', `internal error in ${method}; the node logged the details`) };
    }
  }

  async function onMessage(text: string): Promise<void> {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      return send(() => reply(null, { error: rpcError('parse_error', `invalid JSON: ${(e as Error).message}`) }));
    }
    if (!Array.isArray(msg)) {
      const single = await answer(msg);
      if (single !== null) send(() => single);
      return;
    }
    if (msg.length === 0) return send(() => reply(null, { error: rpcError('invalid_request', 'empty batch') }));
    if (msg.length > limits.max_batch) {
      const error = rpcError('invalid_request', `batch of ${msg.length} requests exceeds max_batch ${limits.max_batch}`, {
        max_batch: limits.max_batch,
        size: msg.length,
      });
      return send(() => reply(null, { error }));
    }
    // Every entry is started (and takes its token) now, synchronously, in order; answers come in any order.
    const answers = (await Promise.all(msg.map(answer))).filter((a): a is string => a !== null);
    if (answers.length > 0) send(() => `[${answers.join(',')}]`);
  }

  ws.on('message', (data, isBinary) => {
    if (cutOff) return;
    if (isBinary) {
      return send(() => reply(null, { error: rpcError('invalid_request', `binary frames are not accepted on ${path}`) }));
    }
    // ws delivers text frames as one Buffer, already checked to be UTF-8.
    onMessage(data.toString()).catch((e) => log('rpc frame handling failed', { conn: conn.id, error: describe(e) }));
  });
  // 'error' (bad frame, oversized frame, reset) is always followed by 'close'; a listener keeps it from crashing.
  ws.on('error', (e) => log('rpc connection error', { conn: conn.id, error: e.message }));
  ws.on('close', () => {
    closed = true;
    waiting.length = 0; // requests read but not started: nobody is left to answer
    for (const settle of [...outgoing.values()]) settle('closed');
    for (const fn of closeHandlers.splice(0)) {
      try {
        fn();
      } catch (e) {
        log('rpc onClose handler threw', { conn: conn.id, error: describe(e) });
      }
    }
  });
}

/** A JSON-RPC answer object (no `method`, an `id`, a `result` or an `error`), as a client sends to a request of the node. */
function isAnswer(entry: unknown): entry is { id: unknown; [member: string]: unknown } {
  return typeof entry === 'object' && entry !== null && !Array.isArray(entry) && !('method' in entry) && 'id' in entry && ('result' in entry || 'error' in entry);
}

/** True when objects and arrays nest more than `max` levels in `value` (iterative: no recursion to overflow). */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<{ node: object; depth: number }> = [];
  if (typeof value === 'object' && value !== null) stack.push({ node: value, depth: 1 });
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push({ node: child, depth: depth + 1 });
    }
  }
  return false;
}

/** Checks the JSON-RPC 2.0 request shape. An `id` of the wrong type, like an unreadable one, is answered with null. */
function readRequest(
  entry: unknown,
): { id?: RpcId; method: string; params: unknown } | { id: RpcId; invalid: string } {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return { id: null, invalid: 'a request must be an object' };
  }
  const req = entry as Record<string, unknown>;
  const hasId = 'id' in req;
  const idOk = !hasId || req.id === null || typeof req.id === 'string' || (typeof req.id === 'number' && Number.isFinite(req.id));
  const id = hasId && idOk ? (req.id as RpcId) : null;
  if (!idOk) return { id, invalid: '"id" must be a string, a number or null' };
  if (req.jsonrpc !== '2.0') return { id, invalid: '"jsonrpc" must be "2.0"' };
  if (typeof req.method !== 'string') return { id, invalid: '"method" must be a string' };
  if ('params' in req && (typeof req.params !== 'object' || req.params === null)) {
    return { id, invalid: '"params" must be an object when present' };
  }
  const unknown = Object.keys(req).find((k) => !['jsonrpc', 'id', 'method', 'params'].includes(k));
  if (unknown !== undefined) return { id, invalid: `unknown member "${unknown}" in request` };
  return { id: hasId ? id : undefined, method: req.method, params: req.params };
}

function rpcError(code: ErrorCode, message: string, details: Record<string, unknown> = {}): RpcErrorObject {
  // `code` first for readability, and last so a detail named `code` cannot replace it.
  return { code: ERROR_CODES[code], message, data: Object.assign({ code }, details, { code }) };
}

/** One serialised answer. A result that JSON cannot carry (BigInt, cycle) is a bug: `internal_error`. */
function reply(id: RpcId, outcome: Outcome): string {
  try {
    return JSON.stringify({ jsonrpc: '2.0', id, ...outcome });
  } catch (e) {
    const error = rpcError('internal_error', `answer is not serialisable as JSON: ${(e as Error).message}`);
    return JSON.stringify({ jsonrpc: '2.0', id, error });
  }
}

function closeSocket(ws: WebSocket, code: number, reason: string): Promise<void> {
  if (ws.readyState === ws.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    // A peer that never completes the closing handshake is cut off.
    const timer = setTimeout(() => ws.terminate(), 2000);
    ws.once('close', () => (clearTimeout(timer), resolve()));
    ws.close(code, reason);
  });
}

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

