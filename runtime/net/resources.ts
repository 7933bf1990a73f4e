/**
 * The Resources API (SPEC §5, §9.2): each call finds the neighbourhood of the resource with a lookup, sends
 * to every member in parallel (this node's own shard counts like any other node), and returns once `ack`
 * of them succeeded, failing with `quorum_not_reached` as soon as that can no longer happen. Writes still
 * pending then carry on in the background. Reads merge every answer with the rules of protocols/
 * (tombstones included), after checking every signature a peer sent.
 *
 * This module also serves the peer side of the same operations (protocols/wire.ts methods) and pushes
 * keys for the upkeep jobs (republish, renew).
 */
import { SignpostError, toErrorData, type ErrorCode } from '../../protocols/errors.js';
import { resourceLocation } from '../../protocols/kademlia.js';
import { mergeAnswers, type KeyItem, type RuleContext } from '../../protocols/registry.js';
import { mergeKeys, checkKeyTime, checkRecordTime, checkTombstoneTime } from '../../protocols/rules.js';
import { signRecord, strictVerifier, verifyKey, verifyRecord, verifyTombstone, type SignatureVerifier } from '../../protocols/signed.js';
import { parseKeyContents, type PeerRequest } from '../../protocols/wire.js';
import type { Key, Record as ProviderRecord, RecordMetadata, Tombstone } from '../../protocols/types.js';
import type { Dht, Neighbour } from './dht.js';
import type { Transport } from './ws-transport.js';
import type { Shards } from '../store/shards.js';
import type { ShardRequest } from '../store/shard-protocol.js';
import type { Logger } from '../base/log.js';

/** One node's failure in a fan-out call (SPEC §9.2 `errors`). */
export interface PeerError {
  peer_id: string;
  code: ErrorCode;
  message: string;
}

export interface Quorum<T> {
  acks: number;
  errors: PeerError[];
  /** Successful answers by peer id, as received before the call returned. */
  answers: Map<string, T>;
}

export interface ResourcesOptions {
  peerId: string;
  dht: Dht;
  transport: Transport;
  shards: Shards;
  ruleContext(): RuleContext;
  /** Signs a digest with the node's key (node-hosted records). */
  sign(digest: Uint8Array): Uint8Array;
  k: number;
  requestTimeoutMs: number;
  log: Logger;
}

/** Fan-out options of one call: `ack` of 1..K successes within `timeoutMs`. */
export interface FanOut {
  ack: number;
  timeoutMs: number;
}

/** Pushes of one upkeep run, to at most this many keys at once. */
const PUSH_CONCURRENCY = 8;

export class Resources {
  private readonly verifier: SignatureVerifier;

  constructor(private readonly opts: ResourcesOptions) {
    this.verifier = cachedVerifier(100_000);
  }

  // ---- the client API (SPEC §9.2) ----

  async createResource(key: Key, f: FanOut): Promise<{ resource_id: string } & Omit<Quorum<unknown>, 'answers'>> {
    verifyKey(key);
    checkKeyTime(key, this.opts.ruleContext());
    const q = await this.write(key.id, f, { type: 'register_key', key }, 'store_key', { key });
    return { resource_id: key.id, acks: q.acks, errors: q.errors };
  }

  async registerProvider(record: ProviderRecord, f: FanOut): Promise<Omit<Quorum<unknown>, 'answers'>> {
    verifyRecord(record);
    checkRecordTime(record, this.opts.ruleContext());
    const q = await this.write(record.metadata.key_id, f, { type: 'put_record', record }, 'put_record', { record });
    return { acks: q.acks, errors: q.errors };
  }

