/**
 * The Resources API (SPEC §5, §9.2): each call finds the neighbourhood of the resource with a lookup, sends
 * to every member in parallel (this node's own shard counts like any other node), and returns once `ack`
 * of them succeeded, failing with `quorum_not_reached` as soon as that can no longer happen. Writes still
 * pending then carry on in the background. Reads merge every answer with the rules of protocols/
 * (tombstones included), after checking every signature a peer sent.
 *
 * A client's write is admitted here first, without state (time rules and signatures, SPEC §3.5), so a
 * forged or future write gets its own error at once; this node's own shard then stores it without checking
 * the same signatures again, and every other node of the neighbourhood admits it in full.
 */
import { SignpostError, failedWith } from '../../protocols/errors.js';
import { admitKey, admitRecord, admitTombstone, lacks, mergeAnswers, type KeyItem, type RuleContext } from '../../protocols/registry.js';
import { offersService } from '../../protocols/rules.js';
import { signRecord, verifyKeyItem, type SignatureVerifier } from '../../protocols/signed.js';
import { parseKeyContents } from '../../protocols/wire.js';
import type { Identity } from '../../protocols/identity.js';
import type { Key, Record as ProviderRecord, RecordMetadata, Tombstone } from '../../protocols/types.js';
import type { Shards } from '../store/shards.js';
import type { ShardRequest } from '../store/shard-protocol.js';
import type { Neighbourhoods } from './neighbourhood.js';
import { acceptPush, localItem } from './peer-service.js';
import { quorum, type FanOut, type Neighbour, type Quorum } from './quorum.js';
import type { Transport } from './transport.js';
import type { Sync } from './sync.js';
import type { PeerError } from '../../protocols/errors.js';

export interface ResourcesOptions {
  identity: Identity;
  neighbourhoods: Neighbourhoods;
  transport: Transport;
  shards: Shards;
  ruleContext(): RuleContext;
  /** Checks signatures of client writes and of peers' answers (cached: a record read back costs no verify). */
  verify: SignatureVerifier;
  requestTimeoutMs: number;
  /** Whether this node's own answers are complete yet (net/sync.ts). */
  sync: Pick<Sync, 'isComplete'>;
}

/**
 * A read asks `ack` nodes first and the rest of the neighbourhood too when their answers do not all come
 * within this long (a node down or cut off must not cost a read its whole deadline).
 */
const READ_WIDEN_MS = 500;

/** One node's answer to a read; `partial` while that node has not finished its first sync (net/sync.ts). */
type Answer = KeyItem & { partial?: true };

type Acks = Omit<Quorum<unknown>, 'answers'>;

export class Resources {
  /** Nodes sent the merged view of a read because their answer missed part of it (for /metrics). */
  readRepairs = 0;

  constructor(private readonly opts: ResourcesOptions) {}

  // ---- the client API (SPEC §9.2) ----

  async createResource(key: Key, f: FanOut): Promise<{ resource_id: string } & Acks> {
    admitKey(key, this.opts.ruleContext(), this.opts.verify);
    const q = await this.write(key.id, f, { type: 'register_key', key, verified: true }, 'store_key', { key });
    return { resource_id: key.id, acks: q.acks, errors: q.errors };
  }

  async registerProvider(record: ProviderRecord, f: FanOut): Promise<Acks> {
    admitRecord(record, this.opts.ruleContext(), this.opts.verify);
    const q = await this.write(record.metadata.key_id, f, { type: 'put_record', record, verified: true }, 'put_record', { record });
    return { acks: q.acks, errors: q.errors };
  }

  /** SPEC §9.3: the node co-signs as host, for metadata an authenticated admin issued for this node. */
  async registerNodeProvider(metadata: RecordMetadata, admin: string, f: FanOut): Promise<{ record: ProviderRecord } & Acks> {
    if (metadata.issued_by !== admin) {
      throw new SignpostError('unauthorized', `register_node_provider: metadata.issued_by ${metadata.issued_by} is not the authenticated admin ${admin}`);
    }
    const self = this.opts.identity.peerId;
    if (metadata.peer_id !== self) {
      throw new SignpostError('invalid_params', `register_node_provider: metadata.peer_id must be this node, ${self}`);
    }
    const record = signRecord(metadata, this.opts.ruleContext().now, this.opts.identity.sign);
    return { record, ...(await this.registerProvider(record, f)) };
  }

  async unregisterProvider(tombstone: Tombstone, f: FanOut): Promise<Acks> {
    admitTombstone(tombstone, this.opts.ruleContext(), this.opts.verify);
    const q = await this.write(tombstone.key_id, f, { type: 'add_tombstone', tombstone, verified: true }, 'add_tombstone', { tombstone });
    return { acks: q.acks, errors: q.errors };
  }

  async getResource(resourceId: string, f: FanOut): Promise<{ resource: Key; acks: number; errors: PeerError[] }> {
    const { q, merged } = await this.read(resourceId, f);
    return { resource: merged.key, acks: q.acks, errors: q.errors };
  }

  /** The providers as every node of the neighbourhood that answers in time sees them ([] if none holds the key). */
  async view(resourceId: string): Promise<ProviderRecord[]> {
    const timers = this.opts.neighbourhoods.timers;
    const deadline = timers.now() + this.opts.requestTimeoutMs;
    const nodes = await this.opts.neighbourhoods.of(resourceId, deadline);
    const q = await quorum(nodes, nodes.length, deadline, (n, ms) => this.fetch(n, resourceId, ms), timers, { settleAll: true });
    if (q.answers.size === 0) return [];
    return mergeAnswers([...q.answers.values()], new Set(q.answers.keys()), this.opts.ruleContext()).records;
  }

