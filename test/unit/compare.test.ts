import { describe, expect, it } from 'vitest';
import { cachedUnderLongerTruthTtl, cachedUnderLongerTtl, compareWithTruth, compareWithZone, routingEvidence, shapeOf, type AnswerShape, type Variant } from '../../src/compare.ts';
import type { DnsRecord, DnsResult } from '../../src/net/dns.ts';
import { canonicalIp } from '../../src/address.ts';

function reply(rcode: string, answers: Partial<DnsRecord>[], authorities: Partial<DnsRecord>[] = []): DnsResult {
  const full = (r: Partial<DnsRecord>): DnsRecord => ({ name: 'acme.dialer.test', type: 'A', ttl: 300, value: '', ...r });
  return {
    ok: true,
    response: { rcode, authoritative: false, truncated: false, recursionAvailable: true, authenticated: false, extendedErrors: [], answers: answers.map(full), authorities: authorities.map(full), transport: 'udp', rttMs: 1, attempts: 1, bytes: 100 },
  };
}

const data = (values: string[], ttl = 300, cname?: string): AnswerShape => ({ status: 'data', values, ttl, cname });

describe('shapeOf', () => {
  it('follows a CNAME chain to the addresses and keeps the TTL of the queried name', () => {
    // Prepare
    const result = reply('NOERROR', [
      { name: 'lb.dialer.test', type: 'CNAME', ttl: 120, value: 'pool.elb.example' },
      { name: 'pool.elb.example', type: 'A', ttl: 30, value: '192.0.2.2' },
      { name: 'pool.elb.example', type: 'A', ttl: 30, value: '192.0.2.1' },
    ]);
    // Act
    const shape = shapeOf('lb.dialer.test.', 'A', result);
    // Assess
    expect(shape).toEqual({ status: 'data', cname: 'pool.elb.example', values: ['192.0.2.1', '192.0.2.2'], ttl: 120 });
  });

  it('tells NXDOMAIN and NODATA apart and keeps the negative TTL from the SOA', () => {
    const soa = { name: 'dialer.test', type: 'SOA', ttl: 900, value: 'ns1 admin 1 7200 900 1209600 86400' };
    expect(shapeOf('x.dialer.test', 'A', reply('NXDOMAIN', [], [soa]))).toEqual({ status: 'nxdomain', negativeTtl: 900 });
    expect(shapeOf('acme.dialer.test', 'AAAA', reply('NOERROR', [], [soa]))).toEqual({ status: 'nodata', negativeTtl: 900 });
  });

  it('turns SERVFAIL and failures into non-answers', () => {
    expect(shapeOf('acme.dialer.test', 'A', reply('SERVFAIL', []))).toEqual({ status: 'rcode', rcode: 'SERVFAIL' });
    expect(shapeOf('acme.dialer.test', 'A', { ok: false, kind: 'timeout', detail: 'timed out', attempts: 3 })).toMatchObject({ status: 'failed', kind: 'timeout' });
  });
});

describe('compareWithZone (the README rule)', () => {
  it('a stale address is a mismatch', () => {
    const verdict = compareWithZone([data(['192.0.2.9'])], data(['192.0.2.1'], 86000));
    expect(verdict).toMatchObject({ consistent: false, kind: 'mismatch' });
  });

  it('addresses behind a CNAME are never compared: a rotating load balancer raises no alarm', () => {
    // Prepare: the zone only holds the CNAME; two resolvers see different rotations of the pool.
    const zone = [data([], 300, 'pool.elb.example')];
    // Act
    const first = compareWithZone(zone, data(['192.0.2.1', '192.0.2.2'], 60, 'pool.elb.example'));
    const second = compareWithZone(zone, data(['198.51.100.7'], 60, 'pool.elb.example'));
    // Assess
    expect(first).toEqual({ consistent: true });
    expect(second).toEqual({ consistent: true });
  });

  it('a different CNAME target, or addresses where the zone has a CNAME, is a mismatch', () => {
    const zone = [data([], 300, 'pool.elb.example')];
    expect(compareWithZone(zone, data(['192.0.2.1'], 60, 'old-pool.elb.example'))).toMatchObject({ consistent: false, kind: 'mismatch' });
    expect(compareWithZone(zone, data(['192.0.2.1'], 60))).toMatchObject({ consistent: false, kind: 'mismatch' });
  });

  it('a subset of the zone’s addresses is fine (multivalue and weighted answers)', () => {
    expect(compareWithZone([data(['192.0.2.1', '192.0.2.2', '192.0.2.3'])], data(['192.0.2.2']))).toEqual({ consistent: true });
  });

  it('matching any one of disagreeing authoritative servers is enough', () => {
    expect(compareWithZone([data(['192.0.2.1']), data(['192.0.2.2'])], data(['192.0.2.2']))).toEqual({ consistent: true });
  });

  it('a cached negative answer for a name the zone has is NXDOMAIN / NODATA', () => {
    expect(compareWithZone([data(['192.0.2.1'])], { status: 'nxdomain', negativeTtl: 800 })).toMatchObject({ consistent: false, kind: 'nxdomain' });
    expect(compareWithZone([data(['192.0.2.1'])], { status: 'nodata' })).toMatchObject({ consistent: false, kind: 'nodata' });
  });

  it('agreeing negative answers are consistent; data for a deleted name is a mismatch', () => {
    expect(compareWithZone([{ status: 'nxdomain' }], { status: 'nxdomain' })).toEqual({ consistent: true });
    expect(compareWithZone([{ status: 'nodata' }], { status: 'nodata' })).toEqual({ consistent: true });
    expect(compareWithZone([{ status: 'nxdomain' }], data(['192.0.2.1']))).toMatchObject({ consistent: false, kind: 'mismatch' });
  });

  it('nothing to compare against is not a mismatch (no cry wolf when the zone is unreachable)', () => {
    expect(compareWithZone([{ status: 'failed', kind: 'timeout', detail: '' }], data(['192.0.2.1']))).toEqual({ consistent: true });
  });
});

