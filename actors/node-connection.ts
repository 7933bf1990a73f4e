/**
 * The SDK's connection to its node, as an explicit machine (runtime/client/connection.ts runs it):
 *
 *   connecting ──opened──▶ open ──socket closed──▶ backoff ──after backoff(attempts)──▶ connecting …
 *        │                                            ▲
 *        └──failed (it was open before)───────────────┘
 *        └──failed (never open: the first connect)──▶ failed
 *   close (from any live state) ──▶ closing ──▶ closed
 *
 * The first connection fails at once (the caller learns that the node cannot be reached); once a
 * connection was open, losing it means reconnecting with exponential backoff until `close`. The
 * connection itself is the injected `open` actor's output; the machine watches it close.
 *
 * @example
 * const actor = createActor(nodeConnectionMachine.provide({ actors: { open: fromPromise(() => RpcClient.connect(url)) } }), { input: { url } }).start();
 */
import { assign, fromCallback, fromPromise, setup } from 'xstate';
import { backoffMs } from './backoff.js';

/** What the machine needs of a connection: to hear that it closed, and to close it. */
export interface NodeSocket {
  onClose(fn: () => void): void;
  close(): Promise<void>;
}

export interface NodeConnectionInput {
  url: string;
  /** First wait before reconnecting (default 250 ms), doubled after each failed attempt up to `reconnectMaxMs` (default 5 s). */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
}

export interface NodeConnectionContext {
  url: string;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  /** The open connection (null unless `open`). */
  socket: NodeSocket | null;
  /** Failed attempts since the last open connection. */
  attempts: number;
  /** Connections opened so far. */
  opened: number;
  lastError: string | null;
}

export type NodeConnectionEvent = { type: 'close' } | { type: 'socket.closed' };

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export const nodeConnectionMachine = setup({
  types: {
    input: {} as NodeConnectionInput,
    context: {} as NodeConnectionContext,
    events: {} as NodeConnectionEvent,
  },
  actors: {
    open: fromPromise<NodeSocket, { url: string }>(() => Promise.reject(new Error('node connection machine: no open effect provided'))),
    /** Reports the socket's close. */
    watch: fromCallback<NodeConnectionEvent, NodeSocket>(({ input, sendBack }) => input.onClose(() => sendBack({ type: 'socket.closed' }))),
    shut: fromPromise<void, NodeSocket | null>(async ({ input }) => input?.close()),
  },
  delays: {
    backoff: ({ context }) => backoffMs(context.attempts, context.reconnectBaseMs, context.reconnectMaxMs),
  },
  guards: {
    neverOpened: ({ context }) => context.opened === 0,
  },
}).createMachine({
  id: 'node-connection',
  context: ({ input }) => ({
    url: input.url,
    reconnectBaseMs: input.reconnectBaseMs ?? 250,
    reconnectMaxMs: input.reconnectMaxMs ?? 5_000,
    socket: null,
    attempts: 0,
    opened: 0,
    lastError: null,
  }),
  initial: 'connecting',
  on: { close: { target: '.closing' } },
  states: {
    connecting: {
      invoke: {
        src: 'open',
        input: ({ context }) => ({ url: context.url }),
        onDone: { target: 'open', actions: assign(({ context, event }) => ({ socket: event.output, attempts: 0, opened: context.opened + 1, lastError: null })) },
        onError: [
          { guard: 'neverOpened', target: 'failed', actions: assign({ lastError: ({ event }) => message(event.error) }) },
          { target: 'backoff', actions: assign(({ context, event }) => ({ attempts: context.attempts + 1, lastError: message(event.error) })) },
        ],
      },
    },
    open: {
      invoke: { src: 'watch', input: ({ context }) => context.socket! },
      on: { 'socket.closed': { target: 'backoff', actions: assign(({ context }) => ({ socket: null, attempts: context.attempts + 1 })) } },
    },
    backoff: {
      after: { backoff: { target: 'connecting' } },
    },
    closing: {
      invoke: { src: 'shut', input: ({ context }) => context.socket, onDone: { target: 'closed' }, onError: { target: 'closed' } },
      on: { close: {} },
    },
    /** The first connection failed (`lastError` says why). */
    failed: { type: 'final' },
    closed: { type: 'final', entry: assign({ socket: null }) },
  },
});
