// One run, many outputs, in the lab: `audit --output json=… --output prom=… --output markdown=…`
// writes every file from one run, and the servers saw one set of probes — not one per output.
// The SIP trunks and the STUN server are test/lab/timed_server.py, which records every request.
import { mkdtempSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/entry/cli.ts';
import { capture } from '../support/cli.ts';
import { reportSchema } from '../../src/report/json.ts';
import { startTimedLab, type TimedLab } from '../lab/timed-lab.ts';

const prefix = `127.80.${1 + Math.floor(Math.random() * 250)}`;
const [trunkA, trunkB, stun] = [`${prefix}.1`, `${prefix}.2`, `${prefix}.3`];
let lab: TimedLab;
const dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-outputs-lab-'));
const config = path.join(dir, 'dialer-audit.yaml');

beforeAll(async () => {
  lab = await startTimedLab([
    { protocol: 'sip', transport: 'udp', address: trunkA, port: 5060 },
    { protocol: 'sip', transport: 'udp', address: trunkB, port: 5060 },
    { protocol: 'stun', transport: 'udp', address: stun, port: 3478 },
  ]);
  await writeFile(
    config,
    [
      'carriers:',
      `  - { name: trunk-a, uri: "${trunkA}:5060" }`,
      `  - { name: trunk-b, uri: "${trunkB}:5060" }`,
      'stun:',
      `  servers: [{ uri: "stun:${stun}:3478" }]`,
      'checks:',
      '  sip-options: { fragmentation: false, timeout: 2s }',
      '  stun-binding: { timeout: 2s }',
      '',
    ].join('\n'),
  );
});
afterAll(async () => {
  await lab?.stop();
});

describe('audit with several outputs against the lab', () => {
  it('writes JSON, Prometheus and Markdown from one run: each trunk got one OPTIONS, the STUN server one Binding', async () => {
    // Prepare
    await lab.clear();
    const [json, prom, md] = ['a.json', 'b.prom', 'c.md'].map((f) => path.join(dir, f));
    const io = capture();
    // Act
    const code = await main(['audit', '--config', config, '--output', `json=${json}`, '--output', `prom=${prom}`, '--output', `markdown=${md}`, '--quiet'], io);
    // Assess
    expect(io.err()).toBe('');
    expect(code).toBe(0);
    expect(io.out()).toBe('OK: 0 critical, 0 warning, 0 info (fail on warning and above)\n');
    const records = await lab.records();
    expect(records.filter((r) => r.protocol === 'sip').map((r) => r.server).sort()).toEqual([`${trunkA}:5060`, `${trunkB}:5060`]);
    expect(records.filter((r) => r.protocol === 'stun').map((r) => r.server)).toEqual([`${stun}:3478`]);
    const report = reportSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
    // Three probes timed (two OPTIONS, one Binding), folded into the report's aggregates.
    expect(report.aggregates.filter((a) => a.metric === 'rtt_seconds').reduce((n, a) => n + a.count, 0)).toBe(3);
    const metrics = readFileSync(prom, 'utf8');
    expect(metrics).toMatch(/dialer_audit_up\{[^}]*carrier="trunk-a"[^}]*\} 1/);
    expect(metrics).toMatch(/dialer_audit_up\{[^}]*check="stun-binding"[^}]*\} 1/);
    expect(readFileSync(md, 'utf8')).toContain(`Run \`${report.runId}\``);
  });
});
