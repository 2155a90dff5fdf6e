// `serverless package` (osls, offline) on the real serverless.yml and the real bundle, then the
// generated CloudFormation read as AWS would: schedule, state machine (validated as Amazon States
// Language with asl-validator), runtime, environment, and least privilege.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLambda } from '../../scripts/build-lambda.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const aslValidator = createRequire(import.meta.url)('asl-validator') as (definition: unknown) => { isValid: boolean; errorsText(separator?: string): string };
const osls = path.join(root, 'node_modules/osls/bin/serverless.js');
const run = promisify(execFile);

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}
interface Template {
  Resources: Record<string, { Type: string; Condition?: string; Properties: Record<string, any> }>;
}

const ZONES = ['Z0123456789ABCDEFGHIJ', 'Z9876543210ZYXWVUTSRQ'];
let work: string;
let bundleDir: string;

/** A fresh bundle of our own (the shared dist/ is left alone). */
beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'dialer-audit-sls-'));
  const config = path.join(work, 'config.yaml');
  writeFileSync(config, 'resolvers:\n  - { name: lab, address: 127.0.0.1 }\ntargets:\n  dialers: [acme.dialer.test]\nchecks:\n  dns-consistency: {}\nfix: { mode: apply }\n');
  bundleDir = path.join(work, 'bundle');
  await buildLambda({ config, outdir: bundleDir });
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Each package run gets its own service dir (osls writes into it): serverless.yml, its helper, the bundle. */
async function slsPackage(name: string, params: string[]): Promise<{ template: Template; zip: string }> {
  const service = path.join(work, name);
  mkdirSync(path.join(service, 'deploy'), { recursive: true });
  copyFileSync(path.join(root, 'serverless.yml'), path.join(service, 'serverless.yml'));
  for (const helper of ['route53-change-policy.cjs', 'state-machine.cjs', 'status-page-policy.cjs']) copyFileSync(path.join(root, 'deploy', helper), path.join(service, 'deploy', helper));
  cpSync(bundleDir, path.join(service, 'dist/lambda'), { recursive: true });
  const out = path.join(service, 'out');
  try {
    await run(process.execPath, [osls, 'package', '--package', out, '--stage', 'ci', '--region', 'eu-west-1', ...params.map((p) => `--param=${p}`)], {
      cwd: service,
      timeout: 120_000,
      env: {
        PATH: process.env.PATH,
        HOME: service,
        SLS_TELEMETRY_DISABLED: '1',
        // Packaging makes no AWS call; fake credentials keep the SDK from looking any further.
        AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      },
    });
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`osls package failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
  return {
    template: JSON.parse(readFileSync(path.join(out, 'cloudformation-template-update-stack.json'), 'utf8')) as Template,
    zip: path.join(out, 'dialer-audit.zip'),
  };
}

function statements(t: Template): Statement[] {
  return Object.values(t.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Role' || r.Type === 'AWS::IAM::Policy')
    .flatMap((r) => [...(r.Properties.Policies ?? []).map((p: any) => p.PolicyDocument), r.Properties.PolicyDocument].filter(Boolean))
    .flatMap((doc: { Statement: Statement[] }) => doc.Statement);
}

const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resources = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

describe('serverless package (osls, offline)', () => {
  let withZones: { template: Template; zip: string };
  let withoutZones: { template: Template; zip: string };

  beforeAll(async () => {
    [withZones, withoutZones] = await Promise.all([
      slsPackage('zones', [`route53ZoneIds=${ZONES.join(',')}`, 'schedule=rate(10 minutes)', 'alarmEmail=voice-oncall@example.com', 'shardConcurrency=3', 'statusBucket=ops-status', 'statusPrefix=dialers/']),
      slsPackage('nozones', []),
    ]);
  }, 240_000);

  it('one function on the newest Node runtime, from the ESM bundle; the configured schedule starts the state machine', () => {
    const t = withZones.template;
    const fn = t.Resources.AuditLambdaFunction.Properties;
    expect(fn.Runtime).toMatch(/^nodejs(2[2-9]|[3-9]\d)\.x$/);
    expect(fn.Handler).toBe('dist/lambda/index.handler');
    // As many at once as the Map runs shards (shardConcurrency: 3 here, 1 by default).
    expect(fn.ReservedConcurrentExecutions).toBe(3);
    expect(withoutZones.template.Resources.AuditLambdaFunction.Properties.ReservedConcurrentExecutions).toBe(1);
    expect(fn.Timeout).toBe(900); // a shard may take Lambda's limit; the run's budget is run.budget
    const rules = Object.values(t.Resources).filter((r) => r.Type === 'AWS::Events::Rule');
    expect(rules.map((r) => r.Properties.ScheduleExpression)).toEqual(['rate(10 minutes)']);
    expect(rules[0].Properties.Targets).toEqual([{ Id: 'dialer-audit-run', Arn: { Ref: 'AuditStateMachine' }, RoleArn: { 'Fn::GetAtt': ['AuditScheduleRole', 'Arn'] }, Input: '{}' }]);
    expect(Object.values(withoutZones.template.Resources).find((r) => r.Type === 'AWS::Events::Rule')?.Properties.ScheduleExpression).toBe('rate(5 minutes)');
    expect(Object.values(t.Resources).filter((r) => r.Type === 'AWS::Lambda::Permission')).toEqual([]);
  });

  it('the state machine is valid ASL: plan → shards (a Map, at most shardConcurrency at once, a failed shard caught) → merge', () => {
    // Prepare: the definition as CloudFormation will make it, the function's ARN filled in.
    const arn = 'arn:aws:lambda:eu-west-1:123456789012:function:dialer-audit-ci-audit';
    const machine = withZones.template.Resources.AuditStateMachine.Properties;
    const parts = machine.DefinitionString['Fn::Join'][1] as unknown[];
    const definition = JSON.parse(parts.map((p) => (typeof p === 'string' ? p : (expect(p).toEqual({ 'Fn::GetAtt': ['AuditLambdaFunction', 'Arn'] }), arn))).join(''));
    // Act
    const { isValid, errorsText } = aslValidator(definition);
    // Assess
    expect(isValid, errorsText('\n')).toBe(true);
    expect(machine.StateMachineType).toBe('STANDARD');
    expect(definition.TimeoutSeconds).toBe(10800);
    const states = definition.States;
    expect([definition.StartAt, states.Plan.Next, states.PreviousRunStillGoing.Default, states.Shards.Next]).toEqual(['Plan', 'PreviousRunStillGoing', 'Shards', 'Merge']);
    expect(states.Shards).toMatchObject({ Type: 'Map', ItemsPath: '$.shards', MaxConcurrency: 3, ResultPath: '$.results' });
    const shard = states.Shards.ItemProcessor.States.Shard;
    expect(shard.Parameters).toEqual({ FunctionName: arn, Payload: { action: 'shard', 'runId.$': '$.runId', 'index.$': '$.index', 'count.$': '$.count' } });
    expect(shard.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'ShardFailed' }]);
    expect(states.Merge.Parameters.Payload).toEqual({ action: 'merge', 'runId.$': '$.runId', 'results.$': '$.results' });
    // Only keys and counts pass between states: the partial reports wait in the state table.
    expect(shard.ResultSelector).toEqual({ 'index.$': '$.Payload.index', 'count.$': '$.Payload.count', 'key.$': '$.Payload.key' });
  });

  it('the state machine may invoke the audit function only; the schedule may start the state machine only', () => {
    const t = withZones.template;
    const policy = (role: string) => t.Resources[role].Properties.Policies[0].PolicyDocument.Statement;
    expect(policy('AuditStateMachineRole')).toEqual([
      { Sid: 'InvokeAuditFunction', Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: [{ 'Fn::GetAtt': ['AuditLambdaFunction', 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['AuditLambdaFunction', 'Arn'] }, ':*']] }] },
    ]);
    expect(t.Resources.AuditStateMachineRole.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'states.amazonaws.com' });
    expect(policy('AuditScheduleRole')).toEqual([{ Sid: 'StartAuditRun', Effect: 'Allow', Action: ['states:StartExecution'], Resource: [{ Ref: 'AuditStateMachine' }] }]);
    expect(t.Resources.AuditScheduleRole.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'events.amazonaws.com' });
  });

  it('partial reports expire in the state table; Node runs with a bounded young generation', () => {
    const t = withZones.template;
    expect(t.Resources.StateTable.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    const vars = t.Resources.AuditLambdaFunction.Properties.Environment.Variables;
    expect(vars).toMatchObject({ NODE_OPTIONS: '--max-semi-space-size=8', DIALER_AUDIT_SCHEDULE: 'rate(10 minutes)', DIALER_AUDIT_SHARD_CONCURRENCY: '3' });
  });

  it('the environment points at the bundled config and the stack’s own state table', () => {
    const vars = withZones.template.Resources.AuditLambdaFunction.Properties.Environment.Variables;
    expect(vars.DIALER_AUDIT_CONFIG).toBe('./dialer-audit.yaml');
    expect(vars.DIALER_AUDIT_STATE_TABLE).toEqual({ Ref: 'StateTable' });
    expect(vars.DIALER_AUDIT_SAFETY_MARGIN).toBe('15s');
    expect(vars).toHaveProperty('DIALER_AUDIT_VANTAGE');
    const table = withZones.template.Resources.StateTable;
    expect(table.Type).toBe('AWS::DynamoDB::Table');
    expect(table.Properties.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
  });

  it('ChangeResourceRecordSets only on the configured zones, never on "*"', () => {
    const change = statements(withZones.template).filter((s) => actions(s).some((a) => a === 'route53:ChangeResourceRecordSets' || a === 'route53:*' || a === '*'));
    expect(change).toHaveLength(1);
    expect(change[0].Effect).toBe('Allow');
    expect(resources(change[0]).sort()).toEqual(ZONES.map((z) => `arn:aws:route53:::hostedzone/${z}`).sort());
  });

  it('without zone ids there is no right to change records at all', () => {
    const all = statements(withoutZones.template);
    expect(all.flatMap(actions)).not.toContain('route53:ChangeResourceRecordSets');
    expect(withoutZones.template.Resources.Route53ChangePolicy).toBeUndefined();
  });

  it('the status page: s3:PutObject on its one object only; without statusBucket no S3 right at all', () => {
    const put = statements(withZones.template).filter((s) => actions(s).some((a) => a.startsWith('s3:')));
    expect(put).toHaveLength(1);
    expect(actions(put[0])).toEqual(['s3:PutObject']);
    expect(resources(put[0])).toEqual(['arn:aws:s3:::ops-status/dialers/index.html']);
    expect(statements(withoutZones.template).flatMap(actions).filter((a) => a.startsWith('s3:'))).toEqual([]);
  });

  it('the other rights are the documented ones, each on its own resource', () => {
    const all = statements(withZones.template);
    const byAction = (a: string) => all.filter((s) => actions(s).includes(a));
    // Route 53 listing has no resource-level permission: "*" is allowed for exactly these.
    const star = all.filter((s) => resources(s).includes('*'));
    expect(star.flatMap(actions).sort()).toEqual(['route53:ListHostedZones', 'route53:ListHostedZonesByName']);
    expect(resources(byAction('route53:ListResourceRecordSets')[0])).toEqual(['arn:aws:route53:::hostedzone/*']);
    expect(resources(byAction('route53:GetChange')[0])).toEqual(['arn:aws:route53:::change/*']);
    expect(resources(byAction('dynamodb:PutItem')[0])).toEqual([{ 'Fn::GetAtt': ['StateTable', 'Arn'] }]);
    expect(actions(byAction('dynamodb:PutItem')[0]).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
    expect(JSON.stringify(byAction('ssm:GetParameters')[0].Resource)).toContain(':parameter/dialer-audit/ci/*');
    expect(all.flatMap(actions).filter((a) => a.endsWith(':*') || a === '*')).toEqual([]);
  });

  it('an alarm and a failure destination when a run fails', () => {
    const t = withZones.template;
    const alarms = Object.values(t.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    expect(alarms.map((a) => a.Properties.MetricName).sort()).toEqual(['Errors', 'ExecutionsFailed', 'ExecutionsTimedOut', 'Invocations']);
    for (const a of alarms) expect(a.Properties.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
    const invokeConfig = Object.values(t.Resources).find((r) => r.Type === 'AWS::Lambda::EventInvokeConfig')!.Properties;
    expect(invokeConfig.DestinationConfig.OnFailure.Destination).toEqual({ Ref: 'AlarmTopic' });
    expect(invokeConfig.MaximumRetryAttempts).toBe(0);
    expect(t.Resources.AlarmEmailSubscription.Properties.Endpoint).toBe('voice-oncall@example.com');
  });

  it('the artifact holds the bundle and its config, nothing else', async () => {
    const { stdout } = await run('unzip', ['-Z1', withZones.zip]);
    const files = stdout.trim().split('\n');
    expect(files).toContain('dist/lambda/index.mjs');
    expect(files).toContain('dist/lambda/dialer-audit.yaml');
    expect(files.filter((f) => !f.startsWith('dist/lambda/'))).toEqual([]);
  });
});
