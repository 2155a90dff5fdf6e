// The Route 53 inventory's record sets as routing variants (src/inventory/routing.ts).
import { describe, expect, it } from 'vitest';
import { route53Variants } from '../../src/inventory/routing.ts';
import type { Inventory, RecordSet } from '../../src/types.ts';

function inventory(recordSets: RecordSet[]): Inventory {
  return { dialers: [], zones: [{ zoneId: 'Z1', name: 'dialer.example.com', privateZone: false, recordSets, dialerRecordSets: recordSets }] };
}

const a = (name: string, value: string, extra: Partial<RecordSet> = {}): RecordSet => ({ Name: `${name}.`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: value }], ...extra });

describe('route53Variants', () => {
  it('one variant per record set, named by its set identifier and policy', () => {
    // Prepare: every routing policy Route 53 has, at one name each.
    const inv = inventory([
      a('w.dialer.example.com', '192.0.2.1', { SetIdentifier: 'w1', Weight: 50 }),
      a('w.dialer.example.com', '192.0.2.2', { SetIdentifier: 'w2', Weight: 50 }),
      a('l.dialer.example.com', '192.0.2.3', { SetIdentifier: 'use1', Region: 'us-east-1' }),
      a('g.dialer.example.com', '192.0.2.4', { SetIdentifier: 'de', GeoLocation: { CountryCode: 'DE' } }),
      a('p.dialer.example.com', '192.0.2.5', { SetIdentifier: 'near', GeoProximityLocation: { AWSRegion: 'eu-west-1', Bias: 0 } }),
      a('c.dialer.example.com', '192.0.2.6', { SetIdentifier: 'office', CidrRoutingConfig: { CollectionId: 'c-1', LocationName: 'office' } }),
      a('f.dialer.example.com', '192.0.2.7', { SetIdentifier: 'primary', Failover: 'PRIMARY' }),
      a('m.dialer.example.com', '192.0.2.8', { SetIdentifier: 'm1', MultiValueAnswer: true }),
      a('s.dialer.example.com', '192.0.2.9'),
    ]);
    // Act
    const policies = ['w', 'l', 'g', 'p', 'c', 'f', 'm', 's'].map((n) => route53Variants(inv, `${n}.dialer.example.com`, 'A')!.map((v) => `${v.label}:${v.policy}:${v.values.join(',')}`).join(' '));
    // Assess
    expect(policies).toEqual([
      'w1:weighted:192.0.2.1 w2:weighted:192.0.2.2',
      'use1:latency:192.0.2.3',
      'de:geolocation:192.0.2.4',
      'near:geoproximity:192.0.2.5',
      'office:cidr:192.0.2.6',
      'primary:failover:192.0.2.7',
      'm1:multivalue:192.0.2.8',
      'simple:simple:192.0.2.9',
    ]);
  });

  it('a name outside the inventory has no variants; a name with other types only has none of this type', () => {
    const inv = inventory([a('s.dialer.example.com', '192.0.2.9')]);
    expect(route53Variants(inv, 'elsewhere.example.org', 'A')).toBeUndefined();
    expect(route53Variants(inv, 's.dialer.example.com', 'AAAA')).toBeUndefined();
  });

  it('CNAME sets are variants by target; aliases inside the zone are followed, others stay open', () => {
    const inv = inventory([
      { Name: 'blue.dialer.example.com.', Type: 'CNAME', TTL: 60, SetIdentifier: 'blue', Weight: 90, ResourceRecords: [{ Value: 'Pool-Blue.LB.example.' }] },
      a('pool.dialer.example.com', '192.0.2.20'),
      { Name: 'inside.dialer.example.com.', Type: 'A', AliasTarget: { HostedZoneId: 'Z1', DNSName: 'pool.dialer.example.com.', EvaluateTargetHealth: false } },
      { Name: 'elb.dialer.example.com.', Type: 'A', AliasTarget: { HostedZoneId: 'Z35SXDOTRQ7X7K', DNSName: 'dualstack.lb-1.us-east-1.elb.amazonaws.com.', EvaluateTargetHealth: true } },
    ]);
    expect(route53Variants(inv, 'blue.dialer.example.com', 'A')).toEqual([{ label: 'blue', policy: 'weighted', cname: 'pool-blue.lb.example', values: [], ttl: 60 }]);
    expect(route53Variants(inv, 'inside.dialer.example.com', 'A')).toEqual([{ label: 'simple → pool.dialer.example.com', policy: 'simple', values: ['192.0.2.20'], ttl: 60 }]);
    expect(route53Variants(inv, 'elb.dialer.example.com', 'A')).toEqual([{ label: 'simple', policy: 'simple', values: [], aliasTo: 'dualstack.lb-1.us-east-1.elb.amazonaws.com' }]);
  });

  it('values are written the way the DNS client reports them, and a wildcard answers for names without sets', () => {
    const inv = inventory([
      { Name: '\\052.dialer.example.com.', Type: 'AAAA', TTL: 60, ResourceRecords: [{ Value: '2001:0DB8:0000:0000:0000:0000:0000:0001' }] },
      { Name: 'txt.dialer.example.com.', Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: '"v=spf1 " "-all"' }] },
    ]);
    expect(route53Variants(inv, 'any.dialer.example.com', 'AAAA')?.[0].values).toEqual(['2001:db8::1']);
    expect(route53Variants(inv, 'txt.dialer.example.com', 'TXT')?.[0].values).toEqual(['v=spf1 -all']);
  });
});
