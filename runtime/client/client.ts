/**
 * The Signpost SDK (SPEC §9): a client with its own Ed25519 identity that talks to one node over
 * JSON-RPC, signs its objects itself (the node never sees its secret key), verifies every signed object it
 * receives, and keeps providers alive with the registration machine (actors/registration.ts).
 *
 * Timestamps come from the node's clock (`node.info` `now`), never from this machine's wall clock, so a
 * client works against a node in test mode (manual clock) and is immune to its own clock being wrong.
 *
 * @example
 * const client = await SignpostClient.connect('ws://127.0.0.1:7070/rpc', { identity });
 * const { resourceId } = await client.createResource('my-service');
 * const alive = client.keepProviderAlive(resourceId, 'https://api.example.com', { serviceId: 'api' });
 * await alive.registered();
 * const { providers } = await client.resolveProviders(resourceId);
 * await alive.stop(); // tombstone
 * await client.close();
 */
import { createActor, type Actor } from 'xstate';
import { nobleEd25519, type Ed25519 } from '../../protocols/crypto.js';
import { base64urlDecode, base64urlEncode } from '../../protocols/encoding.js';
import { failedWith, type PeerError } from '../../protocols/errors.js';
import type { RpcMethod } from '../../protocols/rpc.js';
import { sessionDigest, type Identity } from '../../protocols/identity.js';
import { resourceId as computeResourceId } from '../../protocols/objects.js';
import { hashcashChallenge, keyPolicy } from '../../protocols/pow.js';
import { cachedVerifier, makeKey, makeMetadata, makeRecord, makeTombstone, signatureVerifier, type SignatureVerifier } from '../../protocols/signed.js';
import type { ChallengeType, Key, Record as ProviderRecord, RecordMetadata, Tombstone } from '../../protocols/types.js';
import {
  FINAL_REGISTRATION_STATES,
  registrationMachineWith,
  type RegisterInput,
  type RegistrationState,
} from '../../actors/registration.js';
import { mineSolution, type MiningProgress, type UnminedMetadata } from './mining.js';
import { ReconnectingTransport, type ClientTransport, type ConnectionStatus, type ReconnectOptions } from './connection.js';
import { verifiedHostRecord, verifiedKey, verifiedProviders, VerificationError } from './verify.js';
import { RpcError } from './rpc-client.js';

export { VerificationError } from './verify.js';
export type { MiningProgress } from './mining.js';
export type { ClientTransport, ConnectionStatus } from './connection.js';
export type { RegistrationState } from '../../actors/registration.js';

export type { PeerError };

/** How many nodes of the neighbourhood accepted or answered, and which failed. */
export interface Acks {
  acks: number;
  errors: PeerError[];
}

/** `ack` and `timeout_ms` of the fan-out calls (SPEC §9.2): wait for `ack` nodes (1..K, node default 1) for at most `timeoutMs` (1..60000, node default 6000). */
export interface CallOptions {
  ack?: number;
  timeoutMs?: number;
}

export interface CreateResourceOptions extends CallOptions {
  /** `""` (anyone may register, the default), `"owner/v1"` (only the owner) or `"hashcash/v1"` (proof of work). */
  challengeType?: ChallengeType;
  /** The raw challenge bytes; for `hashcash/v1` give `minBits` and `halfLifeS` instead. */
  challenge?: Uint8Array;
  /** `hashcash/v1`: leading zero bits every provider must mine (0..255). */
  minBits?: number;
  /** `hashcash/v1`: seconds in which one bit of work decays (≥ 1, default 86400). */
  halfLifeS?: number;
}

export interface RegisterOptions extends CallOptions {
  /** The service this provider offers (1..128 bytes); resolvers can ask for one service. */
  serviceId?: string;
  /** The resource's key when the caller already has it (verified); otherwise the SDK fetches it to learn its policy. */
  resource?: Key;
  /** Under `hashcash/v1`: called while mining, after every chunk of tries. */
  onProgress?: (progress: MiningProgress) => void;
  /** Under `hashcash/v1`: mine at least this many bits (default: the key's `min_bits`); more work ranks higher. */
  workBits?: number;
  /** Cancels mining. */
  signal?: AbortSignal;
}

export interface KeepAliveOptions extends Omit<RegisterOptions, 'signal'> {
  /** Renew the record this often (default: the client's `renewIntervalMs`, one hour). */
  renewIntervalMs?: number;
  /** First retry after a failure (default 1 s), doubled after each further failure. */
  retryBaseMs?: number;
  /** Longest wait between two retries (default 60 s). */
  retryMaxMs?: number;
}

