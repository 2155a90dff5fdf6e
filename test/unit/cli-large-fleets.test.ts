// The command line for large fleets: the time bound validate states, dialer lists from a file,
// --shard and merging shards' partial reports — the words and exit codes a user meets.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { loadConfig } from '../../src/config-load.ts';
import { main } from '../../src/entry/cli.ts';
import { capture } from '../support/cli.ts';
import { realDeps } from '../../src/entry/deps.ts';
import { createLogger, silentLogger } from '../../src/log.ts';
import { formatJson } from '../../src/report/json.ts';
import type { Report } from '../../src/types.ts';
import { answer, FakeDns } from '../support/fake-dns.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-cli-fleets-'));
function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `d${i}.dialer.test`);
const config = (extra = '') =>
  `resolvers:\n  - { name: pub1, address: "127.0.0.1:5399" }\nauthoritative:\n  - { name: ns1, address: "127.0.0.2:5399" }\ntargets:\n  dialersFile: fleet.txt\nchecks:\n  dns-consistency: { recordTypes: [A, AAAA] }\n${extra}`;

describe('validate, for a fleet in a file', () => {
  it('states the politeness bound against the budget and the schedule, and what to change when it does not fit', async () => {
    // Prepare: 5,000 dialers × (A, AAAA) at 10 q/s per server is 1,000 s, against a 240 s budget.
    write('fleet.txt', `# the fleet\n${names(5000).join('\n')}\n`);
    const file = write('slow.yaml', config('dns: { qps: 10 }\ndaemon: { schedule: "*/5 * * * *" }\n'));
    const io = capture();
    // Act
    const code = await main(['validate', '--config', file], io);
    // Assess: a valid config (exit 0), with the warning and its fix.
    expect(code).toBe(0);
    const [valid, bound] = io.out().trimEnd().split('\n');
    expect(valid).toBe(`${file}: valid (1 check: dns-consistency)`);
    expect(bound).toMatch(/^WARNING: time bound: at least 16m40s \(10,000 queries at pub1, 10 q\/s\) for 5,000 targets; budget 4m, schedule every 5m: DOES NOT FIT\. To fit: raise dns\.qps .* from 10 to 47;/);
    expect(bound).toContain('or run less often');
  });

  it('says it fits when it does', async () => {
    write('fleet.txt', names(100).join('\n'));
    const io = capture();
    expect(await main(['validate', '--config', write('fast.yaml', config())], io)).toBe(0);
    expect(io.out()).toContain('time bound: at least 2s (200 queries at pub1, 100 q/s) for 100 targets; budget 4m: fits');
  });

  it('a line of the file that is not a DNS name exits 2 naming the file and line', async () => {
    write('fleet.txt', 'acme.dialer.test\n\nnot a name!\nbeta.dialer.test\n');
    const io = capture();
    expect(await main(['validate', '--config', write('badlist.yaml', config())], io)).toBe(2);
    expect(io.err()).toContain('fleet.txt: 1 line is not a DNS name such as acme.dialer.example.com (line 3 "not a name!"); the other 2 names are audited');
  });

  it('a file that is not there exits 2', async () => {
    const io = capture();
    expect(await main(['validate', '--config', write('nolist.yaml', config().replace('fleet.txt', 'missing.txt'))], io)).toBe(2);
    expect(io.err()).toMatch(/targets\.dialersFile: .*missing\.txt does not exist/);
  });
});

describe('audit --shard', () => {
  it.each([
    [['--shard', '5/4'], '--shard: expected I/N with 1 ≤ I ≤ N, such as 2/4 (got "5/4")'],
    [['--shard', '1/4', '--fix'], '--shard: a shard only reports; apply fixes and send notices once'],
    [['--shard', '1/4', '--notify'], '--shard: a shard only reports'],
  ])('%j exits 2', async (args, message) => {
    write('fleet.txt', names(4).join('\n'));
    const io = capture();
    expect(await main(['audit', '--config', write('shard.yaml', config()), ...args], io)).toBe(2);
    expect(io.err()).toContain(message);
  });
});

describe('merge, of shard partials', () => {
  async function partials(file: string): Promise<string[]> {
    const cfg = await loadConfig(file);
    // Every name answers at pub1 and ns1 except d3, which the zone does not hold.
    const dns = new FakeDns((q) => (q.name === 'd3.dialer.test' ? answer('NXDOMAIN', [], { aa: q.at === '127.0.0.2:5399' }) : answer('NOERROR', q.type === 'A' ? [{ name: q.name, type: 'A', value: '192.0.2.1' }] : [], { aa: q.at === '127.0.0.2:5399' })));
    const out: string[] = [];
    for (const index of [1, 2, 3]) {
      const report: Report = await runAudit(cfg, { dns, log: silentLogger }, { shard: { index, count: 4 } });
      out.push(write(`shard-${index}.json`, formatJson(report)));
    }
    return out;
  }

  it('needs the config the shards ran with', async () => {
    write('fleet.txt', names(8).join('\n'));
    const file = write('merge.yaml', config());
    const io = capture();
    expect(await main(['merge', ...(await partials(file))], io)).toBe(2);
    expect(io.err()).toContain('merging shard partials needs --config FILE');
  });

  it('with it, one report: the shards’ findings, and the shard that never reported as SHARD_FAILED', async () => {
    // Prepare: shards 1-3 of 4; shard 4's report is missing.
    write('fleet.txt', names(8).join('\n'));
    const file = write('merge.yaml', config());
    const files = await partials(file);
    const io = capture();
    // Act
    const code = await main(['merge', '--config', file, '--format', 'json', ...files], io);
    // Assess
    expect(code).toBe(1);
    const report = JSON.parse(io.out()) as Report;
    expect(report.shard).toBeUndefined();
    expect(report.findings.map((f) => `${f.code} ${f.target}`)).toContain('SHARD_FAILED shard 4/4');
    expect(report.findings.find((f) => f.code === 'SHARD_FAILED')!.message).toMatch(/^shard 4 of 4 did not report; its slice of the fleet \(about \d+ targets\) was not audited this run$/);
  });

  it('refuses a shard given twice', async () => {
    write('fleet.txt', names(8).join('\n'));
    const file = write('merge.yaml', config());
    const [one] = await partials(file);
    const io = capture();
    expect(await main(['merge', '--config', file, one, one], io)).toBe(2);
    expect(io.err()).toMatch(/shard \d\/4 given twice/);
  });
});

describe('run.measurements', () => {
  it('true: every measurement a run makes is a `measurement` log line as it is made', async () => {
    // Prepare
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ json: true, write: (l) => lines.push(JSON.parse(l)) });
    const cfg = parseConfig({ resolvers: [{ name: 'pub1', address: '127.0.0.1:5399' }], run: { measurements: true }, state: { file: path.join(dir, 'state.json') } });
    const deps = await realDeps(cfg, log);
    // Act
    deps.onMeasurement!({ check: 'dns-consistency', target: 'acme.dialer.test', metric: 'up', value: 1, labels: { server: 'pub1' } });
    // Assess
    expect(lines).toEqual([expect.objectContaining({ level: 'info', msg: 'measurement', check: 'dns-consistency', target: 'acme.dialer.test', metric: 'up', value: 1, labels: { server: 'pub1' } })]);
    expect((await realDeps(parseConfig({}), log)).onMeasurement).toBeUndefined();
  });
});
