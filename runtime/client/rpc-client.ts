/**
 * A small JSON-RPC 2.0 over WebSocket client (SPEC §9) for the CLI, the tests and the SDK.
 *
 * @example
 * const client = await RpcClient.connect('ws://127.0.0.1:7070/rpc');
 * const keyId = await client.call<string>('registry.get_key_id', { label, owner_peer_id });
 * await client.close();
 */
import { WebSocket } from 'ws';
import type { RpcErrorObject } from '../../protocols/rpc.js';

export type { RpcErrorObject };

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

  private constructor(
    private readonly ws: WebSocket,
    private readonly timeoutMs: number | undefined,
  ) {
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.receive(data.toString());
    });
    ws.on('close', (code, reason) => {
      const text = reason.toString();
      this.closed = new RpcConnectionError(`connection closed (${code}${text ? ` ${text}` : ''})`, code, text);
      for (const p of new Set(this.pending.values())) p.fail(this.closed);
    });
    // Errors are followed by 'close', which rejects what is pending; without a listener they would crash.
    ws.on('error', () => {});
  }

  /** Opens a connection. `timeoutMs` bounds the opening (default 10 s) and, when given, every call. */
  static connect(url: string, opts: { timeoutMs?: number } = {}): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: opts.timeoutMs ?? 10_000 });
      ws.once('open', () => {
        ws.removeAllListeners('error');
        resolve(new RpcClient(ws, opts.timeoutMs));
      });
      ws.once('error', (e) => reject(new RpcConnectionError(`cannot connect to ${url}: ${e.message}`)));
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
    else this.ws.once('close', () => fn(this.closed!));
  }

  /** Listens to notifications the node sends (subscriptions). Returns the unsubscribe function. */
  onNotification(fn: (method: string, params: unknown) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Sends a frame as is: a string as a text frame, a Buffer as a binary frame. For tests. */
  sendRaw(text: string | Buffer): void {
    if (this.closed) throw this.closed;
    this.ws.send(text, { binary: typeof text !== 'string' });
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close(1000);
    });
  }

  private request(ids: number[], what: string, text: string, batch = false): Promise<Answer | Answer[]> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
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
    } else if (typeof answer.id === 'number') {
      this.pending.get(answer.id)?.settle(answer);
    } else if (answer.id === null && answer.error) {
      this.batches[0]?.settle(answer);
    }
  }
}
