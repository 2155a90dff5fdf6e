// The runner keeps what it learned: a crashing check or one that overruns the budget becomes a
// CHECK_ERROR finding and the rest of the run still reports.
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
});