export interface ConnectOptions extends ReconnectOptions {
  /** The client's key pair (protocols/identity). */
  identity: Identity;
  /** Verifies the signed objects nodes return (default: the portable `nobleEd25519`; on Node, `node:crypto`'s is faster). */
  ed25519?: Ed25519;
  /** Default renewal interval of `keepProviderAlive` registrations (default one hour). */
  renewIntervalMs?: number;
  /** Local deadline of a call that has no `timeoutMs` of its own (default 30 s). */
  callTimeoutMs?: number;
}

export interface NodeInfo {
  peer_id: string;
  version: string;
  addresses: string[];
  uptime_s: number;
  /** The node's clock, seconds. */
  now: number;
}

/** One entry of the node's routing table (SPEC §9.4 `node.peers`). */
export interface PeerInfo {
  peer_id: string;
  address: string;
  distance_bucket: number;
  last_seen: number;
}

/** A resource created and a provider registered for it, with the acks of each step. */
export interface CreatedAndRegistered {
  resourceId: string;
  key: Key;
  record: ProviderRecord;
  resource: Acks;
  provider: Acks;
}

/** What a served method sees as `this` (SPEC §9.5 `provider.call`): who called it, and through which node. */
export interface CallContext {
  /** The caller's peer id as its node authenticated it, or null for an anonymous caller. */
  from: string | null;
  /** The node that handed the call to this client's node, or null when the caller is a client of the same node. */
  via: string | null;
  callId: string;
  serviceId: string;
  method: string;
}

/** The methods of one served service: async functions of the caller's arguments, with the CallContext as `this`. */
export type ServiceHandlers = { [method: string]: (this: CallContext, ...args: any[]) => unknown };

export interface ServeOptions {
  /** Serve as the node itself, for a node provider (`registerNodeProvider`); the client must be an admin of the node. */
  asNode?: boolean;
  /** Called when serving again after a reconnect fails. */
  onError?: (error: Error) => void;
}

/** A provider call: who, through which relay, which service and method, with what. */
export interface ProviderCallTarget {
  peerId: string;
  /** The provider's relay (`relay_id[0]` of its record); null or absent when the provider is a node. */
  relayId?: string | null;
  serviceId: string;
  method: string;
  params?: unknown;
  timeoutMs?: number;
}

/** `call(method, ...args)` of `executeOnProviders`: calls one method of the provider at hand. */
export type ProviderCaller = <R = unknown>(method: string, ...args: unknown[]) => Promise<R>;

export type ProviderOutcome<T> = { provider: ProviderRecord; ok: true; result: T } | { provider: ProviderRecord; ok: false; error: unknown };

const HOUR_MS = 3_600_000;
/** Extra time a fan-out call may take on top of its `timeout_ms` before the client gives up on the answer. */
const ANSWER_GRACE_MS = 5_000;
const DEFAULT_HALF_LIFE_S = 86_400;
/** Codes that retrying the same registration cannot fix. */
const PERMANENT_CODES = new Set([
  'invalid_params',
  'invalid_peer_id',
  'invalid_signature',
  'invalid_key',
  'invalid_record',
  'unsupported_challenge_type',
  'policy_violation',
  'insufficient_work',
  'unauthorized',
  'method_not_found',
]);

/** True when the node refused for good: a permanent code, or quorum_not_reached with only permanent refusals. */
export function isPermanentFailure(e: unknown): boolean {
  return e instanceof RpcError && failedWith(e, (code) => PERMANENT_CODES.has(code));
}

export class SignpostClient {
  private readonly subscriptions = new Set<Subscription>();
  private readonly registrations = new Set<ProviderRegistration>();
  /** Notifications for subscription ids not known yet (the first one may overtake the `subscribe` answer). */
  private readonly early = new Map<string, unknown[]>();
  /** Services this client serves (`serve`), announced again on every new connection. */
  private readonly served = new Map<string, { handlers: ServiceHandlers; opts: ServeOptions }>();
  /** Bumped at every reconnect: a session authenticates one connection. */
  private generation = 0;
  /** The authentication of the current connection (`generation`), done or under way. */
  private authenticating: { generation: number; attempt: Promise<void> } | null = null;
  private closed = false;
  private readonly verify: SignatureVerifier;

  /**
   * A client over any transport (the SDK's unit tests pass a fake node). Use `SignpostClient.connect`.
   */
  constructor(
    private readonly transport: ClientTransport,
    readonly identity: Identity,
    private readonly opts: Omit<ConnectOptions, 'identity'> = {},
  ) {
    this.verify = cachedVerifier(signatureVerifier(opts.ed25519 ?? nobleEd25519), 10_000);
    transport.onNotification((method, params) => this.notified(method, params));
    transport.onRequest((method, params) => this.answer(method, params));
    transport.onStatus((status) => void this.statusChanged(status));
  }

