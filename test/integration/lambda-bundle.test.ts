// The Lambda bundle for real: built with `build:lambda`, loaded by a plain `node` process the way
// the Lambda runtime loads it (import, then handler(event, context) per invocation in one warm
// container), pointed at the DNS lab. The stale-cache incident happens between two invocations.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildLambda } from '../../scripts/build-lambda.ts';
import type { LambdaResult } from '../../src/entry/lambda.ts';
import { connectDnsLab } from '../lab/dns-lab.ts';

const info = inject('dnsLab');
const lab = connectDnsLab(info);
const stale = `lambda-bundle-stale.${info.zone}`;

// Reads invocation requests (one JSON event per line) on stdin; answers on fd 3, logs stay on stdout.
const RUNTIME = `
import { createInterface } from 'node:readline';
import { writeSync } from 'node:fs';
const { handler } = await import(process.argv[2]);
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

let dir: string;
let child: ChildProcess;
let logs: Record<string, any>[] = [];
let answers: AsyncIterator<string>;
let stateFile: string;

async function invoke(event: unknown): Promise<{ ok: boolean; result?: LambdaResult; error?: string }> {
  child.stdin!.write(JSON.stringify(event) + '\n');
  const next = await answers.next();
  if (next.done) throw new Error(`the runtime process ended early:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`);
  return JSON.parse(next.value);
}

beforeAll(async () => {
  // Prepare: the incident's 24-hour TTL on our own dialer name, fresh in every resolver's cache.
  await lab.setRecords(stale, 'A', 86400, ['127.62.0.1']);
  for (const r of info.resolvers) await lab.flush(r.name, stale);

  dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-lambda-bundle-'));
  stateFile = path.join(dir, 'state', 'state.json');
  const config = path.join(dir, 'dialer-audit.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      resolvers: info.resolvers,
      authoritative: info.authoritative,
      targets: { dialers: [stale, `acme.${info.zone}`] },
      checks: { 'dns-consistency': { recordTypes: ['A'] }, 'ttl-policy': { maxTtl: 300, maxNegativeTtl: 900, recordTypes: ['A'] } },
      dns: { timeout: '800ms', retries: 1 },
      // No AWS here: alert state in a file instead of the stack's DynamoDB table.
      state: { file: stateFile },
    }),
  );
  const built = await buildLambda({ config, outdir: path.join(dir, 'lambda') });
  const runtime = path.join(dir, 'runtime.mjs');
  writeFileSync(runtime, RUNTIME);

  child = spawn(process.execPath, [runtime, built.bundle], {
    cwd: dir,
    // What Lambda sets, and nothing that could reach AWS.
    env: { PATH: process.env.PATH, HOME: dir, AWS_REGION: 'lab-west-1', AWS_LAMBDA_FUNCTION_NAME: 'dialer-audit-lab-audit', TZ: 'UTC' },
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line));
    } catch {
      logs.push({ raw: line });
    }
  });
  child.stderr!.on('data', (d: Buffer) => logs.push({ stderr: d.toString() }));
  answers = createInterface({ input: child.stdio[3] as Readable })[Symbol.asyncIterator]();
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the Lambda bundle, in a plain node process, against the lab', () => {
  it('two scheduled invocations in one warm container: the second one sees the stale cache at pub1', async () => {
    // Act 1: every resolver caches the 24-hour answer.
    const first = await invoke(scheduledEvent('2026-05-01T10:00:00Z'));
    // The address moves; pub2 and pub3 fetch afresh, pub1 keeps its day-long copy.
    await lab.setRecords(stale, 'A', 86400, ['127.62.0.2']);
    await lab.flush('pub2', stale);
    await lab.flush('pub3', stale);
    // Act 2
    const second = await invoke(scheduledEvent('2026-05-01T10:05:00Z'));

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

    // Assess: the alert state was written by both runs (notify is always on in Lambda).
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    expect(state.revision).toBe(2);
    expect(JSON.stringify(state)).toContain('DNS_MISMATCH');
  });

  it('a manual {"report":"full"} invoke returns the whole JSON report; the process then ends cleanly', async () => {
    const full = await invoke({ report: 'full' });
    expect(full.ok, full.error).toBe(true);
    expect((full.result as unknown as { schemaVersion: number; findings: { vantage?: string }[] }).schemaVersion).toBe(1);
    expect((full.result as unknown as { findings: { vantage?: string }[] }).findings.every((f) => f.vantage === 'lab-west-1')).toBe(true);
    // Stdin closed: the process ends by itself, nothing left running.
    child.stdin!.end();
    const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
    expect(code).toBe(0);
    expect(logs.filter((l) => l.stderr)).toEqual([]);
  });
});
