// The Lambda entry: an EventBridge schedule invokes it; it runs exactly what the CLI runs (runJob),
// logs one JSON line per finding and one summary line, and returns the summary. It throws only
// when the run itself could not happen (bad config, a crash), so Lambda's Errors metric, the
// alarm and the failure destination mean "the audit is broken", never "the fleet has problems".
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { newRunId } from '../audit.ts';
import type { Config } from '../config.ts';
import { parseDuration } from '../units.ts';
import { runJob as defaultRunJob, type JobDeps } from '../job.ts';
import { createLogger } from '../log.ts';
import type { ParameterSource } from '../net/ssm.ts';
import type { Logger, Report, ReportSummary } from '../types.ts';
import { setFlagsFromString } from 'node:v8';
import { dnsClientFromConfig } from '../net/dns-client.ts';
import type { ShardRunStore } from '../state/partials.ts';
import { fixCounts, logReport, switchableLogger } from './run-log.ts';
import { loadEntryConfig } from './config-source.ts';
import { realDeps, shardRunStoreFor } from './deps.ts';
import { merge, plan, shard, type MergeEvent, type PlanEvent, type PlanResult, type ShardEvent, type ShardResult, type StepContext } from './sharded-run.ts';

/** What a scheduled invocation returns (and what `aws lambda invoke` prints). */
export interface LambdaResult {
  runId: string;
  requestId: string;
  vantage?: string;
  startedAt: string;
  finishedAt: string;
  dryRun: boolean;
  budgetMs: number;
  summary: ReportSummary;
  fixes: Record<string, number>;
  reporterFailures: string[];
}

/**
 * A scheduled event, or a manual invoke (`{"report":"full"}` returns the whole JSON report, for
 * `dialer-audit merge`), or a step of the sharded run's state machine (`action`).
 */
export type LambdaEvent = (Partial<ScheduledEvent> & { report?: 'summary' | 'full'; action?: undefined }) | PlanEvent | ShardEvent | MergeEvent;

export interface HandlerParts {
  env: NodeJS.ProcessEnv;
  /** Where log lines go (stdout in Lambda; CloudWatch parses each JSON line). */
  write: (line: string) => void;
  loadConfig: (env: NodeJS.ProcessEnv) => Promise<Config>;
  buildDeps: (config: Config, log: Logger) => JobDeps | Promise<JobDeps>;
  runJob: typeof defaultRunJob;
  now: () => number;
  /** Where a sharded run's partial reports and lock live (the stack's state table). */
  shardStore: (config: Config) => ShardRunStore | Promise<ShardRunStore>;
}

/** Time kept back for what follows the audit: state write, Slack and email, the response. */
export const DEFAULT_SAFETY_MARGIN_MS = 10_000;

/** The run's budget: the remaining time minus the margin (never below half of it), capped by run.budget. */
export function lambdaBudgetMs(remainingMs: number, marginMs: number, configBudgetMs: number): number {
  const usable = Math.max(remainingMs - marginMs, Math.floor(remainingMs / 2));
  return Math.max(0, Math.min(configBudgetMs, usable));
}

/** DIALER_AUDIT_CONFIG, resolved against the bundle's folder when relative; default: the bundled file. */
export function configPath(env: NodeJS.ProcessEnv, bundleDir: string): string {
  return resolve(bundleDir, env.DIALER_AUDIT_CONFIG || './dialer-audit.yaml');
}

// Module-level singletons: one SSM client and one parameter cache per container, loaded only when
// the config has `ssm:` secrets (a lazy chunk of the bundle: no parse cost at cold start otherwise).
let parameters: Promise<ParameterSource> | undefined;
function ssmParameters(env: NodeJS.ProcessEnv): Promise<ParameterSource> {
  const maxAgeMs = parseDuration(env.DIALER_AUDIT_SSM_MAX_AGE ?? '15m') ?? 15 * 60_000;
  return (parameters ??= Promise.all([import('@aws-sdk/client-ssm'), import('../net/ssm.ts')]).then(
    ([{ SSMClient }, { SsmParameters }]) => new SsmParameters(new SSMClient({ region: env.AWS_REGION }), { maxAgeMs }),
  ));
}

const bundleDir = dirname(fileURLToPath(import.meta.url));

const defaultParts: HandlerParts = {
  env: process.env,
  write: (line) => process.stdout.write(line + '\n'),
  loadConfig: (env) => loadEntryConfig(configPath(env, bundleDir), { env, lambda: true, parameters: () => ssmParameters(env) }),
  buildDeps: realDeps,
  runJob: defaultRunJob,
  now: Date.now,
  shardStore: shardRunStoreFor,
};

