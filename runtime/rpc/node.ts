/**
 * `node.*`, `actors.*` and, in test mode, `debug.*` (SPEC §9.4, §10): the node itself, its actors, and the
 * controls of the manual clock.
 */
import { SignpostError } from '../../protocols/errors.js';
import { expectString, expectTimestamp } from '../../protocols/validate.js';
import type { Handlers, NodeFacade } from './facade.js';

export function nodeHandlers(node: NodeFacade): Handlers {
  return {
    'node.info': () => ({ peer_id: node.peerId, version: node.version, addresses: node.addresses(), uptime_s: node.uptimeS(), now: node.clock.now() }),
    'node.peers': () => node.dht.peers(),
    'actors.list': () => node.actors.list(),
    'actors.get': (p) => node.actors.get(expectString(p.id, 'id', 256)),
  };
}

/** Only under the manual clock (SPEC §10). */
export function debugHandlers(node: NodeFacade): Handlers {
  return {
    'debug.set_time': async (p) => ({ now: await node.jobs.setTime(expectTimestamp(p.now, 'now')) }),
    // The clock owns the rule: a non-negative safe integer that keeps now within 2^53 − 1.
    'debug.advance_time': async (p) => ({ now: await node.jobs.advance(p.seconds) }),
    'debug.crash_worker': async (p) => {
      const worker = expectTimestamp(p.worker, 'worker');
      const how = p.how === undefined ? 'exit' : p.how;
      if (how !== 'exit' && how !== 'throw') throw new SignpostError('invalid_params', `how must be "exit" or "throw", got ${JSON.stringify(how)}`);
      await node.shards.crashWorker(worker, how);
      return {};
    },
  };
}
