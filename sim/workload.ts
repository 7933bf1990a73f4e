/**
 * The clients of the simulated registry, and what they may expect of it. Owners create resources,
 * providers register signed records (with `ack`), keep them alive by registering again, leave by
 * unregistering (a new provider takes the slot), and anyone resolves. Every call goes through the JSON-RPC
 * dispatcher of a live node, as a client's would.
 *
 * The expectations (SPEC §5, and the simulator's invariants):
 * - a provider whose registration was acknowledged, within its lifetime and not unregistered, is in every
 *   resolve of its resource (counted: `resolve_success_rate`);
 * - a provider whose unregistration was acknowledged more than one sync interval ago is in none
 *   (`stale_reads`; the first one is a violation).
 */
import type { Identity } from '../protocols/identity.js';
import { identityFromSeed } from '../protocols/identity.js';
import type { Random } from '../protocols/random.js';
import { makeKey, makeMetadata, makeRecord, makeTombstone } from '../protocols/signed.js';
import type { Key, Record as ProviderRecord } from '../protocols/types.js';
import type { Ed25519 } from '../protocols/crypto.js';
import { toErrorData } from '../protocols/errors.js';
import type { Timers } from '../runtime/base/clock.js';
import type { SimNode } from './world.js';

/** How long a client waits for its node before giving the call up (its connection is gone). */
const CALL_LIMIT_MS = 60_000;

export interface Provider {
  identity: Identity;
  resource: number;
  /** The record last acknowledged, or null before its first acknowledged registration. */
  record: ProviderRecord | null;
  /** 'unregistering' from the moment the tombstone is sent: such a provider is expected neither way. */
  state: 'registering' | 'registered' | 'unregistering' | 'unregistered';
  /** Virtual ms of the acknowledged unregistration. */
  unregisteredAt: number;
}

export interface ResourceState {
  owner: Identity;
  key: Key;
  created: boolean;
  providers: Provider[];
}

export interface WorkloadOptions {
  random: Random;
  ed25519: Ed25519;
  now(): number;
  /** The clients' own timers (a call to a node that crashes meanwhile is given up after CALL_LIMIT_MS). */
  timers: Timers;
  /** Acks asked of writes, and of resolves. */
  ack: number;
  readAck: number;
  /** Seconds after an acknowledged unregistration from which no resolve may return the provider. */
  staleAfterS: number;
  /** Record lifetime (expired_timeout), seconds. */
  lifetimeS: number;
  /** Whether a resolve through `n` now is made across a partition (such resolves are counted apart). */
  isCut(n: SimNode): boolean;
  /** A trace line for the run's digest. */
  trace(line: string): void;
  violation(what: string): void;
}

export interface WorkloadStats {
  creates: number;
  createFailures: number;
  registers: number;
  registerFailures: number;
  unregisters: number;
  resolves: number;
  resolveErrors: number;
  /** Failed calls by method and error code (`resources.resolve_providers quorum_not_reached`: 3). */
  errors: Record<string, number>;
  /** Resolves whose node went down before it answered: the client reconnects, so they count neither way. */
  resolvesInterrupted: number;
  /** Resolves that returned every provider expected of them, of those made while the network was whole. */
  resolvesWhole: number;
  successesWhole: number;
  /** The same, for resolves made during a partition. */
  resolvesPartitioned: number;
  successesPartitioned: number;
  /** Expected providers missing from resolves (network whole). */
  missing: number;
  staleReads: number;
}

const SERVICE = 'sim';

export class Workload {
  readonly resources: ResourceState[] = [];
  readonly stats: WorkloadStats = {
    creates: 0,
    createFailures: 0,
    registers: 0,
    registerFailures: 0,
    unregisters: 0,
    resolves: 0,
    resolveErrors: 0,
    errors: {},
    resolvesInterrupted: 0,
    resolvesWhole: 0,
    successesWhole: 0,
    resolvesPartitioned: 0,
    successesPartitioned: 0,
    missing: 0,
    staleReads: 0,
  };
  /** Calls in flight. */
  inFlight = 0;

  constructor(private readonly opts: WorkloadOptions) {}

  private identity(): Identity {
    return identityFromSeed(this.opts.random.bytes(32), this.opts.ed25519);
  }

  private get nowS(): number {
    return Math.floor(this.opts.now() / 1000);
  }

  /** Adds resource `label`, owned by a new identity (created by `create`). */
  addResource(label: string): ResourceState {
    const owner = this.identity();
    const r: ResourceState = { owner, key: makeKey(owner, { label, timestamp_created: this.nowS }), created: false, providers: [] };
    this.resources.push(r);
    return r;
  }

  async create(r: ResourceState, via: SimNode): Promise<void> {
    const ok = await this.call(via, 'resources.create_resource', { key: r.key, ack: this.opts.ack });
    this.stats.creates++;
    if (ok) r.created = true;
    else this.stats.createFailures++;
    this.opts.trace(`create ${r.key.id} via ${via.index} ${ok ? 'ok' : 'failed'}`);
  }

