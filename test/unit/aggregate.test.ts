// Measurements folded as they arrive: the numbers people read from a run (probes, failures, RTT
// quantiles) stay right however many targets fed them, and shards or vantages add up exactly.
import { describe, expect, it } from 'vitest';
import { aggregateMeasurements, Aggregator, combine, MAX_SERIES_PER_CHECK, mergeAggregates, quantile, RTT_BUCKETS, upDown } from '../../src/aggregate.ts';
import type { Measurement } from '../../src/types.ts';

const rtt = (target: string, seconds: number, server = 'pub1'): Measurement => ({ check: 'dns-consistency', target, metric: 'rtt_seconds', value: seconds, labels: { server, type: 'A' } });

describe('Aggregator', () => {
  it('folds every target of a check into one series per label set', () => {
    // Act
    const out = aggregateMeasurements([
      { check: 'dns-consistency', target: 'a.test', metric: 'up', value: 1, labels: { server: 'pub1' } },
      { check: 'dns-consistency', target: 'b.test', metric: 'up', value: 0, labels: { server: 'pub1' } },
      { check: 'dns-consistency', target: 'c.test', metric: 'up', value: 1, labels: { server: 'pub2' } },
    ]);
    // Assess
    expect(out.map((a) => `${a.labels.server} ${upDown(a).up}/${a.count}`)).toEqual(['pub1 1/2', 'pub2 1/1']);
    expect(out.every((a) => a.labels.target === undefined)).toBe(true);
  });

  it('keeps a subject the measurement named (a server) as the target label', () => {
    const agg = new Aggregator();
    agg.add({ check: 'stun-binding', target: 'stun:a:3478', metric: 'up', value: 1, labels: { transport: 'udp' } }, true);
    agg.add({ check: 'stun-binding', target: 'stun:b:3478', metric: 'up', value: 0, labels: { transport: 'udp' } }, true);
    expect(agg.result().map((a) => `${a.labels.target} ${a.sum}`)).toEqual(['stun:a:3478 1', 'stun:b:3478 0']);
  });

  it('stops growing when a check names a new subject per target: past the cap the subject is left out', () => {
    const agg = new Aggregator();
    for (let i = 0; i < MAX_SERIES_PER_CHECK + 100; i++) agg.add({ check: 'leaky', target: `d${i}.test`, metric: 'up', value: 1 }, true);
    const out = agg.result();
    expect(out).toHaveLength(MAX_SERIES_PER_CHECK + 1);
    expect(out.find((a) => a.labels.target === undefined)?.count).toBe(100);
  });

  it('exact quantiles while a series is small, histogram estimates within a bucket once it is large', () => {
    // Prepare
    const small = aggregateMeasurements([10, 20, 30, 40].map((ms, i) => rtt(`d${i}`, ms / 1000)))[0];
    const large = aggregateMeasurements(Array.from({ length: 10_000 }, (_, i) => rtt(`d${i}`, 0.001 + (i % 100) / 10_000)))[0];
    // Assess: nearest rank on the values; the estimate stays inside the bucket that holds the true value.
    expect(quantile(small, 0.5)).toBe(0.02);
    expect(quantile(small, 0.95)).toBe(0.04);
    expect(large.values).toBeUndefined();
    expect(large.buckets?.reduce((a, b) => a + b, 0)).toBe(10_000);
    const p50 = quantile(large, 0.5)!;
    expect(p50).toBeGreaterThan(0.005);
    expect(p50).toBeLessThanOrEqual(0.01);
    expect(quantile(large, 1)).toBeLessThanOrEqual(large.max);
    expect(large.buckets).toHaveLength(RTT_BUCKETS.length + 1);
  });

  it('combines two shards of a series exactly as one run would have counted them', () => {
    // Prepare
    const all = Array.from({ length: 300 }, (_, i) => rtt(`d${i}`, (i % 37) / 1000));
    const whole = aggregateMeasurements(all);
    const parts = [aggregateMeasurements(all.slice(0, 100)), aggregateMeasurements(all.slice(100))];
    // Act
    const merged = mergeAggregates(parts);
    // Assess
    expect(merged).toHaveLength(1);
    const { sum: s1, ...rest1 } = merged[0];
    const { sum: s2, ...rest2 } = whole[0];
    expect(rest1).toEqual(rest2);
    expect(s1).toBeCloseTo(s2, 9);
    expect(combine(parts[0][0], parts[1][0]).count).toBe(300);
  });

  it('keeps vantage points apart when asked to', () => {
    const a = aggregateMeasurements([rtt('x', 0.01)]);
    const b = aggregateMeasurements([rtt('x', 0.02)]);
    const merged = mergeAggregates([a, b], (i) => ({ vantage: ['eu', 'us'][i] }));
    expect(merged.map((m) => `${m.labels.vantage} ${m.max}`)).toEqual(['eu 0.01', 'us 0.02']);
  });
});
