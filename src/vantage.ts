// Several vantage points (Lambda regions, daemon hosts) audit the same fleet; resolvers' caches
// differ by place, so a problem seen from some of them only is a clue in itself (the 2020 outage
// hit only some customers). Pure: reports in, one report out, each problem once with where it was
// seen, where it was looked for and not seen, and where it was not looked for at all.
import { mergeAggregates } from './aggregate.ts';
import { buildReport } from './audit.ts';
import type { Config } from './config-schema.ts';
import type { CheckSummary, Finding, FindingVantages, Report, VantageSplit, VantageSummary } from './types.ts';
import { SEVERITY_RANK } from './types.ts';

export interface VantageRun {
  vantage: string;
  findings: Finding[];
  /** The checks this vantage ran; absent: every check the findings name. */
  checks?: string[];
}

/** The same problem seen from two places: same check, target, code and resolver. */
function problemKey(f: Finding): string {
  return [f.check, f.target, f.code, f.resolver ?? ''].join('\u0000');
}

interface Problem {
  /** The instance with the worst severity: its message and first step speak for all. */
  worst: Finding;
  from: Set<string>;
  vantages: FindingVantages;
}

/**
 * Every problem once, with the vantages that saw it. A vantage that did not run the check, or could
 * not audit the target (CHECK_ERROR for that check and target, or for the whole check), says
 * nothing either way: it is "not run there", never "not seen there".
 */
function problemsByVantage(runs: VantageRun[]): { all: string[]; problems: Problem[] } {
  const all = [...new Set(runs.map((r) => r.vantage))].sort();
  const seen = new Map<string, Problem>();
  const unaudited = new Map<string, Set<string>>();
  const markUnaudited = (key: string, vantage: string) => unaudited.set(key, (unaudited.get(key) ?? new Set()).add(vantage));
  for (const run of runs) {
    for (const f of run.findings) {
      if (f.code === 'CHECK_ERROR') markUnaudited(`${f.check}\u0000${f.target}`, run.vantage);
      const key = problemKey(f);
      const entry = seen.get(key) ?? { worst: f, from: new Set<string>(), vantages: { seenFrom: [], notSeenFrom: [], notRunFrom: [] } };
      if (SEVERITY_RANK[f.severity] > SEVERITY_RANK[entry.worst.severity]) entry.worst = f;
      entry.from.add(run.vantage);
      seen.set(key, entry);
    }
  }
  const ran = (run: VantageRun, check: string) => run.checks === undefined || run.checks.includes(check);
  for (const p of seen.values()) {
    const { check, target, code } = p.worst;
    const notRun = new Set<string>();
    for (const run of runs) {
      if (p.from.has(run.vantage)) continue;
      const blind = code !== 'CHECK_ERROR' && (unaudited.get(`${check}\u0000${target}`)?.has(run.vantage) || unaudited.get(`${check}\u0000${check}`)?.has(run.vantage));
      if (!ran(run, check) || blind) notRun.add(run.vantage);
    }
    p.vantages = {
      seenFrom: all.filter((v) => p.from.has(v)),
      notSeenFrom: all.filter((v) => !p.from.has(v) && !notRun.has(v)),
      notRunFrom: all.filter((v) => notRun.has(v)),
    };
  }
  return { all, problems: [...seen.values()] };
}

/** For each problem, from which vantage points it was seen and from which it was not (summary.vantages). */
export function splitByVantage(runs: VantageRun[]): VantageSummary {
  const { all, problems } = problemsByVantage(runs);
  const partial: VantageSplit[] = [];
  let everywhere = 0;
  for (const { worst, vantages } of problems) {
    if (vantages.notSeenFrom.length === 0) {
      everywhere++;
      continue;
    }
    partial.push({
      check: worst.check,
      target: worst.target,
      code: worst.code,
      ...(worst.resolver !== undefined ? { resolver: worst.resolver } : {}),
      severity: worst.severity,
      seenFrom: vantages.seenFrom,
      notSeenFrom: vantages.notSeenFrom,
      ...(vantages.notRunFrom.length > 0 ? { unknownAt: vantages.notRunFrom } : {}),
    });
  }
  partial.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.target.localeCompare(b.target) || a.code.localeCompare(b.code));
  return { vantages: all, partial, everywhere };
}

/** The vantage a report speaks for: its own tag, else the tag on its findings, else the name it came under (its file). */
export function reportVantage(report: Report, fallback: string): string {
  return report.vantage ?? report.findings.find((f) => f.vantage)?.vantage ?? fallback;
}

function byProblem(a: Finding, b: Finding): number {
  return SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.target.localeCompare(b.target) || a.code.localeCompare(b.code) || (a.resolver ?? '').localeCompare(b.resolver ?? '');
}

/**
 * One report from the reports of several vantage points (e.g. one Lambda per region): each problem
 * once, with the message and first step of its worst instance and `vantages` saying where it was
 * seen; counts are recomputed, and `summary.vantages` lists the problems only some of them saw.
 * `names` label reports that carry no vantage of their own (the CLI passes the file names).
 */
export function mergeReports(reports: Report[], names: string[] = []): Report {
  if (reports.length === 0) throw new Error('mergeReports: no reports');
  const runs = reports.map((r, i) => {
    const vantage = reportVantage(r, names[i] ?? `vantage-${i + 1}`);
    return { vantage, report: r, checks: Object.keys(r.summary.checks), findings: r.findings.map((f) => ({ ...f, vantage: f.vantage ?? vantage })) };
  });
  const { problems } = problemsByVantage(runs);
  const findings = problems
    .map(({ worst, vantages }): Finding => {
      const { vantage: _own, ...rest } = worst;
      return { ...rest, vantages };
    })
    .sort(byProblem);
  const summaries: Record<string, CheckSummary> = {};
  for (const { report } of runs) {
    for (const [id, s] of Object.entries(report.summary.checks)) {
      const acc = (summaries[id] ??= { targets: 0, findings: 0, errors: 0, durationMs: 0 });
      acc.targets = Math.max(acc.targets, s.targets);
      acc.durationMs = Math.max(acc.durationMs, s.durationMs);
    }
  }
  for (const f of findings) {
    const acc = summaries[f.check];
    if (!acc) continue;
    acc.findings++;
    if (f.code === 'CHECK_ERROR') acc.errors++;
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
