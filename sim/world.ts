/**
 * The simulated population: real nodes, each built by `composeNode` exactly as `startNode` builds one, on
 * the in-memory transport, virtual time, a seeded random source and the memory store (or LMDB in a
 * temporary directory). Nodes join, leave gracefully (their peers are told at once, as by a closed
 * socket), and crash: a crashed node's timers are dropped and its address goes silent, so its peers learn
 * of it only by timeouts. A node that crashes keeping its state comes back later with the same identity,
 * address and store; one that loses it is gone, and a new node takes its place.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultConfig, type Config } from '../config/index.js';
import type { Ed25519 } from '../protocols/crypto.js';
import { identityFromSeed, type Identity } from '../protocols/identity.js';
import { seededRandom, type Random } from '../protocols/random.js';
import { logger } from '../runtime/base/log.js';
import type { MemoryNetwork } from '../runtime/net/memory-transport.js';
import { composeNode, type SignpostNode } from '../runtime/node/compose.js';
import { openLmdbStore } from '../runtime/store/lmdb-store.js';
import { MemoryStore } from '../runtime/store/memory-store.js';
import type { Store } from '../runtime/store/store.js';
import type { Owner, VirtualTime } from './time.js';

export type StoreKind = 'memory' | 'lmdb';

export interface SimNode {
  index: number;
  address: string;
  identity: Identity;
  state: 'starting' | 'up' | 'down';
  /** The running node (null while down). */
  node: SignpostNode | null;
  owner: Owner | null;
  /** What survives a crash that keeps state: the memory store itself, or the LMDB directory. */
  store: Store | null;
  dataDir: string | null;
  /** Virtual ms at which it last came up. */
  upAt: number;
}

export interface WorldOptions {
  time: VirtualTime;
  network: MemoryNetwork;
  random: Random;
  ed25519: Ed25519;
  store: StoreKind;
  /** Config fields that differ from the defaults (the simulator runs the defaults otherwise). */
  config: Partial<Config>;
  /** Store I/O the event loop waits for before the next event (LMDB commits finish on another thread). */
  track(p: Promise<unknown>): void;
  /** A node failed to start or stop: the simulator reports it. */
  onError(what: string, e: unknown): void;
}

/** How many live nodes a joining node is given as its bootstrap list. */
const BOOTSTRAP_PEERS = 3;

export class World {
  readonly nodes: SimNode[] = [];
  private readonly log = logger('error', () => undefined);
  private tmp: string | null = null;
  /** The lookup hop counts of every node composed so far (runtime/net/dht.ts stats). */
  private readonly hops: number[][] = [];

  constructor(private readonly opts: WorldOptions) {}

  /** The nodes that are up, in the order they joined. */
  live(): SimNode[] {
    return this.nodes.filter((n) => n.state === 'up');
  }

  /** A new node at a new address, bootstrapping from up to three live nodes. */
  join(): SimNode {
    const index = this.nodes.length;
    const address = `ws://10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}:7070`;
    const identity = identityFromSeed(this.opts.random.bytes(32), this.opts.ed25519);
    const n: SimNode = { index, address, identity, state: 'down', node: null, owner: null, store: null, dataDir: null, upAt: 0 };
    this.nodes.push(n);
    this.start(n, this.pick(BOOTSTRAP_PEERS));
    return n;
  }

  /** Leaves gracefully: the node stops, closing its transport (its peers are told) and its store. */
  leave(n: SimNode): void {
    if (n.state !== 'up' || !n.node) return;
    const node = n.node;
    const owner = n.owner!;
    n.state = 'down';
    n.node = null;
    node.stop().then(
      () => void (owner.alive = false),
      (e) => this.opts.onError(`node ${n.index} stop`, e),
    );
    this.forget(n);
  }

  /** Crashes: everything of the node stops at once, without a word to its peers. */
  crash(n: SimNode, keepState: boolean): void {
    if (n.state === 'down') return;
    n.owner!.alive = false;
    this.opts.network.crash(n.address);
    n.state = 'down';
    n.node = null;
    if (!keepState) this.forget(n);
    else if (n.dataDir) {
      // The process is gone, so its LMDB environment is closed; what was committed is on disk.
      const store = n.store!;
      n.store = null;
      void store.close().catch(() => undefined);
    }
  }

  /** Starts a crashed node again with its identity, address and what its store kept. */
  restart(n: SimNode): void {
    if (n.state !== 'down' || (!n.store && !n.dataDir)) return;
    this.start(n, this.pick(BOOTSTRAP_PEERS, n));
  }

  /** Removes what a node kept on "disk" (the temporary LMDB directory of a node that is gone for good). */
  private forget(n: SimNode): void {
    n.store = null;
    if (n.dataDir) rmSync(n.dataDir, { recursive: true, force: true });
    n.dataDir = null;
  }

  private pick(count: number, not?: SimNode): string[] {
    const live = this.live().filter((x) => x !== not);
    const out: string[] = [];
    for (let i = 0; i < count && live.length > 0; i++) out.push(live.splice(Math.floor(this.opts.random.float() * live.length), 1)[0].address);
    return out;
  }

  private start(n: SimNode, bootstrap: string[]): void {
    const { time, network, ed25519 } = this.opts;
    const owner = time.owner();
    const random = seededRandom(new DataView(this.opts.random.bytes(4).buffer).getUint32(0));
    n.owner = owner;
    n.state = 'starting';
    const config: Config = { ...defaultConfig(), workers: 0, clock: 'system', bootstrap, ...this.opts.config };
    const starting = (async () => {
      const store = await this.storeOf(n);
      n.store = store;
      const node = await composeNode({
        config,
        identity: n.identity,
        transport: network.join(n.identity.peerId, n.address),
        store,
        clock: owner.clock,
        random,
        ed25519,
        log: this.log,
        dataDir: n.dataDir,
        addresses: () => [n.address],
      });
      if (!owner.alive) return void (await node.stop());
      this.hops.push(node.dht.stats.hopCounts);
      n.node = node;
      await node.start();
      if (!owner.alive) return;
      n.state = 'up';
      n.upAt = time.now();
    })();
    starting.catch((e) => this.opts.onError(`node ${n.index} start`, e));
  }

  private async storeOf(n: SimNode): Promise<Store> {
    if (this.opts.store === 'memory') return n.store ?? new MemoryStore();
    this.tmp ??= mkdtempSync(path.join(tmpdir(), 'signpost-sim-'));
    n.dataDir ??= path.join(this.tmp, `node-${n.index}`);
    const opening = openLmdbStore({ dataDir: n.dataDir });
    this.opts.track(opening);
    return tracked(await opening, this.opts.track);
  }

  hopCounts(): readonly number[][] {
    return this.hops;
  }

  /**
   * Ends the world: every node stops where it is, as at a power cut (a graceful stop would wait on
   * virtual time that no longer moves), and the stores are closed and removed.
   */
  async close(): Promise<void> {
    for (const n of this.nodes) if (n.owner) n.owner.alive = false;
    await Promise.allSettled(this.nodes.map((n) => n.store?.close()));
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** The store with its commits handed to `track`, so that virtual time waits for the disk. */
function tracked(store: Store, track: (p: Promise<unknown>) => void): Store {
  const write: Store['write'] = (changes) => {
    const p = store.write(changes);
    track(p);
    return p;
  };
  const putMeta: Store['putMeta'] = (name, value) => {
    const p = store.putMeta(name, value);
    track(p);
    return p;
  };
  const close: Store['close'] = () => {
    const p = store.close();
    track(p);
    return p;
  };
  return Object.assign(Object.create(store) as Store, { write, putMeta, close });
}
