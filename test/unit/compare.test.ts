import { describe, expect, it } from 'vitest';
import { cachedUnderLongerTtl, compareWithZone, shapeOf, type AnswerShape } from '../../src/compare.ts';
import type { DnsRecord, DnsResult } from '../../src/net/dns.ts';
import { normalizeIPv6 } from '../../src/net/dns.ts';

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

describe('normalizeIPv6', () => {
  it.each([
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['fd00::1', 'fd00::1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
    ['192.0.2.1', '192.0.2.1'],
  ])('%s → %s', (input, expected) => expect(normalizeIPv6(input)).toBe(expected));
});
