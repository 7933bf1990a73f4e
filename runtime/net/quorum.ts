/**
 * The fan-out of every Resources API call (SPEC §5, §9.2): one call to each node of a neighbourhood at
 * once, settled as soon as its outcome is known.
 */
import { SignpostError, toErrorData, type PeerError } from '../../protocols/errors.js';
import type { Timers } from '../base/clock.js';

/** One member of a neighbourhood: a peer, or this node itself (`address` null). */
export interface Neighbour {
  peerId: string;
  address: string | null;
  self: boolean;
}

export interface Quorum<T> {
  acks: number;
  errors: PeerError[];
  /** Successful answers by peer id, as received before the call returned. */
  answers: Map<string, T>;
}

/** Fan-out options of one call: `ack` of 1..K successes within `timeoutMs`. */
export interface FanOut {
  ack: number;
  timeoutMs: number;
}

/**
 * A read's widening: ask `first` nodes (the cheapest first: the caller orders them), and the
 * rest of the neighbourhood only when that is not enough: a failure, a partial answer, answers that
 * disagree, or no complete answer from all of them within `afterMs`.
 */
export interface Widening<T> {
  first: number;
  /** Whether these answers (by peer id) agree (a read: none of them lacks what they hold together). */
  agree(answers: ReadonlyMap<string, T>): boolean;
  afterMs: number;
}

/**
 * Sends `call` to every node at once and settles as soon as the outcome is known: `ack` successes (the
 * rest carry on), or too few left to reach `ack` (`quorum_not_reached`, at once), or the deadline (wall
 * clock ms of `timers`). With `settleAll` it waits for every node (or the deadline) and resolves with
 * whatever answered.
 *
 * An answer `partial` calls partial (a node that has not finished its first sync) counts towards `ack`
 * only once no complete answer can come any more: every node has settled, or the deadline passed.
 *
 * With `widen`, only the first `widen.first` nodes are called at first. When their `ack` complete answers
 * agree, that is the outcome. Otherwise every other node is called too, and the same rules hold over all
 * of them, except that after a disagreement `ack` complete answers more are awaited (one of the answers
 * so far is behind, and the others break the tie).
 */
export function quorum<T>(
  nodes: readonly Neighbour[],
  ack: number,
  deadline: number,
  call: (n: Neighbour, timeoutMs: number) => Promise<T>,
  timers: Timers,
  opts: { settleAll?: boolean; partial?: (answer: T) => boolean; widen?: Widening<T> } = {},
): Promise<Quorum<T>> {
  return new Promise((resolve, reject) => {
    const answers = new Map<string, T>();
    const errors: PeerError[] = [];
    const widen = opts.widen && opts.widen.first < nodes.length ? opts.widen : null;
    let asked = 0;
    let pending = 0;
    let widened = widen === null;
    let need = ack;
    let done = false;
    const stop = () => {
      done = true;
      timers.clearTimeout(timer);
      if (widenTimer !== null) timers.clearTimeout(widenTimer);
    };
    const fail = () => {
      stop();
      reject(
        new SignpostError('quorum_not_reached', `${answers.size} of ${ack} required acks (${nodes.length} nodes in the neighbourhood)`, {
          acks: answers.size,
          errors: [...errors],
        }),
      );
    };
    const succeed = () => {
      stop();
      resolve({ acks: answers.size, errors: [...errors], answers: new Map(answers) });
    };
    let complete = 0;
    const widenAll = () => {
      if (widened) return;
      widened = true;
      while (asked < nodes.length) send(nodes[asked++]);
    };
    const settle = () => {
      if (done) return;
      if (!widened) {
        if (complete >= ack && widen!.agree(answers)) return succeed();
        if (complete >= ack) need = complete + ack;
        if (complete >= ack || errors.length > 0 || answers.size > complete) widenAll();
        else return;
      }
      const left = pending + nodes.length - asked;
      if (opts.settleAll) {
        if (pending === 0) succeed();
      } else if (complete >= need || (pending === 0 && answers.size >= ack)) {
        succeed();
      } else if (answers.size + left < ack) fail();
    };
    const timer = timers.setTimeout(() => {
      if (done) return;
      const answered = new Set([...answers.keys(), ...errors.map((e) => e.peer_id)]);
      for (const n of nodes.slice(0, asked)) {
        if (!answered.has(n.peerId)) errors.push({ peer_id: n.peerId, code: 'peer_timeout', message: `${n.peerId} did not answer in time` });
      }
      if (opts.settleAll || answers.size >= ack) succeed();
      else fail();
    }, Math.max(0, deadline - timers.now()));
    const widenTimer =
      widen === null
        ? null
        : timers.setTimeout(() => {
            if (done) return;
            widenAll();
            settle();
          }, widen.afterMs);
    function send(n: Neighbour): void {
      pending++;
      // A call that throws at once is that node's failure like any other, not the whole call's.
      let sent: Promise<T>;
      try {
        sent = call(n, Math.max(1, deadline - timers.now()));
      } catch (e) {
        sent = Promise.reject(e);
      }
      sent.then(
        (v) => {
          pending--;
          if (!done) {
            answers.set(n.peerId, v);
            if (!opts.partial?.(v)) complete++;
          }
          settle();
        },
        (e) => {
          pending--;
          if (!done) {
            const d = toErrorData(e);
            errors.push({ peer_id: n.peerId, code: d.code, message: d.message });
          }
          settle();
        },
      );
    }
    const firstBatch = widen === null ? nodes.length : widen.first;
    while (asked < firstBatch) send(nodes[asked++]);
    settle();
  });
}
