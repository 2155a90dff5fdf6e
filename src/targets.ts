// The run's targets before and while it runs: each enabled check's targets streamed (never held
// as a list), filtered by the run's scope (--target, the shard's slice), merged by name, and
// counted once before the run for the politeness bound. Pure.
import { checkRegistry } from '../checks/index.ts';
import { QuestionTally, timeBound } from './bound.ts';
import type { Config } from './config-schema.ts';
import type { Check, Finding, Inventory, ShardInfo, Target, TimeBound } from './types.ts';

/** What one audit run covers: the caller's choices over the config (the CLI's flags, Lambda's remaining time). */
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
  /** Audit only this slice of the fleet and report its findings unfolded, without fixes (`--shard I/N`). */
  shard?: ShardInfo;
  /** The time between two scheduled runs, to hold the politeness bound against; default: daemon.schedule's. */
  intervalMs?: number;
}

/** One enabled check in a run: how to stream its targets, and what the run learns about it. */
export interface CheckPlan {
  check: Check<unknown, Target>;
  params: unknown;
  /** A fresh stream of this check's targets, filtered by the run's scope. */
  stream(): Iterator<Target>;
  targets: number;
  raw: Finding[];
  /** Targets whose measurements the report keeps so far. */
  detailed: number;
  listed: number;
  firstStarted?: number;
  finished?: number;
  notRun: number;
  notRunSample: string[];
  /** Why its targets() threw, if it did: one CHECK_ERROR, the rest of the run goes on. */
  listingError?: string;
}

export function enabledChecks(config: Config, only?: string[]): Check<unknown, Target>[] {
  return Object.keys(config.checks)
    .filter((id) => !only || only.includes(id))
    .map((id) => checkRegistry[id])
    .filter((c): c is Check<unknown, Target> => c !== undefined);
}

/** FNV-1a (32 bit) of the name: the same shard on every run, every machine, every Node. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const b of new TextEncoder().encode(text)) {
    hash ^= b;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The shard (1-based) a target of this name belongs to, out of `count`. */
export function shardOf(name: string, count: number): number {
  return count <= 1 ? 1 : (fnv1a(name.toLowerCase()) % count) + 1;
}

/** `2/4` → { index: 2, count: 4 }; undefined unless 1 ≤ index ≤ count. */
export function parseShard(text: string): ShardInfo | undefined {
  const m = /^\s*(\d{1,4})\s*\/\s*(\d{1,4})\s*$/.exec(text);
  if (!m) return undefined;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return index >= 1 && count >= 1 && index <= count ? { index, count } : undefined;
}

/** The names the run's filters let through: --target, and the shard's slice of the fleet. */
export function targetScope(opts: Pick<AuditOptions, 'targets' | 'shard'>): (name: string) => boolean {
  const wanted = opts.targets ? new Set(opts.targets) : undefined;
  const shard = opts.shard;
  return (name) => (!wanted || wanted.has(name)) && (!shard || shardOf(name, shard.count) === shard.index);
}

function planChecks(config: Config, inventory: Inventory, opts: AuditOptions, now: () => number): CheckPlan[] {
  const scope = targetScope(opts);
  return enabledChecks(config, opts.only).map((check) => {
    const plan: CheckPlan = {
      check,
      params: config.checks[check.id],
      targets: 0,
      raw: [],
      detailed: 0,
      listed: now(),
      notRun: 0,
      notRunSample: [],
      stream: () => listTargets(plan, inventory, config, scope),
    };
    return plan;
  });
}

function* listTargets(plan: CheckPlan, inventory: Inventory, config: Config, scope: (name: string) => boolean): Generator<Target> {
  try {
    for (const target of plan.check.targets(inventory, plan.params, config)) if (scope(target.name)) yield target;
  } catch (err) {
    plan.listingError = (err as Error).message;
  }
}

/**
 * Target-major order: every check's stream merged by name, so each check's work on one name runs
 * close together and what one check asked about a name is still in the per-run cache when
 * the next asks again. Streams sorted by name merge perfectly; others still run, just less close.
 */
export function* tasksByName(plans: CheckPlan[]): Generator<{ plan: CheckPlan; target: Target }> {
  const heads: { plan: CheckPlan; it: Iterator<Target>; head: IteratorResult<Target> }[] = [];
  for (const plan of plans) {
    const it = plan.stream();
    const head = it.next();
    if (!head.done) heads.push({ plan, it, head });
  }
  while (heads.length > 0) {
    let best = 0;
    for (let i = 1; i < heads.length; i++) if ((heads[i].head.value as Target).name < (heads[best].head.value as Target).name) best = i;
    const h = heads[best];
    yield { plan: h.plan, target: h.head.value as Target };
    h.head = h.it.next();
    if (h.head.done) heads.splice(best, 1);
  }
}

/** What is left of a stream. */
export function* drain<T>(it: Iterator<T>): Generator<T> {
  for (let next = it.next(); !next.done; next = it.next()) yield next.value;
}

/**
 * The run before it starts: each enabled check's targets counted (streamed, not kept) and the
 * politeness bound of their DNS questions. `validate` calls it with the config's own inventory.
 */
export function countRun(config: Config, inventory: Inventory, opts: AuditOptions = {}, now: () => number = Date.now): { plans: CheckPlan[]; bound: TimeBound; targets: number } {
  const plans = planChecks(config, inventory, opts, now);
  const tally = new QuestionTally();
  for (const { plan, target } of tasksByName(plans)) {
    plan.targets++;
    tally.add(plan.check.id, target.name, plan.check.questions?.(target, plan.params, config) ?? []);
  }
  const bound = timeBound({ config, tally, budgetMs: opts.budgetMs ?? config.run.budget, intervalMs: opts.intervalMs });
  return { plans, bound, targets: plans.reduce((n, p) => n + p.targets, 0) };
}

/**
 * The --target names no enabled check has (undefined when every one is known), with every name the
 * checks do have for "did you mean". Streams the checks' targets again, unfiltered by the shard:
 * a name in another shard is not unknown. Only runs when --target is given.
 */
export function unknownTargets(config: Config, inventory: Inventory, opts: Pick<AuditOptions, 'targets' | 'only'>): { names: string[]; known: string[] } | undefined {
  const wanted = new Set(opts.targets ?? []);
  const seen = new Set<string>();
  for (const name of allTargetNames(config, inventory, opts.only)) if (wanted.has(name)) seen.add(name);
  const missing = [...wanted].filter((name) => !seen.has(name));
  if (missing.length === 0) return undefined;
  return { names: missing, known: [...new Set(allTargetNames(config, inventory, opts.only))] };
}

function* allTargetNames(config: Config, inventory: Inventory, only?: string[]): Generator<string> {
  for (const check of enabledChecks(config, only)) {
    try {
      for (const target of check.targets(inventory, config.checks[check.id], config)) yield target.name;
    } catch {
      // A check whose targets() throws is reported by the run itself (CHECK_ERROR).
    }
  }
}