  /** SPEC §9.3: the node co-signs as host, for metadata an authenticated admin issued for this node. */
  async registerNodeProvider(metadata: RecordMetadata, admin: string, f: FanOut): Promise<{ record: ProviderRecord } & Omit<Quorum<unknown>, 'answers'>> {
    if (metadata.issued_by !== admin) {
      throw new SignpostError('unauthorized', `register_node_provider: metadata.issued_by ${metadata.issued_by} is not the authenticated admin ${admin}`);
    }
    if (metadata.peer_id !== this.opts.peerId) {
      throw new SignpostError('invalid_params', `register_node_provider: metadata.peer_id must be this node, ${this.opts.peerId}`);
    }
    const record = signRecord(metadata, this.opts.ruleContext().now, this.opts.sign);
    return { record, ...(await this.registerProvider(record, f)) };
  }

  async unregisterProvider(tombstone: Tombstone, f: FanOut): Promise<Omit<Quorum<unknown>, 'answers'>> {
    verifyTombstone(tombstone);
    checkTombstoneTime(tombstone, this.opts.ruleContext());
    const q = await this.write(tombstone.key_id, f, { type: 'add_tombstone', tombstone }, 'add_tombstone', { tombstone });
    return { acks: q.acks, errors: q.errors };
  }

  async getResource(resourceId: string, f: FanOut): Promise<{ resource: Key; acks: number; errors: PeerError[] }> {
    const q = await this.read(resourceId, f);
    return { resource: mergeKeys([...q.answers.values()].map((a) => a.key)), acks: q.acks, errors: q.errors };
  }

  /** The providers as every node of the neighbourhood that answers in time sees them ([] if none holds the key). */
  async view(resourceId: string): Promise<ProviderRecord[]> {
    const deadline = Date.now() + this.opts.requestTimeoutMs;
    const nodes = await this.neighbourhood(resourceId, deadline);
    const q = await quorum(nodes, nodes.length, deadline, (n, ms) => this.fetch(n, resourceId, ms), { settleAll: true });
    if (q.answers.size === 0) return [];
    return mergeAnswers([...q.answers.values()], new Set(q.answers.keys()), this.opts.ruleContext()).records;
  }

  async resolveProviders(resourceId: string, f: FanOut, serviceId?: string): Promise<{ providers: ProviderRecord[]; acks: number; errors: PeerError[] }> {
    const q = await this.read(resourceId, f);
    const merged = mergeAnswers([...q.answers.values()], new Set(q.answers.keys()), this.opts.ruleContext());
    const providers = serviceId === undefined ? merged.records : merged.records.filter((r) => r.metadata.service_id.includes(serviceId));
    return { providers, acks: q.acks, errors: q.errors };
  }

  // ---- the peer side (protocols/wire.ts) ----

  /** Serves one authenticated peer's request (who sent it does not change the answer). */
  async serve(req: PeerRequest): Promise<unknown> {
    switch (req.method) {
      case 'ping':
        return {};
      case 'find_node':
        return { peers: this.opts.dht.closestKnown(req.target) };
      case 'store_key':
        await this.opts.shards.request(req.key.id, { type: 'register_key', key: req.key });
        return {};
      case 'put_record':
        await this.opts.shards.request(req.record.metadata.key_id, { type: 'put_record', record: req.record });
        return {};
      case 'add_tombstone':
        await this.opts.shards.request(req.tombstone.key_id, { type: 'add_tombstone', tombstone: req.tombstone });
        return {};
      case 'get':
        return this.localItem(req.key_id);
      case 'republish':
        return this.acceptPush(req.key, req.records, req.tombstones);
    }
  }

  // ---- upkeep ----