  /**
   * Connects to a node: `url` is its RPC URL `ws://HOST:PORT/rpc` (the base `ws://HOST:PORT` works too).
   * The connection is reopened with backoff whenever it drops; subscriptions are renewed and registrations
   * re-registered when it is back.
   */
  static async connect(url: string, opts: ConnectOptions): Promise<SignpostClient> {
    const transport = await ReconnectingTransport.connect(url, opts);
    return new SignpostClient(transport, opts.identity, opts);
  }

  /** Calls `fn` when the connection drops (`down`) and when it is back (`up`). Returns the function that removes the listener. */
  onConnectionChange(fn: (status: ConnectionStatus) => void): () => void {
    return this.transport.onStatus(fn);
  }

  /** The client's peer id. */
  get peerId(): string {
    return this.identity.peerId;
  }

  // ---- node ----

  async nodeInfo(): Promise<NodeInfo> {
    return this.call<NodeInfo>('node.info', undefined);
  }

  /** The node's clock in seconds: what every timestamp the client signs is taken from. */
  async now(): Promise<number> {
    return (await this.nodeInfo()).now;
  }

  /** The node's routing table (`node.peers`). */
  async peers(): Promise<PeerInfo[]> {
    return this.call<PeerInfo[]>('node.peers', undefined);
  }

  // ---- resources ----

  /** `resource_id(label, owner)` (SPEC §3.1), computed locally; the owner is this client by default. */
  getResourceId(label: string, ownerPeerId: string = this.peerId): string {
    return computeResourceId(label, ownerPeerId);
  }

  /** Creates a resource owned by this client, signed at the node's `now`. */
  async createResource(label: string, opts: CreateResourceOptions = {}): Promise<{ resourceId: string; key: Key } & Acks> {
    const { now } = await this.nodeInfo();
    const key = makeKey(this.identity, { label, timestamp_created: now, ...challengeOf(opts) });
    const r = await this.fanOut<{ resource_id: string } & Acks>('resources.create_resource', { key }, opts);
    if (r.resource_id !== key.id) {
      throw new VerificationError('invalid_key', 'resources.create_resource', null, `resource_id ${r.resource_id} is not the id of the key sent, ${key.id}`);
    }
    return { resourceId: key.id, key, acks: r.acks, errors: r.errors };
  }

  /** The resource's key from its neighbourhood, verified (owner signature, id). */
  async getResource(resourceId: string, opts: CallOptions = {}): Promise<{ resource: Key } & Acks> {
    const r = await this.fanOut<{ resource: unknown } & Acks>('resources.get_resource', { resource_id: resourceId }, opts);
    const resource = verifiedKey(r.resource, resourceId, { method: 'resources.get_resource', nodePeerId: null, verify: this.verify });
    return { resource, acks: r.acks, errors: r.errors };
  }

  // ---- providers ----

  /**
   * Registers this client as a provider of the resource: the client issues the metadata and hosts the
   * record (`issued_by` = `peer_id` = the client), its node is the relay (`relay_id` = [node peer id]).
   * The record lives `expired_timeout` (a day by default) unless renewed: see `keepProviderAlive`.
   */
  async registerProvider(resourceId: string, value: string, opts: RegisterOptions = {}): Promise<{ record: ProviderRecord } & Acks> {
    const info = await this.nodeInfo();
    const metadata = await this.issueMetadata(resourceId, value, { peer_id: this.peerId, relay_id: [info.peer_id], timestamp_issued: info.now }, opts);
    const createdAt = metadata.solution === '' ? info.now : await this.now();
    const record = makeRecord(this.identity, metadata, createdAt);
    const r = await this.fanOut<Acks>('resources.register_provider', { record }, opts);
    return { record, acks: r.acks, errors: r.errors };
  }

  /**
   * Registers the node as the host of a provider issued by this client (`resources.register_node_provider`):
   * the node co-signs and renews the record itself. The client must be one of the node's `admins`; it
   * authenticates its connection (`session.challenge` / `session.authenticate`) on first use.
   */
  async registerNodeProvider(resourceId: string, value: string, opts: RegisterOptions = {}): Promise<{ record: ProviderRecord } & Acks> {
    await this.authenticate();
    const info = await this.nodeInfo();
    const metadata = await this.issueMetadata(resourceId, value, { peer_id: info.peer_id, relay_id: [], timestamp_issued: info.now }, opts);
    const r = await this.fanOut<{ record: unknown } & Acks>('resources.register_node_provider', { metadata }, opts);
    const record = verifiedHostRecord(r.record, metadata, { method: 'resources.register_node_provider', nodePeerId: info.peer_id, verify: this.verify });
    return { record, acks: r.acks, errors: r.errors };
  }

