/**
 * `signpost provider register|unregister|call`: you (or, as an admin, the node) as a provider of a
 * resource, kept alive with `--keep` until Ctrl-C (and serving `echo` with `--serve-echo`); calling a
 * method of every provider of a resource through its relay (SPEC §9.5).
 */
import { FINAL_REGISTRATION_STATES } from '../../actors/registration.js';
import type { CallContext, KeepAliveOptions, MiningProgress, ServedService, ServiceHandlers, SignpostClient } from '../client/client.js';
import { helpFor, intFlag, oneArgument, parse, subcommand, UsageError, type ArgValues } from './command.js';
import { acksText, callOutcomeJson, miningText, outcomesText, progressWriter } from './format.js';
import { CLIENT_HELP, CLIENT_OPTIONS, FANOUT_HELP, FANOUT_OPTIONS, fanOutOptions, print, waiting, withClient } from './session.js';

const HELP: { [command: string]: string } = {
  provider: `Usage: signpost provider register ID --value V [options]
       signpost provider unregister ID [options]
       signpost provider call ID METHOD [JSON] [options]

Run "signpost provider register --help", "signpost provider unregister --help" or
"signpost provider call --help" for their options.`,
  'provider register': `Usage: signpost provider register ID --value V [--service S]
                                  [--keep [--renew-interval S] [--serve-echo]]
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
  --serve-echo        with --keep and --service S: also serve S through the node at --url, with
                      one method, echo(...args), that answers {"echo": args, "from": the caller's
                      peer id} (try it with "signpost provider call ID echo")
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
  'provider call': `Usage: signpost provider call ID METHOD [JSON] [--service S] [--ack N] [--timeout-ms MS]
                              [--url URL] [--key FILE] [--json]

Resolves the providers of resource ID and calls METHOD on every one at once, through its relay
(the node its record names; a node provider directly), as your key: the provider sees your peer id
as the caller. Prints each provider's outcome, best first: its result or its error.
JSON is the arguments: a JSON array is spread as the arguments ('["hi", 2]' calls METHOD("hi", 2);
wrap an array to pass it as one: '[[1, 2]]'), any other JSON value is the one argument, and no
JSON calls METHOD with none. Each call goes to the service its provider's record names.
--ack is for resolving; --timeout-ms bounds the resolve and each call (default: the node's
request_timeout_ms, 6000): a provider that does not answer in time is provider_timeout.
  --service S         only the providers of service S
${FANOUT_HELP}
${CLIENT_HELP}
Exit status 0 when every provider answered, 1 when any failed or there are no providers.`,
};
const help = helpFor(HELP);

/** `--serve-echo`: echo(...args) answers with the arguments and who called (the CallContext is `this`). */
export const ECHO_HANDLERS: ServiceHandlers = {
  echo(this: CallContext, ...args: unknown[]) {
    return { echo: args, from: this.from };
  },
};

export function provider(args: string[]): Promise<number> | number {
  return subcommand('provider', args, { register: providerRegister, unregister: providerUnregister, call: providerCall }, help);
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
    'serve-echo': { type: 'boolean' },
  });
  if (values.help) return help('provider register');
  const id = oneArgument(positionals, 'resource ID', 'provider register');
  if (typeof values.value !== 'string') throw new UsageError('provider register needs --value V');
  if (values.node && values.keep) throw new UsageError('--node and --keep do not go together: the node renews the records it hosts');
  const renewS = intFlag(values, 'renew-interval', 1);
  if (renewS !== undefined && !values.keep) throw new UsageError('--renew-interval is for --keep');
  if (values['serve-echo'] && !values.keep) throw new UsageError('--serve-echo is for --keep: only a running command can answer calls');
  if (values['serve-echo'] && values.service === undefined) throw new UsageError('--serve-echo needs --service S: the service it serves');
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

/**
 * `provider register --keep`: the registration machine keeps the provider alive until SIGINT / SIGTERM;
 * with `--serve-echo` the client serves the record's service meanwhile (served first, so the provider
 * answers as soon as it can be resolved, and withdrawn after the tombstone).
 */
async function keepAlive(
  client: SignpostClient,
  id: string,
  value: string,
  opts: KeepAliveOptions,
  values: ArgValues,
  mining: ReturnType<typeof progressWriter>,
): Promise<number> {
  let served: ServedService | null = null;
  if (values['serve-echo']) {
    served = await client.serve(opts.serviceId!, ECHO_HANDLERS, { onError: (e) => process.stderr.write(`${e.message}\n`) });
    process.stderr.write(`serving service ${served.serviceId} with method echo(...args) until Ctrl-C\n`);
  }
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
    if (served) {
      await served.stop();
      process.stderr.write(`stopped serving ${served.serviceId}\n`);
    }
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

/** `provider call ID METHOD [JSON]`: METHOD on every provider through its relay; exit 1 unless every one answered. */
async function providerCall(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...CLIENT_OPTIONS, ...FANOUT_OPTIONS, service: { type: 'string' } });
  if (values.help) return help('provider call');
  if (positionals.length < 2 || positionals.length > 3) {
    throw new UsageError(`provider call takes a resource ID, a METHOD and at most one JSON argument${positionals.length ? `, got ${positionals.join(' ')}` : ''}`);
  }
  const [id, method, json] = positionals;
  const callArgs = callArguments(json);
  const opts = { ...fanOutOptions(values), serviceId: values.service as string | undefined };
  return withClient(values, true, async (client) => {
    waiting(`calling ${method} on the providers of ${id}${opts.serviceId === undefined ? '' : ` (service ${opts.serviceId})`}`, opts);
    const outcomes = (await client.executeOnProviders(id, (p, call) => call(method, ...callArgs), opts)).map(callOutcomeJson);
    if (outcomes.length === 0 && values.json) process.stderr.write(`signpost: no providers of ${id} to call\n`);
    print(values, { resource_id: id, outcomes }, outcomesText(id, opts.serviceId, outcomes));
    return outcomes.length > 0 && outcomes.every((o) => o.ok) ? 0 : 1;
  });
}

/** The arguments of `provider call`: a JSON array spread, any other JSON value as the one argument, none without JSON. */
export function callArguments(json: string | undefined): unknown[] {
  if (json === undefined) return [];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw new UsageError(`the arguments are not JSON: ${(e as Error).message}`);
  }
  return Array.isArray(value) ? value : [value];
}
