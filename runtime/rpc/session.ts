/**
 * `session.*` (SPEC §9.3): who the client on a connection is. A nonce serves one attempt; checks run in
 * the order shapes → peer id → a current nonce → the signature. `session.serve` / `unserve` (SPEC §9.5):
 * which provider calls the connection answers (rpc/serving.ts).
 */
import { SignpostError } from '../../protocols/errors.js';
import { base64urlDecode, base64urlEncode } from '../../protocols/encoding.js';
import { verifyStrict } from '../../protocols/crypto.js';
import { publicKeyOf, sessionDigest } from '../../protocols/identity.js';
import { LIMITS } from '../../protocols/types.js';
import { MAX_SERVED_SERVICES } from '../../protocols/relay.js';
import { expectBoolean, expectBytes, expectList, expectPeerId, expectPeerIdString, expectString } from '../../protocols/validate.js';
import type { Handlers, NodeFacade } from './facade.js';

/** `service_ids` of session.serve / unserve: 1..128 bytes each, at most MAX_SERVED_SERVICES. */
function serviceIds(x: unknown, min: number): string[] {
  const list = expectList(x, 'service_ids', MAX_SERVED_SERVICES);
  if (list.length < min) throw new SignpostError('invalid_params', `service_ids must name at least ${min} service`);
  return list.map((s, i) => expectString(s, `service_ids[${i}]`, LIMITS.service_id_max, LIMITS.service_id_min));
}

export function sessionHandlers(node: NodeFacade): Handlers {
  return {
    'session.challenge': (_p, conn) => {
      const nonce = node.random.bytes(32);
      conn.session.nonce = nonce;
      return { nonce: base64urlEncode(nonce) };
    },
    'session.authenticate': (p, conn) => {
      // A nonce serves one attempt, whatever the attempt's fault: it is used up before anything is checked.
      const nonce = conn.session.nonce;
      conn.session.nonce = null;
      const peerId = expectPeerIdString(p.peer_id, 'peer_id');
      const signature = expectBytes(p.signature, 'signature', LIMITS.signature, true);
      expectPeerId(peerId, 'peer_id');
      if (!nonce) throw new SignpostError('unauthorized', 'session.authenticate: no current nonce; call session.challenge first');
      const ok = verifyStrict(node.ed25519, publicKeyOf(peerId)!, sessionDigest(nonce, node.peerId), base64urlDecode(signature)!);
      if (!ok) throw new SignpostError('invalid_signature', `session.authenticate: signature by ${peerId} over the session digest does not verify`);
      conn.session.peerId = peerId;
      return { peer_id: peerId };
    },
    'session.serve': (p, conn) => {
      const asNode = p.as_node === undefined ? false : expectBoolean(p.as_node, 'as_node');
      node.serving.serve(conn, serviceIds(p.service_ids, 1), asNode);
      return {};
    },
    'session.unserve': (p, conn) => {
      node.serving.unserve(conn, serviceIds(p.service_ids, 0));
      return {};
    },
  };
}