  async resolveProviders(resourceId: string, f: FanOut, serviceId?: string): Promise<{ providers: ProviderRecord[]; acks: number; errors: PeerError[] }> {
    const { q, merged } = await this.read(resourceId, f);
    const providers = serviceId === undefined ? merged.records : merged.records.filter((r) => offersService(r, serviceId));
    return { providers, acks: q.acks, errors: q.errors };
  }

  // ---- internals ----

  /** A write to the whole neighbourhood: the local shard for this node, `method` for the others. */
  private async write(keyId: string, f: FanOut, local: ShardRequest, method: string, params: object): Promise<Quorum<unknown>> {
    const { neighbourhoods, shards } = this.opts;
    const deadline = neighbourhoods.timers.now() + f.timeoutMs;
    const nodes = await neighbourhoods.of(keyId, deadline);
    return quorum(nodes, f.ack, deadline, (n, ms) => (n.self ? shards.request(keyId, local) : neighbourhoods.send(n, method, params, ms)), neighbourhoods.timers);
  }

  /**
   * A read of the neighbourhood, merged; `key_not_found` is not a success (SPEC §9.2), and a partial
   * answer counts only when no complete one can come. It asks `ack` nodes first, this node itself among
   * them when it is in the neighbourhood (a client reads its writes through one node), and widens to the
   * whole neighbourhood on a failure, a partial answer, a disagreement or READ_WIDEN_MS without all
   * answers (quorum.ts). Every node whose answer misses part of the merged view is sent it (read repair).
   */
  private async read(keyId: string, f: FanOut): Promise<{ q: Quorum<Answer>; merged: KeyItem }> {
    const { neighbourhoods } = this.opts;
    const deadline = neighbourhoods.timers.now() + f.timeoutMs;
    const nodes = await neighbourhoods.of(keyId, deadline);
    // This node's own answer costs no message: it is asked first, then the closest others.
    const ordered = [...nodes.filter((n) => n.self), ...nodes.filter((n) => !n.self)];
    const partial = (a: Answer) => a.partial === true;
    let own: Promise<Answer> | null = null;
    const fetch = (n: Neighbour, ms: number) => (n.self ? (own ??= this.fetch(n, keyId, ms)) : this.fetch(n, keyId, ms));
    // The merge of a set of answers is made once: the agreement check and the read's result share it.
    let last: { peers: string; merged: KeyItem } | null = null;
    const mergeOf = (answers: ReadonlyMap<string, Answer>): KeyItem => {
      const peers = [...answers.keys()].join(',');
      if (last?.peers !== peers) last = { peers, merged: mergeAnswers([...answers.values()], new Set(answers.keys()), this.opts.ruleContext()) };
      return last.merged;
    };
    const agree = (answers: ReadonlyMap<string, Answer>) => {
      if (answers.size < 2) return true;
      const merged = mergeOf(answers);
      return ![...answers.values()].some((a) => lacks(a, merged));
    };
    const widen = { first: f.ack, agree, afterMs: READ_WIDEN_MS };
    const q = await quorum(ordered, f.ack, deadline, fetch, neighbourhoods.timers, { partial, widen }).catch((e: unknown) => {
      if (e instanceof SignpostError && e.data.acks === 0 && failedWith(e, (code) => code === 'key_not_found', { answersOnly: true })) {
        throw new SignpostError('key_not_found', `Key ${keyId} is not held by any node of its neighbourhood that answered`, { errors: e.data.errors });
      }
      throw e;
    });
    const self = nodes.find((n) => n.self);
    if (self && own && !q.answers.has(self.peerId)) {
      const mine = await (own as Promise<Answer>).catch(() => null);
      if (mine) q.answers.set(self.peerId, mine);
    }
    const merged = mergeOf(q.answers);
    this.repair(nodes, q.answers, merged);
    return { q, merged };
  }

  /** Read repair: the merged view goes to each node whose answer missed part of it, in the background. */
  private repair(nodes: readonly Neighbour[], answers: ReadonlyMap<string, Answer>, merged: KeyItem): void {
    const { neighbourhoods, shards, requestTimeoutMs } = this.opts;
    for (const [peerId, answer] of answers) {
      if (!lacks(answer, merged)) continue;
      const n = nodes.find((x) => x.peerId === peerId);
      if (!n) continue;
      this.readRepairs++;
      const push = n.self
        ? acceptPush(shards, merged.key, merged.records, merged.tombstones)
        : neighbourhoods.send(n, 'republish', { key: merged.key, records: merged.records, tombstones: merged.tombstones }, requestTimeoutMs);
      void push.catch(() => undefined);
    }
  }

  private async fetch(n: Neighbour, keyId: string, timeoutMs: number): Promise<Answer> {
    if (n.self) return localItem(this.opts.shards, this.opts.sync, keyId);
    const item = parseKeyContents(await this.opts.neighbourhoods.send(n, 'get', { key_id: keyId }, timeoutMs));
    try {
      return verifyKeyItem(item, keyId, this.opts.verify);
    } catch (e) {
      // A forged or altered answer costs the peer, and fails only its own answer.
      this.opts.transport.penalise(n.peerId);
      throw new SignpostError('invalid_signature', `${n.peerId} answered ${(e as Error).message}`);
    }
  }
}
