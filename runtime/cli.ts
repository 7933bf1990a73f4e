/**
 * The `signpost` command line (SPEC §11). Command and flag names are a public interface.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { writeFileSync } from 'node:fs';
import { ConfigError, loadConfig } from '../config/index.js';
import { useCryptoBackend } from '../protocols/crypto.js';
import { generateIdentity, identityToFile } from '../protocols/identity.js';
import { nodeCryptoBackend } from './crypto-node.js';
import { startNode } from './node.js';
import { RpcClient, RpcError } from './rpc-client.js';
import { VERSION } from './version.js';
import { logger } from './log.js';

const DEFAULT_URL = 'ws://127.0.0.1:7070/rpc';

const HELP: { [command: string]: string } = {
  main: `signpost ${VERSION}: a decentralised service registry

Usage:
  signpost node start [options]     start a node (see: signpost node start --help)
  signpost keygen [--out FILE]      create an Ed25519 identity file
  signpost call METHOD [JSON] [--url URL]
                                    call a JSON-RPC method of a node

Options:
  --help      show help for a command
  --version   print the version`,
  'node start': `Usage: signpost node start [--config FILE] [--host H] [--port P] [--data-dir DIR]
                          [--identity FILE] [--clock system|manual] [--bootstrap URL]...

Starts a node. Once it listens it prints one line with its peer id, its RPC URL and its
visualiser URL, then logs JSON lines on stderr. SIGINT / SIGTERM stop it cleanly.

  --config FILE      JSON config file (every key of the config reference)
  --host H           listen address (default 127.0.0.1)
  --port P           listen port; 0 picks a free one (default 7070)
  --data-dir DIR     data directory (default ./.signpost)
  --identity FILE    identity file (default <data-dir>/identity.json, created on first start)
  --clock C          system, or manual for test mode (debug.* methods)
  --bootstrap URL    base URL of another node, ws://HOST:PORT (repeatable)

Precedence: flags > SIGNPOST_* environment > config file > defaults.`,
  keygen: `Usage: signpost keygen [--out FILE]

Creates a new Ed25519 key pair in the identity file format
{"type":"ed25519","seed":"<base64url>","peer_id":"12D3KooW..."}.
Writes it to FILE (mode 0600, never overwriting) or prints it.`,
  call: `Usage: signpost call METHOD [JSON] [--url URL]

Calls one JSON-RPC method with JSON named params and prints the result as JSON.
  --url URL   the node's RPC URL (default ${DEFAULT_URL})
Exit status 1 with the error on stderr when the call fails.`,
};

type ArgValues = { [k: string]: string | string[] | boolean | undefined };

function parse(args: string[], options: ParseArgsConfig['options']): { values: ArgValues; positionals: string[] } {
  return parseArgs({ args, options: { ...options, help: { type: 'boolean' } }, allowPositionals: true, strict: true });
}

async function nodeStart(args: string[]): Promise<number> {
  const { values } = parse(args, {
    config: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    identity: { type: 'string' },
    clock: { type: 'string' },
    bootstrap: { type: 'string', multiple: true },
  });
  if (values.help) return help('node start');
  const flags: { [k: string]: unknown } = {};
  for (const k of ['host', 'port', 'data-dir', 'identity', 'clock', 'bootstrap'] as const) {
    if (values[k] !== undefined) flags[k === 'data-dir' ? 'data_dir' : k] = values[k];
  }
  const config = loadConfig({ file: values.config as string | undefined, env: process.env, flags });
  const log = logger(config.log_level);
  // Listen for signals before starting: without a listener a signal takes its default action and kills
  // the process, so a supervisor that stops the node right after the start line would get an unclean exit.
  let stop: ((signal: string) => void) | null = null;
  let early: string | null = null;
  const onSignal = (signal: NodeJS.Signals) => (stop ? stop(signal) : (early ??= signal));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const node = await startNode(config, log);
  process.stdout.write(`Signpost node ${node.identity.peerId} listening: rpc ${node.rpcUrl} visualiser ${node.visualiserUrl}\n`);
  log.info('node started', { peer_id: node.identity.peerId, data_dir: config.data_dir, clock: config.clock });
  await new Promise<void>((resolve) => {
    stop = (signal: string) => {
      log.info('stopping', { signal });
      node.stop().then(resolve, (e) => {
        log.error('stop failed', { error: String(e) });
        resolve();
      });
    };
    if (early !== null) stop(early);
  });
  return 0;
}

function keygen(args: string[]): number {
  const { values } = parse(args, { out: { type: 'string' } });
  if (values.help) return help('keygen');
  useCryptoBackend(nodeCryptoBackend());
  const id = generateIdentity();
  const text = JSON.stringify(identityToFile(id), null, 2) + '\n';
  const out = values.out as string | undefined;
  if (!out) {
    process.stdout.write(text);
    return 0;
  }
  try {
    // 'wx' (O_CREAT | O_EXCL): never overwrites, not even through a symlink, and no check-then-write race.
    writeFileSync(out, text, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    process.stderr.write(`signpost keygen: ${out} exists; refusing to overwrite it\n`);
    return 1;
  }
  process.stdout.write(`${id.peerId}\n`);
  process.stderr.write(`wrote ${out}\n`);
  return 0;
}

async function call(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { url: { type: 'string' } });
  if (values.help || positionals.length === 0) return help('call', positionals.length === 0 && !values.help ? 2 : 0);
  if (positionals.length > 2) throw new UsageError('call takes METHOD and at most one JSON argument');
  const [method, json] = positionals;
  let params: object | undefined;
  if (json !== undefined) {
    try {
      params = JSON.parse(json);
    } catch (e) {
      throw new UsageError(`params are not JSON: ${(e as Error).message}`);
    }
  }
  const url = (values.url as string | undefined) ?? DEFAULT_URL;
  const client = await RpcClient.connect(url.endsWith('/rpc') ? url : url.replace(/\/$/, '') + '/rpc');
  try {
    const result = await client.call(method, params);
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return 0;
  } catch (e) {
    if (e instanceof RpcError) {
      process.stderr.write(JSON.stringify({ code: e.code, message: e.message, data: e.data }, null, 2) + '\n');
      return 1;
    }
    throw e;
  } finally {
    await client.close();
  }
}

class UsageError extends Error {}

function help(command: string, status = 0): number {
  (status === 0 ? process.stdout : process.stderr).write(HELP[command] + '\n');
  return status;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') return help('main', cmd === undefined ? 2 : 0);
    if (cmd === '--version') {
      process.stdout.write(VERSION + '\n');
      return 0;
    }
    if (cmd === 'node') {
      const [sub, ...args] = rest;
      if (sub === 'start') return await nodeStart(args);
      if (sub === '--help' || sub === undefined) return help('node start', sub === undefined ? 2 : 0);
      throw new UsageError(`unknown command "node ${sub}"`);
    }
    if (cmd === 'keygen') return keygen(rest);
    if (cmd === 'call') return await call(rest);
    throw new UsageError(`unknown command "${cmd}"`);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof UsageError || (e as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')) {
      process.stderr.write(`signpost: ${(e as Error).message}\nRun "signpost --help" for usage.\n`);
      return 2;
    }
    process.stderr.write(`signpost: ${(e as Error).message ?? e}\n`);
    return 1;
  }
}
