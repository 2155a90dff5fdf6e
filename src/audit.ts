// runAudit: targets × checks → Report, concurrently, under one deadline. Never throws for a bad
// target or a crashing check: those become findings, so a run always reports what it learned.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import { checkRegistry } from '../checks/index.ts';
import type { Config } from './config.ts';
import { markFixOutcomes } from './fix/outcomes.ts';
import { staticInventory } from './inventory/static.ts';
import { BoundedCache } from './cache.ts';
import type { DnsClient } from './net/dns.ts';
import type { Check, CheckContext, CheckSummary, Finding, FixRecord, Inventory, Logger, Measurement, Report, Target } from './types.ts';
import { SEVERITY_RANK } from './types.ts';

export const CORE_CODES = {
  CHECK_ERROR: {
    severity: 'warning' as const,
    meaning: 'A check crashed or did not finish within the run budget: that part of the fleet was not audited this run.',
    firstStep: 'Read the message (it names the check, the target and the error); rerun with --only CHECK --target NAME to reproduce, and raise run.budget if the run ran out of time.',
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

export interface AuditOptions {
  /** Run only these check ids. */
  only?: string[];
  /** Audit only targets with these names. */
  targets?: string[];
  /** True unless the caller asked for changes (--fix / fix.mode apply). */
  dryRun?: boolean;
  /** Overrides config.run.budget, e.g. from Lambda's remaining time. */
  budgetMs?: number;
  /** Only --force lifts the fixer's safety limits. */
  force?: boolean;
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
  /** Scripted STUN/SIP clients for tests; real sockets when absent. */
  stun?: CheckContext['stun'];
  sip?: CheckContext['sip'];
}

/**
 * How many answers a run keeps for reuse. Checks of one name run close together (see the task
 * order), so a few thousand suffice however large the fleet, and memory stays flat.
 */
const RUN_CACHE_ENTRIES = 4096;

export function newRunId(now: number): string {
  return `${new Date(now).toISOString().replace(/[-:]/g, '').slice(0, 15)}Z-${randomBytes(3).toString('hex')}`;
}

export function enabledChecks(config: Config, only?: string[]): Check<unknown, Target>[] {
  return Object.keys(config.checks)
    .filter((id) => !only || only.includes(id))
    .map((id) => checkRegistry[id])
    .filter((c): c is Check<unknown, Target> => c !== undefined);
}

function bySeverityThenName(a: Finding, b: Finding): number {
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
  const measurements: Measurement[] = [];
  const summaries: Record<string, CheckSummary> = {};
  let fixes: FixRecord[] = [];
  let targetCount = 0;

  try {
    let inventory: Inventory;
    try {
      inventory = deps.inventory ? await deps.inventory(config, signal) : staticInventory(config);
    } catch (err) {
      inventory = staticInventory(config);
      findings.push({
        check: 'inventory',
        target: 'inventory',
        severity: 'critical',
        code: 'INVENTORY_ERROR',
        message: `could not build the list of targets: ${(err as Error).message}`,
        firstStep: CORE_CODES.INVENTORY_ERROR.firstStep,
      });
    }
    for (const problem of inventory.problems ?? []) {
      findings.push({ check: 'inventory', target: 'inventory', severity: 'critical', code: 'INVENTORY_ERROR', message: problem, firstStep: CORE_CODES.INVENTORY_ERROR.firstStep });
    }

    const cache = new BoundedCache<Promise<unknown>>(RUN_CACHE_ENTRIES);
    const limit = pLimit(config.run.concurrency);
    const budgetSpent = new Promise<'timeout'>((resolve) => {
      if (signal.aborted) resolve('timeout');
      signal.addEventListener('abort', () => resolve('timeout'), { once: true });
    });

    interface Planned {
      check: Check<unknown, Target>;
      params: unknown;
      targets: Target[];
      results: Finding[][];
      started: number;
      finished: number;
    }
    const planned: Planned[] = [];
    const knownTargets = new Set<string>();
    for (const check of enabledChecks(config, opts.only)) {
      const params = config.checks[check.id];
      const started = now();
      let targets: Target[];
      try {
        targets = check.targets(inventory, params, config);
      } catch (err) {
        findings.push(checkError(check.id, check.id, `could not list targets: ${(err as Error).message}`));
        summaries[check.id] = { targets: 0, findings: 1, errors: 1, durationMs: now() - started };
        continue;
      }
      for (const t of targets) knownTargets.add(t.name);
      if (opts.targets) targets = targets.filter((t) => opts.targets!.includes(t.name));
      planned.push({ check, params, targets, results: [], started, finished: started });
    }
    const unknownTargets = (opts.targets ?? []).filter((name) => !knownTargets.has(name));
    if (unknownTargets.length > 0) throw new UnknownTargetsError(unknownTargets, [...knownTargets]);
    // Target-major order: every check's work on one name runs close together, so what one check
    // asked about a name is still in the bounded per-run cache when the next check asks again.
    const tasks = planned
      .flatMap((plan) => plan.targets.map((target, index) => ({ plan, target, index })))
      .sort((a, b) => a.target.name.localeCompare(b.target.name));
    targetCount = tasks.length;
    let done = 0;
    const baseCtx: CheckContext = { signal, deadline, log: deps.log, config, inventory, dns: deps.dns, cache, now, measure: () => {}, stun: deps.stun, sip: deps.sip };

    await Promise.all(
      tasks.map(({ plan, target, index }) =>
        limit(async (): Promise<void> => {
          const { check, params } = plan;
          const ctx: CheckContext = {
            ...baseCtx,
            measure: (m) => measurements.push({ check: check.id, target: m.target ?? target.name, metric: m.metric, value: m.value, labels: m.labels }),
          };
          plan.results[index] = await runOne(check, target, params, ctx);
          plan.finished = now();
          deps.onProgress?.(++done, tasks.length);
        }),
      ),
    );

    for (const plan of planned) {
      const { check, params, targets } = plan;
      let own = plan.results.flat();
      if (check.aggregate) {
        try {
          own = check.aggregate(own, targets, params, config);
        } catch (err) {
          own.push(checkError(check.id, check.id, `aggregate crashed: ${(err as Error).message}`));
        }
      }
      findings.push(...own);
      summaries[check.id] = {
        targets: targets.length,
        findings: own.length,
        errors: own.filter((f) => f.code === 'CHECK_ERROR').length,
        durationMs: plan.finished - plan.started,
      };
    }

    /** One check on one target: its findings, or a CHECK_ERROR when it crashes or the budget ends first. */
    async function runOne(check: Check<unknown, Target>, target: Target, params: unknown, ctx: CheckContext): Promise<Finding[]> {
      if (signal.aborted) return [checkError(check.id, target.name, `not run: the run budget of ${budgetMs / 1000} s was spent first`)];
      try {
        const outcome = await Promise.race([check.run(target, params, ctx), budgetSpent]);
        if (outcome === 'timeout') return [checkError(check.id, target.name, `did not finish within the run budget of ${budgetMs / 1000} s`)];
        return outcome.map((f) => ({ ...f, check: f.check || check.id }));
      } catch (err) {
        deps.log.error('check crashed', { check: check.id, target: target.name, error: (err as Error).stack ?? String(err) });
        return [checkError(check.id, target.name, `crashed: ${(err as Error).message}`)];
      }
    }

    if (config.run.vantage) for (const f of findings) f.vantage = config.run.vantage;

    if (deps.fixer) {
      try {
        fixes = await deps.fixer({ findings, inventory, config, dryRun, force: opts.force ?? false, runId, deadline, signal, log: deps.log });
        findings.splice(0, findings.length, ...markFixOutcomes({ findings, fixes, journal: inventory.fixJournal, config, now: now() }));
      } catch (err) {
        findings.push(checkError('fix', 'fix', `the fixer crashed: ${(err as Error).message}`));
      }
    }
    findings.sort(bySeverityThenName);
  } finally {
    clearTimeout(budgetTimer);
    deps.signal?.removeEventListener('abort', onOuterAbort);
  }

  return buildReport({ runId, started, finished: now(), config, dryRun, findings, fixes, measurements, summaries, targetCount });
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
  measurements?: Measurement[];
  summaries: Record<string, CheckSummary>;
  targetCount: number;
}): Report {
  const count = (s: Finding['severity']) => input.findings.filter((f) => f.severity === s).length;
  const failOn = input.config.run.failOn;
  const failed =
    input.findings.some((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[failOn]) || input.fixes.some((f) => f.status === 'failed');
  return {
    schemaVersion: 1,
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
    findings: input.findings,
    fixes: input.fixes,
    measurements: input.measurements ?? [],
    reporterFailures: [],
  };
}
