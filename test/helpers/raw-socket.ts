/**
 * A bare WebSocket for black-box tests that send frames the RPC client never would (invalid JSON,
 * oversized or binary frames) and read every answer, in arrival order, as parsed JSON.
 */
import { WebSocket } from 'ws';

export interface CloseInfo {
  code: number;
  reason: string;
}

export class RawSocket {
  private readonly queue: unknown[] = [];
  private readonly waiters: Array<(msg: unknown) => void> = [];
  /** Every message received so far, parsed (also those already taken with `next`). */
  readonly received: unknown[] = [];
  /** Resolves when the socket closes. */
  readonly closed: Promise<CloseInfo>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = data.toString();
      let msg: unknown;
      try {
        msg = JSON.parse(text);
      } catch {
        msg = { unparsable: text };
      }
      this.received.push(msg);
      const w = this.waiters.shift();
      if (w) w(msg);
      else this.queue.push(msg);
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static open(url: string): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
      ws.once('open', () => resolve(new RawSocket(ws)));
      ws.once('error', reject);
    });
  }

  send(frame: string | Buffer, opts: { binary?: boolean } = {}): void {
    this.ws.send(frame, { binary: opts.binary ?? typeof frame !== 'string' });
  }

  /** The next message (queued or future); rejects after `timeoutMs`. */
  next(timeoutMs = 5000): Promise<any> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no message within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (msg: unknown) => {
        clearTimeout(timer);
        resolve(msg);
      };
      this.waiters.push(waiter);
    });
  }

  /** Sends one frame and returns the next message. */
  async roundTrip(frame: string | object, timeoutMs = 5000): Promise<any> {
    this.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    return this.next(timeoutMs);
  }

  /** True when nothing arrives within `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    try {
      const msg = await this.next(ms);
      this.queue.unshift(msg);
      return false;
    } catch {
      return true;
    }
  }

  close(): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    return this.closed;
  }
}
