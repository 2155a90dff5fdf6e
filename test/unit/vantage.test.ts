// Several vantage points: which problems only some of them see, in the merged report and its text.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { main, type CliIo } from '../../src/entry/cli.ts';
import { formatJson, reportSchema } from '../../src/report/json.ts';
import { formatMarkdown } from '../../src/report/markdown.ts';
import { formatText } from '../../src/report/text.ts';
import type { Finding, Report } from '../../src/types.ts';
import { mergeReports, splitByVantage } from '../../src/vantage.ts';

const config = parseConfig({ resolvers: [{ name: 'google', address: '127.0.0.1' }], targets: { dialers: ['acme.dialer.test'] }, checks: { 'dns-consistency': {} } });

function finding(target: string, code: string, resolver: string, severity: Finding['severity'] = 'critical'): Finding {
  return { check: 'dns-consistency', target, code, resolver, severity, message: `${code} at ${resolver}` };
}

function report(vantage: string, findings: Finding[]): Report {
  const cfg = { ...config, run: { ...config.run, vantage } };
  return buildReport({
    runId: `run-${vantage}`,
    started: Date.parse('2026-05-01T10:00:00Z'),
    finished: Date.parse('2026-05-01T10:00:03Z'),
    config: cfg,
    dryRun: true,
    findings: findings.map((f) => ({ ...f, vantage })),
    fixes: [],
    summaries: { 'dns-consistency': { targets: 2, findings: findings.length, errors: 0, durationMs: 3000 } },
    targetCount: 2,
  });
}

describe('splitByVantage', () => {
  it('names the problems seen from some vantage points only, and from where not', () => {
    // Prepare: the stale answer at google is cached in Europe only; the NXDOMAIN is everywhere.
    const runs = [
      { vantage: 'us-east-1', findings: [finding('beta.dialer.test', 'DNS_NXDOMAIN', 'quad9')] },
      { vantage: 'eu-west-1', findings: [finding('acme.dialer.test', 'DNS_MISMATCH', 'google'), finding('beta.dialer.test', 'DNS_NXDOMAIN', 'quad9')] },
      { vantage: 'eu-central-1', findings: [finding('acme.dialer.test', 'DNS_MISMATCH', 'google'), finding('beta.dialer.test', 'DNS_NXDOMAIN', 'quad9')] },
    ];
    // Act
    const split = splitByVantage(runs);
    // Assess
    expect(split.vantages).toEqual(['eu-central-1', 'eu-west-1', 'us-east-1']);
    expect(split.everywhere).toBe(1);
    expect(split.partial).toEqual([
      { check: 'dns-consistency', target: 'acme.dialer.test', code: 'DNS_MISMATCH', resolver: 'google', severity: 'critical', seenFrom: ['eu-central-1', 'eu-west-1'], notSeenFrom: ['us-east-1'] },
    ]);
  });

  it('counts a vantage that could not audit the target as unknown, not as clean', () => {
    const runs = [
      { vantage: 'a', findings: [finding('acme.dialer.test', 'DNS_MISMATCH', 'google')] },
      { vantage: 'b', findings: [{ ...finding('acme.dialer.test', 'CHECK_ERROR', 'google', 'warning'), resolver: undefined }] },
      { vantage: 'c', findings: [] },
    ];
    const split = splitByVantage(runs);
    expect(split.partial).toHaveLength(1);
    expect(split.partial[0]).toMatchObject({ seenFrom: ['a'], notSeenFrom: ['c'], unknownAt: ['b'] });
  });

  it('says nothing when every vantage sees the same problems', () => {
    const same = [finding('acme.dialer.test', 'DNS_MISMATCH', 'google')];
    expect(splitByVantage([{ vantage: 'a', findings: same }, { vantage: 'b', findings: same }]).partial).toEqual([]);
  });
});

describe('mergeReports', () => {
  it('keeps every finding with its vantage, recounts, and the text and Markdown say what is partial', () => {
    // Prepare: a clean region matters — it is where the problem is NOT seen.
    const us = report('us-east-1', []);
    const eu = report('eu-west-1', [finding('acme.dialer.test', 'DNS_MISMATCH', 'google')]);
    // Act
    const merged = mergeReports([us, eu]);
    const text = formatText(merged, { width: 100 });
    const md = formatMarkdown(merged);
    // Assess
    expect(reportSchema.safeParse(JSON.parse(formatJson(merged))).success).toBe(true);
    expect(merged.summary).toMatchObject({ critical: 1, findings: 1, failed: true });
    expect(merged.findings[0].vantage).toBe('eu-west-1');
    expect(text).toContain('SEEN FROM SOME VANTAGE POINTS ONLY (1 of 1; vantages: eu-west-1, us-east-1)');
    expect(text).toContain('DNS_MISMATCH acme.dialer.test @google: seen from eu-west-1, not from us-east-1');
    expect(md).toContain('## Seen from some vantage points only (1 of 1)');
  });

  it('a single-vantage report has no vantage section', () => {
    const text = formatText(report('us-east-1', [finding('acme.dialer.test', 'DNS_MISMATCH', 'google')]));
    expect(text).not.toContain('VANTAGE POINTS ONLY');
  });
});

describe('dialer-audit merge', () => {
  function capture(): CliIo & { out: () => string; err: () => string } {
    let out = '';
    let err = '';
    return { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {}, out: () => out, err: () => err };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-merge-'));

  it('merges JSON reports of several regions and exits 1 on findings', async () => {
    // Prepare
    const a = path.join(dir, 'us.json');
    const b = path.join(dir, 'eu.json');
    writeFileSync(a, formatJson(report('us-east-1', [])));
    writeFileSync(b, formatJson(report('eu-west-1', [finding('acme.dialer.test', 'DNS_MISMATCH', 'google')])));
    const io = capture();
    // Act
    const code = await main(['merge', a, b], io);
    // Assess
    expect(code).toBe(1);
    expect(io.out()).toContain('seen from eu-west-1, not from us-east-1');
  });

  it('a file that is not a report exits 2 naming it', async () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"hello": 1}');
    const io = capture();
    expect(await main(['merge', bad], io)).toBe(2);
    expect(io.err()).toContain('bad.json: not a dialer-audit JSON report');
  });
});
