/**
 * The live inspection stream `ws://HOST:PORT/inspect` of a real node process (runtime/inspect/inspector.ts): a
 * snapshot of every live actor first, then batches of events as actors take them, from the main thread
 * (the scheduled jobs) and from every worker thread (the resource actors). Events are caused here only
 * through the public RPC (`registry.*`, `debug.advance_time`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcClient } from '../../../runtime/client/rpc-client.js';
import { resourceIdBytes } from '../../../protocols/objects.js';
import { shardOf } from '../../../runtime/store/shard-protocol.js';
import { startNodeProcess, type NodeProcess } from '../../helpers/node-process.js';
import { InspectClient, type InspectEvent } from '../../helpers/inspect.js';
import { key, peer, record } from '../../helpers/objects.js';
import type { Key } from '../../../protocols/types.js';

const T0 = 1_700_000_000;
const HOUR = 3600;
const WORKERS = 2;
const JOBS = ['job:gc', 'job:renew', 'job:republish'];

let node: NodeProcess;
let rpc: RpcClient;
const inspectors: InspectClient[] = [];

async function inspect(): Promise<InspectClient> {
  const c = await InspectClient.open(node.httpUrl);
  inspectors.push(c);
  return c;
}

beforeAll(async () => {
  node = await startNodeProcess({ env: { workers: WORKERS, clock_start: T0 } });
  rpc = await RpcClient.connect(node.rpcUrl, { timeoutMs: 5000 });
});

afterAll(async () => {
  await Promise.all(inspectors.map((c) => c.close()));
  await rpc?.close();
  expect(await node?.stop(), node?.stderr()).toBe(0);
});

/** The worker a resource lives in: the documented partition by the first two bytes of its location. */
const workerOf = (k: Key) => shardOf(resourceIdBytes(k.id)!, WORKERS);

/** Keys of distinct owners, at least two in each worker. */
const keys: Key[] = Array.from({ length: 8 }, (_, i) => key(peer(40 + i), `inspect-${i}`, T0));

const transitions = (events: InspectEvent[]) => events.map((e) => `${e.event.type}: ${JSON.stringify(e.state_before)} -> ${JSON.stringify(e.state_after)}`);

