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
 * Sends `call` to every node at once and settles as soon as the outcome is known: `ack` successes (the
 * rest carry on), or too few left to reach `ack` (`quorum_not_reached`, at once), or the deadline (wall
 * clock ms of `timers`). With `settleAll` it waits for every node (or the deadline) and resolves with
 * whatever answered.
 *
 * An answer `partial` calls partial (a node that has not finished its first sync) counts towards `ack`
 * only once no complete answer can come any more: every node has settled, or the deadline passed.
 */
export function quorum<T>(
  nodes: readonly Neighbour[],
  ack: number,
  deadline: number,
  call: (n: Neighbour, timeoutMs: number) => Promise<T>,
  timers: Timers,
  opts: { settleAll?: boolean; partial?: (answer: T) => boolean } = {},
): Promise<Quorum<T>> {
  return new Promise((resolve, reject) => {
    const answers = new Map<string, T>();
    const errors: PeerError[] = [];
    let pending = nodes.length;
    let done = false;
    const fail = () => {
      done = true;
      timers.clearTimeout(timer);
      reject(
        new SignpostError('quorum_not_reached', `${answers.size} of ${ack} required acks (${nodes.length} nodes in the neighbourhood)`, {
          acks: answers.size,
          errors: [...errors],
        }),
      );
    };
    const succeed = () => {
      done = true;
      timers.clearTimeout(timer);
      resolve({ acks: answers.size, errors: [...errors], answers: new Map(answers) });
    };
    let complete = 0;
    const settle = () => {
      if (done) return;
      if (opts.settleAll) {
        if (pending === 0) succeed();
      } else if (complete >= ack || (pending === 0 && answers.size >= ack)) {
        succeed();
      } else if (answers.size + pending < ack) fail();
    };
    const timer = timers.setTimeout(() => {
      if (done) return;
      const answered = new Set([...answers.keys(), ...errors.map((e) => e.peer_id)]);
      for (const n of nodes) {
        if (!answered.has(n.peerId)) errors.push({ peer_id: n.peerId, code: 'peer_timeout', message: `${n.peerId} did not answer in time` });
      }
      if (opts.settleAll || answers.size >= ack) succeed();
      else fail();
    }, Math.max(0, deadline - timers.now()));
    for (const n of nodes) {
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
    settle();
  });
}
