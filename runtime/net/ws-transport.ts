/**
 * The WebSocket transport (SPEC §8; the wire protocol is protocols/wire.ts): one authenticated WebSocket
 * per pair of nodes, at `/p2p` on the node's own HTTP server, used by both directions. Each connection's
 * lifecycle (handshake deadline, idle timeout, ban, close) is a connection actor (actors/connection.ts),
 * visible in `actors.list` and the visualiser; this file owns the socket and the frames.
 *
 * Every frame is checked before it is acted on: an oversized frame closes the socket (1009) and costs the
 * peer 4 points; a frame that does not decode or fails its schema fails its request and costs the peer a
 * point of its misbehaviour budget (net/misbehaviour.ts); a peer over budget is disconnected and banned.
 *
 * Backpressure: a request to a peer whose socket has more than `4 × max_frame_bytes` unsent fails at once
 * (`peer_unreachable`) instead of queueing without bound; a peer that sends more than
 * `max_concurrent_requests` requests at a time, or does not read our answers, stops being read until it
 * catches up (TCP pushes back on it).
 */
import type http from 'node:http';
import { WebSocket } from 'ws';
import { createActor, type Actor } from 'xstate';
import { SignpostError, ERROR_CODES, type ErrorCode } from '../../protocols/errors.js';
import { p2pAuthDigest, publicKeyOf, type Identity } from '../../protocols/identity.js';
import { verifyStrict, type Ed25519 } from '../../protocols/crypto.js';
import type { Random } from '../../protocols/random.js';
import { hostOf } from '../../protocols/urls.js';
import {
  NONCE_BYTES,
  WIRE_VERSIONS,
  agreedVersion,
  decodeFrame,
  encodeFrame,
  errorFrame,
  parsePeerRequest,
  type Frame,
  type Hello,
} from '../../protocols/wire.js';
import { CLOSE, connectionMachine } from '../../actors/connection.js';
import { WebSocketServer, routeUpgrade } from '../base/websocket.js';
import type { Timers } from '../base/clock.js';
import type { Logger } from '../base/log.js';
import { InspectionTracker, machineJson, type ActorDetail, type ActorEvent, type ActorSource, type ActorSummary } from '../inspect/actor-view.js';
import { DialBack } from './dial-back.js';
import { Misbehaviour } from './misbehaviour.js';
import type { PeerHandler, PeerLink, PeerTarget, Transport, TransportEvents } from './transport.js';

export interface WsTransportOptions {
  identity: Identity;
  ed25519: Ed25519;
  random: Random;
  timers: Timers;
  /** Node clock (seconds), for inspection. */
  now(): number;
  /** The base URLs this node announces (the first is told to peers in the hello; none until it listens). */
  ownAddresses(): string[];
  maxFrameBytes: number;
  maxConcurrentRequests: number;
  log: Logger;
  onInspect(e: ActorEvent): void;
  handshakeTimeoutMs?: number;
  /** A connection with nothing in flight for this long is closed. */
  idleMs?: number;
  /** Dial-backs that check announced addresses: at most this many a minute (default 120). */
  dialBacksPerMinute?: number;
  /** Protocol violations (bad frames, failed schemas) a peer may commit per minute. */
  misbehaviourBudget?: number;
  banMs?: number;
}

export const P2P_PATH = '/p2p';
export const CONNECTION_ACTOR_PREFIX = 'connection:';
/** A peer's frames refresh it in the routing table at most this often (per connection). */
const HEARD_EVERY_MS = 1000;
/** An oversized frame costs more than a malformed one: the peer made us read up to the limit. */
const OVERSIZED_FRAME_POINTS = 4;
const CONNECTION_MACHINE = machineJson(connectionMachine);

interface Pending {
  resolve(r: unknown): void;
  reject(e: Error): void;
  timer: unknown;
  method: string;
  /** Bytes of the request frame. */
  sent: number;
}

/** One WebSocket to another node: its actor, the handshake, then request/response both ways. */
class PeerConnection {
  remote: PeerLink | null = null;
  /** Whether `remote.address` is known to reach the peer: only then is it handed to the routing table. */
  addressVerified = false;
  readonly ready: Promise<PeerLink>;
  readonly actor: Actor<typeof connectionMachine>;
  readonly startedAt: number;
  private lastActivity: number;
  private readonly nonce: Uint8Array;
  private theirHello: Hello | null = null;
  private version: number | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private servingCount = 0;
  /** When this peer was last reported as heard from (wall clock ms); the handshake reports it first. */
  private lastHeard = 0;
  private closed = false;
  private oversized = false;
  private settleReady!: { resolve(p: PeerLink): void; reject(e: Error): void };

