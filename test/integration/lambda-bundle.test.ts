// The Lambda bundle for real: built with `build:lambda`, loaded by a plain `node` process the way
// the Lambda runtime loads it (import, then handler(event, context) per invocation in one warm
// container), pointed at the DNS lab, with its alert state in the DynamoDB lab (dynalite) as the
// stack's table holds it. The stale-cache incident happens between two invocations. CI runs this on
// the Node line serverless.yml deploys to, and the test checks that it does.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildLambda } from '../../scripts/build-lambda.ts';
import type { LambdaResult } from '../../src/entry/lambda.ts';
import { connectDnsLab } from '../lab/dns-lab.ts';
import { startDynalite, type DynamoLab } from '../lab/dynalite.ts';
import { startRoute53Double, type Route53Double } from '../lab/route53-double.ts';

const info = inject('dnsLab');
const lab = connectDnsLab(info);
const stale = `lambda-bundle-stale.${info.zone}`;

// Reads invocation requests (one JSON event per line) on stdin; answers on fd 3, logs stay on stdout.
const RUNTIME = `
import { createInterface } from 'node:readline';
import { writeSync } from 'node:fs';
const { handler } = await import(process.argv[2]);
writeSync(3, JSON.stringify({ node: process.version }) + '\\n');
let n = 0;
for await (const line of createInterface({ input: process.stdin })) {
  const deadline = Date.now() + 60_000;
  const context = { awsRequestId: 'req-' + ++n, functionName: 'dialer-audit-lab-audit', getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
  try {
    writeSync(3, JSON.stringify({ ok: true, result: await handler(JSON.parse(line), context) }) + '\\n');
  } catch (err) {
    writeSync(3, JSON.stringify({ ok: false, error: String(err && err.message || err) }) + '\\n');
  }
}
`;

const scheduledEvent = (time: string) => ({
  version: '0',
  id: 'cdc73f9d-aea9-11e3-9d5a-835b769c0d9c',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time,
  region: 'lab-west-1',
  resources: ['arn:aws:events:lab-west-1:123456789012:rule/dialer-audit-lab'],
  detail: {},
});

interface Runtime {
  child: ChildProcess;
  logs: Record<string, any>[];
  node: string;
  invoke(event: unknown): Promise<{ ok: boolean; result?: LambdaResult; error?: string }>;
}

/** Builds the bundle for `config` into `dir` and starts a warm "container" for it. */
async function startRuntime(dir: string, config: unknown, env: Record<string, string>): Promise<Runtime> {
  const configFile = path.join(dir, 'dialer-audit.yaml');
  writeFileSync(configFile, JSON.stringify(config));
  const built = await buildLambda({ config: configFile, outdir: path.join(dir, 'lambda') });
  const runtime = path.join(dir, 'runtime.mjs');
  writeFileSync(runtime, RUNTIME);
  const child = spawn(process.execPath, [runtime, built.bundle], {
    cwd: dir,
    // What Lambda sets (the role's credentials included, which the labs do not check), and nothing that could reach AWS.
    env: { PATH: process.env.PATH!, HOME: dir, AWS_REGION: 'lab-west-1', AWS_LAMBDA_FUNCTION_NAME: 'dialer-audit-lab-audit', TZ: 'UTC', AWS_ACCESS_KEY_ID: 'lab', AWS_SECRET_ACCESS_KEY: 'lab', ...env },
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  });
  const logs: Record<string, any>[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line));
    } catch {
      logs.push({ raw: line });
    }
  });
  child.stderr!.on('data', (d: Buffer) => logs.push({ stderr: d.toString() }));
  const answers = createInterface({ input: child.stdio[3] as Readable })[Symbol.asyncIterator]();
  const hello = await answers.next();
  if (hello.done) throw new Error(`the runtime process ended before importing the bundle:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`);
  return {
    child,
    logs,
    node: (JSON.parse(hello.value) as { node: string }).node,
    async invoke(event) {
      child.stdin!.write(JSON.stringify(event) + '\n');
      const next = await answers.next();
      if (next.done) throw new Error(`the runtime process ended early:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`);
      return JSON.parse(next.value);
    },
  };
}

const TABLE = 'dialer-audit-lab-state';
let dir: string;
let dynamo: DynamoLab;
let r53: Route53Double;
let rt: Runtime;
let logs: Record<string, any>[];

beforeAll(async () => {
  // Prepare: the incident's 24-hour TTL on our own dialer name, fresh in every resolver's cache.
  await lab.setRecords(stale, 'A', 86400, ['127.62.0.1']);
  for (const r of info.resolvers) await lab.flush(r.name, stale);

  dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-lambda-bundle-'));
  dynamo = await startDynalite();
  await dynamo.createTable(TABLE);
  rt = await startRuntime(
    dir,
    {
      resolvers: info.resolvers,
      authoritative: info.authoritative,
      targets: { dialers: [stale, `acme.${info.zone}`] },
      checks: { 'dns-consistency': { recordTypes: ['A'] }, 'ttl-policy': { maxTtl: 300, maxNegativeTtl: 900, recordTypes: ['A'] } },
      dns: { timeout: '800ms', retries: 1 },
      // The stack's table is named by DIALER_AUDIT_STATE_TABLE (below); the endpoint is the lab's.
      state: { dynamodb: { table: 'replaced-by-the-environment', endpoint: dynamo.endpoint } },
    },
    { DIALER_AUDIT_STATE_TABLE: TABLE },
  );
  logs = rt.logs;
}, 120_000);

afterAll(async () => {
  if (rt && rt.child.exitCode === null) rt.child.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
  await dynamo?.close();
  await r53?.close();
});

