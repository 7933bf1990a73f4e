/**
 * Many nodes in one process on a network the caller controls: the in-memory implementation of the
 * Transport interface (transport.ts), for tests and the simulator. Each node joins a `MemoryNetwork` at an
 * address and gets a `MemoryTransport`; every request and answer is encoded and decoded with the real wire
 * codec (protocols/wire.ts) and checked against the same schemas as on a socket, so what crosses the
 * memory network is exactly what would cross a WebSocket.
 *
 * The network's conditions are plain functions of the caller's (`latencyMs`, `lost`, `reachable`), and its
 * randomness is a seeded `Random`: with the same seed and the same calls, the same messages arrive at the
 * same virtual times. Identities are authenticated by construction (a node joins with its own peer id), so
 * there is no handshake; a node that is not reachable answers nothing, like a dropped TCP connection.
 *
 * @example
 * const network = new MemoryNetwork({ timers, random: seededRandom(1), conditions: { latencyMs: () => 25 } });
 * const transport = network.join(identity.peerId, 'ws://10.0.0.1:7070');
 */
import { SignpostError, ERROR_CODES, type ErrorCode } from '../../protocols/errors.js';
import type { Random } from '../../protocols/random.js';
import { decodeFrame, encodeFrame, errorFrame, parsePeerRequest, type Frame } from '../../protocols/wire.js';
import type { Timers } from '../base/clock.js';
import { Misbehaviour } from './misbehaviour.js';
import type { PeerHandler, PeerLink, PeerTarget, Transport, TransportEvents } from './transport.js';

/** What the network does to a message from one address to another. Every function is optional. */
export interface NetworkConditions {
  /** One-way delay in milliseconds (default 0: the next turn of the event loop). */
  latencyMs?(from: string, to: string, random: Random): number;
  /** Whether this message is lost (default: never). */
  lost?(from: string, to: string, random: Random): boolean;
  /** Whether `from` can reach `to` at all now: false models a partition (default: always). */
  reachable?(from: string, to: string): boolean;
  /** Whether this message also arrives a second time, after its own delay (default: never). */
  duplicated?(from: string, to: string, random: Random): boolean;
}

export interface MemoryNetworkOptions {
  timers: Timers;
  random: Random;
  conditions?: NetworkConditions;
  /** Largest frame, as `max_frame_bytes` (default 1 MiB). */
  maxFrameBytes?: number;
  /** Sees every message sent (the simulator's trace), with its method: `arrives` is false for one that is lost. */
  onMessage?(from: string, to: string, method: string, frame: Uint8Array, arrives: boolean): void;
}

/** Messages and bytes the network carried (requests and answers, lost ones included). */
export interface NetworkStats {
  messages: number;
  bytes: number;
  lost: number;
}

/** How often a peer's messages count as "heard from" for its routing table (as on a socket). */
const HEARD_EVERY_MS = 1000;

export class MemoryNetwork {
  readonly timers: Timers;
  readonly random: Random;
  conditions: NetworkConditions;
  readonly maxFrameBytes: number;
  readonly stats: NetworkStats = { messages: 0, bytes: 0, lost: 0 };
  private readonly endpoints = new Map<string, MemoryTransport>();
  /** Addresses of crashed nodes: what is sent there is lost, as to a host that stopped answering. */
  private readonly silent = new Set<string>();
  private readonly onMessage: MemoryNetworkOptions['onMessage'];

  constructor(opts: MemoryNetworkOptions) {
    this.timers = opts.timers;
    this.random = opts.random;
    this.conditions = opts.conditions ?? {};
    this.maxFrameBytes = opts.maxFrameBytes ?? 1 << 20;
    this.onMessage = opts.onMessage;
  }

  /** Joins node `peerId` at `address` (a `ws://HOST:PORT` base URL, as it announces itself). */
  join(peerId: string, address: string): MemoryTransport {
    if (this.endpoints.has(address)) throw new Error(`${address} is already taken on this network`);
    this.silent.delete(address);
    const t = new MemoryTransport(this, peerId, address);
    this.endpoints.set(address, t);
    return t;
  }

  /** @internal */
  at(address: string): MemoryTransport | undefined {
    return this.endpoints.get(address);
  }

  /**
   * @internal A node left (its transport closed, or the node crashed): its peers lose their connection to
   * it, and their requests waiting on it fail at once, as on a closed socket.
   */
  left(t: MemoryTransport): void {
    if (this.endpoints.get(t.address) === t) this.endpoints.delete(t.address);
    for (const other of this.endpoints.values()) other.disconnected(t.peerId, t.address);
  }