  /** `createResource`, then `registerProvider` for it. */
  createResourceAndRegisterProvider(label: string, value: string, opts: CreateResourceOptions & RegisterOptions = {}): Promise<CreatedAndRegistered> {
    return this.createAndRegister(label, opts, (id, key) => this.registerProvider(id, value, { ...opts, resource: key }));
  }

  /** `createResource`, then `registerNodeProvider` for it. */
  createResourceAndRegisterNodeProvider(label: string, value: string, opts: CreateResourceOptions & RegisterOptions = {}): Promise<CreatedAndRegistered> {
    return this.createAndRegister(label, opts, (id, key) => this.registerNodeProvider(id, value, { ...opts, resource: key }));
  }

  /**
   * Removes a provider issued by this client with a signed tombstone at the node's `now`: the client's own
   * record by default, or the one hosted by `peerId` (e.g. the node's peer id for a node provider). A
   * tombstone beats a record issued at the same second, so the provider can be registered again from the
   * next second of the node's clock on.
   */
  async unregisterProvider(resourceId: string, opts: CallOptions & { peerId?: string } = {}): Promise<{ tombstone: Tombstone } & Acks> {
    const { now } = await this.nodeInfo();
    const tombstone = makeTombstone(this.identity, { key_id: resourceId, peer_id: opts.peerId ?? this.peerId, timestamp_issued: now });
    const r = await this.fanOut<Acks>('resources.unregister_provider', { tombstone }, opts);
    return { tombstone, acks: r.acks, errors: r.errors };
  }

  /**
   * The resource's live providers in rank order, every one verified (both signatures, this resource, and
   * the service when `serviceId` is given). A node that forged or altered any entry makes the call fail
   * with a VerificationError.
   */
  async resolveProviders(resourceId: string, opts: CallOptions & { serviceId?: string } = {}): Promise<{ providers: ProviderRecord[] } & Acks> {
    const params = { resource_id: resourceId, ...(opts.serviceId === undefined ? {} : { service_id: opts.serviceId }) };
    const r = await this.fanOut<{ providers: unknown } & Acks>('resources.resolve_providers', params, opts);
    const providers = verifiedProviders(r.providers, resourceId, { method: 'resources.resolve_providers', nodePeerId: null, verify: this.verify }, opts.serviceId);
    return { providers, acks: r.acks, errors: r.errors };
  }

  /**
   * Resolves the providers, then runs `fn` on each of them at once; one outcome per provider, in rank
   * order, whether `fn` returned or threw. `fn` gets the provider and `call(method, ...args)`, which
   * calls that provider through its relay (`callProvider`); `timeoutMs` bounds the resolve and each call.
   *
   * @example
   * const outcomes = await client.executeOnProviders(resourceId, (provider, call) => call('do_smth', 42), { ack: 3 });
   */
  async executeOnProviders<T>(
    resourceId: string,
    fn: (provider: ProviderRecord, call: ProviderCaller) => T | Promise<T>,
    opts: CallOptions & { serviceId?: string } = {},
  ): Promise<ProviderOutcome<T>[]> {
    const { providers } = await this.resolveProviders(resourceId, opts);
    const settled = await Promise.allSettled(providers.map(async (p) => fn(p, (method, ...args) => this.callRecord(p, method, args, opts.timeoutMs))));
    return settled.map((s, i): ProviderOutcome<T> => (s.status === 'fulfilled' ? { provider: providers[i], ok: true, result: s.value } : { provider: providers[i], ok: false, error: s.reason }));
  }

  /**
   * Calls `method` of a provider with `args`, through the provider's relay (SPEC §9.5): the provider's
   * service is its record's `service_id`. Resolves with the provider's result; rejects with an RpcError:
   * the provider's own error (`data.from_provider: true`), or `provider_unreachable`, `provider_timeout`,
   * `rate_limited`.
   */
  callProvider<R = unknown>(provider: ProviderRecord, method: string, ...args: unknown[]): Promise<R> {
    return this.callRecord<R>(provider, method, args, undefined);
  }

  /** `resources.call_provider`: calls a method of any provider by its peer id, relay and service. The caller is this client (authenticated). */
  async callPeer<R = unknown>(c: ProviderCallTarget): Promise<R> {
    await this.authenticate();
    const params = {
      peer_id: c.peerId,
      ...(c.relayId ? { relay_id: c.relayId } : {}),
      service_id: c.serviceId,
      method: c.method,
      params: c.params ?? null,
    };
    const r = await this.fanOut<{ result: R }>('resources.call_provider', params, { timeoutMs: c.timeoutMs });
    return r.result;
  }

