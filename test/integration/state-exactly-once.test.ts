// Issue 12, "State" and "Daemon" rows: one notifying run at a time per state file, each notice
// sent once. Real processes (the CLI and the daemon as users start them), the real file system
// (a full tmpfs for ENOSPC, so this file needs root — CI runs as root), the Slack stand-in
// answering slowly, and a resolver that never answers (127.70.N.1), so every audit takes 1.5 s
// and runs started together overlap.
import { createSocket, type Socket } from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { startCli } from '../lab/cli-process.ts';
import { startSlackStandIn, type SlackStandIn } from '../lab/slack-stand-in.ts';

const info = inject('dnsLab');
const net = `127.70.${1 + ((process.pid * 13 + Date.now()) % 250)}`;
const env = { LAB_SLACK_WEBHOOK: '', HOME: '' };

let dir: string;
let slack: SlackStandIn;
let blackhole: Socket;
const mounts: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-exactly-once-'));
  env.HOME = dir;
  slack = await startSlackStandIn();
  env.LAB_SLACK_WEBHOOK = slack.webhook('/services/T0LAB/B0LAB/exactly-once');
  // The CLI reads env: secrets from its own environment: for the runs in this process too.
  process.env.LAB_SLACK_WEBHOOK = env.LAB_SLACK_WEBHOOK;
  blackhole = createSocket('udp4');
  blackhole.on('message', () => {});
  await new Promise<void>((resolve) => blackhole.bind(0, `${net}.1`, resolve));
});

