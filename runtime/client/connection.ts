/**
 * The SDK's connection to its node: JSON-RPC calls (runtime/client/rpc-client.ts) over a socket that is
 * reopened with exponential backoff whenever it drops, with a deadline on every call.
 *
 * The SDK talks to this interface only, so its unit tests swap in a fake node.
 */
import { RpcClient, RpcConnectionError } from './rpc-client.js';

export type ConnectionStatus = 'up' | 'down';

/** What the SDK needs from a connection to one node. */
export interface ClientTransport {
  /** Calls `method`; rejects with an RpcError (the node's answer) or an RpcConnectionError (no answer in `timeoutMs`). */
  call<T>(method: string, params: object | undefined, timeoutMs: number): Promise<T>;
  /** Notifications the node pushes (subscriptions). Returns the function that removes the listener. */
  onNotification(fn: (method: string, params: unknown) => void): () => void;
  /** `down` when the connection drops, `up` when it is back. Returns the function that removes the listener. */
  onStatus(fn: (status: ConnectionStatus) => void): () => void;
  close(): Promise<void>;
}

export interface ReconnectOptions {
  /** First wait before reconnecting (default 250 ms); doubled after each failed attempt. */
  reconnectBaseMs?: number;
  /** Longest wait between two attempts (default 5 s). */
  reconnectMaxMs?: number;
}

/** The node's RPC URL from `ws://HOST:PORT/rpc`, `ws://HOST:PORT` or `ws://HOST:PORT/`. */
export function rpcUrlOf(url: string): string {
  const base = url.replace(/\/+$/, '');
  return base.endsWith('/rpc') ? base : `${base}/rpc`;
}

export class ReconnectingTransport implements ClientTransport {
  private rpc: RpcClient | null;
  private closing = false;
  private attempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly notificationListeners = new Set<(method: string, params: unknown) => void>();
  private readonly statusListeners = new Set<(status: ConnectionStatus) => void>();
  /** Calls waiting for the connection to come back. */
  private readonly waiting = new Set<() => void>();

  private constructor(
    readonly url: string,
    rpc: RpcClient,
    private readonly opts: ReconnectOptions,
  ) {
    this.rpc = rpc;
    this.attach(rpc);
  }

  /** Opens the first connection; fails when the node cannot be reached (no retry for the first one). */
  static async connect(url: string, opts: ReconnectOptions = {}): Promise<ReconnectingTransport> {
    const rpcUrl = rpcUrlOf(url);
    return new ReconnectingTransport(rpcUrl, await RpcClient.connect(rpcUrl), opts);
  }

  get connected(): boolean {
    return this.rpc !== null;
  }

  async call<T>(method: string, params: object | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    const rpc = this.rpc ?? (await this.reconnected(deadline, method));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RpcConnectionError(`${method}: no answer from ${this.url} within ${timeoutMs} ms`)), Math.max(0, deadline - Date.now()));
    });
    try {
      return await Promise.race([rpc.call<T>(method, params), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  onNotification(fn: (method: string, params: unknown) => void): () => void {
    this.notificationListeners.add(fn);
    return () => this.notificationListeners.delete(fn);
  }

  onStatus(fn: (status: ConnectionStatus) => void): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    for (const wake of this.waiting) wake();
    const rpc = this.rpc;
    this.rpc = null;
    await rpc?.close();
  }

  private attach(rpc: RpcClient): void {
    rpc.onNotification((method, params) => {
      for (const fn of this.notificationListeners) fn(method, params);
    });
    rpc.onClose(() => {
      if (this.rpc !== rpc) return;
      this.rpc = null;
      if (this.closing) return;
      this.emit('down');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    const base = this.opts.reconnectBaseMs ?? 250;
    const max = this.opts.reconnectMaxMs ?? 5_000;
    const delay = Math.min(max, base * 2 ** this.attempts);
    this.attempts++;
    this.retryTimer = setTimeout(() => void this.reconnect(), delay);
  }

  private async reconnect(): Promise<void> {
    let rpc: RpcClient;
    try {
      rpc = await RpcClient.connect(this.url);
    } catch {
      if (!this.closing) this.scheduleReconnect();
      return;
    }
    if (this.closing) {
      await rpc.close();
      return;
    }
    this.attempts = 0;
    this.rpc = rpc;
    this.attach(rpc);
    for (const wake of this.waiting) wake();
    this.emit('up');
  }

  private emit(status: ConnectionStatus): void {
    for (const fn of this.statusListeners) fn(status);
  }

  /** Waits for the connection to come back, until `deadline`. */
  private reconnected(deadline: number, method: string): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      const fail = () => reject(new RpcConnectionError(`${method}: not connected to ${this.url}${this.closing ? ' (the client is closed)' : ' (reconnecting)'}`));
      if (this.closing) return fail();
      const timer = setTimeout(() => {
        this.waiting.delete(wake);
        fail();
      }, Math.max(0, deadline - Date.now()));
      const wake = () => {
        clearTimeout(timer);
        this.waiting.delete(wake);
        if (this.rpc) resolve(this.rpc);
        else fail();
      };
      this.waiting.add(wake);
    });
  }
}
