/**
 * The JSON-RPC methods of one node (SPEC §9): the table of protocols/rpc.ts, each method answered by the
 * handler of its namespace (registry.ts, resources.ts, session.ts, node.ts). Params are checked against the
 * table's names first (named params only, every required one present, no unknown one), then parsed by the
 * handler. `debug.*` exists only under the manual clock; `rpc.discover` returns the OpenRPC document.
 */
import { SignpostError } from '../../protocols/errors.js';
import { openRpcDocument, paramNames, RPC_METHODS, type RpcMethod } from '../../protocols/rpc.js';
import { expectFields, isPlainObject } from '../../protocols/validate.js';
import type { Handler, Handlers, NodeFacade } from './facade.js';
import { debugHandlers, nodeHandlers } from './node.js';
import { registryHandlers } from './registry.js';
import { resourcesHandlers } from './resources.js';
import type { RpcDispatcher } from './server.js';
import { sessionHandlers } from './session.js';

export type { NodeFacade } from './facade.js';

/** Checks a method's params object: named only, no unknown fields. */
function checkedParams(method: RpcMethod, p: unknown): { [k: string]: unknown } {
  const { required, optional } = paramNames(method);
  if (p === undefined && required.length === 0) return {};
  if (Array.isArray(p)) throw new SignpostError('invalid_params', `${method}: params must be an object of named params, not a list`);
  if (!isPlainObject(p)) throw new SignpostError('invalid_params', `${method}: params must be an object`);
  return expectFields(p, 'params', required, optional);
}

export function createDispatcher(node: NodeFacade): RpcDispatcher {
  const testMode = node.clock.kind === 'manual';
  const discover = openRpcDocument(node.version, { testMode });
  const handlers: Handlers = {
    ...registryHandlers(node),
    ...resourcesHandlers(node),
    ...sessionHandlers(node),
    ...nodeHandlers(node),
    ...(testMode ? debugHandlers(node) : {}),
    'rpc.discover': () => discover,
  };
  const offered = new Map<string, { method: RpcMethod; run: Handler }>();
  for (const method of Object.keys(RPC_METHODS) as RpcMethod[]) {
    if ('testMode' in RPC_METHODS[method] && !testMode) continue;
    const run = handlers[method];
    if (!run) throw new Error(`no handler for ${method} (protocols/rpc.ts lists it)`);
    offered.set(method, { method, run });
  }
  return {
    has: (method) => offered.has(method),
    async call(method, raw, conn) {
      const m = offered.get(method)!;
      return m.run(checkedParams(m.method, raw), conn);
    },
  };
}
