import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/node-process.js';
import { CONFIG_KEYS, ConfigError, configToEnvName, defaultConfig, loadConfig } from '../../../config/index.js';

const dir = tempDir('signpost-config-');
function configFile(content: unknown, name = 'c.json'): string {
  const file = path.join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}
function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  it('match SPEC §12 and §4.1', () => {
    expect(defaultConfig()).toEqual({
      host: '127.0.0.1', port: 7070, data_dir: './.signpost', identity: path.join('./.signpost', 'identity.json'),
      clock: 'system', clock_start: 0, bootstrap: [], admins: [],
      workers: Math.max(1, os.availableParallelism() - 1),
      max_clock_skew: 30, stale_timeout: 3600, expired_timeout: 86400, renew_interval: 43200,
      replicate_interval: 3600, gc_interval: 3600, sync_interval: 60, records_limit: 32, max_entries_per_key: 1024, k: 20, alpha: 3, peer_diversity_per_table: 3, peer_diversity_per_bucket: 2, peer_diversity_exempt: 'private',
      request_timeout_ms: 6000, max_frame_bytes: 1048576, max_batch: 100, max_concurrent_requests: 256,
      rate_limit_per_s: 2000, rate_limit_burst: 4000, relay_rate_per_s: 1000, relay_rate_burst: 2000, passivate_after_ms: 60000, announce: [],
      log_level: 'info', tls_cert: null, tls_key: null,
    });
  });

  it('CONFIG_KEYS documents every key once, with its default', () => {
    expect(CONFIG_KEYS.map((e) => e.key)).toEqual(Object.keys(defaultConfig()));
    const byKey = Object.fromEntries(CONFIG_KEYS.map((e) => [e.key, e]));
    expect(byKey.port.default).toBe('7070');
    expect(byKey.identity.default).toBe('<data_dir>/identity.json');
    expect(CONFIG_KEYS.filter((e) => e.extension).map((e) => e.key)).toEqual(['log_level', 'tls_cert', 'tls_key']);
    expect(configToEnvName('max_entries_per_key')).toBe('SIGNPOST_MAX_ENTRIES_PER_KEY');
  });

  it('loadConfig with no sources gives the defaults with paths resolved', () => {
    expect(loadConfig()).toEqual({
      ...defaultConfig(),
      data_dir: path.resolve('.signpost'),
      identity: path.resolve('.signpost', 'identity.json'),
    });
  });
});

describe('precedence: flags > environment > file > defaults', () => {
  const file = configFile({ port: 1001, host: '10.0.0.1', k: 8, alpha: 2, log_level: 'warn' }, 'prec.json');
  const env = { SIGNPOST_PORT: '1002', SIGNPOST_K: '9', SIGNPOST_LOG_LEVEL: 'error', HOME: '/x' };
  const flags = { port: '1003' };

  it('each key takes its highest source', () => {
    const c = loadConfig({ file, env, flags });
    expect(c.port).toBe(1003); // flag
    expect(c.k).toBe(9); // env over file
    expect(c.log_level).toBe('error'); // env over file
    expect(c.host).toBe('10.0.0.1'); // file
    expect(c.alpha).toBe(2); // file
    expect(c.max_batch).toBe(100); // default
  });

  it('drops one source at a time', () => {
    expect(loadConfig({ file, env }).port).toBe(1002);
    expect(loadConfig({ file }).port).toBe(1001);
    expect(loadConfig({ flags: { port: 0, clock: 'manual' } })).toMatchObject({ port: 0, clock: 'manual' });
  });

  it('ignores undefined values, non-SIGNPOST variables and the config flag', () => {
    const c = loadConfig({ env: { SIGNPOST_PORT: undefined, PATH: '/bin' }, flags: { port: undefined, config: 'x.json' } });
    expect(c.port).toBe(7070);
  });
});

