// Sharded runs: a stable slice per shard, partial reports with findings not yet folded, and a merge
// that reports what one run over the whole fleet would have — or says which shard is missing.
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { mergeShards, ShardMergeError } from '../../src/shards.ts';
import { parseShard, shardOf } from '../../src/targets.ts';
import type { Report } from '../../src/types.ts';
import { answer, FakeDns, type Script } from '../support/fake-dns.ts';

const AUTH = '127.0.0.10:53';
const DEAD = '127.0.0.99:53';
const dialers = Array.from({ length: 40 }, (_, i) => `d${i}.dialer.example.com`);
const config = parseConfig({
  resolvers: [
    { name: 'google', address: '8.8.8.8' },
    { name: 'dead', address: DEAD },
  ],
  authoritative: [{ name: 'ns1', address: AUTH }],
  targets: { dialers: [...dialers, 'gone1.dialer.example.com', 'gone2.dialer.example.com'] },
  checks: { 'dns-consistency': { recordTypes: ['A'] } },
});

/** The zone holds d0…d39; the resolver at DEAD answers nothing (its timeouts fold into one finding). */
const script: Script = (q) => {
  if (q.at === DEAD) return undefined;
  if (!dialers.includes(q.name)) return answer('NXDOMAIN', [], { aa: q.at === AUTH });
  return answer('NOERROR', [{ name: q.name, type: 'A', ttl: 300, value: '192.0.2.10' }], { aa: q.at === AUTH });
};

const NOW = Date.parse('2026-11-23T15:00:00Z');
const audit = (shard?: { index: number; count: number }) => runAudit(config, { dns: new FakeDns(script), log: silentLogger, now: () => NOW }, { shard });
const words = (r: Report) => r.findings.map((f) => `${f.severity} ${f.code} ${f.target}${f.resolver ? ` @${f.resolver}` : ''}: ${f.message}`);

describe('shardOf', () => {
  it('puts a name in the same shard every time, whatever its case, and spreads a fleet evenly', () => {
    // Act
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 10_000; i++) counts[shardOf(`dialer-${i}.example.com`, 4) - 1]++;
    // Assess
    expect(shardOf('acme.dialer.example.com', 4)).toBe(shardOf('ACME.dialer.example.com', 4));
    expect(shardOf('acme.dialer.example.com', 4)).toBe(2);
    for (const n of counts) expect(n).toBeGreaterThan(2300);
    expect(shardOf('anything', 1)).toBe(1);
  });

  it('reads I/N', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(parseShard(' 1 / 1 ')).toEqual({ index: 1, count: 1 });
    for (const bad of ['0/4', '5/4', '2', 'a/b', '2/0']) expect(parseShard(bad)).toBeUndefined();
  });
});

describe('a run in 4 shards', () => {
  it('each shard audits its own slice and keeps its findings unfolded, with no fixes', async () => {
    // Act
    const partials = await Promise.all([1, 2, 3, 4].map((index) => audit({ index, count: 4 })));
    // Assess: every dialer in exactly one shard; the dead resolver's timeouts one per dialer.
    expect(partials.reduce((n, p) => n + p.summary.targets, 0)).toBe(42);
    for (const p of partials) {
      expect(p.shard).toEqual({ index: expect.any(Number), count: 4 });
      expect(p.fixes).toEqual([]);
      expect(p.findings.filter((f) => f.code === 'DNS_TIMEOUT')).toHaveLength(p.summary.targets);
    }
  });

  it('merged, reports the same findings as one run over the whole fleet', async () => {
    // Prepare
    const one = await audit();
    const partials = await Promise.all([1, 2, 3, 4].map((index) => audit({ index, count: 4 })));
    // Act
    const merged = mergeShards(partials, config);
    // Assess: the dead resolver is one finding over all 42 dialers, as in the single run.
    expect(words(merged)).toEqual(words(one));
    expect(words(one)).toContain('warning DNS_TIMEOUT dead (127.0.0.99:53) @dead: dead (127.0.0.99:53) failed every one of 42 queries for 42 dialers: timed out');
    expect(merged.summary).toMatchObject({ targets: 42, critical: one.summary.critical, warning: one.summary.warning, failed: true });
    expect(merged.summary.checks['dns-consistency']).toMatchObject({ targets: 42, findings: one.findings.length });
    const count = (r: Report, metric: string) => r.aggregates.filter((a) => a.metric === metric).reduce((n, a) => n + a.count, 0);
    expect(count(merged, 'up')).toBe(count(one, 'up'));
  });

  it('a shard that failed is a SHARD_FAILED finding with its error, not a silent hole', async () => {
    // Prepare: shard 3 never reported (its Lambda timed out).
    const partials = await Promise.all([1, 2, 4].map((index) => audit({ index, count: 4 })));
    // Act
    const merged = mergeShards(partials, config, { failures: [{ index: 3, count: 4, error: 'States.Timeout: Task timed out after 900.00 seconds' }] });
    // Assess
    const lost = merged.findings.find((f) => f.code === 'SHARD_FAILED')!;
    expect(lost).toMatchObject({ severity: 'critical', target: 'shard 3/4' });
    expect(lost.message).toMatch(/^shard 3 of 4 failed: States\.Timeout: Task timed out after 900\.00 seconds; its slice of the fleet \(about \d+ targets\) was not audited this run$/);
    expect(merged.summary.failed).toBe(true);
  });

  it('refuses partials that are not one run: a shard given twice, another shard count', async () => {
    const [a, b] = await Promise.all([audit({ index: 1, count: 4 }), audit({ index: 1, count: 2 })]);
    expect(() => mergeShards([a, a], config)).toThrow(ShardMergeError);
    expect(() => mergeShards([a, b], config)).toThrow('shard 1/2 does not belong to a run of 4 shards');
  });
});
