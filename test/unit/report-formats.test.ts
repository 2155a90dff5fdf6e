import { describe, expect, it } from 'vitest';
import { aggregateMeasurements } from '../../src/aggregate.ts';
import { buildReport } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { formatJson, reportSchema } from '../../src/report/json.ts';
import { formatMarkdown } from '../../src/report/markdown.ts';
import { formatText } from '../../src/report/text.ts';
import type { Finding } from '../../src/types.ts';

const mismatch: Finding = {
  check: 'dns-consistency',
  target: 'acme.dialer.example.com',
  severity: 'critical',
  code: 'DNS_MISMATCH',
  resolver: 'google',
  message: 'acme.dialer.example.com A at google: the resolver hands out 192.0.2.99, the zone has 192.0.2.10; it expires by itself in 23h53m (2026-11-24 14:53 UTC)',
  firstStep: 'Flush it at https://developers.google.com/speed/public-dns/cache or wait until 2026-11-24 14:53 UTC.',
  evidence: { remainingTtl: 86000 },
};
const stale: Finding = { check: 'dns-consistency', target: 'beta.dialer.example.com', severity: 'warning', code: 'DNS_TTL_STALE', resolver: 'quad9', message: 'cached | with a pipe' };

function report(findings: Finding[]) {
  return buildReport({
    runId: '20261123T150000Z-abcdef',
    started: Date.parse('2026-11-23T15:00:00Z'),
    finished: Date.parse('2026-11-23T15:00:02Z'),
    config: parseConfig({}),
    dryRun: true,
    findings,
    fixes: [{ zoneId: 'Z1', name: 'acme.dialer.example.com', type: 'A', setIdentifier: null, fromTtl: 86400, toTtl: 300, status: 'planned' }],
    summaries: { 'dns-consistency': { targets: 2, findings: 2, errors: 0, durationMs: 2000 } },
    targetCount: 2,
  });
}

describe('text report', () => {
  it('never breaks a command: the words wrap around it, and one longer than the line gets a line of its own', () => {
    // Prepare
    const command = 'dialer-audit audit --config /etc/dialer-audit/config.yaml --only ttl-policy --target acme.dialer.example.com --fix';
    const ttl: Finding = {
      check: 'ttl-policy',
      target: 'acme.dialer.example.com',
      severity: 'warning',
      code: 'TTL_ABOVE_POLICY',
      message: 'acme.dialer.example.com A has TTL 86400 s; policy is 300 s',
      firstStep: `Run \`${command}\`: it sets the TTL in Route 53 and changes nothing else; or \`dig +norec @ns1 acme.dialer.example.com A\` to read it.`,
    };
    // Act
    const lines = formatText(report([ttl]), { width: 80 }).split('\n');
    // Assess
    expect(lines).toContain(`      \`${command}\`:`);
    expect(lines.some((l) => l.includes('`dig +norec @ns1 acme.dialer.example.com A`'))).toBe(true);
    expect(lines.filter((l) => !l.includes(command)).every((l) => l.length <= 80)).toBe(true);
  });

  it('the header says what the run did: a dry run, or the fixes applied', () => {
    const dry = formatText(report([]), { width: 200 }).split('\n')[0];
    const applied = formatText({ ...report([]), dryRun: false, fixes: [{ zoneId: 'Z1', name: 'acme.dialer.example.com', type: 'A', setIdentifier: null, fromTtl: 86400, toTtl: 300, status: 'applied' }] }, { width: 200 }).split('\n')[0];
    expect(dry).toBe('dialer-audit run 20261123T150000Z-abcdef (dry run: nothing changed or sent): 2 targets, 1 check, 2.0 s');
    expect(applied).toContain('(TTL fixes: 1 applied)');
  });

  it('groups by severity, fits 80 columns, ends with a summary line, no colour by default', () => {
    // Act
    const text = formatText(report([mismatch, stale]));
    // Assess
    const lines = text.trimEnd().split('\n');
    expect(lines.every((l) => l.length <= 80), lines.find((l) => l.length > 80)).toBe(true);
    expect(text.indexOf('CRITICAL (1)')).toBeLessThan(text.indexOf('WARNING (1)'));
    expect(text).toContain('DNS_MISMATCH acme.dialer.example.com @google:');
    expect(text).toContain('→ Flush it at');
    expect(text).toContain('± MODIFY-TTL acme.dialer.example.com A ttl=(86400->300)');
    expect(text).toContain('Plan: 1 TTL change in 1 zone');
    expect(lines[lines.length - 1]).toBe('FAIL: 1 critical, 1 warning, 0 info (fail on warning and above)');
    expect(text).not.toContain('\x1b[');
  });

  it('colours only when asked', () => {
    expect(formatText(report([mismatch]), { color: true })).toContain('\x1b[31;1mDNS_MISMATCH');
  });

  it('says OK on a clean run', () => {
    expect(formatText(report([])).trimEnd().split('\n').pop()).toBe('OK: 0 critical, 0 warning, 0 info (fail on warning and above)');
  });
});

describe('markdown report', () => {
  it('has a table per severity with the first step, pipes escaped', () => {
    const md = formatMarkdown(report([mismatch, stale]));
    expect(md).toContain('# dialer-audit: FAIL (1 critical, 1 warning, 0 info)');
    expect(md).toContain('## Critical (1)');
    expect(md).toContain('| `DNS_MISMATCH` | acme.dialer.example.com | google |');
    expect(md).toContain('cached \\| with a pipe');
    expect(md).toContain('| Z1 | acme.dialer.example.com | A |  | 86400 → 300 | planned |');
  });
});

describe('json report', () => {
  it('validates against the versioned schema', () => {
    const parsed = JSON.parse(formatJson(report([mismatch, stale])));
    expect(reportSchema.safeParse(parsed).success).toBe(true);
    expect(parsed.schemaVersion).toBe(2);
    expect(parsed.fixes[0]).toEqual({ zoneId: 'Z1', name: 'acme.dialer.example.com', type: 'A', setIdentifier: null, fromTtl: 86400, toTtl: 300, status: 'planned' });
  });
});

describe('carrier scorecard in the reports', () => {
  it('appears in text and Markdown when carriers were probed', () => {
    // Prepare: two probes of one carrier, one lost.
    const r = report([]);
    r.aggregates = aggregateMeasurements([
      { check: 'sip-options', target: 'twilio/udp', metric: 'up', value: 1, labels: { carrier: 'twilio', transport: 'udp' } },
      { check: 'sip-options', target: 'twilio/udp', metric: 'rtt_seconds', value: 0.04, labels: { carrier: 'twilio', transport: 'udp' } },
      { check: 'sip-options', target: 'twilio/udp', metric: 'up', value: 0, labels: { carrier: 'twilio', transport: 'udp' } },
      { check: 'sip-options', target: 'twilio/udp', metric: 'timeouts', value: 1, labels: { carrier: 'twilio', transport: 'udp' } },
    ]);
    // Act
    const text = formatText(r);
    const md = formatMarkdown(r);
    // Assess
    expect(text).toContain('Carrier scorecard');
    expect(text).toMatch(/twilio\s+1\/2/);
    expect(md).toContain('## Carrier scorecard');
    expect(md).toMatch(/\| twilio \| /);
  });

  it('is absent when no carrier was probed', () => {
    expect(formatText(report([]))).not.toContain('scorecard');
  });
});
