/**
 * The client-side registration machine (DESIGN: actors/registration): keeps one provider record alive on
 * the network for as long as its owner wants it.
 *
 *   registering ──done──▶ registered ──after renewInterval──▶ renewing ──done──▶ registered …
 *        │                    │                                   │
 *        └──error──▶ retrying (backoff) ──after retryDelay──▶ registering
 *   connection.lost (from any live state) ──▶ disconnected ──connection.restored──▶ registering
 *   stop (from any live state) ──▶ stopping ──done──▶ unregistered | ──error──▶ stopped
 *   a permanent error (the network will never accept this record) ──▶ failed
 *
 * The work is injected: `register` signs and sends a record (a fresh one, or a renewal of `previous`),
 * `unregister` sends the tombstone; `isPermanent` tells a refusal that retrying cannot fix from a passing
 * failure. Timers are XState delays computed from the context (`renewIntervalMs`, and an exponential
 * backoff from `retryBaseMs` to `retryMaxMs`), so tests run them on a SimulatedClock. The machine never
 * reads a clock and touches no I/O: the timestamps inside records are the effect's business (the SDK
 * reads them from the node's clock).
 *
 * @example
 * const machine = registrationMachineWith({
 *   register: async ({ previous }) => (previous ? renew(previous) : issue()),
 *   unregister: async ({ record }) => sendTombstone(record),
 * });
 * const actor = createActor(machine, { input: { renewIntervalMs: 3_600_000 } }).start();
 * actor.send({ type: 'connection.lost' }); // … later
 * actor.send({ type: 'connection.restored' }); // re-registers at once
 * actor.send({ type: 'stop' }); // tombstone, then `unregistered`
 */
import { assign, fromPromise, setup } from 'xstate';
import { backoffMs } from './backoff.js';
import type { Record as ProviderRecord } from '../protocols/types.js';

/** Why `register` runs: the first registration, a scheduled renewal, a retry, or after a reconnect. */
export type RegisterReason = 'register' | 'renew' | 'retry' | 'reconnect';

export interface RegisterInput {
  reason: RegisterReason;
  /** The record last accepted by the network, or null before the first success. */
  previous: ProviderRecord | null;
}

export interface UnregisterInput {
  /** The record last accepted by the network, or null when none was (the tombstone is sent all the same). */
  record: ProviderRecord | null;
}

/** The side effects a registration needs. */
export interface RegistrationEffects {
  /** Registers (or renews) the record; resolves with the record the network accepted. */
  register(input: RegisterInput): Promise<ProviderRecord>;
  /** Sends the tombstone that removes the provider. */
  unregister(input: UnregisterInput): Promise<void>;
  /** A failure that retrying cannot fix (e.g. `policy_violation`): the machine ends in `failed`. Default: none is. */
  isPermanent?(error: unknown): boolean;
}

export interface RegistrationInput {
  /** How long a registration stands before it is renewed (SDK default: one hour). */
  renewIntervalMs: number;
  /** The first retry waits this long; each further consecutive failure doubles it (default 1 s). */
  retryBaseMs?: number;
  /** The longest wait between two retries (default 60 s). */
  retryMaxMs?: number;
}

export interface RegistrationContext {
  renewIntervalMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** The record last accepted by the network. */
  record: ProviderRecord | null;
  /** What the next `register` run is for. */
  reason: RegisterReason;
  /** Consecutive failures since the last success (drives the backoff). */
  failures: number;
  /** Successful registrations and renewals. */
  registrations: number;
  /** The latest failure's message, or null. */
  lastError: string | null;
}

export type RegistrationEvent = { type: 'stop' } | { type: 'connection.lost' } | { type: 'connection.restored' };

/** The states a registration goes through; `failed`, `unregistered` and `stopped` are final. */
export type RegistrationState =
  | 'registering'
  | 'registered'
  | 'renewing'
  | 'retrying'
  | 'disconnected'
  | 'stopping'
  | 'unregistered'
  | 'stopped'
  | 'failed';

export const FINAL_REGISTRATION_STATES: readonly RegistrationState[] = ['unregistered', 'stopped', 'failed'];