  /**
   * Serves `serviceId`: callers anywhere in the network reach `handlers` through this client's node (its
   * relay). Each handler is called with the caller's arguments and the CallContext as `this`; what it
   * returns is the result, what it throws the caller's error. The connection is authenticated as this
   * client, and the services are served again after a reconnect.
   *
   * @example
   * const served = await client.serve('echo', { async echo(text) { return `${text} (from ${this.from})`; } });
   * await served.stop();
   */
  async serve(serviceId: string, handlers: ServiceHandlers, opts: ServeOptions = {}): Promise<ServedService> {
    if (this.closed) throw new Error('serve: the client is closed');
    if (this.served.has(serviceId)) throw new Error(`serve: '${serviceId}' is served already (stop it first)`);
    const other = [...this.served.values()].find((x) => (x.opts.asNode ?? false) !== (opts.asNode ?? false));
    if (other) throw new Error('serve: one client serves either as itself or as its node (asNode), not both');
    this.served.set(serviceId, { handlers, opts });
    try {
      await this.authenticate();
      await this.call('session.serve', { service_ids: [serviceId], ...(opts.asNode ? { as_node: true } : {}) });
    } catch (e) {
      this.served.delete(serviceId);
      throw e;
    }
    return new ServedService(serviceId, async () => {
      if (!this.served.delete(serviceId) || this.closed) return;
      await this.call('session.unserve', { service_ids: [serviceId] }).catch(() => undefined);
    });
  }

  /**
   * Follows the resource's provider list: `onChange` gets the whole verified list at once, then each time
   * it changes. The subscription survives reconnects (it is renewed on the new connection; `onChange` is
   * called again only if the list differs). A list that fails verification goes to `onError` instead.
   */
  async subscribe(
    resourceId: string,
    onChange: (providers: ProviderRecord[]) => void,
    opts: { onError?: (error: Error) => void } = {},
  ): Promise<Subscription> {
    const sub = new Subscription(resourceId, onChange, opts.onError ?? (() => undefined), (s) => this.unsubscribe(s), this.verify);
    // Added once open: a notification that comes first waits in `early`, and a reconnect while opening
    // fails the call instead of opening a second subscription behind the caller's back.
    await this.openSubscription(sub);
    this.subscriptions.add(sub);
    return sub;
  }

  /**
   * Keeps this client registered as a provider (as `registerProvider` does) until `stop()`: the record is
   * renewed every `renewIntervalMs` (re-signed at the node's `now`), re-registered as soon as a dropped
   * connection is back, retried with backoff when the node fails, and removed by a tombstone on `stop()`.
   */
  keepProviderAlive(resourceId: string, value: string, opts: KeepAliveOptions = {}): ProviderRegistration {
    if (this.closed) throw new Error('keepProviderAlive: the client is closed');
    const machine = registrationMachineWith({
      register: (input) => this.refreshProvider(resourceId, value, opts, input),
      unregister: async () => void (await this.unregisterProvider(resourceId, { ack: opts.ack, timeoutMs: opts.timeoutMs })),
      isPermanent: isPermanentFailure,
    });
    const actor = createActor(machine, {
      input: {
        renewIntervalMs: opts.renewIntervalMs ?? this.opts.renewIntervalMs ?? HOUR_MS,
        retryBaseMs: opts.retryBaseMs,
        retryMaxMs: opts.retryMaxMs,
      },
    });
    const registration = new ProviderRegistration(resourceId, actor, (r) => this.registrations.delete(r));
    this.registrations.add(registration);
    actor.start();
    return registration;
  }

  /** Stops every live registration (each sends its tombstone), ends subscriptions and served services, and closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.registrations].map((r) => r.stop()));
    this.closed = true;
    this.subscriptions.clear();
    this.served.clear();
    await this.transport.close();
  }

  // ---- internals ----

  private async createAndRegister(
    label: string,
    opts: CreateResourceOptions,
    register: (resourceId: string, key: Key) => Promise<{ record: ProviderRecord } & Acks>,
  ): Promise<CreatedAndRegistered> {
    const created = await this.createResource(label, opts);
    const registered = await register(created.resourceId, created.key);
    return { resourceId: created.resourceId, key: created.key, record: registered.record, ...acksOf(created, registered) };
  }

  /** One registration round of `keepProviderAlive`: a renewal of the previous record, or a new one. */
  private async refreshProvider(resourceId: string, value: string, opts: KeepAliveOptions, { previous }: RegisterInput): Promise<ProviderRecord> {
    const info = await this.nodeInfo();
    // A renewal keeps the metadata (and its proof of work) and re-signs the record at the node's now; after
    // a move to another node (a new relay) the metadata is issued again.
    if (previous && previous.metadata.relay_id[0] === info.peer_id) {
      const record = makeRecord(this.identity, previous.metadata, Math.max(info.now, previous.timestamp_created));
      try {
        await this.fanOut<Acks>('resources.register_provider', { record }, opts);
        return record;
      } catch (e) {
        // The slot holds something newer (e.g. this identity unregistered it elsewhere): issue anew.
        if (!(e instanceof RpcError && failedWith(e, (code) => code === 'newer_entry_exists'))) throw e;
      }
    }
    return (await this.registerProvider(resourceId, value, opts)).record;
  }

