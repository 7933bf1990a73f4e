/**
 * The simulator's command line (see run.ts for the list), checked with limits: a bad value is refused
 * with what was wrong, before anything runs.
 */
import type { PartitionSpec } from './network.js';
import { SIM_DEFAULTS, type SimOptions } from './sim.js';

type NumericOption = Exclude<keyof SimOptions, 'partitions' | 'store'>;

const NUMBERS: { [flag: string]: { key: NumericOption; min: number; max: number; integer?: true } } = {
  '--nodes': { key: 'nodes', min: 1, max: 200_000, integer: true },
  '--seed': { key: 'seed', min: 0, max: 2 ** 32 - 1, integer: true },
  '--hours': { key: 'hours', min: 0, max: 240 },
  '--churn': { key: 'churn', min: 0, max: 10 },
  '--loss': { key: 'loss', min: 0, max: 0.5 },
  '--duplicate': { key: 'duplicate', min: 0, max: 0.5 },
  '--rtt': { key: 'rttMs', min: 0, max: 10_000 },
  '--resources': { key: 'resources', min: 0, max: 1_000_000, integer: true },
  '--providers': { key: 'providers', min: 0, max: 10_000_000, integer: true },
  '--ack': { key: 'ack', min: 1, max: 20, integer: true },
  '--read-ack': { key: 'readAck', min: 1, max: 20, integer: true },
  '--resolve-rate': { key: 'resolveRate', min: 0, max: 100 },
  '--unregister-rate': { key: 'unregisterRate', min: 0, max: 100 },
  '--keep-alive': { key: 'keepAliveS', min: 0, max: 86_400, integer: true },
  '--min-success': { key: 'minSuccess', min: 0, max: 1 },
};

/** The success rate the goals ask for at a churn rate: 99.9 % up to 10 % an hour, 99 % up to 30 %. */
export function defaultMinSuccess(churn: number): number {
  return churn <= 0.1 ? 0.999 : churn <= 0.3 ? 0.99 : 0;
}

export function parseSimArgs(argv: string[]): Partial<SimOptions> {
  const o: Partial<SimOptions> = {};
  const partitions: PartitionSpec[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    i++;
    if (flag === '--partition-at') partitions.push(parsePartition(value));
    else if (flag === '--store') {
      if (value !== 'memory' && value !== 'lmdb') throw new Error(`--store is memory or lmdb, not ${JSON.stringify(value)}`);
      o.store = value;
    } else {
      const spec = NUMBERS[flag];
      if (!spec) throw new Error(`unknown option ${JSON.stringify(flag)} (see sim/run.ts for the options)`);
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n) || n < spec.min || n > spec.max || (spec.integer && !Number.isInteger(n))) {
        throw new Error(`${flag} must be ${spec.integer ? 'an integer' : 'a number'} in ${spec.min}..${spec.max}, not ${JSON.stringify(value)}`);
      }
      o[spec.key] = n;
    }
  }
  if (partitions.length > 0) o.partitions = partitions;
  o.minSuccess ??= defaultMinSuccess(o.churn ?? SIM_DEFAULTS.churn);
  if ((o.readAck ?? SIM_DEFAULTS.readAck) > 20 || (o.ack ?? SIM_DEFAULTS.ack) > 20) throw new Error('acks are at most k = 20');
  return o;
}

/** `T:DURATION:FRACTION`, T and DURATION in seconds or with a unit (90s, 20m, 1h). */
export function parsePartition(text: string): PartitionSpec {
  const parts = text.split(':');
  if (parts.length !== 3) throw new Error(`--partition-at is T:DURATION:FRACTION (e.g. 20m:10m:0.3), not ${JSON.stringify(text)}`);
  const [atS, durationS] = parts.slice(0, 2).map((p) => seconds(p, text));
  const fraction = Number(parts[2]);
  if (!(fraction > 0 && fraction < 1)) throw new Error(`--partition-at: the fraction must be between 0 and 1, not ${JSON.stringify(parts[2])}`);
  if (durationS <= 0) throw new Error(`--partition-at: the duration must be positive in ${JSON.stringify(text)}`);
  return { atS, durationS, fraction };
}

function seconds(p: string, whole: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(p);
  if (!m) throw new Error(`--partition-at: ${JSON.stringify(p)} in ${JSON.stringify(whole)} is not a time (90, 90s, 20m, 1h)`);
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
}