// V8 would let a long run's old generation grow to a few times what is live; 30 % keeps memory
// flat (the young generation is capped by NODE_OPTIONS in serverless.yml). README "Large fleets".
setFlagsFromString('--heap-growing-percent=30');

export function createHandler(overrides: Partial<HandlerParts> = {}) {
  const parts: HandlerParts = { ...defaultParts, ...overrides };
  // Per container: the config (file + env + SSM) and the real clients are built once, on the first
  // invocation; a failed load is not kept, so the next invocation tries again.
  let config: Promise<Config> | undefined;
  let deps: JobDeps | undefined;
  let store: ShardRunStore | undefined;
  // DNS clients of shards, by their share of each server's qps: built once per container.
  const shardDns = new Map<number, JobDeps['dns']>();
  // Clients built once log through this, so every line carries the current invocation's run id.
  const { log, use } = switchableLogger(createLogger({ json: true, write: parts.write }));

  return async function handler(event: LambdaEvent, context: Pick<Context, 'awsRequestId' | 'getRemainingTimeInMillis'>): Promise<LambdaResult | Report | PlanResult | ShardResult> {
    const started = parts.now();
    const remainingMs = context.getRemainingTimeInMillis();
    // The steps of one sharded run share its run id (the plan's); each other invocation gets its own.
    const runId = event.action === 'shard' || event.action === 'merge' ? event.runId : newRunId(started);
    use(createLogger({ json: true, write: parts.write, base: { runId, requestId: context.awsRequestId, ...(event.action ? { step: event.action } : {}) } }));
    try {
      config ??= parts.loadConfig(parts.env).catch((err: unknown) => {
        config = undefined;
        throw err;
      });
      const cfg = await config;
      deps ??= await parts.buildDeps(cfg, log);
      const margin = parseDuration(parts.env.DIALER_AUDIT_SAFETY_MARGIN ?? DEFAULT_SAFETY_MARGIN_MS) ?? DEFAULT_SAFETY_MARGIN_MS;
      const budgetMs = lambdaBudgetMs(remainingMs, margin, cfg.run.budget);
      if (event.action) {
        const jobDeps = deps;
        store ??= await parts.shardStore(cfg);
        const step: StepContext = {
          config: cfg,
          deps: jobDeps,
          log,
          env: parts.env,
          store,
          now: parts.now,
          budgetMs,
          remainingMs,
          dnsFor: (shardConfig) => {
            if (shardConfig.dns.qps === cfg.dns.qps) return jobDeps.dns;
            const share = cfg.dns.qps / shardConfig.dns.qps;
            let dns = shardDns.get(share);
            if (!dns) shardDns.set(share, (dns = dnsClientFromConfig(shardConfig)));
            return dns;
          },
        };
        if (event.action === 'plan') return await plan(event, step, runId);
        if (event.action === 'shard') return await shard(event, step);
        const merged = await merge(event, step);
        logReport(log, merged, { durationMs: parts.now() - started });
        return resultOf(merged, context.awsRequestId, budgetMs);
      }
      // Fix mode comes from the config file only: nothing in an event or the environment can force it.
      const dryRun = cfg.fix.mode !== 'apply';
      const vantage = cfg.run.vantage;
      log.info('run started', { vantage, trigger: event['detail-type'] ?? 'invoke', scheduledAt: event.time, budgetMs, dryRun });

      const report = await parts.runJob(cfg, { ...deps, log, runId }, { notify: true, dryRun, budgetMs, force: false });

      logReport(log, report, { durationMs: parts.now() - started });
      return event.report === 'full' ? report : resultOf(report, context.awsRequestId, budgetMs);
    } catch (err) {
      // An internal failure: log it in one line and let Lambda count the error (alarm, destination).
      log.error('run failed', { error: (err as Error).message, name: (err as Error).name, durationMs: parts.now() - started });
      throw err;
    }
  };
}

function resultOf(report: Report, requestId: string, budgetMs: number): LambdaResult {
  return {
    runId: report.runId,
    requestId,
    vantage: report.vantage,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    dryRun: report.dryRun,
    budgetMs,
    summary: report.summary,
    fixes: fixCounts(report),
    reporterFailures: report.reporterFailures.map((r) => r.reporter),
  };
}

export const handler = createHandler();
