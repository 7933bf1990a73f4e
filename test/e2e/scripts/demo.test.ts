/**
 * `npm run demo` (scripts/demo.ts, built to dist/scripts/demo.js): a local network of real node
 * processes that resolves its resources from every node, serves every visualiser, and on Ctrl-C stops
 * every node and removes its data; a demo that fails half-way stops the nodes it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../../../dist/scripts/demo.js', import.meta.url));

interface Summary {
  demo: 'ready';
  ack: number;
  root: string;
  resources: { name: string; id: string; providers: { peer_id: string; value: string }[] }[];
  nodes: { name: string; pid: number; peer_id: string; rpc_url: string; visualiser_url: string; resolved: { [resource: string]: string[] } }[];
}

interface Demo {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: Demo[] = [];

function startDemo(args: string[]): Demo {
  const child = spawn(process.execPath, [DEMO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const demo = { child, stdout: () => out, stderr: () => err, exited };
  running.push(demo);
  return demo;
}

/** Resolves with the first stdout line matching `pattern`, or fails after `ms` or when the demo exits. */
function waitForLine(demo: Demo, pattern: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no line matching ${pattern} within ${ms} ms\nstdout:\n${demo.stdout()}\nstderr:\n${demo.stderr()}`)), ms);
    const check = () => {
      const line = demo.stdout().split('\n').find((l) => pattern.test(l));
      if (line !== undefined) done(null, line);
    };
    const onExit = () => done(new Error(`demo exited before a line matching ${pattern}\nstdout:\n${demo.stdout()}\nstderr:\n${demo.stderr()}`));
    const done = (e: Error | null, line?: string) => {
      clearTimeout(timer);
      demo.child.stdout!.off('data', check);
      demo.child.off('exit', onExit);
      if (e) reject(e);
      else resolve(line!);
    };
    demo.child.stdout!.on('data', check);
    demo.child.once('exit', onExit);
    check();
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms))]);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Pids of live processes whose command line mentions `text` (Linux /proc). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

afterAll(async () => {
  // Only if a test failed half-way: nothing the demo started outlives this file.
  for (const d of running) {
    if (d.child.exitCode === null && d.child.signalCode === null) {
      d.child.kill('SIGINT');
      await withTimeout(d.exited, 30_000, 'demo stop').catch(() => d.child.kill('SIGKILL'));
    }
  }
});

describe('npm run demo', () => {
  it('starts 5 nodes that each resolve both resources, serves 5 visualisers, and stops every node on SIGINT', async () => {
    const demo = startDemo(['--json']);
    const summary = JSON.parse(await waitForLine(demo, /^\{"demo":"ready"/, 90_000)) as Summary;
    expect(summary.ack).toBe(3);
    expect(summary.nodes).toHaveLength(5);
    expect(new Set(summary.nodes.map((n) => n.peer_id)).size).toBe(5);
    expect(summary.resources.map((r) => [r.name, r.providers.length])).toEqual([
      ['weather', 2],
      ['maps', 1],
    ]);
    for (const n of summary.nodes) {
      for (const r of summary.resources) {
        expect(n.resolved[r.name].slice().sort(), `${n.name} resolves ${r.name}`).toEqual(r.providers.map((p) => p.value).sort());
      }
      expect(isAlive(n.pid)).toBe(true);
    }
    // The human-readable table and the URLs are printed too.
    const ready = await waitForLine(demo, /^Ready: 5 nodes running/, 5_000);
    expect(ready).toContain('Ctrl-C');
    for (const n of summary.nodes) {
      expect(demo.stdout()).toContain(n.rpc_url);
      expect(demo.stdout()).toContain(n.visualiser_url);
      const page = await fetch(n.visualiser_url);
      expect(page.status, n.visualiser_url).toBe(200);
      await page.arrayBuffer();
    }

    demo.child.kill('SIGINT');
    const { code, signal } = await withTimeout(demo.exited, 40_000, 'demo shutdown');
    expect({ code, signal }, demo.stderr()).toEqual({ code: 0, signal: null });
    for (const n of summary.nodes) expect(isAlive(n.pid), `${n.name} (pid ${n.pid}) still running`).toBe(false);
    expect(processesMentioning(summary.root)).toEqual([]);
    expect(existsSync(summary.root)).toBe(false);
    expect(demo.stdout()).toContain('Stopped 5 of 5 cleanly');
  }, 150_000);

  it('fails half-way with a clear message and a non-zero status, and stops the nodes it started', async () => {
    // Occupy the port the second node asks for: the first node starts, the second cannot listen.
    const blocker: Server = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)));
    try {
      const demo = startDemo(['--nodes', '3', '--base-port', String(port - 1)]);
      const first = await waitForLine(demo, /^Signpost demo:/, 30_000);
      const root = first.match(/data and logs in (\S+)\)/)![1];
      const { code } = await withTimeout(demo.exited, 60_000, 'failing demo');
      expect(code, demo.stdout() + demo.stderr()).toBe(1);
      expect(demo.stderr()).toMatch(/demo failed: node-\d .*(exited|did not start)/);
      expect(processesMentioning(root)).toEqual([]);
      expect(existsSync(root)).toBe(false);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  }, 90_000);
});