function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The error of an invoked actor that failed (an `onError` transition's event). */
const errorOf = ({ event }: { event: { error: unknown } }): unknown => event.error;

const notProvided = (what: string) => () => Promise.reject(new Error(`registration machine: no ${what} effect provided`));

/** The machine with placeholder effects; use `registrationMachineWith` (or `.provide`) to give it real ones. */
export const registrationMachine = setup({
  types: {
    context: {} as RegistrationContext,
    events: {} as RegistrationEvent,
    input: {} as RegistrationInput,
  },
  actors: {
    register: fromPromise<ProviderRecord, RegisterInput>(notProvided('register')),
    unregister: fromPromise<void, UnregisterInput>(notProvided('unregister')),
  },
  guards: {
    isPermanent: (_, _error: unknown) => false,
  },
  delays: {
    renewInterval: ({ context }) => context.renewIntervalMs,
    retryDelay: ({ context }) => backoffMs(context.failures, context.retryBaseMs, context.retryMaxMs),
  },
  actions: {
    /** The network accepted `record`. */
    accept: assign((_, record: ProviderRecord) => ({ record, failures: 0, lastError: null })),
    countRegistration: assign({ registrations: ({ context }) => context.registrations + 1 }),
    noteFailure: assign(({ context }, error: unknown) => ({ failures: context.failures + 1, lastError: message(error) })),
    noteStopFailure: assign((_, error: unknown) => ({ lastError: message(error) })),
  },
}).createMachine({
  id: 'registration',
  context: ({ input }) => ({
    renewIntervalMs: input.renewIntervalMs,
    retryBaseMs: input.retryBaseMs ?? 1_000,
    retryMaxMs: input.retryMaxMs ?? 60_000,
    record: null,
    reason: 'register',
    failures: 0,
    registrations: 0,
    lastError: null,
  }),
  initial: 'registering',
  // Every live state: a dropped connection suspends the work, `stop` removes the provider.
  on: {
    'connection.lost': { target: '.disconnected' },
    stop: { target: '.stopping' },
  },
  states: {
    registering: {
      invoke: {
        src: 'register',
        input: ({ context }) => ({ reason: context.reason, previous: context.record }),
        onDone: { target: 'registered', actions: [{ type: 'accept', params: ({ event }) => event.output }, 'countRegistration'] },
        onError: [
          { guard: { type: 'isPermanent', params: errorOf }, target: 'failed', actions: { type: 'noteFailure', params: errorOf } },
          { target: 'retrying', actions: { type: 'noteFailure', params: errorOf } },
        ],
      },
    },
    registered: {
      after: { renewInterval: { target: 'renewing' } },
    },
    renewing: {
      invoke: {
        src: 'register',
        input: ({ context }) => ({ reason: 'renew', previous: context.record }),
        onDone: { target: 'registered', actions: [{ type: 'accept', params: ({ event }) => event.output }, 'countRegistration'] },
        onError: [
          { guard: { type: 'isPermanent', params: errorOf }, target: 'failed', actions: { type: 'noteFailure', params: errorOf } },
          { target: 'retrying', actions: { type: 'noteFailure', params: errorOf } },
        ],
      },
    },
    retrying: {
      after: { retryDelay: { target: 'registering', actions: assign({ reason: 'retry' }) } },
    },
    disconnected: {
      on: {
        'connection.lost': {},
        'connection.restored': { target: 'registering', actions: assign({ reason: 'reconnect' }) },
      },
    },
    stopping: {
      on: { stop: {}, 'connection.lost': {} },
      invoke: {
        src: 'unregister',
        input: ({ context }) => ({ record: context.record }),
        onDone: { target: 'unregistered' },
        onError: { target: 'stopped', actions: { type: 'noteStopFailure', params: errorOf } },
      },
    },
    /** The tombstone was accepted: the provider is gone. */
    unregistered: { type: 'final' },
    /** Stopped, but the tombstone was not accepted (`lastError` says why): the record lives until it expires. */
    stopped: { type: 'final' },
    /** The network refused the record for good (`lastError` says why). */
    failed: { type: 'final' },
  },
});

/** The registration machine doing `effects`. */
export function registrationMachineWith(effects: RegistrationEffects) {
  return registrationMachine.provide({
    actors: {
      register: fromPromise<ProviderRecord, RegisterInput>(({ input }) => effects.register(input)),
      unregister: fromPromise<void, UnregisterInput>(({ input }) => effects.unregister(input)),
    },
    guards: {
      isPermanent: (_, error: unknown) => effects.isPermanent?.(error) ?? false,
    },
  });
}
