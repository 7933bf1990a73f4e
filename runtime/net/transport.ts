/**
 * What the network layer needs from the wire, and nothing more: authenticated peers, requests both ways,
 * and connection events. The DHT, the Resources API and upkeep depend on this interface only.
 *
 * Two implementations:
 * - net/ws-transport.ts: WebSocket at `/p2p`, the signed handshake of SPEC §8, frame limits, backpressure;
 * - net/memory-transport.ts: N nodes in one process on a network the caller controls (latency, loss,
 *   partitions), for tests and the simulator.
 */
import type { PeerRequest } from '../../protocols/wire.js';

/** The other end of an authenticated connection. `address` is the base URL it says it listens on. */
export interface PeerLink {
  peerId: string;
  address: string | null;
}

/** Where a request goes: an authenticated peer (over its open connection) or an address to dial. */
export interface PeerTarget {
  /** When given, the peer that must answer (a different one at `address` is `peer_unreachable`). */
  peerId?: string;
  address: string | null;
}

/** Serves an authenticated peer's request; a SignpostError becomes that request's error. */
export type PeerHandler = (from: PeerLink, req: PeerRequest) => Promise<unknown>;

export interface TransportEvents {
  /** A peer authenticated (either direction), and again when it is heard from afterwards (at most once a second). */
  peer?(peer: PeerLink): void;
  /** A peer was banned for misbehaviour: it should leave the routing table, not be handed out to others. */
  banned?(peerId: string): void;
  /** One request and its answer were exchanged (or the request timed out: `received` 0), with the bytes of both frames. */
  traffic?(t: Traffic): void;
}

/** The frames of one request: `served` when the peer asked and this node answered. */
export interface Traffic {
  peerId: string;
  method: string;
  served: boolean;
  sent: number;
  received: number;
}

export interface Transport {
  /**
   * Sends one request and resolves with the answer. Fails with `peer_unreachable`, `peer_timeout` or the
   * peer's own error.
   */
  request(to: PeerTarget, method: string, params: unknown, timeoutMs: number): Promise<unknown>;
  /** Sets what answers peers' requests (once, before the first peer connects). */
  serve(handler: PeerHandler): void;
  /** Listens to connection events. */
  on(events: TransportEvents): void;
  /** Authenticated peers with an open connection. */
  peers(): PeerLink[];
  /** Costs a peer `points` of its misbehaviour budget (a forged answer); over budget it is banned. */
  penalise(peerId: string, points?: number): void;
  close(): Promise<void>;
}