describe('cachedUnderLongerTtl', () => {
  it('flags a remaining TTL well above the zone’s, allows a small minimum-TTL bump', () => {
    expect(cachedUnderLongerTtl([data(['192.0.2.1'], 300)], data(['192.0.2.1'], 86000))).toEqual({ zoneTtl: 300, remaining: 86000 });
    expect(cachedUnderLongerTtl([data(['192.0.2.1'], 300)], data(['192.0.2.1'], 299))).toBeUndefined();
    expect(cachedUnderLongerTtl([data(['192.0.2.1'], 0)], data(['192.0.2.1'], 30))).toBeUndefined();
  });
});

const variant = (label: string, policy: Variant['policy'], values: string[], ttl = 60): Variant => ({ label, policy, values, ttl });

describe('compareWithTruth: routing policies from Route 53', () => {
  const weighted = [variant('w1', 'weighted', ['192.0.2.1']), variant('w2', 'weighted', ['192.0.2.2'])];

  it('either weighted variant is consistent, whichever one the audit host was handed', () => {
    // Prepare: the authoritative server handed the audit host w1's value.
    const truth = { answers: [data(['192.0.2.1'])], variants: weighted };
    // Act / Assess
    expect(compareWithTruth(truth, data(['192.0.2.1']))).toEqual({ consistent: true });
    expect(compareWithTruth(truth, data(['192.0.2.2']))).toEqual({ consistent: true });
  });

  it('a value no variant holds is a mismatch whose reason names it and the variants', () => {
    const verdict = compareWithTruth({ answers: [data(['192.0.2.1'])], variants: weighted }, data(['192.0.2.9']));
    expect(verdict).toEqual({
      consistent: false,
      kind: 'mismatch',
      reason: 'the resolver hands out 192.0.2.9, which no variant of the zone holds (weighted: w1 192.0.2.1; w2 192.0.2.2)',
    });
  });

  it('values of two weighted sets together are no one variant: precise when Route 53 says so', () => {
    const verdict = compareWithTruth({ answers: [], variants: weighted }, data(['192.0.2.1', '192.0.2.2']));
    expect(verdict).toMatchObject({ consistent: false, kind: 'mismatch', reason: expect.stringContaining('together, which no single record set holds') });
  });

  it('multivalue: any subset of the union of the sets is consistent', () => {
    // Prepare: four multivalue sets of one value each; the resolver cached two of them.
    const truth = { answers: [data(['192.0.2.13', '192.0.2.14'])], variants: ['a', 'b', 'c', 'd'].map((l, i) => variant(l, 'multivalue', [`192.0.2.1${i + 1}`])) };
    // Act / Assess
    expect(compareWithTruth(truth, data(['192.0.2.11', '192.0.2.12']))).toEqual({ consistent: true });
    expect(compareWithTruth(truth, data(['192.0.2.11', '192.0.2.19']))).toMatchObject({ consistent: false, reason: expect.stringContaining('192.0.2.19, which no variant') });
  });

  it('geolocation, latency, CIDR and failover sets are each one legitimate answer', () => {
    const truth = {
      answers: [data(['192.0.2.21'])],
      variants: [variant('eu', 'geolocation', ['192.0.2.22']), variant('default', 'geolocation', ['192.0.2.21']), variant('us-east-1', 'latency', ['192.0.2.31']), variant('office', 'cidr', ['192.0.2.41']), variant('secondary', 'failover', ['192.0.2.51'])],
    };
    for (const v of ['192.0.2.22', '192.0.2.31', '192.0.2.41', '192.0.2.51']) expect(compareWithTruth(truth, data([v]))).toEqual({ consistent: true });
  });

  it('an alias to something outside the inventory hands out addresses nobody here knows: never compared', () => {
    const truth = { answers: [data(['198.51.100.1'])], variants: [{ label: 'simple', policy: 'simple' as const, values: [], aliasTo: 'lb-1.us-east-1.elb.amazonaws.com' }] };
    expect(compareWithTruth(truth, data(['198.51.100.77']))).toEqual({ consistent: true });
    expect(compareWithTruth({ ...truth, answers: [] }, { status: 'nxdomain' })).toMatchObject({ consistent: false, kind: 'nxdomain', reason: expect.stringContaining('alias to lb-1.us-east-1.elb.amazonaws.com') });
  });

  it('weighted CNAMEs: the resolver’s target must be one of the targets', () => {
    const truth = { answers: [], variants: [{ label: 'blue', policy: 'weighted' as const, cname: 'blue.lb.example', values: [] }, { label: 'green', policy: 'weighted' as const, cname: 'green.lb.example', values: [] }] };
    expect(compareWithTruth(truth, data(['192.0.2.1'], 60, 'green.lb.example'))).toEqual({ consistent: true });
    expect(compareWithTruth(truth, data(['192.0.2.1'], 60, 'red.lb.example'))).toMatchObject({ consistent: false, kind: 'mismatch' });
  });

  it('the evidence says the name is routed, with its policy and variants', () => {
    expect(routingEvidence({ answers: [], variants: weighted })).toEqual({ source: 'route53', policy: 'weighted', variants: ['w1 192.0.2.1', 'w2 192.0.2.2'] });
    expect(routingEvidence({ answers: [data(['192.0.2.1'])], variants: [variant('simple', 'simple', ['192.0.2.1'])] })).toBeUndefined();
  });

  it('the longest TTL of any variant bounds staleness', () => {
    const truth = { answers: [data(['192.0.2.1'], 60)], variants: [variant('w1', 'weighted', ['192.0.2.1'], 60), variant('w2', 'weighted', ['192.0.2.2'], 3600)] };
    expect(cachedUnderLongerTruthTtl(truth, data(['192.0.2.2'], 3000))).toBeUndefined();
    expect(cachedUnderLongerTruthTtl(truth, data(['192.0.2.2'], 80000))).toEqual({ zoneTtl: 3600, remaining: 80000 });
  });
});

