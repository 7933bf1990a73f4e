/**
 * A shard worker: one ResourceShard on its own thread, with its own handle on the node's LMDB
 * environment (lmdb-js shares one environment per path per process). Started by runtime/store/shards.ts.
 */
import { expose } from 'comlink';
import { setImmediate } from 'node:timers';
import { toErrorData } from '../../protocols/errors.js';
import { identityFromSeed } from '../../protocols/identity.js';
import { resourceIdBytes } from '../../protocols/objects.js';
import { signatureVerifier } from '../../protocols/signed.js';
import { systemTimers } from '../base/clock.js';
import { nodeEd25519 } from '../base/node-crypto.js';
import { ResourceShard } from './shard.js';
import { openLmdbStore } from './lmdb-store.js';
import type { Store } from './store.js';
import { parentEndpoint } from './worker-host.js';
import { shardOf, type Answer, type FromShard, type ShardInit, type ShardWorkerApi, type ToShard } from './shard-protocol.js';
import type { ActorEvent } from '../inspect/actor-view.js';

let shard: ResourceShard;
let store: Store;
let now = 0;
const follow = (t: number): void => void (now = Math.max(now, t));

const api: ShardWorkerApi = {
  async init(init: ShardInit) {
    const ed25519 = nodeEd25519();
    follow(init.now);
    store = await openLmdbStore({ dataDir: init.dataDir });
    const port = init.port;
    const post = (m: FromShard) => port.postMessage(m);
    const answers = batcher<Answer>((batch) => post({ t: 'ans', batch }));
    const events = batcher<ActorEvent>((list) => post({ t: 'inspect', events: list }));
    const counts = batcher<true>(() => post({ t: 'counts', activations: shard.activations, passivations: shard.passivations }));
    shard = new ResourceShard({
      store,
      ruleContext: () => ({ now, cfg: init.rules, hostPeerId: init.hostPeerId }),
      verify: signatureVerifier(ed25519),
      timers: systemTimers,
      passivateAfterMs: init.passivateAfterMs,
      sign: identityFromSeed(init.seed, ed25519).sign,
      owns: (keyId) => shardOf(resourceIdBytes(keyId)!, init.count) === init.index,
      onInspect: events,
      onCounts: () => counts(true),
    });
    shard.setInspecting(init.inspecting);
    port.on('message', (m: ToShard) => {
      follow(m.now);
      for (const { id, keyId, req } of m.batch) {
        shard.request(keyId, req).then(
          (result) => answers({ id, result }),
          (e) => answers({ id, error: toErrorData(e) }),
        );
      }
    });
  },
  listItems: (t, ids) => (follow(t), shard.listItems(ids)),
  evictStale: (t) => (follow(t), shard.evictStale()),
  clearExpired: (t) => (follow(t), shard.clearExpired()),
  renew: (t) => (follow(t), shard.renew()),
  syncSummary: (t, at, range) => (follow(t), shard.syncSummary(at, range)),
  syncSymbols: (t, at, range, from, to) => (follow(t), shard.syncSymbols(at, range, from, to)),
  syncTimeBins: (t, at, range) => (follow(t), shard.syncTimeBins(at, range)),
  syncIds: (t, at, range, after, limit, since) => (follow(t), shard.syncIds(at, range, after, limit, since)),
  syncEntries: (prefixes) => shard.syncEntries(prefixes),
  actors: () => shard.actors(),
  actor: (id) => shard.actor(id),
  setInspecting: (on) => shard.setInspecting(on),
  stats: () => shard.stats(),
  crash(how) {
    if (how === 'exit') process.exit(70);
    setTimeout(() => {
      throw new Error('crash requested by debug.crash_worker');
    });
  },
  async close() {
    await shard?.close();
    await store?.close();
  },
};

/** Collects items and hands them over once per tick. */
function batcher<T>(flush: (items: T[]) => void): (item: T) => void {
  let items: T[] = [];
  return (item) => {
    if (items.push(item) > 1) return;
    setImmediate(() => {
      const out = items;
      items = [];
      flush(out);
    });
  };
}

// Before any await (DESIGN "Known traps": Bun drops messages that arrive before expose()).
expose(api, parentEndpoint());
