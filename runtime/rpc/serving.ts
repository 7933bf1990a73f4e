/**
 * The relay's side of provider calls (SPEC §9.5): which client connections serve which provider's
 * services (`session.serve`), and the hand-over of one call to such a connection as a `provider.call`
 * request from node to client.
 *
 * A connection serves only as the peer id it authenticated as (`session.authenticate`), or as this node
 * for an admin with `as_node`. A call goes to the connection that last announced the service for that
 * provider; a serving connection has at most MAX_CALLS_IN_FLIGHT calls in flight. The relay never opens a
 * call on its own: every delivery answers a caller's request.
 *
 * @example
 * serving.serve(conn, ['echo'], false);
 * const answer = await serving.deliver({ peerId, serviceId: 'echo', method: 'echo', params: ['hi'], from: null, via: null, timeoutMs: 6000 });
 */
import { SignpostError } from '../../protocols/errors.js';
import { MAX_CALLS_IN_FLIGHT, parseProviderAnswer, type Delivery, type ProviderAnswer } from '../../protocols/relay.js';
import type { RpcConnection } from './server.js';

interface Server {
  conn: RpcConnection;
  /** The provider this connection serves as. */
  peerId: string;
  services: Set<string>;
  inFlight: number;
}

export interface ServingStats {
  sessions: number;
  inFlight: number;
  delivered: number;
}

export class Serving {
  /** Serving connections by provider peer id, the latest announcement last. */
  private readonly byPeer = new Map<string, Server[]>();
  private readonly byConn = new Map<number, Server>();
  private nextCall = 1;
  private delivered = 0;

  constructor(private readonly opts: { selfPeerId: string; admins: readonly string[] }) {}

  /** `session.serve`: the connection answers calls for these services of the provider it is. */
  serve(conn: RpcConnection, serviceIds: string[], asNode: boolean): void {
    const who = conn.session.peerId;
    if (who === null) throw new SignpostError('unauthorized', 'session.serve needs an authenticated client (session.challenge, then session.authenticate): a relay forwards only to the provider itself');
    if (asNode && !this.opts.admins.includes(who)) throw new SignpostError('unauthorized', `session.serve as_node: ${who} is not an admin of this node (config "admins")`);
    const peerId = asNode ? this.opts.selfPeerId : who;
    let server = this.byConn.get(conn.id);
    if (server && server.peerId !== peerId) {
      throw new SignpostError('invalid_params', `session.serve: this connection already serves as ${server.peerId}; use another connection to serve as ${peerId}`);
    }
    if (!server) {
      server = { conn, peerId, services: new Set(), inFlight: 0 };
      this.byConn.set(conn.id, server);
      conn.onClose(() => this.drop(conn.id));
    }
    for (const s of serviceIds) server.services.add(s);
    // The latest announcement wins: the connection moves to the end of its provider's list.
    const list = (this.byPeer.get(peerId) ?? []).filter((x) => x !== server);
    list.push(server);
    this.byPeer.set(peerId, list);
  }

  /** `session.unserve`: the connection stops answering these services. */
  unserve(conn: RpcConnection, serviceIds: string[]): void {
    const server = this.byConn.get(conn.id);
    if (!server) return;
    for (const s of serviceIds) server.services.delete(s);
    if (server.services.size === 0) this.drop(conn.id);
  }

  /** True when a connection here serves `serviceId` for `peerId`. */
  serves(peerId: string, serviceId: string): boolean {
    return this.serverFor(peerId, serviceId) !== null;
  }

  /**
   * Hands one call to the provider's serving connection. Fails with `provider_unreachable` (no such
   * connection, or it closed before answering), `provider_timeout`, or `rate_limited` (calls in flight);
   * the provider's own answer, error or not, is the result.
   */
  async deliver(d: Delivery): Promise<ProviderAnswer> {
    const server = this.serverFor(d.peerId, d.serviceId);
    if (!server) {
      const connected = (this.byPeer.get(d.peerId) ?? []).length > 0;
      throw new SignpostError(
        'provider_unreachable',
        connected ? `provider ${d.peerId} is connected to ${this.opts.selfPeerId} but does not serve '${d.serviceId}'` : `provider ${d.peerId} is not connected to ${this.opts.selfPeerId} (or serves nothing)`,
        { peer_id: d.peerId, relay_id: this.opts.selfPeerId },
      );
    }
    if (server.inFlight >= MAX_CALLS_IN_FLIGHT) {
      throw new SignpostError('rate_limited', `provider ${d.peerId} has ${MAX_CALLS_IN_FLIGHT} calls in flight on its serving session`, { max_in_flight: MAX_CALLS_IN_FLIGHT });
    }
    server.inFlight++;
    this.delivered++;
    const callId = `${this.nextCall++}`;
    try {
      const params = { call_id: callId, from: d.from, via: d.via, service_id: d.serviceId, method: d.method, params: d.params };
      const a = await server.conn.request('provider.call', params, d.timeoutMs);
      if (a === 'timeout') throw new SignpostError('provider_timeout', `provider ${d.peerId} did not answer ${d.method} within ${d.timeoutMs} ms`, { timeout_ms: d.timeoutMs });
      if (a === 'closed') throw new SignpostError('provider_unreachable', `provider ${d.peerId} disconnected before answering ${d.method}`, { peer_id: d.peerId });
      return parseProviderAnswer(a.answer, `provider ${d.peerId}`);
    } finally {
      server.inFlight--;
    }
  }

  stats(): ServingStats {
    let inFlight = 0;
    for (const s of this.byConn.values()) inFlight += s.inFlight;
    return { sessions: this.byConn.size, inFlight, delivered: this.delivered };
  }

  private serverFor(peerId: string, serviceId: string): Server | null {
    const list = this.byPeer.get(peerId) ?? [];
    for (let i = list.length - 1; i >= 0; i--) if (list[i].services.has(serviceId)) return list[i];
    return null;
  }

  private drop(connId: number): void {
    const server = this.byConn.get(connId);
    if (!server) return;
    this.byConn.delete(connId);
    const list = (this.byPeer.get(server.peerId) ?? []).filter((x) => x !== server);
    if (list.length) this.byPeer.set(server.peerId, list);
    else this.byPeer.delete(server.peerId);
  }
}
