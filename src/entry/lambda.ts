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
import { fixCounts, logReport, switchableLogger } from './run-log.ts';
import { loadEntryConfig } from './config-source.ts';
import { realDeps } from './deps.ts';

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

/** A scheduled event, or a manual invoke; `{"report":"full"}` returns the whole JSON report (for `dialer-audit merge`). */
export type LambdaEvent = Partial<ScheduledEvent> & { report?: 'summary' | 'full' };

export interface HandlerParts {
  env: NodeJS.ProcessEnv;
  /** Where log lines go (stdout in Lambda; CloudWatch parses each JSON line). */
  write: (line: string) => void;
  loadConfig: (env: NodeJS.ProcessEnv) => Promise<Config>;
  buildDeps: (config: Config, log: Logger) => JobDeps | Promise<JobDeps>;
  runJob: typeof defaultRunJob;
  now: () => number;
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
};

export function createHandler(overrides: Partial<HandlerParts> = {}) {
  const parts: HandlerParts = { ...defaultParts, ...overrides };
  // Per container: the config (file + env + SSM) and the real clients are built once, on the first
  // invocation; a failed load is not kept, so the next invocation tries again.
  let config: Promise<Config> | undefined;
  let deps: JobDeps | undefined;
  // Clients built once log through this, so every line carries the current invocation's run id.
  const { log, use } = switchableLogger(createLogger({ json: true, write: parts.write }));

  return async function handler(event: LambdaEvent, context: Pick<Context, 'awsRequestId' | 'getRemainingTimeInMillis'>): Promise<LambdaResult | Report> {
    const started = parts.now();
    const runId = newRunId(started);
    use(createLogger({ json: true, write: parts.write, base: { runId, requestId: context.awsRequestId } }));
    try {
      config ??= parts.loadConfig(parts.env).catch((err: unknown) => {
        config = undefined;
        throw err;
      });
      const cfg = await config;
      deps ??= await parts.buildDeps(cfg, log);
      const margin = parseDuration(parts.env.DIALER_AUDIT_SAFETY_MARGIN ?? DEFAULT_SAFETY_MARGIN_MS) ?? DEFAULT_SAFETY_MARGIN_MS;
      const budgetMs = lambdaBudgetMs(context.getRemainingTimeInMillis(), margin, cfg.run.budget);
      // Fix mode comes from the config file only: nothing in an event or the environment can force it.
      const dryRun = cfg.fix.mode !== 'apply';
      const vantage = cfg.run.vantage;
      log.info('run started', { vantage, trigger: event['detail-type'] ?? 'invoke', scheduledAt: event.time, budgetMs, dryRun });

      const report = await parts.runJob(cfg, { ...deps, log, runId }, { notify: true, dryRun, budgetMs, force: false });

      const result: LambdaResult = {
        runId: report.runId,
        requestId: context.awsRequestId,
        vantage: report.vantage,
        startedAt: report.startedAt,
        finishedAt: report.finishedAt,
        dryRun: report.dryRun,
        budgetMs,
        summary: report.summary,
        fixes: fixCounts(report),
        reporterFailures: report.reporterFailures.map((r) => r.reporter),
      };
      logReport(log, report, { durationMs: parts.now() - started });
      return event.report === 'full' ? report : result;
    } catch (err) {
      // An internal failure: log it in one line and let Lambda count the error (alarm, destination).
      log.error('run failed', { error: (err as Error).message, name: (err as Error).name, durationMs: parts.now() - started });
      throw err;
    }
  };
}

export const handler = createHandler();
