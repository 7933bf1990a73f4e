import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startNodeProcess, type NodeProcess } from '../helpers/node-process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(`${root}README.md`, 'utf8');

describe('the README', () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await startNodeProcess({ manual: false });
  });
  afterAll(async () => {
    await node.stop();
  });

  it('JavaScript example registers a key and a provider and reads it back, then exits', () => {
    const code = readme.match(/```js\n([\s\S]*?)```/)![1].replace('ws://127.0.0.1:7070/rpc', node.rpcUrl);
    // Inside the package, `import … from 'signpost'` resolves to the package itself.
    mkdirSync(`${root}test-artifacts`, { recursive: true });
    const file = `${root}test-artifacts/readme-example.mjs`;
    writeFileSync(file, code);
    const out = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 15_000 });
    const records = JSON.parse(out);
    expect(records).toHaveLength(1);
    expect(records[0].metadata.value).toBe('wss://me.example/forecast');
    expect(records[0].metadata.service_id).toEqual(['forecast']);
  });

  it('quick-start call of registry.get_key_id gives the documented resource id', () => {
    const params = readme.match(/npx signpost call registry\.get_key_id '([^']+)'/)![1];
    const out = execFileSync(process.execPath, [`${root}bin/signpost.mjs`, 'call', 'registry.get_key_id', params, '--url', node.rpcUrl], { encoding: 'utf8' });
    expect(JSON.parse(out)).toBe('35vAQ2qNThVo7Yig64yVNhyC5FU8owHsqtXD2PWLP1WN');
  });
});
