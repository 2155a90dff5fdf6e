// stun-binding's verdicts with a fake DNS client and a fake STUN client: which outcome becomes which
// code, and a STUN name that a resolver resolves differently from the zone (STUN_DNS_MISMATCH).
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { runAudit } from '../../src/audit.ts';
import { silentLogger } from '../../src/log.ts';
import type { DnsClient, DnsQuery, DnsResult } from '../../src/net/dns.ts';
import type { BindingOutcome, StunClient, StunEndpoint } from '../../src/net/stun.ts';
import type { StunTransport } from '../../src/stun/uri.ts';

/** A zone as each server sees it: server address → name → A values (absent name: NXDOMAIN). */
function fakeDns(views: Record<string, Record<string, string[]>>): DnsClient & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async query(q: DnsQuery): Promise<DnsResult> {
      const server = `${q.server.host}:${q.server.port}`;
      asked.push(`${server} ${q.name} ${q.type}`);
      const values = q.type === 'A' ? views[server]?.[q.name] : undefined;
      const exists = views[server] && q.name in views[server];
      return {
        ok: true,
        response: {
          rcode: exists ? 'NOERROR' : 'NXDOMAIN',
          authoritative: !q.recursionDesired,
          truncated: false,
          recursionAvailable: q.recursionDesired,
          authenticated: false,
          extendedErrors: [],
          answers: (values ?? []).map((value) => ({ name: q.name, type: 'A', ttl: 300, value })),
          authorities: [],
          transport: 'udp',
          rttMs: 1,
          attempts: 1,
          bytes: 60,
        },
      };
    },
  };
}

type Probe = (server: StunEndpoint, transport: StunTransport) => BindingOutcome;

function fakeStun(probe: Probe): StunClient & { probed: string[] } {
  const probed: string[] = [];
  return {
    probed,
    async binding(server, transport) {
      probed.push(`${transport} ${server.host}:${server.port}`);
      return probe(server, transport);
    },
    async turn() {
      throw new Error('not used');
    },
    async resolveSystem() {
      return [];
    },
  };
}

const ok = (transport: StunTransport, elapsedMs = 12, mapped = '198.51.100.7'): BindingOutcome => ({
  ok: true,
  transport,
  mapped: { family: 4, address: mapped, port: 40000 },
  rttMs: elapsedMs,
  elapsedMs,
  retransmissions: 0,
  fingerprint: 'valid',
});

const RESOLVERS = [
  { name: 'pub1', address: '127.0.0.1:5301' },
  { name: 'pub2', address: '127.0.0.1:5302' },
];
const AUTH = [{ name: 'auth', address: '127.0.0.1:5399' }];

function config(servers: unknown[], params: Record<string, unknown> = {}) {
  return parseConfig({ resolvers: RESOLVERS, authoritative: AUTH, stun: { servers }, checks: { 'stun-binding': params } });
}

