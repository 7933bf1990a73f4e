/**
 * The `signpost` command line (SPEC §11). Command and flag names are a public interface.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WebSocket } from 'ws';
import { ConfigError, loadConfig } from '../../config/index.js';
import { generateIdentity, identityToFile } from '../../protocols/identity.js';
import { systemRandom } from '../../protocols/random.js';
import { baseUrlOf, rpcUrlOf } from '../../protocols/urls.js';
import { nodeEd25519 } from '../base/node-crypto.js';
import { writeIdentityFile } from '../node/identity-file.js';
import { startNode } from '../node/start.js';
import { RpcClient, RpcError } from '../client/rpc-client.js';
import { SignpostClient, VerificationError, type CallOptions, type KeepAliveOptions, type MiningProgress } from '../client/client.js';
import { FINAL_REGISTRATION_STATES } from '../../actors/registration.js';
import {
  acksText,
  errorText,
  keyText,
  loadClientIdentity,
  miningText,
  peersText,
  progressWriter,
  providersText,
  isoTime,
} from './format.js';
import type { ChallengeType } from '../../protocols/types.js';
import { VERSION } from '../base/version.js';
import { logger } from '../base/log.js';

const DEFAULT_URL = 'ws://127.0.0.1:7070/rpc';

const FANOUT_HELP = `  --ack N             wait for N nodes of the neighbourhood (default 1)
  --timeout-ms MS     wait at most MS milliseconds for them (default: the node's, 6000)`;
const CLIENT_HELP = `  --url URL           the node's RPC URL (default ${DEFAULT_URL})
  --key FILE          your identity file (default ~/.signpost/client.json, created on first use)
  --json              print JSON`;

const HELP: { [command: string]: string } = {
  main: `signpost ${VERSION}: a decentralised service registry

Usage:
  signpost node start [options]     start a node (see: signpost node start --help)
  signpost keygen [--out FILE]      create an Ed25519 identity file
  signpost call METHOD [JSON] [--url URL]
                                    call a JSON-RPC method of a node
  signpost actors [--watch] [--url URL] [--json]
                                    list a node's live actors and their states

Resources API, as a client with its own key (see "Client options" below):
  signpost resource create LABEL [--challenge-type T] [--min-bits N --half-life S]
                                    create a resource owned by your key
  signpost resource get ID [--ack N]
                                    show a resource (its verified key)
  signpost provider register ID --value V [--service S] [--keep] [--node]
                                    register yourself (or, with --node, the node) as a provider
  signpost provider unregister ID [--peer PEER | --node]
                                    remove a provider you issued (signed tombstone)
  signpost resolve ID [--ack N] [--service S]
                                    list the providers of a resource
  signpost watch ID                 follow a resource's providers until Ctrl-C
  signpost peers                    list the node's routing table

Client options (every client command):
  --url URL   the node's RPC URL (default ${DEFAULT_URL}; ws://HOST:PORT works too)
  --key FILE  your identity file (signpost keygen --out FILE); default ~/.signpost/client.json,
              created on first use by a command that signs
  --json      print JSON for scripts

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
  resource: `Usage: signpost resource create LABEL [options]
       signpost resource get ID [options]

Run "signpost resource create --help" or "signpost resource get --help" for their options.`,
  'resource create': `Usage: signpost resource create LABEL [--challenge-type T] [--min-bits N] [--half-life S]
                                [--ack N] [--timeout-ms MS] [--url URL] [--key FILE] [--json]

Creates the resource LABEL owned by your key (its id is resource_id(LABEL, your peer id)), signed
at the node's clock, on the resource's neighbourhood. Prints the resource id.
  --challenge-type T  who may register providers: "" (anyone, the default), owner/v1 (only
                      you) or hashcash/v1 (anyone who mines a proof of work)
  --min-bits N        hashcash/v1: bits of work each provider must mine (implies hashcash/v1)
  --half-life S       hashcash/v1: seconds in which one bit of work decays (default 86400)
${FANOUT_HELP}
${CLIENT_HELP}`,
  'resource get': `Usage: signpost resource get ID [--ack N] [--timeout-ms MS] [--url URL] [--key FILE] [--json]

Shows the resource ID from its neighbourhood: label, owner, policy. The owner's signature and the id
are verified; a node that answers with a forged key is an error (exit 1).
${FANOUT_HELP}
${CLIENT_HELP}`,
  provider: `Usage: signpost provider register ID --value V [options]
       signpost provider unregister ID [options]

Run "signpost provider register --help" or "signpost provider unregister --help" for their options.`,
  'provider register': `Usage: signpost provider register ID --value V [--service S] [--keep [--renew-interval S]]
                                  [--node] [--work-bits N] [--ack N] [--timeout-ms MS]
                                  [--url URL] [--key FILE] [--json]

Registers you (your key) as a provider of resource ID: you issue and host the record, the node at
--url relays for you. Under hashcash/v1 the proof of work is mined first (progress on stderr).
The record is signed at the node's clock and lives until it expires (the nodes' expired_timeout,
24 h by default) unless renewed: this command exits after registering, so nothing renews it
unless you pass --keep.
  --value V           the provider's value (e.g. an address), up to 1024 bytes
  --service S         the service it offers (resolvers can ask for one service)
  --keep              stay running and keep the provider alive: renew it every --renew-interval,
                      re-register after a lost connection; Ctrl-C removes it (tombstone) and exits
  --renew-interval S  seconds between renewals with --keep (default 3600)
  --node              register the node itself as the host (resources.register_node_provider);
                      the node renews it. Your key must be one of the node's admins.
  --work-bits N       hashcash/v1: mine at least N bits (more than the minimum ranks higher)
${FANOUT_HELP}
${CLIENT_HELP}`,
  'provider unregister': `Usage: signpost provider unregister ID [--peer PEER | --node] [--ack N] [--timeout-ms MS]
                                    [--url URL] [--key FILE] [--json]

Removes a provider you issued, with a tombstone signed by your key at the node's clock.
  --peer PEER   the provider's host peer id (default: you)
  --node        the provider hosted by the node at --url (one you registered with --node)
${FANOUT_HELP}
${CLIENT_HELP}`,
  resolve: `Usage: signpost resolve ID [--ack N] [--service S] [--timeout-ms MS] [--url URL] [--key FILE] [--json]

Lists the live providers of resource ID, best first, from its neighbourhood. Every record's
signatures are verified; a node that forged or altered one is an error (exit 1).
  --service S   only the providers of service S
${FANOUT_HELP}
${CLIENT_HELP}`,
  watch: `Usage: signpost watch ID [--url URL] [--key FILE] [--json]

Subscribes to the providers of resource ID and prints the list at once and at every change,
until Ctrl-C (exit 0). A lost connection is reopened and the subscription renewed.
  --json    one JSON line {"resource_id", "providers"} per change
${CLIENT_HELP}`,
  peers: `Usage: signpost peers [--url URL] [--json]

Lists the node's routing table (node.peers): peer id, address, distance bucket, last seen
(node clock).
${CLIENT_HELP}`,
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
  // Kept for the whole run: a second Ctrl-C while the node stops must not take the default action either.
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    if (stop) {
      stopping = true;
      stop(signal);
    } else early ??= signal;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
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
    if (early !== null) {
      stopping = true;
      stop(early);
    }
  });
  return 0;
}

function keygen(args: string[]): number {
  const { values } = parse(args, { out: { type: 'string' } });
  if (values.help) return help('keygen');
  const id = generateIdentity(systemRandom, nodeEd25519());
  const text = JSON.stringify(identityToFile(id), null, 2) + '\n';
  const out = values.out as string | undefined;
  if (!out) {
    process.stdout.write(text);
    return 0;
  }
  if (!writeIdentityFile(out, id)) {
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
  const client = await RpcClient.connect(rpcUrlOf(url));
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

async function actors(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { url: { type: 'string' }, watch: { type: 'boolean' }, json: { type: 'boolean' } });
  if (values.help) return help('actors');
  if (positionals.length > 0) throw new UsageError(`actors takes no arguments, got ${positionals.join(' ')}`);
  const url = (values.url as string | undefined) ?? DEFAULT_URL;
  const base = baseUrlOf(url);
  if (base === null) throw new UsageError(`--url must be a node's URL (ws://HOST:PORT), got ${JSON.stringify(url)}`);
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
    const header = `signpost actors --watch  ${base}  node clock ${at === null ? '-' : isoTime(at)}  ${actorSummary(list)}`;
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
        for (const e of m.events as (ActorRow & { state_after: unknown; ended?: boolean; at: number })[]) {
          at = e.at;
          if (e.ended === true || e.state_after === null) live.delete(e.id);
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

// ---- client commands (Resources API through the SDK) ----

const CLIENT_OPTIONS = { url: { type: 'string' }, key: { type: 'string' }, json: { type: 'boolean' } } as const;
const FANOUT_OPTIONS = { ack: { type: 'string' }, 'timeout-ms': { type: 'string' } } as const;

/** A whole-number flag, or undefined when absent. */
function intFlag(values: ArgValues, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n < min || n > max) throw new UsageError(`--${name} must be a whole number ${min}..${max}, got ${JSON.stringify(v)}`);
  return n;
}

