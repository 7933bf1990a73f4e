/**
 * Counters, gauges and histograms in the Prometheus text exposition format (version 0.0.4), served at
 * `GET /metrics`. Small on purpose: label sets are fixed by the code (method names, error codes, job
 * kinds), never taken from input, so the number of series stays bounded.
 */

type Labels = { [name: string]: string };

const labelText = (labels: Labels): string => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};

const seriesId = (labels: Labels): string => JSON.stringify(Object.entries(labels));

interface Metric {
  render(): string[];
}

export class Counter implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const id = seriesId(labels);
    const s = this.values.get(id);
    if (s) s.value += by;
    else this.values.set(id, { labels, value: by });
  }

  render(): string[] {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`, ...[...this.values.values()].map((s) => `${this.name}${labelText(s.labels)} ${s.value}`)];
  }
}

/** A value read when scraped (live actors, queue depths, store size). */
export class Gauge implements Metric {
  private samples: { labels: Labels; value: number }[] = [];
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter' = 'gauge',
  ) {}

  set(samples: { labels?: Labels; value: number }[]): void {
    this.samples = samples.map((s) => ({ labels: s.labels ?? {}, value: s.value }));
  }

  render(): string[] {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`, ...this.samples.map((s) => `${this.name}${labelText(s.labels)} ${s.value}`)];
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    /** Upper bounds, ascending. */
    readonly buckets: readonly number[],
  ) {}

  observe(value: number, labels: Labels = {}): void {
    const id = seriesId(labels);
    let s = this.series.get(id);
    if (!s) this.series.set(id, (s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((le, i) => lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: String(le) })} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${s.sum}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines;
  }
}

export class MetricsRegistry {
  private readonly metrics: Metric[] = [];
  private readonly collectors: (() => Promise<void> | void)[] = [];

  add<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }

  /** Runs before every scrape (fills the gauges). */
  collect(fn: () => Promise<void> | void): void {
    this.collectors.push(fn);
  }

  async render(): Promise<string> {
    await Promise.all(this.collectors.map((c) => c()));
    return this.metrics.flatMap((m) => m.render()).join('\n') + '\n';
  }
}

/** Seconds: 100 µs to 10 s. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
