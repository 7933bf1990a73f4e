/**
 * The node under Bun and Deno (README "Bun and Deno"): bin/signpost.mjs started as a real process by the
 * pinned `bun` and `deno` devDependencies, with the flags of `npm run start:bun` / `start:deno`. The same
 * black-box steps as under Node: LMDB (a native addon), the WebSocket server on node:http's 'upgrade',
 * node:crypto Ed25519 and signals; then one network of a Node, a Bun and a Deno node. `TEST_RUNTIME=bun|deno
 * npm test` runs every other e2e file this way too.
 */
import { readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeCommand, startNodeProcess } from '../../helpers/node-process.js';
import { key, peer, record } from '../../helpers/objects.js';
import { RawSocket } from '../../helpers/raw-socket.js';
import { RpcClient } from '../../../runtime/client/rpc-client.js';

const T0 = 1_700_000_000;
const FRAME_LIMIT = 65_536;

describe.each(['bun', 'deno'] as const)('a node under %s', (runtime) => {
  it('registers a key, stores a record, reads it back, refuses what it must, and exits 0 on SIGTERM', async () => {
    const node = await startNodeProcess({ runtime: runtimeCommand(runtime), env: { clock_start: T0, max_frame_bytes: FRAME_LIMIT, workers: 1 } });
    try {
      // the process really is that runtime, not a Node found on the PATH
      if (process.platform === 'linux') expect(basename(readlinkSync(`/proc/${node.child.pid}/exe`))).toMatch(new RegExp(`^${runtime}`));

      const rpc = await node.client();
      const owner = peer(1);
      const k = key(owner, `weather-${runtime}`, T0);
      expect(await rpc.call('registry.register_key', { key: k })).toEqual({ key_id: k.id });
      const r = record(k, peer(2), T0, { fields: { service_id: ['forecast'] } });
      expect(await rpc.call('registry.put_record', { record: r })).toEqual({});
      expect(await rpc.call('registry.get_records', { key_id: k.id })).toEqual([r]);

      // Params too deep for a structured clone are refused at the edge: under Deno a batch that Node would
      // refuse to post reaches the worker thread and fails to decode there, and its requests would never be
      // answered. republish_records hands its records to the worker unparsed; objects nested 2 800 to 3 700
      // deep fall in that window for Deno 2.9.
      const quick = await RpcClient.connect(node.rpcUrl, { timeoutMs: 3000 });
      try {
        for (const depth of [2900, 3100, 3300]) {
          const deep = structuredClone(r) as unknown as { metadata: { value: unknown } };
          deep.metadata.value = JSON.parse('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
          await expect(quick.call('registry.republish_records', { records: [deep] }), `depth ${depth}`).rejects.toMatchObject({ code: 'invalid_params' });
        }
        expect(await quick.call('registry.get_records', { key_id: k.id })).toEqual([r]);
      } finally {
        await quick.close();
      }

      // the frame limit is the ws package's on every runtime, with its reason (Bun's built-in ws gives none)
      const s = await RawSocket.open(node.rpcUrl);
      s.send('"' + 'x'.repeat(FRAME_LIMIT - 1) + '"');
      expect(await s.closed).toEqual({ code: 1009, reason: `frame exceeds max_frame_bytes ${FRAME_LIMIT}` });

      expect(await node.stop('SIGTERM')).toBe(0);
    } finally {
      await node.kill();
    }
  });
});

describe('one network across runtimes', () => {
  it('a Bun node and a Deno node join a Node node, and a resource created on one resolves on the others with ack = 3', async () => {
    const env = { workers: 0 };
    const first = await startNodeProcess({ runtime: runtimeCommand('node'), env });
    const base = first.rpcUrl.replace(/\/rpc$/, '');
    const others = await Promise.all((['bun', 'deno'] as const).map((r) => startNodeProcess({ runtime: runtimeCommand(r), env, args: ['--bootstrap', base] })));
    const nodes = [first, ...others];
    try {
      const rpcs = await Promise.all(nodes.map((n) => n.client()));
      await expect.poll(async () => (await Promise.all(rpcs.map((c) => c.call<unknown[]>('node.peers')))).map((p) => p.length), { timeout: 10_000 }).toEqual([2, 2, 2]);
      const k = key(peer(31), 'across-runtimes', 0);
      expect(await rpcs[2].call('resources.create_resource', { key: k, ack: 3 })).toMatchObject({ acks: 3 });
      const r = record(k, peer(32), 0);
      expect(await rpcs[1].call('resources.register_provider', { record: r, ack: 3 })).toMatchObject({ acks: 3 });
      for (const c of rpcs) expect(await c.call('resources.resolve_providers', { resource_id: k.id, ack: 3 })).toMatchObject({ providers: [r], acks: 3 });
    } finally {
      const codes = await Promise.all(nodes.map((n) => n.stop()));
      expect(codes).toEqual([0, 0, 0]);
    }
  });
});
