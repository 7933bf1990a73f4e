/**
 * What the node shows of its actors (SPEC §9.4 `actors.*`, the `/inspect` stream): plain data, the same
 * from every shard and every thread.
 */

import { SignpostError } from '../../protocols/errors.js';

/** `actors.get` of an id that names no live actor (SPEC §9.4). */
export function actorNotFound(id: string): SignpostError {
  return new SignpostError('actor_not_found', `No live actor ${JSON.stringify(id)}`);
}

/** SPEC §9.4 actor kinds. */
export type ActorKind = 'resource' | 'registration' | 'lookup' | 'republish' | 'renew' | 'gc' | 'sync' | 'connection' | 'bootstrap';

/** One row of `actors.list`. */
export interface ActorSummary {
  id: string;
  kind: ActorKind;
  /** The XState snapshot value. */
  state: unknown;
  /** Node clock at activation. */
  started_at: number;
}

/** `actors.get`: the summary's fields, the actor's context as readable JSON, and its machine definition. */
export interface ActorDetail {
  id: string;
  kind: ActorKind;
  state: unknown;
  context: unknown;
  /** XState's `machine.toJSON()`: states and transitions, for drawing the statechart. */
  machine: unknown;
}

/**
 * A part of the node that runs actors (the shards, the scheduler, the DHT, the transport): `actors.list`,
 * `actors.get` and the inspection stream gather them from every source.
 */
export interface ActorSource {
  /** Every actor id this source runs starts with this. */
  readonly prefix: string;
  actors(): ActorSummary[] | Promise<ActorSummary[]>;
  /** null when no such actor is live here. */
  actor(id: string): ActorDetail | null | Promise<ActorDetail | null>;
  /** Inspection on (a client watches) or off. */
  setInspecting(on: boolean): void;
}

/** One inspection event of the `/inspect` stream: an event an actor took and the state it left it in. */
export interface ActorEvent {
  id: string;
  kind: ActorKind;
  event: { type: string };
  state_before: unknown;
  state_after: unknown;
  /** Present (true) on the actor's last event: it reached a final state and is no longer live. */
  ended?: true;
  /** Node clock. */
  at: number;
}

/**
 * Turns XState inspection events into ActorEvents while on, remembering each actor's last state for
 * `state_before`. Off, it costs the inspected actor one check per event (an unwatched node pays nothing).
 */
export class InspectionTracker {
  private last: Map<string, unknown> | null = null;

  constructor(
    private readonly now: () => number,
    private readonly emit: (e: ActorEvent) => void,
  ) {}

  get on(): boolean {
    return this.last !== null;
  }

  /** Starts (with the current state of the actors watched so far) or stops tracking. */
  set(on: boolean, current: () => Iterable<[string, unknown]>): void {
    if (!on) this.last = null;
    else if (!this.last) this.last = new Map(current());
  }

  /** The `inspect` option for an actor with this id and kind. */
  inspector(id: string, kind: ActorKind): (e: { type: string; actorRef: unknown; event?: { type: string }; snapshot?: unknown }) => void {
    return (e) => {
      // The actor system also reports the actor's children (a job's invoked phases): only the actor itself counts.
      if (!this.last || e.type !== '@xstate.snapshot' || (e.actorRef as { id?: string }).id !== id) return;
      const after = (e.snapshot as { value?: unknown }).value ?? null;
      const before = this.last.get(id) ?? null;
      const live = (e.snapshot as { status?: string }).status === 'active';
      if (live) this.last.set(id, after);
      else this.last.delete(id);
      const event = { id, kind, event: { type: e.event?.type ?? 'unknown' }, state_before: before, state_after: after, at: this.now() };
      this.emit(live ? event : { ...event, ended: true });
    };
  }
}

interface StateNodeLike {
  id: string;
  states: { [key: string]: StateNodeLike };
  always?: { target?: readonly { id: string }[]; guard?: unknown }[];
}

interface StateJson {
  states?: { [key: string]: StateJson };
  transitions?: unknown[];
}

/**
 * A machine definition as plain JSON: XState's `toJSON()`, without the inline functions it keeps (they
 * cannot cross threads), plus the eventless (`always`) transitions it leaves out, each listed with
 * `eventType: "always"` so a page can draw every way a state can change.
 */
export function machineJson(machine: { toJSON(): unknown; root: unknown }): unknown {
  const json = JSON.parse(JSON.stringify(machine.toJSON())) as StateJson;
  const addAlways = (node: StateNodeLike, out: StateJson): void => {
    for (const t of node.always ?? []) {
      const guard = typeof t.guard === 'string' ? { type: t.guard } : undefined;
      (out.transitions ??= []).push({ eventType: 'always', source: `#${node.id}`, target: (t.target ?? []).map((s) => `#${s.id}`), guard, actions: [] });
    }
    for (const [key, child] of Object.entries(node.states)) if (out.states?.[key]) addAlways(child, out.states[key]);
  };
  addAlways(machine.root as StateNodeLike, json);
  return json;
}
