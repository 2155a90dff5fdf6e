// The pure verdicts behind the resolver findings: TTL clamps, DNSSEC evidence, alert history.
import { describe, expect, it } from 'vitest';
import { dsDigest, dsProblem, signatureProblems } from '../../src/dns/dnssec.ts';
import { judgeClamp } from '../../src/dns/ttl-clamp.ts';
import { keyTag, type DnsRecord } from '../../src/net/dns.ts';
import { fingerprint } from '../../src/state/fingerprint.ts';
import { withAlertHistory } from '../../src/state/history.ts';
import { emptyState } from '../../src/state/policy.ts';
import type { Finding } from '../../src/types.ts';

describe('judgeClamp: a made-up name asked twice', () => {
  it.each([
    ['an honest cache (fresh, then counting down)', { zoneTtl: 900, first: 900, second: 900, elapsedS: 0 }, undefined],
    ['unbound handing out its cached SOA (below the zone, steady)', { zoneTtl: 900, first: 512, second: 511, elapsedS: 1 }, undefined],
    ['pdns-recursor minimum-ttl-override 3600 (at once)', { zoneTtl: 900, first: 3600, second: 3600, elapsedS: 0 }, { kind: 'floor', ttl: 3600, zoneTtl: 900 }],
    ['dnsmasq min-cache-ttl 3600 (from the second ask)', { zoneTtl: 900, first: 900, second: 3599, elapsedS: 0 }, { kind: 'floor', ttl: 3599, zoneTtl: 900 }],
    ['dnsmasq max-ttl 60 (the second ask says less than the first just did)', { zoneTtl: 900, first: 900, second: 60, elapsedS: 0 }, { kind: 'cap', ttl: 60, zoneTtl: 900 }],
  ])('%s', (_what, probe, expected) => {
    expect(judgeClamp(probe)).toEqual(expected);
  });
});

// RFC 4034 §5.4: the DNSKEY of dskey.example.com and its DS.
const RFC4034_DNSKEY: DnsRecord = {
  name: 'dskey.example.com',
  type: 'DNSKEY',
  ttl: 86400,
  value:
    '256 3 5 AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==',
  fields: { flags: 256, algorithm: 5, keyTag: 60485 },
};
const RFC4034_DS: DnsRecord = {
  name: 'dskey.example.com',
  type: 'DS',
  ttl: 86400,
  value: '60485 5 1 2bb183af5f22588179a53b0a98631fad1a292118',
  fields: { keyTag: 60485, algorithm: 5, digestType: 1, digest: '2bb183af5f22588179a53b0a98631fad1a292118' },
};

describe('DNSSEC evidence', () => {
  it('computes the RFC 4034 key tag and DS digest', () => {
    const key = Buffer.from(RFC4034_DNSKEY.value.split(' ')[3], 'base64');
    expect(keyTag(256, 5, key)).toBe(60485);
    expect(dsDigest('dskey.example.com', RFC4034_DNSKEY, 1)).toBe('2bb183af5f22588179a53b0a98631fad1a292118');
  });

  it('a DS that matches the zone key is fine; one that matches no key is a DS mismatch', () => {
    expect(dsProblem('dskey.example.com', [RFC4034_DS], [RFC4034_DNSKEY])).toBeUndefined();
    const other = { ...RFC4034_DS, fields: { ...RFC4034_DS.fields!, keyTag: 12345 } };
    expect(dsProblem('dskey.example.com', [other], [RFC4034_DNSKEY])).toMatchObject({
      kind: 'ds-mismatch',
      detail: "the DS at the parent (key tag 12345) matches none of the zone's DNSKEYs (key tag 60485)",
    });
    const wrongDigest = { ...RFC4034_DS, fields: { ...RFC4034_DS.fields!, digest: '00'.repeat(20) } };
    expect(dsProblem('dskey.example.com', [wrongDigest], [RFC4034_DNSKEY])?.kind).toBe('ds-mismatch');
  });

  it('finds signatures that expired or are not valid yet', () => {
    const now = Date.parse('2026-12-02T12:00:00Z');
    const sig = (inception: string, expiration: string): DnsRecord => ({
      name: 'acme.expired.sec.test',
      type: 'RRSIG',
      ttl: 300,
      value: '',
      fields: { typeCovered: 'A', algorithm: 13, keyTag: 4242, signer: 'expired.sec.test', inception: Date.parse(inception) / 1000, expiration: Date.parse(expiration) / 1000 },
    });
    expect(signatureProblems([sig('2026-11-01T00:00:00Z', '2026-12-31T00:00:00Z')], now)).toEqual([]);
    expect(signatureProblems([sig('2026-11-01T00:00:00Z', '2026-12-01T06:00:00Z')], now)).toEqual([
      { kind: 'signature-expired', zone: 'expired.sec.test', detail: 'the RRSIG over acme.expired.sec.test A (key tag 4242) expired at 2026-12-01T06:00:00Z' },
    ]);
    expect(signatureProblems([sig('2026-12-05T00:00:00Z', '2027-01-01T00:00:00Z')], now)[0].kind).toBe('signature-not-yet-valid');
  });
});

describe('withAlertHistory', () => {
  const stale: Finding = {
    check: 'dns-consistency',
    target: 'acme.dialer.test',
    severity: 'critical',
    code: 'DNS_MISMATCH',
    resolver: 'dnsmasq-cap',
    message: 'A at dnsmasq-cap: …; dnsmasq-cap caps the TTLs it hands out at 60 s and may keep answers longer, so its remaining TTL cannot say when this ends',
    evidence: { staleEndUnknown: 'dnsmasq-cap caps …' },
  };

  it('says since when, and how many runs in a row, when the alert state knows the problem', () => {
    const state = emptyState();
    state.entries[fingerprint(stale)] = {
      ...stale,
      firstSeen: '2026-12-02T10:00:00.000Z',
      lastSeen: '2026-12-02T11:55:00.000Z',
      consecutiveFailures: 24,
      consecutiveSuccesses: 0,
      firing: true,
      told: {},
    };
    const [f] = withAlertHistory([stale], state, Date.parse('2026-12-02T12:00:00Z'));
    expect(f.evidence).toMatchObject({ staleSince: '2026-12-02T10:00:00.000Z', runsInARow: 25 });
    expect(f.message).toMatch(/; stale since 2026-12-02 10:00 UTC \(2h, 25 runs in a row\)$/);
  });

  it('leaves findings alone that the state does not know, or whose end their TTL does tell', () => {
    const bounded = { ...stale, evidence: { remainingTtl: 50 } };
    expect(withAlertHistory([stale, bounded], emptyState(), Date.now())).toEqual([stale, bounded]);
  });
});