  /** Signed metadata for the resource, mined under `hashcash/v1`. */
  private async issueMetadata(
    resourceId: string,
    value: string,
    f: Pick<RecordMetadata, 'peer_id' | 'relay_id' | 'timestamp_issued'>,
    opts: RegisterOptions,
  ): Promise<RecordMetadata> {
    if (opts.resource && opts.resource.id !== resourceId) throw new Error(`the resource given (${opts.resource.id}) is not ${resourceId}`);
    const key = opts.resource ?? (await this.getResource(resourceId, { timeoutMs: opts.timeoutMs })).resource;
    const fields: UnminedMetadata = {
      key_id: resourceId,
      issued_by: this.peerId,
      peer_id: f.peer_id,
      timestamp_issued: f.timestamp_issued,
      value,
      relay_id: f.relay_id,
      service_id: opts.serviceId === undefined ? [] : [opts.serviceId],
    };
    const policy = keyPolicy(key);
    if (policy?.type !== 'hashcash') return makeMetadata(this.identity, fields);
    const minBits = Math.max(policy.minBits, opts.workBits ?? 0);
    const { solution } = await mineSolution({ metadata: fields, minBits }, { onProgress: opts.onProgress, signal: opts.signal });
    return makeMetadata(this.identity, { ...fields, solution });
  }

  /**
   * Authenticates this connection as the client's peer id (SPEC §9.3), once per connection: calls made at
   * once share one attempt (a second challenge would replace the first one's nonce).
   */
  private async authenticate(): Promise<void> {
    const generation = this.generation;
    if (this.authenticating?.generation !== generation) {
      const attempt = this.authenticateOnce(generation);
      this.authenticating = { generation, attempt };
      attempt.catch(() => {
        if (this.authenticating?.attempt === attempt) this.authenticating = null;
      });
    }
    return this.authenticating!.attempt;
  }

  private async authenticateOnce(generation: number): Promise<void> {
    const info = await this.nodeInfo();
    const { nonce } = await this.call<{ nonce: string }>('session.challenge', {});
    const signature = this.identity.sign(sessionDigest(base64urlDecode(nonce) ?? new Uint8Array(0), info.peer_id));
    await this.call('session.authenticate', { peer_id: this.peerId, signature: base64urlEncode(signature) });
    if (generation !== this.generation) throw new Error('the connection dropped while authenticating; try again');
  }

  private call<T>(method: RpcMethod, params: object | undefined): Promise<T> {
    return this.transport.call<T>(method, params, this.opts.callTimeoutMs ?? 30_000);
  }

  /** A fan-out call with `ack` / `timeout_ms` when given; the client waits `timeout_ms` plus a grace period. */
  private fanOut<T>(method: RpcMethod, params: object, opts: CallOptions): Promise<T> {
    const full = {
      ...params,
      ...(opts.ack === undefined ? {} : { ack: opts.ack }),
      ...(opts.timeoutMs === undefined ? {} : { timeout_ms: opts.timeoutMs }),
    };
    const deadline = opts.timeoutMs === undefined ? (this.opts.callTimeoutMs ?? 30_000) : opts.timeoutMs + ANSWER_GRACE_MS;
    return this.transport.call<T>(method, full, deadline);
  }

  private async openSubscription(sub: Subscription): Promise<void> {
    const { subscription } = await this.call<{ subscription: string }>('resources.subscribe', { resource_id: sub.resourceId });
    sub.id = subscription;
    const pending = this.early.get(subscription);
    this.early.delete(subscription);
    for (const params of pending ?? []) sub.deliver(params);
  }

  private async unsubscribe(sub: Subscription): Promise<void> {
    this.subscriptions.delete(sub);
    const id = sub.id;
    sub.id = null;
    if (id === null || this.closed) return;
    try {
      await this.call('resources.unsubscribe', { subscription: id });
    } catch (e) {
      // A dropped connection ended the subscription already.
      if (e instanceof RpcError) throw e;
    }
  }

