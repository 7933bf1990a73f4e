/**
 * `npm run demo`: a local Signpost network in one command.
 *
 * Starts N (default 5) real `signpost node start` processes on 127.0.0.1 (system clock, workers 1), the
 * first alone and the others bootstrapping from it; waits until every routing table holds every other
 * node; creates two resources, "weather" with two providers and "maps" with one, each created and
 * registered through a different node with ack = 3; resolves both from every node with ack = 3 and
 * prints what each node resolved, then each node's RPC and visualiser URLs. It keeps the network running
 * until Ctrl-C (SIGINT, SIGTERM or SIGHUP), then stops every node (SIGTERM, waits for its exit) and
 * removes the temporary data directories. If anything fails on the way, it stops the nodes as well and
 * exits with status 1 and the reason.
 *
 * Usage: node dist/scripts/demo.js [--nodes N] [--base-port P] [--workers W] [--json]
 *   --json prints, besides the tables, one JSON line {"demo":"ready",...} once the network is ready.
 */
import { parseArgs } from 'node:util';
import { generateIdentity, type Identity } from '../protocols/identity.js';
import { systemRandom } from '../protocols/random.js';
import { nodeEd25519 } from '../runtime/base/node-crypto.js';
import { makeKey, makeMetadata, makeRecord } from '../protocols/signed.js';
import type { Key, Record as ProviderRecord } from '../protocols/types.js';
import { RpcError } from '../runtime/client/rpc-client.js';
import { LocalCluster, sleep, type LocalNode } from './local-cluster.js';

const USAGE = `Usage: npm run demo -- [--nodes N] [--base-port P] [--workers W] [--json]

Starts a local Signpost network of N nodes on 127.0.0.1, creates two resources with providers,
resolves them from every node, prints the nodes' URLs and keeps running until Ctrl-C.

  --nodes N       number of nodes, 1..20 (default 5)
  --base-port P   node i listens on port P + i - 1 (default: free ports)
  --workers W     worker threads per node (default 1)
  --json          also print one JSON line {"demo":"ready",...} when ready (for scripts)`;

/** Most nodes: with K = 20 every routing table can then hold every other node. */
const MAX_NODES = 20;
/** The acknowledgements every write and read of the demo waits for (fewer with fewer nodes). */
const ACK = 3;
/** How long the nodes may take to meet each other. */
const PEERS_TIMEOUT_MS = 30_000;
/** How long a node's view may lag behind the writes (background fan-out) before the demo gives up. */
const RESOLVE_TIMEOUT_MS = 10_000;

interface DemoProvider {
  identity: Identity;
  value: string;
  /** Index (0-based) of the node the provider is registered through. */
  via: number;
}

interface DemoResource {
  name: string;
  key: Key;
  /** Index (0-based) of the node the resource is created through. */
  via: number;
  providers: DemoProvider[];
}

interface Resolved {
  values: string[];
  peerIds: string[];
  acks: number;
}

