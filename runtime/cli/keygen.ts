/**
 * `signpost keygen`: a new identity file.
 */
import { generateIdentity, identityToFile } from '../../protocols/identity.js';
import { systemRandom } from '../../protocols/random.js';
import { nodeEd25519 } from '../base/node-crypto.js';
import { writeIdentityFile } from '../node/identity-file.js';
import { helpFor, parse } from './command.js';

const HELP: { [command: string]: string } = {
  keygen: `Usage: signpost keygen [--out FILE]

Creates a new Ed25519 key pair in the identity file format
{"type":"ed25519","seed":"<base64url>","peer_id":"12D3KooW..."}.
Writes it to FILE (mode 0600, never overwriting) or prints it.`,
};
const help = helpFor(HELP);

export function keygen(args: string[]): number {
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
