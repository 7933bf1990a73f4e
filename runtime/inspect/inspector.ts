/**
 * The live inspection stream at `ws://HOST:PORT/inspect` (DESIGN: inspector). A client receives first
 *
 *   {"type":"snapshot","at":<node clock>,"actors":[{id, kind, state, started_at}, ...]}
 *
 * with every live actor, then batches of what happens, one message per tick:
 *
 *   {"type":"events","events":[{id, kind, event: {type}, state_before, state_after, at}, ...]}
 *
 * A `snapshot` may come again later (after a shard worker was restarted, the actors it held are gone):
 * it replaces what the client knew. Inspection is on only while at least one client is attached, so an unwatched node pays nothing. A
 * client that does not read fast enough (more than MAX_BUFFERED bytes queued) loses events rather than
 * growing the node's memory; it is told how many with {"type":"dropped","count":n}. Clients send nothing:
 * any message from one is ignored.
 */
import type http from 'node:http';
import { setImmediate } from 'node:timers';
import type { WebSocket } from 'ws';
import { WebSocketServer, routeUpgrade } from '../base/websocket.js';
import type { ActorEvent, ActorSummary } from './actor-view.js';

const MAX_BUFFERED = 4 * 1024 * 1024;

const MAX_CLIENTS = 64;
/** Events kept for a client while its snapshot is gathered. */
const MAX_EARLY = 10_000;

export interface InspectorOptions {
  /** Every live actor now, sorted by id. */
  actors(): Promise<ActorSummary[]>;
  now(): number;
  /** Called with true when the first client attaches and false when the last one leaves. */
  setInspecting(on: boolean): void;
}

export class Inspector {
  private readonly clients = new Map<WebSocket, { dropped: number; ready: boolean; early: ActorEvent[] }>();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  private queue: ActorEvent[] = [];
  private release: (() => void) | null = null;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: InspectorOptions) {}

  attach(server: http.Server, path = '/inspect'): void {
    this.release = routeUpgrade(server, path, (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => void this.serve(ws));
    });
  }

  get watched(): boolean {
    return this.clients.size > 0;
  }

  /** Queues an event for the attached clients (dropped at once when nobody watches). */
  emit = (e: ActorEvent): void => {
    if (this.clients.size === 0) return;
    if (this.queue.push(e) === 1) setImmediate(() => this.flush());
  };

  /** Sends every attached client a new snapshot (after a worker restart the actors it held are gone). */
  async resnapshot(): Promise<void> {
    if (this.clients.size === 0) return;
    this.flush();
    const frame = JSON.stringify({ type: 'snapshot', at: this.opts.now(), actors: await this.opts.actors().catch(() => []) });
    for (const [ws, c] of this.clients) if (c.ready && ws.readyState === ws.OPEN) ws.send(frame);
  }

  private async serve(ws: WebSocket): Promise<void> {
    if (this.clients.size >= MAX_CLIENTS) {
      ws.close(1013, `at most ${MAX_CLIENTS} inspection clients`);
      return;
    }
    const client = { dropped: 0, ready: false, early: [] as ActorEvent[] };
    this.clients.set(ws, client);
    ws.on('close', () => {
      this.clients.delete(ws);
      if (this.clients.size === 0) this.opts.setInspecting(false);
    });
    ws.on('error', () => undefined);
    if (this.clients.size === 1) this.opts.setInspecting(true);
    // Events that happen while the snapshot is gathered reach this client after it.
    const actors = await this.opts.actors().catch(() => []);
    if (ws.readyState !== ws.OPEN) return;
    ws.send(JSON.stringify({ type: 'snapshot', at: this.opts.now(), actors }));
    if (client.early.length) ws.send(JSON.stringify({ type: 'events', events: client.early }));
    client.early = [];
    client.ready = true;
  }

  private flush(): void {
    const events = this.queue;
    this.queue = [];
    if (events.length === 0) return;
    const frame = JSON.stringify({ type: 'events', events });
    for (const [ws, c] of this.clients) {
      if (ws.readyState !== ws.OPEN) continue;
      if (!c.ready) {
        if (c.early.length < MAX_EARLY) c.early.push(...events.slice(0, MAX_EARLY - c.early.length));
        continue;
      }
      if (ws.bufferedAmount > MAX_BUFFERED) {
        c.dropped += events.length;
        continue;
      }
      if (c.dropped > 0) {
        ws.send(JSON.stringify({ type: 'dropped', count: c.dropped }));
        c.dropped = 0;
      }
      ws.send(frame);
    }
  }

  /** Closes every client (1001) and stops accepting new ones; a second call does nothing more. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.release?.();
      const closed = [...this.clients.keys()].map((ws) => new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1001, 'node shutting down');
        // A client that does not answer the close handshake is cut off.
        setTimeout(() => (ws.terminate(), resolve()), 1000).unref();
      }));
      await Promise.all(closed);
      this.clients.clear();
      await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    })();
    return this.closing;
  }
}
