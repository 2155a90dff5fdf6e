// `dialer-audit daemon --config FILE`: the same job as the CLI and Lambda (runJob, always with
// notify), on a node-cron schedule from `daemon.schedule`. One run at a time: a tick that finds a
// run still going is skipped and logged. SIGTERM/SIGINT (and every other signal that would end
// it): no new ticks; the current run may finish within `daemon.grace`, else it is aborted (what it
// learned is kept and the alert state saved); exit 0. SIGHUP reloads the config (validated; on a
// problem the running config stays). Optional loopback /healthz with the last run's time and result,
// and /status with the latest status page.
import { constants as osConstants } from 'node:os';
import { schedule as cronSchedule, type ScheduledTask } from 'node-cron';
import { newRunId } from '../audit.ts';
import { ConfigError, type Config } from '../config.ts';
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
  /** Where the stop signals and SIGHUP come from (the process). */
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

/**
 * Signals that end the daemon: each one lets the current run finish (or aborts it) and saves its
 * state, and the log says which. SIGHUP reloads the config instead; SIGKILL cannot be caught.
 */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGUSR2', 'SIGALRM', 'SIGXCPU', 'SIGPWR'].filter((s) => s in osConstants.signals) as NodeJS.Signals[];

function errorText(err: unknown): string | string[] {
  return err instanceof ConfigError ? err.problems : err instanceof Error ? err.message : String(err);
}

