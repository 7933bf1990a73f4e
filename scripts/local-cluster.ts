/**
 * A cluster of real `signpost node start` processes on 127.0.0.1, for the demo (scripts/demo.ts) and the
 * cluster bench (bench/cluster.ts): the first node starts alone, every other one with `--bootstrap` to
 * the first. Each node gets its own data directory under one temporary root, and its log (stderr, JSON
 * lines) goes to `<root>/node-N.log`; `stop()` stops every node with SIGTERM, waits for it to exit and
 * removes the root.
 *
 * @example
 * const cluster = new LocalCluster({ nodes: 5 });
 * try {
 *   await cluster.start();
 *   await cluster.waitForPeers();
 *   console.log(await cluster.nodes[0].rpc.call('node.info'));
 * } finally {
 *   await cluster.stop();
 * }
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RpcClient } from '../runtime/client/rpc-client.js';

const BIN = fileURLToPath(new URL('../../bin/signpost.mjs', import.meta.url));

/** How long one node may take to print its start line. */
const START_TIMEOUT_MS = 20_000;
/** How long one node may take to exit after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 15_000;
/** Nodes started at once after the first: enough to be quick, few enough not to starve two cores. */
const START_BATCH = 5;
/** Lines of each node's log kept in memory, to show when something goes wrong. */
const LOG_TAIL_LINES = 15;

export interface LocalClusterOptions {
  /** Number of nodes (default 5). */
  nodes?: number;
  /** Node i listens on basePort + i; 0 (the default) lets every node pick a free port. */
  basePort?: number;
  /** `workers` of every node (default 1). */
  workers?: number;
  /** `log_level` of every node (default info); the logs go to files either way. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Other config keys, as SIGNPOST_* environment variables (e.g. SIGNPOST_RATE_LIMIT_PER_S). */
  env?: Record<string, string>;
  /** Prefix of the temporary root directory. */
  tempPrefix?: string;
  /** Options for the node processes' runtime, before the script (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
}

export interface LocalNode {
  /** 1-based, as printed: node-1 … node-N. */
  index: number;
  name: string;
  pid: number;
  peerId: string;
  rpcUrl: string;
  /** ws://HOST:PORT, what --bootstrap takes. */
  baseUrl: string;
  visualiserUrl: string;
  dataDir: string;
  logFile: string;
  /** One RPC connection, opened at start and closed by `stop()`. */
  rpc: RpcClient;
}

interface Member {
  index: number;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Set once the process has exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  tail: string[];
  log: WriteStream;
  node: LocalNode | null;
}

export interface StopResult {
  name: string;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when it did not exit after SIGTERM within STOP_TIMEOUT_MS and was killed. */
  killed: boolean;
}

export class LocalCluster {
  readonly root: string;
  readonly size: number;
  private readonly members: Member[] = [];
  private readonly onExit = new Set<(node: string, code: number | null, signal: NodeJS.Signals | null) => void>();
  private stopping = false;
  private stopped: Promise<StopResult[]> | null = null;

  constructor(private readonly opts: LocalClusterOptions = {}) {
    this.size = opts.nodes ?? 5;
    if (!Number.isInteger(this.size) || this.size < 1) throw new Error(`nodes must be a positive integer, got ${opts.nodes}`);
    this.root = mkdtempSync(join(tmpdir(), opts.tempPrefix ?? 'signpost-cluster-'));
    process.on('exit', this.killLeftovers);
  }

  /**
   * Last resort when the caller exits without `stop()` (an uncaught exception): no node outlives it.
   * Synchronous, as an 'exit' handler must be; the data directories stay behind then.
   */
  private readonly killLeftovers = () => {
    for (const m of this.members) if (m.exit === null) m.child.kill('SIGKILL');
  };

  /** The nodes that have started, in order. */
  get nodes(): LocalNode[] {
    return this.members.flatMap((m) => (m.node ? [m.node] : []));
  }

  /** Pids of every process this cluster spawned (started or not). */
  get pids(): number[] {
    return this.members.map((m) => m.child.pid!).filter((p) => p !== undefined);
  }

  /**
   * Calls `fn` when a node exits while the cluster is not stopping it (a crash). Returns the
   * unsubscribe function.
   */
  onUnexpectedExit(fn: (node: string, code: number | null, signal: NodeJS.Signals | null) => void): () => void {
    this.onExit.add(fn);
    return () => this.onExit.delete(fn);
  }

  /** Starts the first node, then the others (a few at a time), each bootstrapping from the first. */
  async start(): Promise<LocalNode[]> {
    const first = await this.startMember(1, []);
    for (let i = 2; i <= this.size; i += START_BATCH) {
      const batch = Array.from({ length: Math.min(START_BATCH, this.size - i + 1) }, (_, j) => this.startMember(i + j, [first.baseUrl]));
      // Wait for the whole batch even if one fails, so every spawned process is known to stop().
      const settled = await Promise.allSettled(batch);
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
    }
    return this.nodes;
  }

