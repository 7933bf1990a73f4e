/**
 * A small JSON-RPC 2.0 over WebSocket client (SPEC §9) for the SDK, the CLI and the tests, on the
 * platform's WebSocket (websocket.ts), so it runs in browsers, Deno, Bun and Node alike.
 *
 * @example
 * const client = await RpcClient.connect('ws://127.0.0.1:7070/rpc');
 * const keyId = await client.call<string>('registry.get_key_id', { label, owner_peer_id });
 * await client.close();
 */
import { handlerError } from '../../protocols/relay.js';
import type { RpcErrorObject } from '../../protocols/rpc.js';
import { CLOSED, webSocketClass, type SocketLike } from './websocket.js';

export type { RpcErrorObject };

/** Answers one request of the node: resolves with the result, throws the error. */
export type RequestHandler = (method: string, params: unknown) => Promise<unknown>;

/** A thrown value as a JSON-RPC error: as it is when it has the shape of one, else `provider_error` with its message. */
export function asRpcError(e: unknown): RpcErrorObject {
  if (e instanceof RpcError) return { code: e.rpcCode, message: e.message, data: e.data };
  const o = e as { code?: unknown; message?: unknown; data?: unknown } | null;
  if (o !== null && typeof o === 'object' && Number.isInteger(o.code) && typeof o.message === 'string' && (o.data === undefined || (typeof o.data === 'object' && o.data !== null))) {
    return { code: o.code as number, message: o.message, ...(o.data === undefined ? {} : { data: o.data as Record<string, unknown> }) };
  }
  return handlerError(e instanceof Error ? e.message : String(e));
}

/** A call the node answered with an error. */
export class RpcError extends Error {
  /** The stable string code (`error.data.code`), e.g. `key_not_found`. */
  readonly code: string;
  readonly rpcCode: number;
  readonly data: Record<string, unknown>;

  constructor(error: RpcErrorObject) {
    super(error.message);
    this.name = 'RpcError';
    this.rpcCode = error.code;
    this.data = error.data ?? {};
    this.code = typeof this.data.code === 'string' ? this.data.code : 'internal_error';
  }
}

/** The socket closed (or a call timed out) before the answer came. */
export class RpcConnectionError extends Error {
  constructor(
    message: string,
    readonly closeCode?: number,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'RpcConnectionError';
  }
}

interface Answer {
  id?: unknown;
  result?: unknown;
  error?: RpcErrorObject;
  method?: unknown;
  params?: unknown;
}

interface Pending {
  /** Settles with the raw answer(s); the caller turns them into a result or an RpcError. */
  settle(answer: Answer | Answer[]): void;
  fail(error: Error): void;
}

export class RpcClient {
  private nextId = 1;
  /** Calls waiting for an answer, by request id. A batch registers every id of its entries. */
  private readonly pending = new Map<number, Pending>();
  /** Open batches, oldest first: an error with `id: null` (a batch refused as a whole) goes to the oldest. */
  private readonly batches: Pending[] = [];
  private readonly listeners = new Set<(method: string, params: unknown) => void>();
  private closed: RpcConnectionError | null = null;

  private readonly closeListeners = new Set<(error: RpcConnectionError) => void>();
  /** Answers the requests the node sends this client (provider calls); none set: `method_not_found`. */
  private requestHandler: RequestHandler | null = null;

  private constructor(
    private readonly ws: SocketLike,
    private readonly timeoutMs: number | undefined,
  ) {
    ws.addEventListener('message', (event: MessageEvent) => {
      if (typeof event.data === 'string') this.receive(event.data);
    });
    ws.addEventListener('close', (event: CloseEvent) => {
      this.closed = new RpcConnectionError(`connection closed (${event.code}${event.reason ? ` ${event.reason}` : ''})`, event.code, event.reason);
      for (const p of new Set(this.pending.values())) p.fail(this.closed);
      for (const fn of this.closeListeners) fn(this.closed);
      this.closeListeners.clear();
    });
  }

  /** Opens a connection. `timeoutMs` bounds the opening (default 10 s) and, when given, every call. */
  static async connect(url: string, opts: { timeoutMs?: number } = {}): Promise<RpcClient> {
    const Socket = await webSocketClass();
    return new Promise((resolve, reject) => {
      let ws: SocketLike;
      try {
        ws = new Socket(url);
      } catch (e) {
        return reject(new RpcConnectionError(`cannot connect to ${url}: ${(e as Error).message}`));
      }
      const timer = setTimeout(() => {
        ws.close();
        fail(`no answer within ${opts.timeoutMs ?? 10_000} ms`);
      }, opts.timeoutMs ?? 10_000);
      const opened = () => {
        clearTimeout(timer);
        ws.removeEventListener('error', failed);
        ws.removeEventListener('close', failed);
        resolve(new RpcClient(ws, opts.timeoutMs));
      };
      // A browser says nothing more about a failed connection than that it failed (and its close code).
      const fail = (why: string) => {
        clearTimeout(timer);
        ws.removeEventListener('open', opened);
        reject(new RpcConnectionError(`cannot connect to ${url}: ${why}`));
      };
      const failed = (event: Event & { message?: string; code?: number }) => fail(event.message ?? (event.code !== undefined ? `closed (${event.code})` : 'connection failed'));
      ws.addEventListener('open', opened);
      ws.addEventListener('error', failed);
      ws.addEventListener('close', failed);
    });
  }

