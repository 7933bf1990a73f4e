import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeProcess, type NodeProcess } from '../helpers/node-process.js';
import { key, peer, record } from '../helpers/objects.js';
import type { RpcClient } from '../../runtime/rpc-client.js';

describe('a node process over its WebSocket', () => {
  let node: NodeProcess;
  let rpc: RpcClient;
  beforeAll(async () => {
    node = await startNodeProcess({ env: { clock_start: 1_700_000_000 } });
    rpc = await node.client();
  });
  afterAll(async () => {
    expect(await node.stop()).toBe(0);
  });

  it('registers a key, stores a record and reads it back', async () => {
    const owner = peer(1);
    const k = key(owner, 'weather', 1_700_000_000);
    expect(await rpc.call('registry.register_key', { key: k })).toEqual({ key_id: k.id });
    expect(await rpc.call('registry.get_key_metadata', { key_id: k.id })).toEqual(k);
    const r = record(k, peer(2), 1_700_000_000);
    expect(await rpc.call('registry.put_record', { record: r })).toEqual({});
    expect(await rpc.call('registry.get_records', { key_id: k.id })).toEqual([r]);
  });
});
