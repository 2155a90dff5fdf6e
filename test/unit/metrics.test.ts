import { describe, expect, it } from 'vitest';
import { buildReport } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { escapeLabelValue, formatEmf, formatPrometheus } from '../../src/report/metrics.ts';
import type { Report } from '../../src/types.ts';

function report(): Report {
  const config = parseConfig({ run: { vantage: 'eu-west-1' } });
  return buildReport({
    runId: 'r1',
    started: Date.parse('2026-11-23T15:20:00Z'),
    finished: Date.parse('2026-11-23T15:20:02.5Z'),
    config,
    dryRun: true,
    findings: [
      { check: 'dns-consistency', target: 'acme.dialer.example.com', severity: 'critical', code: 'DNS_MISMATCH', message: 'stale', resolver: 'google' },
      { check: 'dns-consistency', target: 'beta.dialer.example.com', severity: 'critical', code: 'DNS_MISMATCH', message: 'stale', resolver: 'google' },
      { check: 'sip-options', target: 'carrier-a', severity: 'warning', code: 'SIP_TIMEOUT', message: 'no answer' },
    ],
    fixes: [],
    measurements: [
      { check: 'dns-consistency', target: 'acme.dialer.example.com', metric: 'up', value: 0, labels: { resolver: 'google' } },
      { check: 'dns-consistency', target: 'acme.dialer.example.com', metric: 'rtt_seconds', value: 0.0123, labels: { resolver: 'google' } },
      { check: 'dns-consistency', target: 'acme.dialer.example.com', metric: 'ttl_seconds', value: 86400, labels: { resolver: 'google' } },
      { check: 'sip-options', target: 'carrier "a"\\b\nc', metric: 'timeouts_total', value: 3, labels: { transport: 'udp', 'bad-label': 'x' } },
    ],
    summaries: {
      'dns-consistency': { targets: 2, findings: 2, errors: 0, durationMs: 1500 },
      'sip-options': { targets: 1, findings: 1, errors: 0, durationMs: 2400 },
    },
    targetCount: 3,
  });
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
      const type = /^# TYPE (\S+) (gauge|counter)$/.exec(line);
      if (type) {
        expect(families.has(type[1])).toBe(false);
        families.set(type[1], type[2]);
        continue;
      }
      expect(line).toMatch(SAMPLE);
      const name = SAMPLE.exec(line)![1];
      expect(name.startsWith('dialer_audit_')).toBe(true);
      expect(families.has(name)).toBe(true);
    }
    expect(families.get('dialer_audit_up')).toBe('gauge');
    expect(families.get('dialer_audit_timeouts_total')).toBe('counter');
    expect(text).toContain('dialer_audit_up{check="dns-consistency",target="acme.dialer.example.com",resolver="google",vantage="eu-west-1"} 0');
    expect(text).toContain('dialer_audit_rtt_seconds{check="dns-consistency",target="acme.dialer.example.com",resolver="google",vantage="eu-west-1"} 0.0123');
    expect(text).toContain('dialer_audit_findings{check="dns-consistency",code="DNS_MISMATCH",severity="critical",vantage="eu-west-1"} 2');
    expect(text).toContain('dialer_audit_run_duration_seconds{vantage="eu-west-1"} 2.5');
    expect(text).toContain('dialer_audit_check_duration_seconds{check="sip-options",vantage="eu-west-1"} 2.4');
    expect(text).toContain('# HELP dialer_audit_up 1 when the target');
    expect(text).toContain('target="carrier \\"a\\"\\\\b\\nc"');
    expect(text).toContain('bad_label="x"');
  });

  it('escapes label values as the format requires', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });
});

describe('CloudWatch Embedded Metric Format', () => {
  it('writes one JSON line per target and label set, per check and per run, each metric declared with its unit', () => {
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
    const dns = lines.find((l) => l.target === 'acme.dialer.example.com');
    expect(dns._aws.CloudWatchMetrics[0].Dimensions).toEqual([['check', 'target', 'vantage', 'resolver']]);
    expect(dns._aws.CloudWatchMetrics[0].Metrics).toEqual([
      { Name: 'up', Unit: 'None' },
      { Name: 'rtt_seconds', Unit: 'Seconds' },
      { Name: 'ttl_seconds', Unit: 'Seconds' },
    ]);
    expect(dns).toMatchObject({ up: 0, rtt_seconds: 0.0123, ttl_seconds: 86400, resolver: 'google', vantage: 'eu-west-1' });
    const run = lines.at(-1);
    expect(run).toMatchObject({ findings_critical: 2, findings_warning: 1, run_duration_seconds: 2.5, run_failed: 1, vantage: 'eu-west-1' });
    expect(lines.filter((l) => l.check && !l.target).map((l) => l.check)).toEqual(['dns-consistency', 'sip-options']);
  });
});