function parseOptions(): { nodes: number; basePort: number; workers: number; json: boolean } | null {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string' },
      'base-port': { type: 'string' },
      workers: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) return null;
  const int = (name: string, text: string | undefined, fallback: number, min: number, max: number) => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${text}`);
    return n;
  };
  const nodes = int('nodes', values.nodes, 5, 1, MAX_NODES);
  return {
    nodes,
    basePort: int('base-port', values['base-port'], 0, 0, 65536 - nodes),
    workers: int('workers', values.workers, 1, 0, 64),
    json: values.json === true,
  };
}

class UsageError extends Error {}

const out = (line = '') => process.stdout.write(line + '\n');
const ED25519 = nodeEd25519();
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const short = (peerId: string) => `${peerId.slice(0, 12)}…${peerId.slice(-4)}`;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => '  ' + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  '));
}

/** The demo's resources: signed by fresh client identities, at the node's clock. */
function demoResources(now: number, nodes: number): DemoResource[] {
  const owner = generateIdentity(systemRandom, ED25519);
  const at = (i: number) => i % nodes;
  const weather = makeKey(owner, { label: 'weather', timestamp_created: now });
  const maps = makeKey(owner, { label: 'maps', timestamp_created: now });
  return [
    {
      name: 'weather',
      key: weather,
      via: at(0),
      providers: [
        { identity: generateIdentity(systemRandom, ED25519), value: 'https://weather-eu.example/v1', via: at(1) },
        { identity: generateIdentity(systemRandom, ED25519), value: 'https://weather-us.example/v1', via: at(2) },
      ],
    },
    { name: 'maps', key: maps, via: at(3), providers: [{ identity: generateIdentity(systemRandom, ED25519), value: 'https://maps.example/tiles', via: at(4) }] },
  ];
}

function providerRecord(key: Key, p: DemoProvider, now: number): ProviderRecord {
  const metadata = makeMetadata(p.identity, { key_id: key.id, peer_id: p.identity.peerId, timestamp_issued: now, value: p.value });
  return makeRecord(p.identity, metadata, now);
}

/** Resolves `resource` from `node` until it returns exactly the demo's providers (bounded). */
async function resolveFrom(node: LocalNode, resource: DemoResource, ack: number): Promise<Resolved> {
  const want = resource.providers.map((p) => p.identity.peerId).sort().join(',');
  const deadline = Date.now() + RESOLVE_TIMEOUT_MS;
  for (;;) {
    let got: Resolved | null = null;
    let failure = '';
    try {
      const r = await node.rpc.call<{ providers: ProviderRecord[]; acks: number }>('resources.resolve_providers', { resource_id: resource.key.id, ack });
      got = { values: r.providers.map((p) => p.metadata.value), peerIds: r.providers.map((p) => p.metadata.peer_id), acks: r.acks };
      if ([...got.peerIds].sort().join(',') === want) return got;
      failure = `providers ${got.values.join(', ') || '(none)'}`;
    } catch (e) {
      failure = e instanceof RpcError ? `${e.code}: ${e.message}` : (e as Error).message;
    }
    if (Date.now() > deadline) {
      const expected = resource.providers.map((p) => p.value).join(', ');
      throw new Error(`${node.name} did not resolve ${resource.name} to its providers (${expected}) within ${RESOLVE_TIMEOUT_MS} ms; last answer: ${failure}`);
    }
    await sleep(200);
  }
}

/** Everything up to "ready"; returns the JSON summary. */
async function setUp(cluster: LocalCluster, workers: number): Promise<object> {
  out(`Signpost demo: ${plural(cluster.size, 'local node')} on 127.0.0.1, workers ${workers} (data and logs in ${cluster.root})`);
  const t0 = performance.now();
  const nodes = await cluster.start();
  const started = performance.now();
  const others = nodes.length > 1 ? `, the others with --bootstrap ${nodes[0].baseUrl}` : '';
  out(`  started ${plural(nodes.length, 'node process', 'node processes')} in ${seconds(started - t0)}: ${nodes[0].name} alone${others}`);
  await cluster.waitForPeers(PEERS_TIMEOUT_MS);
  if (nodes.length > 1) out(`  routing tables complete after ${seconds(performance.now() - started)}: every node knows the other ${nodes.length - 1}`);

  const ack = Math.min(ACK, nodes.length);
  const { now } = await nodes[0].rpc.call<{ now: number }>('node.info');
  const resources = demoResources(now, nodes.length);
  out();
  out(`Created and registered (each through the node named, ack = ${ack}):`);
  const created: string[][] = [['resource', 'id / provider', 'through', 'acks']];
  for (const r of resources) {
    const c = await nodes[r.via].rpc.call<{ resource_id: string; acks: number }>('resources.create_resource', { key: r.key, ack });
    created.push([r.name, c.resource_id, nodes[r.via].name, String(c.acks)]);
    for (const p of r.providers) {
      const reg = await nodes[p.via].rpc.call<{ acks: number }>('resources.register_provider', { record: providerRecord(r.key, p, now), ack });
      created.push(['', `  provider ${p.value} (host ${short(p.identity.peerId)})`, nodes[p.via].name, String(reg.acks)]);
    }
  }
  table(created).forEach((l) => out(l));

  const resolved = await Promise.all(nodes.map(async (n) => Promise.all(resources.map((r) => resolveFrom(n, r, ack)))));
  out();
  out(`Resolved from every node (resources.resolve_providers, ack = ${ack}):`);
  const rows = [['node', ...resources.map((r) => r.name), 'acks']];
  nodes.forEach((n, i) => rows.push([n.name, ...resolved[i].map((x) => x.values.join(', ')), resolved[i].map((x) => x.acks).join(' / ')]));
  table(rows).forEach((l) => out(l));

  out();
  out('Nodes:');
  table([['node', 'peer id', 'rpc', 'visualiser'], ...nodes.map((n) => [n.name, n.peerId, n.rpcUrl, n.visualiserUrl])]).forEach((l) => out(l));
  out();
  out('Try:');
  out(`  open ${nodes[0].visualiserUrl} in a browser to watch ${nodes[0].name}'s actors`);
  out(`  node bin/signpost.mjs call resources.resolve_providers '{"resource_id":"${resources[0].key.id}","ack":${ack}}' --url ${nodes[nodes.length - 1].rpcUrl}`);
  out(`  node bin/signpost.mjs call node.peers --url ${nodes[0].rpcUrl}`);

  return {
    demo: 'ready',
    ack,
    root: cluster.root,
    resources: resources.map((r) => ({
      name: r.name,
      id: r.key.id,
      providers: r.providers.map((p) => ({ peer_id: p.identity.peerId, value: p.value })),
    })),
    nodes: nodes.map((n, i) => ({
      name: n.name,
      pid: n.pid,
      peer_id: n.peerId,
      rpc_url: n.rpcUrl,
      visualiser_url: n.visualiserUrl,
      resolved: Object.fromEntries(resources.map((r, j) => [r.name, resolved[i][j].values])),
    })),
  };
}

