// The sip-options check end to end through runAudit, with a scripted SIP client and DNS client:
// RFC 3263 resolution, DNS mismatches, the findings' words, folding, routes, measurements.
// (test/integration/sip-*.test.ts do the same against SIPp, a DNS lab and network namespaces.)
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { ConfigError, parseConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import type { DnsRecord } from '../../src/net/dns.ts';
import type { SipClient, SipProbe, SipProbeResult } from '../../src/net/sip.ts';
import { answer, FakeDns, type Script } from '../support/fake-dns.ts';

type SipScript = (p: SipProbe) => Partial<SipProbeResult> | undefined;

/** Answers 200 OK in 20 ms unless the script says otherwise. */
class FakeSip implements SipClient {
  readonly probes: SipProbe[] = [];
  constructor(private readonly script: SipScript = () => undefined) {}
  async options(p: SipProbe): Promise<SipProbeResult> {
    this.probes.push(p);
    const bytesSent = p.padTo ?? 420;
    const base = { transport: p.transport, address: p.address, port: p.port, bytesSent, sends: 1 };
    return { ...base, outcome: 'answered', rttMs: 20, response: { status: 200, reason: 'OK', server: 'fake' }, ...this.script(p) };
  }
}

const timeout = (p: SipProbe): Partial<SipProbeResult> => ({ outcome: 'timeout', response: undefined, rttMs: undefined, sends: 5, detail: `no response to 5 transmissions within ${p.timeoutMs} ms` });

async function audit(raw: Record<string, unknown>, sip: FakeSip, dns: Script = () => undefined) {
  const config = parseConfig(raw);
  return runAudit(config, { dns: new FakeDns(dns), log: silentLogger, sip });
}

const codes = (r: { findings: { code: string }[] }) => r.findings.map((f) => f.code).sort();

describe('sip-options over literal addresses', () => {
  it('a healthy carrier gives no findings and a scorecard’s worth of measurements', async () => {
    // Prepare
    const sip = new FakeSip();
    // Act
    const report = await audit({ carriers: [{ name: 'lab', uri: '192.0.2.10:5060', transports: ['udp', 'tcp'] }], checks: { 'sip-options': {} } }, sip);
    // Assess
    expect(report.findings).toEqual([]);
    // UDP at six sizes, TCP plain and at the largest size.
    expect(sip.probes.filter((p) => p.transport === 'udp').map((p) => p.padTo)).toEqual([500, 1300, 1472, 1600, 1800, 3000]);
    expect(sip.probes.filter((p) => p.transport === 'tcp').map((p) => p.padTo)).toEqual([500, 3000]);
    expect(sip.probes[0]).toMatchObject({ requestUri: 'sip:192.0.2.10:5060', fromUser: 'dialer-audit', t1Ms: 500, t2Ms: 4000 });
    // Folded per carrier, transport, size and address; a healthy carrier keeps no per-probe detail.
    const up = report.aggregates.filter((a) => a.metric === 'up');
    expect(up.reduce((n, a) => n + a.count, 0)).toBe(8);
    expect(up[0]).toMatchObject({ check: 'sip-options', count: 1, sum: 1, labels: { carrier: 'lab', address: '192.0.2.10:5060' } });
    expect(report.measurements).toEqual([]);
  });

  it('INC-979: UDP loses requests above 1472 bytes, TCP carries them → SIP_FRAGMENTATION_BLACKHOLE with the advice', async () => {
    // Prepare
    const sip = new FakeSip((p) => (p.transport === 'udp' && (p.padTo ?? 0) > 1472 ? timeout(p) : undefined));
    // Act
    const report = await audit({ carriers: [{ name: 'twilio', uri: '192.0.2.10:5060', transports: ['udp', 'tcp'] }], checks: { 'sip-options': { timeout: '2s' } } }, sip);
    // Assess
    expect(codes(report)).toEqual(['SIP_FRAGMENTATION_BLACKHOLE']);
    const [f] = report.findings;
    expect(f).toMatchObject({ severity: 'critical', target: 'twilio/udp' });
    expect(f.message).toContain('loses requests above 1472 bytes');
    expect(f.firstStep).toContain('UDP to twilio loses requests above 1472 bytes; TCP works — move the trunk to TCP');
    expect(f.firstStep).toContain('RFC 3261 §18.1.1');
    expect(f.evidence).toMatchObject({ largestPassed: 1472, smallestLost: 1600, lostSizes: [1600, 1800, 3000], carrierWorks: true });
    // The scorecard still counts the lost probes as timeouts.
    expect(report.measurements.filter((m) => m.metric === 'timeouts' && m.value === 1)).toHaveLength(3);
  });

  it('large requests lost over TCP too → SIP_LARGE_REQUEST_LOST', async () => {
    const sip = new FakeSip((p) => ((p.padTo ?? 0) > 1472 ? timeout(p) : undefined));
    const report = await audit({ carriers: [{ name: 'bics', uri: '192.0.2.10:5060', transports: ['udp', 'tcp'] }], checks: { 'sip-options': {} } }, sip);
    expect(codes(report)).toEqual(['SIP_LARGE_REQUEST_LOST']);
    expect(report.findings[0].firstStep).toContain('not IP fragmentation');
  });

  it('names each failure: timeout, refusal, TLS, 503, slowness, garbage', async () => {
    // Prepare: one carrier per failure.
    const sip = new FakeSip((p) => {
      switch (p.address) {
        case '192.0.2.1':
          return timeout(p);
        case '192.0.2.2':
          return { outcome: 'unavailable', response: undefined, stage: 'connect', detail: 'connection refused: nothing listens on TCP 192.0.2.2:5060' };
        case '192.0.2.3':
          return { outcome: 'unavailable', response: undefined, stage: 'tls', detail: 'the TLS certificate is not trusted: DEPTH_ZERO_SELF_SIGNED_CERT' };
        case '192.0.2.4':
          return { response: { status: 503, reason: 'Service Unavailable', retryAfter: '30' } };
        case '192.0.2.5':
          return { rttMs: 1800, sends: 2 };
        case '192.0.2.6':
          return { outcome: 'malformed', response: undefined, detail: 'the TCP reply is not SIP', sample: 'HTTP/1.1 400' };
      }
      return undefined;
    });
    const carriers = [
      { name: 'silent', uri: '192.0.2.1:5060' },
      { name: 'refusing', uri: '192.0.2.2:5060', transports: ['tcp'] },
      { name: 'selfsigned', uri: '192.0.2.3:5061', transports: ['tls'] },
      { name: 'overloaded', uri: '192.0.2.4:5060' },
      { name: 'slow', uri: '192.0.2.5:5060' },
      { name: 'confused', uri: '192.0.2.6:5060', transports: ['tcp'] },
    ];
    // Act
    const report = await audit({ carriers, checks: { 'sip-options': { fragmentation: false } } }, sip);
    // Assess
    const byTarget = Object.fromEntries(report.findings.map((f) => [f.target, f]));
    expect(byTarget['silent/udp']).toMatchObject({ code: 'SIP_TIMEOUT', severity: 'critical' });
    expect(byTarget['silent/udp'].firstStep).toContain('No SIP answer from silent over UDP at 192.0.2.1:5060');
    expect(byTarget['refusing/tcp']).toMatchObject({ code: 'SIP_TRANSPORT_UNAVAILABLE', severity: 'critical' });
    expect(byTarget['refusing/tcp'].message).toContain('connection refused');
    expect(byTarget['selfsigned/tls']).toMatchObject({ code: 'SIP_TRANSPORT_UNAVAILABLE' });
    expect(byTarget['selfsigned/tls'].firstStep).toContain('TLS handshake');
    expect(byTarget['overloaded/udp']).toMatchObject({ code: 'SIP_ERROR_RESPONSE', severity: 'critical' });
    expect(byTarget['overloaded/udp'].message).toContain('503 Service Unavailable');
    expect(byTarget['overloaded/udp'].message).toContain('Retry-After 30');
    expect(byTarget['slow/udp']).toMatchObject({ code: 'SIP_SLOW', severity: 'warning' });
    expect(byTarget['slow/udp'].message).toContain('after 1 retransmission');
    expect(byTarget['confused/tcp']).toMatchObject({ code: 'SIP_MALFORMED_RESPONSE', evidence: { sample: 'HTTP/1.1 400' } });
    for (const f of report.findings) expect(f.firstStep, f.code).toBeTruthy();
    expect(report.findings).toHaveLength(6);
  });

  it('folds the same failure at several addresses into one finding per carrier and transport', async () => {
    // Prepare: the carrier's name resolves to two addresses; both time out.
    const sip = new FakeSip(timeout);
    const dns: Script = (q) =>
      q.type === 'A' && q.name === 'sbc.carrier.example' ? answer('NOERROR', [{ name: q.name, type: 'A', value: '192.0.2.21' }, { name: q.name, type: 'A', value: '192.0.2.22' }]) : undefined;
    // Act
    const report = await audit(
      { resolvers: [{ name: 'r1', address: '127.0.0.1:5353' }], carriers: [{ name: 'twin', uri: 'sip:sbc.carrier.example:5060' }], checks: { 'sip-options': { fragmentation: false } } },
      sip,
      dns,
    );
    // Assess
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0].message).toMatch(/^twin over UDP \(2 of 2 addresses\): 192\.0\.2\.21:5060: .*; 192\.0\.2\.22:5060: /);
    expect(report.findings[0].evidence?.endpoints).toHaveLength(2);
  });
});

