// The daemon's /status: the latest status page, from the daemon's own runs against the DNS lab
// (in-process, real deps: file state, history, notify), served on its healthz server — 503 until a
// run has finished, then the page with its policy header.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runDaemon } from '../../src/entry/daemon.ts';

const info = inject('dnsLab');
const dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-daemon-status-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('daemon /status', () => {
  it('serves the latest status page after each run; 503 before the first', async () => {
    // Prepare: a run every second against the lab, healthz on a free loopback port.
    const file = path.join(dir, 'dialer-audit.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        resolvers: info.resolvers,
        authoritative: info.authoritative,
        targets: { dialers: [`acme.${info.zone}`, info.nxdomainName] },
        checks: { 'dns-consistency': { recordTypes: ['A'] } },
        dns: { timeout: '400ms', retries: 1 },
        state: { file: path.join(dir, 'state.json') },
        daemon: { schedule: '* * * * * *', grace: '2s', healthz: { port: 0 } },
      }),
    );
    const lines: Record<string, any>[] = [];
    const signals = new EventEmitter();
    let ready: (url: string) => void = () => {};
    const healthz = new Promise<string>((r) => (ready = r));
    const exit = runDaemon({ configFile: file, env: {}, write: (l) => lines.push(JSON.parse(l)), signals, onReady: (i) => ready(i.healthz!) });
    const status = (await healthz).replace('/healthz', '/status');
    // Act
    const before = await fetch(status);
    const beforeText = await before.text();
    while (!lines.some((l) => l.msg === 'run finished')) await new Promise((r) => setTimeout(r, 50));
    const after = await fetch(status);
    const html = await after.text();
    signals.emit('SIGTERM');
    // Assess
    expect(await exit).toBe(0);
    expect(before.status).toBe(503);
    expect(beforeText).toContain('no run has finished yet');
    expect(after.status).toBe(200);
    expect(after.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(after.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(html).toContain('<h1>dialer-audit status</h1>');
    expect(html).toContain(`<tr data-name="${info.nxdomainName}" class="row-failing">`);
  });
});
