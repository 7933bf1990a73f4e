/**
 * N nodes in this process on one in-memory network (runtime/net/memory-transport.ts), each composed by
 * `composeNode` exactly as a real node is, on the memory store, a manual node clock and a seeded random
 * source (the system clock when `config.clock` says so). Node 0 starts alone; the others bootstrap from it.
 */
import { defaultConfig, type Config } from '../../config/index.js';
import { identityFromSeed } from '../../protocols/identity.js';
import { seededRandom } from '../../protocols/random.js';
import { ManualClock, SystemClock, systemTimers } from '../../runtime/base/clock.js';
import { logger } from '../../runtime/base/log.js';
import { MemoryNetwork, type NetworkConditions } from '../../runtime/net/memory-transport.js';
import { composeNode, type SignpostNode } from '../../runtime/node/compose.js';
import { MemoryStore } from '../../runtime/store/memory-store.js';
import { ed25519 } from './objects.js';

export interface MemoryCluster {
  network: MemoryNetwork;
  nodes: SignpostNode[];
  addresses: string[];
  stop(): Promise<void>;
}

export async function memoryCluster(opts: { nodes: number; seed: number; now: number; config?: Partial<Config>; conditions?: NetworkConditions }): Promise<MemoryCluster> {
  const random = seededRandom(opts.seed);
  const network = new MemoryNetwork({ timers: systemTimers, random, conditions: opts.conditions });
  const addresses = Array.from({ length: opts.nodes }, (_, i) => `ws://10.0.${i >> 8}.${i & 255}:7070`);
  const nodes: SignpostNode[] = [];
  for (let i = 0; i < opts.nodes; i++) {
    const identity = identityFromSeed(random.bytes(32), ed25519);
    const config: Config = { ...defaultConfig(), workers: 0, clock: 'manual', clock_start: opts.now, bootstrap: i === 0 ? [] : [addresses[0]], ...opts.config };
    const node = await composeNode({
      config,
      identity,
      transport: network.join(identity.peerId, addresses[i]),
      store: new MemoryStore(),
      clock: config.clock === 'manual' ? new ManualClock(opts.now) : new SystemClock(),
      random,
      ed25519,
      log: logger('error', () => undefined),
      dataDir: null,
      addresses: () => [addresses[i]],
    });
    nodes.push(node);
  }
  await Promise.all(nodes.map((n) => n.start()));
  return { network, nodes, addresses, stop: async () => void (await Promise.all(nodes.map((n) => n.stop()))) };
}
