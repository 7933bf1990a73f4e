/**
 * The Resources API from the command line (issue 4): `signpost resource`, `provider`, `resolve`,
 * `peers`, `watch`, run as a user runs them (bin/signpost.mjs on the built dist/) against a real node in
 * test mode, with the client identity in a temporary HOME.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { identityFromFile, identityToFile } from '../../../protocols/identity.js';
import { run, start } from '../../helpers/cli.js';
import { tempDir, useNodeProcess } from '../../helpers/node-process.js';
import { peer } from '../../helpers/objects.js';
import { eventually } from '../../helpers/sdk.js';

const T0 = 1_700_000_000;
const admin = peer(50);

describe('signpost resource / provider / resolve / peers / watch', () => {
  const ctx = useNodeProcess({ env: { admins: admin.peerId } });
  const home = tempDir('signpost-cli-home-');
  const otherHome = tempDir('signpost-cli-home-');
  let url: string;
  /** `signpost ...args --url <node>` as the default client of `home`. */
  const cli = (args: string[], h = home) => run([...args, '--url', url], h);
  const json = async (args: string[], h = home) => {
    const r = await cli([...args, '--json'], h);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  };

  beforeAll(async () => {
    url = ctx.node.rpcUrl;
    await ctx.rpc.call('debug.set_time', { now: T0 });
  });

  it('the main help lists every client command; each has --help with its options', async () => {
    const main = await run(['--help'], home);
    expect(main.code).toBe(0);
    for (const s of ['signpost resource create', 'signpost resource get', 'signpost provider register', 'signpost provider unregister', 'signpost resolve', 'signpost watch', 'signpost peers', '--key FILE', '--json']) {
      expect(main.stdout).toContain(s);
    }
    const helps = await Promise.all(
      [['resource', 'create'], ['resource', 'get'], ['provider', 'register'], ['provider', 'unregister'], ['resolve'], ['watch'], ['peers'], ['resource'], ['provider']].map((c) => run([...c, '--help'], home)),
    );
    for (const h of helps) expect(h.code).toBe(0);
    const [create, get, register, unregister, resolve, watch, peers] = helps.map((h) => h.stdout);
    for (const text of [create, get, register, unregister, resolve, watch]) for (const flag of ['--url', '--key', '--json']) expect(text).toContain(flag);
    for (const flag of ['--challenge-type', '--min-bits', '--half-life', '--ack', '--timeout-ms']) expect(create).toContain(flag);
    expect(get).toContain('--ack');
    for (const flag of ['--value', '--service', '--keep', '--renew-interval', '--node']) expect(register).toContain(flag);
    // The lifetime of a record registered by a process that exits is spelled out.
    expect(register).toMatch(/exits after registering.*\n.*--keep/);
    expect(unregister).toContain('--peer');
    expect(resolve).toContain('--service');
    expect(watch).toContain('Ctrl-C');
    expect(peers).toContain('node.peers');
  });

  it('creates a default client identity on the first signing command and keeps using it', async () => {
    const first = await cli(['resource', 'create', 'weather'], home);
    expect(first.code, first.stderr).toBe(0);
    const file = join(home, '.signpost', 'client.json');
    expect(first.stderr).toContain(`created the client identity`);
    expect(first.stderr).toContain(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const me = identityFromFile(JSON.parse(readFileSync(file, 'utf8')), file);
    expect(first.stdout).toMatch(/^created resource \w+\n/);
    expect(first.stdout).toContain(`owner              ${me.peerId}`);
    expect(first.stdout).toContain('acks 1');

    const again = await json(['resource', 'create', 'weather-2'], home);
    expect(again.key.owner_peer_id).toBe(me.peerId);
    expect(again.key.timestamp_created).toBe(T0);
  });

  it('resource get shows the verified key; an unknown one fails with key_not_found', async () => {
    const created = await json(['resource', 'create', 'lookup', '--challenge-type', 'owner/v1', '--ack', '1', '--timeout-ms', '2000']);
    const got = await cli(['resource', 'get', created.resource_id], otherHome);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toContain(`resource ${created.resource_id}`);
    expect(got.stdout).toContain('label              "lookup"');
    expect(got.stdout).toContain('owner/v1 (only the owner may register providers)');
    expect((await json(['resource', 'get', created.resource_id])).resource).toEqual(created.key);

    const missing = await cli(['resource', 'get', '11111111111111111111111111111111']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('key_not_found');
  });

  it('registers providers, resolves them (all, by service, as JSON) and unregisters one', async () => {
    const { resource_id: id } = await json(['resource', 'create', 'shop']);
    const reg = await cli(['provider', 'register', id, '--value', 'https://a.example', '--service', 'api']);
    expect(reg.code, reg.stderr).toBe(0);
    expect(reg.stdout).toContain(`registered provider of ${id}`);
    expect(reg.stdout).toContain(`relay      ${ctx.node.peerId}`);
    expect(reg.stdout).toMatch(/nothing renews it once this command exits; use --keep/);
    const other = await json(['provider', 'register', id, '--value', 'https://b.example', '--service', 'web'], otherHome);
    expect(other.record.metadata.value).toBe('https://b.example');

    const human = await cli(['resolve', id]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^#\s+HOST\s+ISSUED_BY\s+RELAY\s+SERVICE/);
    expect(human.stdout).toContain('"https://a.example"');
    expect(human.stdout).toContain('"https://b.example"');
    // Times as ISO-8601 UTC with a hint relative to the node's clock, not raw seconds.
    expect(human.stdout).toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, (now|in \d+ \w+|\d+ \w+ ago)/);
    expect(human.stdout).not.toMatch(/\s17\d{8}\s/);
    expect(human.stderr).toContain('waiting for 1 ack');

    const api = await json(['resolve', id, '--service', 'api']);
    expect(api.providers.map((p: any) => p.metadata.value)).toEqual(['https://a.example']);

    const gone = await cli(['provider', 'unregister', id], otherHome);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toContain(`unregistered the provider of ${id}`);
    expect((await json(['resolve', id])).providers.map((p: any) => p.metadata.value)).toEqual(['https://a.example']);
    await ctx.rpc.call('debug.advance_time', { seconds: 1 });
    await cli(['provider', 'unregister', id]);
    const none = await cli(['resolve', id]);
    expect(none.stdout).toMatch(/^no providers\n/);
  });

  it('a refused registration exits 1 with the reason; bad arguments exit 2', async () => {
    const { resource_id: id } = await json(['resource', 'create', 'mine-only', '--challenge-type', 'owner/v1']);
    const refused = await cli(['provider', 'register', id, '--value', 'x'], otherHome);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('policy_violation');

    const usage = await Promise.all([
      cli(['resource', 'create']),
      cli(['provider', 'register', id]),
      cli(['resolve', id, '--ack', '0']),
      cli(['resource', 'create', 'x', '--challenge-type', 'bogus']),
      cli(['provider', 'register', id, '--value', 'v', '--node', '--keep']),
    ]);
    for (const u of usage) {
      expect(u.code, u.stderr).toBe(2);
      expect(u.stderr).toContain('signpost --help');
    }
    const missingKey = await cli(['resource', 'create', 'x', '--key', join(home, 'nope.json')]);
    expect(missingKey.code).toBe(1);
    expect(missingKey.stderr).toContain('signpost keygen --out');
  });

  it('hashcash/v1: provider register mines with progress on stderr', async () => {
    const { resource_id: id, key } = await json(['resource', 'create', 'costly', '--min-bits', '12', '--half-life', '600']);
    expect(key.challenge_type).toBe('hashcash/v1');
    const r = await cli(['provider', 'register', id, '--value', 'worked', '--work-bits', '14']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/mined \d+ bits of work \(at least 14\) in \d+ tries/);
    expect((await json(['resolve', id])).providers).toHaveLength(1);
  });

  it('--key FILE signs as that identity; --node registers the node as host for an admin', async () => {
    const keyFile = join(home, 'admin.json');
    writeFileSync(keyFile, JSON.stringify(identityToFile(admin)), { mode: 0o600 });
    const { resource_id: id, key } = await json(['resource', 'create', 'hosted', '--key', keyFile]);
    expect(key.owner_peer_id).toBe(admin.peerId);
    const reg = await cli(['provider', 'register', id, '--value', 'on the node', '--node', '--key', keyFile]);
    expect(reg.code, reg.stderr).toBe(0);
    expect(reg.stdout).toContain(`host       ${ctx.node.peerId}`);
    expect(reg.stdout).toContain('The node hosts and renews this record.');
    const denied = await cli(['provider', 'register', id, '--value', 'x', '--node']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('unauthorized');

    await ctx.rpc.call('debug.advance_time', { seconds: 1 });
    const un = await cli(['provider', 'unregister', id, '--node', '--key', keyFile]);
    expect(un.code, un.stderr).toBe(0);
    expect(un.stdout).toContain(`hosted by ${ctx.node.peerId}`);
    expect((await json(['resolve', id])).providers).toEqual([]);
  });

  it('peers prints the routing table (empty for a lone node)', async () => {
    const human = await cli(['peers']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('no peers');
    expect(await json(['peers'])).toEqual([]);
  });

  it('watch prints the providers at once and at every change until Ctrl-C', async () => {
    const { resource_id: id } = await json(['resource', 'create', 'watched']);
    const w = start(['watch', id, '--url', url, '--json'], home);
    const lines = () => w.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    await eventually(() => expect(lines()).toEqual([{ resource_id: id, providers: [] }]), 10_000);
    await cli(['provider', 'register', id, '--value', 'appeared'], otherHome);
    await eventually(() => expect(lines().at(-1).providers.map((p: any) => p.metadata.value)).toEqual(['appeared']), 10_000);
    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);
    expect(w.stderr()).toContain('Ctrl-C to stop');
  });

  it('provider register --keep renews until Ctrl-C, then removes the provider', async () => {
    const { resource_id: id } = await json(['resource', 'create', 'kept']);
    const k = start(['provider', 'register', id, '--value', 'kept alive', '--keep', '--renew-interval', '1', '--url', url], otherHome);
    await eventually(() => expect(k.stdout()).toContain('keeping it alive until Ctrl-C'), 10_000);
    const { now } = await ctx.rpc.call<{ now: number }>('debug.advance_time', { seconds: 60 });
    // Renewed at the node's clock by the still-running command.
    await eventually(async () => expect((await json(['resolve', id])).providers.map((p: any) => p.timestamp_created)).toEqual([now]), 10_000);
    expect(k.stderr()).toContain('registration renewing');
    await ctx.rpc.call('debug.advance_time', { seconds: 1 });
    k.child.kill('SIGINT');
    expect(await k.exited).toBe(0);
    expect(k.stderr()).toContain(`unregistered the provider of ${id}`);
    expect((await json(['resolve', id])).providers).toEqual([]);
  });
});
