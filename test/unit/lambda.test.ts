// The Lambda entry without AWS: the handler's contract (budget, fix mode, logs, result, errors),
// the config it builds from file + environment + Parameter Store, and the per-container caches.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { GetParametersCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../../src/audit.ts';
import { ConfigError, parseConfig, type Config } from '../../src/config.ts';
import { applyEnvOverrides, collectSsmRefs, loadEntryConfig } from '../../src/entry/config-source.ts';
import { configPath, createHandler, lambdaBudgetMs, type LambdaResult } from '../../src/entry/lambda.ts';
import type { JobDeps, JobOptions } from '../../src/job.ts';
import type { DnsClient } from '../../src/net/dns.ts';
import { SsmParameters, type ParameterSource } from '../../src/net/ssm.ts';
import type { Finding, Report } from '../../src/types.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-lambda-'));
function file(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

const baseYaml = `resolvers:\n  - { name: pub1, address: 127.0.0.1 }\ntargets:\n  dialers: [acme.dialer.test]\nchecks:\n  dns-consistency: {}\n`;

const stale: Finding = { check: 'dns-consistency', target: 'acme.dialer.test', severity: 'critical', code: 'DNS_MISMATCH', message: 'pub1 hands out 127.0.0.9', resolver: 'pub1' };

function fakeReport(config: Config, dryRun: boolean, runId: string, findings: Finding[]): Report {
  return buildReport({
    runId,
    started: 0,
    finished: 1000,
    config,
    dryRun,
    findings: findings.map((f) => ({ ...f, vantage: config.run.vantage })),
    fixes: [],
    summaries: {},
    targetCount: 1,
  });
}

function harness(opts: { yaml?: string; env?: NodeJS.ProcessEnv; fail?: Error } = {}) {
  const lines: Record<string, unknown>[] = [];
  const calls: { opts: JobOptions; deps: JobDeps }[] = [];
  let loads = 0;
  let builds = 0;
  const env: NodeJS.ProcessEnv = { AWS_REGION: 'eu-west-1', ...opts.env };
  const configFile = file(`config-${Math.random().toString(36).slice(2)}.yaml`, opts.yaml ?? baseYaml);
  const handler = createHandler({
    env,
    write: (line) => lines.push(JSON.parse(line)),
    loadConfig: async (e) => {
      loads++;
      return loadEntryConfig(configFile, { env: e, lambda: true });
    },
    buildDeps: (_config, log) => {
      builds++;
      return { dns: {} as DnsClient, log };
    },
    runJob: async (config, deps, jobOpts) => {
      calls.push({ opts: jobOpts ?? {}, deps });
      if (opts.fail) throw opts.fail;
      deps.log.info('inside the run');
      return fakeReport(config, jobOpts?.dryRun ?? true, deps.runId!, [stale]);
    },
  });
  const context = (remainingMs: number, awsRequestId = 'req-1') => ({ awsRequestId, getRemainingTimeInMillis: () => remainingMs });
  return { handler, lines, calls, context, loads: () => loads, builds: () => builds };
}

const scheduled = { 'detail-type': 'Scheduled Event' as const, source: 'aws.events', time: '2026-05-01T10:00:00Z' };

describe('Lambda handler', () => {
  it('runs the job with notify, a budget from the remaining time, and returns the summary', async () => {
    // Prepare
    const h = harness();
    // Act
    const result = (await h.handler(scheduled, h.context(120_000))) as LambdaResult;
    // Assess: remaining 120 s − the default 10 s margin, under run.budget (240 s).
    expect(h.calls[0].opts).toMatchObject({ notify: true, dryRun: true, budgetMs: 110_000, force: false });
    expect(result.summary).toMatchObject({ critical: 1, findings: 1, failed: true });
    expect(result.vantage).toBe('eu-west-1');
    expect(result.requestId).toBe('req-1');
    expect(result.runId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
  });

  it('logs one JSON line per finding and a summary, all with the run id', async () => {
    const h = harness();
    const result = (await h.handler(scheduled, h.context(60_000))) as LambdaResult;
    const messages = h.lines.map((l) => l.msg);
    expect(messages).toEqual(['run started', 'inside the run', 'finding', 'run finished']);
    expect(h.lines.every((l) => l.runId === result.runId && l.requestId === 'req-1')).toBe(true);
    expect(h.lines[2]).toMatchObject({ level: 'warn', code: 'DNS_MISMATCH', target: 'acme.dialer.test', resolver: 'pub1', vantage: 'eu-west-1' });
    expect(h.lines[3]).toMatchObject({ critical: 1, findings: 1, failed: true, dryRun: true });
  });

  it('applies fixes only when the config says fix.mode: apply — the environment cannot force it', async () => {
    const plan = harness({ env: { DIALER_AUDIT_FIX: 'apply', DIALER_AUDIT_FIX_MODE: 'apply' } });
    await plan.handler({ ...scheduled, detail: { fix: true } } as never, plan.context(60_000));
    expect(plan.calls[0].opts.dryRun).toBe(true);

    const apply = harness({ yaml: baseYaml + 'fix: { mode: apply }\n' });
    await apply.handler(scheduled, apply.context(60_000));
    expect(apply.calls[0].opts).toMatchObject({ dryRun: false, force: false });
  });

  it('loads the config and builds clients once per container; a new run id per invocation', async () => {
    const h = harness();
    const first = (await h.handler(scheduled, h.context(60_000, 'a'))) as LambdaResult;
    const second = (await h.handler(scheduled, h.context(60_000, 'b'))) as LambdaResult;
    expect(h.loads()).toBe(1);
    expect(h.builds()).toBe(1);
    expect(first.runId).not.toBe(second.runId);
  });

  it('throws on an internal failure (so Lambda counts an error), with one "run failed" line', async () => {
    const h = harness({ fail: new Error('state table unreachable') });
    await expect(h.handler(scheduled, h.context(60_000))).rejects.toThrow('state table unreachable');
    expect(h.lines.at(-1)).toMatchObject({ level: 'error', msg: 'run failed', error: 'state table unreachable' });
  });

  it('throws on a bad config, and tries loading again on the next invocation', async () => {
    const h = harness({ yaml: baseYaml + 'resolverz: []\n' });
    await expect(h.handler(scheduled, h.context(60_000))).rejects.toThrow(ConfigError);
    await expect(h.handler(scheduled, h.context(60_000))).rejects.toThrow('resolverz: unknown key');
    expect(h.loads()).toBe(2);
    expect(h.calls).toHaveLength(0);
  });

  it('returns the whole JSON report for {"report":"full"} (for dialer-audit merge)', async () => {
    const h = harness();
    const report = (await h.handler({ report: 'full' }, h.context(60_000))) as Report;
    expect(report.schemaVersion).toBe(2);
    expect(report.findings[0]).toMatchObject({ code: 'DNS_MISMATCH', vantage: 'eu-west-1' });
  });
});

describe('the run budget', () => {
  it.each([
    [120_000, 10_000, 240_000, 110_000],
    [900_000, 10_000, 240_000, 240_000], // run.budget caps a long timeout
    [12_000, 10_000, 240_000, 6_000], // never less than half of what is left
    [0, 10_000, 240_000, 0],
  ])('remaining %i ms, margin %i, run.budget %i → %i', (remaining, margin, budget, expected) => {
    expect(lambdaBudgetMs(remaining, margin, budget)).toBe(expected);
  });

  it('DIALER_AUDIT_SAFETY_MARGIN changes the margin', async () => {
    const h = harness({ env: { DIALER_AUDIT_SAFETY_MARGIN: '30s' } });
    await h.handler(scheduled, h.context(100_000));
    expect(h.calls[0].opts.budgetMs).toBe(70_000);
  });
});

describe('config from file + environment + Parameter Store', () => {
  it('the config file sits next to the bundle unless DIALER_AUDIT_CONFIG says otherwise', () => {
    expect(configPath({}, '/var/task/dist/lambda')).toBe('/var/task/dist/lambda/dialer-audit.yaml');
    expect(configPath({ DIALER_AUDIT_CONFIG: 'prod.yaml' }, '/var/task/dist/lambda')).toBe('/var/task/dist/lambda/prod.yaml');
    expect(configPath({ DIALER_AUDIT_CONFIG: '/opt/c.yaml' }, '/var/task')).toBe('/opt/c.yaml');
  });

  it('the documented overrides: vantage, state table, region (Lambda only)', () => {
    // Prepare
    const fromFile = { run: { budget: '60s' }, state: { file: '/tmp/state.json', dynamodb: { table: 'old', key: 'prod' } } };
    // Act
    const lambda = applyEnvOverrides(fromFile, { AWS_REGION: 'ap-southeast-1', DIALER_AUDIT_STATE_TABLE: 'dialer-audit-prod-StateTable' }, { lambda: true });
    const daemon = applyEnvOverrides(fromFile, { AWS_REGION: 'ap-southeast-1', DIALER_AUDIT_VANTAGE: 'office-berlin' });
    // Assess
    expect(lambda.run).toEqual({ budget: '60s', vantage: 'ap-southeast-1' });
    expect(lambda.state).toEqual({ dynamodb: { table: 'dialer-audit-prod-StateTable', key: 'prod' } });
    expect(lambda.aws).toEqual({ region: 'ap-southeast-1' });
    expect(daemon.run).toEqual({ budget: '60s', vantage: 'office-berlin' });
    expect(daemon.aws).toBeUndefined();
    expect(fromFile.state.file).toBe('/tmp/state.json'); // the parsed file is not mutated
  });

  it('a vantage written in the file wins over the region, DIALER_AUDIT_VANTAGE over both', () => {
    expect(applyEnvOverrides({ run: { vantage: 'pop-fra' } }, { AWS_REGION: 'eu-central-1' }, { lambda: true }).run).toEqual({ vantage: 'pop-fra' });
    expect(applyEnvOverrides({ run: { vantage: 'pop-fra' } }, { AWS_REGION: 'eu-central-1', DIALER_AUDIT_VANTAGE: 'x' }, { lambda: true }).run).toEqual({ vantage: 'x' });
  });

  it('finds every ssm: reference', () => {
    const raw = { reporters: { slack: { webhookUrl: 'ssm:/dialer-audit/prod/slack' }, email: { smtp: { user: 'env:SMTP_USER', pass: 'ssm:/dialer-audit/prod/smtp' } } }, stun: { servers: [{ credential: 'ssm:/dialer-audit/prod/turn' }] } };
    expect([...collectSsmRefs(raw)].sort()).toEqual(['/dialer-audit/prod/slack', '/dialer-audit/prod/smtp', '/dialer-audit/prod/turn']);
  });

  const withSecrets = `${baseYaml}reporters:\n  slack: { webhookUrl: "ssm:/dialer-audit/prod/slack-webhook" }\n  email:\n    smtp: { host: smtp.example.com, user: env:DIALER_AUDIT_TEST_SMTP_USER, pass: "ssm:/dialer-audit/prod/smtp-pass" }\n    from: a@example.com\n    to: [b@example.com]\n`;

  it('resolves ssm: secrets through the parameter source, keeps env: working, and never shows a value', async () => {
    // Prepare
    const asked: string[][] = [];
    const source: ParameterSource = {
      get: async (names) => {
        asked.push(names);
        return new Map([
          ['/dialer-audit/prod/slack-webhook', 'https://hooks.example/T0/B0/very-secret-hook'],
          ['/dialer-audit/prod/smtp-pass', 'very-secret-pass'],
        ]);
      },
    };
    // Act
    const config = await loadEntryConfig(file('secrets.yaml', withSecrets), { env: { DIALER_AUDIT_TEST_SMTP_USER: 'mailer' }, parameters: () => source });
    // Assess
    expect(asked).toEqual([['/dialer-audit/prod/slack-webhook', '/dialer-audit/prod/smtp-pass']]);
    expect(config.reporters?.slack?.webhookUrl?.reveal()).toBe('https://hooks.example/T0/B0/very-secret-hook');
    expect(config.reporters?.email?.smtp.pass?.reveal()).toBe('very-secret-pass');
    expect(config.reporters?.email?.smtp.user?.reveal()).toBe('mailer');
    expect(JSON.stringify(config)).not.toContain('very-secret');
  });

  it('a parameter SSM does not have is a config error naming the key', async () => {
    const source: ParameterSource = { get: async () => new Map([['/dialer-audit/prod/slack-webhook', 'x']]) };
    await expect(loadEntryConfig(file('missing.yaml', withSecrets), { env: { DIALER_AUDIT_TEST_SMTP_USER: 'mailer' }, parameters: () => source })).rejects.toThrow(
      'reporters.email.smtp.pass: SSM parameter /dialer-audit/prod/smtp-pass was not found',
    );
  });

  it('without a parameter source (the CLI), an ssm: secret is a config error that says where it works', () => {
    expect(() => parseConfig({ ...parseable(), reporters: { slack: { webhookUrl: 'ssm:/x/y' } } })).toThrow(/reporters\.slack\.webhookUrl: ssm:\/x\/y: Parameter Store secrets are read by the Lambda entry and the daemon only/);
  });
});

function parseable() {
  return { resolvers: [{ name: 'pub1', address: '127.0.0.1' }], targets: { dialers: ['acme.dialer.test'] }, checks: { 'dns-consistency': {} } };
}

describe('SsmParameters (per-container cache)', () => {
  function fakeSsm(values: Record<string, string>) {
    const requests: string[][] = [];
    const client = {
      send: async (command: GetParametersCommand) => {
        const names = command.input.Names ?? [];
        requests.push(names);
        expect(command.input.WithDecryption).toBe(true);
        return { Parameters: names.filter((n) => n in values).map((n) => ({ Name: n, Value: values[n] })), InvalidParameters: names.filter((n) => !(n in values)) };
      },
    };
    return { client: client as never, requests };
  }

  it('asks in batches of ten, then serves from the cache until it is too old', async () => {
    // Prepare
    const names = Array.from({ length: 12 }, (_, i) => `/p/${i}`);
    const ssm = fakeSsm(Object.fromEntries(names.map((n) => [n, `v${n}`])));
    let now = 0;
    const params = new SsmParameters(ssm.client, { maxAgeMs: 60_000, now: () => now });
    // Act
    const first = await params.get(names);
    now = 30_000;
    await params.get(names);
    now = 61_000;
    await params.get(['/p/0']);
    // Assess
    expect(first.get('/p/11')).toBe('v/p/11');
    expect(ssm.requests.map((r) => r.length)).toEqual([10, 2, 1]);
  });

  it('leaves out what SSM does not know', async () => {
    const ssm = fakeSsm({ '/a': '1' });
    const values = await new SsmParameters(ssm.client).get(['/a', '/missing']);
    expect([...values.keys()]).toEqual(['/a']);
  });
});
