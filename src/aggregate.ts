// Measurements folded as they arrive: per check × metric × labels (resolver/server/carrier,
// transport, type …) a count, a sum, the extremes and, for times, histogram buckets. A run's
// memory, its report and its metric series then grow with the resolvers, servers and carriers,
// never with the fleet. Pure; merging two aggregates is exact, so shards and vantages add up.
import type { Measurement, MetricAggregate } from './types.ts';

/** Upper bounds (seconds) of the RTT histogram, like blackbox_exporter's probe durations. */
export const RTT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Below this many values an aggregate keeps them all, so small series (a carrier's probes) have exact quantiles. */
export const EXACT_VALUES = 32;

/**
 * Distinct label sets one check may hold. A check that names a subject per dialer by mistake would
 * otherwise grow the aggregates with the fleet; past this, the subject (`target`) is left out.
 */
export const MAX_SERIES_PER_CHECK = 500;

/** Times get histogram buckets; other numbers (TTLs, counts) keep count, sum and extremes. */
export function bucketed(metric: string): boolean {
  return metric.endsWith('rtt_seconds') || metric.endsWith('duration_seconds');
}

function labelKey(check: string, metric: string, labels: Record<string, string>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`);
  return `${check}\u0000${metric}\u0000${parts.join('\u0000')}`;
}

function bucketIndex(value: number): number {
  for (let i = 0; i < RTT_BUCKETS.length; i++) if (value <= RTT_BUCKETS[i]) return i;
  return RTT_BUCKETS.length;
}

function fresh(check: string, metric: string, labels: Record<string, string>): MetricAggregate {
  return { check, metric, labels, count: 0, sum: 0, min: Infinity, max: -Infinity, ...(bucketed(metric) ? { buckets: new Array<number>(RTT_BUCKETS.length + 1).fill(0) } : {}), values: [] };
}

function addValue(a: MetricAggregate, value: number): void {
  a.count++;
  a.sum += value;
  if (value < a.min) a.min = value;
  if (value > a.max) a.max = value;
  if (a.buckets) a.buckets[bucketIndex(value)]++;
  if (a.values) {
    if (a.count <= EXACT_VALUES) a.values.push(value);
    else delete a.values;
  }
}

/** Folds measurements into aggregates as they arrive; memory grows with distinct label sets only. */
export class Aggregator {
  readonly #byKey = new Map<string, MetricAggregate>();
  /** The same series by its labels in the order a check writes them: no sorting on the hot path. */
  readonly #bySignature = new Map<string, MetricAggregate>();
  readonly #seriesPerCheck = new Map<string, number>();

  /** `subject`: the measurement named a subject of its own (a server, a zone); it becomes the `target` label. */
  add(m: Measurement, subject: boolean): void {
    let signature = `${m.check}\u0000${m.metric}\u0000${subject ? m.target : ''}`;
    for (const k in m.labels) signature += `\u0000${k}=${m.labels[k]}`;
    let a = this.#bySignature.get(signature);
    if (!a) {
      const series = this.#seriesPerCheck.get(m.check) ?? 0;
      const keepSubject = subject && series < MAX_SERIES_PER_CHECK;
      a = this.#series(m, keepSubject);
      // A subject left out past the cap is not remembered either: nothing here grows per target.
      if (keepSubject || !subject) this.#bySignature.set(signature, a);
    }
    addValue(a, m.value);
  }

  #series(m: Measurement, keepSubject: boolean): MetricAggregate {
    const labels: Record<string, string> = keepSubject ? { ...m.labels, target: m.target } : { ...m.labels };
    const key = labelKey(m.check, m.metric, labels);
    let a = this.#byKey.get(key);
    if (!a) {
      a = fresh(m.check, m.metric, labels);
      this.#byKey.set(key, a);
      this.#seriesPerCheck.set(m.check, (this.#seriesPerCheck.get(m.check) ?? 0) + 1);
    }
    return a;
  }

  /** The aggregates, in a stable order, ready for the report. */
  result(): MetricAggregate[] {
    return sortAggregates([...this.#byKey.values()].map(finish));
  }
}

function finish(a: MetricAggregate): MetricAggregate {
  const out: MetricAggregate = { ...a, labels: { ...a.labels }, ...(a.buckets ? { buckets: [...a.buckets] } : {}) };
  if (a.values) out.values = [...a.values].sort((x, y) => x - y);
  return out;
}

export function sortAggregates(list: MetricAggregate[]): MetricAggregate[] {
  return list.sort((a, b) => labelKey(a.check, a.metric, a.labels).localeCompare(labelKey(b.check, b.metric, b.labels)));
}

/** Aggregates of a list of measurements (tests, and reports built from measurements). */
export function aggregateMeasurements(measurements: Iterable<Measurement>, subject: (m: Measurement) => boolean = () => false): MetricAggregate[] {
  const agg = new Aggregator();
  for (const m of measurements) agg.add(m, subject(m));
  return agg.result();
}

/** Two aggregates of the same series as one (shards, vantages, a carrier's transports). Exact. */
export function combine(a: MetricAggregate, b: MetricAggregate, labels: Record<string, string> = a.labels): MetricAggregate {
  const count = a.count + b.count;
  const out: MetricAggregate = { check: a.check, metric: a.metric, labels, count, sum: a.sum + b.sum, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
  if (a.buckets || b.buckets) {
    const width = RTT_BUCKETS.length + 1;
    out.buckets = Array.from({ length: width }, (_, i) => (a.buckets?.[i] ?? 0) + (b.buckets?.[i] ?? 0));
  }
  if (a.values && b.values && count <= EXACT_VALUES) out.values = [...a.values, ...b.values].sort((x, y) => x - y);
  return out;
}

/** Lists of aggregates (one per shard or vantage) as one list, series by series. */
export function mergeAggregates(lists: MetricAggregate[][], extraLabels: (listIndex: number) => Record<string, string> = () => ({})): MetricAggregate[] {
  const byKey = new Map<string, MetricAggregate>();
  lists.forEach((list, i) => {
    for (const a of list) {
      const labels = { ...a.labels, ...extraLabels(i) };
      const key = labelKey(a.check, a.metric, labels);
      const seen = byKey.get(key);
      byKey.set(key, seen ? combine(seen, a, labels) : { ...a, labels });
    }
  });
  return sortAggregates([...byKey.values()]);
}

/**
 * The q-quantile (0..1): exact while the aggregate still holds its values (nearest rank), else
 * interpolated inside the histogram bucket like Prometheus' histogram_quantile, clamped to the
 * values seen. Undefined for an empty aggregate or an unbucketed one without values.
 */
export function quantile(a: MetricAggregate, q: number): number | undefined {
  if (a.count === 0) return undefined;
  if (a.values && a.values.length === a.count) {
    const sorted = [...a.values].sort((x, y) => x - y);
    const rank = Math.max(1, Math.ceil(q * sorted.length));
    return sorted[Math.min(rank, sorted.length) - 1];
  }
  if (!a.buckets) return undefined;
  const wanted = q * a.count;
  let below = 0;
  for (let i = 0; i < a.buckets.length; i++) {
    const inBucket = a.buckets[i];
    if (below + inBucket >= wanted && inBucket > 0) {
      const lower = i === 0 ? 0 : RTT_BUCKETS[i - 1];
      const upper = i < RTT_BUCKETS.length ? RTT_BUCKETS[i] : a.max;
      const estimate = lower + ((upper - lower) * (wanted - below)) / inBucket;
      return Math.min(a.max, Math.max(a.min, estimate));
    }
    below += inBucket;
  }
  return a.max;
}

/** For the `up` metric: probes that answered as expected, and those that did not. */
export function upDown(a: MetricAggregate): { up: number; down: number } {
  return { up: a.sum, down: a.count - a.sum };
}
