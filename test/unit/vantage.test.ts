// Several vantage points: which problems only some of them see, in the merged report and its text.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { main } from '../../src/entry/cli.ts';
import { capture } from '../support/cli.ts';
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
    expect(split.partial.map((p) => p.code)).toEqual(['DNS_MISMATCH', 'CHECK_ERROR']);
    expect(split.partial[0]).toMatchObject({ seenFrom: ['a'], notSeenFrom: ['c'], unknownAt: ['b'] });
  });

  it('says nothing when every vantage sees the same problems', () => {
    const same = [finding('acme.dialer.test', 'DNS_MISMATCH', 'google')];
    expect(splitByVantage([{ vantage: 'a', findings: same }, { vantage: 'b', findings: same }]).partial).toEqual([]);
  });
});

function withChecks(r: Report, checks: Record<string, number>): Report {
  return { ...r, summary: { ...r.summary, checks: Object.fromEntries(Object.entries(checks).map(([id, targets]) => [id, { targets, findings: 0, errors: 0, durationMs: 1 }])) } };
}

const ttlFinding: Finding = {
  check: 'ttl-policy',
  target: 'acme.dialer.test',
  code: 'TTL_ABOVE_POLICY',
  severity: 'warning',
  message: 'acme.dialer.test A has TTL 86400 s; policy is 300 s',
  firstStep: 'Run `dialer-audit audit --config dialer-audit.yaml --only ttl-policy --target acme.dialer.test --fix`: it sets the TTL of acme.dialer.test A 86400 → 300 s in Route 53 zone dialer.test and changes nothing else (without --fix it only prints the plan).',
};

describe('mergeReports', () => {
  it('lists a problem every vantage saw once, with the vantages that saw it', () => {
    // Prepare
    const mismatch = finding('acme.dialer.test', 'DNS_MISMATCH', 'google');
    const reports = ['us-east-1', 'eu-west-1', 'ap-southeast-1'].map((v) => report(v, [mismatch]));
    // Act
    const merged = mergeReports(reports);
    const text = formatText(merged, { width: 100 });
    // Assess
    expect(merged.findings).toHaveLength(1);
    expect(merged.findings[0].vantages).toEqual({ seenFrom: ['ap-southeast-1', 'eu-west-1', 'us-east-1'], notSeenFrom: [], notRunFrom: [] });
    expect(merged.summary).toMatchObject({ critical: 1, findings: 1, failed: true });
    expect(text.match(/^ {2}DNS_MISMATCH /gm)).toHaveLength(1);
    expect(text).toContain('seen from every vantage point (ap-southeast-1, eu-west-1, us-east-1)');
  });

  it('separates "not seen there" (the check ran, clean) from "not run there" (the check never ran there)', () => {
    // Prepare: eu runs ttl-policy and sees the TTL; us runs it and is clean; ap runs only dns-consistency.
    const eu = withChecks(report('eu-west-1', [ttlFinding]), { 'dns-consistency': 2, 'ttl-policy': 2 });
    const us = withChecks(report('us-east-1', []), { 'dns-consistency': 2, 'ttl-policy': 2 });
    const ap = withChecks(report('ap-southeast-1', []), { 'dns-consistency': 2 });
    // Act
    const merged = mergeReports([eu, us, ap]);
    const text = formatText(merged, { width: 100 });
    const md = formatMarkdown(merged);
    // Assess
    expect(merged.findings[0].vantages).toEqual({ seenFrom: ['eu-west-1'], notSeenFrom: ['us-east-1'], notRunFrom: ['ap-southeast-1'] });
    expect(text).toContain('seen from eu-west-1; not seen from us-east-1; not run from ap-southeast-1');
    expect(md).toContain('seen from eu-west-1; not seen from us-east-1; not run from ap-southeast-1');
    expect(reportSchema.safeParse(JSON.parse(formatJson(merged))).success).toBe(true);
  });

  it('each problem keeps its own first step: a TTL finding gets the --fix command, never resolver-cache advice', () => {
    // Prepare
    const eu = report('eu-west-1', [ttlFinding, { ...finding('acme.dialer.test', 'DNS_MISMATCH', 'google'), firstStep: 'Flush the name at google.' }]);
    const us = report('us-east-1', [ttlFinding]);
    // Act
    const text = formatText(mergeReports([eu, us]), { width: 80 });
    // Assess
    const ttlBlock = text.slice(text.indexOf('TTL_ABOVE_POLICY'));
    expect(ttlBlock.split('\n')).toContain('      `dialer-audit audit --config dialer-audit.yaml --only ttl-policy --target acme.dialer.test --fix`:');
    expect(ttlBlock.slice(0, ttlBlock.indexOf('\n\n'))).not.toMatch(/flush|cache/i);
    expect(text).not.toContain('Caches differ by place');
  });

  it('a single-vantage report has no vantage lines', () => {
    const text = formatText(report('us-east-1', [finding('acme.dialer.test', 'DNS_MISMATCH', 'google')]));
    expect(text).not.toContain('seen from');
  });
});

describe('dialer-audit merge', () => {
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
    expect(io.out()).toContain('dialer-audit merge of 2 vantage points (eu-west-1, us-east-1)');
    expect(io.out()).toContain('seen from eu-west-1; not seen from us-east-1');
  });

  it('reports without a vantage of their own are named after their files, not vantage-1, vantage-2', async () => {
    // Prepare
    const untagged = (r: Report): Report => ({ ...r, vantage: undefined, findings: r.findings.map((f) => ({ ...f, vantage: undefined })) });
    const a = path.join(dir, 'office-berlin.json');
    const b = path.join(dir, 'office-lisbon.json');
    writeFileSync(a, formatJson(untagged(report('x', [finding('acme.dialer.test', 'DNS_MISMATCH', 'google')]))));
    writeFileSync(b, formatJson(untagged(report('y', []))));
    const io = capture();
    // Act
    await main(['merge', a, b], io);
    // Assess
    expect(io.out()).toContain('seen from office-berlin; not seen from office-lisbon');
    expect(io.out()).not.toContain('vantage-1');
  });

  it('a file that is not a report exits 2 naming it', async () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"hello": 1}');
    const io = capture();
    expect(await main(['merge', bad], io)).toBe(2);
    expect(io.err()).toContain('bad.json: not a dialer-audit JSON report');
  });
});
