/**
 * What the client commands (`resource`, `provider`, `resolve`, `watch`, `peers`) share: the SDK connected
 * to `--url` as `--key`, the fan-out flags, and printing human text or `--json`.
 */
import { RpcError } from '../client/rpc-client.js';
import { SignpostClient, VerificationError, type CallOptions } from '../client/client.js';
import { nodeEd25519 } from '../base/node-crypto.js';
import { DEFAULT_URL, intFlag, type ArgValues } from './command.js';
import { errorText, loadClientIdentity } from './format.js';

export const FANOUT_HELP = `  --ack N             wait for N nodes of the neighbourhood (default 1)
  --timeout-ms MS     wait at most MS milliseconds for them (default: the node's, 6000)`;
export const CLIENT_HELP = `  --url URL           the node's RPC URL (default ${DEFAULT_URL})
  --key FILE          your identity file (default ~/.signpost/client.json, created on first use)
  --json              print JSON`;

export const CLIENT_OPTIONS = { url: { type: 'string' }, key: { type: 'string' }, json: { type: 'boolean' } } as const;
export const FANOUT_OPTIONS = { ack: { type: 'string' }, 'timeout-ms': { type: 'string' } } as const;

export function fanOutOptions(values: ArgValues): CallOptions {
  return { ack: intFlag(values, 'ack', 1), timeoutMs: intFlag(values, 'timeout-ms', 1, 60_000) };
}

/**
 * Runs `fn` with a client connected to --url as --key (see loadClientIdentity: `signs` creates the default
 * identity file when missing). A node's refusal, or an answer that does not verify, is exit status 1 with
 * the reason on stderr (as JSON with --json).
 */
export async function withClient(values: ArgValues, signs: boolean, fn: (client: SignpostClient) => Promise<number>): Promise<number> {
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

export function print(values: ArgValues, json: unknown, human: string): void {
  process.stdout.write(values.json ? JSON.stringify(json, null, 2) + '\n' : human + '\n');
}

/** Tells on stderr what a fan-out call waits for. */
export function waiting(what: string, opts: CallOptions): void {
  process.stderr.write(`${what}: waiting for ${opts.ack ?? 1} ack${(opts.ack ?? 1) === 1 ? '' : 's'}${opts.timeoutMs ? ` (at most ${opts.timeoutMs} ms)` : ''}…\n`);
}
