// Builds a Config from defaults, a JSON file, the environment and flags (SPEC §12).
// Precedence: flags > environment > file > defaults. Every error names the key and where it came from.
//
// Paths (data_dir, identity, tls_cert, tls_key) from any source, the file included, are resolved against
// the current working directory, not against the config file's directory. identity null (the default)
// becomes <data_dir>/identity.json, using data_dir from whichever source won.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isValidPeerId } from '../protocols/identity.js';
import { baseUrlOf, hostOf, isWildcardHost } from '../protocols/urls.js';
import { CONFIG_KEYS, defaultConfig, type Config, type ConfigKey, type ValueKind } from './defaults.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadConfigOptions {
  /** Path of a JSON config file. */
  file?: string;
  /** Environment; pass `process.env`. Omitted means no environment is read. */
  env?: Record<string, string | undefined>;
  /** Parsed CLI flags keyed by config key (`data_dir` or `data-dir`); strings are parsed like env values. `config` is skipped. */
  flags?: Partial<Record<string, unknown>>;
}

/** `data_dir` → `SIGNPOST_DATA_DIR`. */
export function configToEnvName(key: string): string {
  return `SIGNPOST_${key.toUpperCase()}`;
}

/** `data_dir` → `--data-dir`. */
export function configToFlagName(key: string): string {
  return `--${key.replaceAll('_', '-')}`;
}

const KINDS = new Map<string, ValueKind>(CONFIG_KEYS.map((e) => [e.key, e.kind]));
const KEY_OF_ENV = new Map<string, ConfigKey>(CONFIG_KEYS.map((e) => [configToEnvName(e.key), e.key]));
const ENV_PREFIX = 'SIGNPOST_';

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const values: Record<string, unknown> = { ...defaultConfig(), identity: null };
  const sources: Record<string, string> = Object.fromEntries(CONFIG_KEYS.map((e) => [e.key, 'defaults']));
  const set = (key: string, raw: unknown, source: string, fromText: boolean) => {
    values[key] = parseValue(key, raw, source, fromText);
    sources[key] = source;
  };

  if (options.file !== undefined) {
    for (const [key, raw] of Object.entries(readConfigFile(options.file))) {
      if (!KINDS.has(key)) throw new ConfigError(`config: unknown key ${JSON.stringify(key)} in file ${options.file}`);
      set(key, raw, `file ${options.file}`, false);
    }
  }
  for (const [name, raw] of Object.entries(options.env ?? {})) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue;
    const key = KEY_OF_ENV.get(name);
    if (key === undefined) throw new ConfigError(`config: unknown environment variable ${name}`);
    set(key, raw, `environment ${name}`, true);
  }
  for (const [name, raw] of Object.entries(options.flags ?? {})) {
    if (raw === undefined || name === 'config') continue;
    const key = name.replaceAll('-', '_');
    if (!KINDS.has(key)) throw new ConfigError(`config: unknown flag ${configToFlagName(key)}`);
    set(key, raw, `flag ${configToFlagName(key)}`, typeof raw === 'string');
  }

  for (const { key, kind } of CONFIG_KEYS) {
    if ((kind.type === 'path' || kind.type === 'nullable-path') && typeof values[key] === 'string') {
      values[key] = path.resolve(values[key] as string);
    }
  }
  values.identity ??= path.join(values.data_dir as string, 'identity.json');
  const config = values as unknown as Config;
  checkAcrossKeys(config, sources);
  return config;
}

function readConfigFile(file: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`config: cannot read file ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`config: file ${file} must hold a JSON object`);
  }
  return data as Record<string, unknown>;
}

/** Checks one value; `fromText` values (env, argv) are parsed from strings first. */
function parseValue(key: string, raw: unknown, source: string, fromText: boolean): unknown {
  const kind = KINDS.get(key)!;
  const fail = (expected: string, got: unknown = raw): never => {
    throw new ConfigError(`config: ${JSON.stringify(key)} from ${source} must be ${expected}, got ${JSON.stringify(got)}`);
  };
  const isFilled = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
  switch (kind.type) {
    case 'int': {
      const expected = kind.max === undefined ? `an integer >= ${kind.min}` : `an integer ${kind.min}..${kind.max}`;
      const n = fromText ? (/^-?\d+$/.test(raw as string) ? Number(raw) : NaN) : raw;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < kind.min || n > (kind.max ?? Infinity)) fail(expected);
      return n;
    }
    case 'string':
    case 'path':
      return isFilled(raw) ? raw : fail('a non-empty string');
    case 'nullable-path':
      if (raw === null || (fromText && raw === '')) return null;
      return isFilled(raw) ? raw : fail('a non-empty string or null');
    case 'enum':
      return typeof raw === 'string' && kind.values.includes(raw) ? raw : fail(`one of ${kind.values.join(', ')}`);
    case 'peer-id-list':
    case 'url-list':
    case 'announce-list': {
      const list = fromText ? parseTextList(raw as string) : raw;
      if (!Array.isArray(list)) return fail('a JSON array or a comma-separated list');
      for (const item of list) if (!isFilled(item)) fail('a list of non-empty strings', item);
      if (kind.type === 'peer-id-list') return list.map((id: string) => (isValidPeerId(id) ? id : fail('a list of Ed25519 peer ids (12D3KooW…)', id)));
      if (kind.type === 'announce-list') return list.map((url: string) => announceUrl(url) ?? fail('a list of ws:// or wss:// URLs whose host is not a wildcard (0.0.0.0, ::)', url));
      return list.map((url: string) => normaliseBootstrapUrl(url) ?? fail('a list of ws:// or wss:// URLs', url));
    }
  }
}

/** A JSON array, or a comma-separated list (empty items dropped); undefined when neither. */
function parseTextList(text: string): unknown {
  if (!text.trim().startsWith('[')) return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A bootstrap node's base URL (protocols/urls.ts); null unless ws:// or wss://. */
export function normaliseBootstrapUrl(text: string): string | null {
  return /^wss?:/i.test(text.trim()) ? baseUrlOf(text.trim()) : null;
}

/** An address to announce: a bootstrap-style base URL whose host a peer can dial (not a wildcard). */
function announceUrl(text: string): string | null {
  const url = normaliseBootstrapUrl(text);
  const host = url === null ? null : hostOf(url);
  return host === null || isWildcardHost(host) ? null : url;
}

function checkAcrossKeys(config: Config, sources: Record<string, string>): void {
  const check = (key: ConfigKey, ok: boolean, expected: string) => {
    if (!ok) throw new ConfigError(`config: ${JSON.stringify(key)} from ${sources[key]} must be ${expected}, got ${JSON.stringify(config[key])}`);
  };
  const ref = (key: ConfigKey) => `${key} (${JSON.stringify(config[key])} from ${sources[key]})`;
  check('max_entries_per_key', config.max_entries_per_key >= config.records_limit, `>= ${ref('records_limit')}`);
  check('alpha', config.alpha <= config.k, `<= ${ref('k')}`);
  // A host that renews less often than records expire loses its own registrations.
  check('renew_interval', config.renew_interval < config.expired_timeout, `< ${ref('expired_timeout')}`);
  check('tls_key', (config.tls_key === null) === (config.tls_cert === null), `set together with ${ref('tls_cert')}`);
}