  /**
   * Waits (bounded) until every node's routing table (`node.peers`) holds every other node. Returns the
   * peer counts.
   */
  async waitForPeers(timeoutMs = 30_000): Promise<number[]> {
    const nodes = this.nodes;
    const want = nodes.length - 1;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = await Promise.all(nodes.map(async (n) => (await n.rpc.call<unknown[]>('node.peers')).length));
      if (counts.every((c) => c >= want)) return counts;
      if (Date.now() > deadline) {
        throw new Error(`routing tables did not fill in ${timeoutMs} ms: peers per node ${counts.join(', ')} (each should hold the other ${want})`);
      }
      await sleep(200);
    }
  }

  /** The last lines of a node's log (stderr), for error messages. */
  logTail(name: string): string {
    const m = this.members.find((x) => `node-${x.index}` === name);
    return m ? m.tail.join('\n') : '';
  }

  /**
   * Stops every node: closes the RPC connections, sends SIGTERM to each live process, waits for each to
   * exit (SIGKILL after STOP_TIMEOUT_MS), then removes the temporary root. Safe to call after a failed
   * start; a second call returns the first one's result.
   */
  stop(): Promise<StopResult[]> {
    this.stopped ??= this.stopAll();
    return this.stopped;
  }

  private async stopAll(): Promise<StopResult[]> {
    this.stopping = true;
    await Promise.all(this.nodes.map((n) => n.rpc.close().catch(() => undefined)));
    const results = await Promise.all(
      this.members.map(async (m): Promise<StopResult> => {
        let killed = false;
        if (m.exit === null) {
          m.child.kill('SIGTERM');
          const timer = setTimeout(() => {
            killed = true;
            m.child.kill('SIGKILL');
          }, STOP_TIMEOUT_MS);
          await m.exited;
          clearTimeout(timer);
        }
        await new Promise<void>((resolve) => m.log.end(resolve));
        return { name: `node-${m.index}`, pid: m.child.pid!, code: m.exit!.code, signal: m.exit!.signal, killed };
      }),
    );
    rmSync(this.root, { recursive: true, force: true });
    process.off('exit', this.killLeftovers);
    return results;
  }

  private async startMember(index: number, bootstrap: string[]): Promise<LocalNode> {
    const name = `node-${index}`;
    // A start still under way when stop() began spawns nothing more (stop() only knows what exists).
    if (this.stopping) throw new Error(`${name} not started: the cluster is stopping`);
    const dataDir = join(this.root, name);
    mkdirSync(dataDir);
    const logFile = join(this.root, `${name}.log`);
    const port = this.opts.basePort ? this.opts.basePort + index - 1 : 0;
    const env: NodeJS.ProcessEnv = {};
    // Only what this cluster sets: a SIGNPOST_* variable of the caller's shell (a bootstrap list, a
    // port) would make the nodes something else than this cluster.
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SIGNPOST_')) env[k] = v;
    Object.assign(env, { SIGNPOST_WORKERS: String(this.opts.workers ?? 1), SIGNPOST_LOG_LEVEL: this.opts.logLevel ?? 'info' }, this.opts.env);
    const args = [BIN, 'node', 'start', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--clock', 'system', ...bootstrap.flatMap((b) => ['--bootstrap', b])];
    // A process group of its own: Ctrl-C in the terminal reaches the caller only, which then stops the
    // nodes in order (and can tell a node that crashed from one it stopped).
    const child = spawn(process.execPath, [...(this.opts.nodeArgs ?? []), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const log = createWriteStream(logFile);
    const member: Member = { index, child, exited: null!, exit: null, tail: [], log, node: null };
    member.exited = new Promise((resolve) => {
      const ended = (code: number | null, signal: NodeJS.Signals | null) => {
        if (member.exit) return;
        member.exit = { code, signal };
        if (!this.stopping) for (const fn of this.onExit) fn(name, code, signal);
        resolve(member.exit);
      };
      child.once('exit', ended);
      // Spawning itself failed (no 'exit' follows): count it as an exit without a code.
      child.once('error', (e) => {
        member.tail.push(`cannot start ${name}: ${e.message}`);
        if (child.pid === undefined) ended(null, null);
      });
    });
    this.members.push(member);
    const keep = (chunk: Buffer) => {
      log.write(chunk);
      member.tail.push(...chunk.toString().split('\n').filter((l) => l.length > 0));
      member.tail.splice(0, Math.max(0, member.tail.length - LOG_TAIL_LINES));
    };
    child.stderr!.on('data', keep);

    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms\n${member.tail.join('\n')}`)), START_TIMEOUT_MS);
      const onData = (chunk: Buffer) => {
        keep(chunk);
        out += chunk;
        const m = out.match(/^Signpost node .*$/m);
        if (m) {
          clearTimeout(timer);
          resolve(m[0]);
        }
      };
      child.stdout!.on('data', onData);
      void member.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${signal ?? `code ${code}`}) before listening\n${member.tail.join('\n')}`));
      });
    });
    const rpcUrl = line.match(/ws:\/\/\S+\/rpc/)?.[0];
    const visualiserUrl = line.match(/http:\/\/\S+\//)?.[0];
    const peerId = line.match(/12D3KooW\w+/)?.[0];
    if (!rpcUrl || !visualiserUrl || !peerId) throw new Error(`${name}: unexpected start line: ${line}`);
    const rpc = await RpcClient.connect(rpcUrl);
    member.node = { index, name, pid: child.pid!, peerId, rpcUrl, baseUrl: rpcUrl.replace(/\/rpc$/, ''), visualiserUrl, dataDir, logFile, rpc };
    return member.node;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
