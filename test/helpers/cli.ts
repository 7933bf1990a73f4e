/**
 * The `signpost` command as a user runs it, for black-box CLI tests: a child process of bin/signpost.mjs
 * with HOME set to a directory of the test's (where the default client identity lives) and no SIGNPOST_*
 * variables of the test's own environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/signpost.mjs', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment of a CLI process: HOME is `home`, no SIGNPOST_*. */
export function envWith(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  for (const k of Object.keys(env)) if (k.startsWith('SIGNPOST_')) delete env[k];
  return env;
}

/** Starts `signpost ARGS…` in `home`; its output so far, and its exit code once it closes. */
export function start(args: string[], home: string): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: envWith(home), cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs `signpost ARGS…` to the end (killed after `timeoutMs`). */
export async function run(args: string[], home: string, timeoutMs = 15_000): Promise<Run> {
  const p = start(args, home);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}
