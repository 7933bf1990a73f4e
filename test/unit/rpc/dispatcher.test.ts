/**
 * The dispatcher (runtime/rpc/dispatcher.ts) answers exactly the methods of the table, on one node
 * composed on the in-memory parts: `rpc.discover` lists what the node answers, params are checked
 * against the table's names before any handler runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RPC_METHODS } from '../../../protocols/rpc.js';
import { memoryCluster, type MemoryCluster } from '../../helpers/memory-cluster.js';

let manual: MemoryCluster;
let system: MemoryCluster;

beforeAll(async () => {
  manual = await memoryCluster({ nodes: 1, seed: 1, now: 1_700_000_000 });
  system = await memoryCluster({ nodes: 1, seed: 2, now: 1_700_000_000, config: { clock: 'system' } });
});
afterAll(async () => {
  await manual?.stop();
  await system?.stop();
});

describe('the node answers the methods of protocols/rpc.ts', () => {
  it('rpc.discover lists exactly the methods a node answers', async () => {
    for (const c of [manual, system]) {
      const node = c.nodes[0];
      const doc = await node.call<{ methods: { name: string }[] }>('rpc.discover');
      const listed = doc.methods.map((m) => m.name);
      expect(listed).toEqual(Object.keys(RPC_METHODS).filter((m) => node.dispatcher.has(m)));
      expect(listed).toContain('resources.resolve_providers');
    }
    expect(system.nodes[0].dispatcher.has('debug.set_time')).toBe(false);
    expect(manual.nodes[0].dispatcher.has('debug.set_time')).toBe(true);
  });

  it('refuses unknown and missing params by the table, before the handler', async () => {
    const node = manual.nodes[0];
    await expect(node.call('registry.get_key_id', { label: 'x' })).rejects.toMatchObject({ code: 'invalid_params', message: expect.stringContaining('owner_peer_id') });
    await expect(node.call('node.info', { extra: 1 })).rejects.toMatchObject({ code: 'invalid_params', message: expect.stringContaining('extra') });
    await expect(node.call('nope.nothing')).rejects.toMatchObject({ code: 'method_not_found' });
  });
});
