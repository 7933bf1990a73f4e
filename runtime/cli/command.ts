/**
 * What every command of the `signpost` command line shares: parsing flags (node:util parseArgs, strict),
 * usage errors (exit status 2), help texts (each beside its command), and the common flag checks.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const DEFAULT_URL = 'ws://127.0.0.1:7070/rpc';

export type ArgValues = { [k: string]: string | string[] | boolean | undefined };

/** A mistake in how the command was called: exit status 2, with a pointer to --help. */
export class UsageError extends Error {}

export function parse(args: string[], options: ParseArgsConfig['options']): { values: ArgValues; positionals: string[] } {
  return parseArgs({ args, options: { ...options, help: { type: 'boolean' } }, allowPositionals: true, strict: true });
}

/** `help(command, status)` prints a command's help from `table` (stdout, or stderr for a usage error) and returns the status. */
export function helpFor(table: { [command: string]: string }): (command: string, status?: number) => number {
  return (command, status = 0) => {
    (status === 0 ? process.stdout : process.stderr).write(table[command] + '\n');
    return status;
  };
}

/** A whole-number flag, or undefined when absent. */
export function intFlag(values: ArgValues, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n < min || n > max) throw new UsageError(`--${name} must be a whole number ${min}..${max}, got ${JSON.stringify(v)}`);
  return n;
}

/** Exactly one positional argument (the label or resource id). */
export function oneArgument(positionals: string[], what: string, command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes one ${what}${positionals.length ? `, got ${positionals.join(' ')}` : ''}`);
  return positionals[0];
}

/**
 * `signpost GROUP SUB …`: runs SUB's command; no SUB (status 2) or `--help` prints `helpKey`'s help.
 */
export function subcommand(
  group: string,
  args: string[],
  subs: { [sub: string]: (args: string[]) => Promise<number> | number },
  help: (command: string, status?: number) => number,
  helpKey = group,
): Promise<number> | number {
  const [sub, ...rest] = args;
  if (sub !== undefined && Object.hasOwn(subs, sub)) return subs[sub](rest);
  if (sub === undefined || sub === '--help' || sub === '-h') return help(helpKey, sub === undefined ? 2 : 0);
  throw new UsageError(`unknown command "${group} ${sub}"`);
}
