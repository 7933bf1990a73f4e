/**
 * `signpost node start`: runs a node until SIGINT or SIGTERM.
 */
import { loadConfig } from '../../config/index.js';
import { logger } from '../base/log.js';
import { startNode } from '../node/start.js';
import { helpFor, parse, subcommand } from './command.js';

const HELP: { [command: string]: string } = {
  'node start': `Usage: signpost node start [--config FILE] [--host H] [--port P] [--data-dir DIR]
                          [--identity FILE] [--clock system|manual] [--bootstrap URL]...
                          [--announce URL]...

Starts a node. Once it listens it prints one line with its peer id, its RPC URL and its
visualiser URL, then logs JSON lines on stderr. SIGINT / SIGTERM stop it cleanly.

  --config FILE      JSON config file (every key of the config reference)
  --host H           listen address (default 127.0.0.1)
  --port P           listen port; 0 picks a free one (default 7070)
  --data-dir DIR     data directory (default ./.signpost)
  --identity FILE    identity file (default <data-dir>/identity.json, created on first start)
  --clock C          system, or manual for test mode (debug.* methods)
  --bootstrap URL    base URL of another node, ws://HOST:PORT (repeatable)
  --announce URL     a base URL this node is reachable at, told to peers and clients
                     (repeatable; default: the listen address, or with --host 0.0.0.0 or ::
                     the addresses of this machine's interfaces)

Precedence: flags > SIGNPOST_* environment > config file > defaults.`,
};
const help = helpFor(HELP);

export function node(args: string[]): Promise<number> | number {
  return subcommand('node', args, { start: nodeStart }, help, 'node start');
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
    announce: { type: 'string', multiple: true },
  });
  if (values.help) return help('node start');
  const flags: { [k: string]: unknown } = {};
  for (const k of ['host', 'port', 'data-dir', 'identity', 'clock', 'bootstrap', 'announce'] as const) {
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
