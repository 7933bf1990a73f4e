/**
 * The lifecycle of one node-to-node connection (SPEC §8) as an explicit machine. The transport
 * (runtime/net/ws-transport.ts) owns the socket and the frames; this machine owns what happens to the
 * connection: the handshake and its deadline, the idle timeout, the ban, and the close.
 *
 *   connecting ──socket.open──▶ handshaking ──authenticated──▶ open
 *        │                          │                          │ ├─ ban ─────────────▶ closing (1008)
 *        │                          │                          │ └─ idle (checked every idleCheckMs, nothing
 *        │                          │                          │     in flight for idleMs) ──▶ closing (1000)
 *        │                          └─ refuse / after handshakeTimeout ──▶ closing (4001 | 4002 | 4003)
 *   close (from any live state) ──▶ closing ──socket.closed──▶ closed
 *   socket.closed (from any live state) ──▶ closed
 *
 * An inbound connection starts in `handshaking` (its socket is already open). `connecting` and
 * `handshaking` each have the handshake deadline (opening the socket, then the signed hello and auth).
 * `closing` waits for the close handshake for at most `closeGraceMs`, then cuts the socket off. The
 * socket and its timing are the injected `io`; the machine's delays run on the clock its actor is given.
 *
 * @example
 * const actor = createActor(connectionMachine, { input: { direction: 'outbound', label, io, handshakeTimeoutMs: 5000, idleMs: 120_000 } }).start();
 * actor.send({ type: 'socket.open' });
 */
import { assign, setup } from 'xstate';

/** What the machine does to the socket, and what it asks of it. */
export interface ConnectionIo {
  /** Starts the WebSocket close handshake with `code` and `reason`. */
  close(code: number, reason: string): void;
  /** Cuts the socket off at once. */
  terminate(): void;
  /** Wall-clock milliseconds since the connection last sent or received anything; 0 while requests are in flight. */
  idleFor(): number;
}

export interface ConnectionInput {
  direction: 'inbound' | 'outbound';
  /** The remote address (inbound: host:port it came from; outbound: the URL dialled). */
  label: string;
  io: ConnectionIo;
  handshakeTimeoutMs: number;
  idleMs: number;
  /** How often an open connection checks whether it is idle (default: a quarter of idleMs, at most 30 s). */
  idleCheckMs?: number;
  /** How long `closing` waits for the close handshake (default 1 s). */
  closeGraceMs?: number;
}

export interface ConnectionContext {
  direction: 'inbound' | 'outbound';
  label: string;
  io: ConnectionIo;
  handshakeTimeoutMs: number;
  idleMs: number;
  idleCheckMs: number;
  closeGraceMs: number;
  /** The authenticated peer, once the handshake succeeded. */
  peerId: string | null;
  /** The agreed wire version. */
  version: number | null;
  /** Why it closed or is closing: the code and reason sent or received. */
  closeCode: number | null;
  closeReason: string | null;
}

export type ConnectionEvent =
  | { type: 'socket.open' }
  | { type: 'authenticated'; peerId: string; version: number }
  /** The handshake failed: 4001 bad handshake, 4002 no common version, 4003 banned. */
  | { type: 'refuse'; code: number; reason: string }
  /** The peer went over its misbehaviour budget (on this or another connection). */
  | { type: 'ban' }
  | { type: 'close'; code: number; reason: string }
  | { type: 'socket.closed'; code: number; reason: string };

/** Close codes of SPEC §8 and this transport. */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  misbehaviour: 1008,
  tooBig: 1009,
  handshakeFailed: 4001,
  noCommonVersion: 4002,
  banned: 4003,
} as const;

const closeWith = (code: number, reason: string) => ({ type: 'closeWith', params: { code, reason } }) as const;

export const connectionMachine = setup({
  types: {
    input: {} as ConnectionInput,
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
  },
  delays: {
    handshakeTimeout: ({ context }) => context.handshakeTimeoutMs,
    idleCheck: ({ context }) => context.idleCheckMs,
    closeGrace: ({ context }) => context.closeGraceMs,
  },
  guards: {
    inbound: ({ context }) => context.direction === 'inbound',
    idle: ({ context }) => context.io.idleFor() >= context.idleMs,
  },
  actions: {
    closeWith: assign((_, params: { code: number; reason: string }) => ({ closeCode: params.code, closeReason: params.reason })),
    sendClose: ({ context }) => context.io.close(context.closeCode ?? CLOSE.normal, context.closeReason ?? ''),
    terminate: ({ context }) => context.io.terminate(),
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => ({
    direction: input.direction,
    label: input.label,
    io: input.io,
    handshakeTimeoutMs: input.handshakeTimeoutMs,
    idleMs: input.idleMs,
    idleCheckMs: input.idleCheckMs ?? Math.min(Math.max(1, Math.floor(input.idleMs / 4)), 30_000),
    closeGraceMs: input.closeGraceMs ?? 1000,
    peerId: null,
    version: null,
    closeCode: null,
    closeReason: null,
  }),
  initial: 'connecting',
  on: {
    close: { target: '.closing', actions: assign(({ event }) => ({ closeCode: event.code, closeReason: event.reason })) },
    'socket.closed': { target: '.closed', actions: assign(({ context, event }) => ({ closeCode: context.closeCode ?? event.code, closeReason: context.closeReason ?? event.reason })) },
  },
  states: {
    connecting: {
      always: { guard: 'inbound', target: 'handshaking' },
      on: { 'socket.open': { target: 'handshaking' } },
      after: { handshakeTimeout: { target: 'closing', actions: closeWith(CLOSE.handshakeFailed, 'handshake timed out') } },
    },
    handshaking: {
      on: {
        authenticated: { target: 'open', actions: assign(({ event }) => ({ peerId: event.peerId, version: event.version })) },
        refuse: { target: 'closing', actions: assign(({ event }) => ({ closeCode: event.code, closeReason: event.reason })) },
      },
      after: { handshakeTimeout: { target: 'closing', actions: closeWith(CLOSE.handshakeFailed, 'handshake timed out') } },
    },
    open: {
      on: { ban: { target: 'closing', actions: closeWith(CLOSE.misbehaviour, 'misbehaviour budget exceeded') } },
      after: {
        idleCheck: [
          { guard: 'idle', target: 'closing', actions: closeWith(CLOSE.normal, 'idle') },
          { target: 'open', reenter: true },
        ],
      },
    },
    closing: {
      entry: 'sendClose',
      // Already closing: a second close or a ban changes nothing.
      on: { close: {}, ban: {}, refuse: {} },
      after: { closeGrace: { actions: 'terminate' } },
    },
    closed: { type: 'final' },
  },
});
