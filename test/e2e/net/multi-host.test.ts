/**
 * Nodes on separate hosts, each in a network namespace of its own with its own address (test/helpers/
 * netns.ts), bound to 0.0.0.0 as anyone runs a node on a server: they announce their routable addresses
 * (never the wildcard), find each other, store and resolve across hosts, honour `--announce` with a host
 * name, and converge after a real link partition. Traffic goes only to the addresses this test creates.
 * Skipped, with one line saying why, where namespaces cannot be made (not root, no iproute2).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Record as ProviderRecord } from '../../../protocols/types.js';
import type { RpcClient } from '../../../runtime/client/rpc-client.js';
import { netnsLab, netnsUnavailable, type NetnsLab } from '../../helpers/netns.js';
import { startNodeProcess, type NodeProcess } from '../../helpers/node-process.js';
import { key, peer, record } from '../../helpers/objects.js';

const T0 = 1_700_000_000;
const PORT = 7070;
const why = netnsUnavailable();
if (why) console.log(`multi-host tests skipped: ${why}`);

interface Host {
  node: NodeProcess;
  rpc: RpcClient;
}

/** A node on host `i` of `lab`, bound to 0.0.0.0. */
async function startOn(lab: NetnsLab, i: number, opts: { bootstrap?: string[]; announce?: string[] } = {}): Promise<Host> {
  const node = await startNodeProcess({
    runtime: lab.wrap(i, process.execPath, []),
    env: { clock_start: T0, workers: 0 },
    args: ['--host', '0.0.0.0', '--port', String(PORT), ...(opts.bootstrap ?? []).flatMap((b) => ['--bootstrap', b]), ...(opts.announce ?? []).flatMap((a) => ['--announce', a])],
    connectTo: `ws://${lab.hosts[i].ip}:${PORT}`,
  });
  return { node, rpc: await node.client() };
}

