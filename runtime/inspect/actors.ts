/**
 * Every actor of a node, gathered from the parts that run them (SPEC §9.4 `actors.list`, `actors.get`, the
 * `/inspect` snapshot): each part is an ActorSource owning the ids under its prefix.
 */
import { compareUtf8 } from '../../protocols/encoding.js';
import { actorNotFound, type ActorDetail, type ActorSource, type ActorSummary } from './actor-view.js';

export class NodeActors {
  constructor(private readonly sources: readonly ActorSource[]) {}

  /** Every live actor, sorted by id. */
  async list(): Promise<ActorSummary[]> {
    const parts = await Promise.all(this.sources.map((s) => s.actors()));
    return parts.flat().sort((a, b) => compareUtf8(a.id, b.id));
  }

  /** One live actor in detail; `actor_not_found` when no source runs it. */
  async get(id: string): Promise<ActorDetail> {
    const source = this.sources.find((s) => id.startsWith(s.prefix));
    const detail = source ? await source.actor(id) : null;
    if (!detail) throw actorNotFound(id);
    return detail;
  }

  setInspecting(on: boolean): void {
    for (const s of this.sources) s.setInspecting(on);
  }
}
