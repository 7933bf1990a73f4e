/**
 * Starts a real `signpost node start` process on a free loopback port (the built CLI in dist/), and
 * gives tests its URLs and an RPC client. Used by every black-box test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import { RpcClient } from '../../runtime/client/rpc-client.js';
import { identityToFile, type Identity } from '../../protocols/identity.js';

const BIN = fileURLToPath(new URL('../../bin/signpost.mjs', import.meta.url));

export interface NodeProcessOptions {
  /** Data directory; a fresh temporary one by default. */
  dataDir?: string;
  /** Node identity to write into the data dir before start (so a test can sign host records). */
  identity?: Identity;
  /** Extra config keys, passed as SIGNPOST_* environment variables. */
  env?: Record<string, string | number>;
  /** Other environment variables of the process, as given (e.g. NODE_EXTRA_CA_CERTS). */
  processEnv?: Record<string, string>;
  /** Extra CLI flags. */
  args?: string[];
  /** Manual clock (test mode) unless false. */
  manual?: boolean;
  /**
   * The program that runs bin/signpost.mjs and the arguments it takes before it, e.g.
   * `{ command: 'bun' }` or `{ command: 'deno', args: ['run', '--allow-all'] }` (see `runtimeCommand`).
   * Node (this process's own executable) by default, or the runtime named by TEST_RUNTIME.
   */
  runtime?: { command: string; args?: string[] };
  /**
   * The base URL the test reaches the node at (`ws://HOST:PORT`), when it is not the one the node prints
   * (a node that announces a name only its peers can resolve).
   */
  connectTo?: string;
}

const BIN_DIR = fileURLToPath(new URL('../../node_modules/.bin/', import.meta.url));

/**
 * How to start bin/signpost.mjs under `runtime`: Node is this process's own executable; Bun and Deno are
 * the pinned devDependencies in node_modules/.bin, with the same flags as `npm run start:bun` / `start:deno`.
 */
export function runtimeCommand(runtime: 'node' | 'bun' | 'deno'): { command: string; args: string[] } {
  if (runtime === 'bun') return { command: join(BIN_DIR, 'bun'), args: [] };
  if (runtime === 'deno') return { command: join(BIN_DIR, 'deno'), args: ['run', ...DENO_PERMISSIONS] };
  return { command: process.execPath, args: [] };
}

/** What a node needs from Deno's sandbox (README "Bun and Deno"; package.json `start:deno`). */
export const DENO_PERMISSIONS = ['--allow-ffi', '--allow-read', '--allow-write', '--allow-env', '--allow-net'];

/** TEST_RUNTIME=bun|deno runs every black-box test against nodes on that runtime. */
function defaultRuntime(): { command: string; args: string[] } {
  const name = process.env.TEST_RUNTIME ?? 'node';
  if (name !== 'node' && name !== 'bun' && name !== 'deno') throw new Error(`TEST_RUNTIME must be node, bun or deno, got ${name}`);
  return runtimeCommand(name);
}

export interface NodeProcess {
  child: ChildProcess;
  peerId: string;
  rpcUrl: string;
  httpUrl: string;
  dataDir: string;
  stdout: () => string;
  stderr: () => string;
  client(): Promise<RpcClient>;
  /** Sends `signal` (SIGTERM by default) and waits for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

const tempDirs: string[] = [];
// Registered for each test file that imports this module (vitest isolates modules per file); after the
// file's own afterAll hooks, so the node processes using these directories are stopped by then.
afterAll(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A new directory under the OS temp dir, removed after the test file that made it. */
export function tempDir(prefix = 'signpost-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export async function startNodeProcess(opts: NodeProcessOptions = {}): Promise<NodeProcess> {
  const dataDir = opts.dataDir ?? tempDir();
  if (opts.identity) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'identity.json'), JSON.stringify(identityToFile(opts.identity)), { mode: 0o600 });
  }
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('SIGNPOST_')) delete env[k];
  for (const [k, v] of Object.entries(opts.env ?? {})) env[k.startsWith('SIGNPOST_') ? k : `SIGNPOST_${k.toUpperCase()}`] = String(v);
  Object.assign(env, opts.processEnv);
  const runtime = opts.runtime ?? defaultRuntime();
  const args = [...(runtime.args ?? []), BIN, 'node', 'start', '--port', '0', '--data-dir', dataDir, ...(opts.manual === false ? [] : ['--clock', 'manual']), ...(opts.args ?? [])];
  const child = spawn(runtime.command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start in 15 s\nstdout: ${out}\nstderr: ${err}`)), 15_000);
    const onData = () => {
      const m = out.match(/^Signpost node .*$/m);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(m[0]);
      }
    };
    child.stdout!.on('data', onData);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before listening\nstderr: ${err}`));
    });
  });
  const peerId = line.match(/12D3KooW\w+/)![0];
  const rpcUrl = opts.connectTo ? `${opts.connectTo}/rpc` : line.match(/wss?:\/\/\S+\/rpc/)![0];
  const httpUrl = opts.connectTo ? `${opts.connectTo.replace(/^ws/, 'http')}/` : line.match(/https?:\/\/\S+\//)![0];
  const clients: RpcClient[] = [];
  return {
    child,
    peerId,
    rpcUrl,
    httpUrl,
    dataDir,
    stdout: () => out,
    stderr: () => err,
    async client() {
      const c = await RpcClient.connect(rpcUrl);
      clients.push(c);
      return c;
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
    async kill() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * One node process for the enclosing `describe`: started before its tests, with an RPC client, and
 * stopped after them with a clean exit (status 0) asserted.
 */
export function useNodeProcess(opts: NodeProcessOptions = {}): { readonly node: NodeProcess; readonly rpc: RpcClient } {
  let node: NodeProcess | undefined;
  let rpc: RpcClient | undefined;
  beforeAll(async () => {
    node = await startNodeProcess(opts);
    rpc = await node.client();
  });
  afterAll(async () => {
    expect(await node!.stop()).toBe(0);
  });
  return {
    get node() {
      return node!;
    },
    get rpc() {
      return rpc!;
    },
  };
}

/** A loopback port nothing listens on right now (for a node that must know its port before it starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
