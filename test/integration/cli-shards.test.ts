// The CLI over the DNS lab for a fleet too large for one run: four `audit --shard I/4` runs merged
// with `merge --config` report what one run reports, and `--measurements FILE` streams every
// per-target measurement as a JSON line while the report keeps only aggregates.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import type { Measurement, Report } from '../../src/types.ts';

const info = inject('dnsLab');
let dir: string;
let configFile: string;
const fleet = [...['acme', 'beta', 'gamma', 'lb'].map((n) => `${n}.${info.zone}`), ...Array.from({ length: 8 }, (_, i) => `cli-shards-missing-${i}.${info.zone}`)];

// A folded timeout lists the first errors its resolver gave; which ones came first (refused, or the
// circuit breaker's "not asked") depends on timing, so it is compared up to its counts.
const words = (r: Report) =>
  r.findings.map((f) => `${f.severity} ${f.code} ${f.target}${f.resolver ? ` @${f.resolver}` : ''}: ${f.code === 'DNS_TIMEOUT' ? f.message.replace(/dialers: .*$/, 'dialers') : f.message}`).sort();

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'dialer-audit-cli-shards-'));
  await writeFile(path.join(dir, 'fleet.txt'), `# ${fleet.length} dialers\n${fleet.join('\n')}\n`);
  configFile = path.join(dir, 'dialer-audit.yaml');
  await writeFile(
    configFile,
    `resolvers:
${[...info.resolvers, { name: 'dead', address: info.deadAddress }].map((r) => `  - { name: ${r.name}, address: "${r.address}", concurrency: 50 }`).join('\n')}
authoritative:
${info.authoritative.map((a) => `  - { name: ${a.name}, address: "${a.address}" }`).join('\n')}
targets:
  dialersFile: fleet.txt
checks:
  dns-consistency: { recordTypes: [A, AAAA] }
dns: { timeout: 300ms, retries: 0 }
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sharded runs through the CLI', () => {
  it('four shards merged report the findings of one run; each shard audits its own slice', async () => {
    // Act
    const one = await runCli(['audit', '--config', configFile, '--format', 'json']);
    const files: string[] = [];
    for (let i = 1; i <= 4; i++) {
      const shard = await runCli(['audit', '--config', configFile, '--shard', `${i}/4`, '--format', 'json']);
      const file = path.join(dir, `shard-${i}.json`);
      await writeFile(file, shard.out);
      files.push(file);
    }
    const merged = await runCli(['merge', '--config', configFile, '--format', 'json', ...files]);
    // Assess
    expect(one.code).toBe(1);
    expect(merged.code).toBe(1);
    const whole = JSON.parse(one.out) as Report;
    const combined = JSON.parse(merged.out) as Report;
    expect(words(combined)).toEqual(words(whole));
    expect(words(whole)).toContain(`warning DNS_TIMEOUT dead (${info.deadAddress}) @dead: dead (${info.deadAddress}) failed every one of 24 queries for 12 dialers`);
    expect(whole.findings.find((f) => f.code === 'DNS_TIMEOUT')?.message).toMatch(/port unreachable/);
    const slices = await Promise.all(files.map(async (f) => (JSON.parse(await readFile(f, 'utf8')) as Report).summary.targets));
    expect(slices.reduce((a, b) => a + b, 0)).toBe(fleet.length);
    expect(combined.summary.targets).toBe(fleet.length);
    // The shards' aggregates add up to the one run's.
    const probes = (r: Report) => r.aggregates.filter((a) => a.metric === 'up').reduce((n, a) => n + a.count, 0);
    expect(probes(combined)).toBe(probes(whole));
  });

  it('--measurements streams every measurement as a JSON line; the report keeps the failing targets’ only', async () => {
    // Prepare: the fleet without the dead resolver, so only the missing names have findings.
    const healthy = path.join(dir, 'healthy.yaml');
    await writeFile(healthy, (await readFile(configFile, 'utf8')).replace(/^ {2}- \{ name: dead.*\n/m, ''));
    const file = path.join(dir, 'measurements.jsonl');
    // Act
    const run = await runCli(['audit', '--config', healthy, '--format', 'json', '--measurements', file]);
    // Assess: 12 dialers × 2 types × 4 servers, each an `up` and (when answered) an `rtt_seconds`.
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Measurement);
    const up = lines.filter((m) => m.metric === 'up');
    expect(up).toHaveLength(fleet.length * 2 * 4);
    expect(new Set(up.map((m) => m.target))).toEqual(new Set(fleet));
    const report = JSON.parse(run.out) as Report;
    expect(new Set(report.measurements.map((m) => m.target))).toEqual(new Set(fleet.filter((n) => n.includes('missing'))));
    expect(report.aggregates.find((a) => a.metric === 'up' && a.labels.server === 'pub1' && a.labels.type === 'A')).toMatchObject({ count: fleet.length });
  });

  it('--measurements to a file that cannot be written exits 2', async () => {
    const run = await runCli(['audit', '--config', configFile, '--measurements', path.join(dir, 'no', 'such', 'dir', 'm.jsonl')]);
    expect(run.code).toBe(2);
    expect(run.err).toContain('--measurements: cannot write');
  });
});
