// The command line: parse, load config, run the job, print the report, exit 0 / 1 / 2.
import { createWriteStream } from 'node:fs';
import { access, constants, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { checkRegistry } from '../../checks/index.ts';
import { UnknownTargetsError } from '../audit.ts';
import { describeBound, scheduleIntervalMs } from '../bound.ts';
import { ConfigError, printableProblems, type Config } from '../config.ts';
import { loadConfig } from '../config-load.ts';
import { readDialersFile, staticInventory, withDialerList } from '../inventory/static.ts';
import { mergeJob, runJob } from '../job.ts';
import { createLogger } from '../log.ts';
import { didYouMean } from '../names.ts';
import { reportSchema } from '../report/json.ts';
import { OUTPUT_FORMATS, parseOutputSpec, planOutputs, type OutputSpec } from '../report/outputs.ts';
import type { StatusInputs } from '../report/status/page.ts';
import { verdictLine } from '../report/text.ts';
import { politeShard, ShardMergeError, sortForMerge } from '../shards.ts';
import { writeFileAtomic } from '../state/atomic-write.ts';
import { readStatusInputs } from '../state/status-inputs.ts';
import { countRun, parseShard } from '../targets.ts';
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

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** ` (did you mean "x"?)`, or the known names when nothing is close. */
function suggestion(input: string, known: string[]): string {
  const close = didYouMean(input, known);
  if (close.length) return ` (did you mean ${close.map((n) => `"${n}"`).join(' or ')}?)`;
  return known.length ? ` (known: ${[...known].sort().slice(0, 10).join(', ')}${known.length > 10 ? `, … ${known.length - 10} more` : ''})` : ' (the enabled checks have no targets)';
}

function checkOnly(config: Config, only: string[] | undefined): void {
  for (const id of only ?? []) {
    if (!checkRegistry[id]) throw new UsageError(`--only: unknown check "${id}"${suggestion(id, Object.keys(checkRegistry))}`);
    if (config.checks[id] === undefined) throw new UsageError(`--only: check "${id}" is not enabled in the config (add it under checks.${id})`);
  }
}

function colorOn(io: CliIo): boolean {
  return Boolean(io.stdout.isTTY) && !io.env.NO_COLOR;
}

export function renderReport(report: Report, format: string, io: CliIo): string {
  return OUTPUT_FORMATS[format].render(report, { color: colorOn(io) })[0].content;
}

/** Fails before any probe is sent when an output cannot be written: its directory is missing or read-only. */
async function checkWritable(spec: OutputSpec): Promise<void> {
  const directory = OUTPUT_FORMATS[spec.format].target === 'directory';
  const existing = await stat(spec.path).catch(() => undefined);
  if (existing && existing.isDirectory() !== directory) {
    throw new UsageError(`--output ${spec.format}=${spec.path}: is ${directory ? 'a file; expected a directory' : 'a directory; expected a file path'}`);
  }
  const parent = directory && existing ? spec.path : path.dirname(path.resolve(spec.path));
  try {
    await access(parent, constants.W_OK);
  } catch (err) {
    throw new UsageError(`--output ${spec.format}=${spec.path}: cannot write to ${parent} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Writes each output file atomically (readers see the old file or the new one); returns what failed, in words. */
async function writeOutputs(report: Report, files: OutputSpec[], status?: StatusInputs): Promise<string[]> {
  const problems: string[] = [];
  for (const spec of files) {
    const format = OUTPUT_FORMATS[spec.format];
    try {
      if (format.target === 'directory') await mkdir(spec.path, { recursive: true });
      for (const file of format.render(report, { color: false, status })) {
        await writeFileAtomic(file.name ? path.join(spec.path, file.name) : spec.path, file.content, 0o644);
      }
    } catch (err) {
      problems.push(`--output ${spec.format}=${spec.path}: not written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  return problems;
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

interface AuditFlags {
  config: string;
  format: string;
  output: string[];
  quiet: boolean;
  fix: boolean;
  force: boolean;
  notify: boolean;
  only?: string[];
  target?: string[];
  failOn?: Config['run']['failOn'];
  shard?: string;
  measurements?: string;
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
    .addOption(new Option('-f, --format <format>', 'the report on stdout').choices(Object.keys(OUTPUT_FORMATS).filter((f) => OUTPUT_FORMATS[f].target === 'file')).default('text'))
    .option('-o, --output <format=path>', `also write the report as FORMAT to PATH (- for stdout), from the same run; repeatable (${Object.keys(OUTPUT_FORMATS).join(', ')})`, collect, [])
    .option('-q, --quiet', 'print only the verdict line (outputs still written)', false)
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
  dialer-audit audit --config dialer-audit.yaml --output json=report.json --output prom=/var/lib/node_exporter/dialer-audit.prom
  dialer-audit audit --config dialer-audit.yaml --quiet --output markdown=report.md   # one line on stdout
  dialer-audit audit --config dialer-audit.yaml --notify --output html=/var/www/dialer-status   # the status page
  dialer-audit audit --config dialer-audit.yaml --shard 2/4 --format json > shard-2.json
  dialer-audit audit --config dialer-audit.yaml --notify    # alert state, Slack/email notices, metrics
  dialer-audit audit --config dialer-audit.yaml --only dns-consistency --target acme.dialer.example.com
  dialer-audit audit --config dialer-audit.yaml --fix

DIALER_AUDIT_VANTAGE names where this run looks from (run.vantage), as for the daemon and Lambda.
Exit codes: 0 no finding at or above the fail threshold, 1 there are (or an output or reporter failed),
2 the config or the command line is wrong.`,
    )
    .action(async (opts: AuditFlags, command: Command) => {
      let config = await loadConfig(opts.config);
      // The same override the daemon and Lambda honour, so merged reports name their places.
      if (io.env.DIALER_AUDIT_VANTAGE) config.run.vantage = io.env.DIALER_AUDIT_VANTAGE;
      if (opts.failOn) config.run.failOn = opts.failOn;
      if (opts.force && !opts.fix) throw new UsageError('--force: only meaningful together with --fix');
      checkOnly(config, opts.only);
      const shard = opts.shard === undefined ? undefined : parseShard(opts.shard);
      if (opts.shard !== undefined && !shard) throw new UsageError(`--shard: expected I/N with 1 ≤ I ≤ N, such as 2/4 (got "${opts.shard}")`);
      if (shard && (opts.fix || opts.notify)) throw new UsageError(`--shard: a shard only reports; apply fixes and send notices once, with \`dialer-audit merge --config ${opts.config} --fix --notify\` over all shards' reports`);
      if (shard) config = politeShard(config, shard);
      const specs = opts.output.map((text) => {
        const spec = parseOutputSpec(text);
        if ('problem' in spec) throw new UsageError(spec.problem);
        return spec;
      });
      const plan = planOutputs(specs, { stdoutFormat: command.getOptionValueSource('format') === 'cli' ? opts.format : undefined, quiet: opts.quiet });
      if ('problem' in plan) throw new UsageError(plan.problem);
      for (const spec of plan.files) await checkWritable(spec);

      const log = createLogger({ json: !io.stderr.isTTY, write: (l) => io.stderr.write(l + '\n') });
      const measurements = opts.measurements === undefined ? undefined : await measurementFile(opts.measurements);
      const deps = { ...(await realDeps(config, log, { writeMetricsLine: (l) => io.stderr.write(l + '\n') })), onProgress: progress(io), ...(measurements ? { onMeasurement: measurements.write } : {}) };
      let report: Report;
      try {
        report = await runJob(config, deps, { only: opts.only, targets: opts.target, dryRun: !opts.fix, force: opts.force, notify: opts.notify, shard, intervalMs: scheduleOf(config, io.env) });
      } catch (err) {
        if (!(err instanceof UnknownTargetsError)) throw err;
        const scope = opts.only ? `the checks ${opts.only.join(', ')}` : 'the enabled checks';
        throw new UsageError(err.unknown.map((name) => `--target: ${scope} have no target "${name}"${suggestion(name, err.known)}; nothing was audited`).join('\n'));
      } finally {
        await measurements?.close();
      }

      // The status page shows the history and the alert state too (read only; a notifying run wrote them first).
      const status = plan.files.some((f) => f.format === 'html') ? await readStatusInputs(deps, Date.parse(report.finishedAt)) : undefined;
      const failedOutputs = await writeOutputs(report, plan.files, status);
      for (const problem of failedOutputs) io.stderr.write(`${problem}\n`);
      if (plan.stdout) io.stdout.write(renderReport(report, plan.stdout, io));
      else io.stdout.write(`${verdictLine(report, { color: colorOn(io) })}\n`);
      onExit(report.summary.failed || failedOutputs.length > 0 ? EXIT.findings : EXIT.ok);
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
SIGHUP reloads the config (validated; a broken file is logged and the running config stays).
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
      // Reports without a vantage are named after their files; a run merged from shards after its partials'.
      const fileOf = new Map(reports.map((r, i) => [r, path.basename(files[i]).replace(/\.json$/i, '')]));
      const runs: Report[] = [...whole];
      const names = whole.map((r) => fileOf.get(r)!);
      for (const partials of shardRuns) {
        try {
          runs.push(await mergeJob(config!, partials, deps, { notify: opts.notify, dryRun: !opts.fix, force: opts.force }));
          names.push(partials.map((r) => fileOf.get(r)).join('+'));
        } catch (err) {
          if (err instanceof ShardMergeError) throw new UsageError(err.message);
          throw err;
        }
      }
      const merged = runs.length === 1 ? runs[0] : mergeReports(runs, names);
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
  dialer-audit audit --config dialer-audit.yaml --output json=report.json --output prom=audit.prom
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
      io.stderr.write(`invalid config:\n${printableProblems(err.problems).map((p) => `  ${p}`).join('\n')}\n`);
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
