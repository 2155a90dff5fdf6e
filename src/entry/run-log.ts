// Structured lines the long-running entries (Lambda, daemon) write for each run: one per finding and
// one summary, all with the run id, so CloudWatch Logs Insights or journald can answer "what did
// run X see, from where".
import type { Logger, Report } from '../types.ts';

/** A logger whose target changes per run: clients built once still log with the current run's id. */
export function switchableLogger(initial: Logger): { log: Logger; use(next: Logger): void } {
  let current = initial;
  return {
    log: {
      debug: (m, f) => current.debug(m, f),
      info: (m, f) => current.info(m, f),
      warn: (m, f) => current.warn(m, f),
      error: (m, f) => current.error(m, f),
    },
    use(next) {
      current = next;
    },
  };
}

export function fixCounts(report: Report): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const fix of report.fixes) counts[fix.status] = (counts[fix.status] ?? 0) + 1;
  return counts;
}

/** One line per finding (warn for critical and warning), one per failed reporter, then the summary. */
export function logReport(log: Logger, report: Report, extra: Record<string, unknown> = {}): void {
  for (const f of report.findings) {
    const fields = { vantage: f.vantage, check: f.check, target: f.target, severity: f.severity, code: f.code, resolver: f.resolver, message: f.message };
    if (f.severity === 'info') log.info('finding', fields);
    else log.warn('finding', fields);
  }
  for (const failure of report.reporterFailures) log.error('reporter failed', { reporter: failure.reporter, error: failure.error });
  log.info('run finished', {
    vantage: report.vantage,
    critical: report.summary.critical,
    warning: report.summary.warning,
    info: report.summary.info,
    findings: report.summary.findings,
    targets: report.summary.targets,
    failed: report.summary.failed,
    dryRun: report.dryRun,
    fixes: fixCounts(report),
    reporterFailures: report.reporterFailures.map((r) => r.reporter),
    ...(report.summary.bound ? { boundSeconds: report.summary.bound.seconds, boundFits: report.summary.bound.fits } : {}),
    ...extra,
  });
}
