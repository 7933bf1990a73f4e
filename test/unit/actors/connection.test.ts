/**
 * The peer connection machine (actors/connection.ts) with a fake socket on a SimulatedClock: the
 * handshake and its deadline, the idle check, the ban, the refusals, and the close with its grace period.
 * The socket's answers (`socket.open`, `authenticated`, `socket.closed`) are sent the way
 * runtime/net/ws-transport.ts sends them.
 */
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { CLOSE, connectionMachine, type ConnectionInput } from '../../../actors/connection.js';

const HANDSHAKE_MS = 5000;
const IDLE_MS = 1000;

/** A fake socket: logs what the machine does to it; idle time runs on the test's clock like the transport's. */
function fakeSocket(clock: SimulatedClock) {
  const closes: { code: number; reason: string }[] = [];
  let terminated = 0;
  let lastActivity = clock.now();
  let inFlight = 0;
  return {
    io: {
      close: (code: number, reason: string) => void closes.push({ code, reason }),
      terminate: () => void terminated++,
      idleFor: () => (inFlight > 0 ? 0 : clock.now() - lastActivity),
    },
    closes,
    terminated: () => terminated,
    activity: () => void (lastActivity = clock.now()),
    setInFlight: (n: number) => void (inFlight = n),
  };
}

function start(input: Partial<Omit<ConnectionInput, 'io'>> = {}) {
  const clock = new SimulatedClock();
  const socket = fakeSocket(clock);
  const actor = createActor(connectionMachine, {
    clock,
    input: { direction: 'outbound', label: 'ws://127.0.0.1:7071', handshakeTimeoutMs: HANDSHAKE_MS, idleMs: IDLE_MS, ...input, io: socket.io },
  }).start();
  return { clock, socket, actor, state: () => actor.getSnapshot().value as string, context: () => actor.getSnapshot().context };
}

/** Moves the clock `ms` forward in steps of `stepMs`, so a timer that re-arms itself fires at every due time. */
function step(clock: SimulatedClock, ms: number, stepMs: number) {
  for (let t = 0; t < ms; t += stepMs) clock.increment(Math.min(stepMs, ms - t));
}

/** An outbound connection taken through a successful handshake. */
function opened(input: Partial<Omit<ConnectionInput, 'io'>> = {}) {
  const c = start(input);
  c.actor.send({ type: 'socket.open' });
  c.actor.send({ type: 'authenticated', peerId: 'peer-b', version: 1 });
  return c;
}

