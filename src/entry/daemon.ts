// `dialer-audit daemon --config FILE`: the same job as the CLI and Lambda (runJob, always with
// notify), on a node-cron schedule from `daemon.schedule`. One run at a time: a tick that finds a
// run still going is skipped and logged. SIGTERM/SIGINT: no new ticks; the current run may finish
// within `daemon.grace`, else it is aborted (what it learned is kept and the alert state saved);
// exit 0. Optional loopback /healthz with the last run's time and result.
import { schedule as cronSchedule, type ScheduledTask } from 'node-cron';
import { newRunId } from '../audit.ts';
import type { Config } from '../config.ts';
import { runJob as defaultRunJob, type JobDeps } from '../job.ts';
import { createLogger } from '../log.ts';
import { startHealthServer, type HealthServer, type HealthStatus } from '../net/healthz.ts';
import type { ParameterSource } from '../net/ssm.ts';
import type { Logger, Report } from '../types.ts';
import { loadEntryConfig } from './config-source.ts';
import { realDeps } from './deps.ts';
import { logReport, switchableLogger } from './run-log.ts';

export const DEFAULT_SCHEDULE = '*/5 * * * *';
export const DEFAULT_GRACE_MS = 30_000;

export interface DaemonOptions {
  configFile: string;
  env: NodeJS.ProcessEnv;
  /** Where log lines go (stderr: journald and `docker logs` pick it up). */
  write: (line: string) => void;
  /** JSON lines (default) or human lines on a terminal. */
  json?: boolean;
  /** Where SIGTERM and SIGINT come from (the process). */
  signals?: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
  buildDeps?: (config: Config, log: Logger) => JobDeps | Promise<JobDeps>;
  runJob?: typeof defaultRunJob;
  /** Called once the schedule is armed (and /healthz listens). */
  onReady?: (info: { schedule: string; healthz?: string }) => void;
}

interface LastRun {
  runId: string;
  startedAt: string;
  finishedAt: string;
  result: 'clean' | 'findings' | 'error';
  critical?: number;
  warning?: number;
  info?: number;
  failed?: boolean;
  aborted?: boolean;
  error?: string;
}

interface CurrentRun {
  runId: string;
  startedAt: number;
  controller: AbortController;
  done: Promise<void>;
}

/** The grace period is split: most of it to let the run finish, the rest to save state after an abort. */
export function graceSplit(graceMs: number): { finishMs: number; abortMs: number } {
  const abortMs = Math.min(5000, Math.floor(graceMs / 2));
  return { finishMs: graceMs - abortMs, abortMs };
}

function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

let parameters: Promise<ParameterSource> | undefined;
function ssmParameters(env: NodeJS.ProcessEnv): Promise<ParameterSource> {
  return (parameters ??= Promise.all([import('@aws-sdk/client-ssm'), import('../net/ssm.ts')]).then(
    ([{ SSMClient }, { SsmParameters }]) => new SsmParameters(new SSMClient({ region: env.AWS_REGION })),
  ));
}

