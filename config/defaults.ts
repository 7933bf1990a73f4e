// Every configuration key of SPEC §12, its type and its default: the one table that the loader
// (load.ts) and the README share. The keys the storage rules read take their defaults from the rules'
// own table (protocols/types.ts DEFAULT_RULE_CONFIG), so each default is written once.
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_RULE_CONFIG, type RuleConfig } from '../protocols/types.js';

/** A node's configuration. Durations are seconds unless the name ends in `_ms`. */
export interface Config {
  /** Address the node listens on. Default `"127.0.0.1"`. */
  host: string;
  /** Port the node listens on; `0` picks a free port. Default `7070`. */
  port: number;
  /** Directory for the store and the identity. Default `"./.signpost"`. */
  data_dir: string;
  /** Identity key file. Default `null`, which the loader resolves to `<data_dir>/identity.json`. */
  identity: string;
  /** `"system"` or `"manual"` (test mode, SPEC §10). Default `"system"`. */
  clock: 'system' | 'manual';
  /** Time (seconds) the manual clock starts at on every start. Default `0`. */
  clock_start: number;
  /** Base URLs (`ws://` or `wss://`) of other nodes; a trailing `/p2p` is removed. Default `[]`. */
  bootstrap: string[];
  /** Peer ids allowed node-level operations (SPEC §9.3). Default `[]`. */
  admins: string[];
  /** Worker threads for resource actors; `0` runs them in the main thread. Default cores − 1, at least 1. */
  workers: number;
  /** A timestamp up to this far in the future is accepted (s). Default `30`. */
  max_clock_skew: number;
  /** A key not republished to this node for this long is stale (s). Default `3600`. */
  stale_timeout: number;
  /** Records, tombstones and empty keys older than this are expired (s). Default `86400`. */
  expired_timeout: number;
  /** A host renews its own records this often (s). Default `43200`. */
  renew_interval: number;
  /** The republish job runs this often (s). Default `3600`. */
  replicate_interval: number;
  /** The clear_expired job runs this often (s). Default `3600`. */
  gc_interval: number;
  /** Anti-entropy sync with the neighbours runs this often (s; ±10 % under the system clock); `0` turns sync off. Default `60`. */
  sync_interval: number;
  /** Providers kept per resource (SPEC §4.4). Default `32`. */
  records_limit: number;
  /** Record and tombstone slots kept per resource (SPEC §4.4). Default `1024`. */
  max_entries_per_key: number;
  /** Kademlia bucket size and neighbourhood size. Default `20`. */
  k: number;
  /** Kademlia lookup parallelism. Default `3`. */
  alpha: number;
  /** Routing-table contacts of one IP group (an IPv4 /16, an IPv6 /32) in the whole table; `0` turns the limit off. Default `3`. */
  peer_diversity_per_table: number;
  /** Routing-table contacts of one IP group in one bucket. Default `2`. */
  peer_diversity_per_bucket: number;
  /** `private`: loopback, private, link-local and shared addresses are exempt from the peer-diversity limit; `none`: no address is. Default `"private"`. */
  peer_diversity_exempt: 'private' | 'none';
  /** Default `timeout_ms` of fan-out calls and node-to-node requests. Default `6000`. */
  request_timeout_ms: number;
  /** Largest frame accepted on a connection (bytes). Default `1048576`. */
  max_frame_bytes: number;
  /** Largest JSON-RPC batch per connection. Default `100`. */
  max_batch: number;
  /** Requests in flight per connection. Default `256`. */
  max_concurrent_requests: number;
  /** Token-bucket refill rate per connection (requests/s). Default `2000`. */
  rate_limit_per_s: number;
  /** Token-bucket capacity per connection (requests). Default `4000`. */
  rate_limit_burst: number;
  /** Provider calls (SPEC §9.5) this node relays per second for one caller (token-bucket refill). Default `1000`. */
  relay_rate_per_s: number;
  /** Token-bucket capacity of one caller's relayed calls. Default `2000`. */
  relay_rate_burst: number;
  /** Idle time (wall clock) before a resource actor is stopped. Default `60000`. */
  passivate_after_ms: number;
  /**
   * Base URLs this node tells peers and clients (`ws://` or `wss://`, never a wildcard host). Default `[]`:
   * the listen address, a wildcard (`0.0.0.0`, `::`) replaced by the interface addresses.
   */
  announce: string[];
  /** Log threshold: debug, info, warn or error. Default `"info"`. Addition beyond SPEC §12. */
  log_level: 'debug' | 'info' | 'warn' | 'error';
  /** TLS certificate file (PEM) for wss/https. Default `null` (plain ws). Addition beyond SPEC §12. */
  tls_cert: string | null;
  /** TLS private key file (PEM), set together with tls_cert. Default `null`. Addition beyond SPEC §12. */
  tls_key: string | null;
}

