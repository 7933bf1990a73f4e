/**
 * The seed's two examples in docs/sdk.md ("Calling providers: the seed's two examples"), run as a user
 * runs them: two provider programs on two nodes, and the callers program on a third node, with
 * `call_everyone` and `send_everyone` reaching both providers through their relays.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignpostClient } from '../../../dist/runtime/index.js';
import { pollUntil, startCluster, stopCluster, type ClusterNode } from '../../helpers/cluster.js';
import { peer } from '../../helpers/objects.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const sdkDoc = readFileSync(`${root}docs/sdk.md`, 'utf8');

/** The ```js example=NAME block of docs/sdk.md, written where 'signpost/client' resolves to this package. */
function example(name: string): string {
  const code = sdkDoc.match(new RegExp('```js example=' + name + '\\n([\\s\\S]*?)```'))![1];
  mkdirSync(`${root}test-artifacts`, { recursive: true });
  const file = `${root}test-artifacts/sdk-example-${name}.mjs`;
  writeFileSync(file, code);
  return file;
}

/** Starts the provider program against `node` and waits until it says it serves. */
function startProvider(file: string, node: ClusterNode, resourceId: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [file, resourceId], { env: { ...process.env, SIGNPOST_URL: node.rpcUrl }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the provider did not start serving: ${out}`)), 15_000);
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('serving')) (clearTimeout(timer), resolve(child));
    });
    child.on('exit', (code) => reject(new Error(`the provider exited (${code}): ${out}`)));
  });
}

describe("docs/sdk.md's call_everyone and send_everyone", () => {
  let nodes: ClusterNode[];
  const providers: ChildProcess[] = [];

  beforeAll(async () => {
    nodes = await startCluster(3);
  }, 60_000);

  afterAll(async () => {
    for (const p of providers) p.kill('SIGKILL');
    await stopCluster(nodes);
  });

  it('reach every provider through its relay, and each gets the event', async () => {
    const owner = await SignpostClient.connect(nodes[0].rpcUrl, { identity: peer(70) });
    const { resourceId } = await owner.createResource('greeters', { ack: 3 });
    const file = example('provider');
    providers.push(await startProvider(file, nodes[0], resourceId), await startProvider(file, nodes[1], resourceId));
    // Both records are on every node of the neighbourhood before the callers resolve with ack 1.
    await pollUntil(async () => (await owner.resolveProviders(resourceId, { ack: 3 })).providers.length, (n) => n === 2);
    await owner.close();
    const { stdout } = await promisify(execFile)(process.execPath, [example('callers'), resourceId], {
      env: { ...process.env, SIGNPOST_URL: nodes[2].rpcUrl },
      timeout: 20_000,
    });
    const out = JSON.parse(stdout) as { call_everyone: string[]; send_everyone: unknown[] };
    expect(out.call_everyone).toHaveLength(2);
    for (const r of out.call_everyone) expect(r).toMatch(/^did something with 42, for 12D3KooW/);
    expect(out.send_everyone).toEqual([{ received: 1 }, { received: 1 }]);
  }, 60_000);
});
