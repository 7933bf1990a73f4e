/**
 * `signpost resource create|get`: resources owned by your key, on their neighbourhood.
 */
import type { ChallengeType } from '../../protocols/types.js';
import { helpFor, intFlag, oneArgument, parse, subcommand, UsageError } from './command.js';
import { acksText, keyText } from './format.js';
import { CLIENT_HELP, CLIENT_OPTIONS, FANOUT_HELP, FANOUT_OPTIONS, fanOutOptions, print, waiting, withClient } from './session.js';

const HELP: { [command: string]: string } = {
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
};
const help = helpFor(HELP);

export function resource(args: string[]): Promise<number> | number {
  return subcommand('resource', args, { create: resourceCreate, get: resourceGet }, help);
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
