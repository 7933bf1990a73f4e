/**
 * `signpost provider register|unregister`: you (or, as an admin, the node) as a provider of a resource,
 * kept alive with `--keep` until Ctrl-C.
 */
import { FINAL_REGISTRATION_STATES } from '../../actors/registration.js';
import type { KeepAliveOptions, MiningProgress, SignpostClient } from '../client/client.js';
import { helpFor, intFlag, oneArgument, parse, subcommand, UsageError, type ArgValues } from './command.js';
import { acksText, miningText, progressWriter } from './format.js';
import { CLIENT_HELP, CLIENT_OPTIONS, FANOUT_HELP, FANOUT_OPTIONS, fanOutOptions, print, waiting, withClient } from './session.js';

const HELP: { [command: string]: string } = {
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
};
const help = helpFor(HELP);

export function provider(args: string[]): Promise<number> | number {
  return subcommand('provider', args, { register: providerRegister, unregister: providerUnregister }, help);
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
