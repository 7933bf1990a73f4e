/**
 * The resource actor (DESIGN: actors/resource): one per resource held here, owning its key and slots.
 *
 * It is virtual: the shard creates it from the stored state on the first message for its resource and
 * stops it (`passivate`) when idle. Every rule it applies comes from protocols/registry.ts; this machine
 * only orders the messages, keeps the state between them, and hands changes to the injected `persist`
 * capability. A write is answered only once `persist` resolves, i.e. once the change is durable.
 *
 * States: `activating` (decides from the loaded state) → `empty` (no key held) ⇄ `holding` (key held)
 * → `passivated` (final). `holding` takes every request. `empty` refuses the reads (`get_key_metadata`,
 * `get_records`, `get_tombstones`) with `key_not_found` without running an operation; it hands writes to
 * their operation, which checks the time rules before it finds no key (SPEC §3.5: steps 2, then 3), and the
 * job visits find nothing to do.
 *
 * @example
 * const actor = createActor(resourceMachine, { input: { keyId, state, caps } }).start();
 * actor.send({ type: 'get_records', reply: (r) => console.log(r) });
 */
import { enqueueActions, setup } from 'xstate';
import { toErrorData, type ErrorData, type SignpostError } from '../protocols/errors.js';
import {
  keyNotHeld,
  addTombstone,
  clearExpired,
  getKey,
  getRecords,
  getTombstones,
  keyItem,
  putKey,
  putRecord,
  renewHostRecords,
  republishEntries,
  staleItem,
  type Changes,
  type OpOutcome,
  type ResourceState,
  type RuleContext,
} from '../protocols/registry.js';
import { alreadyVerified, type SignatureVerifier } from '../protocols/signed.js';
import type { Key, Record as ProviderRecord, Tombstone } from '../protocols/types.js';

export type Reply = (answer: { result: unknown } | { error: ErrorData }) => void;

/**
 * The requests a resource actor answers; every one carries its `reply`. `verified`: this node already
 * checked the write's signatures (the node a client sent it to, before fanning it out), so they are not
 * checked a second time here.
 */
export type ResourceRequest =
  | { type: 'register_key'; key: Key; verified?: boolean }
  | { type: 'republish_key'; key: Key }
  | { type: 'put_record'; record: ProviderRecord; verified?: boolean }
  | { type: 'add_tombstone'; tombstone: Tombstone; verified?: boolean }
  | { type: 'republish_records'; items: readonly unknown[] }
  | { type: 'republish_tombstones'; items: readonly unknown[] }
  | { type: 'get_key_metadata' }
  | { type: 'get_records' }
  | { type: 'get_tombstones' }
  | { type: 'list_item' }
  | { type: 'evict_stale' }
  | { type: 'clear_expired' }
  /** Re-signs this node's host records that are due (SPEC §5); `sign` signs a digest with the node's key. */
  | { type: 'renew'; sign: (digest: Uint8Array) => Uint8Array };

/** A request as the actor receives it: signatures are verified on the actor's own thread. */
export type ResourceEvent = (ResourceRequest & { reply: Reply }) | { type: 'passivate' };

/** What the runtime gives a resource actor. */
export interface ResourceCapabilities {
  /** The rule context at this instant (node clock, config, host peer id). */
  ruleContext(): RuleContext;
  /** Checks a signature (the node's Ed25519 backend). */
  verify: SignatureVerifier;
  /** Durably stores the changes of one operation (resolves after the commit is on disk). */
  persist(keyId: string, changes: Changes, next: ResourceState): Promise<void>;
}

export interface ResourceInput {
  keyId: string;
  state: ResourceState;
  caps: ResourceCapabilities;
}

interface ResourceContext extends ResourceInput {
  /** Operations handled since activation (shown by the inspector). */
  handled: number;
}

type Op<R> = (state: ResourceState, req: R, ctx: RuleContext, keyId: string, verify: SignatureVerifier) => OpOutcome<unknown>;

const verifierOf = (req: { verified?: boolean }, verify: SignatureVerifier) => (req.verified ? alreadyVerified : verify);

const read = (state: ResourceState, result: unknown): OpOutcome<unknown> => ({ state, result, changes: { put: [], deleted: [] } });

