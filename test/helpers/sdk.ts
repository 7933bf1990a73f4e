/**
 * A fake node for the SDK's unit tests: a ClientTransport whose methods the test scripts, that records
 * every call and can push notifications and connection changes.
 */
import type { ClientTransport, ConnectionStatus } from '../../runtime/client/connection.js';
import { asRpcError, RpcError, type RequestHandler } from '../../runtime/client/rpc-client.js';

export type Handler = (params: any) => unknown;

export class FakeNode implements ClientTransport {
  readonly calls: { method: string; params: any }[] = [];
  private readonly notificationListeners = new Set<(method: string, params: unknown) => void>();
  private readonly statusListeners = new Set<(status: ConnectionStatus) => void>();

  constructor(
    public peerId: string,
    public now: number,
    private readonly handlers: { [method: string]: Handler } = {},
  ) {}

  /** Answers `method` with `handler` from now on. */
  on(method: string, handler: Handler): this {
    this.handlers[method] = handler;
    return this;
  }

  async call<T>(method: string, params: object | undefined): Promise<T> {
    this.calls.push({ method, params });
    if (method === 'node.info') return { peer_id: this.peerId, version: 'fake', addresses: [], uptime_s: 0, now: this.now } as T;
    const handler = this.handlers[method];
    if (!handler) throw new RpcError({ code: -32601, message: `fake node: no ${method}`, data: { code: 'method_not_found' } });
    return (await handler(params)) as T;
  }

  /** The params of the calls of `method`, oldest first. */
  sent(method: string): any[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.params);
  }

  notify(method: string, params: unknown): void {
    for (const fn of this.notificationListeners) fn(method, params);
  }

  status(status: ConnectionStatus): void {
    for (const fn of this.statusListeners) fn(status);
  }

  onNotification(fn: (method: string, params: unknown) => void): () => void {
    this.notificationListeners.add(fn);
    return () => this.notificationListeners.delete(fn);
  }

  /** What answers the node's requests (provider calls), as the SDK set it. */
  requestHandler: RequestHandler | null = null;

  onRequest(fn: RequestHandler): void {
    this.requestHandler = fn;
  }

  /** The node sends the client a request (a provider call); resolves with the client's answer object. */
  async request(method: string, params: unknown): Promise<{ result: unknown } | { error: unknown }> {
    try {
      return { result: await this.requestHandler!(method, params) };
    } catch (e) {
      return { error: asRpcError(e) };
    }
  }

  onStatus(fn: (status: ConnectionStatus) => void): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  async close(): Promise<void> {}
}

/** An RpcError as a node sends it. */
export function rpcError(code: string, message = code, data: Record<string, unknown> = {}): RpcError {
  return new RpcError({ code: 1000, message, data: { code, ...data } });
}

/** Polls `check` until it passes (or throws its last failure after `timeoutMs`). */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 5_000, stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, stepMs));
    }
  }
}
