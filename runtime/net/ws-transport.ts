/**
 * Node-to-node transport (DESIGN: runtime/transport; SPEC §8; the wire protocol is protocols/wire.ts).
 *
 * One authenticated WebSocket per pair of nodes, at `/p2p` on the node's own HTTP server, reused by both
 * directions and closed when idle. Every frame is checked before it is acted on: an oversized frame
 * closes the socket (1009), a frame that does not decode or fails its schema fails its request and costs
 * the peer a point of its misbehaviour budget; a peer over budget is disconnected and banned for a while.
 *
 * Backpressure: a request to a peer whose socket has more than `4 × max_frame_bytes` unsent fails at once
 * (`peer_unreachable`) instead of queueing without bound; a peer that sends more than
 * `max_concurrent_requests` requests at a time, or does not read our answers, stops being read until it
 * catches up (TCP pushes back on it).
 */
import type http from 'node:http';
import { WebSocket } from 'ws';
import { SignpostError, ERROR_CODES, type ErrorCode } from '../../protocols/errors.js';
import { p2pAuthDigest, publicKeyOf, sign, type Identity } from '../../protocols/identity.js';
import { randomBytes, verifyStrict } from '../../protocols/crypto.js';
import {
  NONCE_BYTES,
  WIRE_VERSIONS,
  agreedVersion,
  decodeFrame,
  encodeFrame,
  parsePeerRequest,
  type Frame,
  type Hello,
  type PeerRequest,
} from '../../protocols/wire.js';
import { WebSocketServer, routeUpgrade } from '../base/websocket.js';
import type { Logger } from '../base/log.js';

/** The other end of an authenticated connection. `address` is the base URL it says it listens on. */
export interface PeerLink {
  peerId: string;
  address: string | null;
}

export interface TransportOptions {
  identity: Identity;
  /** This node's base URL, told to peers in the hello (null until it listens). */
  ownAddress(): string | null;
  maxFrameBytes: number;
  maxConcurrentRequests: number;
  /** Serves an authenticated peer's request; a SignpostError becomes an `err` frame with its code. */
  serve(from: PeerLink, req: PeerRequest): Promise<unknown>;
  /** A peer authenticated (either direction), and again when it sends frames afterwards (at most once a second). */
  onPeer(peer: PeerLink): void;
  /** A peer was banned (it should leave the routing table, not be handed out to others). */
  onBan?(peerId: string): void;
  log: Logger;
  handshakeTimeoutMs?: number;
  /** A connection with nothing in flight for this long is closed. */
  idleMs?: number;
  /** Protocol violations (bad frames, failed schemas) a peer may commit per minute. */
  misbehaviourBudget?: number;
  banMs?: number;
}

export const P2P_PATH = '/p2p';
const CLOSE_HANDSHAKE_FAILED = 4001;
const CLOSE_NO_COMMON_VERSION = 4002;
const CLOSE_BANNED = 4003;
const CLOSE_MISBEHAVIOUR = 1008;
/** A peer's frames refresh it in the routing table at most this often (per connection). */
const HEARD_EVERY_MS = 1000;
/** An oversized frame costs more than a malformed one: the peer made us read up to the limit. */
const OVERSIZED_FRAME_POINTS = 4;

interface Pending {
  resolve(r: unknown): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/** One WebSocket to another node: handshake, then request/response both ways. */
class PeerConnection {
  remote: PeerLink | null = null;
  readonly ready: Promise<PeerLink>;
  lastActivity = Date.now();
  private readonly nonce = randomBytes(NONCE_BYTES);
  private theirHello: Hello | null = null;
  private version: number | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private servingCount = 0;
  /** When this peer was last reported to `onPeer` (wall clock ms); the handshake reports it first. */
  private lastHeard = 0;
  private closed = false;
  private oversized = false;
  private settleReady!: { resolve(p: PeerLink): void; reject(e: Error): void };