describe('/inspect (workers = 2)', () => {
  it('sends a snapshot of every live actor first, the scheduled jobs included', async () => {
    const c = await inspect();
    const first = await c.first();
    expect(Object.keys(first).sort()).toEqual(['actors', 'at', 'type']);
    expect(first).toMatchObject({ type: 'snapshot', at: T0 });
    const ids = first.actors.map((a: any) => a.id);
    expect(ids).toEqual([...ids].sort());
    for (const id of JOBS) {
      expect(first.actors.find((a: any) => a.id === id), id).toEqual({ id, kind: id.slice(4), state: 'waiting', started_at: T0 });
    }
    for (const a of first.actors) expect(Object.keys(a).sort()).toEqual(['id', 'kind', 'started_at', 'state']);
    await c.close();
  });

  it('streams the events of resource actors in both workers as keys are registered and records put over RPC', async () => {
    expect(new Set(keys.map(workerOf)), 'the keys live in both workers').toEqual(new Set([0, 1]));
    const c = await inspect();
    expect((await c.first()).type).toBe('snapshot');
    for (const k of keys) expect(await rpc.call('registry.register_key', { key: k })).toEqual({ key_id: k.id });
    for (const [i, k] of keys.entries()) expect(await rpc.call('registry.put_record', { record: record(k, peer(60 + i), T0) })).toEqual({});

    for (const k of keys) {
      const id = `resource:${k.id}`;
      const evs = await c.eventsOf(id, (l) => l.some((e) => e.event.type === 'put_record'));
      for (const e of evs) {
        expect(Object.keys(e).sort()).toEqual(['at', 'event', 'id', 'kind', 'state_after', 'state_before']);
        expect(e).toMatchObject({ id, kind: 'resource', at: T0 });
      }
      // A new actor may first report its start; then it takes the register and the put.
      const ops = evs[0].event.type === 'xstate.init' ? evs.slice(1) : evs;
      if (ops !== evs) expect(evs[0]).toMatchObject({ state_before: null, state_after: 'empty' });
      expect(transitions(ops), `worker ${workerOf(k)}`).toEqual(['register_key: "empty" -> "holding"', 'put_record: "holding" -> "holding"']);
    }
    // Only snapshot then event batches; nothing dropped.
    expect(c.messages.slice(1).map((m) => m.type)).toEqual(c.messages.slice(1).map(() => 'events'));
    for (const m of c.messages.slice(1)) expect(m.events.length).toBeGreaterThan(0);
    await c.close();
  });

  it('reports the gc job going waiting → collecting → waiting when the manual clock passes an hour', async () => {
    const c = await inspect();
    await c.first();
    expect(await rpc.call('debug.advance_time', { seconds: HOUR })).toEqual({ now: T0 + HOUR });
    const gc = await c.eventsOf('job:gc', (l) => l.length >= 2);
    expect(gc.map((e) => [e.state_before, e.state_after])).toEqual([
      ['waiting', 'collecting'],
      ['collecting', 'waiting'],
    ]);
    expect(gc[0].event.type).toBe('run');
    for (const e of gc) expect(e).toMatchObject({ id: 'job:gc', kind: 'gc', at: T0 + HOUR });
    // republish is due every hour too; renew (12 h) is not.
    const republish = await c.eventsOf('job:republish', (l) => l.length >= 3);
    expect(republish.map((e) => e.state_after)).toEqual(['evicting', 'pushing', 'waiting']);
    expect(c.events().filter((e) => e.id === 'job:renew')).toEqual([]);
    await c.close();
  });

  it('gives every client the events while several are attached', async () => {
    const [a, b] = [await inspect(), await inspect()];
    await Promise.all([a.first(), b.first()]);
    const k = keys[0];
    await rpc.call('registry.put_record', { record: record(k, peer(90), T0 + HOUR) });
    for (const c of [a, b]) {
      const evs = await c.eventsOf(`resource:${k.id}`, (l) => l.some((e) => e.event.type === 'put_record'));
      expect(evs.find((e) => e.event.type === 'put_record')).toMatchObject({ state_before: 'holding', state_after: 'holding', at: T0 + HOUR });
    }
    await Promise.all([a.close(), b.close()]);
  });

  it('after every client left, a new client gets a snapshot of the live actors and their next events', async () => {
    // Every client of the earlier tests has disconnected.
    const c = await inspect();
    const snap = await c.first();
    expect(snap).toMatchObject({ type: 'snapshot', at: T0 + HOUR });
    for (const id of JOBS) expect(snap.actors.find((a: any) => a.id === id), id).toMatchObject({ id, state: 'waiting' });
    for (const k of keys) {
      expect(snap.actors.find((a: any) => a.id === `resource:${k.id}`), `worker ${workerOf(k)}`).toEqual({ id: `resource:${k.id}`, kind: 'resource', state: 'holding', started_at: T0 });
    }
    // An actor already live reports its state before the event, in both workers.
    const [k0, k1] = [keys.find((k) => workerOf(k) === 0)!, keys.find((k) => workerOf(k) === 1)!];
    for (const k of [k0, k1]) await rpc.call('registry.put_record', { record: record(k, peer(91), T0 + HOUR) });
    for (const k of [k0, k1]) {
      const evs = await c.eventsOf(`resource:${k.id}`, (l) => l.length > 0);
      expect(transitions(evs), `worker ${workerOf(k)}`).toEqual(['put_record: "holding" -> "holding"']);
    }
    // A key registered now appears as a new actor.
    const fresh = key(peer(49), 'inspect-late', T0);
    await rpc.call('registry.register_key', { key: fresh });
    const evs = await c.eventsOf(`resource:${fresh.id}`, (l) => l.some((e) => e.event.type === 'register_key'));
    expect(evs.at(-1)).toMatchObject({ state_before: 'empty', state_after: 'holding', at: T0 + HOUR });
  });

  it('ignores what a client sends and keeps streaming', async () => {
    const c = await inspect();
    await c.first();
    c.ws.send('{"type":"subscribe"}');
    c.ws.send('not json');
    const k = keys[1];
    await rpc.call('registry.put_record', { record: record(k, peer(92), T0 + HOUR) });
    await c.eventsOf(`resource:${k.id}`, (l) => l.some((e) => e.event.type === 'put_record'));
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });

  // Last: it restarts worker 0, whose actors are then re-activated from storage.
  it('keeps reporting a worker restarted while a client watches, from the first requests after the restart', async () => {
    const c = await inspect();
    await c.first();
    const mine = keys.filter((x) => workerOf(x) === 0);
    expect(mine.length).toBeGreaterThanOrEqual(2);
    for (let round = 0; round < 10; round++) {
      const how = round % 2 ? 'throw' : 'exit';
      expect(await rpc.call('debug.crash_worker', { worker: 0, how })).toEqual({});
      const seen = c.events().length;
      // The first requests to the new worker re-activate its resources from storage.
      const puts = mine.map((k) => rpc.call('registry.put_record', { record: record(k, peer(100 + round), T0 + HOUR) }));
      expect(await Promise.all(puts)).toEqual(mine.map(() => ({})));
      const reported = () => {
        const since = c.events().slice(seen);
        return new Map(mine.map((k) => [k, since.filter((e) => e.id === `resource:${k.id}`)]));
      };
      await c
        .until(() => [...reported().values()].every((l) => l.some((e) => e.event.type === 'put_record')), `events after restart ${round + 1}`, 1000)
        .catch(() => undefined);
      for (const [k, evs] of reported()) {
        expect(transitions(evs), `resource:${k.id} after restart ${round + 1} (how="${how}"): the restarted worker reports its re-activation and the put`).toEqual([
          'xstate.init: null -> "holding"',
          'put_record: "holding" -> "holding"',
        ]);
      }
    }
  });
});

describe('/inspect and stopping the node', () => {
  it('SIGINT stops a node promptly while a client watches, closing the client with 1001', async () => {
    const node = await startNodeProcess({ env: { clock: 'manual', clock_start: T0 } });
    const watcher = await InspectClient.open(node.httpUrl);
    await watcher.first();
    const codes: number[] = [];
    watcher.ws.once('close', (code) => codes.push(code));
    const t0 = performance.now();
    const exit = await Promise.race([node.stop('SIGINT'), new Promise((r) => setTimeout(() => r('still running after 5 s'), 5000))]);
    if (exit !== 0) await node.kill();
    expect(exit).toBe(0);
    expect(performance.now() - t0).toBeLessThan(5000);
    await watcher.closed;
    expect(codes).toEqual([1001]);
    expect(node.stderr()).toContain('"msg":"stopped"');
  });
});
