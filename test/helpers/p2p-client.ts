/**
 * A hand-driven peer for black-box tests of a node's `/p2p` endpoint (SPEC §8, protocols/wire.ts): it
 * speaks the wire codec over a raw `ws` socket, so a test can run a correct handshake, break it on
 * purpose, or send frames no real node would. It answers the node's own requests (`ping`, `find_node`)
 * so a node that uses the connection back does not count us as dead.
 *
 * @example
 * const p = await P2pPeer.dial(`${base}/p2p`, identity);
 * await p.handshake();
 * expect(await p.request('ping', {})).toEqual({ t: 'res', id: 1, result: {} });
 */
import { WebSocket, WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { verifyStrict } from '../../protocols/crypto.js';
import { p2pAuthDigest, publicKeyOf, type Identity } from '../../protocols/identity.js';
import { systemRandom } from '../../protocols/random.js';
import { ed25519 } from './objects.js';
import { NONCE_BYTES, WIRE_VERSIONS, decodeFrame, encodeFrame, type Frame, type Hello } from '../../protocols/wire.js';

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface HelloOptions {
  versions?: number[];
  /** The base URL we claim to listen on; null by default. */
  address?: string | null;
  /** Claim this peer id instead of our own. */
  peerId?: string;
}

export class P2pPeer {
  /** Frames from the node, in arrival order, except requests we answered automatically. */
  private readonly queue: Frame[] = [];
  private readonly waiters: Array<(f: Frame) => void> = [];
  /** Requests the node sent us (answered automatically). */
  readonly served: Frame[] = [];
  /** Frames from the node that broke the protocol (a test expects none). */
  readonly problems: string[] = [];
  readonly nonce = systemRandom.bytes(NONCE_BYTES);
  readonly closed: Promise<CloseInfo>;
  theirHello: Hello | null = null;
  private nextId = 1;

  constructor(
    readonly ws: WebSocket,
    readonly identity: Identity,
  ) {
    ws.binaryType = 'nodebuffer';
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data: Buffer, isBinary) => {
      let f: Frame;
      try {
        if (!isBinary) throw new Error('a text frame');
        f = decodeFrame(data);
      } catch (e) {
        this.problems.push(`the node sent ${(e as Error).message}`);
        return;
      }
      if (f.t === 'req' && this.theirHello) return this.answer(f);
      const w = this.waiters.shift();
      if (w) w(f);
      else this.queue.push(f);
    });
  }

  /** Opens a WebSocket to `url` (`ws://HOST:PORT/p2p`). */
  static dial(url: string, identity: Identity): Promise<P2pPeer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
      const peer = new P2pPeer(ws, identity);
      ws.once('open', () => resolve(peer));
      ws.once('error', reject);
    });
  }

  /** The next frame from the node; rejects after `timeoutMs` or when the socket closes first. */
  next(timeoutMs = 3000): Promise<Frame> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        drop();
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (f: Frame) => {
        clearTimeout(timer);
        resolve(f);
      };
      const drop = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
      };
      this.waiters.push(waiter);
      void this.closed.then((c) => {
        clearTimeout(timer);
        drop();
        reject(new Error(`socket closed (${c.code} ${c.reason}) while waiting for a frame`));
      });
    });
  }

  /** Sends a frame, or any value through the frame codec (for malformed frames). */
  send(frame: Frame | Record<string, unknown> | unknown): void {
    this.ws.send(encodeFrame(frame as Frame), { binary: true });
  }

  sendRaw(data: Uint8Array | string, binary = typeof data !== 'string'): void {
    this.ws.send(data, { binary });
  }

  /** Sends our hello. */
  hello(opts: HelloOptions = {}): void {
    this.send({
      t: 'hello',
      versions: opts.versions ?? [...WIRE_VERSIONS],
      peer_id: opts.peerId ?? this.identity.peerId,
      nonce: this.nonce,
      address: opts.address ?? null,
    });
  }

  /** Waits for the node's hello (it sends it as soon as the socket opens). */
  async receiveHello(timeoutMs = 3000): Promise<Hello> {
    const f = await this.next(timeoutMs);
    if (f.t !== 'hello') throw new Error(`expected the node's hello, got ${f.t}`);
    return f;
  }

  /** Our auth for `theirHello`: signature over p2pAuthDigest(their nonce, their peer id, our peer id). */
  authFor(theirHello: Hello, signer: Identity = this.identity, version = 1): Frame {
    return { t: 'auth', version, signature: signer.sign(p2pAuthDigest(theirHello.nonce, theirHello.peer_id, this.identity.peerId)) };
  }

  /**
   * The whole handshake: their hello, our hello, our auth, their auth (verified). Resolves with the
   * node's hello.
   */
  async handshake(opts: HelloOptions = {}): Promise<Hello> {
    const theirs = await this.receiveHello();
    this.hello(opts);
    this.send(this.authFor(theirs));
    const auth = await this.next();
    if (auth.t !== 'auth') throw new Error(`expected the node's auth, got ${auth.t}`);
    const ok = verifyStrict(ed25519, publicKeyOf(theirs.peer_id)!, p2pAuthDigest(this.nonce, this.identity.peerId, theirs.peer_id), auth.signature);
    if (!ok) throw new Error("the node's auth signature does not verify");
    if (auth.version !== 1) throw new Error(`the node agreed on version ${auth.version}`);
    this.theirHello = theirs;
    return theirs;
  }

  /** Sends a request and returns the node's `res` or `err` frame for it. */
  async request(method: string, params: unknown, timeoutMs = 3000): Promise<Frame> {
    const id = this.nextId++;
    this.send({ t: 'req', id, method, params });
    const f = await this.next(timeoutMs);
    if ((f.t !== 'res' && f.t !== 'err') || f.id !== id) throw new Error(`expected the answer to request ${id}, got ${JSON.stringify(f)}`);
    return f;
  }

  close(): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    return this.closed;
  }

  private answer(f: Frame & { t: 'req' }): void {
    this.served.push(f);
    const result = f.method === 'ping' ? {} : f.method === 'find_node' ? { peers: [] } : null;
    if (result) this.send({ t: 'res', id: f.id, result });
    else this.send({ t: 'err', id: f.id, code: 'method_not_found', message: `test peer does not serve ${f.method}` });
  }
}

/**
 * A tiny `/p2p` endpoint for `identity` on a free loopback port, so a node can reach the address a test
 * peer claims in its hello: every inbound connection runs the handshake and answers ping / find_node.
 */
export async function listenP2p(identity: Identity): Promise<{ address: string; connections: P2pPeer[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/p2p' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const connections: P2pPeer[] = [];
  const address = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  wss.on('connection', (ws) => {
    const p = new P2pPeer(ws, identity);
    connections.push(p);
    p.handshake({ address }).catch(() => p.ws.terminate());
  });
  return {
    address,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.ws.terminate();
        wss.close(() => resolve());
      }),
  };
}