export type ConfigKey = keyof Config;

/** How a key's value is typed and checked. */
export type ValueKind =
  | { type: 'int'; min: number; max?: number }
  | { type: 'string' }
  | { type: 'path' }
  | { type: 'nullable-path' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'peer-id-list' }
  | { type: 'url-list' }
  /** Base URLs to announce: ws:// or wss://, no wildcard host. */
  | { type: 'announce-list' };

export interface ConfigKeySpec {
  key: ConfigKey;
  kind: ValueKind;
  /** The default as shown in docs. */
  default: string;
  description: string;
  /** True for keys this implementation adds beyond SPEC §12. */
  extension?: true;
}

const DEFAULT_DATA_DIR = './.signpost';

export function defaultConfig(): Config {
  return {
    host: '127.0.0.1',
    port: 7070,
    data_dir: DEFAULT_DATA_DIR,
    identity: path.join(DEFAULT_DATA_DIR, 'identity.json'),
    clock: 'system',
    clock_start: 0,
    bootstrap: [],
    admins: [],
    workers: Math.max(1, os.availableParallelism() - 1),
    max_clock_skew: DEFAULT_RULE_CONFIG.max_clock_skew,
    stale_timeout: DEFAULT_RULE_CONFIG.stale_timeout,
    expired_timeout: DEFAULT_RULE_CONFIG.expired_timeout,
    renew_interval: DEFAULT_RULE_CONFIG.renew_interval,
    replicate_interval: 3600,
    gc_interval: 3600,
    sync_interval: 60,
    records_limit: DEFAULT_RULE_CONFIG.records_limit,
    max_entries_per_key: DEFAULT_RULE_CONFIG.max_entries_per_key,
    k: 20,
    alpha: 3,
    peer_diversity_per_table: 3,
    peer_diversity_per_bucket: 2,
    peer_diversity_exempt: 'private',
    request_timeout_ms: 6000,
    max_frame_bytes: 1048576,
    max_batch: 100,
    max_concurrent_requests: 256,
    rate_limit_per_s: 2000,
    rate_limit_burst: 4000,
    relay_rate_per_s: 1000,
    relay_rate_burst: 2000,
    passivate_after_ms: 60000,
    announce: [],
    log_level: 'info',
    tls_cert: null,
    tls_key: null,
  };
}

const int = (min: number, max?: number): ValueKind => ({ type: 'int', min, max });

type Entry = { kind: ValueKind; description: string; defaultText?: string; extension?: true };

