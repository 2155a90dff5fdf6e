import { describe, expect, it } from 'vitest';
import { aggregateMeasurements } from '../../src/aggregate.ts';
import { buildReport } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { escapeLabelValue, formatEmf, formatPrometheus, prometheusSeries } from '../../src/report/metrics.ts';
import type { Finding, Measurement, Report } from '../../src/types.ts';

const config = parseConfig({ run: { vantage: 'eu-west-1' } });

/** Every dialer of the fleet asked at google: one A query each, the first `failing` of them stale. */
function fleetMeasurements(dialers: number): Measurement[] {
  return Array.from({ length: dialers }, (_, i) => [
    { check: 'dns-consistency', target: `d${i}.dialer.example.com`, metric: 'up', value: i === 0 ? 0 : 1, labels: { resolver: 'google', type: 'A' } },
    { check: 'dns-consistency', target: `d${i}.dialer.example.com`, metric: 'rtt_seconds', value: 0.0123, labels: { resolver: 'google', type: 'A' } },
    { check: 'dns-consistency', target: `d${i}.dialer.example.com`, metric: 'ttl_seconds', value: i === 0 ? 86400 : 300, labels: { resolver: 'google', type: 'A' } },
  ]).flat();
}

function report(dialers = 2, findings: Finding[] = defaultFindings()): Report {
  const measurements = fleetMeasurements(dialers);
  const timeouts: Measurement = { check: 'sip-options', target: 'carrier-a', metric: 'timeouts_total', value: 3, labels: { transport: 'udp', 'bad-label': 'x' } };
  return buildReport({
    runId: 'r1',
    started: Date.parse('2026-11-23T15:20:00Z'),
    finished: Date.parse('2026-11-23T15:20:02.5Z'),
    config,
    dryRun: true,
    findings,
    fixes: [],
    aggregates: aggregateMeasurements([...measurements, timeouts]),
    measurements: measurements.filter((m) => m.target === 'd0.dialer.example.com'),
    summaries: {
      'dns-consistency': { targets: dialers, findings: 2, errors: 0, durationMs: 1500 },
      'sip-options': { targets: 1, findings: 1, errors: 0, durationMs: 2400 },
    },
    targetCount: dialers + 1,
  });
}

function defaultFindings(): Finding[] {
  return [
    { check: 'dns-consistency', target: 'd0.dialer.example.com', severity: 'critical', code: 'DNS_MISMATCH', message: 'stale', resolver: 'google' },
    { check: 'dns-consistency', target: 'd0.dialer.example.com', severity: 'warning', code: 'DNS_TTL_STALE', message: 'long ttl', resolver: 'google' },
    { check: 'sip-options', target: 'carrier "a"\\b\nc', severity: 'warning', code: 'SIP_TIMEOUT', message: 'no answer' },
  ];
}

/** The exposition format line by line: comments, or name{labels} value. */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/;

