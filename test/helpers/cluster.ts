/**
 * A cluster of real node processes on loopback that bootstrap from each other: the first node starts
 * alone, every other one with `--bootstrap` to the first (or to a node of the caller's choosing).
 */
import { expect } from 'vitest';
import { RpcClient } from '../../runtime/client/rpc-client.js';
import { closestOf, nodeLocation, resourceLocation } from '../../protocols/kademlia.js';
import { startNodeProcess, type NodeProcess, type NodeProcessOptions } from './node-process.js';

export interface ClusterNode extends NodeProcess {
  rpc: RpcClient;
  /** ws://HOST:PORT */
  baseUrl: string;
}

export interface PeerRow {
  peer_id: string;
  address: string;
  distance_bucket: number;
  last_seen: number;
}

export function baseUrlOf(n: NodeProcess): string {
  return n.rpcUrl.replace(/\/rpc$/, '');
}

/** Starts one node bootstrapping from `bootstrap` (base URLs). */
export async function startMember(bootstrap: string[], opts: NodeProcessOptions = {}): Promise<ClusterNode> {
  const n = await startNodeProcess({ ...opts, args: [...(opts.args ?? []), ...bootstrap.flatMap((b) => ['--bootstrap', b])] });
  return Object.assign(n, { rpc: await n.client(), baseUrl: baseUrlOf(n) });
}

/**
 * Starts `count` nodes (a few at a time), each bootstrapping from the first, and waits until every node's
 * routing table holds at least `minPeers` peers (all the others by default) and no node is still joining
 * (its lookups of itself and of each farther bucket are done).
 */
export async function startCluster(count: number, opts: NodeProcessOptions & { minPeers?: number } = {}): Promise<ClusterNode[]> {
  const first = await startMember([], opts);
  const rest: ClusterNode[] = [];
  for (let i = 1; i < count; i += 4) {
    rest.push(...(await Promise.all(Array.from({ length: Math.min(4, count - i) }, () => startMember([first.baseUrl], opts)))));
  }
  const nodes = [first, ...rest];
  await waitForPeers(nodes, opts.minPeers ?? count - 1);
  await waitForLookupsIdle(nodes);
  return nodes;
}

/** Waits (bounded) until every node knows at least `min` peers. */
export async function waitForPeers(nodes: ClusterNode[], min: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await Promise.all(nodes.map(async (n) => (await n.rpc.call<PeerRow[]>('node.peers')).length));
    if (counts.every((c) => c >= min)) return;
    if (Date.now() > deadline) expect.fail(`routing tables did not fill in ${timeoutMs} ms: peers per node ${counts.join(', ')}, wanted ≥ ${min}`);
    // A lookup of each node's own id makes it meet its neighbours (as bucket refresh would, later).
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Stops every node still running, asserting clean exits for those that were not killed. */
export async function stopCluster(nodes: readonly ClusterNode[]): Promise<void> {
  const codes = await Promise.all(nodes.map((n) => (n.child.exitCode === null && n.child.signalCode === null ? n.stop() : Promise.resolve(0))));
  expect(codes.every((c) => c === 0)).toBe(true);
}

/**
 * The true `k` closest of `peerIds` to `resourceId` by XOR distance (SPEC §5: node location =
 * sha256(peer id bytes), resource location = the 32 bytes of the id), closest first. Computed from the
 * ids alone, so a test can hold a node's network lookup to it.
 */
export function trueClosest(peerIds: readonly string[], resourceId: string, k: number): string[] {
  const target = resourceLocation(resourceId);
  if (!target) throw new Error(`not a resource id: ${resourceId}`);
  return closestOf(peerIds.map((peerId) => ({ peerId, location: nodeLocation(peerId)! })), target, k).map((c) => c.peerId);
}

/** Every key id `n` holds in its local store (registry.list_keys, all pages). */
export async function heldKeyIds(n: ClusterNode): Promise<Set<string>> {
  const ids = new Set<string>();
  let after: string | null = null;
  for (;;) {
    const page: { keys: { key: { id: string } }[]; next: string | null } = await n.rpc.call('registry.list_keys', { after, limit: 1000 });
    for (const item of page.keys) ids.add(item.key.id);
    if (page.next === null) return ids;
    after = page.next;
  }
}

/** The peer ids of the nodes that hold `keyId` in their local store, sorted. */
export async function holdersOf(nodes: readonly ClusterNode[], keyId: string): Promise<string[]> {
  const held = await Promise.all(nodes.map(async (n) => ((await heldKeyIds(n)).has(keyId) ? n.peerId : null)));
  return held.filter((p): p is string => p !== null).sort();
}

/**
 * Polls `probe` until `done` accepts its value or `timeoutMs` passes; returns the last value either way,
 * so the caller asserts on it and a failure shows what was last seen.
 */
export async function pollUntil<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 10_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (done(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Starts `old` again (it must have exited) on the same data directory, so with the same identity and
 * store, and on the same port, so the addresses other nodes hold for it stay right.
 */
export async function restartMember(old: ClusterNode, bootstrap: string[], opts: NodeProcessOptions = {}): Promise<ClusterNode> {
  if (old.child.exitCode === null && old.child.signalCode === null) throw new Error(`${old.peerId} is still running`);
  const port = new URL(old.baseUrl).port;
  const n = await startMember(bootstrap, { ...opts, dataDir: old.dataDir, args: [...(opts.args ?? []), '--port', port] });
  if (n.peerId !== old.peerId) throw new Error(`restarted as ${n.peerId}, not ${old.peerId}`);
  return n;
}

/** Waits (bounded) until no node has a lookup in flight (e.g. the lookups that end joining). */
export async function waitForLookupsIdle(nodes: readonly ClusterNode[], timeoutMs = 10_000): Promise<void> {
  const busy = async () => {
    const lists = await Promise.all(nodes.map((n) => n.rpc.call<{ id: string; kind: string }[]>('actors.list')));
    return lists.flatMap((l, i) => l.filter((a) => a.kind === 'lookup').map((a) => `${nodes[i].peerId.slice(-6)}: ${a.id}`));
  };
  const left = await pollUntil(busy, (b) => b.length === 0, timeoutMs);
  if (left.length > 0) expect.fail(`lookups still running after ${timeoutMs} ms: ${left.join('; ')}`);
}
