/**
 * Reading a node's `GET /metrics` (Prometheus text exposition format 0.0.4) in black-box tests: a strict
 * line parser (a line that is not a comment, blank, or `name{labels} value` fails the test) and lookups
 * of one series by its exact label set.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  status: number;
  contentType: string;
  text: string;
  samples: Sample[];
  /** `# TYPE` of each metric family. */
  types: Map<string, string>;
  /** Families with a `# HELP` line. */
  help: Set<string>;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const VALUE = '[-+]?(?:[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN)';
/** `name{labels} value`, labels optional (a trailing comma in the braces is allowed by the format). */
export const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (${VALUE})$`);
const LABEL_G = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/g;

/** Parses exposition text; throws naming the first line that is not valid. */
export function parseMetrics(text: string): Omit<Scrape, 'status' | 'contentType' | 'text'> {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = line.match(/^# (HELP|TYPE) (\S+) ?(.*)$/);
      if (m?.[1] === 'TYPE') types.set(m[2], m[3]);
      if (m?.[1] === 'HELP') help.add(m[2]);
      return;
    }
    const m = line.match(SAMPLE_LINE);
    if (!m) throw new Error(`/metrics line ${i + 1} is not \`name{labels} value\`: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL_G)) labels[k] = v.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1], labels, value: Number(m[3].replace(/^\+?Inf$/, 'Infinity').replace(/^-Inf$/, '-Infinity')) });
  });
  return { samples, types, help };
}

/** GET /metrics of a node (`httpUrl` as startNodeProcess gives it), with a bounded wait. */
export async function scrape(httpUrl: string, timeoutMs = 5000): Promise<Scrape> {
  const res = await fetch(new URL('/metrics', httpUrl), { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, ...parseMetrics(text) };
}

const sameLabels = (a: Record<string, string>, b: Record<string, string>): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);

/** The value of the series `name` with exactly `labels`, or undefined when there is none. */
export function metric(s: Pick<Scrape, 'samples'>, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = s.samples.filter((x) => x.name === name && sameLabels(x.labels, labels));
  if (found.length > 1) throw new Error(`/metrics has ${found.length} series ${name}${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Every series of `name`. */
export function series(s: Pick<Scrape, 'samples'>, name: string): Sample[] {
  return s.samples.filter((x) => x.name === name);
}
