// Metrics of a run, as the Prometheus text exposition format (`--format prom`, or a textfile
// for node_exporter) and as CloudWatch Embedded Metric Format log lines (native to Lambda).
// Pure formatters from the Report; the only I/O is writeTextfile() and the EMF line writer.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { MetricsSink } from '../notify.ts';
import { writeFileAtomic } from '../state/atomic-write.ts';
import type { Measurement, Report } from '../types.ts';

export const METRIC_PREFIX = 'dialer_audit_';

/** HELP texts of the measurements checks record; others get a generic one. */
const KNOWN_HELP: Record<string, string> = {
  up: '1 when the target answered as expected at this resolver/server, 0 when not.',
  rtt_seconds: 'Round-trip time of the probe, in seconds.',
  ttl_seconds: 'TTL seen for the record, in seconds.',
  duration_seconds: 'Time the probe took, in seconds.',
  retransmissions: 'Retransmissions the probe needed in this run.',
  timeouts: 'Probes of this target that timed out in this run.',
  response_bytes: 'Size of the response, in bytes.',
};

interface Series {
  labels: Record<string, string>;
  value: number;
}

interface Family {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  series: Map<string, Series>;
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

class Families {
  readonly #families = new Map<string, Family>();

  add(name: string, type: Family['type'], help: string, labels: Record<string, string | undefined>, value: number): void {
    let family = this.#families.get(name);
    if (!family) {
      family = { name, type, help, series: new Map() };
      this.#families.set(name, family);
    }
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) if (v !== undefined && v !== '') clean[labelName(k)] = v;
    const key = JSON.stringify(Object.entries(clean).sort(([a], [b]) => a.localeCompare(b)));
    family.series.set(key, { labels: clean, value });
  }

  render(): string {
    const out: string[] = [];
    for (const f of [...this.#families.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
      for (const s of f.series.values()) {
        const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
        out.push(`${f.name}${labels.length ? `{${labels.join(',')}}` : ''} ${formatValue(s.value)}`);
      }
    }
    return out.length ? out.join('\n') + '\n' : '';
  }
}

function runSeconds(report: Report): number {
  return (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000;
}

/**
 * Prometheus text format 0.0.4. A run is a snapshot, so its values are gauges; only
 * measurements a check names `…_total` are counters.
 */
export function formatPrometheus(report: Report): string {
  const fam = new Families();
  const vantage = report.vantage;
  for (const m of report.measurements) {
    const type = m.metric.endsWith('_total') ? 'counter' : 'gauge';
    const help = KNOWN_HELP[m.metric] ?? `${m.metric} as measured by the checks.`;
    const { check: _c, target: _t, vantage: _v, ...extra } = m.labels ?? {};
    fam.add(metricName(m.metric), type, help, { check: m.check, target: m.target, ...extra, vantage }, m.value);
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
  fam.add(metricName('run_timestamp_seconds'), 'gauge', 'When the last run finished, in seconds since the epoch.', { vantage }, Date.parse(report.finishedAt) / 1000);
  fam.add(metricName('run_failed'), 'gauge', '1 when the last run failed (findings at or above the fail threshold, or a reporter failed).', { vantage }, report.summary.failed ? 1 : 0);
  fam.add(metricName('reporter_failures'), 'gauge', 'Reporters that failed in the last run.', { vantage }, report.reporterFailures.length);
  return fam.render();
}

/** CloudWatch units by the base-unit suffix of the name. */
function emfUnit(metric: string): string {
  if (metric.endsWith('_seconds')) return 'Seconds';
  if (metric.endsWith('_bytes')) return 'Bytes';
  if (metric.endsWith('_total') || metric === 'retransmissions' || metric === 'timeouts' || metric.startsWith('findings') || metric === 'targets' || metric === 'errors') return 'Count';
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

/**
 * Embedded Metric Format: one JSON line per (check, target, labels) with its measurements, one
 * per check, one for the run. Every distinct dimension set is a custom metric CloudWatch bills.
 */
export function formatEmf(report: Report, namespace = 'DialerAudit'): string[] {
  const timestamp = Date.parse(report.finishedAt);
  const vantage: Record<string, string> = report.vantage ? { vantage: report.vantage } : {};
  const lines: string[] = [];
  const groups = new Map<string, { dims: Record<string, string>; metrics: Record<string, number> }>();
  for (const m of report.measurements as Measurement[]) {
    const dims: Record<string, string> = { check: m.check, target: m.target, ...vantage };
    for (const [k, v] of Object.entries(m.labels ?? {}).sort(([a], [b]) => a.localeCompare(b))) if (v !== '' && !(k in dims)) dims[k] = v;
    const key = JSON.stringify(dims);
    const g = groups.get(key) ?? { dims, metrics: {} };
    g.metrics[m.metric] = m.value;
    groups.set(key, g);
  }
  for (const g of groups.values()) {
    const names = Object.keys(g.metrics);
    for (let i = 0; i < names.length; i += EMF_MAX_METRICS) {
      const chunk = Object.fromEntries(names.slice(i, i + EMF_MAX_METRICS).map((n) => [n, g.metrics[n]]));
      lines.push(emfLine(namespace, timestamp, g.dims, chunk));
    }
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
