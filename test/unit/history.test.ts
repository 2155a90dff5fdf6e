// The run history's records and day documents (pure): what a run leaves, how a day stores it
// (finding keys once a day), and the size cap.
import { describe, expect, it } from 'vitest';
import { appendRun, dayExpiresAt, daysBetween, emptyDay, encodeDay, historyRecord, MAX_RECORD_FINDINGS, parseDay, unpackDay } from '../../src/history/record.ts';
import { gunzipSync } from 'node:zlib';
import { fleetReport } from '../fixtures/status-fleet.ts';

describe('historyRecord', () => {
  it('folds the aggregates per check × server/carrier/URI × transport or kind, with up/down and RTT quantiles', () => {
    // Prepare
    const report = fleetReport({ dialers: 1000, stale: 3 });
    // Act
    const record = historyRecord(report);
    // Assess
    const key = (s: (typeof record.series)[number]) => `${s.check} ${s.subject} ${s.via ?? ''}`;
    expect(record.series.map(key)).toEqual([
      'dns-consistency dead resolver',
      'dns-consistency knot authoritative',
      'dns-consistency pub1 resolver',
      'dns-consistency pub2 resolver',
      'dns-consistency pub3 resolver',
      'sip-options carrier-a tcp',
      'sip-options carrier-a udp',
      'sip-options carrier-dead tcp',
      'sip-options carrier-dead udp',
      'stun-binding stun:stun.example.com:3478 udp',
    ]);
    const pub1 = record.series.find((s) => s.subject === 'pub1')!;
    expect([pub1.up, pub1.down]).toEqual([997, 3]);
    expect(pub1.p50Ms).toBeGreaterThan(0.3);
    expect(pub1.p95Ms).toBeLessThan(1.1);
    expect(record.series.find((s) => s.subject === 'carrier-a' && s.via === 'udp')).toMatchObject({ up: 1, down: 0, p50Ms: 12.3 });
    expect(record.counts).toEqual({ critical: 4, warning: 2, info: 0 });
    expect(record.byCode).toEqual({ DNS_MISMATCH: 3, DNS_TIMEOUT: 1, SIP_TIMEOUT: 1, TTL_ABOVE_POLICY: 1 });
    expect(record.findings[0]).toEqual({ check: 'dns-consistency', target: 'd00001.dialer.example.com', code: 'DNS_MISMATCH', resolver: 'pub1', severity: 'critical' });
    expect(record.vantage).toBe('eu-central-1');
    expect(record.durationMs).toBe(90_000);
  });

  it('keeps the worst findings past the cap and counts the rest', () => {
    const report = fleetReport({ dialers: 5000, stale: 300 });
    const record = historyRecord(report);
    expect(record.findings).toHaveLength(MAX_RECORD_FINDINGS);
    expect(record.findings.every((f) => f.severity === 'critical')).toBe(true);
    expect(record.moreFindings).toBe(report.findings.length - MAX_RECORD_FINDINGS);
    expect(record.byCode.DNS_MISMATCH).toBe(300);
  });
});

describe('day documents', () => {
  it('store each finding key once a day and give the records back as they were', () => {
    // Prepare
    const runs = [0, 1, 2].map((i) => historyRecord(fleetReport({ dialers: 100, stale: 2, runId: `r${i}`, finishedAt: Date.parse('2026-11-23T10:00:00Z') + i * 300_000 })));
    // Act
    let day = emptyDay('2026-11-23');
    for (const r of runs) day = appendRun(day, r).day;
    const stored = parseDay(gunzipSync(encodeDay(day)).toString('utf8'), 'test');
    // Assess
    expect(stored.findings).toHaveLength(5);
    expect(unpackDay(stored)).toEqual(runs);
  });

  it('past the size cap a run is kept without its finding keys, then dropped and counted', () => {
    // Prepare: a cap that fits about one run with keys.
    const run = (i: number) => historyRecord(fleetReport({ dialers: 1000, stale: 150, runId: `r${i}` }));
    const first = appendRun(emptyDay('2026-11-23'), run(0), 100_000);
    const cap = first.bytes.length + 600;
    // Act: the second run's findings are new keys (a day stores each key once).
    const renamed = run(1);
    const second = appendRun(first.day, { ...renamed, findings: renamed.findings.map((f) => ({ ...f, target: `moved-${f.target}` })) }, cap);
    const third = appendRun(second.day, { ...run(2), series: Array.from({ length: 2000 }, (_, i) => ({ check: 'x', subject: `s${i}`, up: i, down: 0 })) }, cap);
    // Assess
    expect(first.outcome).toBe('kept');
    expect(second.outcome).toBe('unkeyed');
    expect(unpackDay(second.day)[1]).toMatchObject({ runId: 'r1', findings: [], moreFindings: renamed.findings.length });
    expect(third.outcome).toBe('dropped');
    expect(third.day.runs).toHaveLength(2);
    expect(third.day.dropped).toBe(1);
    expect(third.bytes.length).toBeLessThanOrEqual(cap + 20);
  });

  it('rejects a stored day that is not one, naming the field', () => {
    expect(() => parseDay('{"schemaVersion":1,"day":"2026-11-23","findings":[],"runs":[{"id":3}]}', 'history/2026-11-23.json.gz')).toThrow(/history\/2026-11-23.json.gz: not a history day \(runs.0.id: /);
    expect(() => parseDay('not json', 'x')).toThrow('x: not JSON');
  });

  it('names the days of a window and when a day expires', () => {
    expect(daysBetween(Date.parse('2026-11-21T23:00:00Z'), Date.parse('2026-11-23T01:00:00Z'))).toEqual(['2026-11-21', '2026-11-22', '2026-11-23']);
    expect(new Date(dayExpiresAt('2026-11-23', 14 * 86_400_000)).toISOString()).toBe('2026-12-08T00:00:00.000Z');
  });
});
