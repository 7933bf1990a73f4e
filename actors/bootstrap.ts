/**
 * How a node joins the network and keeps its routing table fresh (SPEC §5; Kademlia paper §2.3), as an
 * explicit machine.
 *
 *   dialing ──a bootstrap node answered──▶ joining ──▶ ready ──after refreshMs──▶ refreshing ──▶ ready …
 *      │  └──none answered──▶ backoff ──after backoff(failures)──▶ dialing
 *      └─ (no bootstrap nodes) ──▶ ready
 *   refreshing, with an empty routing table and bootstrap nodes to ask ──▶ dialing
 *   ready ──table.empty (the last contact left: a partition, every peer gone) ──▶ dialing
 *
 * - `dialing` pings every bootstrap URL at once; it is done when one answers.
 * - `joining` looks the node itself up, then a random location in every bucket farther than its closest
 *   neighbour, so that the nodes of each region, and those for which it is among the closest, learn of it
 *   now rather than at the next refresh.
 * - `refreshing` looks up the node itself and a random location in every non-empty bucket: 5 s after
 *   joining, 30 s later, then every `refreshMs`.
 *
 * The work is injected (`dial`, `join`, `refresh` promise actors; runtime/net/bootstrap.ts gives the real
 * ones), the delays run on the actor's clock.
 *
 * @example
 * const actor = createActor(bootstrapMachine.provide({ actors: { dial, join, refresh } }), { input: { urls, refreshMs: 600_000 } }).start();
 */
import { assign, fromPromise, setup } from 'xstate';
import { backoffMs } from './backoff.js';

export interface BootstrapInput {
  /** Base URLs of the bootstrap nodes. */
  urls: string[];
  /** Bucket refresh period. */
  refreshMs: number;
  /** First retry of the bootstrap nodes after all failed (default 0.5 s), doubled up to `backoffMaxMs` (default 30 s). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

export type BootstrapEvent = { type: 'table.empty' };

export interface BootstrapContext {
  urls: string[];
  refreshMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Consecutive dialing rounds in which no bootstrap node answered. */
  failures: number;
  lastError: string | null;
  /** Bootstrap URLs that answered the last successful round. */
  answered: string[];
  /** Completed joins and refreshes. */
  joins: number;
  refreshes: number;
}

/** `refresh`'s output: whether the routing table was empty (then the node dials its bootstrap nodes again). */
export interface RefreshOutput {
  emptyTable: boolean;
}

const notProvided = (what: string) => () => Promise.reject(new Error(`bootstrap machine: no ${what} effect provided`));

export const bootstrapMachine = setup({
  types: {
    input: {} as BootstrapInput,
    context: {} as BootstrapContext,
    events: {} as BootstrapEvent,
  },
  actors: {
    /** Pings every URL; resolves with the ones that answered, rejects when none did. */
    dial: fromPromise<string[], { urls: string[] }>(notProvided('dial')),
    join: fromPromise<void>(notProvided('join')),
    refresh: fromPromise<RefreshOutput>(notProvided('refresh')),
  },
  delays: {
    backoff: ({ context }) => backoffMs(context.failures, context.backoffBaseMs, context.backoffMaxMs),
    // Soon after joining, then at the period: peers that joined at the same moment are only handed out
    // once their address is checked, so the first refreshes meet the ones the join missed.
    refreshInterval: ({ context }) => Math.min(context.refreshMs, [5_000, 30_000][context.refreshes] ?? context.refreshMs),
  },
  guards: {
    noBootstrapNodes: ({ context }) => context.urls.length === 0,
  },
}).createMachine({
  id: 'bootstrap',
  context: ({ input }) => ({
    urls: input.urls,
    refreshMs: input.refreshMs,
    backoffBaseMs: input.backoffBaseMs ?? 500,
    backoffMaxMs: input.backoffMaxMs ?? 30_000,
    failures: 0,
    lastError: null,
    answered: [],
    joins: 0,
    refreshes: 0,
  }),
  initial: 'dialing',
  states: {
    dialing: {
      always: { guard: 'noBootstrapNodes', target: 'ready' },
      invoke: {
        src: 'dial',
        input: ({ context }) => ({ urls: context.urls }),
        onDone: { target: 'joining', actions: assign(({ event }) => ({ answered: event.output, failures: 0, lastError: null })) },
        onError: {
          target: 'backoff',
          actions: assign(({ context, event }) => ({
            failures: context.failures + 1,
            lastError: event.error instanceof Error ? event.error.message : String(event.error),
          })),
        },
      },
    },
    backoff: {
      after: { backoff: { target: 'dialing' } },
    },
    joining: {
      invoke: {
        src: 'join',
        onDone: { target: 'ready', actions: assign({ joins: ({ context }) => context.joins + 1 }) },
        onError: { target: 'ready' },
      },
    },
    ready: {
      after: { refreshInterval: { target: 'refreshing' } },
      // Without a single contact the node is cut off: ask the bootstrap nodes again now, not at the next refresh.
      on: { 'table.empty': { guard: ({ context }) => context.urls.length > 0, target: 'dialing' } },
    },
    refreshing: {
      invoke: {
        src: 'refresh',
        onDone: [
          { guard: ({ context, event }) => event.output.emptyTable && context.urls.length > 0, target: 'dialing' },
          { target: 'ready', actions: assign({ refreshes: ({ context }) => context.refreshes + 1 }) },
        ],
        onError: { target: 'ready' },
      },
    },
  },
});
