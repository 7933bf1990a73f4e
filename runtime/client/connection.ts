/**
 * The SDK's connection to its node: JSON-RPC calls (rpc-client.ts) over a socket that is reopened with
 * exponential backoff whenever it drops (the node-connection machine, actors/node-connection.ts), with a
 * deadline on every call.
 *
 * The SDK talks to the ClientTransport interface only, so its unit tests swap in a fake node.
 */
import { createActor, fromPromise, waitFor, type Actor } from 'xstate';
import { nodeConnectionMachine, type NodeSocket } from '../../actors/node-connection.js';
import { rpcUrlOf } from '../../protocols/urls.js';
import { RpcClient, RpcConnectionError, type RequestHandler } from './rpc-client.js';

export type ConnectionStatus = 'up' | 'down';

/** What the SDK needs from a connection to one node. */
export interface ClientTransport {
  /** Calls `method`; rejects with an RpcError (the node's answer) or an RpcConnectionError (no answer in `timeoutMs`). */
  call<T>(method: string, params: object | undefined, timeoutMs: number): Promise<T>;
  /** Notifications the node pushes (subscriptions). Returns the function that removes the listener. */
  onNotification(fn: (method: string, params: unknown) => void): () => void;
  /** Answers the requests the node sends (provider calls, SPEC §9.5), on this and every later connection. */
  onRequest(fn: RequestHandler): void;
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

export { rpcUrlOf };

export class ReconnectingTransport implements ClientTransport {
  /** The connection's actor: its state is the connection's (`connecting`, `open`, `backoff`, …). */
  readonly actor: Actor<typeof nodeConnectionMachine>;
  private readonly notificationListeners = new Set<(method: string, params: unknown) => void>();
  private readonly statusListeners = new Set<(status: ConnectionStatus) => void>();
  private closing = false;
  private requestHandler: RequestHandler | null = null;
  /** The connection last opened (the one in use while the actor is `open`). */
  private current: RpcClient | null = null;

  private constructor(readonly url: string, opts: ReconnectOptions) {
    const machine = nodeConnectionMachine.provide({
      actors: {
        open: fromPromise<NodeSocket, { url: string }>(async ({ input }) => {
          const rpc = await RpcClient.connect(input.url);
          // Closed while this connection was being opened: it is not wanted any more.
          if (this.closing) await rpc.close();
          this.current = rpc;
          rpc.onRequest(this.requestHandler);
          rpc.onNotification((method, params) => {
            for (const fn of this.notificationListeners) fn(method, params);
          });
          return rpc;
        }),
      },
    });
    this.actor = createActor(machine, { input: { url, reconnectBaseMs: opts.reconnectBaseMs, reconnectMaxMs: opts.reconnectMaxMs } });
    let was: string | null = null;
    this.actor.subscribe((s) => {
      const now = s.value;
      if (now === was) return;
      if (was === 'open') this.emit('down');
      else if (now === 'open' && s.context.opened > 1) this.emit('up');
      was = now;
    });
    this.actor.start();
  }

  /** Opens the first connection; fails when the node cannot be reached (no retry for the first one). */
  static async connect(url: string, opts: ReconnectOptions = {}): Promise<ReconnectingTransport> {
    const t = new ReconnectingTransport(rpcUrlOf(url), opts);
    const first = await waitFor(t.actor, (s) => s.value === 'open' || s.status === 'done');
    if (first.value !== 'open') throw new RpcConnectionError(first.context.lastError ?? `cannot connect to ${t.url}`);
    return t;
  }

  get connected(): boolean {
    return this.actor.getSnapshot().value === 'open';
  }

  async call<T>(method: string, params: object | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    const rpc = await this.open(deadline, method);
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

  onRequest(fn: RequestHandler): void {
    this.requestHandler = fn;
    this.current?.onRequest(fn);
  }

  onStatus(fn: (status: ConnectionStatus) => void): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.actor.send({ type: 'close' });
    await waitFor(this.actor, (s) => s.status === 'done');
  }

  private emit(status: ConnectionStatus): void {
    for (const fn of this.statusListeners) fn(status);
  }

  /** The open connection, waiting for it to come back until `deadline`. */
  private async open(deadline: number, method: string): Promise<RpcClient> {
    const notConnected = () => new RpcConnectionError(`${method}: not connected to ${this.url}${this.closing ? ' (the client is closed)' : ' (reconnecting)'}`);
    const s = this.actor.getSnapshot();
    if (s.value === 'open') return this.current!;
    if (s.status === 'done' || this.closing) throw notConnected();
    try {
      const back = await waitFor(this.actor, (x) => x.value === 'open' || x.status === 'done', { timeout: Math.max(0, deadline - Date.now()) });
      if (back.value === 'open') return this.current!;
    } catch {
      // the deadline passed
    }
    throw notConnected();
  }
}
