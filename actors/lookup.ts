/**
 * The lookup actor (DESIGN: actors/lookup): one iterative Kademlia lookup of the K nodes closest to a
 * target (SPEC §5), as an explicit machine.
 *
 * States: `active.querying` (asks up to `alpha` of the closest not-yet-asked candidates) → `active.waiting`
 * (an answer or a failure comes back) → `querying` … until `converged` (the K closest candidates that are
 * still possible have all answered and nothing is in flight) or `timedOut`. Both are final; the output is
 * the closest nodes that answered.
 *
 * A query not answered within `slowMs` gives up its slot (it is *slow*): the next candidate is asked while
 * it may still answer, so peers that are down or cut off do not stall the lookup `alpha` at a time. The
 * lookup still waits for a slow peer that is among the K closest, until it answers or fails.
 *
 * The network is the injected `queries` callback actor: it receives `{type: 'query', peers}` and sends
 * back `answer` (with the contacts the peer returned) or `failed` for each peer. Everything else is here.
 *
 * @example
 * const actor = createActor(lookupMachine.provide({ actors: { queries } }), { input }).start();
 * actor.subscribe({ complete: () => console.log(actor.getSnapshot().output) });
 */
import { assign, enqueueActions, fromCallback, setup } from 'xstate';
import { compareDistance } from '../protocols/kademlia.js';
import { fromHex } from '../protocols/encoding.js';

/** A node the lookup knows of. `hop`: 1 for the seeds, n + 1 for a node learnt from a hop-n node. */
export interface LookupCandidate {
  peerId: string;
  address: string;
  /** Hex of the node's location (hex keeps the context plain JSON for the inspector). */
  location: string;
  hop: number;
}

export interface LookupInput {
  /** Hex of the 32-byte target location. */
  target: string;
  k: number;
  alpha: number;
  timeoutMs: number;
  seeds: LookupCandidate[];
  /** Peer ids never to ask or return (this node itself). */
  exclude: string[];
  /** A query unanswered for this long frees its slot for the next candidate; omitted: never. */
  slowMs?: number;
}

export interface LookupOutput {
  /** The closest nodes that answered, closest first, at most k. */
  closest: LookupCandidate[];
  timedOut: boolean;
  /** Highest hop among `closest` (0 when it is empty). */
  hops: number;
  queried: number;
  /**
   * The lookup saw the whole network: it started from fewer than k seeds, every node it heard of answered
   * or failed, and every answer held fewer than k contacts (a node's whole routing table). Its result is
   * then the neighbourhood of every target, not only of this one.
   */
  whole: boolean;
}

export type LookupEvent =
  | { type: 'answer'; peerId: string; contacts: { peerId: string; address: string; location: string }[] }
  | { type: 'failed'; peerId: string }
  | { type: 'slow'; peerIds: string[] };

interface LookupContext extends LookupInput {
  /** Every candidate known, closest first. */
  candidates: LookupCandidate[];
  asked: string[];
  answered: string[];
  failed: string[];
  inFlight: number;
  /** Asked, not settled, and no longer holding a slot. */
  slow: string[];
  timedOut: boolean;
  /** Some answer (or the seeds) held k contacts or more: there may be nodes this lookup never heard of. */
  partialView: boolean;
}

/** Candidates still worth asking: among the k closest that have neither failed nor gone slow, not yet asked. */
function toAsk(c: LookupContext): LookupCandidate[] {
  const failed = new Set([...c.failed, ...c.slow]);
  const asked = new Set(c.asked);
  return c.candidates
    .filter((x) => !failed.has(x.peerId))
    .slice(0, c.k)
    .filter((x) => !asked.has(x.peerId));
}

/** Whether a slow peer is still among the k closest candidates that have not failed. */
function waitingOnSlow(c: LookupContext): boolean {
  if (c.slow.length === 0) return false;
  const failed = new Set(c.failed);
  const slow = new Set(c.slow);
  return c.candidates
    .filter((x) => !failed.has(x.peerId))
    .slice(0, c.k)
    .some((x) => slow.has(x.peerId));
}

/** The context after `peerId` settled: its slot is freed unless it was slow (freed already). */
function settled(c: LookupContext, peerId: string): Pick<LookupContext, 'inFlight' | 'slow'> {
  return c.slow.includes(peerId) ? { inFlight: c.inFlight, slow: c.slow.filter((x) => x !== peerId) } : { inFlight: c.inFlight - 1, slow: c.slow };
}

