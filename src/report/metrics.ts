// Metrics of a run, as the Prometheus text exposition format (`--format prom`, or a textfile
// for node_exporter) and as CloudWatch Embedded Metric Format log lines (native to Lambda).
// Made from the run's aggregates, so the series are bounded by checks × resolvers/servers/carriers
// × a few labels, plus one series per target that has findings — never one per dialer.
// Pure formatters from the Report; the only I/O is writeTextfile() and the EMF line writer.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { quantile, RTT_BUCKETS } from '../aggregate.ts';
import type { MetricsSink } from '../notify.ts';
import { writeFileAtomic } from '../state/atomic-write.ts';
import type { Finding, MetricAggregate, Report } from '../types.ts';
import { SEVERITY_RANK } from '../types.ts';

export const METRIC_PREFIX = 'dialer_audit_';

/** HELP texts of the measurements checks record; others get a generic one. */
const KNOWN_HELP: Record<string, string> = {
  up: 'Share of the probes of this check and label set that answered as expected in the last run (1 = all).',
  rtt_seconds: 'Round-trip times of the probes, in seconds.',
  ttl_seconds: 'TTL seen for the records, in seconds.',
  duration_seconds: 'Time the probes took, in seconds.',
  retransmissions: 'Retransmissions the probes needed in this run.',
  timeouts: 'Probes that timed out in this run.',
  response_bytes: 'Size of the responses, in bytes.',
};

/** Measurements that count events: their sum over the run is the number to export. */
function counting(metric: string): boolean {
  return metric.endsWith('_total') || metric === 'retransmissions' || metric === 'timeouts';
}

interface Sample {
  /** Suffix of the family name (histograms: _bucket, _sum, _count). */
  suffix: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  name: string;
  type: 'gauge' | 'counter' | 'histogram';
  help: string;
  samples: Map<string, Sample>;
}

export function metricName(metric: string): string {
  const clean = metric.replace(/[^a-zA-Z0-9_:]/g, '_');
  return `${METRIC_PREFIX}${clean}`;
}

export function labelName(name: string): string {
  const clean = name.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^__+/, '');
  return /^[0-9]/.test(clean) ? `_${clean}` : clean || '_';
}

