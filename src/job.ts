// One run of the job as every entry runs it (CLI, Lambda, daemon): audit, then fix and notify as
// configured. Entries only parse their input, build real clients and call this. A sharded run
// ends in mergeJob instead: the shards' partial reports merged, then fixes and notices once.
import { applyFixes, buildReport, listInventory, runAudit, type AuditDeps, type AuditOptions } from './audit.ts';
import type { Config } from './config-schema.ts';
import { notify, type NotifyDeps } from './notify.ts';
import { mergeShards, type MergeShardsOptions } from './shards.ts';
import type { Finding, Report } from './types.ts';

export interface JobOptions extends AuditOptions {
  /** Update alert state and send notices (always in Lambda and the daemon). */
  notify?: boolean;
}

/** With notify: the alert state store, the notifiers (Slack, email) and metrics sinks; see src/notify.ts. */
export type JobDeps = AuditDeps & Pick<NotifyDeps, 'stateStore' | 'history' | 'notifiers' | 'metrics'>;

export async function runJob(config: Config, deps: JobDeps, opts: JobOptions = {}): Promise<Report> {
  const report = await runAudit(config, deps, opts);
  if (!opts.notify || opts.shard) return report;
  return notify(report, config, deps, { only: opts.only, targets: opts.targets });
}

export interface MergeJobOptions extends MergeShardsOptions {
  notify?: boolean;
  dryRun?: boolean;
  force?: boolean;
  budgetMs?: number;
}

/**
 * The end of a sharded run: the partials merged into one report, then — once for the whole fleet —
 * the TTL fixes (planned from every shard's findings, against a fresh inventory), the alert state
 * and the notices.
 */
/** What merging needs: no DNS client, and the fixer, state and notifiers only to fix and notify. */
export type MergeDeps = Pick<JobDeps, 'log' | 'now' | 'signal' | 'inventory' | 'fixer' | 'stateStore' | 'history' | 'notifiers' | 'metrics'>;

export async function mergeJob(config: Config, partials: Report[], deps: MergeDeps, opts: MergeJobOptions = {}): Promise<Report> {
  const now = deps.now ?? Date.now;
  let report = mergeShards(partials, config, opts);
  const dryRun = opts.dryRun ?? true;
  if (deps.fixer) {
    const budgetMs = opts.budgetMs ?? config.run.budget;
    const signal = deps.signal ? AbortSignal.any([deps.signal, AbortSignal.timeout(budgetMs)]) : AbortSignal.timeout(budgetMs);
    // The zones as they are now: the fixer re-reads what it changes, and plans against the whole fleet.
    const listed = await listInventory(config, deps, signal);
    const findings: Finding[] = [...report.findings, ...listed.findings.filter((f) => !report.findings.some((g) => g.code === f.code && g.message === f.message))];
    const inventory = listed.inventory;
    const fixes = await applyFixes(deps.fixer, findings, { inventory, config, dryRun, force: opts.force ?? false, runId: report.runId, deadline: now() + budgetMs, signal, log: deps.log });
    const rebuilt = buildReport({
      runId: report.runId,
      started: Date.parse(report.startedAt),
      finished: now(),
      config: { ...config, run: { ...config.run, vantage: report.vantage } },
      dryRun,
      findings,
      fixes,
      aggregates: report.aggregates,
      measurements: report.measurements,
      summaries: report.summary.checks,
      targetCount: report.summary.targets,
    });
    rebuilt.summary.bound = report.summary.bound;
    rebuilt.reporterFailures = report.reporterFailures;
    rebuilt.summary.failed ||= rebuilt.reporterFailures.length > 0;
    report = rebuilt;
  }
  if (!opts.notify) return report;
  return notify(report, config, deps);
}