  /**
   * Pushes each key with its records and tombstones to its current neighbourhood (republish job), so
   * nodes that joined later hold it too. Returns how many nodes took each push.
   */
  async push(items: readonly KeyItem[]): Promise<{ keys: number; pushes: number; failed: number }> {
    let pushes = 0;
    let failed = 0;
    const queue = [...items];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const target = resourceLocation(item.key.id)!;
        const { nodes } = await this.opts.dht.neighbourhood(target, this.opts.requestTimeoutMs, { fresh: true });
        const params = { key: item.key, records: item.records, tombstones: item.tombstones };
        const results = await Promise.allSettled(
          nodes.filter((n) => !n.self).map((n) => this.send(n, 'republish', params, this.opts.requestTimeoutMs)),
        );
        for (const r of results) r.status === 'fulfilled' ? pushes++ : failed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUSH_CONCURRENCY, items.length) }, worker));
    return { keys: items.length, pushes, failed };
  }

  /** The items of `keyIds` with only this node's records re-signed at `at` (renew job's publishing phase). */
  async renewedItems(keyIds: readonly string[], at: number): Promise<KeyItem[]> {
    const items = await this.opts.shards.listItems([...keyIds]);
    return items.map((i) => ({
      key: i.key,
      records: i.records.filter((r) => r.metadata.peer_id === this.opts.peerId && r.timestamp_created === at),
      tombstones: [],
    }));
  }

  // ---- internals ----

  /** One request to a peer of the neighbourhood; a peer that cannot be reached leaves the routing table. */
  private async send(n: Neighbour, method: string, params: object, timeoutMs: number): Promise<unknown> {
    try {
      return await this.opts.transport.request(n, method, params, timeoutMs);
    } catch (e) {
      if (e instanceof SignpostError && e.code === 'peer_unreachable') this.opts.dht.failed(n.peerId);
      throw e;
    }
  }

  private async localItem(keyId: string): Promise<KeyItem> {
    const [item] = await this.opts.shards.listItems([keyId]);
    if (!item) throw new SignpostError('key_not_found', `Key ${keyId} is not held by this node`);
    return item;
  }

  private async acceptPush(key: Key, records: unknown[], tombstones: unknown[]) {
    const { shards } = this.opts;
    await shards.request(key.id, { type: 'republish_key', key });
    const r = records.length ? await shards.request<{ updated: number }>(key.id, { type: 'republish_records', items: records }) : { updated: 0 };
    const t = tombstones.length ? await shards.request<{ updated: number }>(key.id, { type: 'republish_tombstones', items: tombstones }) : { updated: 0 };
    return { updated: r.updated + t.updated };
  }

  private async neighbourhood(resourceId: string, deadline: number): Promise<Neighbour[]> {
    const target = resourceLocation(resourceId)!;
    const { nodes } = await this.opts.dht.neighbourhood(target, Math.max(1, deadline - Date.now()));
    return nodes;
  }

  /** A write to the whole neighbourhood: the local shard for this node, `method` for the others. */
  private async write(keyId: string, f: FanOut, local: ShardRequest, method: string, params: object): Promise<Quorum<unknown>> {
    const deadline = Date.now() + f.timeoutMs;
    const nodes = await this.neighbourhood(keyId, deadline);
    return quorum(nodes, f.ack, deadline, (n, ms) =>
      n.self ? this.opts.shards.request(keyId, local) : this.send(n, method, params, ms),
    );
  }

  /** A read of the whole neighbourhood; `key_not_found` is not a success (SPEC §9.2). */
  private async read(keyId: string, f: FanOut): Promise<Quorum<KeyItem>> {
    const deadline = Date.now() + f.timeoutMs;
    const nodes = await this.neighbourhood(keyId, deadline);
    const q = await quorum(nodes, f.ack, deadline, (n, ms) => this.fetch(n, keyId, ms)).catch((e: unknown) => {
      if (e instanceof SignpostError && e.code === 'quorum_not_reached') {
        const errors = e.data.errors as PeerError[];
        const answered = errors.filter((x) => x.code !== 'peer_timeout' && x.code !== 'peer_unreachable');
        if (answered.length > 0 && answered.every((x) => x.code === 'key_not_found') && e.data.acks === 0) {
          throw new SignpostError('key_not_found', `Key ${keyId} is not held by any node of its neighbourhood that answered`, { errors });
        }
      }
      throw e;
    });
    return q;
  }

  private async fetch(n: Neighbour, keyId: string, timeoutMs: number): Promise<KeyItem> {
    if (n.self) return this.localItem(keyId);
    return this.checked(n.peerId, keyId, await this.send(n, 'get', { key_id: keyId }, timeoutMs));
  }

  /** A peer's `get` answer with every signature checked; a forged or altered object fails the answer. */
  private checked(peerId: string, keyId: string, raw: unknown): KeyItem {
    const item = parseKeyContents(raw);
    const bad = (what: string) => {
      this.opts.transport.penalise(peerId);
      return new SignpostError('invalid_signature', `${peerId} answered ${what}`);
    };
    if (item.key.id !== keyId) throw bad(`key ${item.key.id} for ${keyId}`);
    try {
      verifyKey(item.key, this.verifier);
      for (const r of item.records) {
        if (r.metadata.key_id !== keyId) throw new Error(`a record of ${r.metadata.key_id}`);
        verifyRecord(r, this.verifier);
      }
      for (const t of item.tombstones) {
        if (t.key_id !== keyId) throw new Error(`a tombstone of ${t.key_id}`);
        verifyTombstone(t, this.verifier);
      }
    } catch (e) {
      throw bad(`an object that does not verify: ${(e as Error).message}`);
    }
    return item;
  }
}