describe('paths', () => {
  it('identity follows data_dir from any source unless set', () => {
    const file = configFile({ data_dir: 'from-file' }, 'paths.json');
    expect(loadConfig({ file }).identity).toBe(path.resolve('from-file/identity.json'));
    expect(loadConfig({ file, env: { SIGNPOST_DATA_DIR: '/env-dir' } }).identity).toBe('/env-dir/identity.json');
    expect(loadConfig({ file, flags: { data_dir: '/flag-dir' } }).identity).toBe('/flag-dir/identity.json');
    expect(loadConfig({ file, flags: { 'data-dir': '/dash-dir' } }).data_dir).toBe('/dash-dir');
    expect(loadConfig({ flags: { data_dir: '/d', identity: 'id.json' } }).identity).toBe(path.resolve('id.json'));
    expect(loadConfig({ file: configFile({ identity: null }, 'null-id.json'), env: { SIGNPOST_DATA_DIR: '/e' } }).identity)
      .toBe('/e/identity.json');
  });

  it('relative paths in the file resolve against the working directory', () => {
    const file = configFile({ data_dir: 'rel/data', tls_cert: 'c.pem', tls_key: 'k.pem' }, 'rel.json');
    const c = loadConfig({ file });
    expect(c.data_dir).toBe(path.join(process.cwd(), 'rel/data'));
    expect(c.tls_cert).toBe(path.join(process.cwd(), 'c.pem'));
  });
});

describe('lists', () => {
  it('env accepts a JSON array or a comma-separated string', () => {
    expect(loadConfig({ env: { SIGNPOST_ADMINS: '["12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5","12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq"]' } }).admins).toEqual(['12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5', '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq']);
    expect(loadConfig({ env: { SIGNPOST_ADMINS: '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5, 12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq,' } }).admins).toEqual(['12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5', '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq']);
    expect(loadConfig({ env: { SIGNPOST_ADMINS: '' } }).admins).toEqual([]);
    expect(loadConfig({ env: { SIGNPOST_BOOTSTRAP: 'ws://a:1,wss://b:2/p2p' } }).bootstrap).toEqual(['ws://a:1', 'wss://b:2']);
    expect(loadConfig({ env: { SIGNPOST_BOOTSTRAP: '["ws://a:1/p2p/"]' } }).bootstrap).toEqual(['ws://a:1']);
  });

  it('bootstrap drops a trailing /p2p or slash from every source', () => {
    const file = configFile({ bootstrap: ['ws://h:7070/p2p', 'ws://h:7071/', 'wss://proxy.example/signpost/p2p'] }, 'bs.json');
    expect(loadConfig({ file }).bootstrap).toEqual(['ws://h:7070', 'ws://h:7071', 'wss://proxy.example/signpost']);
    expect(loadConfig({ flags: { bootstrap: ['ws://x:1/p2p', 'ws://y:2'] } }).bootstrap).toEqual(['ws://x:1', 'ws://y:2']);
    expect(loadConfig({ flags: { bootstrap: 'ws://x:1/p2p' } }).bootstrap).toEqual(['ws://x:1']);
  });
});

