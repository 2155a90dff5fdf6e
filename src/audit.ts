// runAudit: targets × checks → Report, concurrently, under one deadline. Never throws for a bad
// target or a crashing check: those become findings, so a run always reports what it learned.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { aggregateMeasurements, Aggregator } from './aggregate.ts';
import { describeBound, scheduleIntervalMs } from './bound.ts';
import type { Config } from './config-schema.ts';
import { markFixOutcomes } from './fix/outcomes.ts';
import { readDialersFile, staticInventory, withDialerList } from './inventory/static.ts';
import { RunCache } from './cache.ts';
import type { DnsClient } from './net/dns.ts';
import { countRun, drain, tasksByName, targetScope, unknownTargets, type AuditOptions, type CheckPlan } from './targets.ts';

export type { AuditOptions } from './targets.ts';
import type {
  AuditedTargets,
  Check,
  CheckContext,
  CheckSummary,
  Finding,
  FixRecord,
  Inventory,
  Logger,
  Measurement,
  MetricAggregate,
  Report,
  Target,
  TimeBound,
} from './types.ts';
import { SEVERITY_RANK } from './types.ts';

export const CORE_CODES = {
  CHECK_ERROR: {
    severity: 'warning' as const,
    meaning: 'A check crashed or did not finish within the run budget: that part of the fleet was not audited this run.',
    firstStep: 'Read the message (it names the check, the target and the error); rerun with --only CHECK --target NAME to reproduce, and raise run.budget if the run ran out of time.',
  },
  SHARD_FAILED: {
    severity: 'critical' as const,
    meaning: 'One shard of a sharded run failed or never reported (a Lambda error or timeout, or a partial report missing from merge): its slice of the fleet was not audited this run.',
    firstStep: "Read the message (it names the shard and the error) and that shard's log; if it ran out of time, raise run.shards or the Lambda timeout. Alerts of the run are held until every shard reports again.",
  },
  INVENTORY_ERROR: {
    severity: 'critical' as const,
    meaning: 'The list of targets could not be built (e.g. Route 53 could not be read): nothing from that source was audited.',
    firstStep: 'Read the message; check the credentials, region and zone names in the config (dialer-audit validate --config FILE).',
  },
};

/** --target named something no enabled check audits: a usage error, raised before anything is probed. */
export class UnknownTargetsError extends Error {
  constructor(
    readonly unknown: string[],
    /** Every target the enabled checks have, for "did you mean". */
    readonly known: string[],
  ) {
    super(`no enabled check has the target${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}`);
  }
}

/** What the fixer sees; it plans from findings and applies only when not a dry run. */
export interface FixerInput {
  findings: Finding[];
  inventory: Inventory;
  config: Config;
  dryRun: boolean;
  force: boolean;
  runId: string;
  deadline: number;
  signal: AbortSignal;
  log: Logger;
}

export interface AuditDeps {
  dns: DnsClient;
  log: Logger;
  now?: () => number;
  signal?: AbortSignal;
  runId?: string;
  /** Builds the inventory; default: the static list from the config. */
  inventory?: (config: Config, signal: AbortSignal) => Promise<Inventory>;
  fixer?: (input: FixerInput) => Promise<FixRecord[]>;
  /** Called after each target finishes, for progress displays. */
  onProgress?: (done: number, total: number) => void;
  /** Every measurement as it is made (`--measurements`); the run itself keeps only aggregates. */
  onMeasurement?: (m: Measurement) => void;
  /** Scripted STUN/SIP clients for tests; real sockets when absent. */
  stun?: CheckContext['stun'];
  sip?: CheckContext['sip'];
}

/**
 * The most answers a run keeps for reuse. Each answer goes when its name is done (see RunCache):
 * checks of one name run close together (the task order in tasksByName), so the answers of the
 * names in flight suffice however large the fleet — and an answer dies young in the garbage
 * collector instead of being promoted to the old heap, which a cache of thousands of recent
 * answers did to every one of them. This bound is only the backstop.
 */
const MAX_CACHE_ENTRIES = 4096;

export function newRunId(now: number): string {
  return `${new Date(now).toISOString().replace(/[-:]/g, '').slice(0, 15)}Z-${randomBytes(3).toString('hex')}`;
}

