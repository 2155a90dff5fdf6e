// The three steps of a sharded run on AWS, as the Step Functions state machine of serverless.yml
// calls them on the one Lambda function: plan (take the run lock, count the fleet, decide the
// shards), shard (audit one slice, store its partial report, return its key), merge (combine the
// partials, then fix, update the alert state and notify — once). The states pass keys and counts
// only: Step Functions allows 256 KB between states.
import { listInventory } from '../audit.ts';
import { countRun } from '../targets.ts';
import { scheduleIntervalMs, shardsFor } from '../bound.ts';
import type { Config } from '../config.ts';
import { mergeJob, runJob, type JobDeps } from '../job.ts';
import { politeShard, type ShardFailure } from '../shards.ts';
import type { ShardRunStore } from '../state/partials.ts';
import type { Logger, Report, TimeBound } from '../types.ts';

export interface PlanEvent {
  action: 'plan';
  scheduledAt?: string;
}
export interface ShardEvent {
  action: 'shard';
  runId: string;
  index: number;
  count: number;
}
/** What the Map state collected: a key per shard that reported, the Catch's error for one that did not. */
export interface ShardOutcome {
  index: number;
  count: number;
  key?: string;
  error?: string;
  cause?: string;
}
export interface MergeEvent {
  action: 'merge';
  runId: string;
  results: ShardOutcome[];
}

export interface PlanResult {
  runId: string;
  /** True when another run still holds the lock: the state machine ends without auditing. */
  skip?: boolean;
  reason?: string;
  shards: { index: number; count: number }[];
  /** Shards at once (the Map's MaxConcurrency); they share each server's qps. */
  concurrency: number;
  bound: TimeBound;
}

export interface ShardResult {
  index: number;
  count: number;
  key: string;
  targets: number;
  findings: number;
}

export interface StepContext {
  config: Config;
  deps: JobDeps;
  log: Logger;
  env: NodeJS.ProcessEnv;
  store: ShardRunStore;
  now: () => number;
  /** This invocation's budget (remaining time minus the safety margin, capped by run.budget). */
  budgetMs: number;
  /** What this invocation had left when it started: a shard gets as much. */
  remainingMs: number;
  /** A DNS client for a shard's share of each server's qps (see politeShard). */
  dnsFor(config: Config): JobDeps['dns'];
}

/** How long partial reports are kept: a run merges within the hour; a day leaves room to look. */
const PARTIAL_TTL_MS = 24 * 3_600_000;

/** Shards at once: serverless.yml's shardConcurrency (the Map's MaxConcurrency), else run.shardConcurrency. */
export function shardConcurrency(config: Config, env: NodeJS.ProcessEnv): number {
  const fromStack = Number(env.DIALER_AUDIT_SHARD_CONCURRENCY);
  return Number.isInteger(fromStack) && fromStack >= 1 ? fromStack : config.run.shardConcurrency;
}

function withConcurrency(config: Config, env: NodeJS.ProcessEnv): Config {
  return { ...config, run: { ...config.run, shardConcurrency: shardConcurrency(config, env) } };
}

export async function plan(event: PlanEvent, ctx: StepContext, runId: string): Promise<PlanResult> {
  const { config, env } = ctx;
  const concurrency = shardConcurrency(config, env);
  const listed = await listInventory(config, ctx.deps, AbortSignal.timeout(ctx.budgetMs));
  const intervalMs = env.DIALER_AUDIT_SCHEDULE ? scheduleIntervalMs(env.DIALER_AUDIT_SCHEDULE) : undefined;
  const { bound, targets } = countRun(config, listed.inventory, { budgetMs: ctx.budgetMs, intervalMs });
  const count = config.run.shards ?? shardsFor(bound.seconds, ctx.budgetMs / 1000, concurrency);
  const shards = Array.from({ length: count }, (_, i) => ({ index: i + 1, count }));
  // Held for as long as the run can take: every wave of shards, plus this step and the merge.
  const waves = Math.ceil(count / concurrency) + 2;
  if (!(await ctx.store.begin(runId, ctx.now() + waves * ctx.remainingMs))) {
    ctx.log.warn('run skipped: the previous run still holds the lock', { scheduledAt: event.scheduledAt });
    return { runId, skip: true, reason: 'the previous run is still going', shards: [], concurrency, bound };
  }
  ctx.log.info('sharded run planned', { targets, shards: count, concurrency, boundSeconds: bound.seconds, fits: bound.fits, scheduledAt: event.scheduledAt });
  return { runId, shards, concurrency, bound };
}

export async function shard(event: ShardEvent, ctx: StepContext): Promise<ShardResult> {
  const slice = { index: event.index, count: event.count };
  const config = politeShard(withConcurrency(ctx.config, ctx.env), slice);
  const intervalMs = ctx.env.DIALER_AUDIT_SCHEDULE ? scheduleIntervalMs(ctx.env.DIALER_AUDIT_SCHEDULE) : undefined;
  const report = await runJob(config, { ...ctx.deps, dns: ctx.dnsFor(config), log: ctx.log, runId: event.runId }, { shard: slice, dryRun: true, budgetMs: ctx.budgetMs, intervalMs });
  const key = await ctx.store.put(event.runId, event.index, report, ctx.now() + PARTIAL_TTL_MS);
  ctx.log.info('shard finished', { shard: `${event.index}/${event.count}`, targets: report.summary.targets, findings: report.findings.length, key });
  return { ...slice, key, targets: report.summary.targets, findings: report.findings.length };
}

/** The Catch's Error and Cause (a JSON string with errorMessage for a Lambda error) in one line. */
function failureText(outcome: { error?: string; cause?: string }): string {
  let message = outcome.cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: string };
    if (parsed.errorMessage) message = parsed.errorMessage;
  } catch {
    // A plain-text cause (States.Timeout) is the message itself.
  }
  return [outcome.error, message].filter(Boolean).join(': ').slice(0, 500) || 'no report';
}

export async function merge(event: MergeEvent, ctx: StepContext): Promise<Report> {
  const partials: Report[] = [];
  const failures: ShardFailure[] = [];
  for (const outcome of event.results) {
    if (outcome.key) {
      try {
        partials.push(await ctx.store.get(outcome.key));
      } catch (err) {
        failures.push({ index: outcome.index, count: outcome.count, error: (err as Error).message });
      }
    } else {
      failures.push({ index: outcome.index, count: outcome.count, error: failureText(outcome) });
    }
  }
  const count = event.results[0]?.count ?? 1;
  try {
    // Fix mode comes from the config file only: nothing in an event or the environment can force it.
    return await mergeJob(ctx.config, partials, { ...ctx.deps, log: ctx.log }, { failures, count, runId: event.runId, notify: true, dryRun: ctx.config.fix.mode !== 'apply', force: false, budgetMs: ctx.budgetMs });
  } finally {
    await ctx.store.end(event.runId);
  }
}