describe('sip-options resolves carrier names as RFC 3263 says', () => {
  const AUTH = '127.0.0.10:53';
  const zone: Record<string, Partial<DnsRecord>[]> = {
    'trunk.example NAPTR': [
      { type: 'NAPTR', value: 'n1', fields: { order: 10, preference: 50, flags: 's', services: 'SIP+D2U', regexp: '', replacement: '_sip._udp.trunk.example' } },
      { type: 'NAPTR', value: 'n2', fields: { order: 20, preference: 50, flags: 's', services: 'SIP+D2T', regexp: '', replacement: '_sip._tcp.trunk.example' } },
    ],
    '_sip._udp.trunk.example SRV': [{ type: 'SRV', value: '0 5 5080 edge1.trunk.example', fields: { priority: 0, weight: 5, port: 5080, target: 'edge1.trunk.example' } }],
    '_sip._tcp.trunk.example SRV': [{ type: 'SRV', value: '0 5 5090 edge2.trunk.example', fields: { priority: 0, weight: 5, port: 5090, target: 'edge2.trunk.example' } }],
    '_sips._tcp.trunk.example SRV': [],
    'edge1.trunk.example A': [{ type: 'A', value: '192.0.2.31' }],
    'edge2.trunk.example A': [{ type: 'A', value: '192.0.2.32' }],
    'trunk.example A': [{ type: 'A', value: '192.0.2.30' }],
  };
  const lookup =
    (override: Script = () => undefined): Script =>
    (q) => {
      const own = override(q);
      if (own) return own;
      const records = zone[`${q.name} ${q.type}`];
      if (!records) return answer('NXDOMAIN', [], { aa: q.at === AUTH });
      return answer('NOERROR', records.map((r) => ({ name: q.name, ...r })), { aa: q.at === AUTH });
    };
  const config = (transports: string[]) => ({
    resolvers: [
      { name: 'google', address: '8.8.8.8' },
      { name: 'cloudflare', address: '1.1.1.1' },
    ],
    authoritative: [{ name: 'ns1', address: AUTH }],
    carriers: [{ name: 'trunk', uri: 'sip:trunk.example', transports }],
    checks: { 'sip-options': { fragmentation: false } },
  });

  it('follows NAPTR to SRV to A per transport, and falls back to the host for a transport without NAPTR/SRV', async () => {
    // Prepare
    const sip = new FakeSip();
    // Act
    const report = await audit(config(['udp', 'tcp', 'tls']), sip, lookup());
    // Assess
    expect(report.findings).toEqual([]);
    expect(sip.probes.map((p) => `${p.transport} ${p.address}:${p.port}`).sort()).toEqual(['tcp 192.0.2.32:5090', 'tls 192.0.2.30:5061', 'udp 192.0.2.31:5080']);
    expect(sip.probes[0].requestUri).toBe('sip:trunk.example');
    expect(sip.probes.find((p) => p.transport === 'tls')?.tls).toEqual({ servername: 'trunk.example', insecure: false });
  });

  it('a resolver handing out another SRV target address is SIP_DNS_MISMATCH; probes follow the zone', async () => {
    // Prepare: cloudflare still has edge1's old address.
    const sip = new FakeSip();
    const stale: Script = (q) =>
      q.at === '1.1.1.1:53' && q.name === 'edge1.trunk.example' && q.type === 'A' ? answer('NOERROR', [{ name: q.name, type: 'A', ttl: 3000, value: '198.51.100.9' }]) : undefined;
    // Act
    const report = await audit(config(['udp']), sip, lookup(stale));
    // Assess
    expect(report.findings).toHaveLength(1);
    const [f] = report.findings;
    expect(f).toMatchObject({ code: 'SIP_DNS_MISMATCH', severity: 'warning', target: 'trunk', resolver: 'cloudflare' });
    expect(f.message).toContain('edge1.trunk.example A at cloudflare');
    expect(f.firstStep).toContain('https://one.one.one.one/purge-cache/');
    expect(f.evidence?.names).toEqual([{ name: 'edge1.trunk.example', type: 'A', resolverAnswer: '198.51.100.9', zoneAnswer: '192.0.2.31', kind: 'mismatch' }]);
    expect(sip.probes.map((p) => p.address)).toEqual(['192.0.2.31']);
  });

  it('a name that resolves to nothing is SIP_DNS_FAILURE, and its route is down', async () => {
    // Prepare
    const sip = new FakeSip();
    const raw = {
      ...config(['udp']),
      carriers: [{ name: 'gone', uri: 'sip:gone.example', regions: ['euc1'] }],
      destinations: [{ name: 'slovakia', prefix: '+421', carriers: ['gone'] }],
    };
    // Act
    const report = await audit(raw, sip, lookup());
    // Assess
    expect(codes(report)).toEqual(['SIP_DNS_FAILURE', 'SIP_ROUTE_DOWN']);
    expect(report.findings.find((f) => f.code === 'SIP_DNS_FAILURE')?.severity).toBe('critical');
    const route = report.findings.find((f) => f.code === 'SIP_ROUTE_DOWN')!;
    expect(route.target).toBe('route +421 (slovakia) in euc1');
    expect(route.message).toContain('every carrier able to route them failed this run (gone)');
    expect(sip.probes).toEqual([]);
  });
});