async function main(): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions();
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options === null) {
    out(USAGE);
    return 0;
  }

  // Ctrl-C: the first signal stops the network (during set-up too); later ones only say it is stopping.
  let signalled: NodeJS.Signals | null = null;
  let onSignal: (s: NodeJS.Signals) => void = () => undefined;
  const interrupted = new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve));
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(s, () => {
      if (signalled) return void process.stderr.write(`(${s}: still stopping the nodes, please wait)\n`);
      signalled = s;
      onSignal(s);
    });
  }

  const cluster = new LocalCluster({ nodes: options.nodes, basePort: options.basePort, workers: options.workers, tempPrefix: 'signpost-demo-' });
  const crashed = new Promise<never>((_, reject) =>
    cluster.onUnexpectedExit((name, code, signal) => {
      const tail = cluster.logTail(name);
      reject(new Error(`${name} exited unexpectedly (${signal ?? `code ${code}`})${tail ? `; its last log lines:\n${tail}` : ''}`));
    }),
  );
  crashed.catch(() => undefined);

  let status = 0;
  try {
    const setup = setUp(cluster, options.workers);
    setup.catch(() => undefined); // when a signal or a crash wins the race, set-up errors are moot
    const first = await Promise.race([setup.then((summary) => ({ summary })), interrupted.then((signal) => ({ signal })), crashed]);
    if ('signal' in first) {
      process.stderr.write(`\n${first.signal} before the network was ready: stopping.\n`);
      status = 130;
    } else {
      if (options.json) out(JSON.stringify(first.summary));
      out();
      out(`Ready: ${plural(cluster.size, 'node')} running. Press Ctrl-C to stop ${cluster.size === 1 ? 'it' : 'them'}.`);
      const signal = await Promise.race([interrupted, crashed]);
      out(`\n${signal}: stopping.`);
    }
  } catch (e) {
    process.stderr.write(`\ndemo failed: ${(e as Error).message}\n`);
    status = 1;
  } finally {
    out(`Stopping ${plural(cluster.pids.length, 'node')}…`);
    const results = await cluster.stop();
    const unclean = results.filter((r) => r.killed || r.code !== 0);
    for (const r of unclean) {
      process.stderr.write(`  ${r.name} (pid ${r.pid}) ${r.killed ? 'did not stop after SIGTERM and was killed' : `exited with ${r.signal ?? `code ${r.code}`}`}\n`);
    }
    // A node that crashed was already reported; a node that did not stop cleanly fails a good run.
    if (unclean.length > 0 && status === 0) status = 1;
    out(`Stopped ${results.length - unclean.length} of ${results.length} cleanly; removed ${cluster.root}`);
  }
  return status;
}

const status = await main();
// Exit now: a set-up step still waiting on a node that is gone must not hold the process open.
process.stdout.write('', () => process.exit(status));
