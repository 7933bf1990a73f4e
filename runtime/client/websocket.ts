/**
 * The SDK's WebSocket: the platform's own where there is one (browsers, Deno, Bun, Node 22+), and the
 * `ws` package on Node 20, loaded only when a connection is opened there. Both speak the standard
 * (WHATWG) interface, which is all the SDK uses.
 */

/** The part of the standard WebSocket interface the SDK uses. */
export interface SocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: never) => void): void;
  removeEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: never) => void): void;
}

type SocketConstructor = new (url: string) => SocketLike;

let found: Promise<SocketConstructor> | null = null;

/** The WebSocket class of this platform. */
export function webSocketClass(): Promise<SocketConstructor> {
  const platform = (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
  if (platform) return Promise.resolve(platform);
  found ??= import('ws').then((m) => m.WebSocket as unknown as SocketConstructor);
  return found;
}

export const OPEN = 1;
export const CLOSED = 3;
