// The audit command's outputs as a user meets them: several formats from one run, --quiet, the
// vantage from the environment, and mistakes (an unknown --target, a bad --output) as exit 2
// before anything is probed. The resolver here is a closed loopback port: every query times out
// fast (the only resolver unreachable: VANTAGE_BLIND), so each run has findings without a lab.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/entry/cli.ts';
import { capture } from '../support/cli.ts';
import { reportSchema } from '../../src/report/json.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-outputs-'));
const config = path.join(dir, 'config.yaml');
writeFileSync(
  config,
  `resolvers:\n  - { name: pub1, address: "127.80.0.1:5399" }\ndns: { timeout: 50ms, retries: 0 }\ntargets:\n  dialers: [acme.dialer.test, beta.dialer.test]\nchecks:\n  dns-consistency: {}\n`,
);

describe('audit --output and --quiet', () => {
  it('writes JSON and Prometheus files from one run and prints only the verdict line with --quiet', async () => {
    // Prepare
    const json = path.join(dir, 'a.json');
    const prom = path.join(dir, 'b.prom');
    const io = capture();
    // Act
    const code = await main(['audit', '--config', config, '--output', `json=${json}`, '--output', `prom=${prom}`, '--quiet'], io);
    // Assess
    expect(code).toBe(1);
    expect(io.out()).toMatch(/^FAIL: \d+ critical, \d+ warning, 0 info \(fail on warning and above\)\n$/);
    const report = reportSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
    expect(report.findings.map((f) => f.code)).toContain('VANTAGE_BLIND');
    expect(readFileSync(prom, 'utf8')).toContain('dialer_audit_check_targets{check="dns-consistency"} 2');
    expect(io.out()).toContain(`${report.summary.warning} warning`);
  });

  it('text on stdout as usual, Markdown to a file, and json=- puts JSON on stdout instead', async () => {
    const md = path.join(dir, 'report.md');
    const io = capture();
    await main(['audit', '--config', config, '--output', `markdown=${md}`], io);
    expect(io.out()).toMatch(/^dialer-audit run \S+ \(dry run: nothing changed or sent\)/);
    expect(readFileSync(md, 'utf8')).toMatch(/^# dialer-audit: FAIL/);
    const toStdout = capture();
    await main(['audit', '--config', config, '--output', 'json=-', '--output', `text=${path.join(dir, 'report.txt')}`], toStdout);
    expect(reportSchema.safeParse(JSON.parse(toStdout.out())).success).toBe(true);
    expect(readFileSync(path.join(dir, 'report.txt'), 'utf8')).toMatch(/^dialer-audit run /);
  });

  it.each([
    [['--output', 'yaml=x.yaml'], '--output yaml=x.yaml: unknown format "yaml" (formats: text, json, markdown, prom, html)'],
    [['--output', 'json'], '--output json: expected FORMAT=PATH'],
    [['--output', 'json=-', '--output', 'prom=-'], '--output: only one output can go to stdout (json=-, prom=-)'],
    [['--format', 'json', '--output', 'prom=-'], '--format json: stdout already carries --output prom=-'],
    [['--format', 'json', '--quiet'], '--quiet prints only the verdict line, so stdout cannot also carry json'],
    [['--output', 'json=same.json', '--output', 'markdown=same.json'], '--output: same.json is named twice'],
    [['--output', 'json=/nonexistent-dir/a.json'], '--output json=/nonexistent-dir/a.json: cannot write to /nonexistent-dir (ENOENT)'],
  ])('%j is exit 2 before anything is probed', async (args, problem) => {
    const io = capture();
    const code = await main(['audit', '--config', config, ...args], io);
    expect(code).toBe(2);
    expect(io.err()).toContain(problem);
    expect(io.out()).toBe('');
  });

  it('an output path that is a directory is exit 2 before the run, and nothing is written into it', async () => {
    // Prepare
    const blocked = path.join(dir, 'blocked');
    mkdirSync(blocked, { recursive: true });
    const io = capture();
    // Act
    const code = await main(['audit', '--config', config, '--output', `json=${blocked}`], io);
    // Assess
    expect(code).toBe(2);
    expect(io.err()).toContain(`--output json=${blocked}: is a directory; expected a file path`);
    expect(existsSync(path.join(blocked, 'report.json'))).toBe(false);
  });
});

describe('audit --target and DIALER_AUDIT_VANTAGE', () => {
  it('an unknown --target is exit 2 with "did you mean", and nothing is audited', async () => {
    const io = capture();
    const code = await main(['audit', '--config', config, '--target', 'acme.dialer.tset'], io);
    expect(code).toBe(2);
    expect(io.err()).toContain('--target: the enabled checks have no target "acme.dialer.tset" (did you mean "acme.dialer.test"?); nothing was audited');
    expect(io.out()).toBe('');
  });

  it('a --target like nothing known lists what is known', async () => {
    const io = capture();
    expect(await main(['audit', '--config', config, '--target', 'nosuch.example.com'], io)).toBe(2);
    expect(io.err()).toContain('no target "nosuch.example.com" (known: acme.dialer.test, beta.dialer.test)');
  });

  it('--only with a typo says which check was meant', async () => {
    const io = capture();
    expect(await main(['audit', '--config', config, '--only', 'dns-consistancy'], io)).toBe(2);
    expect(io.err()).toContain('--only: unknown check "dns-consistancy" (did you mean "dns-consistency"?)');
  });

  it('DIALER_AUDIT_VANTAGE names the run and tags every finding, as for the daemon', async () => {
    const io = capture({ DIALER_AUDIT_VANTAGE: 'office-berlin' });
    await main(['audit', '--config', config, '--format', 'json'], io);
    const report = reportSchema.parse(JSON.parse(io.out()));
    expect(report.vantage).toBe('office-berlin');
    expect(report.findings.length).toBeGreaterThan(0);
    expect(report.findings.every((f) => f.vantage === 'office-berlin')).toBe(true);
  });
});
