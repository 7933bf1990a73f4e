/**
 * Calls to providers through their relay (SPEC §9.5), both ends on the node-to-node side:
 * - `call`: a client of this node calls a provider (`resources.call_provider`). The call goes to the
 *   provider's relay (the record's `relay_id`, or the provider itself when it is a node), found in the
 *   routing table, a recent lookup, an open connection, or a new lookup of its location, as `relay_call`; when
 *   this node is the relay, it is handed over here.
 * - `serve`: a peer hands this node a `relay_call`; it goes to the provider's serving connection
 *   (rpc/serving.ts).
 * Every delivery takes a token of its caller's budget (`relay_rate_per_s`, `relay_rate_burst`): a caller
 * is its authenticated peer id, or for an anonymous one the node that sent it (or its connection here).
 *
 * @example
 * const answer = await relay.call({ peerId, relayId, serviceId: 'echo', method: 'echo', params: ['hi'], timeoutMs: 6000, from: null, caller: 'conn:1' });
 */
import { SignpostError } from '../../protocols/errors.js';
import { nodeLocation } from '../../protocols/kademlia.js';
import { callJson, type Delivery, type ProviderAnswer, type RelayCall } from '../../protocols/relay.js';
import { parseRelayAnswer, relayAnswer } from '../../protocols/wire.js';
import type { Timers } from '../base/clock.js';
import { keyedTokenBuckets } from '../base/rate.js';
import type { Dht } from './dht.js';
import type { PeerLink, PeerTarget, Transport } from './transport.js';

export interface RelayOptions {
  selfPeerId: string;
  transport: Transport;
  dht: Pick<Dht, 'lookup' | 'addressOf'>;
  /** Hands a call to the provider's serving connection here (rpc/serving.ts). */
  serving: { deliver(d: Delivery): Promise<ProviderAnswer> };
  timers: Timers;
  /** Each caller's budget of calls delivered here: refill per second, and burst. */
  ratePerS: number;
  rateBurst: number;
}

/** One call of a client of this node. */
export interface ProviderCall {
  peerId: string;
  relayId: string | null;
  serviceId: string;
  method: string;
  params: unknown;
  timeoutMs: number;
  /** The caller's authenticated peer id, or null. */
  from: string | null;
  /** Who the caller is when anonymous (its connection), for its budget. */
  caller: string;
}

/** How long the caller's node waits for a relay's answer beyond the call's own timeout (the relay answers a timeout itself). */
const HOP_GRACE_MS = 500;
/** How long a relay's address found by a lookup is reused. */
const LOCATED_TTL_MS = 60_000;
const MAX_LOCATED = 10_000;

export type RelayOutcome = 'ok' | 'provider_error' | 'provider_unreachable' | 'provider_timeout' | 'rate_limited' | 'other';

export class Relay {
  private readonly take: (caller: string) => boolean;
  private readonly located = new Map<string, { address: string; at: number }>();
  /** Calls delivered by this node as a relay, by outcome (for /metrics). */
  readonly delivered: Record<RelayOutcome, number> = { ok: 0, provider_error: 0, provider_unreachable: 0, provider_timeout: 0, rate_limited: 0, other: 0 };

  constructor(private readonly opts: RelayOptions) {
    this.take = keyedTokenBuckets(opts.ratePerS, opts.rateBurst, () => opts.timers.now());
  }

  /** `resources.call_provider`. */
  async call(c: ProviderCall): Promise<ProviderAnswer> {
    const params = callJson(c.params, 'params');
    const relay = c.relayId ?? c.peerId;
    if (relay === this.opts.selfPeerId) {
      return this.deliver({ ...c, via: null, params: c.params }, c.from ?? c.caller);
    }
    const deadline = this.opts.timers.now() + c.timeoutMs;
    const to = await this.locate(relay, c.timeoutMs, c.relayId === null);
    const remaining = Math.max(1, Math.ceil(deadline - this.opts.timers.now()));
    const call: RelayCall = { peer_id: c.peerId, service_id: c.serviceId, method: c.method, params, from: c.from, timeout_ms: remaining };
    let answer: unknown;
    try {
      answer = await this.opts.transport.request(to, 'relay_call', call, remaining + HOP_GRACE_MS);
    } catch (e) {
      if (!(e instanceof SignpostError)) throw e;
      if (e.code === 'peer_unreachable') throw new SignpostError('provider_unreachable', `relay ${relay} cannot be reached: ${e.message}`, { relay_id: relay });
      if (e.code === 'peer_timeout') throw new SignpostError('provider_timeout', `no answer through relay ${relay} within ${c.timeoutMs} ms`, { timeout_ms: c.timeoutMs });
      throw e;
    }
    return parseRelayAnswer(answer, `relay ${relay}`);
  }

  /** A peer's `relay_call`. */
  async serve(from: PeerLink, call: RelayCall): Promise<{ answer: string }> {
    let params: unknown;
    try {
      params = JSON.parse(call.params);
    } catch {
      throw new SignpostError('invalid_params', 'relay_call.params is not JSON text');
    }
    const d = { peerId: call.peer_id, serviceId: call.service_id, method: call.method, params, from: call.from, via: from.peerId, timeoutMs: call.timeout_ms };
    return relayAnswer(await this.deliver(d, call.from ?? `${from.peerId}/anonymous`));
  }

  private async deliver(d: Delivery, caller: string): Promise<ProviderAnswer> {
    if (!this.take(caller)) {
      this.delivered.rate_limited++;
      throw new SignpostError('rate_limited', `relay budget exceeded for ${caller}: ${this.opts.ratePerS} calls/s, burst ${this.opts.rateBurst}`, {
        relay_rate_per_s: this.opts.ratePerS,
        relay_rate_burst: this.opts.rateBurst,
      });
    }
    try {
      const answer = await this.opts.serving.deliver(d);
      this.delivered['error' in answer ? 'provider_error' : 'ok']++;
      return answer;
    } catch (e) {
      const code = e instanceof SignpostError ? e.code : 'other';
      this.delivered[code in this.delivered ? (code as RelayOutcome) : 'other']++;
      throw e;
    }
  }

  /** Where to reach node `peerId`: the routing table, a recent lookup, an open connection, or a new lookup of its location. */
  private async locate(peerId: string, timeoutMs: number, direct: boolean): Promise<PeerTarget> {
    const what = direct ? `provider ${peerId} (no relay given: it must be a node)` : `relay ${peerId}`;
    const location = nodeLocation(peerId);
    if (!location) throw new SignpostError('invalid_peer_id', `${what} is not a valid peer id`);
    // The transport uses an open connection to the peer whatever address it is given.
    const known = this.opts.dht.addressOf(peerId);
    if (known) return { peerId, address: known };
    const now = this.opts.timers.now();
    const hit = this.located.get(peerId);
    if (hit && now - hit.at < LOCATED_TTL_MS) return { peerId, address: hit.address };
    if (this.opts.transport.peers().some((p) => p.peerId === peerId)) return { peerId, address: null };
    const found = (await this.opts.dht.lookup(location, timeoutMs)).closest.find((c) => c.peerId === peerId);
    if (!found) throw new SignpostError('provider_unreachable', `${what} is not found in the network`, { peer_id: peerId });
    if (this.located.size >= MAX_LOCATED) this.located.clear();
    this.located.set(peerId, { address: found.address, at: now });
    return { peerId, address: found.address };
  }
}
