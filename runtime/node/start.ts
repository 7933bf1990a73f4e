/**
 * Composes one node from its config (DESIGN: runtime/node/start.ts): identity, store, clock, the resource
 * actors (in worker threads or the main thread), the scheduled jobs, and one HTTP server with the
 * JSON-RPC WebSocket at /rpc, the inspection stream at /inspect, /metrics, /healthz and the page at /.
 */
import http from 'node:http';
import https from 'node:https';
import { mkdirSync, readFileSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Config } from '../../config/index.js';
import { useCryptoBackend } from '../../protocols/crypto.js';
import { generateIdentity, identityFromFile, identityToFile, sign, type Identity } from '../../protocols/identity.js';
import { DEFAULT_RULE_CONFIG, type RuleConfig } from '../../protocols/types.js';
import type { RuleContext } from '../../protocols/registry.js';
import { nodeCryptoBackend } from '../base/node-crypto.js';
import { ManualClock, SystemClock, type Clock } from '../base/clock.js';
import { openStore, type Store } from '../store/lmdb-store.js';
import { startShards, type Shards } from '../store/shards.js';
import { Scheduler } from './scheduler.js';
import { Inspector } from '../inspect/inspector.js';
import { nodeMetrics } from './node-metrics.js';
import { attachRpcServer } from '../rpc/server.js';
import { createDispatcher } from '../rpc/methods.js';
import { VERSION } from '../base/version.js';
import { logger, type Logger } from '../base/log.js';
import { serveVisualiser } from '../inspect/visualiser.js';
import { Transport } from '../net/ws-transport.js';
import { Dht } from '../net/dht.js';
import { Resources } from '../net/resources.js';
import { Subscriptions } from '../rpc/subscriptions.js';
import type { RenewResult } from '../store/shard.js';
import type { KeyItem } from '../../protocols/registry.js';

export interface RunningNode {
  identity: Identity;
  config: Config;
  clock: Clock;
  store: Store;
  shards: Shards;
  scheduler: Scheduler;
  /** Base URL of the node, e.g. ws://127.0.0.1:7070 */
  url: string;
  rpcUrl: string;
  visualiserUrl: string;
  port: number;
  stop(): Promise<void>;
}

/** Loads `<file>` or creates it with a new key pair (mode 0600). */
export function loadOrCreateIdentity(file: string): Identity {
  if (existsSync(file)) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
    }
    return identityFromFile(json, file);
  }
  const id = generateIdentity();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(identityToFile(id), null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return id;
}

export function ruleConfigOf(c: Config): RuleConfig {
  const r = { ...DEFAULT_RULE_CONFIG };
  for (const k of Object.keys(r) as (keyof RuleConfig)[]) r[k] = c[k];
  return r;
}

export async function startNode(config: Config, log: Logger = logger(config.log_level)): Promise<RunningNode> {
  useCryptoBackend(nodeCryptoBackend());
  mkdirSync(config.data_dir, { recursive: true });
  // The store first: a data directory of another schema version is refused before anything is written to it.
  const store = await openStore({ dataDir: config.data_dir });
  const opened: { close(): Promise<void> }[] = [store];
  const closeAll = async () => {
    for (const o of opened.reverse()) await o.close();
  };
  try {
    return await composeNode(config, log, store, opened);
  } catch (e) {
    await closeAll().catch(() => undefined);
    throw e;
  }
}

