// After a fix the report tells the truth: findings marked by what this run's fixer did and by the
// fix journal of earlier runs (src/fix/outcomes.ts, pure).
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { markFixOutcomes } from '../../src/fix/outcomes.ts';
import type { Finding, FixRecord } from '../../src/types.ts';

const NOW = Date.parse('2026-11-23T15:00:00Z');
const config = parseConfig({ targets: { dialers: ['acme.dialer.example.com'] }, checks: { 'ttl-policy': {} } });

const overPolicy: Finding = {
  check: 'ttl-policy',
  target: 'acme.dialer.example.com',
  severity: 'warning',
  code: 'TTL_ABOVE_POLICY',
  message: 'acme.dialer.example.com A has TTL 86400 s, above the 300 s policy',
  firstStep: 'Run `dialer-audit audit --config FILE --only ttl-policy --target acme.dialer.example.com --fix`: …',
  fix: { zoneId: 'Z1', zoneName: 'dialer.example.com', name: 'acme.dialer.example.com', type: 'A', fromTtl: 86400, toTtl: 300 },
};
const record = (status: FixRecord['status'], reason?: string): FixRecord => ({ zoneId: 'Z1', name: 'acme.dialer.example.com', type: 'A', setIdentifier: null, fromTtl: 86400, toTtl: 300, status, reason, changeId: 'C42' });

const staleTtl = (remainingTtl: number): Finding => ({
  check: 'dns-consistency',
  target: 'acme.dialer.example.com',
  severity: 'warning',
  code: 'DNS_TTL_STALE',
  resolver: 'pub2',
  message: 'A at pub2: cached with 23h left under an older TTL',
  evidence: { type: 'A', zoneTtl: 300, remainingTtl, flushUrl: 'https://flush.example/pub2' },
});

describe('markFixOutcomes', () => {
  it('a finding this run fixed is info, says fixed and when it is fully in effect — no "Run … --fix"', () => {
    // Act
    const [f] = markFixOutcomes({ findings: [overPolicy], fixes: [record('applied')], config, now: NOW });
    // Assess
    expect(f.severity).toBe('info');
    expect(f.message).toBe('fixed by this run: acme.dialer.example.com A TTL 86400 → 300 s applied (change C42); answers cached before keep the old TTL, so it is fully in effect at 2026-11-24 15:00 UTC');
    expect(f.firstStep).not.toContain('--fix');
    expect(f.evidence).toMatchObject({ fixStatus: 'applied', fullyInEffectAt: '2026-11-24T15:00:00.000Z' });
  });

  it('a planned (dry run), failed or protected fix leaves the finding as it was', () => {
    for (const r of [record('planned'), record('failed', 'InvalidChangeBatch: …'), record('refused', 'protected by fix.protect "acme*" (never changed, not even with --force)')]) {
      expect(markFixOutcomes({ findings: [overPolicy], fixes: [r], config, now: NOW })).toEqual([overPolicy]);
    }
  });

  it('a plan a safety limit refused says how to review and --force it, not to fix names one by one', () => {
    const reason = 'plan refused: 4 of 10 record sets (40 %) in zone dialer.example.com, over fix.maxPercent 30 %; rerun with --fix --force to apply it anyway, or raise the limit';
    const [f] = markFixOutcomes({ findings: [overPolicy], fixes: [record('refused', reason)], config, now: NOW });
    expect(f.severity).toBe('warning');
    expect(f.firstStep).toBe(
      "The fixer refused this run's TTL plan: 4 of 10 record sets (40 %) in zone dialer.example.com, over fix.maxPercent 30 %. " +
        'Review the whole plan with `dialer-audit audit --config FILE --only ttl-policy` (it changes nothing), then apply it in one go with ' +
        '`dialer-audit audit --config FILE --only ttl-policy --fix --force`, or raise fix.maxPercent / fix.maxChanges. ' +
        'Fixing names one by one with --target does not get round the limit: every change within fix.window counts.',
    );
    expect(f.firstStep).not.toContain('--target acme');
  });

  it('DNS_TTL_STALE from a TTL --fix lowered is info with "fully in effect at"', () => {
    // Prepare: --fix lowered 86400 → 300 an hour ago; pub2 cached it 10 minutes before that.
    const at = NOW - 3_600_000;
    const journal = { entries: [{ zoneId: 'Z1', name: 'acme.dialer.example.com', type: 'A', setIdentifier: null, fromTtl: 86400, toTtl: 300, at: new Date(at).toISOString() }] };
    // Act
    const [f] = markFixOutcomes({ findings: [staleTtl(86400 - 4200)], fixes: [], journal, config, now: NOW });
    // Assess
    expect(f.severity).toBe('info');
    expect(f.message).toBe('A at pub2: still counting down the 86400 s TTL it cached before --fix lowered it to 300 s at 2026-11-23 14:00 UTC; fully in effect at 2026-11-24 14:00 UTC');
    expect(f.firstStep).toContain('https://flush.example/pub2');
  });

  it('a TTL counted down from after our change, or of another record, stays a warning', () => {
    const journal = { entries: [{ zoneId: 'Z1', name: 'acme.dialer.example.com', type: 'A', setIdentifier: null, fromTtl: 86400, toTtl: 300, at: new Date(NOW - 3_600_000).toISOString() }] };
    // More left than the old TTL allows since the change: someone else's long TTL, not ours.
    expect(markFixOutcomes({ findings: [staleTtl(86300)], fixes: [], journal, config, now: NOW })[0].severity).toBe('warning');
    expect(markFixOutcomes({ findings: [{ ...staleTtl(80000), target: 'beta.dialer.example.com' }], fixes: [], journal, config, now: NOW })[0].severity).toBe('warning');
  });
});
