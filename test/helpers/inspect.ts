/**
 * A client of a node's live inspection stream (`ws://HOST:PORT/inspect`) for black-box tests: keeps every
 * message in arrival order and waits, with a bound, for messages or events that match.
 */
import { WebSocket } from 'ws';

export interface InspectEvent {
  id: string;
  kind: string;
  event: { type: string };
  state_before: unknown;
  state_after: unknown;
  at: number;
}

export class InspectClient {
  /** Every message received, parsed, in arrival order. */
  readonly messages: any[] = [];
  private readonly listeners = new Set<() => void>();
  readonly closed: Promise<void>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()));
      for (const l of this.listeners) l();
    });
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
  }

  /** Connects to `/inspect` of the node whose base HTTP URL is `httpUrl` (http://HOST:PORT/). */
  static open(httpUrl: string, timeoutMs = 5000): Promise<InspectClient> {
    const url = new URL('/inspect', httpUrl.replace(/^http/, 'ws'));
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
      const client = new InspectClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', (e) => reject(new Error(`cannot connect to ${url}: ${e.message}`)));
    });
  }

  /** Every event of every `events` message so far, in order. */
  events(): InspectEvent[] {
    return this.messages.filter((m) => m.type === 'events').flatMap((m) => m.events as InspectEvent[]);
  }

  /** Resolves with `check()`'s first truthy value, re-checked on every message; fails after `timeoutMs`. */
  until<T>(check: () => T | undefined | null | false, what: string, timeoutMs = 5000): Promise<T> {
    return new Promise((resolve, reject) => {
      const test = () => {
        const v = check();
        if (!v) return false;
        cleanup();
        resolve(v);
        return true;
      };
      const listener = () => void test();
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`inspect: no ${what} within ${timeoutMs} ms; received ${JSON.stringify(this.messages).slice(-2000)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      this.listeners.add(listener);
      test();
    });
  }

  /** The first message (waiting for it). */
  first(timeoutMs = 5000): Promise<any> {
    return this.until(() => this.messages[0], 'first message', timeoutMs);
  }

  /** Waits until the events of actor `id` satisfy `done`; resolves with them. */
  eventsOf(id: string, done: (events: InspectEvent[]) => boolean, timeoutMs = 5000): Promise<InspectEvent[]> {
    return this.until(
      () => {
        const list = this.events().filter((e) => e.id === id);
        return done(list) ? list : undefined;
      },
      `expected events of ${id}`,
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, 2000))]);
  }
}