describe('the Lambda bundle, in a plain node process, against the lab', () => {
  it('runs on the Node line serverless.yml deploys to', () => {
    const runtime = /runtime:\s*nodejs(\d+)\.x/.exec(readFileSync('serverless.yml', 'utf8'))?.[1];
    expect(runtime).toBeDefined();
    expect(rt.node.startsWith(`v${runtime}.`), `bundle ran on ${rt.node}, Lambda runs nodejs${runtime}.x`).toBe(true);
  });

  it('two scheduled invocations in one warm container: the second one sees the stale cache at pub1', async () => {
    // Act 1: every resolver caches the 24-hour answer.
    const first = await rt.invoke(scheduledEvent('2026-05-01T10:00:00Z'));
    // The address moves; pub2 and pub3 fetch afresh, pub1 keeps its day-long copy.
    await lab.setRecords(stale, 'A', 86400, ['127.62.0.2']);
    await lab.flush('pub2', stale);
    await lab.flush('pub3', stale);
    // Act 2
    const second = await rt.invoke(scheduledEvent('2026-05-01T10:05:00Z'));

    // Assess: what the handler returned.
    expect(first.ok, first.error).toBe(true);
    expect(second.ok, second.error).toBe(true);
    const a = first.result!;
    const b = second.result!;
    expect(a.vantage).toBe('lab-west-1');
    expect(a.dryRun).toBe(true);
    expect(a.budgetMs).toBeGreaterThan(0);
    expect(a.budgetMs).toBeLessThanOrEqual(50_000); // the 60 s left, minus the safety margin
    expect(a.summary).toMatchObject({ critical: 0, failed: true, targets: expect.any(Number) });
    expect(b.summary.critical).toBe(1);
    expect(b.runId).not.toBe(a.runId);
    expect([a.requestId, b.requestId]).toEqual(['req-1', 'req-2']);

    // Assess: the structured log, one line per finding, with the run id and the vantage.
    const findingsOf = (runId: string) => logs.filter((l) => l.msg === 'finding' && l.runId === runId).map((l) => `${l.code} ${l.target}${l.resolver ? ` @${l.resolver}` : ''}`);
    expect(findingsOf(a.runId)).toEqual([`TTL_ABOVE_POLICY ${stale} @knot`]);
    expect(findingsOf(b.runId).sort()).toEqual([`DNS_MISMATCH ${stale} @pub1`, `TTL_ABOVE_POLICY ${stale} @knot`]);
    for (const l of logs.filter((l) => l.msg === 'finding')) expect(l.vantage).toBe('lab-west-1');
    const summaries = logs.filter((l) => l.msg === 'run finished');
    expect(summaries.map((l) => l.runId)).toEqual([a.runId, b.runId]);
    expect(summaries[1]).toMatchObject({ critical: 1, requestId: 'req-2' });

    // Assess: the alert state was written by both runs to the table (notify is always on in Lambda).
    const item = (await dynamo.client().send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'dialer-audit' } }, ConsistentRead: true }))).Item;
    expect(item?.version?.N).toBe('2');
    expect(gunzipSync(item!.state!.B!).toString()).toContain('DNS_MISMATCH');
  });

  it('a manual {"report":"full"} invoke returns the whole JSON report; the process then ends cleanly', async () => {
    const full = await rt.invoke({ report: 'full' });
    expect(full.ok, full.error).toBe(true);
    expect((full.result as unknown as { schemaVersion: number; findings: { vantage?: string }[] }).schemaVersion).toBe(2);
    expect((full.result as unknown as { findings: { vantage?: string }[] }).findings.every((f) => f.vantage === 'lab-west-1')).toBe(true);
    // Stdin closed: the process ends by itself, nothing left running.
    rt.child.stdin!.end();
    const code = await new Promise<number | null>((resolve) => (rt.child.exitCode !== null ? resolve(rt.child.exitCode) : rt.child.once('exit', resolve)));
    expect(code).toBe(0);
    expect(logs.filter((l) => l.stderr)).toEqual([]);
  });

  it('reads a Route 53 zone through the bundled SDK (its ESM build: named exports of a lazy import)', async () => {
    // Prepare: one record over policy in a zone of the Route 53 double; a bundle configured for it.
    r53 = await startRoute53Double();
    r53.addZone({ name: 'lambda-r53.test', recordSets: [{ Name: 'policy.lambda-r53.test.', Type: 'TXT', TTL: 86400, ResourceRecords: [{ Value: '"v=1"' }] }] });
    const zoneDir = mkdtempSync(path.join(dir, 'r53-'));
    const zoneRt = await startRuntime(
      zoneDir,
      {
        resolvers: info.resolvers,
        aws: { endpoint: r53.endpoint },
        targets: { zones: [{ zone: 'lambda-r53.test' }] },
        checks: { 'ttl-policy': { maxTtl: 300, maxNegativeTtl: 86400 } },
        state: { dynamodb: { table: TABLE, key: 'r53-case', endpoint: dynamo.endpoint } },
      },
      {},
    );
    // Act
    const run = await zoneRt.invoke({ report: 'full' });
    zoneRt.child.stdin!.end();
    // Assess: the zone was read and judged, and nothing else was printed (no SDK warning on this Node).
    expect(run.ok, run.error).toBe(true);
    const report = run.result as unknown as { findings: { code: string; target: string }[] };
    expect(report.findings.map((f) => `${f.code} ${f.target}`)).toEqual(['TTL_ABOVE_POLICY policy.lambda-r53.test']);
    expect(r53.calls.ListResourceRecordSets).toBeGreaterThan(0);
    await new Promise((resolve) => (zoneRt.child.exitCode !== null ? resolve(null) : zoneRt.child.once('exit', resolve)));
    expect(zoneRt.logs.filter((l) => l.stderr)).toEqual([]);
  });
});