/**
 * Sends `call` to every node at once and settles as soon as the outcome is known: `ack` successes (the
 * rest carry on), or too few left to reach `ack` (`quorum_not_reached`, at once), or the deadline. With
 * `settleAll` it waits for every node (or the deadline) and resolves with whatever answered.
 */
export function quorum<T>(
  nodes: readonly Neighbour[],
  ack: number,
  deadline: number,
  call: (n: Neighbour, timeoutMs: number) => Promise<T>,
  opts: { settleAll?: boolean } = {},
): Promise<Quorum<T>> {
  return new Promise((resolve, reject) => {
    const answers = new Map<string, T>();
    const errors: PeerError[] = [];
    let pending = nodes.length;
    let done = false;
    const fail = () => {
      done = true;
      clearTimeout(timer);
      reject(
        new SignpostError('quorum_not_reached', `${answers.size} of ${ack} required acks (${nodes.length} nodes in the neighbourhood)`, {
          acks: answers.size,
          errors: [...errors],
        }),
      );
    };
    const succeed = () => {
      done = true;
      clearTimeout(timer);
      resolve({ acks: answers.size, errors: [...errors], answers: new Map(answers) });
    };
    const settle = () => {
      if (done) return;
      if (opts.settleAll) {
        if (pending === 0) succeed();
      } else if (answers.size >= ack) {
        succeed();
      } else if (answers.size + pending < ack) fail();
    };
    const timer = setTimeout(() => {
      if (done) return;
      const answered = new Set([...answers.keys(), ...errors.map((e) => e.peer_id)]);
      for (const n of nodes) {
        if (!answered.has(n.peerId)) errors.push({ peer_id: n.peerId, code: 'peer_timeout', message: `${n.peerId} did not answer in time` });
      }
      if (opts.settleAll) succeed();
      else fail();
    }, Math.max(0, deadline - Date.now()));
    for (const n of nodes) {
      // A call that throws at once is that node's failure like any other, not the whole call's.
      let sent: Promise<T>;
      try {
        sent = call(n, Math.max(1, deadline - Date.now()));
      } catch (e) {
        sent = Promise.reject(e);
      }
      sent.then(
        (v) => {
          pending--;
          if (!done) answers.set(n.peerId, v);
          settle();
        },
        (e) => {
          pending--;
          if (!done) {
            const d = toErrorData(e);
            errors.push({ peer_id: n.peerId, code: d.code, message: d.message });
          }
          settle();
        },
      );
    }
    settle();
  });
}

/** The strict verifier, remembering successes: a record resolved again costs a hash, not a verify. */
function cachedVerifier(max: number): SignatureVerifier {
  const ok = new Set<string>();
  return (peerId, digest, signature) => {
    const id = `${peerId}${signature}${Buffer.from(digest).toString('base64')}`;
    if (ok.has(id)) return true;
    if (!strictVerifier(peerId, digest, signature)) return false;
    if (ok.size >= max) ok.clear();
    ok.add(id);
    return true;
  };
}
