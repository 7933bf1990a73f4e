/**
 * SPEC §4.5: every write the node acknowledged survives `kill -9` and a restart.
 * A child process (test/fixtures/store-writer.mjs, running the built dist/) writes continuously and prints
 * each acknowledged key; we SIGKILL it at a random moment, reopen the store and check every acknowledged
 * key is there whole, and that the store is consistent (no key without its entries or the reverse, and
 * the indices agree with the keys).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { describe, expect, it } from 'vitest';
import { openLmdbStore } from '../../../runtime/store/lmdb-store.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const writer = path.join(root, 'test/fixtures/store-writer.mjs');
const built = path.join(root, 'dist/runtime/store/lmdb-store.js');

const MIN_ACKS = 300;
const MAX_RUN_MS = 10_000;

/** Runs the writer until at least MIN_ACKS acks plus a random delay, SIGKILLs it, returns keyId → entry count. */
async function runAndKill(dataDir: string): Promise<Map<string, number>> {
  const child = spawn(process.execPath, [writer, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acked = new Map<string, number>();
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));

  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const killed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer made only ${acked.size} acks in ${MAX_RUN_MS} ms; stderr: ${stderr}`));
    }, MAX_RUN_MS);
    let scheduled = false;
    child.stdout.on('data', (d) => {
      buffered += d;
      const lines = buffered.split('\n');
      buffered = lines.pop()!; // a partial last line is not an ack we may count yet
      for (const line of lines) {
        const [id, n] = line.split(' ');
        acked.set(id, Number(n));
      }
      if (!scheduled && acked.size >= MIN_ACKS) {
        scheduled = true;
        setTimeout(() => {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }, Math.random() * 500);
      }
    });
    child.on('exit', () => {
      if (!scheduled) {
        clearTimeout(timer);
        reject(new Error(`writer exited early after ${acked.size} acks; stderr: ${stderr}`));
      }
    });
  });
  await killed;
  expect(await exited).toBe('SIGKILL');
  // Lines printed before the kill are still in the pipe: 'exit' may come before the last 'data'.
  await new Promise<void>((resolve) => (child.stdout.readableEnded ? resolve() : child.stdout.on('end', resolve)));
  return acked;
}

/** Checks acknowledged keys through the public API, then the raw sub-databases for consistency. */
async function verify(dataDir: string, acked: Map<string, number>): Promise<number> {
  const store = await openLmdbStore({ dataDir });
  const ids: string[] = [];
  for (let page = store.listKeyIds(null, 1000); page.length > 0; page = store.listKeyIds(page[page.length - 1], 1000)) {
    ids.push(...page);
  }
  for (const [id, n] of acked) {
    const snap = store.load(id);
    expect(snap.stored, `acknowledged key ${id} lost`).not.toBeNull();
    expect(snap.entries, `entries of acknowledged key ${id}`).toHaveLength(n);
  }
  // Keys committed but not yet acknowledged when killed must be whole too (the writer puts n in the label).
  for (const id of ids) {
    const snap = store.load(id);
    expect(snap.entries, `entries of key ${id}`).toHaveLength(Number(snap.stored!.key.label.slice(2)));
  }
  expect(store.staleKeyIds(Number.MAX_SAFE_INTEGER)).toEqual(ids);
  await store.close();

  // White box: the sub-database names of runtime/store/lmdb-store.ts.
  const raw = open({ path: path.join(dataDir, 'db'), maxDbs: 16, overlappingSync: false });
  try {
    const keys = new Map(Array.from(raw.openDB('keys', {}).getRange({}), ({ key, value }) => [key as string, value as any]));
    for (const k of raw.openDB('entries', {}).getKeys({})) {
      expect(keys.has((k as string[])[0]), `entry ${String(k)} without its key`).toBe(true);
    }
    const staleRows = Array.from(raw.openDB('stale', {}).getKeys({}), (k) => JSON.stringify(k)).sort();
    const expectedStale = Array.from(keys, ([id, s]) => JSON.stringify([s.published ?? -1, id])).sort();
    expect(staleRows).toEqual(expectedStale);
    for (const index of ['gc', 'renew']) {
      const atOf = Array.from(raw.openDB(`${index}At`, {}).getRange({}), ({ key, value }) => [key as string, value as number] as const);
      for (const [id] of atOf) expect(keys.has(id), `${index}At of missing key ${id}`).toBe(true);
      const rows = Array.from(raw.openDB(index, {}).getKeys({}), (k) => JSON.stringify(k)).sort();
      expect(rows).toEqual(atOf.map(([id, at]) => JSON.stringify([at, id])).sort());
    }
  } finally {
    await raw.close();
  }
  return ids.length;
}

describe('store crash safety', () => {
  it.each([1, 2, 3])('keeps every acknowledged write after SIGKILL (run %i)', async () => {
    if (!fs.existsSync(built)) throw new Error(`${built} is missing: build first (npx tsc -p tsconfig.json)`);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'signpost-crash-'));
    try {
      const acked = await runAndKill(dataDir);
      expect(acked.size).toBeGreaterThanOrEqual(MIN_ACKS);
      const held = await verify(dataDir, acked);
      expect(held).toBeGreaterThanOrEqual(acked.size);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 15_000);
});
