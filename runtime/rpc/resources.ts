/**
 * `resources.*` (SPEC §9.2): the Resources API, fanned out to each resource's neighbourhood by
 * runtime/net/resources.ts; subscriptions by subscriptions.ts; provider calls through their relay by
 * runtime/net/relay.ts (SPEC §9.5).
 */
import { SignpostError } from '../../protocols/errors.js';
import { LIMITS } from '../../protocols/types.js';
import { callerError, expectMethodName, MAX_CALLS_IN_FLIGHT, ProviderError } from '../../protocols/relay.js';
import { expectPeerId, expectPeerIdString, expectResourceId, expectString, expectTimestamp, parseKey, parseMetadata, parseRecord, parseTombstone } from '../../protocols/validate.js';
import type { FanOut } from '../net/quorum.js';
import type { Handlers, NodeFacade } from './facade.js';
import { keyIdOf } from './registry.js';

export function resourcesHandlers(node: NodeFacade): Handlers {
  const { resources, subscriptions } = node;
  /** SPEC §5 / §9: `ack` 1..K (default 1), `timeout_ms` 1..60000 (default request_timeout_ms). */
  const timeoutOf = (p: { [k: string]: unknown }): number => {
    const timeoutMs = p.timeout_ms === undefined ? node.requestTimeoutMs : expectTimestamp(p.timeout_ms, 'timeout_ms');
    if (timeoutMs < 1 || timeoutMs > 60_000) throw new SignpostError('invalid_params', `timeout_ms must be 1..60000, got ${timeoutMs}`);
    return timeoutMs;
  };
  const fanOut = (p: { [k: string]: unknown }): FanOut => {
    const ack = p.ack === undefined ? 1 : expectTimestamp(p.ack, 'ack');
    if (ack < 1 || ack > node.k) throw new SignpostError('invalid_params', `ack must be 1..${node.k} (k), got ${ack}`);
    return { ack, timeoutMs: timeoutOf(p) };
  };
  const peerIdOf = (x: unknown, path: string): string => {
    const id = expectPeerIdString(x, path);
    expectPeerId(id, path);
    return id;
  };
  // Provider calls in flight per caller connection (SPEC §9.5).
  const calling = new Map<number, number>();
  return {
    'resources.get_resource_id': keyIdOf,
    'resources.create_resource': (p) => resources.createResource(parseKey(p.key), fanOut(p)),
    'resources.get_resource': (p) => resources.getResource(expectResourceId(p.resource_id, 'resource_id'), fanOut(p)),
    'resources.register_provider': (p) => resources.registerProvider(parseRecord(p.record), fanOut(p)),
    'resources.register_node_provider': (p, conn) => {
      const metadata = parseMetadata(p.metadata);
      const f = fanOut(p);
      const who = conn.session.peerId;
      if (who === null || !node.admins.includes(who)) {
        throw new SignpostError(
          'unauthorized',
          who === null
            ? 'resources.register_node_provider needs an authenticated admin (session.challenge, then session.authenticate)'
            : `${who} is not an admin of this node (config "admins")`,
        );
      }
      return resources.registerNodeProvider(metadata, who, f);
    },
    'resources.unregister_provider': (p) => resources.unregisterProvider(parseTombstone(p.tombstone), fanOut(p)),
    'resources.resolve_providers': (p) => {
      const id = expectResourceId(p.resource_id, 'resource_id');
      const serviceId = p.service_id === undefined ? undefined : expectString(p.service_id, 'service_id', LIMITS.service_id_max, LIMITS.service_id_min);
      return resources.resolveProviders(id, fanOut(p), serviceId);
    },
    'resources.call_provider': async (p, conn) => {
      const call = {
        peerId: peerIdOf(p.peer_id, 'peer_id'),
        relayId: p.relay_id === undefined || p.relay_id === null ? null : peerIdOf(p.relay_id, 'relay_id'),
        serviceId: expectString(p.service_id, 'service_id', LIMITS.service_id_max, LIMITS.service_id_min),
        method: expectMethodName(p.method, 'method'),
        params: p.params ?? null,
        timeoutMs: timeoutOf(p),
        from: conn.session.peerId,
        caller: `connection ${conn.id}`,
      };
      const running = calling.get(conn.id) ?? 0;
      if (running >= MAX_CALLS_IN_FLIGHT) {
        throw new SignpostError('rate_limited', `this connection has ${MAX_CALLS_IN_FLIGHT} provider calls in flight`, { max_in_flight: MAX_CALLS_IN_FLIGHT });
      }
      calling.set(conn.id, running + 1);
      try {
        const answer = await node.relay.call(call);
        if ('error' in answer) throw new ProviderError(callerError(answer.error));
        return { result: answer.result };
      } finally {
        const left = calling.get(conn.id)! - 1;
        if (left === 0) calling.delete(conn.id);
        else calling.set(conn.id, left);
      }
    },
    'resources.subscribe': (p, conn) => subscriptions.subscribe(conn, expectResourceId(p.resource_id, 'resource_id')),
    'resources.unsubscribe': (p, conn) => {
      subscriptions.unsubscribe(conn, expectString(p.subscription, 'subscription', 64));
      return {};
    },
  };
}