  /** A new provider of resource `index`. */
  addProvider(index: number): Provider {
    const p: Provider = { identity: this.identity(), resource: index, record: null, state: 'registering', unregisteredAt: 0 };
    this.resources[index].providers.push(p);
    return p;
  }

  /** Registers `p` (again: a keep-alive renews its record's creation time) through `via`, the node it is reachable by. */
  async register(p: Provider, via: SimNode): Promise<boolean> {
    if (p.state === 'unregistering' || p.state === 'unregistered') return false;
    const k = this.resources[p.resource].key;
    const now = this.nowS;
    const md = makeMetadata(p.identity, { key_id: k.id, peer_id: p.identity.peerId, timestamp_issued: now, value: `provider ${p.identity.peerId.slice(-6)}`, relay_id: [via.identity.peerId], service_id: [SERVICE] });
    const record = makeRecord(p.identity, md, now);
    const ok = await this.call(via, 'resources.register_provider', { record, ack: this.opts.ack });
    this.stats.registers++;
    if (!ok) this.stats.registerFailures++;
    else if (p.state === 'registering' || p.state === 'registered') {
      p.record = record;
      p.state = 'registered';
    }
    this.opts.trace(`register ${p.identity.peerId} via ${via.index} ${ok ? 'ok' : 'failed'}`);
    return ok;
  }

  async unregister(p: Provider, via: SimNode): Promise<boolean> {
    if (p.state !== 'registered') return false;
    p.state = 'unregistering';
    const k = this.resources[p.resource].key;
    const tombstone = makeTombstone(p.identity, { key_id: k.id, peer_id: p.identity.peerId, timestamp_issued: this.nowS });
    const ok = await this.call(via, 'resources.unregister_provider', { tombstone, ack: this.opts.ack });
    this.stats.unregisters++;
    // A tombstone that was not acknowledged may still spread: the provider stays expected neither way.
    if (ok) {
      p.state = 'unregistered';
      p.unregisteredAt = this.opts.now();
    }
    this.opts.trace(`unregister ${p.identity.peerId} via ${via.index} ${ok ? 'ok' : 'failed'}`);
    return ok;
  }

  /** Resolves resource `index` from `via` and checks the answer against what was acknowledged. */
  async resolve(index: number, via: SimNode): Promise<void> {
    const r = this.resources[index];
    if (!r.created) return;
    const startedAt = this.opts.now();
    const cut = this.opts.isCut(via);
    // Expected: acknowledged before the call began, still within its lifetime, not being unregistered.
    const expected = r.providers.filter((p) => p.state === 'registered' && p.record && p.record.timestamp_created + this.opts.lifetimeS > this.nowS + 60);
    const gone = r.providers.filter((p) => p.state === 'unregistered' && startedAt - p.unregisteredAt > this.opts.staleAfterS * 1000);
    const node = via.node;
    const result = await this.invoke<{ providers: ProviderRecord[] }>(via, 'resources.resolve_providers', { resource_id: r.key.id, ack: this.opts.readAck });
    if (via.node !== node || via.state !== 'up') {
      this.stats.resolvesInterrupted++;
      return;
    }
    this.stats.resolves++;
    const providers = result?.providers ?? null;
    if (!result) this.stats.resolveErrors++;
    const returned = new Set((providers ?? []).map((x) => x.metadata.issued_by));
    const missing = expected.filter((p) => !returned.has(p.identity.peerId)).length;
    const ok = providers !== null && missing === 0;
    if (cut) {
      this.stats.resolvesPartitioned++;
      if (ok) this.stats.successesPartitioned++;
    } else {
      this.stats.resolvesWhole++;
      if (ok) this.stats.successesWhole++;
      this.stats.missing += missing;
    }
    for (const p of gone) {
      if (!returned.has(p.identity.peerId)) continue;
      this.stats.staleReads++;
      this.opts.violation(`resolve of ${r.key.id} via node ${via.index} returned ${p.identity.peerId}, unregistered with ack ${((startedAt - p.unregisteredAt) / 1000).toFixed(1)} s before`);
    }
    this.opts.trace(`resolve ${r.key.id} via ${via.index} ${providers === null ? 'error' : [...returned].sort().join(',')}`);
  }

  private async call(via: SimNode, method: string, params: object): Promise<boolean> {
    return (await this.invoke(via, method, params)) !== null;
  }

  private async invoke<T>(via: SimNode, method: string, params: object): Promise<T | null> {
    const node = via.node;
    if (!node) return null;
    this.inFlight++;
    let timer: unknown = null;
    const given = new Promise<null>((resolve) => (timer = this.opts.timers.setTimeout(() => (this.count(method, 'call_limit'), resolve(null)), CALL_LIMIT_MS)));
    try {
      return await Promise.race([node.call<T>(method, params), given]);
    } catch (e) {
      this.count(method, toErrorData(e).code);
      return null;
    } finally {
      this.opts.timers.clearTimeout(timer);
      this.inFlight--;
    }
  }

  private count(method: string, code: string): void {
    const key = `${method} ${code}`;
    this.stats.errors[key] = (this.stats.errors[key] ?? 0) + 1;
  }
}
