/**
 * The `signpost` command line as a user runs it (SPEC §1 identity files, §11 commands, §12 configuration):
 * the built CLI in dist/ through bin/signpost.mjs, in real processes.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityFromFile, identityToFile } from '../../../protocols/identity.js';
import { resourceId } from '../../../protocols/objects.js';
import { openLmdbStore } from '../../../runtime/store/lmdb-store.js';
import { STORE_SCHEMA_VERSION } from '../../../runtime/store/store.js';
import { RpcClient } from '../../../runtime/client/rpc-client.js';
import { startNodeProcess, tempDir, type NodeProcess } from '../../helpers/node-process.js';
import { key, peer } from '../../helpers/objects.js';

const BIN = fileURLToPath(new URL('../../../bin/signpost.mjs', import.meta.url));
const T0 = 1_700_000_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `signpost ...args` to completion (killed after `timeoutMs`), with no SIGNPOST_* variables but `env`. */
function run(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('SIGNPOST_')) delete env[k];
  Object.assign(env, opts.env);
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd: opts.cwd ?? tempDir('signpost-cli-cwd-'), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 10_000);
  return new Promise((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
}

/** A `node start` that must fail before listening: non-zero exit, no start line. */
async function refusedStart(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const r = await run(['node', 'start', '--clock', 'manual', ...args], { env });
  expect(r.signal, `not killed: ${r.stdout}`).toBeNull();
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.stdout).not.toMatch(/Signpost node/);
  return r;
}

describe('help', () => {
  it('signpost --help lists every command', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const s of ['signpost node start', 'signpost keygen', '--out', 'signpost call', '--url', '--help']) expect(r.stdout).toContain(s);
  });

  it('every command has --help', async () => {
    const [start, keygen, call] = await Promise.all([run(['node', 'start', '--help']), run(['keygen', '--help']), run(['call', '--help'])]);
    expect(start.code).toBe(0);
    for (const flag of ['--config', '--host', '--port', '--data-dir', '--identity', '--clock', '--bootstrap']) expect(start.stdout).toContain(flag);
    expect(start.stdout).toMatch(/SIGINT|SIGTERM/);
    expect(keygen.code).toBe(0);
    expect(keygen.stdout).toContain('--out');
    expect(call.code).toBe(0);
    expect(call.stdout).toContain('METHOD');
    expect(call.stdout).toContain('--url');
  });

  it('an unknown command or flag is a usage error (exit 2)', async () => {
    const [cmd, flag] = await Promise.all([run(['frobnicate']), run(['keygen', '--bogus'])]);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toContain('frobnicate');
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--bogus');
  });
});

describe('keygen', () => {
  it('--out FILE writes {type, seed, peer_id} with mode 0600 and prints the peer id', async () => {
    const file = join(tempDir(), 'id.json');
    const r = await run(['keygen', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    expect(Object.keys(json).sort()).toEqual(['peer_id', 'seed', 'type']);
    expect(json.type).toBe('ed25519');
    expect(json.seed).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes, base64url without padding
    expect(json.peer_id).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/);
    expect(identityFromFile(json, file).peerId).toBe(json.peer_id);
    expect(r.stdout.trim()).toBe(json.peer_id);
  });

  it('refuses to overwrite a file, or to write through a symlink', async () => {
    const dir = tempDir();
    const file = join(dir, 'id.json');
    writeFileSync(file, 'precious\n');
    const r = await run(['keygen', '--out', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/exists|overwrite/);
    expect(readFileSync(file, 'utf8')).toBe('precious\n');

    const link = join(dir, 'link.json');
    const target = join(dir, 'target.json');
    symlinkSync(target, link); // dangling: existsSync(link) is false
    const viaLink = await run(['keygen', '--out', link]);
    expect(viaLink.code).not.toBe(0);
    expect(existsSync(target)).toBe(false);
  });

  it('without --out prints a new identity each time', async () => {
    const [a, b] = await Promise.all([run(['keygen']), run(['keygen'])]);
    expect(a.code).toBe(0);
    const ja = JSON.parse(a.stdout);
    const jb = JSON.parse(b.stdout);
    expect(identityFromFile(ja, 'stdout').peerId).toBe(ja.peer_id);
    expect(identityFromFile(jb, 'stdout').peerId).toBe(jb.peer_id);
    expect(ja.seed).not.toBe(jb.seed);
    expect(ja.type).toBe('ed25519');
  });
});

describe('call', () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await startNodeProcess({ env: { clock_start: T0 } });
  });
  afterAll(async () => {
    expect(await node?.stop()).toBe(0);
  });

  it('calls a method and prints its result as JSON', async () => {
    const [info, base, keyId] = await Promise.all([
      run(['call', 'node.info', '--url', node.rpcUrl]),
      run(['call', 'node.info', '--url', node.rpcUrl.replace(/\/rpc$/, '')]),
      run(['call', 'registry.get_key_id', JSON.stringify({ label: 'weather', owner_peer_id: peer(1).peerId }), '--url', node.rpcUrl]),
    ]);
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ peer_id: node.peerId, now: T0 });
    expect(base.code, base.stderr).toBe(0);
    expect(JSON.parse(base.stdout).peer_id).toBe(node.peerId);
    expect(keyId.code, keyId.stderr).toBe(0);
    expect(JSON.parse(keyId.stdout)).toBe(resourceId('weather', peer(1).peerId));
  });

  it('bad JSON params: exit 2 and a clear message, nothing sent', async () => {
    const r = await run(['call', 'registry.get_records', '{key_id: 1', '--url', node.rpcUrl]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not JSON/);
    expect(r.stdout).toBe('');
  });

  it('an error answer: exit 1 and the error as JSON on stderr', async () => {
    const [bad, unknown] = await Promise.all([
      run(['call', 'registry.get_records', '{"key_id":"nope"}', '--url', node.rpcUrl]),
      run(['call', 'no.such_method', '--url', node.rpcUrl]),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    const err = JSON.parse(bad.stderr);
    expect(err).toMatchObject({ code: 'invalid_params', data: { code: 'invalid_params' } });
    expect(err.message).toContain('key_id');
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stderr)).toMatchObject({ code: 'method_not_found' });
  });

  it('an unreachable node: exit 1 and a message naming the URL', async () => {
    const r = await run(['call', 'node.info', '--url', 'ws://127.0.0.1:1/rpc']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ws://127.0.0.1:1/rpc');
  });
});

