/**
 * The one place a node is put together (DESIGN: node composition). `composeNode` builds a whole node from
 * its parts: the config, an identity, a transport, a store, a clock, a random source and an Ed25519
 * backend. It knows nothing of sockets or files: `startNode` (start.ts) gives it the real parts (the
 * WebSocket transport, LMDB, the system clock) and an HTTP server; tests and the simulator give it an
 * in-memory network and store, and run many nodes in one process with the same code.
 *
 * @example
 * const node = await composeNode({ config, identity, transport, store, clock, random, ed25519, log, dataDir: null, addresses: () => [url] });
 * await node.start();
 * await node.call('resources.resolve_providers', { resource_id });
 * await node.stop();
 */
import type { Config } from '../../config/index.js';
import { ruleConfigOf } from '../../config/index.js';
import { SignpostError } from '../../protocols/errors.js';
import type { Ed25519 } from '../../protocols/crypto.js';
import type { Identity } from '../../protocols/identity.js';
import type { Random } from '../../protocols/random.js';
import type { RuleContext } from '../../protocols/registry.js';
import { cachedVerifier, signatureVerifier } from '../../protocols/signed.js';
import type { Clock } from '../base/clock.js';
import type { Logger } from '../base/log.js';
import { VERSION } from '../base/version.js';
import type { ActorSource } from '../inspect/actor-view.js';
import { NodeActors } from '../inspect/actors.js';
import { Inspector } from '../inspect/inspector.js';
import { Bootstrap } from '../net/bootstrap.js';
import { Dht } from '../net/dht.js';
import { Neighbourhoods } from '../net/neighbourhood.js';
import { peerService } from '../net/peer-service.js';
import { Relay } from '../net/relay.js';
import { Resources } from '../net/resources.js';
import { Sync } from '../net/sync.js';
import type { Transport } from '../net/transport.js';
import { Upkeep } from '../net/upkeep.js';
import { createDispatcher } from '../rpc/dispatcher.js';
import type { RpcConnection, RpcDispatcher } from '../rpc/server.js';
import { Serving } from '../rpc/serving.js';
import { Subscriptions } from '../rpc/subscriptions.js';
import { startShards, type Shards } from '../store/shards.js';
import type { Store } from '../store/store.js';
import { nodeMetrics } from './node-metrics.js';
import { Scheduler } from './scheduler.js';

export interface NodeParts {
  config: Config;
  identity: Identity;
  transport: Transport;
  /** The transport's own actors (the WebSocket transport's connections), when it has any. */
  transportActors?: ActorSource;
  store: Store;
  clock: Clock;
  random: Random;
  ed25519: Ed25519;
  log: Logger;
  /** The LMDB data directory, opened again by each worker thread; null with an in-memory store (`workers` must be 0). */
  dataDir: string | null;
  /** The base URLs this node tells clients (`node.info`). */
  addresses(): string[];
}

export interface SignpostNode {
  identity: Identity;
  config: Config;
  clock: Clock;
  store: Store;
  shards: Shards;
  scheduler: Scheduler;
  dht: Dht;
  bootstrap: Bootstrap;
  resources: Resources;
  relay: Relay;
  serving: Serving;
  sync: Sync;
  subscriptions: Subscriptions;
  actors: NodeActors;
  inspector: Inspector;
  metrics: ReturnType<typeof nodeMetrics>;
  /** The JSON-RPC methods (SPEC §9), as the `/rpc` server calls them. */
  dispatcher: RpcDispatcher;
  /** Calls one JSON-RPC method on this node as an anonymous client would (tests, the simulator). */
  call<T = unknown>(method: string, params?: object): Promise<T>;
  /** Runs the jobs due at start and starts joining the network. */
  start(): Promise<void>;
  /** Stops everything composeNode started and closes the store, in the reverse order. */
  stop(): Promise<void>;
}