describe('sip-options routes', () => {
  it('a destination routable by one carrier is SIP_SINGLE_CARRIER_ROUTE; when that carrier fails, SIP_ROUTE_DOWN', async () => {
    // Prepare
    const carriers = [
      { name: 'twilio', uri: '192.0.2.41:5060', regions: ['euc1', 'us1'] },
      { name: 'voxbone', uri: '192.0.2.42:5060', regions: ['us1'] },
    ];
    const destinations = [
      { name: 'slovakia', prefix: '+421', carriers: ['twilio', 'voxbone'] },
      { prefix: '+1', carriers: ['twilio', 'voxbone'], regions: ['us1'] },
    ];
    const healthy = new FakeSip();
    const twilioDown = new FakeSip((p) => (p.address === '192.0.2.41' ? timeout(p) : undefined));
    const raw = { carriers, destinations, checks: { 'sip-options': { fragmentation: false } } };
    // Act
    const calm = await audit(raw, healthy);
    const storm = await audit(raw, twilioDown);
    // Assess
    expect(calm.findings).toHaveLength(1);
    expect(calm.findings[0]).toMatchObject({ code: 'SIP_SINGLE_CARRIER_ROUTE', severity: 'warning', target: 'route +421 (slovakia) in euc1' });
    expect(calm.findings[0].message).toBe('+421 (slovakia) in euc1 is routable by twilio only: if twilio fails, these calls fail with no failover');
    expect(codes(storm)).toEqual(['SIP_ROUTE_DOWN', 'SIP_TIMEOUT']);
    expect(storm.findings.find((f) => f.code === 'SIP_ROUTE_DOWN')).toMatchObject({ severity: 'critical', target: 'route +421 (slovakia) in euc1' });
  });
});

