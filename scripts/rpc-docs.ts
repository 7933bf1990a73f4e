/**
 * docs/rpc.md, generated from the method table of protocols/rpc.ts (the document `rpc.discover` returns):
 * `npm run docs:rpc` writes it, and a test fails when it is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openRpcDocument, type JsonSchema } from '../protocols/rpc.js';
import { VERSION } from '../runtime/base/version.js';

interface DocParam {
  name: string;
  description: string;
  required: boolean;
  schema: JsonSchema;
}

/** A schema in a few words: `Key`, `Record[]`, `integer 1..1000`, `string | null`. */
function typeText(s: JsonSchema): string {
  if (typeof s.$ref === 'string') return s.$ref.split('/').at(-1)!;
  if (s.type === 'array') return `${typeText(s.items as JsonSchema)}[]`;
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (Array.isArray(s.type)) return s.type.join(' \\| ');
  if (s.type === 'object' && s.properties) return `{${Object.keys(s.properties as object).join(', ')}}`;
  if (s.type === 'integer' && (s.minimum !== undefined || s.maximum !== undefined)) return `integer ${s.minimum ?? ''}..${s.maximum ?? ''}`;
  return typeof s.type === 'string' ? s.type : 'any';
}

export function rpcMarkdown(): string {
  const doc = openRpcDocument(VERSION, { testMode: true }) as {
    methods: { name: string; summary: string; params: DocParam[]; result: { schema: JsonSchema } }[];
    'x-client-methods': { name: string; summary: string; params: DocParam[]; result: { schema: JsonSchema } }[];
  };
  const row = (m: { name: string; summary: string; params: DocParam[]; result: { schema: JsonSchema } }) => {
    const params = m.params.length === 0 ? '—' : m.params.map((p) => `\`${p.name}${p.required ? '' : '?'}\`: ${typeText(p.schema)}`).join(', ');
    return `| \`${m.name}\` | ${params} | ${typeText(m.result.schema)} | ${m.summary.replace(/\|/g, '\\|')} |`;
  };
  const lines = [
    '# JSON-RPC methods',
    '',
    'Generated from `protocols/rpc.ts` by `npm run docs:rpc`; a node returns the same table as an',
    'OpenRPC 1.3 document from `rpc.discover`, for generating clients in any language. SPEC §9 says what',
    'each method does; `debug.*` exists only on a node in test mode (`--clock manual`).',
    '',
    '| method | params | result | what it does |',
    '| --- | --- | --- | --- |',
  ];
  for (const m of doc.methods) lines.push(row(m));
  lines.push(
    '',
    '## Requests from the node to a client',
    '',
    'A connection that serves providers (`session.serve`, SPEC §9.5) gets these JSON-RPC requests from the',
    'node (with string ids) and answers each with a result or an error. `rpc.discover` lists them under',
    '`x-client-methods`.',
    '',
    '| method | params | result | what it does |',
    '| --- | --- | --- | --- |',
    ...doc['x-client-methods'].map(row),
  );
  return lines.join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = fileURLToPath(new URL('../../docs/rpc.md', import.meta.url));
  writeFileSync(out, rpcMarkdown());
  process.stdout.write(`wrote ${out}\n`);
}
