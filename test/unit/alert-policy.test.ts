import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { fingerprint } from '../../src/state/fingerprint.ts';
import {
  applyPolicy,
  emptyState,
  recordDeliveries,
  recordReporterOutcomes,
  reporterFindings,
  type AlertState,
  type Notice,
  type PolicyInput,
} from '../../src/state/policy.ts';
import type { Finding } from '../../src/types.ts';

const MINUTE = 60_000;
const T0 = Date.parse('2026-11-23T12:00:00Z');

function alerting(over: Partial<PolicyInput['alerting']> = {}): PolicyInput['alerting'] {
  return { ...parseConfig({}).alerting, ...over };
}

const stale: Finding = {
  check: 'dns-consistency',
  target: 'acme.dialer.example.com',
  severity: 'warning',
  code: 'DNS_MISMATCH',
  message: 'acme.dialer.example.com A at google: 192.0.2.99, the zone has 192.0.2.10',
  firstStep: 'Flush the name at https://developers.google.com/speed/public-dns/cache',
  resolver: 'google',
};

/** Runs the policy over a list of runs, every reporter delivering unless told it is down. */
function simulate(
  runs: { findings: Finding[]; down?: string[]; at?: number }[],
  opts: { alerting?: PolicyInput['alerting']; channels?: string[]; state?: AlertState } = {},
) {
  const channels = opts.channels ?? ['slack'];
  let state = opts.state ?? emptyState();
  const sent: (Notice & { run: number; channel: string })[] = [];
  runs.forEach((run, i) => {
    const now = run.at ?? T0 + i * 5 * MINUTE;
    const result = applyPolicy(state, { findings: run.findings, now, alerting: opts.alerting ?? alerting(), channels });
    state = result.state;
    const deliveries = channels
      .filter((ch) => !(run.down ?? []).includes(ch))
      .map((channel) => ({ channel, notices: result.notices.filter((n) => n.channels.includes(channel)) }));
    for (const d of deliveries) for (const n of d.notices) sent.push({ ...n, run: i + 1, channel: d.channel });
    state = recordDeliveries(state, deliveries, now);
  });
  return { sent, state };
}

