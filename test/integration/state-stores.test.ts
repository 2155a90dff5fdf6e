// The alert state stores against real back ends: DynamoDB's API (dynalite, with the real
// @aws-sdk/client-dynamodb) and the file system.
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildReport } from '../../src/audit.ts';
import { parseConfig, type Config } from '../../src/config.ts';
import { stateStoreFor } from '../../src/entry/deps.ts';
import { silentLogger } from '../../src/log.ts';
import { notify, type Notifier } from '../../src/notify.ts';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbStateStore } from '../../src/state/dynamodb-store.ts';
import { FileStateStore } from '../../src/state/file-store.ts';
import { emptyState, type AlertEntry, type AlertState } from '../../src/state/policy.ts';
import { updateState, type StateStore } from '../../src/state/store.ts';
import type { Finding } from '../../src/types.ts';
import { startDynalite, type DynamoLab } from '../lab/dynalite.ts';

const T0 = Date.parse('2026-11-23T12:00:00Z');

function entry(target: string): AlertEntry {
  return {
    check: 'dns-consistency',
    target,
    code: 'DNS_MISMATCH',
    severity: 'critical',
    message: 'stale',
    firstSeen: new Date(T0).toISOString(),
    lastSeen: new Date(T0).toISOString(),
    consecutiveFailures: 1,
    consecutiveSuccesses: 0,
    firing: true,
    told: {},
  };
}

function adding(target: string) {
  return (s: AlertState): AlertState => ({ ...s, entries: { ...s.entries, [target]: entry(target) } });
}

/** Both writers read before either writes: the classic lost update, unless the store refuses it. */
async function conflictingWriters(makeStore: () => StateStore) {
  const a = makeStore();
  const b = makeStore();
  const readA = await a.load();
  const readB = await b.load();
  const [wroteA, wroteB] = [await a.save(adding('a.dialer.example.com')(readA.state), readA.revision), await b.save(adding('b.dialer.example.com')(readB.state), readB.revision)];
  // The loser retries the way every run does: read again, re-apply its own change.
  await updateState(b, adding('b.dialer.example.com'));
  return { wroteA, wroteB, final: await makeStore().load() };
}

const critical: Finding = { check: 'dns-consistency', target: 'acme.dialer.example.com', severity: 'critical', code: 'DNS_MISMATCH', message: 'stale', resolver: 'google' };

function reportOf(config: Config) {
  const findings = [{ ...critical, vantage: config.run.vantage }];
  return buildReport({ runId: 'r', started: T0, finished: T0, config, dryRun: true, findings, fixes: [], summaries: {}, targetCount: 1 });
}