export function bySeverityThenName(a: Finding, b: Finding): number {
  return (
    SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
    a.check.localeCompare(b.check) ||
    a.target.localeCompare(b.target) ||
    a.code.localeCompare(b.code) ||
    (a.resolver ?? '').localeCompare(b.resolver ?? '')
  );
}

export async function runAudit(config: Config, deps: AuditDeps, opts: AuditOptions = {}): Promise<Report> {
  const now = deps.now ?? Date.now;
  const started = now();
  const runId = deps.runId ?? newRunId(started);
  const budgetMs = opts.budgetMs ?? config.run.budget;
  const deadline = started + budgetMs;
  const dryRun = opts.dryRun ?? true;

  const controller = new AbortController();
  const budgetTimer = setTimeout(() => controller.abort(new Error('run budget spent')), budgetMs);
  const onOuterAbort = () => controller.abort(deps.signal?.reason);
  deps.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = controller.signal;
  // Every in-flight query listens for the budget's end; hundreds at once is expected, not a leak.
  setMaxListeners(0, signal);

  const findings: Finding[] = [];
  const summaries: Record<string, CheckSummary> = {};
  const aggregator = new Aggregator();
  const detail: Measurement[] = [];
  let fixes: FixRecord[] = [];
  let targetCount = 0;
  let bound: TimeBound | undefined;

  try {
    const listed = await listInventory(config, deps, signal);
    const inventory = listed.inventory;
    for (const f of listed.findings) findings.push(f);

    const cache = new RunCache<Promise<unknown>>(MAX_CACHE_ENTRIES);

    // Before anything is asked: how many targets, and how long politeness alone makes the run.
    // The daemon's schedule unless the entry knows its own (Lambda's rate).
    const intervalMs = opts.intervalMs ?? (config.daemon?.schedule ? scheduleIntervalMs(config.daemon.schedule) : undefined);
    const counted = countRun(config, inventory, { ...opts, budgetMs, intervalMs }, now);
    const plans = counted.plans;
    bound = counted.bound;
    targetCount = counted.targets;
    // Said before the run when it does not fit; the report's header and `run finished` carry it always.
    deps.log[bound.fits ? 'debug' : 'warn'](describeBound(bound, opts.shard ? ` for shard ${opts.shard.index}/${opts.shard.count}` : ''), { boundSeconds: bound.seconds, budgetSeconds: bound.budgetSeconds, targets: targetCount });

    // An unknown --target is a mistake in the command line: refused before anything is probed.
    if (opts.targets) {
      const unknown = unknownTargets(config, inventory, opts);
      if (unknown) throw new UnknownTargetsError(unknown.names, unknown.known);
    }
    let done = 0;
    const baseCtx: Omit<CheckContext, 'cache' | 'measure'> = { signal, deadline, log: deps.log, config, inventory, dns: deps.dns, now, stun: deps.stun, sip: deps.sip };
    const tasks = tasksByName(plans);

    /** One check on one target. Its measurements are folded at once; kept per target only if it has findings. */
    async function runTask(plan: CheckPlan, target: Target): Promise<void> {
      const own: Measurement[] = [];
      const ctx: CheckContext = {
        ...baseCtx,
        cache: cache.for(target.name),
        measure: (m) => {
          const measurement: Measurement = { check: plan.check.id, target: m.target ?? target.name, metric: m.metric, value: m.value, labels: m.labels };
          aggregator.add(measurement, m.target !== undefined);
          deps.onMeasurement?.(measurement);
          own.push(measurement);
        },
      };
      plan.firstStarted ??= now();
      const result = await runOne(plan.check, target, plan.params, ctx);
      plan.finished = now();
      for (const f of result) plan.raw.push(f);
      if (result.length > 0 && plan.detailed < DETAILED_TARGETS_PER_CHECK) {
        plan.detailed++;
        for (const m of own) detail.push(m);
      }
      deps.onProgress?.(++done, targetCount);
    }

    // A fixed pool pulls the next task only when one finishes: nothing per target outlives its task.
    // A name is done when the stream has moved past it and none of its tasks is still running.
    const running = new Map<string, number>();
    let streaming: string | undefined;
    const worker = async (): Promise<void> => {
      for (;;) {
        if (signal.aborted) return;
        const next = tasks.next();
        if (next.done) return;
        const name = next.value.target.name;
        if (name !== streaming) {
          if (streaming !== undefined && !running.has(streaming)) cache.done(streaming);
          streaming = name;
        }
        running.set(name, (running.get(name) ?? 0) + 1);
        try {
          await runTask(next.value.plan, next.value.target);
        } finally {
          const left = running.get(name)! - 1;
          if (left > 0) running.set(name, left);
          else {
            running.delete(name);
            if (name !== streaming) cache.done(name);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: config.run.concurrency }, worker));
    // The budget ended first: what was never started is one finding per check, not one per target.
    for (const { plan, target } of drain(tasks)) {
      plan.notRun++;
      if (plan.notRunSample.length < NOT_RUN_SAMPLE) plan.notRunSample.push(target.name);
    }

    /** One check on one target: its findings, or a CHECK_ERROR when it crashes or the budget ends first. */
    async function runOne(check: Check<unknown, Target>, target: Target, params: unknown, ctx: CheckContext): Promise<Finding[]> {
      if (signal.aborted) return [checkError(check.id, target.name, `not run: the run budget of ${budgetMs / 1000} s was spent first`)];
      try {
        const outcome = await untilAborted(check.run(target, params, ctx), signal);
        if (outcome === 'timeout') return [checkError(check.id, target.name, `did not finish within the run budget of ${budgetMs / 1000} s`)];
        return outcome.map((f) => ({ ...f, check: f.check || check.id }));
      } catch (err) {
        deps.log.error('check crashed', { check: check.id, target: target.name, error: (err as Error).stack ?? String(err) });
        return [checkError(check.id, target.name, `crashed: ${(err as Error).message}`)];
      }
    }

    const scope = targetScope(opts);
    for (const plan of plans) {
      if (plan.notRun > 0) plan.raw.push(notRunFinding(plan.check.id, plan.notRun, plan.notRunSample, budgetMs));
      if (plan.listingError) plan.raw.push(checkError(plan.check.id, plan.check.id, `could not list targets: ${plan.listingError}`));
      // A shard keeps its findings as they are: the merge folds all shards' findings at once.
      const own = opts.shard ? plan.raw : foldFindings(plan.check, plan.raw, { count: plan.targets, includes: scope }, plan.params, config);
      for (const f of own) findings.push(f);
      summaries[plan.check.id] = {
        targets: plan.targets,
        findings: own.length,
        errors: own.filter((f) => f.code === 'CHECK_ERROR').length,
        durationMs: (plan.finished ?? plan.listed) - (plan.firstStarted ?? plan.listed),
      };
      plan.raw = [];
    }

    if (config.run.vantage) for (const f of findings) f.vantage = config.run.vantage;

    if (deps.fixer && !opts.shard) {
      fixes = await applyFixes(deps.fixer, findings, { inventory, config, dryRun, force: opts.force ?? false, runId, deadline, signal, log: deps.log }, now);
    }
    findings.sort(bySeverityThenName);
  } finally {
    clearTimeout(budgetTimer);
    deps.signal?.removeEventListener('abort', onOuterAbort);
  }

  const report = buildReport({ runId, started, finished: now(), config, dryRun, findings, fixes, aggregates: aggregator.result(), measurements: detail, summaries, targetCount });
  if (bound) report.summary.bound = bound;
  if (opts.shard) report.shard = { ...opts.shard };
  return report;
}

/**
 * The work's result, or 'timeout' when the signal aborts first. Racing against one long-lived
 * promise instead would leave a reaction on it per call: ~350 bytes per target held for the run.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T | 'timeout'> {
  if (signal.aborted) return Promise.resolve('timeout');
  return new Promise<T | 'timeout'>((resolve, reject) => {
    const onAbort = (): void => resolve('timeout');
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * The fleet to audit: the configured source (Route 53 zones, or the static list) plus the dialers
 * file, sorted by name — every check streams its dialers in this order (see tasksByName). A source
 * that cannot be read is an INVENTORY_ERROR finding; what could be read is still audited.
 */
export async function listInventory(config: Config, deps: Pick<AuditDeps, 'inventory'>, signal: AbortSignal): Promise<{ inventory: Inventory; findings: Finding[] }> {
  const findings: Finding[] = [];
  const problem = (message: string): Finding => ({ check: 'inventory', target: 'inventory', severity: 'critical', code: 'INVENTORY_ERROR', message, firstStep: CORE_CODES.INVENTORY_ERROR.firstStep });
  let inventory: Inventory;
  try {
    inventory = deps.inventory ? await deps.inventory(config, signal) : staticInventory(config);
  } catch (err) {
    inventory = staticInventory(config);
    findings.push(problem(`could not build the list of targets: ${(err as Error).message}`));
  }
  if (config.targets.dialersFile) inventory = withDialerList(inventory, await readDialersFile(config, signal));
  for (const p of inventory.problems ?? []) findings.push(problem(p));
  return { inventory: { ...inventory, dialers: [...inventory.dialers].sort() }, findings };
}

/** Plans the fixes from the findings and applies them unless a dry run; a crash is a finding, not a lost run. */
export async function applyFixes(fixer: NonNullable<AuditDeps['fixer']>, findings: Finding[], input: Omit<FixerInput, 'findings'>, now: () => number = Date.now): Promise<FixRecord[]> {
  try {
    const fixes = await fixer({ findings, ...input });
    // What this run fixed (and what an earlier run's fix still explains) reads as such, not as owed.
    findings.splice(0, findings.length, ...markFixOutcomes({ findings, fixes, journal: input.inventory.fixJournal, config: input.config, now: now() }));
    return fixes;
  } catch (err) {
    findings.push(checkError('fix', 'fix', `the fixer crashed: ${(err as Error).message}`));
    return [];
  }
}

/**
 * A check's aggregate() pass over its findings; a crash keeps the findings and adds a CHECK_ERROR.
 * Targets finish in any order (and shards in any grouping): the pass sees them by target, so what
 * it folds reads the same in every run.
 */
export function foldFindings(check: Check<unknown, Target>, findings: Finding[], targets: AuditedTargets, params: unknown, config: Config): Finding[] {
  if (!check.aggregate) return findings;
  const byTarget = [...findings].sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  try {
    return check.aggregate(byTarget, targets, params, config);
  } catch (err) {
    return [...byTarget, checkError(check.id, check.id, `aggregate crashed: ${(err as Error).message}`)];
  }
}

/**
 * Targets per check whose own measurements the report keeps (targets with findings). A dead
 * resolver gives every target a finding before its check folds them, so this bounds the report
 * by the problems, not the fleet; --measurements streams them all.
 */
const DETAILED_TARGETS_PER_CHECK = 100;

/** How many not-started targets a budget CHECK_ERROR names. */
const NOT_RUN_SAMPLE = 20;

function notRunFinding(check: string, count: number, sample: string[], budgetMs: number): Finding {
  const f = checkError(check, check, `${count} target${count === 1 ? '' : 's'} not audited: the run budget of ${budgetMs / 1000} s was spent first (${sample.slice(0, 5).join(', ')}${count > 5 ? ', …' : ''})`);
  f.evidence = { notRun: count, targets: sample };
  return f;
}

function checkError(check: string, target: string, message: string): Finding {
  return { check, target, severity: CORE_CODES.CHECK_ERROR.severity, code: 'CHECK_ERROR', message: `${check}: ${message}`, firstStep: CORE_CODES.CHECK_ERROR.firstStep };
}

export function buildReport(input: {
  runId: string;
  started: number;
  finished: number;
  config: Config;
  dryRun: boolean;
  findings: Finding[];
  fixes: FixRecord[];
  /** Per-target measurements of targets with findings; folded into `aggregates` when those are not given. */
  measurements?: Measurement[];
  aggregates?: MetricAggregate[];
  summaries: Record<string, CheckSummary>;
  targetCount: number;
}): Report {
  const count = (s: Finding['severity']) => input.findings.filter((f) => f.severity === s).length;
  const failOn = input.config.run.failOn;
  const failed =
    input.findings.some((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[failOn]) || input.fixes.some((f) => f.status === 'failed');
  return {
    schemaVersion: 2,
    runId: input.runId,
    startedAt: new Date(input.started).toISOString(),
    finishedAt: new Date(input.finished).toISOString(),
    vantage: input.config.run.vantage,
    dryRun: input.dryRun,
    summary: {
      critical: count('critical'),
      warning: count('warning'),
      info: count('info'),
      findings: input.findings.length,
      targets: input.targetCount,
      checks: input.summaries,
      failOn,
      failed,
    },
    aggregates: input.aggregates ?? aggregateMeasurements(input.measurements ?? []),
    findings: input.findings,
    fixes: input.fixes,
    measurements: input.measurements ?? [],
    reporterFailures: [],
  };
}