function outputOf(c: LookupContext): LookupOutput {
  const answered = new Set(c.answered);
  const closest = c.candidates.filter((x) => answered.has(x.peerId)).slice(0, c.k);
  const failed = new Set(c.failed);
  const settledAll = c.slow.length === 0 && c.candidates.every((x) => answered.has(x.peerId) || failed.has(x.peerId));
  const whole = !c.timedOut && !c.partialView && settledAll;
  return { closest, timedOut: c.timedOut, hops: closest.reduce((m, x) => Math.max(m, x.hop), 0), queried: c.asked.length, whole };
}

export const lookupMachine = setup({
  types: {
    input: {} as LookupInput,
    context: {} as LookupContext,
    events: {} as LookupEvent,
    output: {} as LookupOutput,
  },
  actors: {
    // Provided by the runtime: sends each peer a find_node and reports back.
    queries: fromCallback<{ type: 'query'; peers: LookupCandidate[] }>(() => {
      throw new Error('lookupMachine needs a "queries" actor');
    }),
  },
  delays: {
    timeout: ({ context }) => context.timeoutMs,
  },
  guards: {
    converged: ({ context }) => context.inFlight === 0 && toAsk(context).length === 0 && !waitingOnSlow(context),
  },
  actions: {
    askNext: enqueueActions(({ context, enqueue }) => {
      const picks = toAsk(context).slice(0, Math.max(0, context.alpha - context.inFlight));
      if (picks.length === 0) return;
      enqueue.assign({ asked: [...context.asked, ...picks.map((p) => p.peerId)], inFlight: context.inFlight + picks.length });
      enqueue.sendTo('net', { type: 'query', peers: picks });
      if (context.slowMs !== undefined) enqueue.raise({ type: 'slow', peerIds: picks.map((p) => p.peerId) }, { delay: context.slowMs });
    }),
    markSlow: assign(({ context, event }) => {
      if (event.type !== 'slow') return {};
      const done = new Set([...context.answered, ...context.failed, ...context.slow]);
      const slow = event.peerIds.filter((id) => !done.has(id));
      return { slow: [...context.slow, ...slow], inFlight: context.inFlight - slow.length };
    }),
    merge: assign(({ context, event }) => {
      if (event.type !== 'answer') return {};
      const from = context.candidates.find((x) => x.peerId === event.peerId);
      const hop = (from?.hop ?? 0) + 1;
      const known = new Set(context.candidates.map((x) => x.peerId));
      const excluded = new Set(context.exclude);
      const fresh = event.contacts
        .filter((x) => !known.has(x.peerId) && !excluded.has(x.peerId) && (known.add(x.peerId), true))
        .map((x) => ({ ...x, hop }));
      const candidates = byDistance(context.target, [...context.candidates, ...fresh]);
      const partialView = context.partialView || event.contacts.length >= context.k;
      return { candidates, answered: [...context.answered, event.peerId], partialView, ...settled(context, event.peerId) };
    }),
    markFailed: assign(({ context, event }) => (event.type === 'failed' ? { failed: [...context.failed, event.peerId], ...settled(context, event.peerId) } : {})),
  },
}).createMachine({
  id: 'lookup',
  context: ({ input }) => {
    const excluded = new Set(input.exclude);
    const candidates = byDistance(
      input.target,
      input.seeds.filter((s) => !excluded.has(s.peerId)),
    );
    return { ...input, candidates, asked: [], answered: [], failed: [], inFlight: 0, slow: [], timedOut: false, partialView: input.seeds.length >= input.k };
  },
  initial: 'active',
  states: {
    active: {
      invoke: { id: 'net', src: 'queries' },
      after: { timeout: { target: 'timedOut', actions: assign({ timedOut: true }) } },
      initial: 'querying',
      states: {
        querying: {
          entry: 'askNext',
          always: [{ guard: 'converged', target: '#lookup.converged' }, { target: 'waiting' }],
        },
        waiting: {
          on: {
            answer: { actions: 'merge', target: 'querying' },
            failed: { actions: 'markFailed', target: 'querying' },
            slow: { actions: 'markSlow', target: 'querying' },
          },
        },
      },
    },
    converged: { type: 'final' },
    timedOut: { type: 'final' },
  },
  output: ({ context }) => outputOf(context),
});

/** `candidates` closest to `target` first (each location decoded once, not once per comparison). */
function byDistance(target: string, candidates: LookupCandidate[]): LookupCandidate[] {
  const t = fromHex(target);
  return candidates
    .map((c) => ({ c, location: fromHex(c.location) }))
    .sort((a, b) => compareDistance(t, a.location, b.location))
    .map((x) => x.c);
}