describe('errors name the key and the source', () => {
  it('ill-typed values', () => {
    expect(errorOf(() => loadConfig({ env: { SIGNPOST_PORT: 'abc' } })))
      .toBe('config: "port" from environment SIGNPOST_PORT must be an integer 0..65535, got "abc"');
    expect(errorOf(() => loadConfig({ env: { SIGNPOST_K: '12abc' } })))
      .toBe('config: "k" from environment SIGNPOST_K must be an integer 1..256, got "12abc"');
    expect(errorOf(() => loadConfig({ flags: { port: '70000' } })))
      .toBe('config: "port" from flag --port must be an integer 0..65535, got "70000"');
    const file = configFile({ records_limit: 0 }, 'bad.json');
    expect(errorOf(() => loadConfig({ file }))).toBe(`config: "records_limit" from file ${file} must be an integer >= 1, got 0`);
    expect(errorOf(() => loadConfig({ file: configFile({ port: '7070' }, 'str.json') }))).toMatch(/"port" from file .*str\.json must be an integer/);
    expect(errorOf(() => loadConfig({ flags: { clock: 'fast' } }))).toBe('config: "clock" from flag --clock must be one of system, manual, got "fast"');
    expect(errorOf(() => loadConfig({ env: { SIGNPOST_HOST: '' } }))).toBe('config: "host" from environment SIGNPOST_HOST must be a non-empty string, got ""');
    expect(errorOf(() => loadConfig({ env: { SIGNPOST_MAX_FRAME_BYTES: '100' } }))).toMatch(/"max_frame_bytes" from environment SIGNPOST_MAX_FRAME_BYTES must be an integer >= 1024/);
    expect(errorOf(() => loadConfig({ env: { SIGNPOST_WORKERS: '-1' } }))).toMatch(/"workers" .* got "-1"/);
    expect(loadConfig({ env: { SIGNPOST_WORKERS: '0' } }).workers).toBe(0);
  });

  it('bad lists', () => {
    expect(errorOf(() => loadConfig({ env: { SIGNPOST_BOOTSTRAP: 'http://a:1' } })))
      .toBe('config: "bootstrap" from environment SIGNPOST_BOOTSTRAP must be a list of ws:// or wss:// URLs, got "http://a:1"');
    expect(errorOf(() => loadConfig({ flags: { bootstrap: ['not a url'] } }))).toMatch(/"bootstrap" from flag --bootstrap .* got "not a url"/);
    expect(errorOf(() => loadConfig({ env: { SIGNPOST_ADMINS: '["a",' } }))).toMatch(/"admins" from environment SIGNPOST_ADMINS must be a JSON array or a comma-separated list/);
    expect(errorOf(() => loadConfig({ file: configFile({ admins: ['12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5', ''] }, 'adm.json') }))).toMatch(/"admins" from file .* must be a list of non-empty strings, got ""/);
    expect(errorOf(() => loadConfig({ env: { SIGNPOST_ADMINS: '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5,nope' } }))).toMatch(/"admins" from environment SIGNPOST_ADMINS must be a list of Ed25519 peer ids .*, got "nope"/);
  });

  it('unknown keys', () => {
    const file = configFile({ prot: 1 }, 'unknown.json');
    expect(errorOf(() => loadConfig({ file }))).toBe(`config: unknown key "prot" in file ${file}`);
    expect(errorOf(() => loadConfig({ env: { SIGNPOST_PROT: '1' } }))).toBe('config: unknown environment variable SIGNPOST_PROT');
    expect(errorOf(() => loadConfig({ flags: { prot: '1' } }))).toBe('config: unknown flag --prot');
  });

  it('unreadable or non-object files', () => {
    expect(errorOf(() => loadConfig({ file: path.join(dir, 'missing.json') }))).toMatch(/^config: cannot read file .*missing\.json/);
    expect(errorOf(() => loadConfig({ file: configFile('{ nope', 'broken.json') }))).toMatch(/^config: cannot read file .*broken\.json/);
    expect(errorOf(() => loadConfig({ file: configFile([1], 'array.json') }))).toMatch(/must hold a JSON object/);
  });

  it('cross-key checks name both keys and their sources', () => {
    expect(errorOf(() => loadConfig({ env: { SIGNPOST_RECORDS_LIMIT: '64' }, flags: { max_entries_per_key: 10 } })))
      .toBe('config: "max_entries_per_key" from flag --max-entries-per-key must be >= records_limit (64 from environment SIGNPOST_RECORDS_LIMIT), got 10');
    expect(errorOf(() => loadConfig({ env: { SIGNPOST_K: '2' } }))).toBe('config: "alpha" from defaults must be <= k (2 from environment SIGNPOST_K), got 3');
    expect(errorOf(() => loadConfig({ env: { SIGNPOST_EXPIRED_TIMEOUT: '100' } }))).toMatch(/"renew_interval" from defaults must be < expired_timeout \(100 from environment/);
    expect(errorOf(() => loadConfig({ flags: { tls_cert: 'c.pem' } }))).toMatch(/"tls_key" from defaults must be set together with tls_cert \("[^"]*c.pem" from flag --tls-cert\), got null/);
  });
});