export async function composeNode(parts: NodeParts): Promise<SignpostNode> {
  const { config, identity, transport, store, clock, random, ed25519, log } = parts;
  const rules = ruleConfigOf(config);
  const ruleContext = (): RuleContext => ({ now: clock.now(), cfg: rules, hostPeerId: identity.peerId });
  const metrics = nodeMetrics();
  const verify = signatureVerifier(ed25519);
  const startedAt = clock.wall.now();
  let inspector: Inspector | null = null;
  const onInspect = (e: Parameters<Inspector['emit']>[0]) => inspector?.emit(e);
  const opened: { close(): Promise<void> | void }[] = [];
  const closeAll = async () => {
    for (const o of opened.splice(0).reverse()) await o.close();
  };

  try {
    let subscriptions: Subscriptions | null = null;
    const shards = await startShards({
      workers: config.workers,
      store,
      dataDir: parts.dataDir,
      ruleContext,
      identity,
      verify,
      timers: clock.wall,
      passivateAfterMs: config.passivate_after_ms,
      onInspect,
      onRestart: () => void inspector?.resnapshot(),
      // Every successful write, from clients, peers or jobs, tells the subscriptions of its resource.
      onWritten: (keyId) => subscriptions?.noteWrite(keyId),
      log,
    });
    opened.push(shards);

    // The network: authenticated peers enter the routing table and are served the fan-out's requests.
    // What every part that runs actors on the wall clock is given.
    const running = { timers: clock.wall, now: () => clock.now(), onInspect, log, requestTimeoutMs: config.request_timeout_ms };
    let bootstrap: Bootstrap | null = null;
    const diversity =
      config.peer_diversity_per_table > 0
        ? { perTable: config.peer_diversity_per_table, perBucket: config.peer_diversity_per_bucket, exemptPrivate: config.peer_diversity_exempt === 'private' }
        : undefined;
    const dht = new Dht({ ...running, self: identity, transport, random, k: config.k, alpha: config.alpha, diversity, onEmptied: () => bootstrap?.tableEmptied() });
    opened.push({ close: () => dht.close() });
    const sync = new Sync({
      ...running,
      enabled: config.sync_interval > 0,
      dht,
      transport,
      shards,
      ruleContext,
      k: config.k,
      maxFrameBytes: config.max_frame_bytes,
      joined: () => bootstrap?.joined ?? false,
    });
    // Provider calls: the client connections that serve providers here, and the relay both ways (SPEC §9.5).
    const serving = new Serving({ selfPeerId: identity.peerId, admins: config.admins });
    const relay = new Relay({
      selfPeerId: identity.peerId,
      transport,
      dht,
      serving,
      timers: clock.wall,
      ratePerS: config.relay_rate_per_s,
      rateBurst: config.relay_rate_burst,
    });
    const serve = peerService(dht, shards, sync, relay);
    transport.serve(serve);
    transport.on({ peer: (peer) => dht.seen(peer), banned: (peerId) => dht.failed(peerId), traffic: (t) => (sync.traffic(t), metrics.peerRequest(t)) });
    opened.push(transport);
    let scheduler: Scheduler | null = null;
    // Once joined (at start, and after a rejoin), a node catches up with its neighbours at once.
    bootstrap = new Bootstrap({ ...running, urls: config.bootstrap, ownAddresses: parts.addresses, dht, transport, onJoined: () => void scheduler?.trigger('sync') });
    const joining = bootstrap;
    opened.push({ close: () => joining.stop() });
    const neighbourhoods = new Neighbourhoods(dht, transport, clock.wall);
    const resources = new Resources({
      identity,
      neighbourhoods,
      transport,
      shards,
      ruleContext,
      verify: cachedVerifier(verify),
      requestTimeoutMs: config.request_timeout_ms,
      sync,
    });
    const upkeep = new Upkeep({ peerId: identity.peerId, shards, neighbourhoods, requestTimeoutMs: config.request_timeout_ms });
    subscriptions = new Subscriptions({ view: (id) => resources.view(id), timers: clock.wall, random, log });
    const subs = subscriptions;
    opened.push({ close: () => subs.close() });

    const jobs = new Scheduler({
      clock,
      store,
      random,
      log,
      onInspect,
      onRun: metrics.jobRun,
      jobs: [
        {
          kind: 'renew',
          interval: config.renew_interval,
          work: {
            renew: () => shards.renew(),
            // Renewed host records go to their resource's neighbourhood at once (SPEC §5 renew).
            publish: async ({ at, renewed }) => upkeep.push(await upkeep.renewedItems(renewed.key_ids, at)),
          },
        },
        { kind: 'gc', interval: config.gc_interval, work: { collect: () => shards.clearExpired() } },
        {
          kind: 'republish',
          interval: config.replicate_interval,
          // Stale keys go with their records and tombstones to the key's current neighbourhood (SPEC §5).
          work: { evict: () => shards.evictStale(), push: ({ items }) => upkeep.push(items) },
        },
        // Each neighbour in turn compares what both hold and exchanges only what differs (net/sync.ts).
        ...(config.sync_interval > 0 ? [{ kind: 'sync' as const, interval: config.sync_interval, jitter: 0.1, work: { round: ({ at }: { at: number }) => sync.round(at) } }] : []),
      ],
    });
    scheduler = jobs;
    opened.push({ close: () => jobs.stop() });

    const others: ActorSource[] = [jobs, bootstrap, dht, sync, ...(parts.transportActors ? [parts.transportActors] : [])];
    const actors = new NodeActors([...others, shards]);
    const inspect = new Inspector({ now: () => clock.now(), actors: () => actors.list(), setInspecting: (on) => actors.setInspecting(on) });
    inspector = inspect;
    opened.push(inspect);
    metrics.collectFrom({ shards, store, others, dht, transport, sync, relay, serving, resources });

    const dispatcher = metrics.instrument(
      createDispatcher({
        peerId: identity.peerId,
        version: VERSION,
        addresses: parts.addresses,
        uptimeS: () => Math.floor((clock.wall.now() - startedAt) / 1000),
        clock,
        store,
        shards,
        jobs,
        actors,
        dht,
        resources,
        relay,
        serving,
        subscriptions,
        random,
        ed25519,
        k: config.k,
        requestTimeoutMs: config.request_timeout_ms,
        admins: config.admins,
      }),
    );
    const anonymous: RpcConnection = {
      id: 0,
      session: { nonce: null, peerId: null },
      notify: () => undefined,
      request: async () => 'closed' as const,
      onClose: () => undefined,
    };

    let stopping: Promise<void> | null = null;
    return {
      identity,
      config,
      clock,
      store,
      shards,
      scheduler: jobs,
      dht,
      bootstrap: joining,
      resources,
      relay,
      serving,
      sync,
      subscriptions,
      actors,
      inspector: inspect,
      metrics,
      dispatcher,
      async call<T>(method: string, params?: object): Promise<T> {
        if (!dispatcher.has(method)) throw new SignpostError('method_not_found', `unknown method '${method}'`);
        return (await dispatcher.call(method, params, anonymous)) as T;
      },
      async start() {
        await jobs.start();
        joining.start();
      },
      stop() {
        stopping ??= closeAll().then(() => store.close());
        return stopping;
      },
    };
  } catch (e) {
    await closeAll().catch(() => undefined);
    throw e;
  }
}
