// The politeness bound: the time a run needs before it starts, held against its budget and
// schedule, with the fix in words when it does not fit.
import { describe, expect, it } from 'vitest';
import { countRun } from '../../src/targets.ts';
import { describeBound, scheduleIntervalMs, shardsFor } from '../../src/bound.ts';
import { parseConfig } from '../../src/config.ts';
import { staticInventory } from '../../src/inventory/static.ts';

const fleet = (n: number) => Array.from({ length: n }, (_, i) => `d${String(i).padStart(5, '0')}.dialer.test`);

function config(dialers: number, extra: Record<string, unknown> = {}) {
  return parseConfig({
    resolvers: [
      { name: 'google', address: '8.8.8.8' },
      { name: 'quad9', address: '9.9.9.9', qps: 50 },
    ],
    authoritative: [{ name: 'ns1', address: '192.0.2.53' }],
    targets: { dialers: fleet(dialers) },
    checks: { 'dns-consistency': { recordTypes: ['A', 'AAAA'] }, 'ttl-policy': {} },
    ...extra,
  });
}

function bound(cfg: ReturnType<typeof config>, intervalMs?: number) {
  return countRun(cfg, staticInventory(cfg), { intervalMs }).bound;
}

describe('the politeness bound', () => {
  it('is the busiest server’s queries over its qps; questions two checks share count once', () => {
    // Act: 1,000 dialers × (A, AAAA) everywhere; ttl-policy asks ns1 the same A/AAAA and one SOA.
    const b = bound(config(1000));
    // Assess: quad9 at 50 q/s: 2,000 queries → 40 s; ns1 at 100 q/s: 3,000 → 30 s.
    expect(b.seconds).toBe(40);
    expect(b.busiest).toEqual({ server: 'quad9', queries: 2000, qps: 50 });
    expect(b.checks['dns-consistency']).toEqual({ targets: 1000, seconds: 40 });
    expect(b.checks['ttl-policy']).toEqual({ targets: 1000, seconds: 30 });
    expect(b.fits).toBe(true);
    expect(describeBound(b)).toBe('time bound: at least 40s (2,000 queries at quad9, 50 q/s) [dns-consistency 40s, ttl-policy 30s]; budget 4m: fits');
  });

  it('over the budget: says the qps that would fit, fewer types, or shards', () => {
    // Act: 50,000 dialers at 100 q/s: 1,000 s at google, 2,000 s at quad9, against 240 s.
    const b = bound(config(50_000));
    // Assess
    expect(b.fits).toBe(false);
    expect(b.advice).toContain('raise dns.qps (or the busiest resolver\'s qps) from 50 to 463');
    expect(b.advice).toContain('ask fewer record types (checks.dns-consistency.recordTypes: 2 now');
    expect(b.advice).toContain(`run.shards: ${shardsFor(2000, 240, 1)}`);
    expect(describeBound(b)).toContain('DOES NOT FIT. To fit: raise dns.qps');
  });

  it('over the schedule: shards do not help, running less often or more qps does', () => {
    const b = bound(config(10_000, { run: { budget: '1h' } }), 5 * 60_000);
    expect(b).toMatchObject({ seconds: 400, budgetSeconds: 3600, intervalSeconds: 300, fits: false });
    expect(b.advice).toContain('or run less often: shards keep each Lambda under its time limit, but the run as a whole still takes 6m40s');
  });

  it('without configured authoritative servers counts the zone’s name servers and the SOA lookup', () => {
    const b = bound(config(100, { authoritative: undefined, checks: { 'dns-consistency': { recordTypes: ['A'] } } }));
    // google: A + SOA (finding the zone) per dialer = 200 at 100 q/s; quad9: 100 at 50 q/s.
    expect(b.seconds).toBe(2);
  });
});

describe('the schedule interval', () => {
  it.each([
    ['*/5 * * * *', 300],
    ['*/10 * * * * *', 10],
    ['0 * * * *', 3600],
    ['0 9,17 * * *', 16 * 3600],
    ['0 3 * * 1', 86_400],
    ['rate(5 minutes)', 300],
    ['rate(1 hour)', 3600],
    ['cron(0/15 * * * ? *)', 900],
  ])('%s → %i s', (expression, seconds) => {
    expect(scheduleIntervalMs(expression)).toBe(seconds * 1000);
  });

  it('is unknown for what it cannot read', () => {
    expect(scheduleIntervalMs('every now and then')).toBeUndefined();
  });
});

describe('shardsFor', () => {
  it('sizes shards so each one’s share fits its budget with a tenth to spare, more when they share qps', () => {
    expect(shardsFor(1000, 800, 1)).toBe(2);
    expect(shardsFor(100, 800, 1)).toBe(1);
    expect(shardsFor(1000, 800, 4)).toBe(6);
  });
});
