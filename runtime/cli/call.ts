/**
 * `signpost call`: one JSON-RPC method, its result as JSON.
 */
import { rpcUrlOf } from '../../protocols/urls.js';
import { RpcClient, RpcError } from '../client/rpc-client.js';
import { DEFAULT_URL, helpFor, parse, UsageError } from './command.js';

const HELP: { [command: string]: string } = {
  call: `Usage: signpost call METHOD [JSON] [--url URL]

Calls one JSON-RPC method with JSON named params and prints the result as JSON.
  --url URL   the node's RPC URL (default ${DEFAULT_URL})
Exit status 1 with the error on stderr when the call fails.`,
};
const help = helpFor(HELP);

export async function call(args: string[]): Promise<number> {
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