/** Label values escape backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function cleanLabels(labels: Record<string, string | undefined>): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (v !== undefined && v !== '') clean[labelName(k)] = v;
  return clean;
}

class Families {
  readonly #families = new Map<string, Family>();

  #family(name: string, type: Family['type'], help: string): Family {
    let family = this.#families.get(name);
    if (!family) {
      family = { name, type, help, samples: new Map() };
      this.#families.set(name, family);
    }
    return family;
  }

  add(name: string, type: 'gauge' | 'counter', help: string, labels: Record<string, string | undefined>, value: number): void {
    this.#put(this.#family(name, type, help), '', cleanLabels(labels), value);
  }

  /** A Prometheus histogram: cumulative buckets by `le`, then _sum and _count. */
  histogram(name: string, help: string, labels: Record<string, string | undefined>, a: MetricAggregate): void {
    const family = this.#family(name, 'histogram', help);
    const clean = cleanLabels(labels);
    let cumulative = 0;
    RTT_BUCKETS.forEach((le, i) => {
      cumulative += a.buckets?.[i] ?? 0;
      this.#put(family, '_bucket', { ...clean, le: String(le) }, cumulative);
    });
    this.#put(family, '_bucket', { ...clean, le: '+Inf' }, a.count);
    this.#put(family, '_sum', clean, a.sum);
    this.#put(family, '_count', clean, a.count);
  }

  #put(family: Family, suffix: string, labels: Record<string, string>, value: number): void {
    const key = suffix + JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
    family.samples.set(key, { suffix, labels, value });
  }

  /** Lines that are samples (not comments): what a Prometheus server stores as series. */
  get series(): number {
    let n = 0;
    for (const f of this.#families.values()) n += f.samples.size;
    return n;
  }

  render(): string {
    const out: string[] = [];
    for (const f of [...this.#families.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
      for (const s of f.samples.values()) {
        const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
        out.push(`${f.name}${s.suffix}${labels.length ? `{${labels.join(',')}}` : ''} ${formatValue(s.value)}`);
      }
    }
    return out.length ? out.join('\n') + '\n' : '';
  }
}

function runSeconds(report: Report): number {
  return (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000;
}

/** The labels of an aggregate's series: the check, its own labels, the vantage. */
function seriesLabels(a: MetricAggregate, vantage: string | undefined): Record<string, string | undefined> {
  const { check: _c, vantage: own, ...extra } = a.labels;
  return { check: a.check, ...extra, vantage: own ?? vantage };
}

/** Per (check, target) with findings: how many, and the worst severity. One series each. */
export function failingTargets(findings: Finding[]): { check: string; target: string; severity: Finding['severity']; findings: number }[] {
  const byTarget = new Map<string, { check: string; target: string; severity: Finding['severity']; findings: number }>();
  for (const f of findings) {
    const key = `${f.check}\u0000${f.target}`;
    const seen = byTarget.get(key) ?? { check: f.check, target: f.target, severity: f.severity, findings: 0 };
    seen.findings++;
    if (SEVERITY_RANK[f.severity] > SEVERITY_RANK[seen.severity]) seen.severity = f.severity;
    byTarget.set(key, seen);
  }
  return [...byTarget.values()];
}

function addAggregate(fam: Families, a: MetricAggregate, vantage: string | undefined): void {
  const labels = seriesLabels(a, vantage);
  const help = KNOWN_HELP[a.metric] ?? `${a.metric} as measured by the checks.`;
  if (a.metric === 'up') {
    fam.add(metricName('up'), 'gauge', help, labels, a.count ? a.sum / a.count : 0);
    fam.add(metricName('probes'), 'gauge', 'Probes of this check and label set in the last run.', labels, a.count);
    fam.add(metricName('probe_failures'), 'gauge', 'Probes of this check and label set that did not answer as expected in the last run.', labels, a.count - a.sum);
  } else if (a.buckets) {
    fam.histogram(metricName(a.metric), help, labels, a);
  } else if (counting(a.metric)) {
    fam.add(metricName(a.metric), a.metric.endsWith('_total') ? 'counter' : 'gauge', help, labels, a.sum);
  } else {
    fam.add(metricName(`${a.metric}_max`), 'gauge', `Largest ${help.charAt(0).toLowerCase()}${help.slice(1)}`, labels, a.max);
    fam.add(metricName(`${a.metric}_min`), 'gauge', `Smallest ${help.charAt(0).toLowerCase()}${help.slice(1)}`, labels, a.min);
  }
}

function prometheusFamilies(report: Report): Families {
  const fam = new Families();
  const vantage = report.vantage;
  for (const a of report.aggregates) addAggregate(fam, a, vantage);
  for (const t of failingTargets(report.findings)) {
    fam.add(metricName('target_findings'), 'gauge', 'Findings of a target in the last run (one series per target with findings; severity is the worst).', { check: t.check, target: t.target, severity: t.severity, vantage }, t.findings);
  }

  const findings = new Map<string, { check: string; code: string; severity: string; n: number }>();
  for (const f of report.findings) {
    const key = `${f.check}\0${f.code}\0${f.severity}`;
    const seen = findings.get(key) ?? { check: f.check, code: f.code, severity: f.severity, n: 0 };
    seen.n++;
    findings.set(key, seen);
  }
  for (const f of findings.values()) {
    fam.add(metricName('findings'), 'gauge', 'Findings of the last run, by check, code and severity.', { check: f.check, code: f.code, severity: f.severity, vantage }, f.n);
  }
  for (const severity of ['critical', 'warning', 'info'] as const) {
    fam.add(metricName('findings_by_severity'), 'gauge', 'Findings of the last run by severity (0 when none).', { severity, vantage }, report.summary[severity]);
  }
  for (const [check, s] of Object.entries(report.summary.checks)) {
    fam.add(metricName('check_targets'), 'gauge', 'Targets a check audited in the last run.', { check, vantage }, s.targets);
    fam.add(metricName('check_errors'), 'gauge', 'Targets a check could not audit in the last run (CHECK_ERROR).', { check, vantage }, s.errors);
    fam.add(metricName('check_duration_seconds'), 'gauge', 'Time a check took in the last run, in seconds.', { check, vantage }, s.durationMs / 1000);
  }
  const fixes = new Map<string, number>();
  for (const f of report.fixes) fixes.set(f.status, (fixes.get(f.status) ?? 0) + 1);
  for (const [status, n] of fixes) fam.add(metricName('fixes'), 'gauge', 'TTL fixes of the last run by status.', { status, vantage }, n);
  fam.add(metricName('run_duration_seconds'), 'gauge', 'Duration of the last run, in seconds.', { vantage }, runSeconds(report));
  if (report.summary.bound) fam.add(metricName('run_bound_seconds'), 'gauge', 'The politeness bound of the last run: the busiest server\'s queries divided by its qps, in seconds.', { vantage }, report.summary.bound.seconds);
  fam.add(metricName('run_timestamp_seconds'), 'gauge', 'When the last run finished, in seconds since the epoch.', { vantage }, Date.parse(report.finishedAt) / 1000);
  fam.add(metricName('run_failed'), 'gauge', '1 when the last run failed (findings at or above the fail threshold, or a reporter failed).', { vantage }, report.summary.failed ? 1 : 0);
  fam.add(metricName('reporter_failures'), 'gauge', 'Reporters that failed in the last run.', { vantage }, report.reporterFailures.length);
  return fam;
}

/** Prometheus text format 0.0.4. A run is a snapshot, so values are gauges, RTTs histograms. */
export function formatPrometheus(report: Report): string {
  return prometheusFamilies(report).render();
}

/** How many series the run's exposition holds (what a Prometheus server stores). */
export function prometheusSeries(report: Report): number {
  return prometheusFamilies(report).series;
}

/** CloudWatch units by the base-unit suffix of the name (before a _p50/_p95/_max/_min statistic). */
function emfUnit(name: string): string {
  const metric = name.replace(/_(p50|p95|max|min)$/, '');
  if (metric.endsWith('_seconds')) return 'Seconds';
  if (metric.endsWith('_bytes')) return 'Bytes';
  if (counting(metric) || metric.startsWith('findings') || metric === 'targets' || metric === 'errors' || metric === 'probes' || metric === 'probe_failures') return 'Count';
  return 'None';
}

/** CloudWatch allows 100 metrics per directive and 30 dimensions per set. */
const EMF_MAX_METRICS = 100;
const EMF_MAX_DIMENSIONS = 30;

function emfLine(namespace: string, timestamp: number, dimensions: Record<string, string>, metrics: Record<string, number>): string {
  const dims = Object.keys(dimensions).slice(0, EMF_MAX_DIMENSIONS);
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [dims], Metrics: Object.keys(metrics).map((Name) => ({ Name, Unit: emfUnit(Name) })) }],
    },
    ...dimensions,
    ...metrics,
  });
}

