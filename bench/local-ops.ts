/**
 * bench/local-ops: one node's registry operations. Prints JSON lines:
 *  - verify_baseline: raw single-core node:crypto Ed25519 verifies/s over the very signatures the
 *    put_record runs carry, one cached KeyObject per distinct key;
 *  - put_record through the RPC (a node process) with 1, 8 and 64 concurrent clients, and in-process
 *    (the resource shard, no socket), each with `ratio_to_verify` = records/s ÷ verifies/s
 *    (a record carries two signatures, so 0.5 is the single-core ceiling; goal ≥ 0.35 over RPC);
 *  - get_records p50/p99 over the RPC with 10 000 resources × 32 records (goal p99 < 2 ms).
 *
 * Run: npm run bench:local-ops   (env BENCH_SCALE=0.1 for a quick run)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Identity } from '../protocols/identity.js';
import { makeKey, makeMetadata, makeRecord, recordEntry } from '../protocols/signed.js';
import { DEFAULT_RULE_CONFIG, type Key, type Record as ProviderRecord } from '../protocols/types.js';
import { benchIdentity, percentile, startNodeProcess, verifyBaseline } from './common.js';
import { RpcClient } from '../runtime/client/rpc-client.js';
import { openLmdbStore } from '../runtime/store/lmdb-store.js';
import { toStoreWrites } from '../runtime/store/shard.js';
import { stateFromEntries } from '../protocols/registry.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);

const identity = (n: number): Identity => benchIdentity(n, 0x5b);

function emit(line: object): void {
  process.stdout.write(JSON.stringify({ bench: 'local-ops', ...line }) + '\n');
}


/** `keys` resources with `perKey` records each, each record issued and hosted by one of `perKey` peers. */
function makeWorkload(keys: number, perKey: number, now: number, salt: number): { keyObjs: Key[]; records: ProviderRecord[] } {
  const owner = identity(100_000 + salt);
  const issuers = Array.from({ length: perKey }, (_, i) => identity(i));
  const keyObjs: Key[] = [];
  const records: ProviderRecord[] = [];
  for (let k = 0; k < keys; k++) {
    const key = makeKey(owner, { label: `bench-${salt}-${k}`, timestamp_created: now });
    keyObjs.push(key);
    issuers.forEach((issuer, i) => {
      const md = makeMetadata(issuer, { key_id: key.id, peer_id: issuer.peerId, timestamp_issued: now - i, value: `wss://svc-${i}.example/${k}` });
      records.push(makeRecord(issuer, md, now));
    });
  }
  return { keyObjs, records };
}




async function putOverRpc(url: string, keys: Key[], records: ProviderRecord[], clients: number): Promise<number> {
  const conns = await Promise.all(Array.from({ length: clients }, () => RpcClient.connect(url)));
  await Promise.all(keys.map((key, i) => conns[i % clients].call('registry.register_key', { key })));
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    conns.map(async (c) => {
      for (let i = next++; i < records.length; i = next++) await c.call('registry.put_record', { record: records[i] });
    }),
  );
  const rate = records.length / ((performance.now() - t0) / 1000);
  await Promise.all(conns.map((c) => c.close()));
  return rate;
}

async function main(): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const perKey = 30;
  const putKeys = Math.max(10, Math.round(400 * SCALE));
  const work = makeWorkload(putKeys, perKey, now, 1);
  const verifiesPerS = verifyBaseline(work.records);
  emit({ op: 'verify_baseline', verifies_per_s: Math.round(verifiesPerS), signatures: work.records.length * 2, cached_keys: perKey });
  const ratio = (recordsPerS: number) => Number((recordsPerS / verifiesPerS).toFixed(3));

  for (const clients of [1, 8, 64]) {
    const dir = mkdtempSync(join(tmpdir(), 'signpost-bench-'));
    const node = await startNodeProcess(dir);
    const w = clients === 1 ? { keyObjs: work.keyObjs.slice(0, Math.ceil(putKeys / 4)), records: work.records.slice(0, Math.ceil(putKeys / 4) * perKey) } : work;
    const rate = await putOverRpc(node.url, w.keyObjs, w.records, clients);
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
    emit({ op: 'put_record', via: 'rpc', clients, records: w.records.length, records_per_s: Math.round(rate), ratio_to_verify: ratio(rate), goal_ratio: 0.35 });
  }

  {
    const resources = Math.max(100, Math.round(10_000 * SCALE));
    const dir = mkdtempSync(join(tmpdir(), 'signpost-bench-'));
    const store = await openLmdbStore({ dataDir: dir });
    const owner = identity(200_000);
    const issuers = Array.from({ length: 32 }, (_, i) => identity(i));
    const ids: string[] = [];
    const ctx = { now, cfg: DEFAULT_RULE_CONFIG, hostPeerId: identity(999_999).peerId };
    for (let k = 0; k < resources; k++) {
      const key = makeKey(owner, { label: `get-${k}`, timestamp_created: now });
      ids.push(key.id);
      const entries = issuers.map((issuer, i) => recordEntry(makeRecord(issuer, makeMetadata(issuer, { key_id: key.id, peer_id: issuer.peerId, timestamp_issued: now - i, value: `wss://svc-${i}.example/${k}` }), now)));
      const stored = { key, published: null };
      const state = stateFromEntries(stored, entries);
      void store.write(toStoreWrites(key.id, { key: stored, put: entries, deleted: [] }, state, ctx));
      if (k % 500 === 499) await store.write([]);
    }
    await store.write([]);
    await store.close();
    const node = await startNodeProcess(dir);
    const client = await RpcClient.connect(node.url);
    // First touch of each resource activates its actor from LMDB; the second pass finds it live.
    for (const pass of ['first_touch', 'live'] as const) {
      const samples: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        const id = ids[(i * 7919) % ids.length];
        const t0 = performance.now();
        const got = await client.call<unknown[]>('registry.get_records', { key_id: id });
        samples.push(performance.now() - t0);
        if (got.length !== 32) throw new Error(`expected 32 records, got ${got.length}`);
      }
      samples.sort((a, b) => a - b);
      emit({ op: 'get_records', via: 'rpc', actors: pass, resources, records_per_resource: 32, requests: samples.length, p50_ms: Number(percentile(samples, 50).toFixed(3)), p99_ms: Number(percentile(samples, 99).toFixed(3)), goal_p99_ms: 2 });
    }
    await client.close();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
