// The carrier scorecard: success ratio, p50/p95 RTT and timeouts per carrier, from a report's aggregates.
import { describe, expect, it } from 'vitest';
import { aggregateMeasurements } from '../../src/aggregate.ts';
import { formatScorecardMarkdown, formatScorecardText, scorecard } from '../../src/report/scorecard.ts';
import type { Measurement } from '../../src/types.ts';

function probe(carrier: string, transport: string, outcome: { rttMs?: number; up: boolean; timeout?: boolean }): Measurement[] {
  const labels = { carrier, transport, size: '500' };
  const out: Measurement[] = [
    { check: 'sip-options', target: carrier, metric: 'up', value: outcome.up ? 1 : 0, labels },
    { check: 'sip-options', target: carrier, metric: 'timeouts', value: outcome.timeout ? 1 : 0, labels },
  ];
  if (outcome.rttMs !== undefined) out.push({ check: 'sip-options', target: carrier, metric: 'rtt_seconds', value: outcome.rttMs / 1000, labels });
  return out;
}

const measurements: Measurement[] = [
  ...[10, 20, 30, 40].flatMap((rttMs) => probe('voxbone', 'udp', { rttMs, up: true })),
  ...[12, 14].flatMap((rttMs) => probe('twilio', 'tcp', { rttMs, up: true })),
  ...[15].flatMap((rttMs) => probe('twilio', 'udp', { rttMs, up: true })),
  ...probe('twilio', 'udp', { up: false, timeout: true }),
  ...probe('twilio', 'udp', { up: false, timeout: true }),
  // Another check's numbers are not the scorecard's business.
  { check: 'stun-binding', target: 'stun:x', metric: 'up', value: 0 },
];
const aggregates = aggregateMeasurements(measurements);

describe('scorecard', () => {
  it('computes per-carrier success, RTT percentiles and timeouts, worst carrier first', () => {
    // Act
    const rows = scorecard(aggregates);
    // Assess
    expect(rows.map((r) => r.carrier)).toEqual(['twilio', 'voxbone']);
    expect(rows[0]).toEqual({
      carrier: 'twilio',
      probes: 5,
      successes: 3,
      successRatio: 0.6,
      p50RttMs: 14,
      p95RttMs: 15,
      timeouts: 2,
      transports: [
        { transport: 'udp', probes: 3, successes: 1 },
        { transport: 'tcp', probes: 2, successes: 2 },
      ],
    });
    expect(rows[1]).toMatchObject({ successRatio: 1, p50RttMs: 20, p95RttMs: 40, timeouts: 0 });
  });

  it('prints a text table and a Markdown table, and nothing without SIP probes', () => {
    const text = formatScorecardText(aggregates);
    expect(text).toContain('Carrier scorecard');
    expect(text).toMatch(/twilio\s+3\/5 \(60\.0%\)\s+14 ms\s+15 ms\s+2\s+udp 1\/3, tcp 2\/2/);
    const md = formatScorecardMarkdown(aggregates);
    expect(md).toContain('| Carrier | Success | p50 RTT | p95 RTT | Timeouts | By transport |');
    expect(md).toContain('| twilio | 3/5 (60.0%) | 14 ms | 15 ms | 2 | udp 1/3, tcp 2/2 |');
    expect(formatScorecardText([])).toBe('');
    expect(formatScorecardMarkdown(aggregateMeasurements([{ check: 'dns-consistency', target: 'x', metric: 'up', value: 1 }]))).toBe('');
  });

  it('shows a dash for the RTT of a carrier that never answered', () => {
    const md = formatScorecardMarkdown(aggregateMeasurements(probe('dead', 'udp', { up: false, timeout: true })));
    expect(md).toContain('| dead | 0/1 (0.0%) | – | – | 1 | udp 0/1 |');
  });
});
