#!/usr/bin/env node
/**
 * The top self-time entries of one or more V8 CPU profiles (`node --cpu-prof`), summed over the files:
 *   node scripts/profile-top.mjs DIR_OR_FILES... [--top 10]
 * Prints one JSON line per entry: function, file:line, self ms, share of all samples.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 10;
const files = args.flatMap((a) => (statSync(a).isDirectory() ? readdirSync(a).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(a, f)) : [a]));
if (files.length === 0) {
  process.stderr.write('usage: profile-top.mjs DIR_OR_FILES... [--top N]\n');
  process.exit(2);
}
const self = new Map();
let total = 0;
for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const deltas = p.timeDeltas;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]);
    const us = deltas[i + 1] ?? 0;
    const f = n.callFrame;
    const url = f.url ? relative(process.cwd(), f.url.replace(/^file:\/\//, '')) : '';
    const name = `${f.functionName || '(anonymous)'} ${url}${url ? `:${f.lineNumber + 1}` : ''}`;
    self.set(name, (self.get(name) ?? 0) + us);
    total += us;
  }
}
const busy = [...self].filter(([k]) => !k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
process.stdout.write(JSON.stringify({ profiles: files.length, sampled_ms: Math.round(total / 1000), busy_ms: Math.round(busy / 1000) }) + '\n');
for (const [name, us] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
  process.stdout.write(JSON.stringify({ self_ms: Math.round(us / 1000), share_of_busy: Number((us / busy).toFixed(3)), entry: name.trim() }) + '\n');
}