describe('compareWithTruth: answers learned by asking (no inventory)', () => {
  it('a dynamic name: any value some answer held is consistent, together or not', () => {
    // Prepare: asked 6 times, the zone handed out 2 of 4 values each time.
    const truth = { answers: [data(['192.0.2.11', '192.0.2.12']), data(['192.0.2.13', '192.0.2.14'])], learned: { asks: 6 } };
    // Act / Assess
    expect(compareWithTruth(truth, data(['192.0.2.12', '192.0.2.13']))).toEqual({ consistent: true });
  });

  it('accuses only of values no learned answer holds, and says the name is routed', () => {
    const truth = { answers: [data(['192.0.2.1']), data(['192.0.2.2'])], learned: { asks: 5 }, egress: ['127.58.1.0/24'] };
    const verdict = compareWithTruth(truth, data(['192.0.2.9']));
    expect(verdict).toMatchObject({ consistent: false, kind: 'mismatch', reason: expect.stringContaining('192.0.2.9, which no variant of the zone holds (learned from 5 asks with client subnet 127.58.1.0/24') });
    expect(routingEvidence(truth)).toEqual({ source: 'learned', policy: 'dynamic', asks: 5, variants: ['192.0.2.1', '192.0.2.2'], egress: ['127.58.1.0/24'] });
  });

  it('a static name (one answer, asked again) keeps the plain rule: a stale address is a mismatch', () => {
    const verdict = compareWithTruth({ answers: [data(['192.0.2.9']), data(['192.0.2.9'])] }, data(['192.0.2.1']));
    expect(verdict).toEqual({ consistent: false, kind: 'mismatch', reason: 'the resolver hands out 192.0.2.1, the zone has 192.0.2.9' });
  });
});

describe('canonicalIp', () => {
  it.each([
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['fd00::1', 'fd00::1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
    ['192.0.2.1', '192.0.2.1'],
  ])('%s → %s', (input, expected) => expect(canonicalIp(input)).toBe(expected));
});
