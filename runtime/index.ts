/**
 * The package's public entry: start a node, talk to one (the SDK, runtime/client/client.ts; docs/sdk.md), and the
 * protocol objects.
 */
export { startNode, type RunningNode } from './node/start.js';
export { RpcClient, RpcConnectionError, RpcError } from './client/rpc-client.js';
export {
  SignpostClient,
  ProviderRegistration,
  Subscription,
  VerificationError,
  isPermanentFailure,
  type Acks,
  type CallOptions,
  type ConnectOptions,
  type CreateResourceOptions,
  type KeepAliveOptions,
  type MiningProgress,
  type NodeInfo,
  type PeerError,
  type PeerInfo,
  type ProviderOutcome,
  type RegisterOptions,
  type RegistrationState,
  type ClientTransport,
  type ConnectionStatus,
} from './client/client.js';
export { loadConfig, defaultConfig, type Config } from '../config/index.js';
export * from '../protocols/index.js';
