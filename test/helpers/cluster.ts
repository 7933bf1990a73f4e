/**
 * A cluster of real node processes on loopback that bootstrap from each other: the first node starts
 * alone, every other one with `--bootstrap` to the first (or to a node of the caller's choosing).
 */
import { expect } from 'vitest';
import { RpcClient } from '../../runtime/rpc-client.js';
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
 * routing table holds at least `minPeers` peers (all the others by default).
 */
export async function startCluster(count: number, opts: NodeProcessOptions & { minPeers?: number } = {}): Promise<ClusterNode[]> {
  const first = await startMember([], opts);
  const rest: ClusterNode[] = [];
  for (let i = 1; i < count; i += 4) {
    rest.push(...(await Promise.all(Array.from({ length: Math.min(4, count - i) }, () => startMember([first.baseUrl], opts)))));
  }
  const nodes = [first, ...rest];
  await waitForPeers(nodes, opts.minPeers ?? count - 1);
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
