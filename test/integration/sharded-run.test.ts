// A sharded run as AWS runs it, here: the state machine of serverless.yml (played by the
// Step Functions stand-in, test/lab/step-functions.ts) calls the real Lambda handler for plan, 4
// shards and the merge; the handler's real clients ask the DNS lab, keep the alert state, the
// partial reports and the run lock in DynamoDB (dynalite) and tell a Slack stand-in. A fleet split
// in 4 is told once; a shard that fails is a finding and holds the alert state.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig, type Config } from '../../src/config.ts';
import { createHandler, type LambdaEvent, type LambdaResult } from '../../src/entry/lambda.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import { silentLogger } from '../../src/log.ts';
import { startDynalite, type DynamoLab } from '../lab/dynalite.ts';
import { startSlackStandIn, type SlackStandIn } from '../lab/slack-stand-in.ts';
import { runMachine, StatesError } from '../lab/step-functions.ts';

const info = inject('dnsLab');
const stateMachine = createRequire(import.meta.url)('../../deploy/state-machine.cjs') as { definition(o: { shardConcurrency: number; timeoutSeconds: number }): Parameters<typeof runMachine>[0] };
const TABLE = 'dialer-audit-sharded';
const WEBHOOK = `/services/T0LAB/B0SHARD/${randomBytes(8).toString('hex')}`;
/** The lab's dialers, and names the zone does not hold (each a DNS_NXDOMAIN of its own). */
const present = ['acme', 'beta', 'gamma'].map((n) => `${n}.${info.zone}`);
const missing = Array.from({ length: 13 }, (_, i) => `sharded-missing-${i}.${info.zone}`);

let dynamo: DynamoLab;
let slack: SlackStandIn;
let config: Config;
const logs: Record<string, unknown>[] = [];
const steps: string[] = [];

/** The handler of one warm container; `fail` makes a shard fail the way a timed-out Lambda does. */
function container(fail?: (event: LambdaEvent) => StatesError | undefined) {
  const handler = createHandler({
    env: { DIALER_AUDIT_SHARD_CONCURRENCY: '2' },
    write: (line) => logs.push(JSON.parse(line)),
    loadConfig: async () => config,
  });
  let n = 0;
  return (definition = stateMachine.definition({ shardConcurrency: 2, timeoutSeconds: 3600 })) =>
    runMachine(definition, {}, {
      execution: { StartTime: new Date().toISOString() },
      invoke: async (_fn, payload) => {
        const event = payload as LambdaEvent;
        steps.push(event.action === 'shard' ? `shard ${event.index}/${event.count}` : String(event.action));
        const failure = fail?.(event);
        if (failure) throw failure;
        const deadline = Date.now() + 60_000;
        return handler(event, { awsRequestId: `req-${++n}`, getRemainingTimeInMillis: () => deadline - Date.now() });
      },
    }) as Promise<{ summary: LambdaResult }>;
}

const slackTitles = () => slack.requests.filter((r) => r.status === 200).map((r) => (r.payload!.blocks[0] as { text: { text: string } }).text.text);

beforeAll(async () => {
  dynamo = await startDynalite();
  await dynamo.createTable(TABLE);
  slack = await startSlackStandIn();
  // The real SDK looks for credentials; dynalite does not check them.
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'lab');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'lab');
  vi.stubEnv('DIALER_AUDIT_LAB_SHARD_WEBHOOK', slack.webhook(WEBHOOK));
  config = parseConfig({
    resolvers: [...info.resolvers, { name: 'dead', address: info.deadAddress, concurrency: 50 }],
    authoritative: info.authoritative,
    targets: { dialers: [...present, ...missing] },
    checks: { 'dns-consistency': { recordTypes: ['A'] } },
    dns: { timeout: '300ms', retries: 0 },
    run: { shards: 4, budget: '40s' },
    alerting: { failureThreshold: 1 },
    state: { dynamodb: { table: TABLE, endpoint: dynamo.endpoint } },
    aws: { region: 'us-east-1' },
    reporters: { slack: { webhookUrl: 'env:DIALER_AUDIT_LAB_SHARD_WEBHOOK' } },
  });
}, 60_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await slack?.close();
  await dynamo?.close();
});