/** One handler per request type; all rules live in protocols/registry.ts. */
const RESOURCE_OPS: { [T in ResourceRequest['type']]: Op<Extract<ResourceRequest, { type: T }>> } = {
  register_key: (s, r, ctx, _id, verify) => putKey(s, r.key, 'register', ctx, verifierOf(r, verify)),
  republish_key: (s, r, ctx, _id, verify) => putKey(s, r.key, 'republish', ctx, verify),
  put_record: (s, r, ctx, _id, verify) => putRecord(s, r.record, ctx, verifierOf(r, verify)),
  add_tombstone: (s, r, ctx, _id, verify) => addTombstone(s, r.tombstone, ctx, verifierOf(r, verify)),
  republish_records: (s, r, ctx, id, verify) => republishEntries(s, 'record', r.items, id, ctx, verify),
  republish_tombstones: (s, r, ctx, id, verify) => republishEntries(s, 'tombstone', r.items, id, ctx, verify),
  get_key_metadata: (s, _r, _ctx, id) => read(s, getKey(s, id)),
  get_records: (s, _r, ctx, id) => read(s, getRecords(s, id, ctx)),
  get_tombstones: (s, _r, ctx, id) => read(s, getTombstones(s, id, ctx)),
  list_item: (s, _r, ctx) => read(s, keyItem(s, ctx)),
  evict_stale: (s, _r, ctx) => read(s, staleItem(s, ctx)),
  clear_expired: (s, _r, ctx) => clearExpired(s, ctx),
  renew: (s, r, ctx) => renewHostRecords(s, ctx, r.sign),
};

/** Runs one request's operation on a state (pure). */
function runOp(state: ResourceState, req: ResourceRequest, ctx: RuleContext, keyId: string, verify: SignatureVerifier): OpOutcome<unknown> {
  return (RESOURCE_OPS[req.type] as Op<ResourceRequest>)(state, req, ctx, keyId, verify);
}

function hasChanges(c: Changes): boolean {
  return c.key !== undefined || c.put.length > 0 || c.deleted.length > 0;
}

function answer(reply: Reply, out: { result: unknown; error?: SignpostError }): void {
  if (out.error) reply({ error: toErrorData(out.error) });
  else reply({ result: out.result });
}

export const resourceMachine = setup({
  types: {
    context: {} as ResourceContext,
    events: {} as ResourceEvent,
    input: {} as ResourceInput,
  },
  guards: {
    holdsKey: ({ context }) => context.state.stored !== null,
    holdsNoKey: ({ context }) => context.state.stored === null,
  },
  actions: {
    /** `key_not_found`: the request needs a key and none is held. */
    notHeld: ({ context, event }) => {
      if (event.type !== 'passivate') event.reply({ error: toErrorData(keyNotHeld(context.keyId)) });
    },
    handle: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'passivate') return;
      const { reply } = event;
      let out: OpOutcome<unknown>;
      try {
        out = runOp(context.state, event, context.caps.ruleContext(), context.keyId, context.caps.verify);
      } catch (e) {
        enqueue(() => reply({ error: toErrorData(e) }));
        return;
      }
      enqueue.assign({ state: out.state, handled: context.handled + 1 });
      if (!hasChanges(out.changes)) {
        enqueue(() => answer(reply, out));
        return;
      }
      const { caps, keyId } = context;
      enqueue(() => {
        caps.persist(keyId, out.changes, out.state).then(
          () => answer(reply, out),
          (e) => reply({ error: { code: 'internal_error', message: `storage failed: ${e instanceof Error ? e.message : String(e)}` } }),
        );
      });
    }),
  },
}).createMachine({
  id: 'resource',
  context: ({ input }) => ({ ...input, handled: 0 }),
  initial: 'activating',
  on: {
    register_key: { actions: 'handle' },
    republish_key: { actions: 'handle' },
    put_record: { actions: 'handle' },
    add_tombstone: { actions: 'handle' },
    republish_records: { actions: 'handle' },
    republish_tombstones: { actions: 'handle' },
    get_key_metadata: { actions: 'handle' },
    get_records: { actions: 'handle' },
    get_tombstones: { actions: 'handle' },
    list_item: { actions: 'handle' },
    evict_stale: { actions: 'handle' },
    clear_expired: { actions: 'handle' },
    renew: { actions: 'handle' },
    passivate: { target: '.passivated' },
  },
  states: {
    activating: {
      always: [{ guard: 'holdsKey', target: 'holding' }, { target: 'empty' }],
    },
    empty: {
      always: { guard: 'holdsKey', target: 'holding' },
      on: {
        get_key_metadata: { actions: 'notHeld' },
        get_records: { actions: 'notHeld' },
        get_tombstones: { actions: 'notHeld' },
      },
    },
    holding: {
      always: { guard: 'holdsNoKey', target: 'empty' },
    },
    passivated: { type: 'final' },
  },
});
