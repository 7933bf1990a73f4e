/**
 * One anti-entropy session with one neighbour, started by this node (SPEC §5 sync; the protocol is
 * protocols/sync/messages.ts).
 *
 *   idle ──start──▶ comparing ──equal──▶ done
 *                      └──▶ reconciling ──▶ fetching ──▶ storing ──▶ done
 *   any phase that fails ──▶ failed (the neighbour said busy: failed with `busy`)
 *
 * - `comparing`: one round trip: our range, count, fingerprint and sketch; the neighbour answers equal,
 *   or with the range it compared, its own summary and the first coded symbols.
 * - `reconciling`: decodes the difference, asking for more symbols while it does not decode (or lists
 *   the neighbour's ids, when that is cheaper or decoding failed).
 * - `fetching`: sends the entries only we hold and asks for those only the neighbour holds, in batches
 *   that fit a frame; the neighbour stores ours before it answers.
 * - `storing`: stores the neighbour's entries through the resource actors, verified like any write.
 *
 * The work of each phase is injected (runtime/net/sync.ts gives the real one; it keeps what a phase hands
 * to the next, so the context holds only what an operator reads: counts, bytes and round trips).
 *
 * @example
 * const session = createActor(syncSessionMachine.provide({ actors: work }), { input: { peerId, at } }).start();
 * session.send({ type: 'start' });
 */
import { assign, fromPromise, setup } from 'xstate';

export interface SyncSessionInput {
  peerId: string;
  /** The node-clock instant whose live sets are compared. */
  at: number;
}

export interface CompareOutput {
  equal: boolean;
  /** The buckets compared (`0-1023`, …). */
  range: string;
  /** The estimated number of differing items (0 when equal). */
  estimate: number;
}

export interface ReconcileOutput {
  /** Items only we hold, and only the neighbour holds. */
  ours: number;
  theirs: number;
  method: 'symbols' | 'listing';
  symbols: number;
}

export interface FetchOutput {
  pushed: number;
  /** Of ours, what the neighbour stored and refused. */
  accepted: number;
  refused: number;
  received: number;
}

export interface StoreOutput {
  stored: number;
  rejected: number;
}

/** What the work reports after each phase: the protocol's traffic so far. */
export interface Traffic {
  roundTrips: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface SyncSessionContext extends SyncSessionInput, Traffic {
  range: string | null;
  estimate: number | null;
  reconciled: ReconcileOutput | null;
  fetched: FetchOutput | null;
  stored: StoreOutput | null;
  error: string | null;
  /** The error code, when the session failed with a SignpostError (`busy`, `peer_timeout`, …). */
  code: string | null;
}

export type SyncOutcome = 'equal' | 'done' | 'failed' | 'busy';

/** What a finished session reports to its job (and the visualiser's list of last sessions). */
export interface SyncSessionOutput extends Traffic {
  peer_id: string;
  at: number;
  outcome: SyncOutcome;
  range: string | null;
  estimate: number | null;
  /** How the difference was found: decoded from symbols, or by listing ids (null: nothing differed). */
  method: ReconcileOutput['method'] | null;
  ours: number;
  theirs: number;
  pushed: number;
  received: number;
  stored: number;
  rejected: number;
  error: string | null;
  /** The error's code (`busy`, `peer_timeout`, `peer_unreachable`, …), or null. */
  code: string | null;
}

type Phase<O> = { output: O; traffic: Traffic };

const notProvided = (phase: string) => () => Promise.reject(new Error(`sync session: no ${phase} work provided`));

const codeOf = (e: unknown): string | null => (e && typeof e === 'object' && 'code' in e && typeof e.code === 'string' ? e.code : null);
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const failure = (error: unknown) => ({ error: messageOf(error), code: codeOf(error) });

function outputOf(c: SyncSessionContext, outcome: SyncOutcome): SyncSessionOutput {
  return {
    peer_id: c.peerId,
    at: c.at,
    outcome,
    range: c.range,
    estimate: c.estimate,
    method: c.reconciled?.method ?? null,
    ours: c.reconciled?.ours ?? 0,
    theirs: c.reconciled?.theirs ?? 0,
    pushed: c.fetched?.pushed ?? 0,
    received: c.fetched?.received ?? 0,
    stored: c.stored?.stored ?? 0,
    rejected: c.stored?.rejected ?? 0,
    roundTrips: c.roundTrips,
    bytesSent: c.bytesSent,
    bytesReceived: c.bytesReceived,
    error: c.error,
    code: c.code,
  };
}

export const syncSessionMachine = setup({
  types: { context: {} as SyncSessionContext, input: {} as SyncSessionInput, events: {} as { type: 'start' }, output: {} as SyncSessionOutput },
  actors: {
    compare: fromPromise<Phase<CompareOutput>>(notProvided('compare')),
    reconcile: fromPromise<Phase<ReconcileOutput>>(notProvided('reconcile')),
    fetch: fromPromise<Phase<FetchOutput>>(notProvided('fetch')),
    store: fromPromise<Phase<StoreOutput>>(notProvided('store')),
  },
  actions: {
    traffic: assign((_, t: Traffic) => t),
  },
}).createMachine({
  id: 'sync',
  context: ({ input }) => ({
    ...input,
    roundTrips: 0,
    bytesSent: 0,
    bytesReceived: 0,
    range: null,
    estimate: null,
    reconciled: null,
    fetched: null,
    stored: null,
    error: null,
    code: null,
  }),
  initial: 'idle',
  states: {
    idle: { on: { start: 'comparing' } },
    comparing: {
      invoke: {
        src: 'compare',
        onDone: [
          {
            guard: ({ event }) => event.output.output.equal,
            target: 'done',
            actions: [{ type: 'traffic', params: ({ event }) => event.output.traffic }, assign({ range: ({ event }) => event.output.output.range, estimate: 0 })],
          },
          {
            target: 'reconciling',
            actions: [
              { type: 'traffic', params: ({ event }) => event.output.traffic },
              assign({ range: ({ event }) => event.output.output.range, estimate: ({ event }) => event.output.output.estimate }),
            ],
          },
        ],
        onError: { target: 'failed', actions: assign(({ event }) => failure(event.error)) },
      },
    },
    reconciling: {
      invoke: {
        src: 'reconcile',
        onDone: { target: 'fetching', actions: [{ type: 'traffic', params: ({ event }) => event.output.traffic }, assign({ reconciled: ({ event }) => event.output.output })] },
        onError: { target: 'failed', actions: assign(({ event }) => failure(event.error)) },
      },
    },
    fetching: {
      invoke: {
        src: 'fetch',
        onDone: { target: 'storing', actions: [{ type: 'traffic', params: ({ event }) => event.output.traffic }, assign({ fetched: ({ event }) => event.output.output })] },
        onError: { target: 'failed', actions: assign(({ event }) => failure(event.error)) },
      },
    },
    storing: {
      invoke: {
        src: 'store',
        onDone: { target: 'done', actions: [{ type: 'traffic', params: ({ event }) => event.output.traffic }, assign({ stored: ({ event }) => event.output.output })] },
        onError: { target: 'failed', actions: assign(({ event }) => failure(event.error)) },
      },
    },
    done: { type: 'final' },
    failed: { type: 'final' },
  },
  output: ({ context }) => {
    if (context.error !== null) return outputOf(context, context.code === 'busy' ? 'busy' : 'failed');
    return outputOf(context, context.reconciled === null ? 'equal' : 'done');
  },
});
