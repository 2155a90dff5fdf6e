// Sharded runs: `audit --shard I/N` audits a stable slice of the fleet (a name always lands in the
// same shard: shardOf in src/targets.ts) and reports its findings unfolded; merging the partials
// of one run folds them once, as one run over the whole fleet would have, and turns a shard that
// never reported into a finding rather than a silent hole. Pure.
import { checkRegistry } from '../checks/index.ts';
import { mergeAggregates } from './aggregate.ts';
import { buildReport, bySeverityThenName, CORE_CODES, foldFindings } from './audit.ts';
import type { Config } from './config-schema.ts';
import { configFileOf, rememberConfigFile } from './config-file.ts';
import type { CheckSummary, Finding, Report, ShardInfo, TimeBound } from './types.ts';

/** A shard that failed (its Lambda threw or timed out) instead of reporting. */
export interface ShardFailure {
  index: number;
  count: number;
  error: string;
}

export class ShardMergeError extends Error {}

function problemKey(f: Finding): string {
  return JSON.stringify([f.check, f.target, f.code, f.resolver ?? null, f.message]);
}

/** Budget CHECK_ERRORs ("N targets not audited") of several shards, as one per check. */
function foldNotRun(findings: Finding[]): Finding[] {
  const out: Finding[] = [];
  const byCheck = new Map<string, Finding>();
  for (const f of findings) {
    const notRun = f.code === 'CHECK_ERROR' && typeof f.evidence?.notRun === 'number' ? (f.evidence.notRun as number) : undefined;
    if (notRun === undefined) {
      out.push(f);
      continue;
    }
    const seen = byCheck.get(f.check);
    if (!seen) {
      const copy = { ...f, evidence: { ...f.evidence } };
      byCheck.set(f.check, copy);
      out.push(copy);
      continue;
    }
    const total = (seen.evidence!.notRun as number) + notRun;
    const targets = [...((seen.evidence!.targets as string[]) ?? []), ...((f.evidence!.targets as string[]) ?? [])].slice(0, 20);
    seen.evidence = { ...seen.evidence, notRun: total, targets };
    seen.message = seen.message.replace(/\d+ targets? not audited/, `${total} target${total === 1 ? '' : 's'} not audited`);
  }
  return out;
}

export interface MergeShardsOptions {
  /** Shards that failed instead of reporting (from the state machine's Catch). */
  failures?: ShardFailure[];
  /** How many shards the run had; default: what the partials say. */
  count?: number;
  runId?: string;
  /** The run's politeness bound, as the planning step stated it. */
  bound?: TimeBound;
}

/**
 * One report from the partial reports of one run's shards: every check's findings folded once
 * over all shards (as a single run would have), aggregates added up, one SHARD_FAILED finding per
 * shard that did not report. Fixes and notices are the caller's, once, after this.
 */