  constructor(
    readonly ws: WebSocket,
    readonly id: string,
    readonly direction: 'inbound' | 'outbound',
    /** Outbound: the URL dialled; inbound: the remote host:port. */
    readonly label: string,
    /** The host this side sees the other at (told to it in the hello). */
    observed: string,
    private readonly t: WsTransport,
  ) {
    this.lastActivity = t.timers.now();
    this.startedAt = t.opts.now();
    this.nonce = t.opts.random.bytes(NONCE_BYTES);
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    this.ready.catch(() => undefined);
    this.actor = createActor(connectionMachine, {
      id,
      clock: t.timers,
      input: {
        direction,
        label,
        handshakeTimeoutMs: t.handshakeTimeoutMs,
        idleMs: t.idleMs,
        io: {
          close: (code, reason) => {
            if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
            else ws.terminate();
          },
          terminate: () => ws.terminate(),
          idleFor: () => (this.busy ? 0 : t.timers.now() - this.lastActivity),
        },
      },
      inspect: t.inspection.inspector(id, 'connection'),
    });
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary));
    // 'close' follows every error. A frame over maxPayload is refused by ws itself: the peer sees 1009,
    // but this side's close event says 1006, so the error is where the oversized frame is noticed.
    ws.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.oversized = true;
    });
    ws.on('close', (code, reason) => this.onClosed(code, reason.toString()));
    this.actor.start();
    const hello = () => {
      this.actor.send({ type: 'socket.open' });
      this.send({ t: 'hello', versions: [...WIRE_VERSIONS], peer_id: t.identity.peerId, nonce: this.nonce, address: t.opts.ownAddresses()[0] ?? null, observed });
    };
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
    const who = this.remote?.peerId ?? this.id;
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
    const timers = this.t.timers;
    return new Promise((resolve, reject) => {
      const timer = timers.setTimeout(() => {
        this.pending.delete(id);
        this.traffic(method, false, frame.length, 0);
        reject(new SignpostError('peer_timeout', `${who} did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, method, sent: frame.length });
      this.lastActivity = timers.now();
      this.ws.send(frame);
    });
  }

  /** Ends the connection through its actor (`code` and `reason` go to the peer). */
  close(code: number, reason: string): void {
    this.actor.send({ type: 'close', code, reason });
  }

  ban(): void {
    this.actor.send({ type: 'ban' });
  }

  /** Sends a frame; returns its size (0 when the socket is no longer open). */
  private send(f: Frame): number {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return 0;
    const bytes = encodeFrame(f);
    this.ws.send(bytes, () => this.updateFlow());
    return bytes.length;
  }

  private traffic(method: string, served: boolean, sent: number, received: number): void {
    if (this.remote) this.t.events.traffic?.({ peerId: this.remote.peerId, method, served, sent, received });
  }

  private receive(data: Buffer, isBinary: boolean): void {
    this.lastActivity = this.t.timers.now();
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
        return this.serve(f.id, f.method, f.params, data.length);
      case 'res':
      case 'err': {
        const p = this.pending.get(f.id);
        if (!p) return; // answered after its timeout
        this.pending.delete(f.id);
        this.t.timers.clearTimeout(p.timer);
        this.traffic(p.method, false, p.sent, data.length);
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
    const now = this.t.timers.now();
    if (this.closed || now - this.lastHeard < HEARD_EVERY_MS || this.t.isBanned(this.remote!.peerId)) return;
    this.lastHeard = now;
    // Not in the routing table until its address is known to reach it: check again (the outcome is cached).
    if (!this.addressVerified) return this.t.checkAddress(this, this.remote!);
    this.t.events.peer?.(this.remote!);
  }

  private refuse(code: number, reason: string): void {
    this.actor.send({ type: 'refuse', code, reason });
  }

  private handshake(f: Frame): void {
    const t = this.t;
    if (f.t === 'hello' && !this.theirHello) {
      this.version = agreedVersion(f.versions);
      if (this.version === null) {
        return this.refuse(CLOSE.noCommonVersion, `no common wire version (ours ${WIRE_VERSIONS.join(',')}, theirs ${f.versions.join(',')})`);
      }
      if (f.peer_id === t.identity.peerId) return this.refuse(CLOSE.handshakeFailed, 'connected to itself');
      if (t.isBanned(f.peer_id)) return this.refuse(CLOSE.banned, 'banned for misbehaviour');
      this.theirHello = f;
      if (f.observed) t.noteObserved(f.observed, f.peer_id);
      const signature = t.identity.sign(p2pAuthDigest(f.nonce, f.peer_id, t.identity.peerId));
      this.send({ t: 'auth', version: this.version, signature });
      return;
    }
    if (f.t === 'auth' && this.theirHello) {
      const them = this.theirHello.peer_id;
      const ok = f.version === this.version && verifyStrict(t.opts.ed25519, publicKeyOf(them)!, p2pAuthDigest(this.nonce, t.identity.peerId, them), f.signature);
      if (!ok) return this.refuse(CLOSE.handshakeFailed, 'handshake signature does not verify');
      // Banned between its hello and its auth (on another connection): no way in.
      if (t.isBanned(them)) return this.refuse(CLOSE.banned, 'banned for misbehaviour');
      this.remote = { peerId: them, address: this.theirHello.address };
      this.lastHeard = t.timers.now();
      this.actor.send({ type: 'authenticated', peerId: them, version: this.version! });
      this.settleReady.resolve(this.remote);
      return;
    }
    this.refuse(CLOSE.handshakeFailed, `unexpected ${f.t} during the handshake`);
  }

  private serve(id: number, method: string, params: unknown, size: number): void {
    let req;
    try {
      req = parsePeerRequest(method, params);
    } catch (e) {
      this.traffic(method, true, this.answerError(id, e), size);
      return this.violation(`${method}: ${(e as Error).message}`);
    }
    this.servingCount++;
    this.updateFlow();
    this.t.handle(this.remote!, req).then(
      (result) => this.traffic(method, true, this.send({ t: 'res', id, result: result ?? {} }), size),
      (e) => this.traffic(method, true, this.answerError(id, e), size),
    ).finally(() => {
      this.servingCount--;
      this.lastActivity = this.t.timers.now();
      this.updateFlow();
    });
  }

  private answerError(id: number, e: unknown): number {
    if (!(e instanceof SignpostError)) this.t.opts.log.error('peer request failed', { peer: this.remote?.peerId, error: e instanceof Error ? e.stack : String(e) });
    return this.send(errorFrame(id, e));
  }

  /** Stops reading while too much is in flight or unsent, so a greedy peer is slowed by TCP, not buffered. */
  private updateFlow(): void {
    if (this.closed) return;
    const hold = this.servingCount >= this.t.opts.maxConcurrentRequests || this.ws.bufferedAmount > this.t.sendBufferLimit;
    if (hold && !this.ws.isPaused) this.ws.pause();
    else if (!hold && this.ws.isPaused) this.ws.resume();
  }

  private violation(what: string): void {
    if (!this.remote) return this.refuse(CLOSE.handshakeFailed, what.slice(0, 120));
    this.t.opts.log.debug('peer misbehaved', { peer: this.remote.peerId, what });
    this.t.penalise(this.remote.peerId);
  }

  private onClosed(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if ((this.oversized || code === CLOSE.tooBig) && this.remote) this.t.penalise(this.remote.peerId, OVERSIZED_FRAME_POINTS);
    const who = this.remote?.peerId ?? this.id;
    const error = new SignpostError('peer_unreachable', `connection to ${who} closed (${code}${reason ? ` ${reason}` : ''})`);
    this.settleReady.reject(error);
    for (const p of this.pending.values()) {
      this.t.timers.clearTimeout(p.timer);
      p.reject(error);
    }
    this.pending.clear();
    this.actor.send({ type: 'socket.closed', code, reason });
    this.t.forget(this);
  }
}

/**
 * Connections to other nodes, both directions.
 *
 * @example
 * const transport = new WsTransport({ identity, ed25519, random, timers, now, ownAddress: () => url, maxFrameBytes, maxConcurrentRequests, log, onInspect });
 * transport.serve(handler);
 * transport.attach(server);
 * const answer = await transport.request({ address: 'ws://127.0.0.1:7071' }, 'ping', {}, 2000);
 */
export class WsTransport implements Transport, ActorSource {
  readonly prefix = CONNECTION_ACTOR_PREFIX;
  readonly identity: Identity;
  readonly timers: Timers;
  readonly maxFrameBytes: number;
  readonly sendBufferLimit: number;
  readonly handshakeTimeoutMs: number;
  readonly idleMs: number;
  readonly inspection: InspectionTracker;
  events: TransportEvents = {};
  private handler: PeerHandler = async () => {
    throw new SignpostError('peer_unreachable', 'this node does not serve peers yet');
  };
  /** The connection used for requests to each authenticated peer. */
  private readonly byPeer = new Map<string, PeerConnection>();
  private readonly all = new Set<PeerConnection>();
  private readonly dialing = new Map<string, Promise<PeerConnection>>();
  private readonly misbehaviour: Misbehaviour;
  private readonly dialBack: DialBack;
  /** Observed hosts already reported as differing from what this node announces. */
  private readonly reportedObserved = new Set<string>();
  private sweeper: unknown = null;
  private release: (() => void) | null = null;
  private wss: InstanceType<typeof WebSocketServer> | null = null;
  private nextConnection = 1;
  private stopped = false;
  private closing: Promise<void> | null = null;

  constructor(readonly opts: WsTransportOptions) {
    this.identity = opts.identity;
    this.timers = opts.timers;
    this.maxFrameBytes = opts.maxFrameBytes;
    this.sendBufferLimit = 4 * opts.maxFrameBytes;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 5000;
    this.idleMs = opts.idleMs ?? 120_000;
    this.inspection = new InspectionTracker(opts.now, opts.onInspect);
    this.misbehaviour = new Misbehaviour({ timers: opts.timers, budget: opts.misbehaviourBudget, banMs: opts.banMs });
    this.dialBack = new DialBack({
      timers: opts.timers,
      perMinute: opts.dialBacksPerMinute,
      dial: async (address) => {
        const conn = await this.dial(address, 'check');
        // The check's own connection is not kept: the peer already has one.
        conn.close(CLOSE.normal, 'address checked');
        return conn.remote!.peerId;
      },
    });
    const sweep = () => {
      this.misbehaviour.sweep();
      this.sweeper = this.timers.setTimeout(sweep, 60_000);
    };
    this.sweeper = this.timers.setTimeout(sweep, 60_000);
  }

  serve(handler: PeerHandler): void {
    this.handler = handler;
  }

  on(events: TransportEvents): void {
    this.events = events;
  }

  /** @internal Runs the handler for one request of `from`. */
  handle(from: PeerLink, req: Parameters<PeerHandler>[1]): Promise<unknown> {
    return this.handler(from, req);
  }

  /** Serves `/p2p` on `server`. */
  attach(server: http.Server): void {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.maxFrameBytes });
    this.release = routeUpgrade(server, P2P_PATH, (req, socket, head) => {
      if (this.stopped) return socket.destroy();
      const host = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
      this.wss!.handleUpgrade(req, socket, head, (ws) => this.adopt(ws, 'inbound', `${host}:${req.socket.remotePort}`, host));
    });
  }

  async request(to: PeerTarget, method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    const deadline = this.timers.now() + timeoutMs;
    const conn = await this.withTimeout(this.connection(to), timeoutMs, () => new SignpostError('peer_timeout', `${to.peerId ?? to.address} did not connect within ${timeoutMs} ms`));
    return conn.request(method, params, Math.max(1, deadline - this.timers.now()));
  }

  peers(): PeerLink[] {
    return [...this.byPeer.values()].filter((c) => c.isOpen).map((c) => c.remote!);
  }

  isBanned(peerId: string): boolean {
    return this.misbehaviour.isBanned(peerId);
  }

  penalise(peerId: string, points = 1): void {
    if (!this.misbehaviour.penalise(peerId, points)) return;
    this.opts.log.warn('peer banned for misbehaviour', { peer: peerId, ban_ms: this.misbehaviour.banMs });
    this.events.banned?.(peerId);
    for (const c of this.all) if (c.remote?.peerId === peerId) c.ban();
  }

  /**
   * @internal A peer says it sees this node at `observed`. A host that none of this node's announced
   * addresses has is logged once: behind NAT, in a container or behind a proxy, the announced address may
   * not be the one others reach (set `announce`). Host names cannot be compared with an IP, so they are not.
   */
  noteObserved(observed: string, by: string): void {
    const announced = this.opts.ownAddresses().map((a) => hostOf(a)).filter((h): h is string => h !== null);
    const ipOnly = announced.length > 0 && announced.every((h) => /^[\d.]+$/.test(h) || h.includes(':'));
    if (!ipOnly || announced.includes(observed) || this.reportedObserved.has(observed) || this.reportedObserved.size > 64) return;
    this.reportedObserved.add(observed);
    this.opts.log.warn('a peer sees this node at an address it does not announce (set announce if peers cannot reach it)', { observed, by, announced: this.opts.ownAddresses() });
  }

  /** @internal Called by a connection when it closed. */
  forget(c: PeerConnection): void {
    this.all.delete(c);
    if (c.remote && this.byPeer.get(c.remote.peerId) === c) {
      this.byPeer.delete(c.remote.peerId);
      // Another open connection to the same peer (both dialled at once) takes over.
      for (const o of this.all) if (o.isOpen && o.remote!.peerId === c.remote.peerId) this.byPeer.set(c.remote.peerId, o);
    }
  }

  // ---- the connection actors (ActorSource) ----

  actors(): ActorSummary[] {
    return [...this.all].map((c) => ({ id: c.id, kind: 'connection', state: c.actor.getSnapshot().value, started_at: c.startedAt }));
  }

  actor(id: string): ActorDetail | null {
    const c = [...this.all].find((x) => x.id === id);
    if (!c) return null;
    const { io: _io, ...context } = c.actor.getSnapshot().context;
    return { id, kind: 'connection', state: c.actor.getSnapshot().value, context, machine: CONNECTION_MACHINE };
  }

  setInspecting(on: boolean): void {
    this.inspection.set(on, () => [...this.all].map((c) => [c.id, c.actor.getSnapshot().value]));
  }

  /** Closes every connection (1001) and stops accepting new ones; a second call does nothing more. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopped = true;
      this.timers.clearTimeout(this.sweeper);
      this.dialBack.close();
      this.release?.();
      const closing = [...this.all].map((c) => new Promise<void>((resolve) => {
        if (c.ws.readyState === WebSocket.CLOSED) return resolve();
        c.ws.once('close', () => resolve());
        c.close(CLOSE.goingAway, 'node shutting down');
      }));
      await Promise.all(closing);
      await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
    })();
    return this.closing;
  }

  private async connection(to: PeerTarget): Promise<PeerConnection> {
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

  private async dial(address: string, purpose: 'to' | 'check' = 'to'): Promise<PeerConnection> {
    const ws = new WebSocket(`${address}${P2P_PATH}`, { maxPayload: this.maxFrameBytes, handshakeTimeout: this.handshakeTimeoutMs });
    const conn = this.adopt(ws, 'outbound', address, hostOf(address) ?? address, purpose);
    try {
      return (await conn.ready, conn);
    } catch (e) {
      throw new SignpostError('peer_unreachable', `cannot connect to ${address}: ${(e as Error).message}`);
    }
  }

  private adopt(ws: WebSocket, direction: 'inbound' | 'outbound', label: string, observed: string, purpose: 'to' | 'check' = 'to'): PeerConnection {
    const kind = direction === 'inbound' ? 'from' : purpose;
    const c = new PeerConnection(ws, `${CONNECTION_ACTOR_PREFIX}${this.nextConnection++}:${kind}:${label}`, direction, label, observed, this);
    if (this.stopped) {
      c.close(CLOSE.goingAway, 'node shutting down');
      return c;
    }
    this.all.add(c);
    c.ready.then((peer) => {
      const current = this.byPeer.get(peer.peerId);
      if (!current?.isOpen) this.byPeer.set(peer.peerId, c);
      this.checkAddress(c, peer);
    }, () => undefined);
    return c;
  }

  /**
   * Hands the peer to the routing table once its announced address is known to reach it: at once when this
   * node dialled exactly that address (or checked it before), after a dial-back otherwise, never when the
   * check fails or it announces none.
   */
  /** @internal */
  checkAddress(c: PeerConnection, peer: PeerLink): void {
    const { address } = peer;
    if (!address) return;
    const verified = () => {
      if (!c.isOpen || c.addressVerified) return;
      c.addressVerified = true;
      this.events.peer?.(peer);
    };
    if (c.direction === 'outbound' && c.label === address) {
      this.dialBack.verified(peer.peerId, address);
      return verified();
    }
    void this.dialBack.check(peer.peerId, address).then((ok) => {
      if (ok) verified();
      else this.opts.log.debug('announced address does not reach the peer; not passed on', { peer: peer.peerId, address });
    });
  }

  private withTimeout<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = this.timers.setTimeout(() => reject(error()), ms);
      p.then(
        (v) => (this.timers.clearTimeout(timer), resolve(v)),
        (e) => (this.timers.clearTimeout(timer), reject(e)),
      );
    });
  }
}
