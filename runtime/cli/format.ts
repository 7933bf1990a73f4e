/**
 * What the CLI's client commands (`resource`, `provider`, `resolve`, `peers`, `watch`) share: the client's
 * identity file, human-readable output, and progress on stderr.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Ed25519 } from '../../protocols/crypto.js';
import { generateIdentity, type Identity } from '../../protocols/identity.js';
import { systemRandom } from '../../protocols/random.js';
import { loadOrCreateIdentity, readIdentityFile } from '../node/identity-file.js';
import { keyPolicy } from '../../protocols/pow.js';
import type { Key, Record as ProviderRecord } from '../../protocols/types.js';
import type { MiningProgress, PeerError, PeerInfo, ProviderOutcome } from '../client/client.js';
import { RpcError } from '../client/rpc-client.js';

/** The client identity the CLI signs with when no `--key` is given (created on first use, mode 0600). */
export function defaultClientKeyFile(): string {
  return join(homedir(), '.signpost', 'client.json');
}

/**
 * The client's identity: `--key FILE` (which must exist), else the default file. A command that signs
 * creates the default file when it is missing (`create`); a read-only command uses a throwaway identity
 * instead, so looking something up never writes a file.
 */
export function loadClientIdentity(file: string | undefined, create: boolean, ed25519: Ed25519): { identity: Identity; note?: string } {
  const path = file ?? defaultClientKeyFile();
  const found = readIdentityFile(path, ed25519);
  if (found) return { identity: found };
  if (file !== undefined) throw new Error(`--key ${file}: no such file (create one with: signpost keygen --out ${file})`);
  if (!create) return { identity: generateIdentity(systemRandom, ed25519) };
  const { identity, created } = loadOrCreateIdentity(path, systemRandom, ed25519);
  return created ? { identity, note: `created the client identity ${identity.peerId} in ${path}` } : { identity };
}

/** "open", "owner only (12D3…)", "hashcash/v1: 16 bits, half-life 86400 s". */
export function policyText(key: Key): string {
  const p = keyPolicy(key);
  if (!p) return `${key.challenge_type} (invalid challenge)`;
  if (p.type === 'open') return 'open (anyone may register providers)';
  if (p.type === 'owner') return 'owner/v1 (only the owner may register providers)';
  return `hashcash/v1 (at least ${p.minBits} bits of work, decaying one bit per ${p.halfLife} s)`;
}

/** The largest whole unit of a number of seconds: `23 h`, `5 min`, `42 s`, `3 d`. */
function durationText(seconds: number): string {
  const s = Math.abs(seconds);
  const [unit, size] = ([['d', 86400], ['h', 3600], ['min', 60], ['s', 1]] as const).find(([, n]) => s >= n) ?? ['s', 1];
  return `${Math.floor(s / size)} ${unit}`;
}

/** A node-clock time as ISO-8601 UTC, `2026-12-06T21:30:00Z` (seconds beyond what a Date can hold stay seconds). */
export function isoTime(t: number): string {
  return Number.isSafeInteger(t) && t * 1000 <= 8.64e15 ? new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') : `${t} s`;
}

/**
 * A node-clock time for people: ISO-8601 UTC and how far it is from the node's `now`,
 * `2026-12-06T21:30:00Z, in 23 h` (`--json` output keeps the raw seconds).
 */
export function timeText(t: number, now: number): string {
  const d = t - now;
  return `${isoTime(t)}, ${d === 0 ? 'now' : d > 0 ? `in ${durationText(d)}` : `${durationText(d)} ago`}`;
}

export function keyText(key: Key, now: number): string {
  return [
    `resource ${key.id}`,
    `  label              ${JSON.stringify(key.label)}`,
    `  owner              ${key.owner_peer_id}`,
    `  policy             ${policyText(key)}`,
    `  created            ${timeText(key.timestamp_created, now)}`,
  ].join('\n');
}

/** Aligned columns with a header row. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, col) => rows.reduce((w, r) => Math.max(w, r[col].length), h.length));
  const line = (r: string[]) =>
    r
      .map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Providers as a table, best first: who runs it (host), who issued it, its relay, service and value. */
export function providersText(providers: ProviderRecord[], now: number): string {
  if (providers.length === 0) return 'no providers';
  const rows = providers.map((p, i) => [
    String(i + 1),
    p.metadata.peer_id,
    p.metadata.issued_by === p.metadata.peer_id ? '(host)' : p.metadata.issued_by,
    p.metadata.relay_id[0] ?? '-',
    p.metadata.service_id[0] ?? '-',
    timeText(p.metadata.timestamp_issued, now),
    timeText(p.timestamp_created, now),
    JSON.stringify(p.metadata.value),
  ]);
  return table(['#', 'HOST', 'ISSUED_BY', 'RELAY', 'SERVICE', 'ISSUED', 'CREATED', 'VALUE'], rows);
}