  /**
   * The node at `address` crashed: it is gone without a word. Its peers are not told (their requests to it
   * time out) and what is sent there is lost until a node joins at that address again.
   */
  crash(address: string): void {
    const t = this.endpoints.get(address);
    if (!t) return;
    this.endpoints.delete(address);
    this.silent.add(address);
    t.crashed();
  }

  /**
   * @internal Carries `frame` from `from` to `to`: after the latency, `deliver` runs, unless the message is
   * lost or `to` is unreachable. Returns false when it will never arrive.
   */
  send(from: string, to: string, method: string, frame: Uint8Array, deliver: (frame: Uint8Array) => void): boolean {
    this.stats.messages++;
    this.stats.bytes += frame.length;
    const c = this.conditions;
    if (this.silent.has(to) || (c.reachable && !c.reachable(from, to)) || (c.lost && c.lost(from, to, this.random))) {
      this.stats.lost++;
      this.onMessage?.(from, to, method, frame, false);
      return false;
    }
    this.onMessage?.(from, to, method, frame, true);
    this.timers.setTimeout(() => deliver(frame), Math.max(0, c.latencyMs?.(from, to, this.random) ?? 0));
    if (c.duplicated?.(from, to, this.random)) {
      this.stats.messages++;
      this.timers.setTimeout(() => deliver(frame), Math.max(0, c.latencyMs?.(from, to, this.random) ?? 0));
    }
    return true;
  }
}

interface Pending {
  resolve(r: unknown): void;
  reject(e: Error): void;
  timer: unknown;
  /** The address the request went to. */
  to: string;
  method: string;
  /** Bytes of the request frame. */
  sent: number;
}