describe('stun-binding verdicts', () => {
  it('a STUN name that one resolver resolves differently is STUN_DNS_MISMATCH there; both addresses are probed', async () => {
    // Prepare: the zone says 192.0.2.10; pub1 still hands out the old 192.0.2.99.
    const name = 'stun.example.net';
    const dns = fakeDns({
      '127.0.0.1:5399': { [name]: ['192.0.2.10'] },
      '127.0.0.1:5301': { [name]: ['192.0.2.99'] },
      '127.0.0.1:5302': { [name]: ['192.0.2.10'] },
    });
    const stun = fakeStun((_s, t) => ok(t));
    const cfg = config([{ uri: `stun:${name}:3478` }]);
    // Act
    const report = await runAudit(cfg, { dns, log: silentLogger, stun });
    // Assess
    expect(report.findings.map((f) => `${f.code} ${f.target} @${f.resolver}`)).toEqual([`STUN_DNS_MISMATCH stun:${name}:3478 @pub1`]);
    const f = report.findings[0];
    expect(f.severity).toBe('critical');
    expect(f.message).toBe(`${name} A at pub1: the resolver hands out 192.0.2.99, the zone has 192.0.2.10; webphones behind it reach a different STUN/TURN server`);
    expect(f.firstStep).toBe(`Flush ${name} at pub1, or wait 5m until it expires; then lower the TTL of ${name}.`);
    expect(f.evidence).toMatchObject({ resolverAnswer: '192.0.2.99', zone: '192.0.2.10', remainingTtl: 300 });
    expect(stun.probed.sort()).toEqual(['udp 192.0.2.10:3478', 'udp 192.0.2.99:3478']);
  });

  it('a name nobody can resolve is STUN_NO_ADDRESS and nothing is probed', async () => {
    const dns = fakeDns({ '127.0.0.1:5399': {}, '127.0.0.1:5301': {}, '127.0.0.1:5302': {} });
    const stun = fakeStun((_s, t) => ok(t));
    const report = await runAudit(config([{ uri: 'stun:gone.example.net' }]), { dns, log: silentLogger, stun });
    expect(report.findings.map((f) => `${f.code} ${f.target}`)).toEqual(['STUN_NO_ADDRESS stun:gone.example.net:3478']);
    expect(stun.probed).toEqual([]);
  });

  it('maps each transport’s outcome to its code, with a target per transport', async () => {
    // Prepare: UDP times out, TCP says 401, TLS fails its handshake.
    const dns = fakeDns({});
    const stun = fakeStun((_s, t): BindingOutcome => {
      if (t === 'udp') return { ok: false, transport: t, failure: 'timeout', detail: 'no answer in 3000 ms (2 retransmissions)', elapsedMs: 3000, retransmissions: 2 };
      if (t === 'tcp') return { ok: false, transport: t, failure: 'error-response', detail: '401 Unauthorized', errorCode: 401, elapsedMs: 2, retransmissions: 0 };
      return { ok: false, transport: t, failure: 'tls', detail: 'TLS handshake failed: CERT_HAS_EXPIRED: certificate has expired', elapsedMs: 5, retransmissions: 0 };
    });
    const cfg = config([{ uri: 'stun:192.0.2.1', transports: ['udp', 'tcp', 'tls'] }]);
    // Act
    const report = await runAudit(cfg, { dns, log: silentLogger, stun });
    // Assess
    const byCode = Object.fromEntries(report.findings.map((f) => [f.code, f]));
    expect(report.findings.map((f) => `${f.code} ${f.target}`).sort()).toEqual([
      'STUN_ERROR_RESPONSE stun:192.0.2.1:3478?transport=tcp',
      'STUN_TIMEOUT stun:192.0.2.1:3478',
      'STUN_TLS_FAILED stuns:192.0.2.1:5349',
    ]);
    expect(byCode.STUN_TIMEOUT.message).toBe('stun:192.0.2.1:3478 did not answer a Binding request over UDP: no answer in 3000 ms (2 retransmissions)');
    expect(byCode.STUN_TIMEOUT.firstStep).toContain('turnutils_stunclient -p 3478 192.0.2.1');
    expect(byCode.STUN_ERROR_RESPONSE.evidence?.errorCode).toBe(401);
    expect(byCode.STUN_ERROR_RESPONSE.firstStep).toMatch(/wants credentials for a plain Binding/);
    expect(byCode.STUN_TLS_FAILED.firstStep).toContain('openssl s_client -connect 192.0.2.1:5349');
    expect(dns.asked).toEqual([]);
    expect(report.measurements.filter((m) => m.metric === 'up').map((m) => `${m.labels?.transport}=${m.value}`).sort()).toEqual(['tcp=0', 'tls=0', 'udp=0']);
  });

  it('a slow answer is STUN_SLOW with the retransmissions; a foreign reflexive address is STUN_MAPPED_ADDRESS_MISMATCH', async () => {
    const dns = fakeDns({});
    const stun = fakeStun((_s, t) => ({ ...ok(t, 1600, '203.0.113.50'), retransmissions: 2, rttMs: 100 }));
    const cfg = config([{ uri: 'stun:192.0.2.1' }], { slowAfter: '1s', expectMappedAddress: '203.0.113.10' });
    const report = await runAudit(cfg, { dns, log: silentLogger, stun });
    const byCode = Object.fromEntries(report.findings.map((f) => [f.code, f]));
    expect(Object.keys(byCode).sort()).toEqual(['STUN_MAPPED_ADDRESS_MISMATCH', 'STUN_SLOW']);
    expect(byCode.STUN_SLOW.message).toBe('stun:192.0.2.1:3478 answered over UDP only after 1600 ms and 2 retransmissions (slowAfter 1000 ms)');
    expect(byCode.STUN_MAPPED_ADDRESS_MISMATCH.message).toBe('stun:192.0.2.1:3478 sees this host as 203.0.113.50, expected 203.0.113.10');
    expect(report.measurements.find((m) => m.metric === 'rtt_seconds')).toMatchObject({ check: 'stun-binding', target: 'stun:192.0.2.1:3478', value: 0.1, labels: { transport: 'udp' } });
  });

  it('rejects bad URIs and half credentials when the config loads, naming the field', () => {
    expect(() => config([{ uri: 'stun:bad host' }])).toThrow(/stun\.servers\[0\]\.uri: "stun:bad host" is not a STUN\/TURN URI/);
    process.env.STUN_TEST_USER = 'u';
    expect(() => config([{ uri: 'turn:t.example.net', username: 'env:STUN_TEST_USER' }])).toThrow(/stun\.servers\[0\]\.credential: username and credential go together/);
    expect(() => config([{ uri: 'stun:s.example.net', username: 'env:STUN_TEST_USER', credential: 'env:STUN_TEST_USER' }])).toThrow(/credentials are for turn/);
    expect(() => config([{ uri: 'stun:s.example.net' }], { timeout: 'soon' })).toThrow(/checks\.stun-binding\.timeout/);
  });
});

describe('the coturn commands in first steps', () => {
  it('a TCP server that does not answer is tried with turnutils_uclient -t -y (turnutils_stunclient has no -t)', async () => {
    // Prepare
    const stun = fakeStun((_s, t): BindingOutcome => ({ ok: false, transport: t, failure: 'timeout', detail: 'no answer in 3000 ms', elapsedMs: 3000, retransmissions: 0 }));
    // Act
    const report = await runAudit(config([{ uri: 'stun:192.0.2.1', transports: ['tcp', 'tls'] }]), { dns: fakeDns({}), log: silentLogger, stun });
    // Assess
    const steps = report.findings.map((f) => f.firstStep ?? '');
    expect(steps).toHaveLength(2);
    expect(steps.some((s) => s.includes('`turnutils_uclient -t -y -n 1 -p 3478 192.0.2.1`'))).toBe(true);
    expect(steps.some((s) => s.includes('`turnutils_uclient -t -S -y -n 1 -p 5349 192.0.2.1`'))).toBe(true);
    for (const s of steps) expect(s).not.toMatch(/turnutils_stunclient -t/);
  });
});
