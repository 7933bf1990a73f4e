/**
 * `signpost/client` is the SDK alone: importing it loads none of the node (no LMDB, no HTTP server, no
 * worker threads, no file system), so it runs in a browser; the package's own entry does load them.
 * Checked in a fresh Node process that prints every module it resolves.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HOOK = fileURLToPath(new URL('../../fixtures/record-imports.mjs', import.meta.url));

/** The modules a fresh process resolves while it imports `specifier` (from inside the package, by its name). */
function run(specifier: string): { modules: string[]; imported: boolean } {
  const program = `await import(${JSON.stringify(specifier)}); process.stderr.write('imported\\n');`;
  const r = spawnSync(process.execPath, ['--import', HOOK, '--input-type=module', '-e', program], { cwd: ROOT, encoding: 'utf8' });
  const lines = r.stderr.split('\n');
  return { modules: lines.filter((l) => l.startsWith('loaded ')).map((l) => l.slice('loaded '.length)), imported: lines.includes('imported') };
}

const NODE_ONLY = ['lmdb', 'node:http', 'node:https', 'node:worker_threads', 'node:fs', 'node:net', 'msgpackr', 'comlink', 'ws'];
const uses = (modules: string[], name: string) => modules.some((m) => m === name || m.includes(`/node_modules/${name}/`));

describe('the SDK entry', () => {
  it('signpost/client loads no node-only module', () => {
    const { modules, imported } = run('signpost/client');
    expect(imported).toBe(true);
    expect(modules.some((m) => m.endsWith('/dist/runtime/client/index.js'))).toBe(true);
    expect(uses(modules, 'xstate')).toBe(true);
    for (const name of NODE_ONLY) expect(uses(modules, name), `${name} was loaded`).toBe(false);
  });

  it('the package entry (a node) does load them, so the check above can fail', () => {
    const { modules, imported } = run('signpost');
    expect(imported).toBe(true);
    for (const name of ['lmdb', 'node:http', 'node:worker_threads', 'node:fs']) expect(uses(modules, name), name).toBe(true);
  });
});
