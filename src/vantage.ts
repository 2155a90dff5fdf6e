// Several vantage points (Lambda regions, daemon hosts) audit the same fleet; resolvers' caches
// differ by place, so a problem seen from some of them only is a clue in itself (the 2020 outage
// hit only some customers). Pure: reports in, the split out.
import { mergeAggregates } from './aggregate.ts';
import { buildReport } from './audit.ts';
import type { Config } from './config.ts';
import type { CheckSummary, Finding, Report, Severity, VantageSplit, VantageSummary } from './types.ts';
import { SEVERITY_RANK } from './types.ts';

export interface VantageRun {
  vantage: string;
  findings: Finding[];
}

/** The same problem seen from two places: same check, target, code and resolver. */
function problemKey(f: Finding): string {
  return [f.check, f.target, f.code, f.resolver ?? ''].join('\u0000');
}

/**
 * For each problem, from which vantage points it was seen and from which it was not. A vantage
 * that could not audit the target (CHECK_ERROR for that check and target) did not see it either
 * way, so it is listed as unknown rather than as clean.
 */
export function splitByVantage(runs: VantageRun[]): VantageSummary {
  const all = [...new Set(runs.map((r) => r.vantage))].sort();
  const seen = new Map<string, { first: Finding; worst: Severity; from: Set<string> }>();
  const unaudited = new Map<string, Set<string>>();
  for (const run of runs) {
    for (const f of run.findings) {
      if (f.code === 'CHECK_ERROR') {
        const key = `${f.check}\u0000${f.target}`;
        unaudited.set(key, (unaudited.get(key) ?? new Set()).add(run.vantage));
        continue;
      }
      const key = problemKey(f);
      const entry = seen.get(key) ?? { first: f, worst: f.severity, from: new Set<string>() };
      if (SEVERITY_RANK[f.severity] > SEVERITY_RANK[entry.worst]) entry.worst = f.severity;
      entry.from.add(run.vantage);
      seen.set(key, entry);
    }
  }
  const partial: VantageSplit[] = [];
  let everywhere = 0;
  for (const { first, worst, from } of seen.values()) {
    const unknown = unaudited.get(`${first.check}\u0000${first.target}`) ?? new Set<string>();
    const notSeenFrom = all.filter((v) => !from.has(v) && !unknown.has(v));
    if (notSeenFrom.length === 0) {
      everywhere++;
      continue;
    }
    partial.push({
      check: first.check,
      target: first.target,
      code: first.code,
      ...(first.resolver !== undefined ? { resolver: first.resolver } : {}),
      severity: worst,
      seenFrom: [...from].sort(),
      notSeenFrom,
      ...(unknown.size > 0 ? { unknownAt: all.filter((v) => unknown.has(v) && !from.has(v)) } : {}),
    });
  }
  partial.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.target.localeCompare(b.target) || a.code.localeCompare(b.code));
  return { vantages: all, partial, everywhere };
}

/** The vantage a report speaks for: its own tag, else the tag on its findings, else a placeholder. */
export function reportVantage(report: Report, index: number): string {
  return report.vantage ?? report.findings.find((f) => f.vantage)?.vantage ?? `vantage-${index + 1}`;
}

/**
 * One report from the reports of several vantage points (e.g. one Lambda per region): every
 * finding keeps its vantage, the counts are recomputed, and `summary.vantages` says which
 * problems only some of them saw.
 */
export function mergeReports(reports: Report[]): Report {
  if (reports.length === 0) throw new Error('mergeReports: no reports');
  const runs = reports.map((r, i) => {
    const vantage = reportVantage(r, i);
    return { vantage, report: r, findings: r.findings.map((f) => ({ ...f, vantage: f.vantage ?? vantage })) };
  });
  const findings = runs.flatMap((r) => r.findings);
  findings.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.target.localeCompare(b.target) || a.code.localeCompare(b.code) || (a.vantage ?? '').localeCompare(b.vantage ?? ''));
  const summaries: Record<string, CheckSummary> = {};
  for (const { report } of runs) {
    for (const [id, s] of Object.entries(report.summary.checks)) {
      const acc = (summaries[id] ??= { targets: 0, findings: 0, errors: 0, durationMs: 0 });
      acc.targets = Math.max(acc.targets, s.targets);
      acc.findings += s.findings;
      acc.errors += s.errors;
      acc.durationMs = Math.max(acc.durationMs, s.durationMs);
    }
  }
  const failOn = reports[0].summary.failOn;
  const merged = buildReport({
    runId: runs.map((r) => r.report.runId).join('+'),
    started: Math.min(...reports.map((r) => Date.parse(r.startedAt))),
    finished: Math.max(...reports.map((r) => Date.parse(r.finishedAt))),
    config: { run: { failOn } } as Config,
    dryRun: reports.every((r) => r.dryRun),
    findings,
    fixes: reports.flatMap((r) => r.fixes),
    aggregates: mergeAggregates(runs.map(({ report }) => report.aggregates), (i) => ({ vantage: runs[i].vantage })),
    measurements: runs.flatMap(({ vantage, report }) => report.measurements.map((m) => ({ ...m, labels: { ...m.labels, vantage } }))),
    summaries,
    targetCount: Math.max(...reports.map((r) => r.summary.targets)),
  });
  merged.summary.failed ||= reports.some((r) => r.summary.failed);
  merged.summary.vantages = splitByVantage(runs);
  merged.reporterFailures = reports.flatMap((r) => r.reporterFailures);
  return merged;
}