  /** Calls `method`; resolves with its result or rejects with an RpcError (or RpcConnectionError). */
  async call<T = unknown>(method: string, params?: object): Promise<T> {
    const id = this.nextId++;
    const answer = (await this.request([id], method, JSON.stringify({ jsonrpc: '2.0', id, method, params }))) as Answer;
    if (answer.error) throw new RpcError(answer.error);
    return answer.result as T;
  }

  /**
   * Sends the calls as one batch; answers come back in the order of `calls`. A batch the node refuses as a
   * whole (e.g. longer than its `max_batch`) rejects with that RpcError.
   */
  async batch(calls: { method: string; params?: object }[]): Promise<Array<{ result?: unknown; error?: RpcErrorObject }>> {
    if (calls.length === 0) return [];
    const ids = calls.map(() => this.nextId++);
    const text = JSON.stringify(calls.map((c, i) => ({ jsonrpc: '2.0', id: ids[i], method: c.method, params: c.params })));
    const answer = await this.request(ids, 'batch', text, true);
    if (!Array.isArray(answer)) throw new RpcError(answer.error ?? { code: -32603, message: 'batch answered without an array' });
    const byId = new Map(answer.map((a) => [a.id, a]));
    return ids.map((id) => {
      const a = byId.get(id);
      if (!a) return { error: { code: -32603, message: `no answer for batch entry ${id}`, data: { code: 'internal_error' } } };
      return a.error ? { error: a.error } : { result: a.result };
    });
  }

  /** Sends a notification: the node runs it and never answers. */
  notify(method: string, params?: object): void {
    this.sendRaw(JSON.stringify({ jsonrpc: '2.0', method, params }));
  }

  /** Calls `fn` once when the connection closes (by either side); at once if it already has. */
  onClose(fn: (error: RpcConnectionError) => void): void {
    if (this.closed) queueMicrotask(() => fn(this.closed!));
    else this.closeListeners.add(fn);
  }

  /** Listens to notifications the node sends (subscriptions). Returns the unsubscribe function. */
  onNotification(fn: (method: string, params: unknown) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Answers requests the node sends (a provider call, SPEC §9.5): the handler's value is the result; what
   * it throws is the error, as it is when it is a JSON-RPC error (`{code, message, data?}`, an RpcError
   * too), otherwise as `provider_error` with its message.
   */
  onRequest(fn: RequestHandler | null): void {
    this.requestHandler = fn;
  }

  /** Sends a frame as is: a string as a text frame, bytes as a binary frame. For tests. */
  sendRaw(data: string | Uint8Array): void {
    if (this.closed) throw this.closed;
    this.ws.send(data);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === CLOSED || this.closed) return;
    await new Promise<void>((resolve) => {
      this.closeListeners.add(() => resolve());
      this.ws.close(1000);
    });
  }

  private request(ids: number[], what: string, text: string, batch = false): Promise<Answer | Answer[]> {
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        for (const id of ids) this.pending.delete(id);
        const at = this.batches.indexOf(pending);
        if (at >= 0) this.batches.splice(at, 1);
      };
      const pending: Pending = {
        settle: (a) => (done(), resolve(a)),
        fail: (e) => (done(), reject(e)),
      };
      if (this.timeoutMs !== undefined) {
        timer = setTimeout(() => pending.fail(new RpcConnectionError(`${what} timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
      }
      for (const id of ids) this.pending.set(id, pending);
      if (batch) this.batches.push(pending);
      try {
        this.sendRaw(text);
      } catch (e) {
        pending.fail(e as Error);
      }
    });
  }

  private async answerRequest(id: unknown, method: string, params: unknown): Promise<void> {
    let reply: { result: unknown } | { error: RpcErrorObject };
    try {
      if (!this.requestHandler) throw { code: -32601, message: `this client answers no requests (${method})`, data: { code: 'method_not_found' } };
      reply = { result: (await this.requestHandler(method, params)) ?? null };
    } catch (e) {
      reply = { error: asRpcError(e) };
    }
    if (this.closed) return;
    let text: string;
    try {
      text = JSON.stringify({ jsonrpc: '2.0', id, ...reply });
    } catch (e) {
      text = JSON.stringify({ jsonrpc: '2.0', id, error: handlerError(`the result of ${method} is not JSON: ${(e as Error).message}`) });
    }
    this.ws.send(text);
  }

  private receive(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return; // a node never sends invalid JSON; nothing to route it to
    }
    if (Array.isArray(msg)) {
      const first = msg.find((a) => typeof a?.id === 'number');
      this.pending.get(first?.id)?.settle(msg as Answer[]);
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    const answer = msg as Answer;
    if (typeof answer.method === 'string' && !('id' in answer)) {
      for (const fn of this.listeners) fn(answer.method, answer.params);
    } else if (typeof answer.method === 'string') {
      void this.answerRequest(answer.id, answer.method, answer.params);
    } else if (typeof answer.id === 'number') {
      this.pending.get(answer.id)?.settle(answer);
    } else if (answer.id === null && answer.error) {
      this.batches[0]?.settle(answer);
    }
  }
}