  /** Calls `method` of the provider of `record`, at its relay, with the record's service. */
  private callRecord<R>(record: ProviderRecord, method: string, args: unknown[], timeoutMs: number | undefined): Promise<R> {
    const serviceId = record.metadata.service_id[0];
    if (serviceId === undefined) {
      return Promise.reject(new Error(`callProvider: the record of ${record.metadata.peer_id} names no service_id; use callPeer with a serviceId`));
    }
    return this.callPeer<R>({ peerId: record.metadata.peer_id, relayId: record.metadata.relay_id[0] ?? null, serviceId, method, params: args, timeoutMs });
  }

  /** A request of the node: a `provider.call` for a service this client serves. */
  private async answer(method: string, params: unknown): Promise<unknown> {
    const fail = (code: number, name: string, message: string) => ({ code, message, data: { code: name } });
    if (method !== 'provider.call') throw fail(-32601, 'method_not_found', `this client answers provider.call only, not ${method}`);
    const p = (typeof params === 'object' && params !== null ? params : {}) as { [k: string]: unknown };
    const serviceId = typeof p.service_id === 'string' ? p.service_id : '';
    const name = typeof p.method === 'string' ? p.method : '';
    const served = this.served.get(serviceId);
    if (!served) throw fail(-32601, 'method_not_found', `this provider does not serve '${serviceId}'`);
    const fn = Object.hasOwn(served.handlers, name) ? served.handlers[name] : undefined;
    if (typeof fn !== 'function') throw fail(-32601, 'method_not_found', `service '${serviceId}' has no method '${name}'`);
    const context: CallContext = {
      from: typeof p.from === 'string' ? p.from : null,
      via: typeof p.via === 'string' ? p.via : null,
      callId: String(p.call_id),
      serviceId,
      method: name,
    };
    const args = Array.isArray(p.params) ? p.params : p.params === null || p.params === undefined ? [] : [p.params];
    return fn.apply(context, args);
  }

  /** Serves every service again on a new connection (authenticated anew). */
  private async serveAgain(): Promise<void> {
    if (this.served.size === 0) return;
    const entries = [...this.served.entries()];
    try {
      await this.authenticate();
      await this.call('session.serve', { service_ids: entries.map(([id]) => id), ...(entries[0][1].opts.asNode ? { as_node: true } : {}) });
    } catch (e) {
      const error = new Error(`serving ${entries.map(([id]) => id).join(', ')} again after a reconnect failed: ${(e as Error).message}`);
      for (const [, s] of entries) s.opts.onError?.(error);
    }
  }

  private notified(method: string, params: unknown): void {
    if (method !== 'resources.providers_changed' || typeof params !== 'object' || params === null) return;
    const id = (params as { subscription?: unknown }).subscription;
    if (typeof id !== 'string') return;
    for (const sub of this.subscriptions) {
      if (sub.id === id) return sub.deliver(params);
    }
    const list = this.early.get(id) ?? [];
    list.push(params);
    this.early.set(id, list);
    // Keep only a few unclaimed ids (a subscription whose answer never came must not grow this forever).
    if (this.early.size > 64) this.early.delete(this.early.keys().next().value!);
  }

  private async statusChanged(status: ConnectionStatus): Promise<void> {
    if (status === 'down') {
      this.generation++;
      for (const sub of this.subscriptions) sub.id = null;
      for (const r of this.registrations) r.send({ type: 'connection.lost' });
      return;
    }
    for (const r of this.registrations) r.send({ type: 'connection.restored' });
    await this.serveAgain();
    await Promise.all(
      [...this.subscriptions].map((sub) =>
        this.openSubscription(sub).catch((e: Error) => sub.onError(new Error(`resubscribing to ${sub.resourceId} after a reconnect failed: ${e.message}`))),
      ),
    );
  }
}

function challengeOf(opts: CreateResourceOptions): { challenge_type: ChallengeType; challenge?: Uint8Array } {
  const type = opts.challengeType ?? (opts.minBits !== undefined ? 'hashcash/v1' : '');
  if (type === 'hashcash/v1' && opts.challenge === undefined) {
    return { challenge_type: type, challenge: hashcashChallenge(opts.minBits ?? 0, opts.halfLifeS ?? DEFAULT_HALF_LIFE_S) };
  }
  return { challenge_type: type, challenge: opts.challenge };
}

function acksOf(created: Acks, registered: Acks): { resource: Acks; provider: Acks } {
  return { resource: { acks: created.acks, errors: created.errors }, provider: { acks: registered.acks, errors: registered.errors } };
}

