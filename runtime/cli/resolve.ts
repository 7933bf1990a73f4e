/**
 * `signpost resolve`, `watch` and `peers`: reading the registry through a node.
 */
import { helpFor, oneArgument, parse, UsageError } from './command.js';
import { acksText, peersText, providersText } from './format.js';
import { CLIENT_HELP, CLIENT_OPTIONS, FANOUT_HELP, FANOUT_OPTIONS, fanOutOptions, print, waiting, withClient } from './session.js';

const HELP: { [command: string]: string } = {
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
};
const help = helpFor(HELP);

export async function resolve(args: string[]): Promise<number> {
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

export async function peers(args: string[]): Promise<number> {
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
export async function watch(args: string[]): Promise<number> {
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
