// `dialer-audit daemon` as ops run it: a child process on a one-second schedule against the lab,
// with one resolver that never answers so each run outlasts a tick. Runs never overlap (the
// ticks that find a run going are skipped and logged); SIGTERM in the middle of a run stops it
// within the grace period, the alert state saved, exit 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCli } from '../lab/cli-process.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const info = inject('dnsLab');

let dir: string;
let blackhole: Socket;
let child: ChildProcess | undefined;
const logs: Record<string, any>[] = [];
const waiters: { test: () => boolean; resolve: () => void }[] = [];

function onLine(line: string): void {
  try {
    logs.push(JSON.parse(line));
  } catch {
    logs.push({ raw: line });
  }
  for (const w of [...waiters]) {
    if (w.test()) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  }
}

/** Resolves when the log satisfies `test`; the test's own timeout bounds the wait. */
function until(test: () => boolean): Promise<void> {
  if (test()) return Promise.resolve();
  return new Promise((resolve) => waiters.push({ test, resolve }));
}

const count = (msg: string) => logs.filter((l) => l.msg === msg).length;

beforeAll(async () => {
  // A resolver that swallows every query: each run waits the full DNS timeout for it.
  blackhole = createSocket('udp4');
  blackhole.on('message', () => {});
  await new Promise<void>((resolve) => blackhole.bind(0, '127.0.0.1', resolve));
  dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-daemon-'));
});

afterAll(async () => {
  if (child && child.exitCode === null && child.pid) child.kill('SIGKILL');
  blackhole?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('dialer-audit daemon', () => {
  it('three ticks without overlap, a skipped tick logged, then SIGTERM mid-run: state saved, exit 0', async () => {
    // Prepare
    const stateFile = path.join(dir, 'state.json');
    const config = path.join(dir, 'daemon.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        resolvers: [...info.resolvers, { name: 'blackhole', address: `127.0.0.1:${blackhole.address().port}` }],
        authoritative: info.authoritative,
        targets: { dialers: [`acme.${info.zone}`] },
        checks: { 'dns-consistency': { recordTypes: ['A'] } },
        dns: { timeout: '2500ms', retries: 0 },
        state: { file: stateFile },
        daemon: { schedule: '* * * * * *', grace: '1s', healthz: { port: 0 } },
      }),
    );
    child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', "const { main } = await import('./src/entry/cli.ts'); process.exitCode = await main(process.argv.slice(1));", 'daemon', '--config', config],
      { cwd: root, env: { PATH: process.env.PATH, HOME: dir, TZ: 'UTC' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    createInterface({ input: child.stderr! }).on('line', onLine);
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

    // Act 1: three runs finish; meanwhile ticks come every second.
    await until(() => count('run finished') >= 3 && count('tick skipped: the previous run is still going') >= 1);
    const healthz = logs.find((l) => l.msg === 'daemon started')!.healthz as string;
    const health = await fetch(healthz);
    const healthBody = (await health.json()) as Record<string, any>;

    // Act 2: SIGTERM in the middle of the fourth run.
    await until(() => count('run started') >= 4);
    const fourth = logs.filter((l) => l.msg === 'run started')[3].runId;
    child.kill('SIGTERM');
    const code = await exited;

    // Assess: one run at a time — every run finished before the next one started.
    const sequence = logs.filter((l) => l.msg === 'run started' || l.msg === 'run finished').map((l) => `${l.msg === 'run started' ? '+' : '-'}${l.runId}`);
    for (let i = 0; i < sequence.length; i += 2) {
      expect(sequence[i]).toMatch(/^\+/);
      expect(sequence[i + 1]).toBe(`-${sequence[i].slice(1)}`);
    }
    expect(count('run started')).toBe(4);
    const skipped = logs.filter((l) => l.msg === 'tick skipped: the previous run is still going');
    expect(skipped.length).toBeGreaterThanOrEqual(1);
    expect(skipped[0].runId).toMatch(/^\d{8}T\d{6}Z-/); // names the run that was still going
    // Each run reports the dead resolver: what the lab sees is in the log.
    expect(logs.filter((l) => l.msg === 'finding' && l.code === 'DNS_TIMEOUT' && l.resolver === 'blackhole').length).toBeGreaterThanOrEqual(3);

    // Assess: /healthz while it ran.
    expect(health.status).toBe(200);
    expect(healthBody).toMatchObject({ status: 'ok', schedule: '* * * * * *', lastRun: { result: 'findings', failed: true } });
    expect(healthBody.runs).toBeGreaterThanOrEqual(3);

    // Assess: the stop — aborted within the grace period, that run's report and state kept, exit 0.
    expect(code).toBe(0);
    expect(logs.find((l) => l.msg === 'stopping: aborting the current run')).toMatchObject({ signal: 'SIGTERM', runId: fourth });
    expect(logs.find((l) => l.msg === 'run finished' && l.runId === fourth)).toMatchObject({ aborted: true });
    expect(logs.at(-1)).toMatchObject({ msg: 'stopped', signal: 'SIGTERM', runs: 4, exitCode: 0 });
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    expect(state.revision).toBe(4);
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('SIGHUP mid-run: the run finishes and is saved, the edited config is used from the next run; SIGQUIT then stops it the same way', async () => {
    // Prepare
    const stateFile = path.join(dir, 'hup-state.json');
    const config = path.join(dir, 'hup.yaml');
    const write = (dialers: string[]) =>
      writeFileSync(
        config,
        JSON.stringify({
          resolvers: [...info.resolvers, { name: 'blackhole', address: `127.0.0.1:${blackhole.address().port}` }],
          authoritative: info.authoritative,
          targets: { dialers },
          checks: { 'dns-consistency': { recordTypes: ['A'] } },
          dns: { timeout: '1500ms', retries: 0 },
          state: { file: stateFile },
          daemon: { schedule: '* * * * * *', grace: '3s' },
        }),
      );
    write([`acme.${info.zone}`]);
    const daemon = startCli(['daemon', '--config', config], { HOME: dir });
    await daemon.ready;
    daemon.go();
    await daemon.until((l) => l.msg === 'run started');
    // Act: edit the file and SIGHUP while the first run waits on the blackhole resolver.
    write([`acme.${info.zone}`, `beta.${info.zone}`]);
    daemon.child.kill('SIGHUP');
    await daemon.until((l) => l.msg === 'config reloaded');
    const firstRun = daemon.logs.find((l) => l.msg === 'run started')!.runId;
    await daemon.until((l) => l.msg === 'run finished' && l.runId !== firstRun);
    daemon.child.kill('SIGQUIT');
    const code = await daemon.exited;
    // Assess
    expect(code).toBe(0);
    expect(daemon.logs.find((l) => l.msg === 'config reloaded')).toMatchObject({ runInProgress: firstRun });
    const finished = daemon.logs.filter((l) => l.msg === 'run finished');
    expect(finished[0]).toMatchObject({ runId: firstRun, targets: 1 });
    expect(finished[1]).toMatchObject({ targets: 2 });
    expect(daemon.logs.at(-1)).toMatchObject({ msg: 'stopped', signal: 'SIGQUIT', exitCode: 0 });
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).revision).toBe(finished.length);
  });
});