/** A service served by `serve`: `stop()` withdraws it (`session.unserve`). */
export class ServedService {
  /** @internal */
  constructor(
    readonly serviceId: string,
    private readonly end: () => Promise<void>,
  ) {}

  stop(): Promise<void> {
    return this.end();
  }
}

/** A live `subscribe`: the latest verified provider list, and `unsubscribe()`. */
export class Subscription {
  /** The node's subscription id on the current connection (null while reconnecting). */
  id: string | null = null;
  /** The latest provider list delivered, or null before the first. */
  providers: ProviderRecord[] | null = null;
  private lastJson: string | null = null;

  /** @internal */
  constructor(
    readonly resourceId: string,
    private readonly onChange: (providers: ProviderRecord[]) => void,
    /** @internal */
    readonly onError: (error: Error) => void,
    private readonly end: (s: Subscription) => Promise<void>,
    private readonly verify: SignatureVerifier,
  ) {}

  /** Stops the notifications. */
  unsubscribe(): Promise<void> {
    return this.end(this);
  }

  /** @internal A `providers_changed` notification for this subscription. */
  deliver(params: unknown): void {
    let providers: ProviderRecord[];
    try {
      providers = verifiedProviders((params as { providers?: unknown }).providers, this.resourceId, { method: 'resources.providers_changed', nodePeerId: null, verify: this.verify });
    } catch (e) {
      this.onError(e as Error);
      return;
    }
    const json = JSON.stringify(providers);
    if (json === this.lastJson) return;
    this.lastJson = json;
    this.providers = providers;
    this.onChange(providers);
  }
}

/**
 * A provider kept alive by `keepProviderAlive`: its state (`registering`, `registered`, `renewing`,
 * `retrying`, `disconnected`, `stopping`, then `unregistered`, `stopped` or `failed`), the record last
 * accepted, and `stop()`.
 */
export class ProviderRegistration {
  private readonly listeners = new Set<(state: RegistrationState, registration: ProviderRegistration) => void>();
  private readonly firstRegistration: Promise<ProviderRecord>;

  /** @internal */
  constructor(
    readonly resourceId: string,
    /** The registration machine's actor (actors/registration.ts), for inspection. */
    readonly actor: Actor<ReturnType<typeof registrationMachineWith>>,
    ended: (r: ProviderRegistration) => void,
  ) {
    this.firstRegistration = new Promise((resolve, reject) => {
      let last: RegistrationState | null = null;
      actor.subscribe((snapshot) => {
        const state = snapshot.value as RegistrationState;
        if (state === last) return;
        last = state;
        if (snapshot.context.record && snapshot.context.registrations > 0) resolve(snapshot.context.record);
        if (FINAL_REGISTRATION_STATES.includes(state)) {
          ended(this);
          reject(new Error(`the registration of a provider for ${resourceId} ended in ${state}${snapshot.context.lastError ? `: ${snapshot.context.lastError}` : ''}`));
        }
        for (const fn of this.listeners) fn(state, this);
      });
    });
    this.firstRegistration.catch(() => undefined);
  }

  get state(): RegistrationState {
    return this.actor.getSnapshot().value as RegistrationState;
  }

  /** The record last accepted by the network, or null before the first registration. */
  get record(): ProviderRecord | null {
    return this.actor.getSnapshot().context.record;
  }

  /** The latest failure, or null. */
  get lastError(): string | null {
    return this.actor.getSnapshot().context.lastError;
  }

  /** Resolves with the record once it is first registered; rejects if the registration ends before that. */
  registered(): Promise<ProviderRecord> {
    return this.firstRegistration;
  }

  /** Calls `fn` at every change of state. Returns the function that removes the listener. */
  onState(fn: (state: RegistrationState, registration: ProviderRegistration) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Stops renewing and removes the provider with a tombstone. Resolves with the final state:
   * `unregistered`, or `stopped` when the tombstone was not accepted (`lastError`; the record then lives
   * until it expires), or `failed` when the registration had already failed.
   */
  async stop(): Promise<RegistrationState> {
    const done = new Promise<RegistrationState>((resolve) => {
      const check = () => {
        const state = this.state;
        if (FINAL_REGISTRATION_STATES.includes(state)) {
          sub.unsubscribe();
          resolve(state);
        }
      };
      const sub = this.actor.subscribe(check);
      check();
    });
    this.actor.send({ type: 'stop' });
    return done;
  }

  /** @internal */
  send(event: { type: 'connection.lost' } | { type: 'connection.restored' }): void {
    this.actor.send(event);
  }
}