describe('Prometheus text format', () => {
  it('writes valid exposition lines with one HELP and TYPE per family, prefixed names and base units', () => {
    // Act
    const text = formatPrometheus(report());
    const lines = text.trimEnd().split('\n');
    // Assess
    const families = new Map<string, string>();
    for (const line of lines) {
      if (line.startsWith('# HELP ')) continue;
      const type = /^# TYPE (\S+) (gauge|counter|histogram)$/.exec(line);
      if (type) {
        expect(families.has(type[1])).toBe(false);
        families.set(type[1], type[2]);
        continue;
      }
      expect(line).toMatch(SAMPLE);
      const name = SAMPLE.exec(line)![1];
      expect(name.startsWith('dialer_audit_')).toBe(true);
      expect(families.has(name) || families.get(name.replace(/_(bucket|sum|count)$/, '')) === 'histogram').toBe(true);
    }
    expect(families.get('dialer_audit_up')).toBe('gauge');
    expect(families.get('dialer_audit_rtt_seconds')).toBe('histogram');
    expect(families.get('dialer_audit_timeouts_total')).toBe('counter');
    // Per check and resolver, not per dialer: one of the two probes failed.
    expect(text).toContain('dialer_audit_up{check="dns-consistency",resolver="google",type="A",vantage="eu-west-1"} 0.5');
    expect(text).toContain('dialer_audit_probes{check="dns-consistency",resolver="google",type="A",vantage="eu-west-1"} 2');
    expect(text).toContain('dialer_audit_probe_failures{check="dns-consistency",resolver="google",type="A",vantage="eu-west-1"} 1');
    expect(text).toContain('dialer_audit_rtt_seconds_bucket{check="dns-consistency",resolver="google",type="A",vantage="eu-west-1",le="0.01"} 0');
    expect(text).toContain('dialer_audit_rtt_seconds_bucket{check="dns-consistency",resolver="google",type="A",vantage="eu-west-1",le="0.025"} 2');
    expect(text).toContain('dialer_audit_rtt_seconds_bucket{check="dns-consistency",resolver="google",type="A",vantage="eu-west-1",le="+Inf"} 2');
    expect(text).toContain('dialer_audit_rtt_seconds_count{check="dns-consistency",resolver="google",type="A",vantage="eu-west-1"} 2');
    expect(text).toContain('dialer_audit_ttl_seconds_max{check="dns-consistency",resolver="google",type="A",vantage="eu-west-1"} 86400');
    // One series per target with findings, the worst severity.
    expect(text).toContain('dialer_audit_target_findings{check="dns-consistency",target="d0.dialer.example.com",severity="critical",vantage="eu-west-1"} 2');
    expect(text).not.toContain('d1.dialer.example.com');
    expect(text).toContain('dialer_audit_findings{check="dns-consistency",code="DNS_MISMATCH",severity="critical",vantage="eu-west-1"} 1');
    expect(text).toContain('dialer_audit_run_duration_seconds{vantage="eu-west-1"} 2.5');
    expect(text).toContain('dialer_audit_check_duration_seconds{check="sip-options",vantage="eu-west-1"} 2.4');
    expect(text).toContain('# HELP dialer_audit_up Share of the probes');
    expect(text).toContain('target="carrier \\"a\\"\\\\b\\nc"');
    expect(text).toContain('bad_label="x"');
  });

  it('has as many series for 2,000 healthy dialers as for 2: they grow with what is wrong', () => {
    // Act
    const small = prometheusSeries(report(2));
    const large = prometheusSeries(report(2000));
    const failing = prometheusSeries(report(2000, [...defaultFindings(), { check: 'dns-consistency', target: 'd7.dialer.example.com', severity: 'critical', code: 'DNS_MISMATCH', message: 'stale', resolver: 'google' }]));
    // Assess
    expect(large).toBe(small);
    expect(failing).toBe(large + 1);
  });

  it('escapes label values as the format requires', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });
});

describe('CloudWatch Embedded Metric Format', () => {
  it('writes one JSON line per check and label set, per failing target, per check and per run, each metric declared with its unit', () => {
    // Act
    const lines = formatEmf(report(), 'DialerAudit').map((l) => JSON.parse(l));
    // Assess
    for (const line of lines) {
      expect(line._aws.Timestamp).toBe(Date.parse('2026-11-23T15:20:02.5Z'));
      const [directive] = line._aws.CloudWatchMetrics;
      expect(directive.Namespace).toBe('DialerAudit');
      for (const dim of directive.Dimensions[0]) expect(typeof line[dim]).toBe('string');
      for (const m of directive.Metrics) expect(typeof line[m.Name]).toBe('number');
    }
    const dns = lines.find((l) => l.check === 'dns-consistency' && l.resolver === 'google');
    expect(dns._aws.CloudWatchMetrics[0].Dimensions).toEqual([['check', 'vantage', 'resolver', 'type']]);
    expect(dns._aws.CloudWatchMetrics[0].Metrics).toEqual(
      expect.arrayContaining([
        { Name: 'up', Unit: 'None' },
        { Name: 'probes', Unit: 'Count' },
        { Name: 'rtt_seconds_p95', Unit: 'Seconds' },
        { Name: 'ttl_seconds_max', Unit: 'Seconds' },
      ]),
    );
    expect(dns).toMatchObject({ up: 0.5, probes: 2, probe_failures: 1, rtt_seconds_p50: 0.0123, ttl_seconds_max: 86400, vantage: 'eu-west-1' });
    expect(lines.filter((l) => l.target).map((l) => [l.target, l.findings])).toEqual([
      ['d0.dialer.example.com', 2],
      ['carrier "a"\\b\nc', 1],
    ]);
    const run = lines.at(-1);
    expect(run).toMatchObject({ findings_critical: 1, findings_warning: 2, run_duration_seconds: 2.5, run_failed: 1, vantage: 'eu-west-1' });
    expect(lines.filter((l) => l.check && !l.target && l.targets !== undefined).map((l) => l.check)).toEqual(['dns-consistency', 'sip-options']);
  });
});
