// The runner keeps what it learned: a crashing check or one that overruns the budget becomes a
// CHECK_ERROR finding and the rest of the run still reports.
import { queryObjects } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkRegistry } from '../../checks/index.ts';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import type { Check } from '../../src/types.ts';
import { FakeDns } from '../support/fake-dns.ts';

function register(check: Check<{ delayMs: number }>) {
  checkRegistry[check.id] = check;
}

const testCheck = (id: string, run: Check<{ delayMs: number }>['run']): Check<{ delayMs: number }> => ({
  id,
  description: 'test',
  params: z.strictObject({ delayMs: z.number().default(0) }),
  codes: {},
  targets: (inv) => inv.dialers.map((name) => ({ name })),
  run,
});

afterEach(() => {
  delete checkRegistry['test-crash'];
  delete checkRegistry['test-slow'];
  delete checkRegistry['test-stream'];
  delete checkRegistry['test-held'];
});

describe('runAudit', () => {
  it('turns a crash into CHECK_ERROR for that target only', async () => {
    // Prepare
    register(testCheck('test-crash', async (t) => {
      if (t.name === 'b.test') throw new Error('boom');
      return [{ check: 'test-crash', target: t.name, severity: 'info', code: 'TEST_SEEN', message: 'seen' }];
    }));
    const config = parseConfig({ targets: { dialers: ['a.test', 'b.test'] }, checks: { 'test-crash': {} } });
    // Act
    const report = await runAudit(config, { dns: new FakeDns(() => undefined), log: silentLogger });
    // Assess
    expect(report.findings.map((f) => `${f.code} ${f.target}`)).toEqual(['CHECK_ERROR b.test', 'TEST_SEEN a.test']);
    expect(report.findings[0].message).toContain('boom');
    expect(report.summary.checks['test-crash']).toMatchObject({ targets: 2, findings: 2, errors: 1 });
  });

  it('stops waiting for a target when the run budget is spent', async () => {
    // Prepare: one target never finishes.
    register(testCheck('test-slow', async (t) => {
      if (t.name === 'stuck.test') await new Promise(() => {});
      return [];
    }));
    const config = parseConfig({ targets: { dialers: ['ok.test', 'stuck.test'] }, checks: { 'test-slow': {} }, run: { budget: '300ms' } });
    const started = Date.now();
    // Act
    const report = await runAudit(config, { dns: new FakeDns(() => undefined), log: silentLogger });
    // Assess
    expect(Date.now() - started).toBeLessThan(1500);
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]).toMatchObject({ code: 'CHECK_ERROR', target: 'stuck.test' });
    expect(report.findings[0].message).toContain('did not finish within the run budget');
  });

  it('tags findings with the vantage point and honours --only / --target', async () => {
    register(testCheck('test-crash', async (t) => [{ check: 'test-crash', target: t.name, severity: 'warning', code: 'TEST_SEEN', message: 'seen' }]));
    const config = parseConfig({ targets: { dialers: ['a.test', 'b.test'] }, checks: { 'test-crash': {} }, run: { vantage: 'eu-central-1' } });
    const report = await runAudit(config, { dns: new FakeDns(() => undefined), log: silentLogger }, { only: ['test-crash'], targets: ['b.test'] });
    expect(report.findings).toEqual([expect.objectContaining({ target: 'b.test', vantage: 'eu-central-1' })]);
    expect(report.vantage).toBe('eu-central-1');
  });

  it('fails only at or above run.failOn', async () => {
    register(testCheck('test-crash', async (t) => [{ check: 'test-crash', target: t.name, severity: 'info', code: 'TEST_SEEN', message: 'seen' }]));
    const lenient = parseConfig({ targets: { dialers: ['a.test'] }, checks: { 'test-crash': {} } });
    const strict = parseConfig({ targets: { dialers: ['a.test'] }, checks: { 'test-crash': {} }, run: { failOn: 'info' } });
    const deps = { dns: new FakeDns(() => undefined), log: silentLogger };
    expect((await runAudit(lenient, deps)).summary.failed).toBe(false);
    expect((await runAudit(strict, deps)).summary.failed).toBe(true);
  });

  it('streams targets: a task is pulled only when the pool has room, and nothing per target is kept', async () => {
    // Prepare: a check that counts how far its target stream runs ahead of the finished tasks.
    let listed = 0;
    let pulled = 0;
    let finished = 0;
    let ahead = 0;
    register({
      id: 'test-stream',
      description: 'test',
      params: z.strictObject({ delayMs: z.number().default(0) }),
      codes: {},
      *targets(inv) {
        listed++; // once to count, once to run
        for (const name of inv.dialers) {
          if (listed === 2) pulled++;
          yield { name };
        }
      },
      async run(t, _p, ctx) {
        ahead = Math.max(ahead, pulled - finished);
        await new Promise((r) => setTimeout(r, 1));
        ctx.measure({ metric: 'up', value: t.name === 'd7.test' ? 0 : 1, labels: { server: 'pub1' } });
        finished++;
        return t.name === 'd7.test' ? [{ check: 'test-stream', target: t.name, severity: 'warning', code: 'TEST_DOWN', message: 'down' }] : [];
      },
    });
    const dialers = Array.from({ length: 200 }, (_, i) => `d${i}.test`);
    const config = parseConfig({ targets: { dialers }, checks: { 'test-stream': {} }, run: { concurrency: 4 } });
    const streamed: string[] = [];
    // Act
    const report = await runAudit(config, { dns: new FakeDns(() => undefined), log: silentLogger, onMeasurement: (m) => streamed.push(m.target) });
    // Assess: at most the pool's size in flight; every measurement streamed, folded into one series,
    // and kept per target only for the one with a finding.
    expect(pulled).toBe(200);
    expect(ahead).toBeLessThanOrEqual(4);
    expect(streamed).toHaveLength(200);
    expect(report.aggregates).toEqual([expect.objectContaining({ check: 'test-stream', metric: 'up', labels: { server: 'pub1' }, count: 200, sum: 199 })]);
    expect(report.measurements).toEqual([{ check: 'test-stream', target: 'd7.test', metric: 'up', value: 0, labels: { server: 'pub1' } }]);
    expect(report.summary).toMatchObject({ targets: 200, bound: { seconds: 0, fits: true } });
  });

  it('holds nothing per finished target: the promises alive at the last target do not grow with the fleet', async () => {
    // Prepare: the last target counts the live promises (queryObjects collects garbage first).
    // Each finished target once left a reaction on the run's budget promise (~350 bytes, 17 MB at 50,000).
    let alive = 0;
    register(testCheck('test-held', async (t) => {
      if (t.name === 'last.test') alive = queryObjects(Promise, { format: 'count' }) as number;
      return [];
    }));
    const aliveAfter = async (count: number): Promise<number> => {
      const dialers = [...Array.from({ length: count }, (_, i) => `d${i}.test`), 'last.test'];
      await runAudit(parseConfig({ targets: { dialers }, checks: { 'test-held': {} }, run: { concurrency: 1 } }), { dns: new FakeDns(() => undefined), log: silentLogger });
      return alive;
    };
    // Act
    const few = await aliveAfter(100);
    const many = await aliveAfter(5_000);
    // Assess: 4,900 more targets, and not even one promise more per target.
    expect(many - few).toBeLessThan(500);
  });

  it('when the budget ends, what never started is one CHECK_ERROR per check naming how many, not one per target', async () => {
    // Prepare: 500 targets of 50 ms each, 2 at a time, 300 ms of budget.
    register(testCheck('test-slow', async () => {
      await new Promise((r) => setTimeout(r, 50));
      return [];
    }));
    const dialers = Array.from({ length: 500 }, (_, i) => `d${String(i).padStart(3, '0')}.test`);
    const config = parseConfig({ targets: { dialers }, checks: { 'test-slow': {} }, run: { budget: '300ms', concurrency: 2 } });
    // Act
    const report = await runAudit(config, { dns: new FakeDns(() => undefined), log: silentLogger });
    // Assess
    const notRun = report.findings.filter((f) => f.target === 'test-slow');
    expect(notRun).toHaveLength(1);
    expect(notRun[0].message).toMatch(/^test-slow: 4\d\d targets not audited: the run budget of 0\.3 s was spent first \(d\d{3}\.test, /);
    expect(report.findings.length).toBeLessThanOrEqual(3);
    expect(report.summary.checks['test-slow'].targets).toBe(500);
  });
});