describe('a run in 4 shards on Step Functions (stand-in), through the real handler', () => {
  it('plan → 4 shards → one merge: the findings of one run, told to Slack once; the next run tells nothing new', async () => {
    // Prepare: the same fleet in one unsharded run, for comparison.
    const one = await runAudit(config, { dns: dnsClientFromConfig(config), log: silentLogger });
    const run = container();
    // Act
    const first = await run();
    const second = await run();
    // Assess: the steps, two shards at a time.
    expect(steps.splice(0)).toEqual(['plan', 'shard 1/4', 'shard 2/4', 'shard 3/4', 'shard 4/4', 'merge', 'plan', 'shard 1/4', 'shard 2/4', 'shard 3/4', 'shard 4/4', 'merge']);
    const merged = logs.filter((l) => l.msg === 'finding' && l.runId === first.summary.runId).map((l) => `${l.code} ${l.target}${l.resolver ? ` @${l.resolver}` : ''}`);
    expect(merged.sort()).toEqual(one.findings.map((f) => `${f.code} ${f.target}${f.resolver ? ` @${f.resolver}` : ''}`).sort());
    // The dead resolver is one finding over every shard's dialers, as in one run.
    expect(merged).toContain(`DNS_TIMEOUT dead (${info.deadAddress}) @dead`);
    expect(first.summary.summary).toMatchObject({ targets: 16, critical: 13, warning: 1, failed: true });
    // Notices once for the whole fleet, not once per shard; nothing new the second time.
    expect(slackTitles()).toEqual(['dialer-audit: 14 new']);
    expect(second.summary.summary.critical).toBe(13);
    // Each shard's partial report waits in the state table, and expires by itself.
    const items = (await dynamo.client().send(new ScanCommand({ TableName: TABLE }))).Items ?? [];
    const partials = items.filter((i) => i.pk.S!.startsWith('dialer-audit#partial#'));
    expect(partials).toHaveLength(8);
    for (const p of partials) expect(Number(p.expiresAt.N)).toBeGreaterThan(Date.now() / 1000);
  }, 120_000);

  it('a shard that fails is SHARD_FAILED in the merged report, and the problems it might hide stay firing', async () => {
    // Prepare: shard 3's Lambda times out (mocked at the invoke: a real Lambda timeout cannot happen in-process).
    const run = container((e) => (e.action === 'shard' && e.index === 3 ? new StatesError('Sandbox.Timedout', JSON.stringify({ errorMessage: 'Task timed out after 900.00 seconds' })) : undefined));
    const toldBefore = slack.requests.length;
    steps.splice(0);
    // Act
    const out = await run();
    // Assess
    const lost = logs.filter((l) => l.msg === 'finding' && l.runId === out.summary.runId && l.code === 'SHARD_FAILED');
    expect(lost).toEqual([expect.objectContaining({ severity: 'critical', target: 'shard 3/4' })]);
    expect(lost[0].message).toMatch(/^shard 3 of 4 failed: Sandbox\.Timedout: Task timed out after 900\.00 seconds; its slice of the fleet \(about \d+ targets\) was not audited this run$/);
    expect(out.summary.summary.failed).toBe(true);
    // Told once: the lost shard is new; what shard 3 holds is unseen, so nothing is resolved.
    expect(slack.requests.length - toldBefore).toBe(1);
    expect(slackTitles().at(-1)).toMatch(/^dialer-audit: 1 new, \d+ more still failing$/);
    expect(slack.requests.at(-1)!.body).not.toMatch(/resolved/i);
  }, 120_000);

  it('a tick that finds the previous run still going audits nothing', async () => {
    // Prepare: a run planned but not merged holds the run lock.
    const run = container();
    const handler = createHandler({ env: {}, write: () => {}, loadConfig: async () => config });
    const held = (await handler({ action: 'plan' }, { awsRequestId: 'req-held', getRemainingTimeInMillis: () => 60_000 })) as { runId: string };
    steps.splice(0);
    // Act
    const out = (await run()) as unknown as { skip?: boolean };
    // Assess
    expect(out.skip).toBe(true);
    expect(steps.splice(0)).toEqual(['plan']);
    // The held run merges (here with nothing to merge) and lets the next one start.
    await handler({ action: 'merge', runId: held.runId, results: [] }, { awsRequestId: 'req-merge', getRemainingTimeInMillis: () => 60_000 });
    expect((await run()).summary.runId).toBeDefined();
  }, 120_000);
});
