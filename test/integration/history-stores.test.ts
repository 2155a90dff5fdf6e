// The run history against real back ends: day files on disk, DynamoDB's API (dynalite with the
// real @aws-sdk/client-dynamodb), and the status page put into S3 (s3rver, an S3-compatible
// server on Node, with the real @aws-sdk/client-s3) — through notify, as every notifying run does.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { realDeps } from '../../src/entry/deps.ts';
import { historyRecord, type HistoryRecord } from '../../src/history/record.ts';
import { silentLogger } from '../../src/log.ts';
import { notify } from '../../src/notify.ts';
import { DynamoDbHistoryStore } from '../../src/state/dynamodb-history.ts';
import { DynamoDbStateStore } from '../../src/state/dynamodb-store.ts';
import { FileHistoryStore } from '../../src/state/history-store.ts';
import { FileStateStore } from '../../src/state/file-store.ts';
import { readStatusInputs } from '../../src/state/status-inputs.ts';
import { FLEET_END, fleetReport } from '../fixtures/status-fleet.ts';
import { startDynalite, type DynamoLab } from '../lab/dynalite.ts';
import { S3_LAB_CREDENTIALS, startS3, type S3Lab } from '../lab/s3.ts';

const DAY = 86_400_000;
const RETENTION = 14 * DAY;

const record = (runId: string, finishedAt: number): HistoryRecord => historyRecord(fleetReport({ dialers: 50, stale: 1, runId, finishedAt }));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'dialer-audit-history-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('file history', () => {
  it('keeps one gzip day file per UTC day, reads a window back in order, and removes days past the retention', async () => {
    // Prepare: runs 20 days ago, yesterday and today.
    const history = path.join(dir, 'files', 'history');
    const store = (now: number) => new FileHistoryStore(history, RETENTION, { now: () => now });
    // Act
    await store(FLEET_END - 20 * DAY).append(record('old', FLEET_END - 20 * DAY));
    await store(FLEET_END).append(record('yesterday', FLEET_END - DAY));
    await store(FLEET_END).append(record('today-1', FLEET_END - 60_000));
    await store(FLEET_END).append(record('today-2', FLEET_END));
    const read = await store(FLEET_END).read(FLEET_END - 7 * DAY, FLEET_END);
    // Assess
    expect((await readdir(history)).sort()).toEqual(['2026-11-22.json.gz', '2026-11-23.json.gz']);
    expect(read.problems).toEqual([]);
    expect(read.records.map((r) => r.runId)).toEqual(['yesterday', 'today-1', 'today-2']);
    expect(read.records[2]).toEqual(record('today-2', FLEET_END));
    const day = JSON.parse(gunzipSync(await readFile(path.join(history, '2026-11-23.json.gz'))).toString('utf8'));
    expect(day.findings).toHaveLength(4);
    expect(day.runs.map((r: { k: number[] }) => r.k)).toEqual([[0, 1, 2, 3], [0, 1, 2, 3]]);
  });

  it('a broken day is a problem in words when read, and is moved aside and started afresh on the next append', async () => {
    // Prepare
    const history = path.join(dir, 'broken', 'history');
    const store = new FileHistoryStore(history, RETENTION, { now: () => FLEET_END });
    await store.append(record('a', FLEET_END - DAY));
    await writeFile(path.join(history, '2026-11-23.json.gz'), 'not gzip');
    // Act
    const read = await store.read(FLEET_END - 7 * DAY, FLEET_END);
    await store.append(record('b', FLEET_END));
    // Assess
    expect(read.records.map((r) => r.runId)).toEqual(['a']);
    expect(read.problems).toEqual(['2026-11-23: 2026-11-23.json.gz is not gzip']);
    expect((await readdir(history)).sort()).toEqual(['2026-11-22.json.gz', '2026-11-23.json.gz', expect.stringMatching(/^2026-11-23\.json\.gz\.corrupt-\d+$/)]);
    expect((await store.read(FLEET_END - DAY, FLEET_END)).records.map((r) => r.runId)).toEqual(['a', 'b']);
  });

  it('every notifying run appends its record under the state lock; a history that cannot be written fails the run like a reporter, and never loses the state', async () => {
    // Prepare
    const config = parseConfig({ run: { vantage: 'eu-central-1' }, state: { file: path.join(dir, 'notify', 'state.json') } });
    const stateStore = new FileStateStore(config.state!.file!);
    const history = new FileHistoryStore(path.join(dir, 'notify', 'history'), RETENTION);
    const blocked = new FileHistoryStore(path.join(dir, 'notify', 'state.json', 'history'), RETENTION);
    const report = fleetReport({ dialers: 50, stale: 1, runId: 'notified' });
    // Act
    const ok = await notify(report, config, { log: silentLogger, stateStore, history, now: () => FLEET_END });
    const failed = await notify({ ...report, runId: 'second' }, config, { log: silentLogger, stateStore, history: blocked, now: () => FLEET_END + 60_000 });
    // Assess
    expect(ok.reporterFailures).toEqual([]);
    expect((await history.read(FLEET_END - DAY, FLEET_END)).records.map((r) => r.runId)).toEqual(['notified']);
    expect(failed.reporterFailures).toEqual([{ reporter: 'history', error: expect.stringContaining('cannot create the directory (ENOTDIR)') }]);
    expect(failed.notify?.state).toBe('saved');
    expect(failed.summary.failed).toBe(true);
  });

  it('a history that cannot be read degrades the page to a note, never the run', async () => {
    const unreadable = { description: 'broken', append: async () => 'kept' as const, read: async () => Promise.reject(new Error('disk on fire')) };
    const inputs = await readStatusInputs({ history: unreadable }, FLEET_END);
    expect(inputs).toEqual({ history: [], notes: ['The history could not be read (disk on fire): uptime and trends show this run alone.'] });
  });
});