// The mapped type makes the compiler insist on one entry per Config field, in field order.
const ENTRIES: { [K in ConfigKey]: Entry } = {
  host: { kind: { type: 'string' }, description: 'address the node listens on' },
  port: { kind: int(0, 65535), description: 'port the node listens on; 0 picks a free port' },
  data_dir: { kind: { type: 'path' }, description: 'directory for the store and the identity' },
  identity: { kind: { type: 'nullable-path' }, defaultText: '<data_dir>/identity.json', description: 'identity key file' },
  clock: { kind: { type: 'enum', values: ['system', 'manual'] }, description: 'system, or manual for test mode (SPEC §10)' },
  clock_start: { kind: int(0), description: 'seconds the manual clock starts at' },
  bootstrap: { kind: { type: 'url-list' }, description: 'base URLs (ws:// or wss://) of other nodes' },
  admins: { kind: { type: 'peer-id-list' }, description: 'peer ids allowed node-level operations (SPEC §9.3)' },
  workers: { kind: int(0, 64), defaultText: 'cores − 1, at least 1', description: 'worker threads for resource actors; 0 runs them in the main thread' },
  max_clock_skew: { kind: int(0), description: 'seconds a timestamp may lie in the future' },
  stale_timeout: { kind: int(1), description: 'seconds after which a key not republished here is stale' },
  expired_timeout: { kind: int(1), description: 'seconds after which records, tombstones and empty keys expire' },
  renew_interval: { kind: int(1), description: 'seconds between renewals of a host\'s own records' },
  replicate_interval: { kind: int(1), description: 'seconds between runs of the republish job' },
  gc_interval: { kind: int(1), description: 'seconds between runs of the clear_expired job' },
  sync_interval: { kind: int(0), description: 'seconds between anti-entropy sync sessions with the neighbours (±10 % jitter on the system clock); 0 turns sync off' },
  records_limit: { kind: int(1), description: 'providers kept per resource (SPEC §4.4)' },
  max_entries_per_key: { kind: int(1), description: 'record and tombstone slots per resource, at least records_limit (SPEC §4.4)' },
  k: { kind: int(1, 256), description: 'Kademlia bucket size / neighbourhood size' },
  alpha: { kind: int(1, 256), description: 'Kademlia lookup parallelism, at most k' },
  peer_diversity_per_table: { kind: int(0), description: 'routing-table contacts of one IP group (IPv4 /16, IPv6 /32) in the whole table; 0 turns the limit off' },
  peer_diversity_per_bucket: { kind: int(1), description: 'routing-table contacts of one IP group in one bucket' },
  peer_diversity_exempt: { kind: { type: 'enum', values: ['private', 'none'] }, description: 'private: loopback, private, link-local and shared addresses are exempt from the peer-diversity limit; none: no address is' },
  request_timeout_ms: { kind: int(1), description: 'default timeout_ms of fan-out calls and node-to-node requests' },
  max_frame_bytes: { kind: int(1024), description: 'largest frame per connection (bytes)' },
  max_batch: { kind: int(1), description: 'largest JSON-RPC batch per connection' },
  max_concurrent_requests: { kind: int(1), description: 'requests in flight per connection' },
  rate_limit_per_s: { kind: int(1), description: 'token-bucket refill per connection (requests/s)' },
  rate_limit_burst: { kind: int(1), description: 'token-bucket capacity per connection (requests)' },
  relay_rate_per_s: { kind: int(1), description: 'provider calls this node relays per second for one caller (token-bucket refill; SPEC §9.5)' },
  relay_rate_burst: { kind: int(1), description: 'token-bucket capacity of one caller\'s relayed calls' },
  passivate_after_ms: { kind: int(1), description: 'idle wall-clock time before a resource actor is stopped' },
  announce: { kind: { type: 'announce-list' }, description: 'base URLs (ws:// or wss://) this node tells peers and clients; empty: the listen address, a wildcard replaced by the interface addresses' },
  log_level: { kind: { type: 'enum', values: ['debug', 'info', 'warn', 'error'] }, description: 'log threshold', extension: true },
  tls_cert: { kind: { type: 'nullable-path' }, description: 'TLS certificate file (PEM); null serves plain ws', extension: true },
  tls_key: { kind: { type: 'nullable-path' }, description: 'TLS private key file (PEM), set together with tls_cert', extension: true },
};

/** Every key with its kind, documented default and meaning, in SPEC §12 order (additions last). */
export const CONFIG_KEYS: readonly ConfigKeySpec[] = (() => {
  const defaults = defaultConfig();
  return (Object.keys(ENTRIES) as ConfigKey[]).map((key) => {
    const { kind, description, defaultText, extension } = ENTRIES[key];
    return { key, kind, description, default: defaultText ?? JSON.stringify(defaults[key]), ...(extension ? { extension } : {}) };
  });
})();

/** The keys of `config` the storage rules read (SPEC §4). */
export function ruleConfigOf(config: Config): RuleConfig {
  const rules = { ...DEFAULT_RULE_CONFIG };
  for (const key of Object.keys(rules) as (keyof RuleConfig)[]) rules[key] = config[key];
  return rules;
}