describe('DynamoDB store (dynalite)', () => {
  let lab: DynamoLab;
  beforeAll(async () => {
    lab = await startDynalite();
    await lab.createTable('dialer-audit-state');
  });
  afterAll(() => lab.close());

  it('reads nothing as an empty state, then reads back what it wrote', async () => {
    const store = new DynamoDbStateStore(lab.client(), 'dialer-audit-state', 'roundtrip');
    expect(await store.load()).toEqual({ state: emptyState(), revision: 0 });
    const state = adding('acme.dialer.example.com')(emptyState());
    expect(await store.save(state, 0)).toBe(true);
    expect(await store.load()).toEqual({ state, revision: 1 });
  });

  it('refuses a write based on a stale read (ConditionalCheckFailedException), and two conflicting writers both keep their update', async () => {
    // Act
    const { wroteA, wroteB, final } = await conflictingWriters(() => new DynamoDbStateStore(lab.client(), 'dialer-audit-state', 'conflict'));
    // Assess
    expect([wroteA, wroteB]).toEqual([true, false]);
    expect(Object.keys(final.state.entries).sort()).toEqual(['a.dialer.example.com', 'b.dialer.example.com']);
    expect(final.revision).toBe(2);
  });

  it('keeps every update when many runs write at once', async () => {
    const writers = Array.from({ length: 8 }, (_, i) => updateState(new DynamoDbStateStore(lab.client(), 'dialer-audit-state', 'many'), adding(`d${i}.dialer.example.com`), { attempts: 20 }));
    await Promise.all(writers);
    const final = await new DynamoDbStateStore(lab.client(), 'dialer-audit-state', 'many').load();
    expect(Object.keys(final.state.entries)).toHaveLength(8);
    expect(final.revision).toBe(8);
  });

  it('is what the config builds for Lambda, and two overlapping notifying runs from two regions both land', async () => {
    // Prepare
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'lab');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'lab');
    const config = (vantage: string) => parseConfig({ run: { vantage }, state: { dynamodb: { table: 'dialer-audit-state', key: 'fleet', endpoint: lab.endpoint } } });
    const east = config('us-east-1');
    const west = config('eu-west-1');
    const sent: string[] = [];
    const slack: Notifier = { name: 'slack', send: async (c) => void sent.push(...c.notices.map((n) => `${n.vantage}:${n.kind}`)) };
    // Act
    const results = await Promise.all([
      notify(reportOf(east), east, { log: silentLogger, stateStore: await stateStoreFor(east, silentLogger), notifiers: [slack], now: () => T0 }),
      notify(reportOf(west), west, { log: silentLogger, stateStore: await stateStoreFor(west, silentLogger), notifiers: [slack], now: () => T0 }),
    ]);
    // Assess
    vi.unstubAllEnvs();
    expect(results.map((r) => r.reporterFailures)).toEqual([[], []]);
    expect(sent.sort()).toEqual(['eu-west-1:problem', 'us-east-1:problem']);
    const stored = await new DynamoDbStateStore(lab.client(), 'dialer-audit-state', 'fleet').load();
    expect(Object.values(stored.state.entries).map((e) => [e.vantage, Object.keys(e.told)]).sort()).toEqual([
      ['eu-west-1', ['slack']],
      ['us-east-1', ['slack']],
    ]);
  });

  it('two notifying runs of one vantage at once (a slow Slack): the notice is sent once, and they are one observation', async () => {
    // Prepare
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'lab');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'lab');
    const config = parseConfig({ run: { vantage: 'us-east-1' }, state: { dynamodb: { table: 'dialer-audit-state', key: 'once', endpoint: lab.endpoint } } });
    const sent: string[] = [];
    const slow: Notifier = { name: 'slack', send: async (c) => void (await new Promise((r) => setTimeout(r, 1500)), sent.push(...c.notices.map((n) => n.kind))) };
    const run = async (runId: string) => notify({ ...reportOf(config), runId, finishedAt: new Date(T0 + 2000).toISOString() }, config, { log: silentLogger, stateStore: await stateStoreFor(config, silentLogger), notifiers: [slow], now: () => T0 });
    // Act
    const results = await Promise.all([run('run-a'), run('run-b')]);
    // Assess
    vi.unstubAllEnvs();
    expect(results.map((r) => r.reporterFailures)).toEqual([[], []]);
    expect(sent).toEqual(['problem']);
    const stored = await new DynamoDbStateStore(lab.client(), 'dialer-audit-state', 'once').load();
    expect(Object.values(stored.state.entries).map((e) => [e.consecutiveFailures, Object.keys(e.told)])).toEqual([[1, ['slack']]]);
  });

  it('takes over a lock whose lease ran out (a Lambda that timed out holding it), with a log line', async () => {
    // Prepare: the lock item as a dead holder leaves it.
    const client = lab.client();
    await client.send(
      new PutItemCommand({
        TableName: 'dialer-audit-state',
        Item: { pk: { S: 'expired#lock' }, owner: { S: 'gone' }, run: { S: 'r-dead' }, host: { S: 'lambda-1' }, pid: { N: '8' }, acquiredAt: { S: '2026-11-23T11:58:00.000Z' }, expiresAt: { N: String(Date.now() - 1000) } },
      }),
    );
    const warnings: Record<string, unknown>[] = [];
    const log = { ...silentLogger, warn: (m: string, f?: Record<string, unknown>) => void warnings.push({ msg: m, ...f }) };
    const store = new DynamoDbStateStore(client, 'dialer-audit-state', 'expired');
    // Act
    const lock = await store.lock({ owner: 'r-next', waitMs: 2000, log });
    await lock.release();
    // Assess
    expect(warnings).toEqual([expect.objectContaining({ msg: 'taking over a stale state lock', heldBy: expect.stringContaining('run r-dead (pid 8 on lambda-1'), reason: expect.stringMatching(/^its lease ran out at /) })]);
    await expect(store.lock({ owner: 'r-third', waitMs: 0 }).then((l) => l.release())).resolves.toBeUndefined();
  });

  it('says which table failed when the table does not exist', async () => {
    const store = new DynamoDbStateStore(lab.client(), 'no-such-table', 'x');
    await expect(store.load()).rejects.toThrow('DynamoDB table no-such-table item x: read failed (ResourceNotFoundException');
  });
});

