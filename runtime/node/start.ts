/**
 * A real node: `composeNode` (compose.ts) given the real parts (LMDB in the data directory, the identity
 * file, the WebSocket transport, the system or manual clock, `node:crypto`'s Ed25519) and one HTTP server
 * carrying the JSON-RPC WebSocket at /rpc, the peers at /p2p, the inspection stream at /inspect and the
 * pages and files of http.ts.
 */
import http from 'node:http';
import https from 'node:https';
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Config } from '../../config/index.js';
import type { Identity } from '../../protocols/identity.js';
import { systemRandom } from '../../protocols/random.js';
import { ManualClock, SystemClock, type Clock } from '../base/clock.js';
import { logger, type Logger } from '../base/log.js';
import { nodeEd25519 } from '../base/node-crypto.js';
import { WsTransport } from '../net/ws-transport.js';
import { attachRpcServer } from '../rpc/server.js';
import { openLmdbStore } from '../store/lmdb-store.js';
import { composeNode, type SignpostNode } from './compose.js';
import { announcedAddresses } from './addresses.js';
import { nodeRoutes } from './http.js';
import { loadOrCreateIdentity } from './identity-file.js';

export interface RunningNode {
  identity: Identity;
  config: Config;
  clock: Clock;
  node: SignpostNode;
  /** Base URL of the node, e.g. ws://127.0.0.1:7070 */
  url: string;
  rpcUrl: string;
  visualiserUrl: string;
  port: number;
  stop(): Promise<void>;
}

export async function startNode(config: Config, log: Logger = logger(config.log_level)): Promise<RunningNode> {
  mkdirSync(config.data_dir, { recursive: true });
  // The store first: a data directory of another schema version is refused before anything is written to it.
  const store = await openLmdbStore({ dataDir: config.data_dir });
  let node: SignpostNode;
  /** What this node announces (addresses.ts), known once it listens. */
  let announced: string[] = [];
  let transport: WsTransport;
  try {
    const ed25519 = nodeEd25519();
    const { identity } = loadOrCreateIdentity(config.identity, systemRandom, ed25519);
    const clock: Clock = config.clock === 'manual' ? new ManualClock(config.clock_start) : new SystemClock();
    let onInspect: (e: Parameters<SignpostNode['inspector']['emit']>[0]) => void = () => undefined;
    transport = new WsTransport({
      identity,
      ed25519,
      random: systemRandom,
      timers: clock.wall,
      now: () => clock.now(),
      ownAddresses: () => announced,
      maxFrameBytes: config.max_frame_bytes,
      maxConcurrentRequests: config.max_concurrent_requests,
      log,
      onInspect: (e) => onInspect(e),
    });
    node = await composeNode({
      config,
      identity,
      transport,
      transportActors: transport,
      store,
      clock,
      random: systemRandom,
      ed25519,
      log,
      dataDir: config.data_dir,
      addresses: () => announced,
    });
    onInspect = node.inspector.emit;
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }

  try {
    // With tls_cert / tls_key the one server speaks TLS: wss:// for /rpc, /p2p and /inspect, https:// for the page.
    const tls = config.tls_cert !== null && config.tls_key !== null ? { cert: readFileSync(config.tls_cert), key: readFileSync(config.tls_key) } : null;
    const routes = nodeRoutes({ node, rpcUrl: () => `${announced[0]}/rpc` });
    // An https.Server is an http.Server with TLS underneath: the same routes and upgrades serve it.
    const server: http.Server = tls ? (https.createServer(tls, routes) as unknown as http.Server) : http.createServer(routes);
    const rpc = attachRpcServer(server, '/rpc', node.dispatcher, config, (msg, fields) => log.warn(msg, fields));
    node.inspector.attach(server);
    transport.attach(server);

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    announced = announcedAddresses({ announce: config.announce, host: config.host, port, tls: tls !== null });
    log.info('announcing', { addresses: announced, listening: `${config.host}:${port}` });
    const baseUrl = announced[0];
    await node.start();

    let stopping: Promise<void> | null = null;
    return {
      identity: node.identity,
      config,
      clock: node.clock,
      node,
      url: baseUrl,
      rpcUrl: `${baseUrl}/rpc`,
      visualiserUrl: `${baseUrl.replace(/^ws/, 'http')}/`,
      port,
      stop() {
        stopping ??= (async () => {
          // WebSocket clients first: an upgraded socket is not an HTTP connection, and server.close() would
          // wait for a watching /inspect client (an open visualiser tab) or a peer forever.
          await rpc.close();
          await node.inspector.close();
          await transport.close();
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeAllConnections(); // idle keep-alive HTTP connections would hold close() open
          await closed;
          await node.stop();
        })();
        return stopping;
      },
    };
  } catch (e) {
    await node.stop().catch(() => undefined);
    throw e;
  }
}