  constructor(
    readonly ws: WebSocket,
    readonly label: string,
    private readonly t: Transport,
  ) {
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    this.ready.catch(() => undefined);
    const handshakeTimer = setTimeout(() => this.close(CLOSE_HANDSHAKE_FAILED, 'handshake timed out'), t.handshakeTimeoutMs);
    this.ready.then(() => clearTimeout(handshakeTimer), () => clearTimeout(handshakeTimer));
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary));
    // 'close' follows every error. A frame over maxPayload is refused by ws itself: the peer sees 1009,
    // but this side's close event says 1006, so the error is where the oversized frame is noticed.
    ws.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.oversized = true;
    });
    ws.on('close', (code, reason) => this.onClosed(code, reason.toString()));
    const hello = () => this.send({ t: 'hello', versions: [...WIRE_VERSIONS], peer_id: t.identity.peerId, nonce: this.nonce, address: t.opts.ownAddress() });
    if (ws.readyState === WebSocket.OPEN) hello();
    else ws.once('open', hello);
  }

  get busy(): boolean {
    return this.pending.size > 0 || this.servingCount > 0;
  }

  get isOpen(): boolean {
    return !this.closed && this.remote !== null;
  }

  request(method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    const who = this.remote?.peerId ?? this.label;
    if (this.closed) return Promise.reject(new SignpostError('peer_unreachable', `connection to ${who} is closed`));
    if (this.ws.bufferedAmount > this.t.sendBufferLimit) {
      return Promise.reject(new SignpostError('peer_unreachable', `${who} is not reading: ${this.ws.bufferedAmount} bytes unsent`));
    }
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const frame = encodeFrame({ t: 'req', id, method, params });
    if (frame.length > this.t.maxFrameBytes) {
      return Promise.reject(new SignpostError('invalid_params', `${method} to ${who}: ${frame.length} bytes exceed max_frame_bytes ${this.t.maxFrameBytes}`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SignpostError('peer_timeout', `${who} did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.lastActivity = Date.now();
      this.ws.send(frame);
    });
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
    else this.ws.terminate();
  }

  private send(f: Frame): void {
    if (!this.closed && this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeFrame(f), () => this.updateFlow());
  }

  private receive(data: Buffer, isBinary: boolean): void {
    this.lastActivity = Date.now();
    if (!isBinary) return this.violation('text frame on /p2p');
    let f: Frame;
    try {
      f = decodeFrame(data);
    } catch (e) {
      return this.violation((e as Error).message);
    }
    if (!this.remote) return this.handshake(f);
    this.heard();
    switch (f.t) {
      case 'req':
        return this.serve(f.id, f.method, f.params);
      case 'res':
      case 'err': {
        const p = this.pending.get(f.id);
        if (!p) return; // answered after its timeout
        this.pending.delete(f.id);
        clearTimeout(p.timer);
        if (f.t === 'res') return p.resolve(f.result);
        const code = (Object.hasOwn(ERROR_CODES, f.code) ? f.code : 'internal_error') as ErrorCode;
        return p.reject(new SignpostError(code, `${this.remote.peerId}: ${f.message}`));
      }
      default:
        return this.violation(`unexpected ${f.t} after the handshake`);
    }
  }

  /**
   * Kademlia's rule: a message from a peer refreshes it in the routing table, so a peer dropped after one
   * slow answer comes back once it is heard from again on this same connection. At most once a second
   * per connection: a full bucket pings its oldest contact for each report of a newcomer. A banned peer's
   * last frames, read while its connection closes, do not bring it back.
   */
  private heard(): void {
    const now = Date.now();
    if (this.closed || now - this.lastHeard < HEARD_EVERY_MS || this.t.isBanned(this.remote!.peerId)) return;
    this.lastHeard = now;
    this.t.opts.onPeer(this.remote!);
  }

  private handshake(f: Frame): void {
    if (f.t === 'hello' && !this.theirHello) {
      this.version = agreedVersion(f.versions);
      if (this.version === null) {
        return this.close(CLOSE_NO_COMMON_VERSION, `no common wire version (ours ${WIRE_VERSIONS.join(',')}, theirs ${f.versions.join(',')})`);
      }
      if (f.peer_id === this.t.identity.peerId) return this.close(CLOSE_HANDSHAKE_FAILED, 'connected to itself');
      if (this.t.isBanned(f.peer_id)) return this.close(CLOSE_BANNED, 'banned for misbehaviour');
      this.theirHello = f;
      const signature = sign(this.t.identity, p2pAuthDigest(f.nonce, f.peer_id, this.t.identity.peerId));
      return this.send({ t: 'auth', version: this.version, signature });
    }
    if (f.t === 'auth' && this.theirHello) {
      const them = this.theirHello.peer_id;
      const ok = f.version === this.version && verifyStrict(publicKeyOf(them)!, p2pAuthDigest(this.nonce, this.t.identity.peerId, them), f.signature);
      if (!ok) return this.close(CLOSE_HANDSHAKE_FAILED, 'handshake signature does not verify');
      this.remote = { peerId: them, address: this.theirHello.address };
      this.lastHeard = Date.now();
      this.settleReady.resolve(this.remote);
      return;
    }
    this.close(CLOSE_HANDSHAKE_FAILED, `unexpected ${f.t} during the handshake`);
  }

  private serve(id: number, method: string, params: unknown): void {
    let req: PeerRequest;
    try {
      req = parsePeerRequest(method, params);
    } catch (e) {
      this.answerError(id, e);
      return this.violation(`${method}: ${(e as Error).message}`);
    }
    this.servingCount++;
    this.updateFlow();
    this.t.opts.serve(this.remote!, req).then(
      (result) => this.send({ t: 'res', id, result: result ?? {} }),
      (e) => this.answerError(id, e),
    ).finally(() => {
      this.servingCount--;
      this.lastActivity = Date.now();
      this.updateFlow();
    });
  }

  private answerError(id: number, e: unknown): void {
    if (e instanceof SignpostError) return this.send({ t: 'err', id, code: e.code, message: e.message });
    this.t.opts.log.error('peer request failed', { peer: this.remote?.peerId, error: e instanceof Error ? e.stack : String(e) });
    this.send({ t: 'err', id, code: 'internal_error', message: e instanceof Error ? e.message : String(e) });
  }

  /** Stops reading while too much is in flight or unsent, so a greedy peer is slowed by TCP, not buffered. */
  private updateFlow(): void {
    if (this.closed) return;
    const hold = this.servingCount >= this.t.opts.maxConcurrentRequests || this.ws.bufferedAmount > this.t.sendBufferLimit;
    if (hold && !this.ws.isPaused) this.ws.pause();
    else if (!hold && this.ws.isPaused) this.ws.resume();
  }

  private violation(what: string): void {
    if (!this.remote) return this.close(CLOSE_HANDSHAKE_FAILED, what.slice(0, 120));
    this.t.opts.log.debug('peer misbehaved', { peer: this.remote.peerId, what });
    if (this.t.penalise(this.remote.peerId)) this.close(CLOSE_MISBEHAVIOUR, 'misbehaviour budget exceeded');
  }

  private onClosed(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if ((this.oversized || code === 1009) && this.remote) this.t.penalise(this.remote.peerId, OVERSIZED_FRAME_POINTS);
    const who = this.remote?.peerId ?? this.label;
    const error = new SignpostError('peer_unreachable', `connection to ${who} closed (${code}${reason ? ` ${reason}` : ''})`);
    this.settleReady.reject(error);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.pending.clear();
    this.t.forget(this);
  }
}

/**
 * Connections to other nodes, both directions.
 *
 * @example
 * const transport = new Transport({ identity, ownAddress: () => url, maxFrameBytes, maxConcurrentRequests, serve, onPeer, log });
 * transport.attach(server);
 * const answer = await transport.request({ address: 'ws://127.0.0.1:7071' }, 'ping', {}, 2000);
 */
export class Transport {
  readonly identity: Identity;
  readonly maxFrameBytes: number;
  readonly sendBufferLimit: number;
  readonly handshakeTimeoutMs: number;
  /** The connection used for requests to each authenticated peer. */
  private readonly byPeer = new Map<string, PeerConnection>();
  private readonly all = new Set<PeerConnection>();
  private readonly dialing = new Map<string, Promise<PeerConnection>>();
  private readonly penalties = new Map<string, { points: number; since: number }>();
  private readonly bans = new Map<string, number>();
  private readonly sweeper: ReturnType<typeof setInterval>;
  private release: (() => void) | null = null;
  private wss: InstanceType<typeof WebSocketServer> | null = null;
  private stopped = false;

  constructor(readonly opts: TransportOptions) {
    this.identity = opts.identity;
    this.maxFrameBytes = opts.maxFrameBytes;
    this.sendBufferLimit = 4 * opts.maxFrameBytes;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 5000;
    const idleMs = opts.idleMs ?? 120_000;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const c of this.all) if (!c.busy && now - c.lastActivity > idleMs) c.close(1000, 'idle');
      for (const [peer, until] of this.bans) if (until <= now) this.bans.delete(peer);
      for (const [peer, p] of this.penalties) if (now - p.since > 60_000) this.penalties.delete(peer);
    }, Math.min(idleMs, 30_000));
    this.sweeper.unref?.();
  }

  /** Serves `/p2p` on `server`. */
  attach(server: http.Server): void {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.maxFrameBytes });
    this.release = routeUpgrade(server, P2P_PATH, (req, socket, head) => {
      if (this.stopped) return socket.destroy();
      this.wss!.handleUpgrade(req, socket, head, (ws) => this.adopt(new PeerConnection(ws, `inbound ${req.socket.remoteAddress}:${req.socket.remotePort}`, this)));
    });
  }

  /**
   * Sends one request to a peer, over its open connection or a new one to `address`; `peerId`, when
   * given, must be who answers there. Fails with `peer_unreachable`, `peer_timeout` or the peer's error.
   */
  async request(to: { peerId?: string; address: string | null }, method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    const conn = await withTimeout(this.connection(to), timeoutMs, () => new SignpostError('peer_timeout', `${to.peerId ?? to.address} did not connect within ${timeoutMs} ms`));
    return conn.request(method, params, Math.max(1, deadline - Date.now()));
  }

  /** Authenticated peers with an open connection. */
  connectedPeers(): PeerLink[] {
    return [...this.byPeer.values()].filter((c) => c.isOpen).map((c) => c.remote!);
  }

  isBanned(peerId: string): boolean {
    const until = this.bans.get(peerId);
    return until !== undefined && until > Date.now();
  }

  /** Adds `points` against `peerId`; true (and the peer is banned) when it is over its budget. */
  penalise(peerId: string, points = 1): boolean {
    const now = Date.now();
    const p = this.penalties.get(peerId) ?? { points: 0, since: now };
    p.points += points;
    this.penalties.set(peerId, p);
    if (p.points <= (this.opts.misbehaviourBudget ?? 16)) return false;
    this.bans.set(peerId, now + (this.opts.banMs ?? 600_000));
    this.penalties.delete(peerId);
    this.opts.log.warn('peer banned for misbehaviour', { peer: peerId, ban_ms: this.opts.banMs ?? 600_000 });
    this.opts.onBan?.(peerId);
    for (const c of this.all) if (c.remote?.peerId === peerId) c.close(CLOSE_MISBEHAVIOUR, 'misbehaviour budget exceeded');
    return true;
  }

  /** Called by a connection when it closed. */
  forget(c: PeerConnection): void {
    this.all.delete(c);
    if (c.remote && this.byPeer.get(c.remote.peerId) === c) {
      this.byPeer.delete(c.remote.peerId);
      // Another open connection to the same peer (both dialled at once) takes over.
      for (const o of this.all) if (o.isOpen && o.remote!.peerId === c.remote.peerId) this.byPeer.set(c.remote.peerId, o);
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    this.release?.();
    const closing = [...this.all].map((c) => new Promise<void>((resolve) => {
      if (c.ws.readyState === WebSocket.CLOSED) return resolve();
      c.ws.once('close', () => resolve());
      c.close(1001, 'node shutting down');
      setTimeout(() => (c.ws.terminate(), resolve()), 1000).unref?.();
    }));
    await Promise.all(closing);
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
  }

  private async connection(to: { peerId?: string; address: string | null }): Promise<PeerConnection> {
    if (this.stopped) throw new SignpostError('peer_unreachable', 'node is shutting down');
    const open = to.peerId ? this.byPeer.get(to.peerId) : undefined;
    if (open?.isOpen) return open;
    if (!to.address) throw new SignpostError('peer_unreachable', `no address known for ${to.peerId}`);
    if (to.peerId && this.isBanned(to.peerId)) throw new SignpostError('peer_unreachable', `${to.peerId} is banned for misbehaviour`);
    let dial = this.dialing.get(to.address);
    if (!dial) {
      dial = this.dial(to.address).finally(() => this.dialing.delete(to.address!));
      this.dialing.set(to.address, dial);
    }
    const conn = await dial;
    if (to.peerId && conn.remote!.peerId !== to.peerId) {
      throw new SignpostError('peer_unreachable', `${to.address} is ${conn.remote!.peerId}, not ${to.peerId}`);
    }
    return conn;
  }

  private async dial(address: string): Promise<PeerConnection> {
    const ws = new WebSocket(`${address}${P2P_PATH}`, { maxPayload: this.maxFrameBytes, handshakeTimeout: this.handshakeTimeoutMs });
    const conn = new PeerConnection(ws, address, this);
    this.adopt(conn);
    try {
      return (await conn.ready, conn);
    } catch (e) {
      throw new SignpostError('peer_unreachable', `cannot connect to ${address}: ${(e as Error).message}`);
    }
  }

  private adopt(c: PeerConnection): void {
    if (this.stopped) return c.close(1001, 'node shutting down');
    this.all.add(c);
    c.ready.then((peer) => {
      const current = this.byPeer.get(peer.peerId);
      if (!current?.isOpen) this.byPeer.set(peer.peerId, c);
      this.opts.onPeer(peer);
    }, () => undefined);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(error()), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}