/** Runs until SIGTERM or SIGINT; resolves with the exit code (0 after a clean stop). */
export async function runDaemon(opts: DaemonOptions): Promise<number> {
  const json = opts.json ?? true;
  const base = createLogger({ json, write: opts.write });
  const config = await loadEntryConfig(opts.configFile, { env: opts.env, parameters: () => ssmParameters(opts.env) });
  const expression = config.daemon?.schedule ?? DEFAULT_SCHEDULE;
  const graceMs = config.daemon?.grace ?? DEFAULT_GRACE_MS;
  const { log, use } = switchableLogger(base);
  const deps = await (opts.buildDeps ?? realDeps)(config, log);
  const runJob = opts.runJob ?? defaultRunJob;
  // Fix mode comes from the config file only, as in Lambda.
  const dryRun = config.fix.mode !== 'apply';

  let current: CurrentRun | undefined;
  let last: LastRun | undefined;
  let runs = 0;
  let skippedTicks = 0;
  let stopping = false;

  async function tick(scheduledAt: Date): Promise<void> {
    if (stopping) return;
    const controller = new AbortController();
    const started = Date.now();
    const runId = newRunId(started);
    const runLog = createLogger({ json, write: opts.write, base: { runId } });
    use(runLog);
    runLog.info('run started', { vantage: config.run.vantage, scheduledAt: scheduledAt.toISOString(), dryRun });
    const done = (async () => {
      let report: Report | undefined;
      try {
        report = await runJob(config, { ...deps, log, runId, signal: controller.signal }, { notify: true, dryRun });
        const aborted = controller.signal.aborted;
        logReport(runLog, report, { durationMs: Date.now() - started, ...(aborted ? { aborted } : {}) });
        const s = report.summary;
        last = {
          runId,
          startedAt: report.startedAt,
          finishedAt: report.finishedAt,
          result: s.findings === 0 ? 'clean' : 'findings',
          critical: s.critical,
          warning: s.warning,
          info: s.info,
          failed: s.failed,
          ...(aborted ? { aborted } : {}),
        };
      } catch (err) {
        runLog.error('run failed', { error: (err as Error).message, durationMs: Date.now() - started });
        last = { runId, startedAt: new Date(started).toISOString(), finishedAt: new Date().toISOString(), result: 'error', error: (err as Error).message };
      } finally {
        runs++;
        use(base);
      }
    })();
    current = { runId, startedAt: started, controller, done };
    await done;
    current = undefined;
  }

  const task: ScheduledTask = cronSchedule(expression, (ctx) => tick(ctx.date), {
    name: 'dialer-audit',
    noOverlap: true,
    timezone: config.daemon?.timezone,
    // node-cron's own messages (e.g. "task still running") are ours to word: see execution:overlap.
    logger: {
      info: (m) => base.debug(String(m)),
      warn: (m) => base.debug(String(m)),
      error: (m) => base.error('scheduler error', { error: String(m) }),
      debug: (m) => base.debug(String(m)),
    },
  });
  task.on('execution:overlap', (ctx) => {
    skippedTicks++;
    base.warn('tick skipped: the previous run is still going', { scheduledAt: ctx.date.toISOString(), runId: current?.runId, runningForMs: current ? Date.now() - current.startedAt : undefined });
  });

  let health: HealthServer | undefined;
  const healthStatus = (): HealthStatus => {
    // A run far past its budget means the daemon is stuck, even though the process is alive.
    const stuck = current !== undefined && Date.now() - current.startedAt > config.run.budget + graceMs;
    return {
      healthy: last?.result !== 'error' && !stuck && !stopping,
      body: {
        status: stopping ? 'stopping' : stuck ? 'stuck' : last === undefined ? 'starting' : last.result === 'error' ? 'error' : 'ok',
        schedule: expression,
        nextRun: task.getNextRun()?.toISOString() ?? null,
        running: current ? { runId: current.runId, startedAt: new Date(current.startedAt).toISOString() } : null,
        lastRun: last ?? null,
        runs,
        skippedTicks,
      },
    };
  };
  const healthz = config.daemon?.healthz;
  if (healthz) {
    try {
      health = await startHealthServer(healthz.address, healthz.port, healthStatus);
    } catch (err) {
      await task.destroy();
      throw err;
    }
  }

  return new Promise<number>((resolve) => {
    const signals = opts.signals ?? process;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      void (async () => {
        await task.destroy();
        let code = 0;
        const run = current;
        if (run) {
          const { finishMs, abortMs } = graceSplit(graceMs);
          base.info('stopping: letting the current run finish', { signal, runId: run.runId, graceMs });
          if (!(await settleWithin(run.done, finishMs))) {
            base.warn('stopping: aborting the current run', { signal, runId: run.runId });
            run.controller.abort(new Error(`the daemon is stopping (${signal})`));
            if (!(await settleWithin(run.done, abortMs))) {
              base.error('stopping: the current run did not stop within the grace period; its alert state may not be saved', { runId: run.runId, graceMs });
              code = 1;
            }
          }
        }
        await health?.close();
        signals.off('SIGTERM', onTerm);
        signals.off('SIGINT', onInt);
        base.info('stopped', { signal, runs, skippedTicks, exitCode: code });
        resolve(code);
      })();
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    signals.on('SIGTERM', onTerm);
    signals.on('SIGINT', onInt);
    base.info('daemon started', {
      schedule: expression,
      timezone: config.daemon?.timezone,
      nextRun: task.getNextRun()?.toISOString(),
      graceMs,
      dryRun,
      vantage: config.run.vantage,
      healthz: health?.url,
    });
    opts.onReady?.({ schedule: expression, healthz: health?.url });
  });
}
