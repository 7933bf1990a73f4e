/**
 * Calling providers through their relay from the command line (SPEC §9.5): `signpost provider register
 * --keep --serve-echo` serves an echo method on one node, `signpost provider call` on another node reaches
 * it through the first, run as a user runs them (bin/signpost.mjs on the built dist/) against real nodes in
 * test mode, each command with its own key file (signpost keygen --out FILE).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, stopCluster, type ClusterNode } from '../../helpers/cluster.js';
import { run, start } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/node-process.js';
import { eventually } from '../../helpers/sdk.js';

const T0 = 1_700_000_000;

describe('signpost provider call / provider register --serve-echo, two nodes', () => {
  let nodes: ClusterNode[];
  const home = tempDir('signpost-cli-home-');
  const providerKey = join(home, 'provider.json');
  const callerKey = join(home, 'caller.json');
  const silentKey = join(home, 'silent.json');
  let providerPeer: string;
  let callerPeer: string;
  let id: string;
  let server: ReturnType<typeof start> | undefined;
  /** `signpost ...args --url <node> --key <key>`. */
  const cli = (node: ClusterNode, key: string, args: string[]) => run([...args, '--url', node.rpcUrl, '--key', key], home);
  const json = async (node: ClusterNode, key: string, args: string[]) => {
    const r = await cli(node, key, [...args, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  };
  /** A key file made by `signpost keygen --out FILE`; its peer id. */
  const keygen = async (file: string) => {
    const r = await run(['keygen', '--out', file], home);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  beforeAll(async () => {
    nodes = await startCluster(2);
    await Promise.all(nodes.map((n) => n.rpc.call('debug.set_time', { now: T0 })));
    [providerPeer, callerPeer] = await Promise.all([keygen(providerKey), keygen(callerKey), keygen(silentKey)]);
    // On both nodes (the whole neighbourhood), so node B resolves what node A was given.
    ({ resource_id: id } = await json(nodes[0], providerKey, ['resource', 'create', 'echoes', '--ack', '2']));
    server = start(['provider', 'register', id, '--value', 'v', '--service', 'echo', '--keep', '--serve-echo', '--ack', '2', '--url', nodes[0].rpcUrl, '--key', providerKey], home);
    await eventually(() => expect(server!.stdout(), server!.stderr()).toContain('keeping it alive until Ctrl-C'), 15_000);
  }, 60_000);

  afterAll(async () => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    await stopCluster(nodes);
  });

  it('help: provider call has its own, and provider and the main help list it and --serve-echo', async () => {
    const [main, group, call, register] = await Promise.all([run(['--help'], home), run(['provider', '--help'], home), run(['provider', 'call', '--help'], home), run(['provider', 'register', '--help'], home)]);
    for (const h of [main, group, call, register]) expect(h.code).toBe(0);
    expect(main.stdout).toContain('signpost provider call ID METHOD [JSON]');
    expect(main.stdout).toContain('--serve-echo');
    expect(group.stdout).toContain('signpost provider call ID METHOD [JSON]');
    for (const flag of ['--service', '--ack', '--timeout-ms', '--url', '--key', '--json', 'provider_timeout', 'Exit status']) expect(call.stdout).toContain(flag);
    expect(register.stdout).toContain('--serve-echo');
  });

  it('the kept provider says it serves echo; a caller on the other node gets its answer as JSON, from its own peer id', async () => {
    expect(server!.stderr()).toContain('serving service echo with method echo(...args) until Ctrl-C');
    const r = await json(nodes[1], callerKey, ['provider', 'call', id, 'echo', '["hi", 2]', '--service', 'echo']);
    expect(r).toEqual({
      resource_id: id,
      outcomes: [{ peer_id: providerPeer, relay_id: nodes[0].peerId, service_id: 'echo', ok: true, result: { echo: ['hi', 2], from: callerPeer } }],
    });
    // One JSON value that is not an array is the one argument; no JSON, no arguments.
    expect((await json(nodes[1], callerKey, ['provider', 'call', id, 'echo', '{"a": [1]}'])).outcomes[0].result).toEqual({ echo: [{ a: [1] }], from: callerPeer });
    expect((await json(nodes[1], callerKey, ['provider', 'call', id, 'echo', '[[1, 2]]'])).outcomes[0].result).toEqual({ echo: [[1, 2]], from: callerPeer });
    expect((await json(nodes[1], callerKey, ['provider', 'call', id, 'echo'])).outcomes[0].result).toEqual({ echo: [], from: callerPeer });
  });

  it('human output: the provider, its relay and service, and ok with the result; exit 0', async () => {
    const r = await cli(nodes[1], callerKey, ['provider', 'call', id, 'echo', '["hi", 2]', '--service', 'echo']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        `provider ${providerPeer}`,
        `  relay    ${nodes[0].peerId}`,
        '  service  echo',
        `  ok       {"echo":["hi",2],"from":"${callerPeer}"}`,
        'the provider answered',
        '',
      ].join('\n'),
    );
    expect(r.stderr).toContain(`calling echo on the providers of ${id} (service echo): waiting for 1 ack`);
    // The provider's own error (here: no such method) is its outcome, marked as the provider's.
    const nope = await cli(nodes[1], callerKey, ['provider', 'call', id, 'nope', '--json']);
    expect(nope.code).toBe(1);
    const [outcome] = JSON.parse(nope.stdout).outcomes;
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatchObject({ code: 'method_not_found', data: { from_provider: true } });
    expect(outcome.error.message).toContain("no method 'nope'");
  });

  it('a provider that does not serve (registered without --keep) is provider_unreachable: exit 1', async () => {
    const { resource_id: silent } = await json(nodes[0], silentKey, ['resource', 'create', 'silent', '--ack', '2']);
    await json(nodes[0], silentKey, ['provider', 'register', silent, '--value', 'mute', '--service', 'echo', '--ack', '2']);
    const human = await cli(nodes[1], callerKey, ['provider', 'call', silent, 'echo', '["hi"]']);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`provider ${(await json(nodes[0], silentKey, ['resolve', silent])).providers[0].metadata.peer_id}`);
    expect(human.stdout).toMatch(/ {2}error {4}provider_unreachable: /);
    expect(human.stdout).toMatch(/1 of 1 provider failed\n$/);
    const r = await cli(nodes[1], callerKey, ['provider', 'call', silent, 'echo', '["hi"]', '--json']);
    expect(r.code).toBe(1);
    const { outcomes } = JSON.parse(r.stdout);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ relay_id: nodes[0].peerId, service_id: 'echo', ok: false, error: { code: 'provider_unreachable' } });
    expect(outcomes[0]).not.toHaveProperty('result');

    // Beside one that answers: every provider's outcome, and exit 1 because one failed.
    await json(nodes[0], silentKey, ['provider', 'register', id, '--value', 'mute', '--service', 'other', '--ack', '2']);
    const mixed = await cli(nodes[1], callerKey, ['provider', 'call', id, 'echo', '"x"']);
    expect(mixed.code).toBe(1);
    expect(mixed.stdout).toContain(`  ok       {"echo":["x"],"from":"${callerPeer}"}`);
    expect(mixed.stdout).toContain('  service  other\n  error    provider_unreachable: ');
    expect(mixed.stdout).toMatch(/1 of 2 providers failed\n$/);
  });

  it('bad arguments exit 2 with the reason', async () => {
    const [badJson, noMethod, echoNoKeep, echoNoService] = await Promise.all([
      cli(nodes[1], callerKey, ['provider', 'call', id, 'echo', '["hi", 2']),
      cli(nodes[1], callerKey, ['provider', 'call', id]),
      cli(nodes[0], providerKey, ['provider', 'register', id, '--value', 'v', '--service', 'echo', '--serve-echo']),
      cli(nodes[0], providerKey, ['provider', 'register', id, '--value', 'v', '--keep', '--serve-echo']),
    ]);
    for (const u of [badJson, noMethod, echoNoKeep, echoNoService]) {
      expect(u.code, u.stderr).toBe(2);
      expect(u.stderr).toContain('signpost --help');
      expect(u.stdout).toBe('');
    }
    expect(badJson.stderr).toMatch(/the arguments are not JSON: .*JSON/);
    expect(noMethod.stderr).toContain('provider call takes a resource ID, a METHOD and at most one JSON argument');
    expect(echoNoKeep.stderr).toContain('--serve-echo is for --keep');
    expect(echoNoService.stderr).toContain('--serve-echo needs --service S');
  });

  it('Ctrl-C stops serving and removes the provider (exit 0); then there is no echo provider to call (exit 1)', async () => {
    server!.child.kill('SIGINT');
    expect(await server!.exited).toBe(0);
    expect(server!.stderr()).toContain(`unregistered the provider of ${id}`);
    expect(server!.stderr()).toContain('stopped serving echo');
    const none = await cli(nodes[1], callerKey, ['provider', 'call', id, 'echo', '--service', 'echo']);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe(`no providers of ${id} for service echo\n`);
    const noneJson = await cli(nodes[1], callerKey, ['provider', 'call', id, 'echo', '--service', 'echo', '--json']);
    expect(noneJson.code).toBe(1);
    expect(JSON.parse(noneJson.stdout)).toEqual({ resource_id: id, outcomes: [] });
    expect(noneJson.stderr).toContain(`no providers of ${id}`);
  });
});