export function peersText(peers: PeerInfo[], now: number): string {
  if (peers.length === 0) return 'no peers (the node knows no other node)';
  return table(
    ['PEER_ID', 'ADDRESS', 'BUCKET', 'LAST_SEEN'],
    peers.map((p) => [p.peer_id, p.address, String(p.distance_bucket), timeText(p.last_seen, now)]),
  );
}

/** One provider's outcome of `provider call`, as `--json` prints it. */
export type CallOutcomeJson = {
  peer_id: string;
  /** null for a node provider (called directly). */
  relay_id: string | null;
  service_id: string | null;
} & ({ ok: true; result: unknown } | { ok: false; error: { code: string; message: string; data: { [k: string]: unknown } } });

/**
 * An outcome of `executeOnProviders` as JSON: the result, or the error's code (SPEC §7, or the provider's
 * own `data.code`), message and data. A record that names no service cannot be called (`no_service`).
 */
export function callOutcomeJson(o: ProviderOutcome<unknown>): CallOutcomeJson {
  const m = o.provider.metadata;
  const who = { peer_id: m.peer_id, relay_id: m.relay_id[0] ?? null, service_id: m.service_id[0] ?? null };
  if (o.ok) return { ...who, ok: true, result: o.result ?? null };
  const e = o.error;
  if (e instanceof RpcError) return { ...who, ok: false, error: { code: e.code, message: e.message, data: e.data } };
  if (m.service_id.length === 0) {
    return { ...who, ok: false, error: { code: 'no_service', message: 'its record names no service to call (give --service S to call the providers of S only)', data: {} } };
  }
  const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'client_error';
  return { ...who, ok: false, error: { code, message: (e as Error)?.message ?? String(e), data: {} } };
}

/** `provider call`: one block per provider (host, relay, service, `ok RESULT` or `error CODE: MESSAGE`), then a count. */
export function outcomesText(resourceId: string, serviceId: string | undefined, outcomes: CallOutcomeJson[]): string {
  if (outcomes.length === 0) return `no providers of ${resourceId}${serviceId === undefined ? '' : ` for service ${serviceId}`}`;
  const blocks = outcomes.map((o) =>
    [
      `provider ${o.peer_id}`,
      `  relay    ${o.relay_id ?? '- (a node, called directly)'}`,
      `  service  ${o.service_id ?? '-'}`,
      o.ok ? `  ok       ${JSON.stringify(o.result)}` : `  error    ${o.error.code}: ${o.error.message}`,
    ].join('\n'),
  );
  const failed = outcomes.filter((o) => !o.ok).length;
  const n = outcomes.length;
  const count = failed === 0 ? `${n === 1 ? 'the provider' : `all ${n} providers`} answered` : `${failed} of ${n} provider${n === 1 ? '' : 's'} failed`;
  return `${blocks.join('\n')}\n${count}`;
}

/** "acks 1", then one line per node that failed. */
export function acksText(acks: number, errors: PeerError[]): string {
  return [`acks ${acks}`, ...errors.map((e) => `  ${e.peer_id}: ${e.code}: ${e.message}`)].join('\n');
}

/** A failure as the CLI prints it on stderr: the code and message, and the failing nodes of a quorum failure. */
export function errorText(e: unknown): string {
  if (!(e instanceof RpcError)) return (e as Error)?.message ?? String(e);
  const errors = Array.isArray(e.data.errors) ? (e.data.errors as PeerError[]) : [];
  const acks = typeof e.data.acks === 'number' ? ` (acks ${e.data.acks})` : '';
  return [`${e.code}: ${e.message}${acks}`, ...errors.map((x) => `  ${x.peer_id}: ${x.code}: ${x.message}`)].join('\n');
}

/** Progress on stderr: rewritten in place on a terminal, at most one line a second when piped. */
export function progressWriter(out: NodeJS.WriteStream = process.stderr): { update(text: string): void; done(text?: string): void } {
  let last = 0;
  let pending = false;
  return {
    update(text) {
      const now = Date.now();
      if (out.isTTY) {
        out.write(`\r\x1b[K${text}`);
        pending = true;
      } else if (now - last >= 1000) {
        out.write(`${text}\n`);
        last = now;
      }
    },
    done(text) {
      if (pending) out.write('\r\x1b[K');
      pending = false;
      if (text) out.write(`${text}\n`);
    },
  };
}

/** "mining proof of work: 1.2M tries, best 15 of 20 bits". */
export function miningText(p: MiningProgress): string {
  const tries = p.tries >= 1e6 ? `${(p.tries / 1e6).toFixed(1)}M` : p.tries >= 1e3 ? `${Math.round(p.tries / 1e3)}k` : String(p.tries);
  return `mining proof of work: ${tries} tries (about ${expectedTries(p.minBits)} expected), best ${p.bits} of ${p.minBits} bits`;
}

function expectedTries(bits: number): string {
  const n = 2 ** bits;
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${Math.round(n / 1e3)}k` : String(n);
}