async function composeNode(config: Config, log: Logger, store: Store, opened: { close(): Promise<void> }[]): Promise<RunningNode> {
  const identity = loadOrCreateIdentity(config.identity);
  const clock: Clock = config.clock === 'manual' ? new ManualClock(config.clock_start) : new SystemClock();
  const rules = ruleConfigOf(config);
  const ruleContext = (): RuleContext => ({ now: clock.now(), cfg: rules, hostPeerId: identity.peerId });
  const metrics = nodeMetrics();
  let baseUrl = '';

  let inspector: Inspector | null = null;
  const rawShards = await startShards({
    workers: config.workers,
    store,
    dataDir: config.data_dir,
    ruleContext,
    seed: identity.seed,
    passivateAfterMs: config.passivate_after_ms,
    onInspect: (e) => inspector?.emit(e),
    onRestart: () => void inspector?.resnapshot(),
    log,
  });
  opened.push(rawShards);

  // The network: peers authenticate at /p2p, enter the routing table, and serve the Resources API's fan-out.
  let resources: Resources | null = null;
  let dht: Dht | null = null;
  const transport = new Transport({
    identity,
    ownAddress: () => baseUrl || null,
    maxFrameBytes: config.max_frame_bytes,
    maxConcurrentRequests: config.max_concurrent_requests,
    serve: (_from, req) => resources!.serve(req),
    onPeer: (peer) => dht?.seen(peer),
    onBan: (peerId) => dht?.failed(peerId),
    log,
  });
  opened.push(transport);
  dht = new Dht({
    self: identity,
    transport,
    k: config.k,
    alpha: config.alpha,
    requestTimeoutMs: config.request_timeout_ms,
    bootstrap: config.bootstrap,
    now: () => clock.now(),
    onInspect: (e) => inspector?.emit(e),
    log,
  });
  opened.push({ close: async () => dht!.close() });
  const subscriptions = new Subscriptions({ view: (id) => resources!.view(id), log });
  opened.push({ close: async () => subscriptions.close() });
  // Every successful write, from clients, peers or jobs, tells the subscriptions of its resource.
  const shards = subscriptions.observe(rawShards);
  resources = new Resources({
    peerId: identity.peerId,
    dht,
    transport,
    shards,
    ruleContext,
    sign: (digest) => sign(identity, digest),
    k: config.k,
    requestTimeoutMs: config.request_timeout_ms,
    log,
  });
  const network = resources;

  const scheduler = new Scheduler({
    clock,
    store,
    log,
    onInspect: (e) => inspector?.emit(e),
    onRun: metrics.jobRun,
    jobs: [
      {
        kind: 'renew',
        interval: config.renew_interval,
        work: {
          renewing: () => shards.renew(),
          // Renewed host records go to their resource's neighbourhood at once (SPEC §5 renew).
          publishing: async ({ at, previous }) => {
            const { keys, renewed, key_ids } = previous as RenewResult;
            const pushed = await network.push(await network.renewedItems(key_ids, at));
            return { keys, renewed, pushed: pushed.pushes, failed: pushed.failed };
          },
        },
      },
      { kind: 'gc', interval: config.gc_interval, work: { collecting: () => shards.clearExpired() } },
      {
        kind: 'republish',
        interval: config.replicate_interval,
        work: {
          evicting: () => shards.evictStale(),
          // Stale keys go with their records and tombstones to the key's current neighbourhood (SPEC §5).
          pushing: async ({ previous }) => {
            const pushed = await network.push(previous as KeyItem[]);
            return { stale_keys: pushed.keys, pushed: pushed.pushes, failed: pushed.failed };
          },
        },
      },
    ],
  });
  opened.push({ close: () => scheduler.stop() });
  inspector = new Inspector({
    now: () => clock.now(),
    actors: async () => [...scheduler.actors(), ...dht!.actors(), ...(await shards.actors())],
    setInspecting: (on) => {
      shards.setInspecting(on);
      scheduler.setInspecting(on);
      dht!.setInspecting(on);
    },
  });
  opened.push(inspector);
  metrics.collectFrom({ shards, store, scheduler, dht, transport });
  await scheduler.start();

  const startedAtMs = Date.now();
  // With tls_cert / tls_key the one server speaks TLS: wss:// for /rpc, /p2p and /inspect, https:// for the page.
  const tls = config.tls_cert !== null && config.tls_key !== null ? { cert: readFileSync(config.tls_cert), key: readFileSync(config.tls_key) } : null;
  const handle: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, peer_id: identity.peerId }));
    } else if (req.method === 'GET' && path === '/metrics') {
      metrics.registry.render().then(
        (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
        (e) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${e instanceof Error ? e.message : String(e)}\n`),
      );
    } else if (!serveVisualiser(path, req, res, { peerId: identity.peerId, rpcUrl: `${baseUrl}/rpc`, config })) {
      // neither the visualiser's page at / nor one of its files (runtime/inspect/visualiser.ts)
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };
  // An https.Server is an http.Server with TLS underneath: the same routes and upgrades serve it.
  const server: http.Server = tls ? (https.createServer(tls, handle) as unknown as http.Server) : http.createServer(handle);
  const dispatcher = metrics.instrument(
    createDispatcher({
      peerId: identity.peerId,
      version: VERSION,
      addresses: () => [baseUrl],
      startedAtMs,
      clock,
      store,
      shards,
      scheduler,
      dht,
      resources,
      subscriptions,
      k: config.k,
      requestTimeoutMs: config.request_timeout_ms,
      admins: config.admins,
    }),
  );
  const rpc = attachRpcServer(server, '/rpc', dispatcher, config, (msg, fields) => log.warn(msg, fields));
  inspector.attach(server);
  transport.attach(server);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  baseUrl = `${tls ? 'wss' : 'ws'}://${host}:${port}`;
  dht.start();

  let stopping: Promise<void> | null = null;
  return {
    identity,
    config,
    clock,
    store,
    shards,
    scheduler,
    url: baseUrl,
    rpcUrl: `${baseUrl}/rpc`,
    visualiserUrl: `${tls ? 'https' : 'http'}://${host}:${port}/`,
    port,
    stop() {
      stopping ??= (async () => {
        // WebSocket clients first: an upgraded socket is not an HTTP connection, and server.close() would
        // wait for a watching /inspect client (an open visualiser tab) forever.
        await rpc.close();
        await inspector.close();
        dht.close();
        await transport.close(); // peer sockets are upgraded too
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections(); // idle keep-alive HTTP connections would hold close() open
        await closed;
        // Inspector, jobs, shards, then the store (the reverse of how they were opened).
        for (const o of [...opened].reverse()) await o.close();
      })();
      return stopping;
    },
  };
}
