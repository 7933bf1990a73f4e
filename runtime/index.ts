/**
 * The package's public entry `signpost`: start a node, the SDK (`signpost/client`, docs/sdk.md), the
 * node's Ed25519 backend for Node programs, the config, and the protocol objects.
 */
export { startNode, type RunningNode } from './node/start.js';
export { composeNode, type NodeParts, type SignpostNode } from './node/compose.js';
export { nodeEd25519 } from './base/node-crypto.js';
export * from './client/index.js';
export { loadConfig, defaultConfig, type Config } from '../config/index.js';
export * from '../protocols/index.js';
