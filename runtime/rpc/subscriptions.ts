/**
 * `resources.subscribe` (SPEC §9.2): a client's socket is told the providers of a resource at once and
 * again each time they change. The node's view is refreshed from the neighbourhood every 5 s (wall clock)
 * and, within a fraction of a second, whenever a write for the resource passes through this node.
 */
import { SignpostError } from '../../protocols/errors.js';
import { toHex } from '../../protocols/encoding.js';
import type { Random } from '../../protocols/random.js';
import type { Timers } from '../base/clock.js';
import type { Record as ProviderRecord } from '../../protocols/types.js';
import type { RpcConnection } from './server.js';
import type { Logger } from '../base/log.js';

export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;
const REFRESH_MS = 5000;
/** Writes for a watched resource within this window cause one refresh. */
const CHANGE_DEBOUNCE_MS = 100;

interface Subscription {
  id: string;
  conn: RpcConnection;
  resourceId: string;
  /** The providers last sent, as JSON; null before the first notification. */
  last: string | null;
  timer: unknown;
  refreshing: boolean;
  again: boolean;
}

export class Subscriptions {
  private readonly byId = new Map<string, Subscription>();
  private readonly byResource = new Map<string, Set<Subscription>>();
  private readonly changed = new Map<string, unknown>();

  constructor(
    private readonly opts: {
      /** The providers of a resource as the neighbourhood sees them now ([] when no node holds it). */
      view(resourceId: string): Promise<ProviderRecord[]>;
      timers: Timers;
      random: Random;
      log: Logger;
      refreshMs?: number;
    },
  ) {}

  subscribe(conn: RpcConnection, resourceId: string): { subscription: string } {
    const mine = [...this.byId.values()].filter((s) => s.conn === conn).length;
    if (mine >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
      throw new SignpostError('invalid_params', `at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection`);
    }
    const id = toHex(this.opts.random.bytes(16));
    const { timers } = this.opts;
    const sub: Subscription = { id, conn, resourceId, last: null, refreshing: false, again: false, timer: null };
    const every = () => {
      sub.timer = timers.setTimeout(() => {
        every();
        void this.refresh(sub);
      }, this.opts.refreshMs ?? REFRESH_MS);
    };
    every();
    this.byId.set(id, sub);
    let set = this.byResource.get(resourceId);
    if (!set) this.byResource.set(resourceId, (set = new Set()));
    set.add(sub);
    conn.onClose(() => this.drop(sub));
    // The first notification follows the answer to this call.
    setImmediate(() => void this.refresh(sub));
    return { subscription: id };
  }

  unsubscribe(conn: RpcConnection, id: string): void {
    const sub = this.byId.get(id);
    if (!sub || sub.conn !== conn) throw new SignpostError('invalid_params', `no subscription ${JSON.stringify(id)} on this connection`);
    this.drop(sub);
  }

  /** A write for `resourceId` went through this node. */
  noteWrite(resourceId: string): void {
    if (!this.byResource.has(resourceId) || this.changed.has(resourceId)) return;
    this.changed.set(
      resourceId,
      this.opts.timers.setTimeout(() => {
        this.changed.delete(resourceId);
        for (const sub of this.byResource.get(resourceId) ?? []) void this.refresh(sub);
      }, CHANGE_DEBOUNCE_MS),
    );
  }

  close(): void {
    for (const sub of [...this.byId.values()]) this.drop(sub);
    for (const t of this.changed.values()) this.opts.timers.clearTimeout(t);
  }

  private async refresh(sub: Subscription): Promise<void> {
    if (!this.byId.has(sub.id)) return;
    if (sub.refreshing) {
      sub.again = true;
      return;
    }
    sub.refreshing = true;
    try {
      const providers = await this.opts.view(sub.resourceId);
      const json = JSON.stringify(providers);
      if (json !== sub.last && this.byId.has(sub.id)) {
        sub.last = json;
        sub.conn.notify('resources.providers_changed', { subscription: sub.id, resource_id: sub.resourceId, providers });
      }
    } catch (e) {
      this.opts.log.debug('subscription refresh failed', { resource_id: sub.resourceId, error: (e as Error).message });
    } finally {
      sub.refreshing = false;
      if (sub.again) {
        sub.again = false;
        void this.refresh(sub);
      }
    }
  }

  private drop(sub: Subscription): void {
    if (!this.byId.delete(sub.id)) return;
    this.opts.timers.clearTimeout(sub.timer);
    const set = this.byResource.get(sub.resourceId);
    set?.delete(sub);
    if (set?.size === 0) this.byResource.delete(sub.resourceId);
  }
}
