/**
 * The node's bootstrap actor (actors/bootstrap.ts) with its real work: pinging the bootstrap nodes over
 * the transport, joining and refreshing through the DHT. One per node, id `bootstrap`, visible in
 * `actors.list` and the visualiser.
 */
import { createActor, fromPromise, type Actor } from 'xstate';
import { SignpostError } from '../../protocols/errors.js';
import { bootstrapMachine, type RefreshOutput } from '../../actors/bootstrap.js';
import type { Timers } from '../base/clock.js';
import type { Logger } from '../base/log.js';
import { InspectionTracker, machineJson, type ActorDetail, type ActorEvent, type ActorSource, type ActorSummary } from '../inspect/actor-view.js';
import type { Dht } from './dht.js';
import type { Transport } from './transport.js';

export interface BootstrapOptions {
  urls: string[];
  /** This node's own announced addresses: a bootstrap URL among them is this node itself, and skipped. */
  ownAddresses(): string[];
  dht: Dht;
  transport: Transport;
  timers: Timers;
  requestTimeoutMs: number;
  /** Bucket refresh period (default ten minutes). */
  refreshMs?: number;
  now(): number;
  onInspect(e: ActorEvent): void;
  /** The node has joined: it reached `ready` from dialing or joining (at start, and again after a rejoin). */
  onJoined?(): void;
  log: Logger;
}

export const BOOTSTRAP_ACTOR_ID = 'bootstrap';
const BOOTSTRAP_MACHINE = machineJson(bootstrapMachine);

export class Bootstrap implements ActorSource {
  readonly prefix = BOOTSTRAP_ACTOR_ID;
  private readonly machineActor: Actor<typeof bootstrapMachine>;
  private readonly inspection: InspectionTracker;
  private readonly startedAt: number;
  private readonly opts: BootstrapOptions;
  /** Whether the node has joined the network at least once. */
  joined = false;

  constructor(opts: BootstrapOptions) {
    this.opts = opts;
    const { dht, transport, log } = opts;
    this.inspection = new InspectionTracker(opts.now, opts.onInspect);
    this.startedAt = opts.now();
    const machine = bootstrapMachine.provide({
      actors: {
        dial: fromPromise<string[], { urls: string[] }>(async ({ input }) => {
          // The same bootstrap list on every node (a StatefulSet, a compose file) names this node too.
          const urls = this.others(input.urls);
          if (urls.length === 0) return [];
          const outcomes = await Promise.allSettled(urls.map((url) => transport.request({ address: url }, 'ping', {}, opts.requestTimeoutMs)));
          const answered = urls.filter((_, i) => outcomes[i].status === 'fulfilled');
          outcomes.forEach((o, i) => {
            if (o.status === 'rejected') log.warn('bootstrap node did not answer', { from: urls[i], error: (o.reason as Error).message });
          });
          if (answered.length === 0) throw new SignpostError('peer_unreachable', `no bootstrap node answered (${urls.join(', ')})`);
          log.info('bootstrapped', { from: answered });
          return answered;
        }),
        join: fromPromise(() => dht.join()),
        refresh: fromPromise<RefreshOutput>(async () => ({ emptyTable: !(await dht.refresh()) })),
      },
    });
    this.machineActor = createActor(machine, {
      id: BOOTSTRAP_ACTOR_ID,
      clock: opts.timers,
      input: { urls: opts.urls, refreshMs: opts.refreshMs ?? 600_000 },
      inspect: this.inspection.inspector(BOOTSTRAP_ACTOR_ID, 'bootstrap'),
    });
    let before: unknown = null;
    this.machineActor.subscribe((s) => {
      if (s.value === 'ready' && (before === 'joining' || before === 'dialing' || before === null)) {
        this.joined = true;
        opts.onJoined?.();
      }
      before = s.value;
    });
  }

  start(): void {
    this.machineActor.start();
  }

  /** The routing table lost its last contact. */
  tableEmptied(): void {
    this.machineActor.send({ type: 'table.empty' });
  }

  /** Whether this node has other nodes to join through (bootstrap URLs that are not its own address). */
  get hasBootstrapNodes(): boolean {
    return this.others(this.opts.urls).length > 0;
  }

  private others(urls: readonly string[]): string[] {
    const own = new Set(this.opts.ownAddresses());
    return urls.filter((u) => !own.has(u));
  }

  actors(): ActorSummary[] {
    return [{ id: BOOTSTRAP_ACTOR_ID, kind: 'bootstrap', state: this.machineActor.getSnapshot().value, started_at: this.startedAt }];
  }

  actor(id: string): ActorDetail | null {
    if (id !== BOOTSTRAP_ACTOR_ID) return null;
    const s = this.machineActor.getSnapshot();
    return { id, kind: 'bootstrap', state: s.value, context: s.context, machine: BOOTSTRAP_MACHINE };
  }

  setInspecting(on: boolean): void {
    this.inspection.set(on, () => [[BOOTSTRAP_ACTOR_ID, this.machineActor.getSnapshot().value]]);
  }

  stop(): void {
    this.machineActor.stop();
  }
}