describe('alert policy', () => {
  it('fail, fail, fail, ok, ok, ok with thresholds 2/2 gives exactly one problem and one resolved notice', () => {
    // Prepare
    const f = [stale];
    // Act
    const { sent, state } = simulate([{ findings: f }, { findings: f }, { findings: f }, { findings: [] }, { findings: [] }, { findings: [] }], {
      alerting: alerting({ failureThreshold: 2, successThreshold: 2 }),
    });
    // Assess
    expect(sent.map((n) => [n.run, n.kind])).toEqual([
      [2, 'problem'],
      [5, 'resolved'],
    ]);
    expect(sent[0]).toMatchObject({ target: stale.target, code: 'DNS_MISMATCH', firstStep: stale.firstStep, consecutiveFailures: 2 });
    expect(Object.keys(state.entries)).toEqual([]);
  });

  it('tells a critical problem on its first run (criticalFailureThreshold 1)', () => {
    const { sent } = simulate([{ findings: [{ ...stale, severity: 'critical' }] }]);
    expect(sent.map((n) => [n.run, n.kind, n.severity])).toEqual([[1, 'problem', 'critical']]);
  });

  it('owes a notice that failed to the next run, for that reporter only', () => {
    // Slack is down when the problem notice is due; email works.
    const runs = [{ findings: [stale] }, { findings: [stale], down: ['slack'] }, { findings: [stale] }, { findings: [stale] }];
    const { sent } = simulate(runs, { channels: ['slack', 'email'] });
    expect(sent.map((n) => [n.run, n.channel, n.kind])).toEqual([
      [2, 'email', 'problem'],
      [3, 'slack', 'problem'],
    ]);
  });

  it('sends no resolved notice to a reporter that was never told of the problem', () => {
    const runs = [{ findings: [stale] }, { findings: [stale], down: ['slack'] }, { findings: [], down: ['slack'] }, { findings: [] }, { findings: [] }];
    const { sent, state } = simulate(runs, { channels: ['slack', 'email'] });
    expect(sent.map((n) => [n.run, n.channel, n.kind])).toEqual([
      [2, 'email', 'problem'],
      [4, 'email', 'resolved'],
    ]);
    expect(state.entries).toEqual({});
  });

  it('keeps owing a resolved notice until it is delivered', () => {
    const runs = [{ findings: [stale] }, { findings: [stale] }, { findings: [] }, { findings: [], down: ['slack'] }, { findings: [] }];
    const { sent } = simulate(runs);
    expect(sent.map((n) => [n.run, n.kind])).toEqual([
      [2, 'problem'],
      [5, 'resolved'],
    ]);
  });

  it('reminds every reminderInterval while the problem lasts, not before', () => {
    const hour = 60 * MINUTE;
    const at = [0, 5 * MINUTE, 2 * hour, 4 * hour, 4 * hour + 5 * MINUTE, 8 * hour + 5 * MINUTE].map((d) => T0 + d);
    const { sent } = simulate(at.map((t) => ({ findings: [stale], at: t })), { alerting: alerting({ reminderInterval: 4 * hour }) });
    expect(sent.map((n) => [n.run, n.kind])).toEqual([
      [2, 'problem'],
      [5, 'reminder'],
      [6, 'reminder'],
    ]);
  });

  it('tells a severity change once, with the severity it had', () => {
    const critical = { ...stale, severity: 'critical' as const };
    const { sent } = simulate([{ findings: [stale] }, { findings: [stale] }, { findings: [critical] }, { findings: [critical] }, { findings: [stale] }]);
    expect(sent.map((n) => [n.run, n.kind, n.severity, n.previousSeverity])).toEqual([
      [2, 'problem', 'warning', undefined],
      [3, 'severity-changed', 'critical', 'warning'],
      [5, 'severity-changed', 'warning', 'critical'],
    ]);
  });

  it('does not flap: one clean run between failures is not a resolution', () => {
    const f = [stale];
    const { sent } = simulate([{ findings: f }, { findings: f }, { findings: [] }, { findings: f }, { findings: [] }, { findings: f }, { findings: [] }, { findings: [] }]);
    expect(sent.map((n) => [n.run, n.kind])).toEqual([
      [2, 'problem'],
      [8, 'resolved'],
    ]);
  });

  it('forgets a problem that cleared before its threshold, without a notice', () => {
    const { sent, state } = simulate([{ findings: [stale] }, { findings: [] }, { findings: [stale] }, { findings: [] }]);
    expect(sent).toEqual([]);
    expect(state.entries).toEqual({});
  });

  it('never notifies findings below alerting.notifyOn', () => {
    const info = { ...stale, severity: 'info' as const };
    const { sent, state } = simulate([{ findings: [info] }, { findings: [info] }, { findings: [info] }]);
    expect(sent).toEqual([]);
    expect(state.entries).toEqual({});
  });

  it('holds what the run did not look at: another vantage, another check, a target whose check errored', () => {
    // Prepare: a firing problem of vantage "eu" and one of check "sip-options"
    const eu = { ...stale, vantage: 'eu' };
    const sip: Finding = { check: 'sip-options', target: 'carrier-a', severity: 'warning', code: 'SIP_TIMEOUT', message: 'no answer' };
    let state = simulate([{ findings: [eu] }, { findings: [eu] }]).state;
    state = simulate([{ findings: [sip] }, { findings: [sip] }], { state }).state;
    const errored: Finding = { check: 'sip-options', target: 'carrier-a', severity: 'warning', code: 'CHECK_ERROR', message: 'crashed' };
    // Act: runs from no vantage, with --only dns-consistency, then one where sip-options errored for carrier-a
    const only = applyPolicy(state, { findings: [], now: T0 + 60 * MINUTE, alerting: alerting(), channels: ['slack'], scope: { checks: ['dns-consistency'] } });
    const withError = applyPolicy(only.state, { findings: [errored], now: T0 + 65 * MINUTE, alerting: alerting(), channels: ['slack'] });
    // Assess
    expect(only.notices).toEqual([]);
    expect(withError.notices).toEqual([]);
    expect(withError.state.entries[fingerprint(eu)]).toMatchObject({ firing: true, consecutiveSuccesses: 0 });
    expect(withError.state.entries[fingerprint(sip)]).toMatchObject({ firing: true, consecutiveSuccesses: 0 });
  });

  it('holds every problem while a shard of the run did not report: its slice went unseen, nothing is resolved', () => {
    // Prepare: a firing problem; then two clean runs in which shard 3 of 4 failed.
    const firing = simulate([{ findings: [stale] }, { findings: [stale] }]).state;
    const lost: Finding = { check: 'shard', target: 'shard 3/4', severity: 'critical', code: 'SHARD_FAILED', message: 'shard 3 of 4 failed: Task timed out' };
    // Act
    const { sent, state } = simulate([{ findings: [lost] }, { findings: [lost] }], { state: firing, alerting: alerting({ successThreshold: 2 }) });
    // Assess: the lost shard itself is told; the problem it may hide is neither resolved nor counted clean.
    expect(sent.map((n) => `${n.kind} ${n.code}`)).toEqual(['problem SHARD_FAILED']);
    expect(state.entries[fingerprint(stale)]).toMatchObject({ firing: true, consecutiveSuccesses: 0 });
  });

  it('is pure: the input state is not changed', () => {
    const { state } = simulate([{ findings: [stale] }, { findings: [stale] }]);
    const before = structuredClone(state);
    applyPolicy(state, { findings: [], now: T0 + 99 * MINUTE, alerting: alerting(), channels: ['slack'] });
    recordDeliveries(state, [{ channel: 'slack', notices: [{ fingerprint: fingerprint(stale), kind: 'resolved', severity: 'warning' }] }], T0);
    expect(state).toEqual(before);
  });

  it('counts A and AAAA mismatches at one resolver as one problem', () => {
    const aaaa = { ...stale, message: 'acme.dialer.example.com AAAA at google: differs', severity: 'critical' as const };
    const result = applyPolicy(emptyState(), { findings: [stale, aaaa], now: T0, alerting: alerting(), channels: ['slack'] });
    expect(result.notices).toHaveLength(1);
    expect(result.notices[0]).toMatchObject({ severity: 'critical', message: aaaa.message });
  });

  it('turns a reporter that keeps failing into a REPORTER_FAILED notice for the other reporters only', () => {
    // Prepare: slack failed in two runs
    let state = emptyState();
    state = recordReporterOutcomes(state, [{ reporter: 'slack', error: 'Slack answered HTTP 500' }, { reporter: 'email' }], undefined, T0);
    const first = applyPolicy(state, { findings: reporterFindings(state, undefined, ['slack', 'email']), now: T0 + 5 * MINUTE, alerting: alerting(), channels: ['slack', 'email'] });
    state = recordReporterOutcomes(first.state, [{ reporter: 'slack', error: 'Slack answered HTTP 500' }], undefined, T0 + 5 * MINUTE);
    // Act
    const second = applyPolicy(state, { findings: reporterFindings(state, undefined, ['slack', 'email']), now: T0 + 10 * MINUTE, alerting: alerting(), channels: ['slack', 'email'] });
    // Assess
    expect(first.notices).toEqual([]);
    expect(second.notices).toHaveLength(1);
    expect(second.notices[0]).toMatchObject({ kind: 'problem', code: 'REPORTER_FAILED', target: 'slack', channels: ['email'] });
    expect(second.notices[0].message).toContain('HTTP 500');
  });
});

describe('fingerprint', () => {
  it('ignores the message and tells resolvers and vantages apart', () => {
    const reworded: Finding = { ...stale, message: 'another wording, 12 s left' };
    expect(fingerprint(stale)).toBe(fingerprint(reworded));
    expect(fingerprint(stale)).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprint(stale)).not.toBe(fingerprint({ ...stale, resolver: 'cloudflare' }));
    expect(fingerprint(stale)).not.toBe(fingerprint({ ...stale, vantage: 'eu-west-1' }));
    expect(fingerprint({ ...stale, resolver: undefined })).not.toBe(fingerprint({ ...stale, resolver: '' }));
  });
});
