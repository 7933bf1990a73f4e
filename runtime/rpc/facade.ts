/**
 * What the JSON-RPC methods see of their node: the parts they call, and nothing of how the node was
 * composed (runtime/node/compose.ts builds this).
 */
import type { Ed25519 } from '../../protocols/crypto.js';
import type { Random } from '../../protocols/random.js';
import type { RpcMethod } from '../../protocols/rpc.js';
import type { Clock } from '../base/clock.js';
import type { NodeActors } from '../inspect/actors.js';
import type { Dht } from '../net/dht.js';
import type { Relay } from '../net/relay.js';
import type { Resources } from '../net/resources.js';
import type { Shards } from '../store/shards.js';
import type { Store } from '../store/store.js';
import type { RpcConnection } from './server.js';
import type { Serving } from './serving.js';
import type { Subscriptions } from './subscriptions.js';

/** The clock controls of test mode (SPEC §10), owned by the node's job scheduler. */
export interface ClockControls {
  setTime(now: number): Promise<number>;
  advance(seconds: unknown): Promise<number>;
}

export interface NodeFacade {
  peerId: string;
  version: string;
  addresses(): string[];
  /** Seconds since the node started (wall clock). */
  uptimeS(): number;
  clock: Clock;
  store: Store;
  shards: Shards;
  jobs: ClockControls;
  actors: NodeActors;
  dht: Dht;
  resources: Resources;
  /** Provider calls: the caller's side and the relay's (SPEC §9.5). */
  relay: Relay;
  serving: Serving;
  subscriptions: Subscriptions;
  random: Random;
  ed25519: Ed25519;
  /** Neighbourhood size (the largest `ack`), default fan-out timeout, and the admins of SPEC §9.3. */
  k: number;
  requestTimeoutMs: number;
  admins: readonly string[];
}

/** One method: its params object (names already checked against protocols/rpc.ts), and the connection. */
export type Handler = (params: { [name: string]: unknown }, conn: RpcConnection) => unknown | Promise<unknown>;

/** The handlers of one namespace. */
export type Handlers = { [M in RpcMethod]?: Handler };
