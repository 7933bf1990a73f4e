/**
 * `signpost/client`: the SDK alone (docs/sdk.md), for Node, Deno, Bun and browsers. It loads nothing of the
 * node (no LMDB, no HTTP server, no worker threads, no file system): a browser imports it from its node as
 * `http://HOST:PORT/sdk/signpost.js`, built from this file.
 *
 * @example
 * import { SignpostClient, generateIdentity, systemRandom } from 'signpost/client';
 * const client = await SignpostClient.connect('ws://127.0.0.1:7070', { identity: generateIdentity(systemRandom) });
 */
export {
  SignpostClient,
  ProviderRegistration,
  Subscription,
  ServedService,
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
  type CallContext,
  type ProviderCaller,
  type ProviderCallTarget,
  type ServeOptions,
  type ServiceHandlers,
  type RegisterOptions,
  type RegistrationState,
  type ClientTransport,
  type ConnectionStatus,
} from './client.js';
export { RpcClient, RpcConnectionError, RpcError } from './rpc-client.js';
export { rpcUrlOf } from '../../protocols/urls.js';
export { ERROR_CODES, SignpostError, type ErrorCode } from '../../protocols/errors.js';
export { nobleEd25519, type Ed25519 } from '../../protocols/crypto.js';
export { systemRandom, seededRandom, type Random } from '../../protocols/random.js';
export { generateIdentity, identityFromFile, identityFromSeed, identityToFile, isValidPeerId, type Identity, type IdentityFile } from '../../protocols/identity.js';
export { resourceId } from '../../protocols/objects.js';
export { makeKey, makeMetadata, makeRecord, makeTombstone } from '../../protocols/signed.js';
export type { ChallengeType, Key, Record, RecordMetadata, Tombstone } from '../../protocols/types.js';