describe('DynamoDB history (dynalite)', () => {
  let lab: DynamoLab;
  beforeAll(async () => {
    lab = await startDynalite();
    await lab.createTable('dialer-audit-state');
  });
  afterAll(() => lab.close());

  it('keeps one item per day beside the state item, with its expiry, and reads a window back', async () => {
    // Prepare
    const store = new DynamoDbHistoryStore(lab.client(), 'dialer-audit-state', 'fleet', RETENTION);
    // Act
    await store.append(record('yesterday', FLEET_END - DAY));
    await store.append(record('today', FLEET_END));
    const read = await store.read(FLEET_END - 7 * DAY, FLEET_END);
    // Assess
    expect(read).toEqual({ records: [record('yesterday', FLEET_END - DAY), record('today', FLEET_END)], problems: [] });
    const item = (await lab.client().send(new GetItemCommand({ TableName: 'dialer-audit-state', Key: { pk: { S: 'fleet#history#2026-11-23' } } }))).Item!;
    expect(item.expiresAt.N).toBe(String((Date.parse('2026-11-24T00:00:00Z') + RETENTION) / 1000));
    expect(item.version.N).toBe('1');
    // The alert state's own item is not touched: it stays small under DynamoDB's 400 KB.
    expect((await new DynamoDbStateStore(lab.client(), 'dialer-audit-state', 'fleet').load()).revision).toBe(0);
  });

  it('runs appending to one day at once all land (version condition, retried)', async () => {
    const stores = Array.from({ length: 6 }, () => new DynamoDbHistoryStore(lab.client(), 'dialer-audit-state', 'busy', RETENTION));
    await Promise.all(stores.map((s, i) => s.append(record(`r${i}`, FLEET_END - i * 1000))));
    const read = await stores[0].read(FLEET_END - DAY, FLEET_END);
    expect(read.records.map((r) => r.runId).sort()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
  });

  it('a broken day item is a problem when read and is started afresh when appended to', async () => {
    // Prepare
    const client = lab.client();
    await client.send(new PutItemCommand({ TableName: 'dialer-audit-state', Item: { pk: { S: 'broken#history#2026-11-23' }, version: { N: '4' }, day: { B: Buffer.from('nope') } } }));
    const store = new DynamoDbHistoryStore(client, 'dialer-audit-state', 'broken', RETENTION);
    // Act
    const before = await store.read(FLEET_END - DAY, FLEET_END);
    await store.append(record('fresh', FLEET_END));
    // Assess
    expect(before).toEqual({ records: [], problems: ['2026-11-23: the stored day is not gzip'] });
    expect((await store.read(FLEET_END - DAY, FLEET_END)).records.map((r) => r.runId)).toEqual(['fresh']);
  });
});

describe('reporters.html in S3 (s3rver)', () => {
  let s3: S3Lab;
  let endpoint: string;
  let dynamo: DynamoLab;
  beforeAll(async () => {
    s3 = await startS3(['ops-status']);
    endpoint = s3.endpoint;
    dynamo = await startDynalite();
    await dynamo.createTable('dialer-audit-state');
    // The SDK signs every request; neither s3rver nor dynalite checks the signature.
    vi.stubEnv('AWS_ACCESS_KEY_ID', S3_LAB_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', S3_LAB_CREDENTIALS.secretAccessKey);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await s3?.close();
    await dynamo?.close();
  });

  const lambdaConfig = (bucket: string) =>
    parseConfig({
      run: { vantage: 'eu-central-1' },
      state: { dynamodb: { table: 'dialer-audit-state', key: 's3-fleet', endpoint: dynamo.endpoint } },
      reporters: { html: { s3: { bucket, prefix: 'dialers/status/', endpoint } } },
    });

  it('every notifying run puts the page, with the history read back from DynamoDB, as text/html under the prefix', async () => {
    // Prepare: two runs, as Lambda makes them.
    const config = lambdaConfig('ops-status');
    const deps = await realDeps(config, silentLogger);
    // Act
    await notify(fleetReport({ dialers: 50, stale: 1, runId: 'first', finishedAt: FLEET_END - 300_000 }), config, { ...deps, now: () => FLEET_END - 300_000 });
    const second = await notify(fleetReport({ dialers: 50, stale: 1, runId: 'second' }), config, { ...deps, now: () => FLEET_END });
    const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true });
    const object = await client.send(new GetObjectCommand({ Bucket: 'ops-status', Key: 'dialers/status/index.html' }));
    const html = await object.Body!.transformToString();
    client.destroy();
    // Assess
    expect(second.reporterFailures).toEqual([]);
    expect(object.ContentType).toBe('text/html; charset=utf-8');
    expect(object.CacheControl).toBe('no-cache');
    expect(html).toContain('Run second finished 2026-11-23 15:00 UTC');
    expect(html).toContain('2 runs in the last 7 days');
    expect(html).toMatch(/<tr data-name="d00001.dialer.example.com" class="row-stale">/);
  });

  it('a bucket that cannot be written is the run\'s reporter failure, naming the object; the state is still saved', async () => {
    const config = lambdaConfig('no-such-bucket');
    const deps = await realDeps(config, silentLogger);
    const result = await notify(fleetReport({ dialers: 50, stale: 1, runId: 'third' }), config, { ...deps, now: () => FLEET_END });
    expect(result.reporterFailures).toEqual([{ reporter: 'html', error: expect.stringMatching(/^s3:\/\/no-such-bucket\/dialers\/status\/index.html: not written \(NoSuchBucket/) }]);
    expect(result.notify?.state).toBe('saved');
  });
});