/** The numbers of one aggregate as EMF metrics: a ratio and counts for `up`, quantiles for times. */
function emfMetrics(a: MetricAggregate): Record<string, number> {
  if (a.metric === 'up') return { up: a.count ? a.sum / a.count : 0, probes: a.count, probe_failures: a.count - a.sum };
  if (a.buckets) return { [`${a.metric}_p50`]: quantile(a, 0.5) ?? 0, [`${a.metric}_p95`]: quantile(a, 0.95) ?? 0, [`${a.metric}_max`]: a.max };
  if (counting(a.metric)) return { [a.metric]: a.sum };
  return { [`${a.metric}_max`]: a.max, [`${a.metric}_min`]: a.min };
}

/**
 * Embedded Metric Format: one JSON line per check and label set (resolver, server, carrier …)
 * with its aggregates, one per target with findings, one per check, one for the run. Every
 * distinct dimension set is a custom metric CloudWatch bills: none of them grows with the fleet.
 */
export function formatEmf(report: Report, namespace = 'DialerAudit'): string[] {
  const timestamp = Date.parse(report.finishedAt);
  const vantage: Record<string, string> = report.vantage ? { vantage: report.vantage } : {};
  const lines: string[] = [];
  const groups = new Map<string, { dims: Record<string, string>; metrics: Record<string, number> }>();
  for (const a of report.aggregates) {
    const dims: Record<string, string> = { check: a.check, ...vantage };
    for (const [k, v] of Object.entries(a.labels).sort(([x], [y]) => x.localeCompare(y))) if (v !== '' && !(k in dims)) dims[k] = v;
    const key = JSON.stringify(dims);
    const g = groups.get(key) ?? { dims, metrics: {} };
    Object.assign(g.metrics, emfMetrics(a));
    groups.set(key, g);
  }
  for (const g of groups.values()) {
    const names = Object.keys(g.metrics);
    for (let i = 0; i < names.length; i += EMF_MAX_METRICS) {
      const chunk = Object.fromEntries(names.slice(i, i + EMF_MAX_METRICS).map((n) => [n, g.metrics[n]]));
      lines.push(emfLine(namespace, timestamp, g.dims, chunk));
    }
  }
  for (const t of failingTargets(report.findings)) {
    lines.push(emfLine(namespace, timestamp, { check: t.check, target: t.target, ...vantage }, { findings: t.findings }));
  }
  for (const [check, s] of Object.entries(report.summary.checks)) {
    lines.push(emfLine(namespace, timestamp, { check, ...vantage }, { findings: s.findings, targets: s.targets, errors: s.errors, duration_seconds: s.durationMs / 1000 }));
  }
  lines.push(
    emfLine(namespace, timestamp, { ...vantage }, {
      findings_critical: report.summary.critical,
      findings_warning: report.summary.warning,
      findings_info: report.summary.info,
      run_duration_seconds: runSeconds(report),
      run_failed: report.summary.failed ? 1 : 0,
      reporter_failures: report.reporterFailures.length,
    }),
  );
  return lines;
}

/** Write the textfile atomically: node_exporter reads only *.prom, so the temp file is never half-read. */
export async function writeTextfile(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  try {
    await writeFileAtomic(file, text, 0o644);
  } catch (err) {
    throw new Error(`prometheus textfile ${file}: cannot write (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }

}

/** EMF lines for CloudWatch (Lambda picks them out of its log stream). */
export function emfSink(namespace: string, writeLine: (line: string) => void): MetricsSink {
  return {
    name: 'emf',
    write: async (report) => {
      for (const line of formatEmf(report, namespace)) writeLine(line);
    },
  };
}

/** The node_exporter textfile, rewritten atomically every run. */
export function textfileSink(file: string): MetricsSink {
  return { name: 'prometheus-textfile', write: (report) => writeTextfile(file, formatPrometheus(report)) };
}
