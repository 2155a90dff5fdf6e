// The command line: parse, load config, run the job, print the report, exit 0 / 1 / 2.
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import { checkRegistry } from '../../checks/index.ts';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { countRun, parseShard } from '../targets.ts';
import { describeBound, scheduleIntervalMs } from '../bound.ts';
import { readDialersFile, staticInventory, withDialerList } from '../inventory/static.ts';
import { mergeJob, runJob } from '../job.ts';
import { politeShard, ShardMergeError, sortForMerge } from '../shards.ts';
import { createLogger } from '../log.ts';
import { formatJson, reportSchema } from '../report/json.ts';
import { formatMarkdown } from '../report/markdown.ts';
import { formatPrometheus } from '../report/metrics.ts';
import { formatText } from '../report/text.ts';
import type { Measurement, Report } from '../types.ts';
import { mergeReports } from '../vantage.ts';
import { runDaemon } from './daemon.ts';
import { realDeps } from './deps.ts';
import { STARTER_CONFIG } from './starter.ts';
import pkg from '../../package.json' with { type: 'json' };

export interface CliIo {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export const EXIT = { ok: 0, findings: 1, usage: 2 } as const;

/** Exit-code 2 problems that name the field or option at fault. */
class UsageError extends Error {}


function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

function checkOnly(config: Config, only: string[] | undefined): void {
  for (const id of only ?? []) {
    if (!checkRegistry[id]) throw new UsageError(`--only: unknown check "${id}" (known: ${Object.keys(checkRegistry).join(', ')})`);
    if (config.checks[id] === undefined) throw new UsageError(`--only: check "${id}" is not enabled in the config (add it under checks.${id})`);
  }
}

export function renderReport(report: Report, format: string, io: CliIo): string {
  if (format === 'json') return formatJson(report);
  if (format === 'markdown') return formatMarkdown(report);
  if (format === 'prom') return formatPrometheus(report);
  const color = Boolean(io.stdout.isTTY) && !io.env.NO_COLOR;
  return formatText(report, { color, width: 80 });
}

/** The schedule a run is held against: Lambda's (DIALER_AUDIT_SCHEDULE), else the daemon's. */
export function scheduleOf(config: Config, env: NodeJS.ProcessEnv): number | undefined {
  const expression = env.DIALER_AUDIT_SCHEDULE || config.daemon?.schedule;
  return expression ? scheduleIntervalMs(expression) : undefined;
}

/** --measurements FILE: JSON lines appended as measurements are made, so the run holds none of them. */
async function measurementFile(file: string): Promise<{ write(m: Measurement): void; close(): Promise<void> }> {
  const stream = createWriteStream(file, { flags: 'w' });
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (err: NodeJS.ErrnoException) => reject(new UsageError(`--measurements: cannot write ${file} (${err.code ?? err.message})`)));
  });
  return {
    write: (m) => void stream.write(JSON.stringify(m) + '\n'),
    close: () => new Promise<void>((resolve) => stream.end(() => resolve())),
  };
}

function progress(io: CliIo): ((done: number, total: number) => void) | undefined {
  if (!io.stderr.isTTY) return undefined;
  const started = Date.now();
  let shown = false;
  return (done, total) => {
    // Only long runs earn a progress line; short ones stay quiet.
    if (Date.now() - started < 2000 && !shown) return;
    shown = true;
    io.stderr.write(`\r  audited ${done}/${total} targets${done === total ? '\n' : ''}`);
  };
}