export class MemoryTransport implements Transport {
  private handler: PeerHandler = async () => {
    throw new SignpostError('peer_unreachable', 'this node does not serve peers yet');
  };
  private events: TransportEvents = {};
  /** Peers this node has exchanged messages with, and when each was last reported as heard from. */
  private readonly connected = new Map<string, { link: PeerLink; heard: number }>();
  private readonly pending = new Map<number, Pending>();
  private readonly misbehaviour: Misbehaviour;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly network: MemoryNetwork,
    readonly peerId: string,
    readonly address: string,
  ) {
    this.misbehaviour = new Misbehaviour({ timers: network.timers });
  }

  serve(handler: PeerHandler): void {
    this.handler = handler;
  }

  on(events: TransportEvents): void {
    this.events = events;
  }

  peers(): PeerLink[] {
    return [...this.connected.values()].map((c) => c.link);
  }

  penalise(peerId: string, points = 1): void {
    if (!this.misbehaviour.penalise(peerId, points)) return;
    this.connected.delete(peerId);
    this.events.banned?.(peerId);
  }

  request(to: PeerTarget, method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    const { network } = this;
    if (this.closed) return Promise.reject(new SignpostError('peer_unreachable', 'node is shutting down'));
    const address = to.address ?? (to.peerId ? this.connected.get(to.peerId)?.link.address : null) ?? null;
    if (!address) return Promise.reject(new SignpostError('peer_unreachable', `no address known for ${to.peerId}`));
    if (to.peerId && this.isBanned(to.peerId)) return Promise.reject(new SignpostError('peer_unreachable', `${to.peerId} is banned for misbehaviour`));
    const id = this.nextId++;
    const frame = encodeFrame({ t: 'req', id, method, params });
    if (frame.length > network.maxFrameBytes) {
      return Promise.reject(new SignpostError('invalid_params', `${method} to ${to.peerId ?? address}: ${frame.length} bytes exceed max_frame_bytes ${network.maxFrameBytes}`));
    }
    return new Promise((resolve, reject) => {
      const timer = network.timers.setTimeout(() => {
        this.pending.delete(id);
        if (to.peerId) this.events.traffic?.({ peerId: to.peerId, method, served: false, sent: frame.length, received: 0 });
        reject(new SignpostError('peer_timeout', `${to.peerId ?? address} did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, to: address, method, sent: frame.length });
      network.send(this.address, address, method, frame, (bytes) => {
        const target = network.at(address);
        if (!target || (to.peerId && target.peerId !== to.peerId) || this.isBanned(target.peerId)) {
          // Nobody listens there, someone else does, or a banned peer does: refused, as its handshake would be.
          const why = !target ? `cannot connect to ${address}` : this.isBanned(target.peerId) ? `${target.peerId} is banned for misbehaviour` : `${address} is ${target.peerId}, not ${to.peerId}`;
          return void network.send(address, this.address, method, encodeFrame({ t: 'err', id, code: 'peer_unreachable', message: why }), (b) => this.answered(b, null));
        }
        target.received(this, bytes);
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      this.network.timers.clearTimeout(p.timer);
      p.reject(new SignpostError('peer_unreachable', 'node is shutting down'));
    }
    this.pending.clear();
    this.connected.clear();
    this.network.left(this);
  }

  /** @internal This node crashed: it sends, answers and waits for nothing more. */
  crashed(): void {
    this.closed = true;
    for (const p of this.pending.values()) this.network.timers.clearTimeout(p.timer);
    this.pending.clear();
    this.connected.clear();
  }

  /** @internal The node `peerId` at `address` left the network. */
  disconnected(peerId: string, address: string): void {
    this.connected.delete(peerId);
    for (const [id, p] of this.pending) {
      if (p.to !== address) continue;
      this.pending.delete(id);
      this.network.timers.clearTimeout(p.timer);
      p.reject(new SignpostError('peer_unreachable', `connection to ${peerId} closed (it left the network)`));
    }
  }

  private isBanned(peerId: string): boolean {
    return this.misbehaviour.isBanned(peerId);
  }

  /** @internal A request frame from `from` arrived. */
  received(from: MemoryTransport, bytes: Uint8Array): void {
    if (this.closed) return;
    const self = { peerId: this.peerId, address: this.address };
    let method = '';
    // After close(), a handler that finishes answers nobody: the node is gone.
    const reply = (answer: Frame): void => {
      if (this.closed) return;
      const frame = encodeFrame(answer);
      if (method) this.events.traffic?.({ peerId: from.peerId, method, served: true, sent: frame.length, received: bytes.length });
      this.network.send(this.address, from.address, method, frame, (b) => from.answered(b, self));
    };
    let f: Frame;
    try {
      f = decodeFrame(bytes);
    } catch {
      // Not a frame (a field over its limit): a protocol violation, as on a socket; no id to answer.
      return this.penalise(from.peerId);
    }
    if (f.t !== 'req') return this.penalise(from.peerId);
    method = f.method;
    if (this.isBanned(from.peerId)) return reply({ t: 'err', id: f.id, code: 'peer_unreachable', message: `${from.peerId} is banned for misbehaviour` });
    this.heard({ peerId: from.peerId, address: from.address });
    let req;
    try {
      req = parsePeerRequest(f.method, f.params);
    } catch (e) {
      this.penalise(from.peerId);
      return reply(errorFrame(f.id, e));
    }
    const id = f.id;
    this.handler({ peerId: from.peerId, address: from.address }, req).then(
      (result) => {
        const answer: Frame = { t: 'res', id, result: result ?? {} };
        const size = encodeFrame(answer).length;
        // An answer over the frame limit is refused, as a socket would refuse it.
        reply(size > this.network.maxFrameBytes ? errorFrame(id, new SignpostError('peer_unreachable', `answer of ${size} bytes exceeds max_frame_bytes ${this.network.maxFrameBytes}`)) : answer);
      },
      (e) => reply(errorFrame(id, e)),
    );
  }

  /** @internal An answer frame arrived; `from` is the peer that answered (null: the network refused). */
  answered(bytes: Uint8Array, from: PeerLink | null): void {
    let f: Frame;
    try {
      f = decodeFrame(bytes);
    } catch {
      // An answer that is not a frame: the request it answered times out, and the peer pays for it.
      if (from) this.penalise(from.peerId);
      return;
    }
    if (f.t !== 'res' && f.t !== 'err') return;
    const p = this.pending.get(f.id);
    if (!p) return; // answered after its timeout
    this.pending.delete(f.id);
    this.network.timers.clearTimeout(p.timer);
    if (from) this.events.traffic?.({ peerId: from.peerId, method: p.method, served: false, sent: p.sent, received: bytes.length });
    if (from && !this.closed) this.heard(from);
    if (f.t === 'res') return p.resolve(f.result);
    const code = (Object.hasOwn(ERROR_CODES, f.code) ? f.code : 'internal_error') as ErrorCode;
    p.reject(new SignpostError(code, from ? `${from.peerId}: ${f.message}` : f.message));
  }

  /** Kademlia's rule, as on a socket: a message from a peer refreshes it, at most once a second. */
  private heard(link: PeerLink): void {
    if (this.isBanned(link.peerId)) return;
    const now = this.network.timers.now();
    const c = this.connected.get(link.peerId);
    if (c && now - c.heard < HEARD_EVERY_MS) return;
    this.connected.set(link.peerId, { link, heard: now });
    this.events.peer?.(link);
  }
}