describe('node start', () => {
  it('prints one line with the peer id, the RPC URL and the visualiser URL on the real port', async () => {
    const node = await startNodeProcess();
    const lines = node.stdout().split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line).toContain(node.peerId);
    const ws = line.match(/ws:\/\/127\.0\.0\.1:(\d+)\/rpc/);
    const http = line.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
    expect(ws && http).toBeTruthy();
    expect(ws![1]).toBe(http![1]);
    expect(Number(ws![1])).toBeGreaterThan(0);
    const client = await RpcClient.connect(ws![0]);
    expect((await client.call<{ peer_id: string }>('node.info')).peer_id).toBe(node.peerId);
    await client.close();
    expect((await fetch(http![0])).status).toBe(200);
    expect(await node.stop()).toBe(0);
    // the logs went to stderr; stdout still holds the one line
    expect(node.stdout().split('\n').filter((l) => l !== '')).toEqual([line]);
  });

  it('SIGINT and SIGTERM stop it with exit code 0, and the identity persists across restarts', async () => {
    const dataDir = tempDir();
    const first = await startNodeProcess({ dataDir, env: { clock_start: T0 } });
    const k = key(peer(5), 'durable', T0);
    expect(await (await first.client()).call('registry.register_key', { key: k })).toEqual({ key_id: k.id });
    expect(await first.stop('SIGINT')).toBe(0);
    const file = join(dataDir, 'identity.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ type: 'ed25519', peer_id: first.peerId });
    const second = await startNodeProcess({ dataDir, env: { clock_start: T0 } });
    expect(second.peerId).toBe(first.peerId);
    // the acknowledged write survived the stop
    expect(await (await second.client()).call('registry.get_key_metadata', { key_id: k.id })).toEqual(k);
    expect(await second.stop('SIGTERM')).toBe(0);
    // a signal right after the start line still stops it cleanly
    const third = await startNodeProcess({ dataDir });
    expect(await third.stop('SIGINT')).toBe(0);
  });

  it('--identity uses a keygen file', async () => {
    const file = join(tempDir(), 'me.json');
    const k = await run(['keygen', '--out', file]);
    expect(k.code).toBe(0);
    const node = await startNodeProcess({ args: ['--identity', file] });
    expect(node.peerId).toBe(k.stdout.trim());
    expect(await node.stop()).toBe(0);
  });

  it('refuses an identity file whose seed and peer id disagree', async () => {
    const file = join(tempDir(), 'mixed.json');
    writeFileSync(file, JSON.stringify({ ...identityToFile(peer(1)), peer_id: peer(2).peerId }), { mode: 0o600 });
    const r = await refusedStart(['--port', '0', '--data-dir', tempDir(), '--identity', file]);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/disagree/);
    expect(r.stderr).toContain(peer(2).peerId);
  });

  it('refuses a data directory written by another schema version', async () => {
    const dataDir = tempDir();
    const store = await openLmdbStore({ dataDir });
    await store.putMeta('schema_version', STORE_SCHEMA_VERSION + 98);
    await store.close();
    const r = await refusedStart(['--port', '0', '--data-dir', dataDir]);
    expect(r.stderr).toContain(`schema version ${STORE_SCHEMA_VERSION + 98}`);
    expect(r.stderr).toContain(`version ${STORE_SCHEMA_VERSION}`);
    expect(r.stderr).toContain(dataDir);
    // and it left the data alone
    const again = await openLmdbStore({ dataDir }).catch((e: Error) => e);
    expect(again).toBeInstanceOf(Error);
  });
});