afterAll(async () => {
  delete process.env.LAB_SLACK_WEBHOOK;
  for (const m of mounts) execFileSync('umount', ['-l', m]);
  blackhole?.close();
  await slack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function configFile(name: string, over: Record<string, unknown> = {}): { file: string; state: string } {
  const state = path.join(dir, name, 'state', 'state.json');
  const file = path.join(dir, `${name}.json`);
  mkdirSync(path.dirname(state), { recursive: true });
  writeFileSync(
    file,
    JSON.stringify({
      resolvers: [{ name: 'blackhole', address: `${net}.1:${blackhole.address().port}` }],
      authoritative: info.authoritative,
      targets: { dialers: [`acme.${info.zone}`] },
      checks: { 'dns-consistency': { recordTypes: ['A'] } },
      dns: { timeout: '1500ms', retries: 0 },
      alerting: { failureThreshold: 1, criticalFailureThreshold: 1, successThreshold: 2 },
      state: { file: state },
      reporters: { slack: { webhookUrl: 'env:LAB_SLACK_WEBHOOK' } },
      ...over,
    }),
  );
  return { file, state };
}

/** Slack messages announcing a new problem, answered or not. */
const newPosts = () => slack.requests.filter((r) => r.payload?.blocks?.[0] && JSON.stringify(r.payload.blocks[0]).includes('1 new')).length;

function entryOf(stateFile: string) {
  const stored = JSON.parse(readFileSync(stateFile, 'utf8'));
  return { revision: stored.revision as number, entries: Object.values(stored.state.entries) as { consecutiveFailures: number; told: Record<string, unknown> }[] };
}

const cli = (args: string[]) => runCli(args, env);

/** Two CLI runs started within a millisecond of each other. */
async function twoAtOnce(file: string) {
  const runs = [0, 1].map(() => startCli(['audit', '--config', file, '--notify', '--format', 'json'], env));
  await Promise.all(runs.map((r) => r.ready));
  for (const r of runs) r.go();
  const codes = await Promise.all(runs.map((r) => r.exited));
  return { codes, logs: runs.flatMap((r) => r.logs) };
}

describe('two `audit --notify` at once on one state file (Slack answering in 3 s)', () => {
  it('"1 new" is posted once, and the two runs count as one observation', async () => {
    // Prepare
    const { file, state } = configFile('two-cli');
    slack.requests.length = 0;
    slack.delayMs = 3000;
    // Act
    const { codes, logs } = await twoAtOnce(file);
    slack.delayMs = 0;
    // Assess
    expect(codes).toEqual([1, 1]);
    expect(newPosts()).toBe(1);
    expect(entryOf(state).entries.map((e) => [e.consecutiveFailures, Object.keys(e.told)])).toEqual([[1, ['slack']]]);
    expect(logs.filter((l) => l.msg === 'this run overlaps a run already counted; its findings are not counted again')).toHaveLength(1);
    expect(logs.filter((l) => l.msg === 'state lock taken after waiting')).toHaveLength(1);
    expect(existsSync(`${state}.lock`)).toBe(false);
  });

  it('with failureThreshold 2, two overlapping failing runs are not "two in a row": nothing is told until a later run fails too', async () => {
    // Prepare
    const { file, state } = configFile('threshold', { alerting: { failureThreshold: 2, criticalFailureThreshold: 2 } });
    slack.requests.length = 0;
    // Act
    await twoAtOnce(file);
    const afterPair = { posts: newPosts(), failures: entryOf(state).entries[0].consecutiveFailures };
    await cli(['audit', '--config', file, '--notify']);
    // Assess
    expect(afterPair).toEqual({ posts: 0, failures: 1 });
    expect(newPosts()).toBe(1);
    expect(entryOf(state).entries[0].consecutiveFailures).toBe(2);
  });
});

describe('faults while holding the lock', () => {
  it('disk full while taking the lock: nothing is sent, no lock file is left behind, and the next run sends and saves at once', async () => {
    // Prepare: the state directory on a 64 KB tmpfs, filled up.
    if (process.getuid?.() !== 0) throw new Error('this test mounts a tmpfs: it needs root (CI runs as root)');
    const full = path.join(dir, 'full');
    mkdirSync(full);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]);
    mounts.push(full);
    const { file } = configFile('enospc', { state: { file: path.join(full, 'state.json') } });
    const filler = path.join(full, 'filler');
    expect(() => writeFileSync(filler, Buffer.alloc(1024 * 1024))).toThrow(/ENOSPC/);
    slack.requests.length = 0;
    // Act 1: the disk is full.
    const first = await cli(['audit', '--config', file, '--notify', '--format', 'json']);
    const leftBehind = readdirSync(full).filter((f) => f !== 'filler');
    // Act 2: space again.
    rmSync(filler);
    const second = await cli(['audit', '--config', file, '--notify', '--format', 'json']);
    // Assess
    expect(first.code).toBe(1);
    expect(first.err).toMatch(/cannot take the lock .*state\.json\.lock \(ENOSPC\); no notices were sent this run/);
    expect(leftBehind).toEqual([]);
    expect(second.code).toBe(1);
    expect(second.err).not.toMatch(/cannot|waiting|stale/);
    expect(newPosts()).toBe(1);
    expect(entryOf(path.join(full, 'state.json'))).toMatchObject({ revision: 1, entries: [{ told: { slack: expect.anything() } }] });
    // The state and the run history beside it (history/); no lock, no temp file.
    expect(readdirSync(full).sort()).toEqual(['history', 'state.json']);
  });

  it('SIGKILL while holding the lock (mid-send): the lock names the dead process, the next run takes it over at once with a log line, saves, and nothing is sent twice after that', async () => {
    // Prepare
    const { file, state } = configFile('sigkill');
    slack.requests.length = 0;
    slack.delayMs = 5000;
    const victim = startCli(['audit', '--config', file, '--notify'], env);
    await victim.ready;
    victim.go();
    while (slack.requests.length === 0) await new Promise((r) => setTimeout(r, 20));
    // Act: SIGKILL while its Slack post is in flight (it holds the lock), then two more runs.
    victim.child.kill('SIGKILL');
    await victim.exited;
    const lock = JSON.parse(readFileSync(`${state}.lock`, 'utf8'));
    slack.delayMs = 0;
    const next = await cli(['audit', '--config', file, '--notify']);
    const after = await cli(['audit', '--config', file, '--notify']);
    // Assess: at least once — the post the killed run had in flight is repeated once, never again.
    expect(lock).toMatchObject({ pid: victim.child.pid, owner: expect.stringMatching(/^\d{8}T\d{6}Z-/) });
    expect(next.err).toMatch(new RegExp(`taking over a stale state lock.*its process \\(pid ${victim.child.pid}\\) is gone`));
    expect([next.code, after.code]).toEqual([1, 1]);
    expect(newPosts()).toBe(2);
    expect(entryOf(state)).toMatchObject({ revision: 2, entries: [{ told: { slack: expect.anything() } }] });
    expect(existsSync(`${state}.lock`)).toBe(false);
  });
});

describe('two daemons on one state file', () => {
  it('tick together and post "1 new" once', async () => {
    // Prepare
    const { file, state } = configFile('daemons', { daemon: { schedule: '* * * * * *', grace: '3s' } });
    slack.requests.length = 0;
    slack.delayMs = 1000;
    const daemons = [0, 1].map(() => startCli(['daemon', '--config', file], env));
    await Promise.all(daemons.map((d) => d.ready));
    for (const d of daemons) d.go();
    // Act: each daemon finishes two runs (started together, their first ticks fall in the same second).
    await Promise.all(daemons.map((d) => d.until(() => d.logs.filter((l) => l.msg === 'run finished').length >= 2)));
    for (const d of daemons) d.child.kill('SIGTERM');
    const codes = await Promise.all(daemons.map((d) => d.exited));
    slack.delayMs = 0;
    // Assess
    expect(codes).toEqual([0, 0]);
    expect(newPosts()).toBe(1);
    expect(entryOf(state).entries).toHaveLength(1);
    expect(daemons.flatMap((d) => d.logs).filter((l) => l.level === 'error')).toEqual([]);
  });
});
