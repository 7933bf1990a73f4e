/**
 * The tree reads as the architecture (README "How it is built"), and this test keeps it so: every import
 * of every source file follows the arrows between folders, and nothing in protocols/, actors/ or the
 * network layer reads the wall clock or draws randomness by itself (the simulator injects both).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Each folder and the folders its files may import (besides its own, npm packages and what `builtins` allows). */
const ARROWS: { [folder: string]: { may: string[]; builtins: boolean } } = {
  protocols: { may: [], builtins: false },
  actors: { may: ['protocols'], builtins: false },
  config: { may: ['protocols'], builtins: true },
  'runtime/base': { may: ['protocols'], builtins: true },
  'runtime/inspect': { may: ['protocols', 'runtime/base'], builtins: true },
  'runtime/store': { may: ['protocols', 'actors', 'runtime/base', 'runtime/inspect'], builtins: true },
  'runtime/net': { may: ['protocols', 'actors', 'runtime/base', 'runtime/inspect', 'runtime/store'], builtins: true },
  'runtime/rpc': { may: ['protocols', 'actors', 'runtime/base', 'runtime/inspect', 'runtime/store', 'runtime/net'], builtins: true },
  'runtime/node': { may: ['protocols', 'actors', 'config', 'runtime/base', 'runtime/inspect', 'runtime/store', 'runtime/net', 'runtime/rpc'], builtins: true },
  // The SDK runs in browsers: Node modules only where it loads them lazily on Node (dynamic import).
  'runtime/client': { may: ['protocols', 'actors'], builtins: false },
  'runtime/cli': { may: ['protocols', 'actors', 'config', 'runtime/base', 'runtime/node', 'runtime/client'], builtins: true },
};

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const folderOf = (file: string): string => {
  const parts = file.split('/');
  return parts[0] === 'runtime' && parts.length > 2 ? `runtime/${parts[1]}` : parts[0];
};

/** Static imports and re-exports, and dynamic `import('…')`, of one file. */
function importsOf(file: string): { spec: string; dynamic: boolean }[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found: { spec: string; dynamic: boolean }[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)) found.push({ spec: m[1], dynamic: false });
  for (const m of text.matchAll(/^\s*import\s+'([^']+)'/gm)) found.push({ spec: m[1], dynamic: false });
  for (const m of text.matchAll(/\bimport\('([^']+)'\)/g)) found.push({ spec: m[1], dynamic: true });
  return found;
}

const FILES = ['protocols', 'actors', 'config', 'runtime'].flatMap(sourceFiles).filter((f) => f !== 'runtime/index.ts');

describe('the arrows between folders', () => {
  it('every source file sits in a folder with rules', () => {
    for (const f of FILES) expect(Object.keys(ARROWS), f).toContain(folderOf(f));
  });

  it('every import follows them', () => {
    const wrong: string[] = [];
    for (const file of FILES) {
      const from = folderOf(file);
      const rule = ARROWS[from];
      for (const { spec, dynamic } of importsOf(file)) {
        if (spec.startsWith('.')) {
          const target = folderOf(relative(ROOT, normalize(join(ROOT, dirname(file), spec))).replace(/\\/g, '/'));
          if (target !== from && !rule.may.includes(target)) wrong.push(`${file} imports ${spec} (${target})`);
        } else if (spec.startsWith('node:') && !rule.builtins && !dynamic) {
          wrong.push(`${file} imports ${spec}`);
        } else if (from === 'runtime/client' && !dynamic && !['xstate'].includes(spec)) {
          wrong.push(`${file} imports ${spec} (the SDK takes only xstate and protocols' pure packages)`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('nothing on the node side imports the SDK or the CLI', () => {
    const nodeSide = FILES.filter((f) => !['runtime/client', 'runtime/cli'].includes(folderOf(f)));
    const offenders = nodeSide.filter((f) => importsOf(f).some(({ spec }) => /\/(client|cli)\//.test(spec)));
    expect(offenders).toEqual([]);
  });
});

describe('injected time and randomness', () => {
  const PURE = FILES.filter((f) => ['protocols', 'actors', 'runtime/net'].includes(folderOf(f)));

  it('protocols/, actors/ and runtime/net/ never read the wall clock or draw randomness themselves', () => {
    const found: string[] = [];
    for (const file of PURE) {
      const code = readFileSync(join(ROOT, file), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      for (const pattern of [/Math\.random\(/, /Date\.now\(/, /performance\.now\(/, /new Date\(\)/, /(?<![.\w])setTimeout\(/, /(?<![.\w])setInterval\(/, /getRandomValues\(/]) {
        // The one platform source of randomness is defined (not called) in protocols/random.ts.
        if (pattern.test(code) && !(file === 'protocols/random.ts' && pattern.source.includes('getRandomValues'))) found.push(`${file}: ${pattern.source}`);
      }
    }
    expect(found).toEqual([]);
  });
});