describe('configuration errors (SPEC §12)', () => {
  it('stop the node with a non-zero exit and an error naming the key and its source', async () => {
    const dir = tempDir();
    const unknownKey = join(dir, 'unknown.json');
    writeFileSync(unknownKey, JSON.stringify({ prot: 7071 }));
    const illTyped = join(dir, 'ill-typed.json');
    writeFileSync(illTyped, JSON.stringify({ port: '7071' }));
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{port: 1');
    const base = ['--data-dir', join(dir, 'data')];
    const [env, envType, flagType, flagRange, flagFraction, fileKey, fileType, fileJson, clock] = await Promise.all([
      refusedStart(['--port', '0', ...base], { SIGNPOST_FOO: '1' }),
      refusedStart([...base], { SIGNPOST_PORT: 'abc' }),
      refusedStart(['--port', 'abc', ...base]),
      refusedStart(['--port', '70000', ...base]),
      refusedStart(['--port', '1.5', ...base]),
      refusedStart(['--port', '0', '--config', unknownKey, ...base]),
      refusedStart(['--config', illTyped, ...base]),
      refusedStart(['--port', '0', '--config', notJson, ...base]),
      refusedStart(['--port', '0', '--clock', 'sundial', ...base]),
    ]);
    expect(env.stderr).toContain('SIGNPOST_FOO');
    expect(envType.stderr).toContain('SIGNPOST_PORT');
    expect(envType.stderr).toContain('"port"');
    for (const r of [flagType, flagRange, flagFraction]) {
      expect(r.stderr).toContain('"port"');
      expect(r.stderr).toContain('--port');
    }
    expect(fileKey.stderr).toContain('prot');
    expect(fileKey.stderr).toContain(unknownKey);
    expect(fileType.stderr).toContain('"port"');
    expect(fileType.stderr).toContain(illTyped);
    expect(fileJson.stderr).toContain(notJson);
    expect(clock.stderr).toContain('"clock"');
    expect(clock.stderr).toContain('sundial');
  });

  it('takes flags over the environment over the file', async () => {
    const file = join(tempDir(), 'config.json');
    // the file's port would fail (privileged); the helper's --port 0 flag wins over it
    writeFileSync(file, JSON.stringify({ host: '127.0.0.3', port: 1 }));
    const hostOf = (n: NodeProcess) => new URL(n.rpcUrl).hostname;
    const [flag, env, fromFile] = await Promise.all([
      startNodeProcess({ env: { host: '127.0.0.2' }, args: ['--config', file, '--host', '127.0.0.1'] }),
      startNodeProcess({ env: { host: '127.0.0.2' }, args: ['--config', file] }),
      startNodeProcess({ args: ['--config', file] }),
    ]);
    expect([hostOf(flag), hostOf(env), hostOf(fromFile)]).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3']);
    for (const n of [flag, env, fromFile]) {
      expect(n.httpUrl).toContain(hostOf(n));
      const c = await n.client();
      expect((await c.call<{ peer_id: string }>('node.info')).peer_id).toBe(n.peerId);
    }
    expect(await Promise.all([flag.stop(), env.stop(), fromFile.stop()])).toEqual([0, 0, 0]);
  });
});

describe('signpost node start: a second signal while stopping', () => {
  it('a double Ctrl-C still stops the node cleanly (exit 0, "stopped" logged once)', async () => {
    const node = await startNodeProcess({ env: { workers: 1 } });
    node.child.kill('SIGINT');
    node.child.kill('SIGINT');
    node.child.kill('SIGTERM');
    expect(await node.stop()).toBe(0);
    expect(node.stderr().match(/"msg":"stopped"/g)).toHaveLength(1);
  });
});