function fanOutOptions(values: ArgValues): CallOptions {
  return { ack: intFlag(values, 'ack', 1), timeoutMs: intFlag(values, 'timeout-ms', 1, 60_000) };
}

/** Exactly one positional argument (the label or resource id). */
function oneArgument(positionals: string[], what: string, command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes one ${what}${positionals.length ? `, got ${positionals.join(' ')}` : ''}`);
  return positionals[0];
}

/**
 * Runs `fn` with a client connected to --url as --key (see loadClientIdentity: `signs` creates the default
 * identity file when missing). A node's refusal, or an answer that does not verify, is exit status 1 with
 * the reason on stderr (as JSON with --json).
 */
async function withClient(values: ArgValues, signs: boolean, fn: (client: SignpostClient) => Promise<number>): Promise<number> {
  const ed25519 = nodeEd25519();
  const { identity, note } = loadClientIdentity(values.key as string | undefined, signs, ed25519);
  if (note) process.stderr.write(`${note}\n`);
  const client = await SignpostClient.connect((values.url as string | undefined) ?? DEFAULT_URL, { identity, ed25519 });
  try {
    return await fn(client);
  } catch (e) {
    if (!(e instanceof RpcError) && !(e instanceof VerificationError)) throw e;
    if (values.json) {
      const data = e instanceof RpcError ? e.data : { method: e.method };
      process.stderr.write(JSON.stringify({ code: e.code, message: e.message, data }, null, 2) + '\n');
    } else {
      process.stderr.write(`signpost: ${errorText(e)}\n`);
    }
    return 1;
  } finally {
    await client.close();
  }
}

function print(values: ArgValues, json: unknown, human: string): void {
  process.stdout.write(values.json ? JSON.stringify(json, null, 2) + '\n' : human + '\n');
}

/** Tells on stderr what a fan-out call waits for. */
function waiting(what: string, opts: CallOptions): void {
  process.stderr.write(`${what}: waiting for ${opts.ack ?? 1} ack${(opts.ack ?? 1) === 1 ? '' : 's'}${opts.timeoutMs ? ` (at most ${opts.timeoutMs} ms)` : ''}…\n`);
}

async function resource(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'create') return resourceCreate(rest);
  if (sub === 'get') return resourceGet(rest);
  if (sub === undefined || sub === '--help' || sub === '-h') return help('resource', sub === undefined ? 2 : 0);
  throw new UsageError(`unknown command "resource ${sub}"`);
}

async function resourceCreate(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...CLIENT_OPTIONS,
    ...FANOUT_OPTIONS,
    'challenge-type': { type: 'string' },
    'min-bits': { type: 'string' },
    'half-life': { type: 'string' },
  });
  if (values.help) return help('resource create');
  const label = oneArgument(positionals, 'LABEL', 'resource create');
  const minBits = intFlag(values, 'min-bits', 0, 255);
  const halfLifeS = intFlag(values, 'half-life', 1, 2 ** 32 - 1);
  const type = (values['challenge-type'] as string | undefined) ?? (minBits !== undefined || halfLifeS !== undefined ? 'hashcash/v1' : '');
  if (type !== '' && type !== 'owner/v1' && type !== 'hashcash/v1') throw new UsageError(`--challenge-type must be "", owner/v1 or hashcash/v1, got ${JSON.stringify(type)}`);
  if (type !== 'hashcash/v1' && (minBits !== undefined || halfLifeS !== undefined)) throw new UsageError('--min-bits and --half-life are for --challenge-type hashcash/v1');
  if (type === 'hashcash/v1' && minBits === undefined) throw new UsageError('--challenge-type hashcash/v1 needs --min-bits N');
  const opts = fanOutOptions(values);
  return withClient(values, true, async (client) => {
    waiting(`creating resource ${JSON.stringify(label)}`, opts);
    const r = await client.createResource(label, { ...opts, challengeType: type as ChallengeType, minBits, halfLifeS });
    print(values, { resource_id: r.resourceId, key: r.key, acks: r.acks, errors: r.errors }, `created ${keyText(r.key, await client.now())}\n${acksText(r.acks, r.errors)}`);
    return 0;
  });
}

async function resourceGet(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...CLIENT_OPTIONS, ...FANOUT_OPTIONS });
  if (values.help) return help('resource get');
  const id = oneArgument(positionals, 'resource ID', 'resource get');
  const opts = fanOutOptions(values);
  return withClient(values, false, async (client) => {
    waiting(`getting resource ${id}`, opts);
    const r = await client.getResource(id, opts);
    print(values, { resource: r.resource, acks: r.acks, errors: r.errors }, `${keyText(r.resource, await client.now())}\n${acksText(r.acks, r.errors)}`);
    return 0;
  });
}

async function provider(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'register') return providerRegister(rest);
  if (sub === 'unregister') return providerUnregister(rest);
  if (sub === undefined || sub === '--help' || sub === '-h') return help('provider', sub === undefined ? 2 : 0);
  throw new UsageError(`unknown command "provider ${sub}"`);
}

async function providerRegister(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...CLIENT_OPTIONS,
    ...FANOUT_OPTIONS,
    value: { type: 'string' },
    service: { type: 'string' },
    keep: { type: 'boolean' },
    'renew-interval': { type: 'string' },
    node: { type: 'boolean' },
    'work-bits': { type: 'string' },
  });
  if (values.help) return help('provider register');
  const id = oneArgument(positionals, 'resource ID', 'provider register');
  if (typeof values.value !== 'string') throw new UsageError('provider register needs --value V');
  if (values.node && values.keep) throw new UsageError('--node and --keep do not go together: the node renews the records it hosts');
  const renewS = intFlag(values, 'renew-interval', 1);
  if (renewS !== undefined && !values.keep) throw new UsageError('--renew-interval is for --keep');
  const mining = progressWriter();
  let mined: MiningProgress | null = null;
  const opts = {
    ...fanOutOptions(values),
    serviceId: values.service as string | undefined,
    workBits: intFlag(values, 'work-bits', 0, 255),
    onProgress: (p: MiningProgress) => {
      mined = p;
      mining.update(miningText(p));
    },
  };
  return withClient(values, true, async (client) => {
    if (values.keep) return keepAlive(client, id, values.value as string, { ...opts, renewIntervalMs: (renewS ?? 3600) * 1000 }, values, mining);
    waiting(`registering ${values.node ? 'the node' : 'you'} as a provider of ${id}`, opts);
    const r = values.node ? await client.registerNodeProvider(id, values.value as string, opts) : await client.registerProvider(id, values.value as string, opts);
    mining.done(mined ? `mined ${mined.bits} bits of work (at least ${mined.minBits}) in ${mined.tries} tries` : undefined);
    const m = r.record.metadata;
    const lifetime = values.node
      ? 'The node hosts and renews this record.'
      : 'This record lives until it expires (expired_timeout, 24 h by default): nothing renews it once this command exits; use --keep to keep it alive.';
    print(
      values,
      { resource_id: id, record: r.record, acks: r.acks, errors: r.errors },
      `registered provider of ${id}\n  host       ${m.peer_id}\n  issued_by  ${m.issued_by}\n  relay      ${m.relay_id[0] ?? '-'}\n  service    ${m.service_id[0] ?? '-'}\n  value      ${JSON.stringify(m.value)}\n${acksText(r.acks, r.errors)}\n${lifetime}`,
    );
    return 0;
  });
}

/** `provider register --keep`: the registration machine keeps the provider alive until SIGINT / SIGTERM. */
async function keepAlive(
  client: SignpostClient,
  id: string,
  value: string,
  opts: KeepAliveOptions,
  values: ArgValues,
  mining: ReturnType<typeof progressWriter>,
): Promise<number> {
  const registration = client.keepProviderAlive(id, value, opts);
  const offConnection = client.onConnectionChange((status) =>
    process.stderr.write(status === 'down' ? 'connection lost; reconnecting…\n' : 'connection back; re-registering\n'),
  );
  registration.onState((state, r) => {
    mining.done();
    process.stderr.write(`registration ${state}${r.lastError && ['retrying', 'failed', 'stopped'].includes(state) ? `: ${r.lastError}` : ''}\n`);
  });
  let signalled!: () => void;
  // Ends at Ctrl-C / SIGTERM, or when the registration ends by itself (a permanent refusal).
  const ended = new Promise<void>((resolve) => {
    signalled = resolve;
    registration.onState((state) => FINAL_REGISTRATION_STATES.includes(state) && resolve());
  });
  process.once('SIGINT', signalled);
  process.once('SIGTERM', signalled);
  try {
    const record = await Promise.race([registration.registered(), ended.then(() => null)]).catch(() => null);
    if (record) print(values, { resource_id: id, record }, `registered provider of ${id} (host ${record.metadata.peer_id}); keeping it alive until Ctrl-C`);
    await ended;
    const final = await registration.stop();
    process.stderr.write(final === 'unregistered' ? `unregistered the provider of ${id}\n` : `registration ended: ${final}${registration.lastError ? `: ${registration.lastError}` : ''}\n`);
    return final === 'unregistered' ? 0 : 1;
  } finally {
    process.off('SIGINT', signalled);
    process.off('SIGTERM', signalled);
    offConnection();
  }
}

async function providerUnregister(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...CLIENT_OPTIONS, ...FANOUT_OPTIONS, peer: { type: 'string' }, node: { type: 'boolean' } });
  if (values.help) return help('provider unregister');
  const id = oneArgument(positionals, 'resource ID', 'provider unregister');
  if (values.node && values.peer) throw new UsageError('give --peer PEER or --node, not both');
  const opts = fanOutOptions(values);
  return withClient(values, true, async (client) => {
    const peerId = values.node ? (await client.nodeInfo()).peer_id : ((values.peer as string | undefined) ?? client.peerId);
    waiting(`removing the provider of ${id} hosted by ${peerId}`, opts);
    const r = await client.unregisterProvider(id, { ...opts, peerId });
    print(values, { resource_id: id, tombstone: r.tombstone, acks: r.acks, errors: r.errors }, `unregistered the provider of ${id} hosted by ${peerId}\n${acksText(r.acks, r.errors)}`);
    return 0;
  });
}

async function resolve(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...CLIENT_OPTIONS, ...FANOUT_OPTIONS, service: { type: 'string' } });
  if (values.help) return help('resolve');
  const id = oneArgument(positionals, 'resource ID', 'resolve');
  const opts = { ...fanOutOptions(values), serviceId: values.service as string | undefined };
  return withClient(values, false, async (client) => {
    waiting(`resolving the providers of ${id}`, opts);
    const r = await client.resolveProviders(id, opts);
    print(values, { resource_id: id, providers: r.providers, acks: r.acks, errors: r.errors }, `${providersText(r.providers, await client.now())}\n${acksText(r.acks, r.errors)}`);
    return 0;
  });
}

async function peers(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, CLIENT_OPTIONS);
  if (values.help) return help('peers');
  if (positionals.length > 0) throw new UsageError(`peers takes no arguments, got ${positionals.join(' ')}`);
  return withClient(values, false, async (client) => {
    const list = await client.peers();
    print(values, list, peersText(list, await client.now()));
    return 0;
  });
}

/** `watch ID`: prints the provider list at once and at every change until SIGINT / SIGTERM (exit 0). */
async function watch(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, CLIENT_OPTIONS);
  if (values.help) return help('watch');
  const id = oneArgument(positionals, 'resource ID', 'watch');
  return withClient(values, false, async (client) => {
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const offConnection = client.onConnectionChange((status) =>
      process.stderr.write(status === 'down' ? 'connection lost; reconnecting…\n' : 'connection back; subscribed again\n'),
    );
    try {
      const sub = await client.subscribe(
        id,
        (providers) => {
          if (values.json) return void process.stdout.write(JSON.stringify({ resource_id: id, providers }) + '\n');
          void client.now().then((now) =>
            process.stdout.write(`${new Date().toISOString()}  ${providers.length} provider${providers.length === 1 ? '' : 's'} of ${id}\n${providersText(providers, now)}\n\n`),
          );
        },
        { onError: (e) => process.stderr.write(`signpost watch: ${e.message}\n`) },
      );
      process.stderr.write(`watching the providers of ${id}; Ctrl-C to stop\n`);
      await stopped;
      await sub.unsubscribe().catch(() => undefined);
      return 0;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      offConnection();
    }
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
    if (cmd === 'resource') return await resource(rest);
    if (cmd === 'provider') return await provider(rest);
    if (cmd === 'resolve') return await resolve(rest);
    if (cmd === 'peers') return await peers(rest);
    if (cmd === 'watch') return await watch(rest);
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
