/**
 * The `signpost` command line (SPEC §11): one file per command group beside this one, each with its help
 * text. Command and flag names are a public interface.
 */
import { ConfigError } from '../../config/index.js';
import { VERSION } from '../base/version.js';
import { actors } from './actors.js';
import { call } from './call.js';
import { DEFAULT_URL, helpFor, UsageError } from './command.js';
import { keygen } from './keygen.js';
import { node } from './node.js';
import { provider } from './providers.js';
import { resource } from './resources.js';
import { peers, resolve, watch } from './resolve.js';

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
  signpost provider register ID --value V [--service S] [--keep [--serve-echo]] [--node]
                                    register yourself (or, with --node, the node) as a provider;
                                    --serve-echo also serves S with an echo method while kept
  signpost provider unregister ID [--peer PEER | --node]
                                    remove a provider you issued (signed tombstone)
  signpost provider call ID METHOD [JSON] [--service S]
                                    call METHOD on every provider through its relay
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
};
const help = helpFor(HELP);

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') return help('main', cmd === undefined ? 2 : 0);
    if (cmd === '--version') {
      process.stdout.write(VERSION + '\n');
      return 0;
    }
    if (cmd === 'node') return await node(rest);
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