/** Runs until a stop signal; resolves with the exit code (0 after a clean stop). SIGHUP reloads the config. */
export async function runDaemon(opts: DaemonOptions): Promise<number> {
  const json = opts.json ?? true;
  const base = createLogger({ json, write: opts.write });
  const loadConfig = () => loadEntryConfig(opts.configFile, { env: opts.env, parameters: () => ssmParameters(opts.env) });
  // The latest status page a run rendered, for /status.
  let latestPage: string | undefined;
  const buildDeps = opts.buildDeps ?? ((c: Config, l: Logger) => realDeps(c, l, { onStatusPage: (html) => (latestPage = html) }));
  const { log, use } = switchableLogger(base);
  // What the next run uses; SIGHUP replaces both at once, a run in progress keeps its own.
  let config = await loadConfig();
  let deps = await buildDeps(config, log);
  const runJob = opts.runJob ?? defaultRunJob;
  const expressionOf = (c: Config) => c.daemon?.schedule ?? DEFAULT_SCHEDULE;
  const graceOf = (c: Config) => c.daemon?.grace ?? DEFAULT_GRACE_MS;
  // Fix mode comes from the config file only, as in Lambda.
  const dryRunOf = (c: Config) => c.fix.mode !== 'apply';

  let current: CurrentRun | undefined;
  let last: LastRun | undefined;
  let runs = 0;
  let skippedTicks = 0;
  let stopping = false;

  const skipTick = (scheduledAt: Date) => {
    skippedTicks++;
    base.warn('tick skipped: the previous run is still going', { scheduledAt: scheduledAt.toISOString(), runId: current?.runId, runningForMs: current ? Date.now() - current.startedAt : undefined });
  };

  async function tick(scheduledAt: Date): Promise<void> {
    if (stopping) return;
    // A schedule re-armed by SIGHUP does not know the old schedule's run: still one run at a time.
    if (current) return skipTick(scheduledAt);
    const runConfig = config;
    const runDeps = deps;
    const dryRun = dryRunOf(runConfig);
    const controller = new AbortController();
    const started = Date.now();
    const runId = newRunId(started);
    const runLog = createLogger({ json, write: opts.write, base: { runId } });
    use(runLog);
    runLog.info('run started', { vantage: runConfig.run.vantage, scheduledAt: scheduledAt.toISOString(), dryRun });
    const done = (async () => {
      let report: Report | undefined;
      try {
        report = await runJob(runConfig, { ...runDeps, log, runId, signal: controller.signal }, { notify: true, dryRun });
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

  function schedule(c: Config): ScheduledTask {
    const task = cronSchedule(expressionOf(c), (ctx) => tick(ctx.date), {
      name: 'dialer-audit',
      noOverlap: true,
      timezone: c.daemon?.timezone,
      // node-cron's own messages (e.g. "task still running") are ours to word: see execution:overlap.
      logger: {
        info: (m) => base.debug(String(m)),
        warn: (m) => base.debug(String(m)),
        error: (m) => base.error('scheduler error', { error: String(m) }),
        debug: (m) => base.debug(String(m)),
      },
    });
    task.on('execution:overlap', (ctx) => skipTick(ctx.date));
    return task;
  }
  let task = schedule(config);

  let health: HealthServer | undefined;
  const healthStatus = (): HealthStatus => {
    // A run far past its budget means the daemon is stuck, even though the process is alive.
    const stuck = current !== undefined && Date.now() - current.startedAt > config.run.budget + graceOf(config);
    return {
      healthy: last?.result !== 'error' && !stuck && !stopping,
      body: {
        status: stopping ? 'stopping' : stuck ? 'stuck' : last === undefined ? 'starting' : last.result === 'error' ? 'error' : 'ok',
        schedule: expressionOf(config),
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
      health = await startHealthServer(healthz.address, healthz.port, healthStatus, () => latestPage);
    } catch (err) {
      await task.destroy();
      const code = (err as NodeJS.ErrnoException).code;
      // A port someone else holds will not free itself: exit 2 naming the key, like a bad config.
      if (code === 'EADDRINUSE') throw new ConfigError([`daemon.healthz.port: healthz port ${healthz.port} is in use (another process listens on ${healthz.address}:${healthz.port})`]);
      throw new ConfigError([`daemon.healthz: cannot listen on ${healthz.address}:${healthz.port} (${code ?? (err as Error).message})`]);
    }
  }

  let reloading: Promise<void> | undefined;
  /** SIGHUP: read and validate the file again; on any problem the running config stays. */
  const reload = () =>
    (reloading ??= (async () => {
      base.info('reloading the config (SIGHUP)', { configFile: opts.configFile });
      try {
        const next = await loadConfig();
        const nextDeps = await buildDeps(next, log);
        const rescheduled = expressionOf(next) !== expressionOf(config) || next.daemon?.timezone !== config.daemon?.timezone;
        const before = config.daemon?.healthz;
        config = next;
        deps = nextDeps;
        if (rescheduled && !stopping) {
          await task.destroy();
          task = schedule(config);
        }
        if (JSON.stringify(before) !== JSON.stringify(next.daemon?.healthz)) base.warn('daemon.healthz changed: it takes effect when the daemon restarts', { healthz: health?.url });
        base.info('config reloaded', { schedule: expressionOf(config), nextRun: task.getNextRun()?.toISOString(), dryRun: dryRunOf(config), vantage: config.run.vantage, runInProgress: current?.runId });
      } catch (err) {
        base.error('config reload failed; the running config stays', { configFile: opts.configFile, error: errorText(err) });
      } finally {
        reloading = undefined;
      }
    })());

  return new Promise<number>((resolve) => {
    const signals = opts.signals ?? process;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      void (async () => {
        await reloading;
        await task.destroy();
        let code = 0;
        const run = current;
        const graceMs = graceOf(config);
        base.info('stopping', { signal, runId: run?.runId });
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
        for (const [name, handler] of handlers) signals.off(name, handler);
        base.info('stopped', { signal, runs, skippedTicks, exitCode: code });
        resolve(code);
      })();
    };
    const handlers: [string, () => void][] = [...STOP_SIGNALS.map((name): [string, () => void] => [name, () => stop(name)]), ['SIGHUP', () => void reload()]];
    for (const [name, handler] of handlers) signals.on(name, handler);
    base.info('daemon started', {
      schedule: expressionOf(config),
      timezone: config.daemon?.timezone,
      nextRun: task.getNextRun()?.toISOString(),
      graceMs: graceOf(config),
      dryRun: dryRunOf(config),
      vantage: config.run.vantage,
      healthz: health?.url,
    });
    opts.onReady?.({ schedule: expressionOf(config), healthz: health?.url });
  });
}
