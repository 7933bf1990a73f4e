import { describe, expect, it } from 'vitest';
import { useNodeProcess } from '../../helpers/node-process.js';
import { key, peer, record } from '../../helpers/objects.js';

describe('a node process over its WebSocket', () => {
  const running = useNodeProcess({ env: { clock_start: 1_700_000_000 } });

  it('registers a key, stores a record and reads it back', async () => {
    const owner = peer(1);
    const k = key(owner, 'weather', 1_700_000_000);
    expect(await running.rpc.call('registry.register_key', { key: k })).toEqual({ key_id: k.id });
    expect(await running.rpc.call('registry.get_key_metadata', { key_id: k.id })).toEqual(k);
    const r = record(k, peer(2), 1_700_000_000);
    expect(await running.rpc.call('registry.put_record', { record: r })).toEqual({});
    expect(await running.rpc.call('registry.get_records', { key_id: k.id })).toEqual([r]);
  });
});
