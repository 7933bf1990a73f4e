/**
 * The neighbourhood of a resource (SPEC §5), as the Resources API and upkeep reach it: found by a lookup,
 * spoken to over the transport, and kept honest (a peer that cannot be reached leaves the routing table).
 */
import { SignpostError } from '../../protocols/errors.js';
import { resourceLocation } from '../../protocols/kademlia.js';
import type { Timers } from '../base/clock.js';
import type { Dht } from './dht.js';
import type { Neighbour } from './quorum.js';
import type { Transport } from './transport.js';

/** The share of a call's time its lookup may take. */
const LOOKUP_SHARE = 0.5;

export class Neighbourhoods {
  constructor(
    private readonly dht: Dht,
    private readonly transport: Transport,
    readonly timers: Timers,
  ) {}

  /**
   * The K closest live nodes of `resourceId`, this node included when it is among them, found before the
   * wall-clock `deadline`. `fresh` asks for a new lookup rather than a recent one (upkeep's whole point is
   * to find the nodes that joined since).
   */
  async of(resourceId: string, deadline: number, fresh = false): Promise<Neighbour[]> {
    // The lookup has half the time left: what it found by then is the neighbourhood, so the requests to
    // it still have time (peers cut off from this node would otherwise spend the whole call).
    const { nodes } = await this.dht.neighbourhood(resourceLocation(resourceId)!, Math.max(1, (deadline - this.timers.now()) * LOOKUP_SHARE), { fresh });
    return nodes;
  }

  /** One request to a peer of a neighbourhood; a peer that cannot be reached leaves the routing table. */
  async send(n: Neighbour, method: string, params: object, timeoutMs: number): Promise<unknown> {
    const askedAt = this.timers.now();
    try {
      return await this.transport.request(n, method, params, timeoutMs);
    } catch (e) {
      if (e instanceof SignpostError && e.code === 'peer_unreachable') this.dht.failed(n.peerId, askedAt);
      throw e;
    }
  }
}