describe('connection machine', () => {
  it('an outbound connection goes connecting → handshaking → open and records the peer and the version', () => {
    const { actor, state, context, socket } = start();
    expect(state()).toBe('connecting');
    actor.send({ type: 'socket.open' });
    expect(state()).toBe('handshaking');
    expect(context().peerId).toBeNull();
    actor.send({ type: 'authenticated', peerId: 'peer-b', version: 1 });
    expect(state()).toBe('open');
    expect(context()).toMatchObject({ peerId: 'peer-b', version: 1, closeCode: null });
    expect(socket.closes).toEqual([]);
  });

  it('an inbound connection starts in handshaking: its socket is already open', () => {
    const { state, actor } = start({ direction: 'inbound', label: '127.0.0.1:50000' });
    expect(state()).toBe('handshaking');
    actor.send({ type: 'authenticated', peerId: 'peer-a', version: 1 });
    expect(state()).toBe('open');
  });

  it('a handshake not finished within handshakeTimeoutMs is closed with 4001', () => {
    const { clock, actor, state, socket, context } = start({ direction: 'inbound', label: '127.0.0.1:50000' });
    clock.increment(HANDSHAKE_MS - 1);
    expect(state()).toBe('handshaking');
    expect(socket.closes).toEqual([]);
    clock.increment(1);
    expect(state()).toBe('closing');
    expect(socket.closes).toEqual([{ code: CLOSE.handshakeFailed, reason: 'handshake timed out' }]);
    expect(context()).toMatchObject({ closeCode: 4001, closeReason: 'handshake timed out' });
    // An answer arriving after the deadline does not reopen the connection.
    actor.send({ type: 'authenticated', peerId: 'peer-a', version: 1 });
    expect(state()).toBe('closing');
  });

  it('a socket that never opens is given up after handshakeTimeoutMs', () => {
    const { clock, state, socket } = start();
    clock.increment(HANDSHAKE_MS);
    expect(state()).toBe('closing');
    expect(socket.closes).toEqual([{ code: CLOSE.handshakeFailed, reason: 'handshake timed out' }]);
  });

  it('an authenticated connection is not closed by the handshake deadline', () => {
    const { clock, state, socket } = opened({ idleMs: 60_000 });
    clock.increment(HANDSHAKE_MS * 2);
    expect(state()).toBe('open');
    expect(socket.closes).toEqual([]);
  });

  it('a refused handshake closes with the refusal code and reason', () => {
    for (const code of [CLOSE.handshakeFailed, CLOSE.noCommonVersion, CLOSE.banned]) {
      const { actor, state, socket, context } = start({ direction: 'inbound', label: '127.0.0.1:50000' });
      actor.send({ type: 'refuse', code, reason: `refused ${code}` });
      expect(state()).toBe('closing');
      expect(socket.closes).toEqual([{ code, reason: `refused ${code}` }]);
      expect(context()).toMatchObject({ closeCode: code, closeReason: `refused ${code}`, peerId: null });
    }
  });

  it('an open connection with nothing sent or received for idleMs is closed with 1000 at the next idle check', () => {
    // idleMs 1000 → checked every 250 ms by default.
    const { clock, state, socket, context } = opened();
    step(clock, 750, 250);
    expect(state()).toBe('open');
    clock.increment(249);
    expect(state()).toBe('open');
    clock.increment(1);
    expect(state()).toBe('closing');
    expect(socket.closes).toEqual([{ code: CLOSE.normal, reason: 'idle' }]);
    expect(context().closeReason).toBe('idle');
  });

  it('a long idleMs is still checked at least every 30 s', () => {
    // A quarter of 400 s would be 100 s; the check runs every 30 s, so the close comes at the first check
    // at or after 400 s: 420 s.
    const { clock, state } = opened({ idleMs: 400_000 });
    step(clock, 390_000, 30_000);
    clock.increment(10_000);
    expect(state()).toBe('open');
    clock.increment(19_999);
    expect(state()).toBe('open');
    clock.increment(1);
    expect(state()).toBe('closing');
  });

  it('traffic keeps a connection open; the idle time counts from the last frame', () => {
    const { clock, state, socket } = opened({ idleCheckMs: 100 });
    for (let i = 0; i < 20; i++) {
      step(clock, 500, 100);
      socket.activity();
    }
    expect(state()).toBe('open');
    step(clock, 900, 100);
    expect(state()).toBe('open');
    step(clock, 100, 100);
    expect(state()).toBe('closing');
  });

  it('a connection with a request in flight is never idle', () => {
    const { clock, state, socket } = opened({ idleCheckMs: 100 });
    socket.setInFlight(1);
    step(clock, IDLE_MS * 10, 100);
    expect(state()).toBe('open');
    socket.setInFlight(0);
    step(clock, 100, 100);
    expect(state()).toBe('closing');
  });

  it('a ban closes an open connection with 1008', () => {
    const { actor, state, socket, context } = opened({ idleMs: 60_000 });
    actor.send({ type: 'ban' });
    expect(state()).toBe('closing');
    expect(socket.closes).toEqual([{ code: CLOSE.misbehaviour, reason: 'misbehaviour budget exceeded' }]);
    expect(context().closeCode).toBe(1008);
  });

  it('close from any live state sends the given code once; a second close or a ban changes nothing', () => {
    for (const setup of [() => start(), () => start({ direction: 'inbound', label: 'x' }), () => opened({ idleMs: 60_000 })]) {
      const { actor, state, socket, context } = setup();
      actor.send({ type: 'close', code: CLOSE.goingAway, reason: 'node stopping' });
      expect(state()).toBe('closing');
      actor.send({ type: 'close', code: CLOSE.normal, reason: 'again' });
      actor.send({ type: 'ban' });
      actor.send({ type: 'refuse', code: CLOSE.banned, reason: 'late' });
      expect(state()).toBe('closing');
      expect(socket.closes).toEqual([{ code: CLOSE.goingAway, reason: 'node stopping' }]);
      expect(context()).toMatchObject({ closeCode: CLOSE.goingAway, closeReason: 'node stopping' });
    }
  });

  it('closing cuts the socket off after closeGraceMs when the peer does not finish the close handshake', () => {
    const { clock, actor, state, socket } = opened({ idleMs: 60_000 });
    actor.send({ type: 'close', code: CLOSE.normal, reason: 'bye' });
    clock.increment(999);
    expect(socket.terminated()).toBe(0);
    clock.increment(1);
    expect(socket.terminated()).toBe(1);
    // Terminating makes the socket close; then the connection is over.
    actor.send({ type: 'socket.closed', code: 1006, reason: '' });
    expect(state()).toBe('closed');
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('closeGraceMs is configurable, and a socket that closes in time is not terminated', () => {
    const { clock, actor, state, socket, context } = opened({ idleMs: 60_000, closeGraceMs: 200 });
    actor.send({ type: 'ban' });
    clock.increment(100);
    // The peer's side of the close may say something else (1005: no status); what this side sent is kept.
    actor.send({ type: 'socket.closed', code: 1005, reason: '' });
    expect(state()).toBe('closed');
    clock.increment(1000);
    expect(socket.terminated()).toBe(0);
    expect(context()).toMatchObject({ closeCode: 1008, closeReason: 'misbehaviour budget exceeded' });

    const short = opened({ idleMs: 60_000, closeGraceMs: 200 });
    short.actor.send({ type: 'ban' });
    short.clock.increment(200);
    expect(short.socket.terminated()).toBe(1);
  });

  it('a socket closed by the peer ends the connection at once, with the peer’s code and reason', () => {
    const { actor, state, socket, context, clock } = opened({ idleMs: 60_000 });
    actor.send({ type: 'socket.closed', code: 1001, reason: 'going away' });
    expect(state()).toBe('closed');
    expect(actor.getSnapshot().status).toBe('done');
    expect(context()).toMatchObject({ closeCode: 1001, closeReason: 'going away' });
    // Nothing more is done to a closed socket.
    clock.increment(120_000);
    expect(socket.closes).toEqual([]);
    expect(socket.terminated()).toBe(0);

    const early = start();
    early.actor.send({ type: 'socket.closed', code: 1006, reason: '' });
    expect(early.state()).toBe('closed');
    early.clock.increment(HANDSHAKE_MS);
    expect(early.socket.closes).toEqual([]);
  });
});
