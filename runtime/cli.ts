/**
 * The `signpost` command line (SPEC §11). Command and flag names are a public interface.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { writeFileSync } from 'node:fs';
import { WebSocket } from 'ws';
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
  signpost actors [--watch] [--url URL] [--json]
                                    list a node's live actors and their states

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
  actors: `Usage: signpost actors [--watch] [--url URL] [--json]

Lists the node's live actors (id, kind, state), as actors.list gives them, for
servers without a browser (the node's page at http://HOST:PORT/ shows more).
  --watch     keep the list on screen and redraw it as actors change, from the
              node's /inspect stream (at most 10 times a second), until Ctrl-C
  --json      print JSON: the list; with --watch one line {"at", "actors"} per redraw
  --url URL   the node's URL (default ${DEFAULT_URL}; ws://HOST:PORT works too)`,
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
      node.stop().then(() => {
        log.info('stopped', { signal });
        resolve();
      }, (e) => {
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

/** One row of `actors.list` / the /inspect snapshot. */
interface ActorRow {
  id: string;
  kind: string;
  state: unknown;
}

/** An XState snapshot value on one line: "holding", {a: "b"} → "a.b", parallel regions joined with ", ". */
function stateText(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  return Object.entries(value as object)
    .map(([k, v]) => (v && typeof v === 'object' && Object.keys(v).length === 0 ? k : `${k}.${stateText(v)}`))
    .join(', ');
}

/** "5 actors: resource 2, gc 1, renew 1, republish 1" */
function actorSummary(actors: ActorRow[]): string {
  const counts = new Map<string, number>();
  for (const a of actors) counts.set(a.kind, (counts.get(a.kind) ?? 0) + 1);
  const kinds = [...counts].map(([kind, n]) => `${kind} ${n}`).join(', ');
  return `${actors.length} actor${actors.length === 1 ? '' : 's'}${kinds ? `: ${kinds}` : ''}`;
}

/** The actors as aligned columns ID, KIND, STATE; at most `maxRows` rows, then how many more there are. */
function actorTable(actors: ActorRow[], maxRows = Infinity): string {
  const rows = actors.map((a) => [a.id, a.kind, stateText(a.state)]);
  // A loop, not Math.max(...spread): a node may have more live actors than a call takes arguments.
  const widths = [2, 4].map((min, col) => rows.reduce((w, r) => Math.max(w, r[col].length), min));
  const line = (r: string[]) => `${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2]}`;
  const shown = rows.length > maxRows ? rows.slice(0, Math.max(0, maxRows - 1)) : rows;
  const out = [line(['ID', 'KIND', 'STATE']), ...shown.map(line)];
  if (shown.length < rows.length) out.push(`... ${rows.length - shown.length} more`);
  return out.join('\n');
}

/** ws://HOST:PORT from ws://HOST:PORT, ws://HOST:PORT/ or ws://HOST:PORT/rpc (http:// works too). */
function nodeBaseUrl(url: string): string {
  return url.replace(/^http/, 'ws').replace(/\/(rpc)?$/, '');
}

async function actors(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { url: { type: 'string' }, watch: { type: 'boolean' }, json: { type: 'boolean' } });
  if (values.help) return help('actors');
  if (positionals.length > 0) throw new UsageError(`actors takes no arguments, got ${positionals.join(' ')}`);
  const base = nodeBaseUrl((values.url as string | undefined) ?? DEFAULT_URL);
  if (values.watch) return watchActors(base, values.json === true);
  const client = await RpcClient.connect(`${base}/rpc`);
  try {
    const list = await client.call<ActorRow[]>('actors.list');
    process.stdout.write(values.json ? JSON.stringify(list, null, 2) + '\n' : `${actorTable(list)}\n${actorSummary(list)}\n`);
    return 0;
  } finally {
    await client.close();
  }
}

/** Redraws at most this often: an event storm costs one frame per interval, not one per event. */
const WATCH_FRAME_MS = 100;
/** States after which an actor is no longer live (a resource actor's final `passivated`; null: it ended). */
const ENDED_STATES = new Set(['passivated']);

/**
 * `actors --watch`: follows the node's /inspect stream (a snapshot, then batches of events; a later
 * snapshot replaces the view) and redraws the list. On a terminal each frame replaces the screen and fits
 * it; piped, each frame is printed in full after a header line. Ctrl-C ends it with status 0; losing the
 * node ends it with status 1.
 */
function watchActors(base: string, json: boolean): Promise<number> {
  const url = `${base}/inspect`;
  const live = new Map<string, ActorRow>();
  let at: number | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let lastFrame = 0;
  const out = process.stdout;
  const draw = () => {
    timer = null;
    lastFrame = Date.now();
    const list = [...live.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (json) {
      out.write(JSON.stringify({ at, actors: list }) + '\n');
      return;
    }
    const header = `signpost actors --watch  ${base}  node clock ${at}  ${actorSummary(list)}`;
    if (out.isTTY) out.write(`\x1b[H\x1b[2J${header}\n\n${actorTable(list, Math.max(3, (out.rows ?? 24) - 4))}\n`);
    else out.write(`${header}\n${actorTable(list)}\n\n`);
  };
  const schedule = () => {
    timer ??= setTimeout(draw, Math.max(0, lastFrame + WATCH_FRAME_MS - Date.now()));
  };
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    let done = false;
    const finish = (status: number) => {
      done = true;
      if (timer) clearTimeout(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(status);
    };
    const stop = () => {
      finish(0);
      ws.terminate();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === 'snapshot') {
        live.clear();
        for (const a of m.actors as ActorRow[]) live.set(a.id, { id: a.id, kind: a.kind, state: a.state });
        at = m.at;
      } else if (m.type === 'events') {
        for (const e of m.events as (ActorRow & { state_after: unknown; at: number })[]) {
          at = e.at;
          if (e.state_after === null || ENDED_STATES.has(e.state_after as string)) live.delete(e.id);
          else live.set(e.id, { id: e.id, kind: e.kind, state: e.state_after });
        }
      } else if (m.type === 'dropped') {
        process.stderr.write(`signpost actors: the node dropped ${m.count} events (reading too slowly); the list may be behind until the next change\n`);
      }
      schedule();
    });
    ws.on('error', (e) => {
      if (done) return;
      process.stderr.write(`signpost actors: ${url}: ${e.message}\n`);
      finish(1);
    });
    ws.on('close', (code) => {
      if (done) return;
      process.stderr.write(`signpost actors: the node closed ${url} (${code})\n`);
      finish(1);
    });
  });
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
    if (cmd === 'actors') return await actors(rest);
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