describe('file store', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'dialer-audit-state-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('creates the directory, writes with a revision and reads back', async () => {
    const file = path.join(dir, 'nested', '.dialer-audit', 'state.json');
    const store = new FileStateStore(file);
    const state = adding('acme.dialer.example.com')(emptyState());
    expect(await store.save(state, 0)).toBe(true);
    expect(await store.load()).toEqual({ state, revision: 1 });
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ revision: 1 });
  });

  it('refuses a write based on a stale read, and two conflicting writers both keep their update', async () => {
    const file = path.join(dir, 'conflict.json');
    const { wroteA, wroteB, final } = await conflictingWriters(() => new FileStateStore(file));
    expect([wroteA, wroteB]).toEqual([true, false]);
    expect(Object.keys(final.state.entries).sort()).toEqual(['a.dialer.example.com', 'b.dialer.example.com']);
  });

  it('loses no update and never shows a half-written file while 12 writers race', async () => {
    // Prepare
    const file = path.join(dir, 'race.json');
    let reading = true;
    const seen: string[] = [];
    const reader = (async () => {
      while (reading) {
        const text = await readFile(file, 'utf8').catch(() => undefined);
        if (text !== undefined) seen.push(text);
        await new Promise((r) => setImmediate(r));
      }
    })();
    // Act
    await Promise.all(Array.from({ length: 12 }, (_, i) => updateState(new FileStateStore(file), adding(`d${i}.dialer.example.com`), { attempts: 50 })));
    reading = false;
    await reader;
    // Assess
    const final = await new FileStateStore(file).load();
    expect(Object.keys(final.state.entries)).toHaveLength(12);
    expect(final.revision).toBe(12);
    expect(seen.length).toBeGreaterThan(0);
    for (const text of seen) expect(() => JSON.parse(text)).not.toThrow();
    expect((await readdir(dir)).filter((f) => f.startsWith('race.json.'))).toEqual([]);
  });

  it('takes over a lock left by a crashed run, and ignores its temp file', async () => {
    // Prepare: a crash left a lock and half a temp file behind
    const file = path.join(dir, 'crashed.json');
    const store = new FileStateStore(file);
    await store.save(adding('before.dialer.example.com')(emptyState()), 0);
    await writeFile(`${file}.lock`, '99999');
    const old = new Date(Date.now() - 60_000);
    await utimes(`${file}.lock`, old, old);
    await writeFile(`${file}.99999.deadbeef.tmp`, '{"revision":7,"state":{"sche');
    // Act
    await updateState(store, adding('after.dialer.example.com'));
    // Assess
    expect(Object.keys((await store.load()).state.entries).sort()).toEqual(['after.dialer.example.com', 'before.dialer.example.com']);
  });

  it('moves an unreadable file aside and starts afresh rather than stop alerting', async () => {
    const file = path.join(dir, 'corrupt.json');
    await writeFile(file, '{"revision":3,"state":{"schemaVersion":1,"entries":');
    const warnings: string[] = [];
    const store = new FileStateStore(file, { log: { ...silentLogger, warn: (m) => void warnings.push(m) } });
    expect(await store.load()).toEqual({ state: emptyState(), revision: 0 });
    expect(warnings).toEqual(['alert state unreadable; moved aside and starting afresh']);
    expect((await readdir(dir)).some((f) => f.startsWith('corrupt.json.corrupt-'))).toBe(true);
  });
});
