/**
 * The package's public entry: start a node, talk to one, and the protocol objects.
 */
export { startNode, type RunningNode } from './node.js';
export { RpcClient, RpcError } from './rpc-client.js';
export { loadConfig, defaultConfig, type Config } from '../config/index.js';
export * from '../protocols/index.js';
