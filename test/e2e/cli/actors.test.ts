/**
 * `signpost actors [--watch] [--url URL] [--json]` (runtime/cli/main.ts), the terminal view of a node's actors,
 * run as a user runs it: the built CLI in a real process against a real node, changes made over the RPC.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RpcClient } from '../../../runtime/client/rpc-client.js';
import { startNodeProcess, type NodeProcess } from '../../helpers/node-process.js';
import { key, peer } from '../../helpers/objects.js';

const BIN = fileURLToPath(new URL('../../../bin/signpost.mjs', import.meta.url));
const T0 = 1_700_000_000;

let node: NodeProcess;
let rpc: RpcClient;

beforeAll(async () => {
  node = await startNodeProcess({ env: { clock_start: T0 } });
  rpc = await node.client();
});

afterAll(async () => {
  expect(await node?.stop()).toBe(0);
});

/** `signpost ...args` as a child process, its output collected as it comes. */
function start(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = start(args);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  const code = await p.exit;
  clearTimeout(timer);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Waits until `check` holds, polling every 20 ms; fails after `ms` with `what`. */
async function until(check: () => boolean, what: () => string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The last frame `--watch` printed when piped: frames are a header line and a table, separated by a blank line. */
const lastFrame = (out: string): string => out.trimEnd().split('\n\n').at(-1) ?? '';

describe('signpost actors', () => {
  it('has --help, and the main help lists it', async () => {
    const [own, main] = await Promise.all([run(['actors', '--help']), run(['--help'])]);
    expect(own.code).toBe(0);
    for (const flag of ['--watch', '--url', '--json', 'Ctrl-C']) expect(own.stdout).toContain(flag);
    expect(main.stdout).toContain('signpost actors');
  });

  it('lists the live actors with their kind and state, as a table or as JSON', async () => {
    const [table, json, base] = await Promise.all([
      run(['actors', '--url', node.rpcUrl]),
      run(['actors', '--json', '--url', node.rpcUrl]),
      run(['actors', '--url', node.rpcUrl.replace(/\/rpc$/, '')]),
    ]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s+/)).toEqual(['ID', 'KIND', 'STATE']);
    expect(lines.slice(1, 5).map((l) => l.split(/\s+/))).toEqual([
      ['bootstrap', 'bootstrap', 'ready'],
      ['job:gc', 'gc', 'waiting'],
      ['job:renew', 'renew', 'waiting'],
      ['job:republish', 'republish', 'waiting'],
    ]);
    expect(lines.at(-1)).toMatch(/^\d+ actors: /);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(await rpc.call('actors.list'));
    expect(base.stdout).toBe(table.stdout);
  });

  it('--watch redraws when a key is registered, and stops cleanly on Ctrl-C', async () => {
    const watch = start(['actors', '--watch', '--url', node.rpcUrl]);
    try {
      await until(() => watch.stdout().includes('job:republish'), () => `first frame; stdout ${watch.stdout()} stderr ${watch.stderr()}`);
      const k = key(peer(21), 'watched', T0);
      await rpc.call('registry.register_key', { key: k });
      const row = new RegExp(`^resource:${k.id}\\s+resource\\s+holding$`, 'm');
      await until(() => row.test(lastFrame(watch.stdout())), () => `a frame with the resource; stdout ${watch.stdout()}`);
      expect(lastFrame(watch.stdout())).toMatch(/actors: .*resource 1/);
    } finally {
      watch.child.kill('SIGINT');
    }
    expect(await watch.exit).toBe(0);
    expect(watch.stderr()).toBe('');
  });

  it('--watch --json prints one JSON line per redraw, at most about ten a second', async () => {
    const watch = start(['actors', '--watch', '--json', '--url', node.rpcUrl]);
    const frames = () =>
      watch
        .stdout()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { at: number; actors: { id: string; state: unknown }[] });
    try {
      await until(() => frames().length > 0, () => `first frame; stderr ${watch.stderr()}`);
      const started = Date.now();
      // 40 registrations in a burst: many events, few frames.
      const keys = Array.from({ length: 40 }, (_, i) => key(peer(100 + i), `burst-${i}`, T0));
      await Promise.all(keys.map((k) => rpc.call('registry.register_key', { key: k })));
      const last = `resource:${keys.at(-1)!.id}`;
      await until(() => keys.every((k) => frames().at(-1)!.actors.some((a) => a.id === `resource:${k.id}` && a.state === 'holding')), () => `a frame with ${last}`);
      const elapsed = Date.now() - started;
      expect(frames().length - 1).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 1);
      expect(frames().at(-1)!.at).toBe(T0);
    } finally {
      watch.child.kill('SIGINT');
    }
    expect(await watch.exit).toBe(0);
  });

  it('an unreachable node: status 1 and a message naming the URL', async () => {
    const [list, watch] = await Promise.all([run(['actors', '--url', 'ws://127.0.0.1:1']), run(['actors', '--watch', '--url', 'ws://127.0.0.1:1'])]);
    expect(list.code).toBe(1);
    expect(list.stderr).toContain('ws://127.0.0.1:1/rpc');
    expect(watch.code).toBe(1);
    expect(watch.stderr).toContain('ws://127.0.0.1:1/inspect');
  });
});