export function buildProgram(io: CliIo, onExit: (code: number) => void): Command {
  const program = new Command('dialer-audit')
    .description('Health audit for VoIP dialer fleets: DNS consistency across resolvers, TTL policy, STUN/TURN and SIP trunk probes.')
    .version(pkg.version, '-V, --version')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('audit')
    .description('Run every enabled check once and print the report (a dry run unless --fix).')
    .requiredOption('-c, --config <file>', 'the YAML config file')
    .addOption(new Option('-f, --format <format>', 'report format').choices(['text', 'json', 'markdown', 'prom']).default('text'))
    .option('--fix', 'apply the planned TTL fixes through Route 53 (default: only show the plan)', false)
    .option('--force', 'apply even when the plan is over a safety limit (with --fix)', false)
    .option('--notify', 'update the alert state and send notices to the configured reporters', false)
    .option('--only <checks>', 'run only these checks (comma-separated ids)', list)
    .option('--target <names>', 'audit only these targets (comma-separated names)', list)
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a finding is at or above this severity').choices(['critical', 'warning', 'info']))
    .option('--shard <I/N>', 'audit only shard I of N (a stable slice of the fleet) and write a partial report for `merge`')
    .option('--measurements <file>', 'stream every per-target measurement to FILE as JSON lines while the run goes')
    .addHelpText(
      'after',
      `
Examples:
  dialer-audit audit --config dialer-audit.yaml
  dialer-audit audit --config dialer-audit.yaml --format json > report.json
  dialer-audit audit --config dialer-audit.yaml --shard 2/4 --format json > shard-2.json
  dialer-audit audit --config dialer-audit.yaml --notify    # alert state, Slack/email notices, metrics
  dialer-audit audit --config dialer-audit.yaml --only dns-consistency --target acme.dialer.example.com
  dialer-audit audit --config dialer-audit.yaml --fix

Exit codes: 0 no finding at or above the fail threshold, 1 there are, 2 the config or the command line is wrong.`,
    )
    .action(async (opts: { config: string; format: string; fix: boolean; force: boolean; notify: boolean; only?: string[]; target?: string[]; failOn?: Config['run']['failOn']; shard?: string; measurements?: string }) => {
      let config = await loadConfig(opts.config);
      if (opts.failOn) config.run.failOn = opts.failOn;
      if (opts.force && !opts.fix) throw new UsageError('--force: only meaningful together with --fix');
      checkOnly(config, opts.only);
      const shard = opts.shard === undefined ? undefined : parseShard(opts.shard);
      if (opts.shard !== undefined && !shard) throw new UsageError(`--shard: expected I/N with 1 ≤ I ≤ N, such as 2/4 (got "${opts.shard}")`);
      if (shard && (opts.fix || opts.notify)) throw new UsageError(`--shard: a shard only reports; apply fixes and send notices once, with \`dialer-audit merge --config ${opts.config} --fix --notify\` over all shards' reports`);
      if (shard) config = politeShard(config, shard);
      const log = createLogger({ json: !io.stderr.isTTY, write: (l) => io.stderr.write(l + '\n') });
      const measurements = opts.measurements === undefined ? undefined : await measurementFile(opts.measurements);
      const deps = { ...(await realDeps(config, log, { writeMetricsLine: (l) => io.stderr.write(l + '\n') })), onProgress: progress(io), ...(measurements ? { onMeasurement: measurements.write } : {}) };
      try {
        const report = await runJob(config, deps, { only: opts.only, targets: opts.target, dryRun: !opts.fix, force: opts.force, notify: opts.notify, shard, intervalMs: scheduleOf(config, io.env) });
        io.stdout.write(renderReport(report, opts.format, io));
        onExit(report.summary.failed ? EXIT.findings : EXIT.ok);
      } finally {
        await measurements?.close();
      }
    });

  program
    .command('validate')
    .description('Check the config file and exit: 0 when valid, 2 with the path of every bad key.')
    .requiredOption('-c, --config <file>', 'the YAML config file')
    .addHelpText('after', '\nExample:\n  dialer-audit validate --config dialer-audit.yaml')
    .action(async (opts: { config: string }) => {
      const config = await loadConfig(opts.config);
      const checks = Object.keys(config.checks);
      io.stdout.write(`${opts.config}: valid (${checks.length} check${checks.length === 1 ? '' : 's'}: ${checks.join(', ') || 'none'})\n`);
      // The time the run needs at its politeness, before it ever runs; zones are counted when read.
      const list = await readDialersFile(config, AbortSignal.timeout(30_000));
      if (list.problem) throw new ConfigError([list.problem.startsWith('targets.dialersFile') ? list.problem : `targets.dialersFile: ${list.problem}`]);
      const inventory = withDialerList(staticInventory(config), list);
      const { bound, targets } = countRun(config, { ...inventory, dialers: [...inventory.dialers].sort() }, { intervalMs: scheduleOf(config, io.env) });
      const zones = config.targets.zones.length;
      const extra = ` for ${targets.toLocaleString('en-US')} target${targets === 1 ? '' : 's'}${zones ? ` (plus the dialers of ${zones} Route 53 zone${zones === 1 ? '' : 's'}, counted when the run reads them)` : ''}`;
      io.stdout.write(`${bound.fits ? '' : 'WARNING: '}${describeBound(bound, extra)}\n`);
      onExit(EXIT.ok);
    });

  program
    .command('init')
    .description('Write a commented starter config (validate accepts it as written).')
    .option('-c, --config <file>', 'where to write it', 'dialer-audit.yaml')
    .option('--force', 'overwrite the file if it exists', false)
    .addHelpText('after', '\nExamples:\n  dialer-audit init\n  dialer-audit init --config /etc/dialer-audit/config.yaml\n  dialer-audit init --config dialer-audit.yaml --force   # start over')
    .action(async (opts: { config: string; force: boolean }) => {
      try {
        await writeFile(opts.config, STARTER_CONFIG, { flag: opts.force ? 'w' : 'wx' });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw new UsageError(`${opts.config}: already exists; not overwritten (use --force to replace it)`);
        throw new UsageError(`${opts.config}: cannot write the config file (${code ?? String(err)})`);
      }
      io.stdout.write(`${opts.config}: written. Next: edit the dialers, then\n  dialer-audit validate --config ${opts.config}\n  dialer-audit audit --config ${opts.config}\n`);
      onExit(EXIT.ok);
    });

  program
    .command('daemon')
    .description('Run the audit on the config\'s daemon.schedule (node-cron) until SIGTERM/SIGINT; notices and alert state as configured.')
    .requiredOption('-c, --config <file>', 'the YAML config file')
    .addHelpText(
      'after',
      `
Examples:
  dialer-audit daemon --config /etc/dialer-audit/config.yaml
  DIALER_AUDIT_VANTAGE=office-berlin dialer-audit daemon --config dialer-audit.yaml

One run at a time (a tick that finds a run still going is skipped and logged). SIGTERM/SIGINT:
the current run may finish within daemon.grace, else it is aborted and its state saved; exit 0.
Logs: JSON lines on stderr (human lines on a terminal).`,
    )
    .action(async (opts: { config: string }) => {
      const json = !io.stderr.isTTY;
      onExit(await runDaemon({ configFile: opts.config, env: io.env, json, write: (line) => io.stderr.write(line + '\n') }));
    });

  program
    .command('merge')
    .description('Merge JSON reports: the shards of one run into one report, and reports from several vantage points (regions, hosts), saying which problems only some of them see.')
    .argument('<reports...>', 'JSON reports (audit --format json, audit --shard I/N, or a Lambda invoked with {"report":"full"})')
    .addOption(new Option('-f, --format <format>', 'report format').choices(['text', 'json', 'markdown']).default('text'))
    .option('-c, --config <file>', 'the config the shards ran with (needed to merge shard partials)')
    .option('--fix', 'with --config: apply the merged run\'s TTL fixes through Route 53', false)
    .option('--force', 'apply even when the plan is over a safety limit (with --fix)', false)
    .option('--notify', 'with --config: update the alert state and send notices for the merged run', false)
    .addHelpText(
      'after',
      `
Examples:
  dialer-audit merge us-east-1.json eu-west-1.json ap-southeast-1.json
  dialer-audit merge --format markdown reports/*.json > vantage.md
  dialer-audit merge --config dialer-audit.yaml --notify shard-1.json shard-2.json shard-3.json shard-4.json

Exit codes: 0 no finding at or above the fail threshold anywhere, 1 there are, 2 a report is unreadable.`,
    )
    .action(async (files: string[], opts: { format: string; config?: string; fix: boolean; force: boolean; notify: boolean }) => {
      const reports: Report[] = [];
      for (const file of files) {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch (err) {
          throw new UsageError(`${file}: cannot read the report (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new UsageError(`${file}: not JSON (write reports with --format json)`);
        }
        const result = reportSchema.safeParse(parsed);
        if (!result.success) {
          const issue = result.error.issues[0];
          throw new UsageError(`${file}: not a dialer-audit JSON report (${issue.path.join('.') || 'top level'}: ${issue.message})`);
        }
        reports.push(result.data as Report);
      }
      if ((opts.fix || opts.notify) && !opts.config) throw new UsageError(`--${opts.fix ? 'fix' : 'notify'}: needs --config FILE (the config the runs used)`);
      if (opts.force && !opts.fix) throw new UsageError('--force: only meaningful together with --fix');
      const { shardRuns, whole } = sortForMerge(reports);
      if (shardRuns.length > 0 && !opts.config) {
        throw new UsageError('merging shard partials needs --config FILE (the config the shards ran with): each check folds all shards\' findings with it');
      }
      const config = opts.config ? await loadConfig(opts.config) : undefined;
      const log = createLogger({ json: !io.stderr.isTTY, write: (l) => io.stderr.write(l + '\n') });
      if ((opts.fix || opts.notify) && (shardRuns.length !== 1 || whole.length > 0)) {
        throw new UsageError(`--${opts.fix ? 'fix' : 'notify'}: only for the shard partials of one run (fixes and notices of whole runs were made by those runs)`);
      }
      const deps = config && (opts.fix || opts.notify) ? await realDeps(config, log, { writeMetricsLine: (l) => io.stderr.write(l + '\n') }) : { log };
      const runs: Report[] = [...whole];
      for (const partials of shardRuns) {
        try {
          runs.push(await mergeJob(config!, partials, deps, { notify: opts.notify, dryRun: !opts.fix, force: opts.force }));
        } catch (err) {
          if (err instanceof ShardMergeError) throw new UsageError(err.message);
          throw err;
        }
      }
      const merged = runs.length === 1 ? runs[0] : mergeReports(runs);
      io.stdout.write(renderReport(merged, opts.format, io));
      onExit(merged.summary.failed ? EXIT.findings : EXIT.ok);
    });

  program.addHelpText(
    'after',
    `
Examples:
  dialer-audit init                                          # write a commented dialer-audit.yaml
  dialer-audit validate --config dialer-audit.yaml           # exit 2 naming every bad key
  dialer-audit audit --config dialer-audit.yaml              # one run, a dry run, text report
  dialer-audit audit --config dialer-audit.yaml --format json > report.json
  dialer-audit audit --config dialer-audit.yaml --fix        # apply the planned TTL fixes
  dialer-audit daemon --config dialer-audit.yaml             # every daemon.schedule until SIGTERM
  dialer-audit merge us-east-1.json eu-west-1.json           # problems seen from some places only

Run \`dialer-audit <command> --help\` for a command's options. Exit codes: 0 clean, 1 findings at or
above run.failOn, 2 the config or the command line is wrong.`,
  );

  return program;
}

/** Runs the CLI; returns the exit code instead of exiting, so tests can call it. */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof ConfigError) {
      io.stderr.write(`invalid config:\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
      return EXIT.usage;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`${err.message}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`dialer-audit: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return 3;
  }
}
