import type { Metric, Registry } from 'prom-client';

type Label = 'method' | 'route' | 'status';

/** One line of the exposition, as prom-client's metrics hand them to the Registry. */
interface ExportedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/** One label set's observations. Held by a caller that observes it often (seriesFor), until the histogram is reset. */
export class LatencySeries {
  /** Observations per bucket (not cumulative); the last slot is above the highest bound. */
  readonly counts: number[];
  sum = 0;
  count = 0;
  /** Set by reset(): the histogram no longer exports this series, and a holder must ask for it again. */
  detached = false;

  constructor(
    readonly labels: Readonly<Record<Label, string>>,
    private readonly buckets: readonly number[],
  ) {
    this.counts = new Array<number>(buckets.length + 1).fill(0);
  }

  observe(seconds: number): void {
    let bucket = 0;
    while (bucket < this.buckets.length && seconds > this.buckets[bucket]!) bucket++;
    this.counts[bucket]!++;
    this.sum += seconds;
    this.count++;
  }
}

/**
 * The HTTP latency histogram (every request observes it once). prom-client's Histogram checks and hashes a label
 * object on each call, a visible share of a document answer (docs/benchmarks.md); here a series is found by one
 * string key and its bucket counted in place. It registers with a
 * prom-client Registry and prints exactly as prom-client's histogram does (`le` first, then method, route, status).
 */
export class LatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, LatencySeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    // Registry wants one of prom-client's own classes; it only calls name, help, get() and reset() (and reads type).
    registry.registerMetric(this as unknown as Metric);
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    this.seriesFor(method, route, status).observe(seconds);
  }

  /** The series of these labels, created on first use: for a caller that observes the same labels on every call. */
  seriesFor(method: string, route: string, status: number): LatencySeries {
    const key = `${status} ${method} ${route}`;
    let series = this.series.get(key);
    if (series === undefined) {
      series = new LatencySeries({ method, route, status: String(status) }, this.buckets);
      this.series.set(key, series);
    }
    return series;
  }

  /** The series as prom-client's Histogram exports them: cumulative buckets, +Inf, sum, count. */
  get(): { name: string; help: string; type: 'histogram'; values: ExportedValue[]; aggregator: 'sum' } {
    const values: ExportedValue[] = [];
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += counts[i]!;
        values.push({ labels: { le: bound, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...labels }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const series of this.series.values()) series.detached = true;
    this.series.clear();
  }
}