describe('sip-options config', () => {
  it('rejects an unusable carrier uri and a duplicate transport, naming the field', () => {
    expect(() => parseConfig({ carriers: [{ name: 'x', uri: 'http://example.com' }] })).toThrow(ConfigError);
    let problems = '';
    try {
      parseConfig({ carriers: [{ name: 'x', uri: 'sip:bad host', transports: ['udp', 'udp'] }], checks: { 'sip-options': { sizes: [10] } } });
    } catch (err) {
      problems = (err as ConfigError).problems.join('\n');
    }
    expect(problems).toContain('carriers[0].uri: expected a SIP URI');
    expect(problems).toContain('carriers[0].transports: each transport once');
    expect(problems).toContain('checks.sip-options.sizes[0]');
  });

  it('reads the issue’s example config', () => {
    const config = parseConfig({
      carriers: [{ name: 'twilio', uri: 'sip:example.pstn.twilio.com', transports: ['udp', 'tcp'], regions: ['euc1', 'us1'] }],
      checks: { 'sip-options': { fragmentation: true } },
    });
    expect(config.carriers[0]).toMatchObject({ warnAfter: 1000, criticalAfter: 5000, fromUser: 'dialer-audit', insecureTls: false });
    expect(config.checks['sip-options']).toMatchObject({ fragmentation: true, sizes: [500, 1300, 1472, 1600, 1800, 3000], timeout: 8000 });
  });
});
