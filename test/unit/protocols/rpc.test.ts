/**
 * The method table (protocols/rpc.ts): one source for the server, the SDK, `rpc.discover` and docs/rpc.md.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openRpcDocument, RPC_METHODS, SCHEMAS } from '../../../protocols/rpc.js';
import { rpcMarkdown } from '../../../scripts/rpc-docs.js';

type Doc = { openrpc: string; methods: { name: string; params: { name: string; required: boolean }[] }[]; components: { schemas: object; errors: object } };

describe('the JSON-RPC method table', () => {
  it('docs/rpc.md is what the table generates (npm run docs:rpc)', () => {
    expect(readFileSync(new URL('../../../docs/rpc.md', import.meta.url), 'utf8')).toBe(rpcMarkdown());
  });

  it('generates an OpenRPC 1.3 document whose every $ref resolves', () => {
    const doc = openRpcDocument('1.2.3', { testMode: true }) as Doc;
    expect(doc.openrpc).toMatch(/^1\.3\./);
    expect(doc.methods.map((m) => m.name)).toEqual(Object.keys(RPC_METHODS));
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([A-Za-z]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(20);
    for (const r of refs) expect(Object.keys(SCHEMAS)).toContain(r);
    expect(Object.keys(doc.components.errors)).toContain('quorum_not_reached');
  });

  it('lists debug.* only for a node in test mode', () => {
    const names = (testMode: boolean) => (openRpcDocument('1', { testMode }) as Doc).methods.map((m) => m.name);
    expect(names(true).filter((n) => n.startsWith('debug.'))).toEqual(['debug.set_time', 'debug.advance_time', 'debug.crash_worker']);
    expect(names(false).some((n) => n.startsWith('debug.'))).toBe(false);
  });

  it('marks the optional params of the fan-out calls', () => {
    const create = (openRpcDocument('1', { testMode: false }) as Doc).methods.find((m) => m.name === 'resources.create_resource')!;
    expect(create.params.map((p) => [p.name, p.required])).toEqual([['key', true], ['ack', false], ['timeout_ms', false]]);
  });
});
