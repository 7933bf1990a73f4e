/**
 * The node's metrics (DESIGN principle 7), served at `GET /metrics`: requests by method and code with
 * latency histograms, live actors by kind, activations and passivations, LMDB commits and bytes, worker
 * queue depth and restarts, job runs and durations; routing table size, peer connections and lookups;
 * sync sessions, bytes and entries; relayed provider calls and serving sessions.
 */
import { SignpostError } from '../../protocols/errors.js';
import { ProviderError } from '../../protocols/relay.js';
import type { Relay } from '../net/relay.js';
import type { Resources } from '../net/resources.js';
import type { Serving } from '../rpc/serving.js';
import { Counter, Gauge, Histogram, LATENCY_BUCKETS, MetricsRegistry } from '../base/metrics.js';
import type { RpcDispatcher } from '../rpc/server.js';
import type { Shards } from '../store/shards.js';
import type { Store } from '../store/store.js';
import type { JobKind } from '../../actors/job.js';
import type { Dht } from '../net/dht.js';
import type { Traffic, Transport } from '../net/transport.js';
import type { ActorSource } from '../inspect/actor-view.js';
import type { Sync } from '../net/sync.js';

export function nodeMetrics() {
  const registry = new MetricsRegistry();
  const requests = registry.add(new Counter('signpost_rpc_requests_total', 'JSON-RPC method calls by method and result code ("ok" or the error code)'));
  const latency = registry.add(new Histogram('signpost_rpc_request_duration_seconds', 'JSON-RPC method call latency by method', LATENCY_BUCKETS));
  const liveActors = registry.add(new Gauge('signpost_live_actors', 'Live actors by kind'));
  const activations = registry.add(new Gauge('signpost_actor_activations_total', 'Resource actors activated from storage', 'counter'));
  const passivations = registry.add(new Gauge('signpost_actor_passivations_total', 'Resource actors stopped when idle', 'counter'));
  const commits = registry.add(new Gauge('signpost_lmdb_commits_total', 'LMDB transactions committed in the data directory', 'counter'));
  const bytes = registry.add(new Gauge('signpost_lmdb_bytes', 'Bytes of the LMDB data file in use'));
  const queue = registry.add(new Gauge('signpost_worker_queue_depth', 'Requests sent to a shard and not yet answered, by shard (main: the main thread)'));
  const restarts = registry.add(new Gauge('signpost_worker_restarts_total', 'Shard workers restarted after they ended', 'counter'));
  const jobRuns = registry.add(new Counter('signpost_job_runs_total', 'Scheduled job runs by job and result'));
  const jobDuration = registry.add(new Histogram('signpost_job_duration_seconds', 'Scheduled job run duration by job', LATENCY_BUCKETS));
  const peers = registry.add(new Gauge('signpost_routing_table_peers', 'Peers in the Kademlia routing table'));
  const connections = registry.add(new Gauge('signpost_peer_connections', 'Authenticated node-to-node connections open'));
  const lookups = registry.add(new Gauge('signpost_lookups_total', 'Iterative lookups finished, by outcome', 'counter'));
  const hops = registry.add(new Gauge('signpost_lookup_hops_total', 'Sum over finished lookups of their hop count (divide by signpost_lookups_total for the mean)', 'counter'));
  const syncSessions = registry.add(new Gauge('signpost_sync_sessions_total', 'Sync sessions this node started, by outcome (equal: nothing differed; done: differences exchanged; busy: the neighbour refused)', 'counter'));
  const syncBytes = registry.add(new Gauge('signpost_sync_bytes_total', 'Bytes of sync frames, both roles, entry bodies included, by direction', 'counter'));
  const syncEntries = registry.add(new Gauge('signpost_sync_entries_total', 'Entries sync sent to neighbours and received from them, by direction', 'counter'));
  const relayCalls = registry.add(new Gauge('signpost_relay_calls_total', 'Provider calls this node delivered as a relay, by outcome (ok, provider_error: the provider answered an error, or why it failed)', 'counter'));
  const readRepairs = registry.add(new Gauge('signpost_read_repairs_total', 'Nodes sent the merged view of a read because their answer missed part of it (read repair)', 'counter'));
  const serving = registry.add(new Gauge('signpost_serving_sessions', 'Client connections that serve providers here (session.serve)'));
  const peerRequests = registry.add(new Counter('signpost_peer_requests_total', 'Node-to-node requests by method and side (sent: this node asked, once answered or timed out; served: a peer asked this node)'));

  return {
    registry,
    /** Wraps a dispatcher so every method call is counted and timed. */
    instrument(d: RpcDispatcher): RpcDispatcher {
      return {
        has: (m) => d.has(m),
        async call(method, params, conn) {
          const started = performance.now();
          let code = 'ok';
          try {
            return await d.call(method, params, conn);
          } catch (e) {
            code = e instanceof SignpostError ? e.code : e instanceof ProviderError ? 'provider_error' : 'internal_error';
            throw e;
          } finally {
            requests.inc({ method, code });
            latency.observe((performance.now() - started) / 1000, { method });
          }
        },
      };
    },
    /** One node-to-node request, from the transport's traffic event. */
    peerRequest(t: Traffic): void {
      peerRequests.inc({ method: t.method, side: t.served ? 'served' : 'sent' });
    },
    jobRun(kind: JobKind, ms: number, ok: boolean): void {
      jobRuns.inc({ job: kind, result: ok ? 'ok' : 'failed' });
      jobDuration.observe(ms / 1000, { job: kind });
    },
    /** `others`: every actor source but the shards (their actors are counted without listing them). */
    collectFrom(from: { shards: Shards; store: Store; others: ActorSource[]; dht: Dht; transport: Transport; sync: Sync; relay: Relay; serving: Serving; resources: Resources }): void {
      const { shards, store, others, dht, transport, sync } = from;
      registry.collect(async () => {
        const s = await shards.stats();
        const byKind = new Map<string, number>([['resource', s.live]]);
        for (const a of (await Promise.all(others.map((o) => o.actors()))).flat()) byKind.set(a.kind, (byKind.get(a.kind) ?? 0) + 1);
        liveActors.set([...byKind].map(([kind, value]) => ({ labels: { kind }, value })));
        activations.set([{ value: s.activations }]);
        passivations.set([{ value: s.passivations }]);
        queue.set(s.queueDepth.map((value, i) => ({ labels: { shard: shards.workers === 0 ? 'main' : String(i) }, value })));
        restarts.set([{ value: s.restarts }]);
        const st = store.stats();
        commits.set([{ value: st.commits }]);
        bytes.set([{ value: st.bytes }]);
        peers.set([{ value: dht.table.size }]);
        connections.set([{ value: transport.peers().length }]);
        lookups.set([
          { labels: { outcome: 'converged' }, value: dht.stats.lookups - dht.stats.timedOut },
          { labels: { outcome: 'timed_out' }, value: dht.stats.timedOut },
        ]);
        hops.set([{ value: dht.stats.hops }]);
        const c = sync.counters;
        syncSessions.set(Object.entries(c.sessions).map(([outcome, value]) => ({ labels: { outcome }, value })));
        syncBytes.set(Object.entries(c.bytes).map(([direction, value]) => ({ labels: { direction }, value })));
        syncEntries.set(Object.entries(c.entries).map(([direction, value]) => ({ labels: { direction }, value })));
        relayCalls.set(Object.entries(from.relay.delivered).map(([outcome, value]) => ({ labels: { outcome }, value })));
        serving.set([{ value: from.serving.stats().sessions }]);
        readRepairs.set([{ value: from.resources.readRepairs }]);
      });
    },
  };
}
