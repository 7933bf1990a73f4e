/**
 * What a node announces, and what it learns of how others see it, on loopback (multi-host.test.ts has
 * the same on separate hosts): `--announce` is what node.info and the peers show, a wildcard is refused,
 * and a peer that reaches the node at a host it does not announce makes it say so once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, startNodeProcess, type NodeProcess } from '../../helpers/node-process.js';

const BIN = fileURLToPath(new URL('../../../bin/signpost.mjs', import.meta.url));
const started: NodeProcess[] = [];
afterAll(async () => {
  for (const n of started) expect(await n.stop()).toBe(0);
});

describe('announce', () => {
  it('is what node.info shows; a peer that dials another host of the node makes it log the mismatch once', async () => {
    // 127.0.0.2 is loopback too: the node is reachable there and at 127.0.0.1, but says it is at .2.
    const port = await freePort();
    const a = await startNodeProcess({ args: ['--host', '0.0.0.0', '--port', String(port), '--announce', `ws://127.0.0.2:${port}`], connectTo: `ws://127.0.0.1:${port}` });
    started.push(a);
    const rpc = await a.client();
    expect((await rpc.call<{ addresses: string[] }>('node.info')).addresses).toEqual([`ws://127.0.0.2:${port}`]);
    expect(a.stdout()).toContain(`rpc ws://127.0.0.2:${port}/rpc`);
    const b = await startNodeProcess({ args: ['--bootstrap', `ws://127.0.0.1:${port}`] });
    const c = await startNodeProcess({ args: ['--bootstrap', `ws://127.0.0.1:${port}`] });
    started.push(b, c);
    await expect.poll(() => a.stderr(), { timeout: 10_000 }).toContain('a peer sees this node at an address it does not announce');
    expect(a.stderr().split('\n').filter((l) => l.includes('does not announce'))).toHaveLength(1);
    // B knows A by what A announces (checked by dialling it back), not by the URL B dialled.
    const bRpc = await b.client();
    await expect.poll(async () => (await bRpc.call<{ peer_id: string; address: string }[]>('node.peers')).find((p) => p.peer_id === a.peerId)?.address, { timeout: 10_000 }).toBe(`ws://127.0.0.2:${port}`);
  });

  it('refuses a wildcard, naming the key', async () => {
    const run = promisify(execFile)(process.execPath, [BIN, 'node', 'start', '--port', '0', '--announce', 'ws://0.0.0.0:7070'], { encoding: 'utf8' });
    const e = (await run.catch((x) => x)) as { code: number; stderr: string };
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('"announce" from flag --announce must be a list of ws:// or wss:// URLs whose host is not a wildcard');
  });
});