/** Polls `check` until it holds (bounded). */
async function until(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const RPC_CLIENT = fileURLToPath(new URL('../../../dist/runtime/client/rpc-client.js', import.meta.url));

/**
 * One call by a client on host `i` itself (to its node at 127.0.0.1): what a user on the cut-off side of a
 * partition can still reach. Resolves with `{result}` or `{error: {code}}`.
 */
async function callOnHost(lab: NetnsLab, i: number, method: string, params: object): Promise<{ result?: unknown; error?: { code: string } }> {
  const program = `
    const { RpcClient } = await import(${JSON.stringify(RPC_CLIENT)});
    const rpc = await RpcClient.connect('ws://127.0.0.1:${PORT}/rpc');
    try { console.log(JSON.stringify({ result: await rpc.call(${JSON.stringify(method)}, ${JSON.stringify(params)}) })); }
    catch (e) { console.log(JSON.stringify({ error: { code: e.code } })); }
    await rpc.close();`;
  const { command, args } = lab.wrap(i, process.execPath, ['--input-type=module', '-e', program]);
  const { stdout } = await promisify(execFile)(command, args, { timeout: 30_000 });
  return JSON.parse(stdout);
}

/** Stops every node (SIGKILL after 10 s) and deletes the namespaces, whatever happened. */
async function teardown(hosts: Host[], lab: NetnsLab | undefined): Promise<number[]> {
  try {
    return await Promise.all(
      hosts.map(async (h) => {
        const timer = setTimeout(() => void h.node.kill(), 10_000);
        const code = await h.node.stop();
        clearTimeout(timer);
        return code ?? -1;
      }),
    );
  } finally {
    lab?.destroy();
  }
}

const peersOf = (h: Host) => h.rpc.call<{ peer_id: string; address: string }[]>('node.peers');

describe.skipIf(why !== null)('five hosts bound to 0.0.0.0, no announce', () => {
  let lab: NetnsLab;
  const hosts: Host[] = [];

  beforeAll(async () => {
    lab = netnsLab(5) as NetnsLab;
    hosts.push(await startOn(lab, 0));
    const first = `ws://${lab.hosts[0].ip}:${PORT}`;
    hosts.push(...(await Promise.all([1, 2, 3, 4].map((i) => startOn(lab, i, { bootstrap: [first] })))));
    await until(async () => (await Promise.all(hosts.map(peersOf))).every((p) => p.length === 4), 'every routing table to hold the 4 other hosts');
  }, 60_000);

  afterAll(async () => {
    expect(await teardown(hosts, lab)).toEqual(hosts.map(() => 0));
  }, 30_000);

  it('announces its routable address, and every routing table holds only routable addresses', async () => {
    const routable = lab.hosts.map((h) => `ws://${h.ip}:${PORT}`);
    for (const [i, h] of hosts.entries()) {
      expect((await h.rpc.call<{ addresses: string[] }>('node.info')).addresses).toEqual([routable[i]]);
      expect(h.node.stdout()).toContain(`rpc ${routable[i]}/rpc`);
      const peers = await peersOf(h);
      expect(peers.map((p) => p.address).sort()).toEqual(routable.filter((_, j) => j !== i).sort());
      expect(JSON.stringify(peers)).not.toMatch(/0\.0\.0\.0|\[::\]/);
    }
  });

  it('creates on host 1 and resolves from host 5 with ack = 3', async () => {
    const owner = peer(90);
    const k = key(owner, 'multi-host', T0);
    expect(await hosts[0].rpc.call('resources.create_resource', { key: k, ack: 5 })).toMatchObject({ acks: 5 });
    const r = record(k, peer(91), T0);
    expect(await hosts[2].rpc.call('resources.register_provider', { record: r, ack: 5 })).toMatchObject({ acks: 5 });
    const { providers } = await hosts[4].rpc.call<{ providers: ProviderRecord[] }>('resources.resolve_providers', { resource_id: k.id, ack: 3 });
    expect(providers).toEqual([r]);
  });

  it('after a real partition of one host, writes on both sides reach every replica by the next republish', async () => {
    const k = key(peer(92), 'partitioned', T0);
    expect(await hosts[0].rpc.call('resources.create_resource', { key: k, ack: 5 })).toMatchObject({ acks: 5 });
    const majority = record(k, peer(93), T0);
    const minority = record(k, peer(94), T0);
    lab.linkDown(4);
    try {
      // Each side writes what it can reach: the majority its four, the cut-off host itself (its own user).
      expect(await hosts[0].rpc.call('resources.register_provider', { record: majority, ack: 4, timeout_ms: 10_000 })).toMatchObject({ acks: 4 });
      expect(await callOnHost(lab, 4, 'resources.register_provider', { record: minority, ack: 1, timeout_ms: 10_000 })).toMatchObject({ result: { acks: 1 } });
      // Asking for more nodes than it can reach is quorum_not_reached, never a wrong answer.
      expect(await callOnHost(lab, 4, 'resources.resolve_providers', { resource_id: k.id, ack: 4, timeout_ms: 3000 })).toEqual({ error: { code: 'quorum_not_reached' } });
    } finally {
      lab.linkUp(4);
    }
    // Healed: the cut-off host, whose routing table emptied, asks its bootstrap node again and is known again.
    await until(async () => (await Promise.all(hosts.map(peersOf))).every((p) => p.length === 4), 'every routing table to hold the 4 other hosts again', 45_000);
    // The next republish (an hour later on each node's manual clock) pushes each side's entries to the other.
    for (const h of hosts) await h.rpc.call('debug.advance_time', { seconds: 3600 });
    const held = await Promise.all(hosts.map((h) => h.rpc.call<ProviderRecord[]>('registry.get_records', { key_id: k.id })));
    const issuers = held.map((list) => list.map((r) => r.metadata.issued_by).sort());
    expect(issuers).toEqual(hosts.map(() => [peer(93).peerId, peer(94).peerId].sort()));
  }, 120_000);
});

describe.skipIf(why !== null)('--announce with a host name that differs from the bind address', () => {
  let lab: NetnsLab;
  const hosts: Host[] = [];
  const name = (i: number) => `host${i}.signpost.test`;

  beforeAll(async () => {
    lab = netnsLab(3) as NetnsLab;
    // The names resolve inside the namespaces only (as a proxy's name would, for its peers).
    lab.names(Object.fromEntries(lab.hosts.map((h, i) => [name(i), h.ip])));
    hosts.push(await startOn(lab, 0, { announce: [`ws://${name(0)}:${PORT}`] }));
    const first = `ws://${name(0)}:${PORT}`;
    hosts.push(...(await Promise.all([1, 2].map((i) => startOn(lab, i, { bootstrap: [first], announce: [`ws://${name(i)}:${PORT}`] })))));
    await until(async () => (await Promise.all(hosts.map(peersOf))).every((p) => p.length === 2), 'every routing table to hold the 2 other hosts');
  }, 60_000);

  afterAll(async () => {
    expect(await teardown(hosts, lab)).toEqual(hosts.map(() => 0));
  }, 30_000);

  it('is what node.info shows and what every peer knows the node by', async () => {
    for (const [i, h] of hosts.entries()) {
      expect((await h.rpc.call<{ addresses: string[] }>('node.info')).addresses).toEqual([`ws://${name(i)}:${PORT}`]);
      const peers = await peersOf(h);
      expect(peers.map((p) => p.address).sort()).toEqual([0, 1, 2].filter((j) => j !== i).map((j) => `ws://${name(j)}:${PORT}`).sort());
    }
  });
});
