// The daemon's edges, in-process with a stand-in job: a run that ignores the abort, a run that
// throws (healthz says so), the grace split. The real thing runs in test/integration/daemon.test.ts.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../src/audit.ts';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { main } from '../../src/entry/cli.ts';
import { graceSplit, runDaemon } from '../../src/entry/daemon.ts';
import type { JobDeps } from '../../src/job.ts';
import type { DnsClient } from '../../src/net/dns.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-daemon-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function configFile(daemon: Record<string, unknown>): string {
  const file = path.join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, JSON.stringify({ resolvers: [{ name: 'pub1', address: '127.0.0.1' }], targets: { dialers: ['acme.dialer.test'] }, checks: { 'dns-consistency': {} }, daemon }));
  return file;
}

function start(daemon: Record<string, unknown>, runJob: (signal: AbortSignal) => Promise<'ok' | 'throw' | 'hang'>, file = configFile(daemon)) {
  const lines: Record<string, any>[] = [];
  const signals = new EventEmitter();
  let ready: (info: { healthz?: string }) => void = () => {};
  const readyP = new Promise<{ healthz?: string }>((r) => (ready = r));
  const exit = runDaemon({
    configFile: file,
    env: {},
    write: (l) => lines.push(JSON.parse(l)),
    signals,
    buildDeps: (_c, log): JobDeps => ({ dns: {} as DnsClient, log }),
    runJob: async (config, deps) => {
      const outcome = await runJob(deps.signal!);
      if (outcome === 'throw') throw new Error('state file is not writable');
      return buildReport({ runId: deps.runId!, started: 0, finished: 1, config, dryRun: true, findings: [], fixes: [], summaries: {}, targetCount: 1 });
    },
    onReady: (info) => ready(info),
  });
  const until = async (test: () => boolean) => {
    while (!test()) await new Promise((r) => setTimeout(r, 20));
  };
  return { lines, signals, exit, ready: readyP, until, file };
}

describe('daemon', () => {
  it('splits the grace: most to finish the run, the rest (≤ 5 s) to save after an abort', () => {
    expect(graceSplit(30_000)).toEqual({ finishMs: 25_000, abortMs: 5000 });
    expect(graceSplit(2000)).toEqual({ finishMs: 1000, abortMs: 1000 });
  });

  it('a run that does not stop within the grace period: exit 1, said in the log', async () => {
    // Prepare: a job that ignores its abort signal.
    const d = start({ schedule: '* * * * * *', grace: '400ms' }, () => new Promise(() => {}));
    await d.until(() => d.lines.some((l) => l.msg === 'run started'));
    // Act
    d.signals.emit('SIGINT');
    const code = await d.exit;
    // Assess
    expect(code).toBe(1);
    expect(d.lines.map((l) => l.msg)).toContain('stopping: the current run did not stop within the grace period; its alert state may not be saved');
    expect(d.lines.at(-1)).toMatchObject({ msg: 'stopped', signal: 'SIGINT', exitCode: 1 });
  });

  it('a run that aborts when told: exit 0 within the grace period', async () => {
    const d = start({ schedule: '* * * * * *', grace: '400ms' }, (signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve('ok'))));
    await d.until(() => d.lines.some((l) => l.msg === 'run started'));
    d.signals.emit('SIGTERM');
    expect(await d.exit).toBe(0);
    expect(d.lines.find((l) => l.msg === 'run finished')).toMatchObject({ aborted: true });
  });

  it('/healthz: 503 with the error after a run that could not happen; 404 elsewhere', async () => {
    // Prepare
    const d = start({ schedule: '* * * * * *', healthz: { port: 0 } }, async () => 'throw');
    const { healthz } = await d.ready;
    await d.until(() => d.lines.some((l) => l.msg === 'run failed'));
    // Act
    const res = await fetch(healthz!);
    const body = (await res.json()) as Record<string, any>;
    const other = await fetch(healthz!.replace('/healthz', '/metrics'));
    d.signals.emit('SIGTERM');
    // Assess
    expect(res.status).toBe(503);
    expect(body).toMatchObject({ status: 'error', lastRun: { result: 'error', error: 'state file is not writable' } });
    expect(other.status).toBe(404);
    expect(await d.exit).toBe(0);
  });

  it('SIGHUP reloads the config: a new schedule takes effect; a broken file is logged and the running config stays', async () => {
    // Prepare
    const d = start({ schedule: '0 0 1 1 *' }, async () => 'ok');
    await d.ready;
    // Act 1: a valid change.
    writeFileSync(d.file, JSON.stringify({ resolvers: [{ name: 'pub1', address: '127.0.0.1' }], targets: { dialers: ['acme.dialer.test'] }, checks: { 'dns-consistency': {} }, daemon: { schedule: '* * * * * *' } }));
    d.signals.emit('SIGHUP');
    await d.until(() => d.lines.some((l) => l.msg === 'config reloaded'));
    await d.until(() => d.lines.some((l) => l.msg === 'run finished'));
    // Act 2: a broken file.
    writeFileSync(d.file, 'resolvers: [{ name: pub1, address: nowhere }]\nbogus: 1\n');
    d.signals.emit('SIGHUP');
    await d.until(() => d.lines.some((l) => l.msg === 'config reload failed; the running config stays'));
    const runsBefore = d.lines.filter((l) => l.msg === 'run finished').length;
    await d.until(() => d.lines.filter((l) => l.msg === 'run finished').length > runsBefore);
    d.signals.emit('SIGTERM');
    // Assess
    expect(await d.exit).toBe(0);
    expect(d.lines.find((l) => l.msg === 'config reloaded')).toMatchObject({ schedule: '* * * * * *' });
    expect(d.lines.find((l) => l.msg === 'config reload failed; the running config stays')).toMatchObject({
      level: 'error',
      error: ['bogus: unknown key', expect.stringMatching(/^resolvers\[0\]\.address: expected host\[:port\]/)],
    });
  });

  it.each(['SIGQUIT', 'SIGUSR2', 'SIGALRM'])('%s ends it like SIGTERM: the run finishes or is aborted, state saved, the log says why', async (signal) => {
    const d = start({ schedule: '* * * * * *', grace: '400ms' }, (abort) => new Promise((resolve) => abort.addEventListener('abort', () => resolve('ok'))));
    await d.until(() => d.lines.some((l) => l.msg === 'run started'));
    d.signals.emit(signal);
    expect(await d.exit).toBe(0);
    expect(d.lines.find((l) => l.msg === 'run finished')).toMatchObject({ aborted: true });
    expect(d.lines.at(-1)).toMatchObject({ msg: 'stopped', signal, exitCode: 0 });
  });

  it('a healthz port in use is exit 2 naming the key and the port, not an internal error', async () => {
    // Prepare: someone else listens on the port.
    const other = createServer();
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const port = (other.address() as AddressInfo).port;
    let stderr = '';
    // Act
    const code = await main(['daemon', '--config', configFile({ healthz: { port } })], { stdout: { write: () => true }, stderr: { write: (s: string) => (stderr += s) }, env: {} });
    other.close();
    // Assess
    expect(code).toBe(2);
    expect(stderr).toBe(`invalid config:\n  daemon.healthz.port: healthz port ${port} is in use (another process listens on 127.0.0.1:${port})\n`);
  });

  it('no run going: SIGTERM stops at once with exit 0', async () => {
    const d = start({ schedule: '0 0 1 1 *' }, async () => 'ok');
    await d.ready;
    d.signals.emit('SIGTERM');
    expect(await d.exit).toBe(0);
    expect(d.lines.at(-1)).toMatchObject({ msg: 'stopped', runs: 0 });
  });
});