export function mergeShards(partials: Report[], config: Config, opts: MergeShardsOptions = {}): Report {
  const count = opts.count ?? partials[0]?.shard?.count ?? opts.failures?.[0]?.count;
  if (!count) throw new ShardMergeError('no shard partials to merge');
  const byIndex = new Map<number, Report>();
  for (const p of partials) {
    if (!p.shard) throw new ShardMergeError(`report ${p.runId} is not a shard partial (no "shard")`);
    if (p.shard.count !== count) throw new ShardMergeError(`shard ${p.shard.index}/${p.shard.count} does not belong to a run of ${count} shards`);
    if (byIndex.has(p.shard.index)) throw new ShardMergeError(`shard ${p.shard.index}/${count} given twice (runs ${byIndex.get(p.shard.index)!.runId} and ${p.runId}): merge the partials of one run`);
    byIndex.set(p.shard.index, p);
  }
  const vantage = partials[0]?.vantage ?? config.run.vantage;
  const failed = new Map((opts.failures ?? []).map((f) => [f.index, f.error]));

  const raw: Finding[] = [];
  for (const p of partials) for (const f of p.findings) raw.push(f);
  const audited = partials.reduce((n, p) => n + p.summary.targets, 0);
  for (let index = 1; index <= count; index++) {
    if (byIndex.has(index)) continue;
    const perShard = partials.length > 0 ? Math.round(audited / partials.length) : undefined;
    const error = failed.get(index);
    raw.push({
      check: 'shard',
      target: `shard ${index}/${count}`,
      severity: CORE_CODES.SHARD_FAILED.severity,
      code: 'SHARD_FAILED',
      message: `shard ${index} of ${count} ${error ? `failed: ${error}` : 'did not report'}; its slice of the fleet${perShard ? ` (about ${perShard} targets)` : ''} was not audited this run`,
      firstStep: CORE_CODES.SHARD_FAILED.firstStep,
      ...(vantage ? { vantage } : {}),
      evidence: { shard: index, shards: count, ...(error ? { error } : {}) },
    });
  }

  // Each check's findings of every shard, folded once; run-level findings (inventory) appear once.
  const summaries: Record<string, CheckSummary> = {};
  const grouped = new Map<string, Finding[]>();
  const seen = new Set<string>();
  for (const f of foldNotRun(raw)) {
    const key = problemKey(f);
    if (seen.has(key)) continue;
    seen.add(key);
    const list = grouped.get(f.check) ?? [];
    list.push(f);
    grouped.set(f.check, list);
  }
  for (const p of partials) {
    for (const [id, s] of Object.entries(p.summary.checks)) {
      const acc = (summaries[id] ??= { targets: 0, findings: 0, errors: 0, durationMs: 0 });
      acc.targets += s.targets;
      acc.durationMs = Math.max(acc.durationMs, s.durationMs);
    }
  }
  const findings: Finding[] = [];
  for (const [id, list] of grouped) {
    const check = checkRegistry[id];
    const own = check && config.checks[id] !== undefined ? foldFindings(check, list, { count: summaries[id]?.targets ?? 0, includes: () => true }, config.checks[id], config) : list;
    if (vantage) for (const f of own) f.vantage ??= vantage;
    for (const f of own) findings.push(f);
    if (summaries[id]) {
      summaries[id].findings = own.length;
      summaries[id].errors = own.filter((f) => f.code === 'CHECK_ERROR').length;
    }
  }
  findings.sort(bySeverityThenName);

  const runIds = [...new Set(partials.map((p) => p.runId))];
  const report = buildReport({
    runId: opts.runId ?? (runIds.join('+') || 'sharded-run'),
    started: Math.min(...partials.map((p) => Date.parse(p.startedAt)), Date.now()),
    finished: Math.max(...partials.map((p) => Date.parse(p.finishedAt)), 0) || Date.now(),
    config: { ...config, run: { ...config.run, vantage } },
    dryRun: true,
    findings,
    fixes: [],
    aggregates: mergeAggregates(partials.map((p) => p.aggregates)),
    measurements: partials.flatMap((p) => p.measurements),
    summaries,
    targetCount: audited,
  });
  report.reporterFailures = partials.flatMap((p) => p.reporterFailures);
  report.summary.failed ||= report.reporterFailures.length > 0;
  if (opts.bound) report.summary.bound = opts.bound;
  return report;
}

/**
 * What `dialer-audit merge` was given, sorted out: the shard partials of each run (grouped by
 * vantage and shard count) and whole reports, each from one vantage point.
 */
export function sortForMerge(reports: Report[]): { shardRuns: Report[][]; whole: Report[] } {
  const runs = new Map<string, Report[]>();
  const whole: Report[] = [];
  for (const r of reports) {
    if (!r.shard) {
      whole.push(r);
      continue;
    }
    const key = `${r.vantage ?? ''}\u0000${r.shard.count}`;
    runs.set(key, [...(runs.get(key) ?? []), r]);
  }
  return { shardRuns: [...runs.values()], whole };
}

/**
 * The config a shard runs with: shards running at once share each server's qps (politeness is per
 * resolver, not per process), so each gets qps ÷ the shards running beside it.
 */
export function politeShard(config: Config, shard: ShardInfo): Config {
  const together = Math.min(config.run.shardConcurrency, shard.count);
  if (together <= 1) return config;
  const shared: Config = {
    ...config,
    dns: { ...config.dns, qps: config.dns.qps / together },
    resolvers: config.resolvers.map((r) => (r.qps === undefined ? r : { ...r, qps: r.qps / together })),
  };
  const file = configFileOf(config);
  if (file) rememberConfigFile(shared, file);
  return shared;
}
