// The dns-consistency check's verdicts, with a scripted DNS client (the lab tests do it for real).
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { silentLogger } from '../../src/log.ts';
import { LEARN_QUIET_ASKS } from '../../src/lookup.ts';
import type { Inventory, RecordSet } from '../../src/types.ts';
import { answer, FakeDns, type Script } from '../support/fake-dns.ts';
import { AUTH, fleet, fleetConfig } from '../support/dialer-fleet.ts';


/** The shared fleet (test/support/dialer-fleet.ts) as this file's tests see it. */
const fleetHere = (override: Script = () => undefined): Script => fleet(override, { resolverTtl: 200 });

const NOW = Date.parse('2026-11-23T15:00:00Z');

async function audit(script: Script, cfg = fleetConfig()) {
  return runAudit(cfg, { dns: new FakeDns(script), log: silentLogger, now: () => NOW });
}

describe('dns-consistency', () => {
  it('a healthy fleet gives no findings', async () => {
    const report = await audit(fleetHere());
    expect(report.findings).toEqual([]);
    expect(report.summary.failed).toBe(false);
  });

  it('a stale answer at one resolver is DNS_MISMATCH there only, with expiry and the flush page', async () => {
    // Prepare: Google still holds acme's old address for 86 000 s more.
    const script = fleetHere((q) =>
      q.at === '8.8.8.8:53' && q.name === 'acme.dialer.example.com' ? answer('NOERROR', [{ name: q.name, type: 'A', ttl: 86000, value: '192.0.2.99' }]) : undefined,
    );
    // Act
    const report = await audit(script);
    // Assess
    expect(report.findings).toHaveLength(1);
    const [f] = report.findings;
    expect(f).toMatchObject({ code: 'DNS_MISMATCH', severity: 'critical', target: 'acme.dialer.example.com', resolver: 'google' });
    expect(f.evidence).toMatchObject({
      remainingTtl: 86000,
      expiresAt: new Date(NOW + 86_000_000).toISOString(),
      flushUrl: 'https://developers.google.com/speed/public-dns/cache',
      resolverAnswer: '192.0.2.99',
    });
    expect(f.message).toContain('23h53m');
    expect(f.firstStep).toContain('https://developers.google.com/speed/public-dns/cache');
    expect(report.summary.failed).toBe(true);
  });

  it('a resolver that answers nothing is one finding, not one per dialer', async () => {
    const script = fleetHere((q) => (q.at === '1.1.1.1:53' ? { ok: false, kind: 'timeout', detail: 'timed out', attempts: 3 } : undefined));
    const report = await audit(script);
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]).toMatchObject({ code: 'DNS_TIMEOUT', resolver: 'cloudflare', target: 'cloudflare (1.1.1.1:53)' });
    expect(report.findings[0].message).toContain('failed every one of 2 queries');
    expect(report.findings[0].evidence).toMatchObject({ failedQueries: 2, totalQueries: 2 });
  });

  it('SERVFAIL and a cached NXDOMAIN get their own codes', async () => {
    const script = fleetHere((q) => {
      if (q.at === '8.8.8.8:53' && q.name.startsWith('acme')) return answer('SERVFAIL', []);
      if (q.at === '1.1.1.1:53' && q.name.startsWith('beta')) return answer('NXDOMAIN', [], { authorities: [{ name: 'dialer.example.com', type: 'SOA', ttl: 850, value: 'x' }] });
      return undefined;
    });
    const report = await audit(script);
    expect(report.findings.map((f) => `${f.code} ${f.target} ${f.resolver}`).sort()).toEqual([
      'DNS_NXDOMAIN beta.dialer.example.com cloudflare',
      'DNS_SERVFAIL acme.dialer.example.com google',
    ]);
    expect(report.findings.find((f) => f.code === 'DNS_NXDOMAIN')?.evidence?.remainingTtl).toBe(850);
  });

  it('a dialer missing from the zone is one DNS_NXDOMAIN at the authoritative, not one per resolver', async () => {
    const report = await audit(fleetHere(), fleetConfig({ targets: { dialers: ['gone.dialer.example.com'] } }));
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]).toMatchObject({ code: 'DNS_NXDOMAIN', resolver: 'authoritative', target: 'gone.dialer.example.com' });
  });

  it('authoritative servers that disagree are DNS_AUTH_INCONSISTENT; a resolver matching either is fine', async () => {
    const cfg = fleetConfig({ authoritative: [{ name: 'ns1', address: AUTH }, { name: 'ns2', address: '127.0.0.11:53' }] });
    const script = fleetHere((q) =>
      q.at === '127.0.0.11:53' && q.name.startsWith('acme') ? answer('NOERROR', [{ name: q.name, type: 'A', value: '192.0.2.11' }], { aa: true }) : q.at === '127.0.0.11:53' ? fleetHere()({ ...q, at: AUTH }) : undefined,
    );
    const report = await audit(script, cfg);
    expect(report.findings.map((f) => f.code)).toEqual(['DNS_AUTH_INCONSISTENT']);
    expect(report.findings[0].evidence?.zone).toEqual({ ns1: '192.0.2.10', ns2: '192.0.2.11' });
  });

  it('an authoritative server this host cannot reach is one VANTAGE_BLIND and no resolver is accused', async () => {
    const script = fleetHere((q) => (q.at === AUTH ? { ok: false, kind: 'timeout', detail: 'timed out', attempts: 3 } : undefined));
    const report = await audit(script);
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]).toMatchObject({ code: 'VANTAGE_BLIND', severity: 'critical', evidence: { authoritativeBlind: true, resolversBlind: false } });
    expect(report.findings[0].message).toContain("none of the zone's 1 authoritative server");
  });

  it('an authoritative server that refuses every question is DNS_AUTH_UNREACHABLE, critical: it was reached', async () => {
    const script = fleetHere((q) => (q.at === AUTH ? answer('REFUSED', [], { aa: false }) : undefined));
    const report = await audit(script);
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]).toMatchObject({ code: 'DNS_AUTH_UNREACHABLE', severity: 'critical', resolver: 'ns1' });
  });

  it('a resolver counting down an older, longer TTL is a DNS_TTL_STALE warning', async () => {
    const script = fleetHere((q) =>
      q.at === '8.8.8.8:53' && q.name.startsWith('beta') ? answer('NOERROR', [{ name: q.name, type: 'A', ttl: 80000, value: '192.0.2.20' }]) : undefined,
    );
    const report = await audit(script);
    expect(report.findings.map((f) => `${f.code} ${f.severity}`)).toEqual(['DNS_TTL_STALE warning']);
  });

  it('finds the zone’s name servers through the first resolver when none are configured', async () => {
    // Prepare: no `authoritative` in the config; the resolver knows the SOA and NS.
    const cfg = fleetConfig({ authoritative: undefined });
    const dns = new FakeDns((q) => {
      if (q.type === 'SOA') return answer('NOERROR', [], { authorities: [{ name: 'dialer.example.com', type: 'SOA', value: 'ns1.example.net x 1 2 3 4 5' }] });
      if (q.type === 'NS') return answer('NOERROR', [{ name: 'dialer.example.com', type: 'NS', value: 'ns1.example.net' }]);
      if (q.name === 'ns1.example.net' && q.type === 'A') return answer('NOERROR', [{ name: q.name, type: 'A', value: '192.0.2.53' }]);
      if (q.name === 'ns1.example.net') return answer('NOERROR', []);
      return fleetHere()({ ...q, at: q.at === '192.0.2.53:53' ? AUTH : q.at });
    });
    // Act
    const report = await runAudit(cfg, { dns, log: silentLogger });
    // Assess: the authoritative queries went to the discovered server without recursion.
    expect(report.findings).toEqual([]);
    const toAuth = dns.asked.filter((q) => q.at === '192.0.2.53:53' && !q.name.startsWith('_dialer-audit-'));
    expect(toAuth.length).toBe(2);
    expect(toAuth.every((q) => !q.recursionDesired)).toBe(true);
    expect(dns.asked.filter((q) => q.type === 'SOA')).toHaveLength(2);
    expect(dns.asked.filter((q) => q.type === 'NS')).toHaveLength(1);
  });

  it('a dialer NXDOMAIN at every resolver, with no authoritative server found, is DNS_NXDOMAIN — not DNS_AUTH_UNREACHABLE', async () => {
    // Prepare: no `authoritative` in the config, and the resolvers' NXDOMAIN carries no SOA to find the zone with.
    const cfg = fleetConfig({ authoritative: undefined, targets: { dialers: ['gone.dialer.example.com'] } });
    const dns = new FakeDns(() => answer('NXDOMAIN', []));
    // Act
    const report = await runAudit(cfg, { dns, log: silentLogger });
    // Assess
    expect(report.findings.map((f) => `${f.code} ${f.target} ${f.resolver}`)).toEqual(['DNS_NXDOMAIN gone.dialer.example.com undefined']);
    expect(report.findings[0].message).toContain('does not exist at any resolver (NXDOMAIN from google, cloudflare)');
    expect(dns.asked.every((q) => q.recursionDesired)).toBe(true);
  });

  it('a name whose authoritative servers cannot be found is DNS_AUTH_NOT_FOUND, folded into one finding', async () => {
    const cfg = fleetConfig({ authoritative: undefined });
    const dns = new FakeDns((q) => (q.type === 'SOA' ? answer('NOERROR', []) : fleetHere()(q)));
    const report = await runAudit(cfg, { dns, log: silentLogger });
    expect(report.findings.map((f) => `${f.code} ${f.target} ${f.severity}`)).toEqual(['DNS_AUTH_NOT_FOUND 2 dialers warning']);
  });
});

describe('dns-consistency on routed names', () => {
  /** An authoritative server that hands out `variants` in turn (like a weighted record), counting its asks. */
  function rotating(variants: string[][], resolverValue: (resolver: string) => string[]): Script & { authAsks: () => number } {
    let asks = 0;
    const script: Script = (q) => {
      if (q.name !== 'acme.dialer.example.com') return fleetHere()(q);
      const values = q.at === AUTH ? variants[asks++ % variants.length] : resolverValue(q.at);
      return answer('NOERROR', values.map((value) => ({ name: q.name, type: 'A', ttl: 60, value })), { aa: q.at === AUTH });
    };
    return Object.assign(script, { authAsks: () => asks });
  }

  it('a weighted name learned by asking again: each resolver holding either answer is consistent', async () => {
    // Prepare: the zone answers .1, .1, .1, .2, …; Google holds .2, Cloudflare .1.
    const script = rotating([['192.0.2.1'], ['192.0.2.1'], ['192.0.2.1'], ['192.0.2.2']], (at) => (at === '8.8.8.8:53' ? ['192.0.2.2'] : ['192.0.2.1']));
    // Act
    const report = await audit(script);
    // Assess: no finding, and the zone was asked only until the answer was explained.
    expect(report.findings).toEqual([]);
    expect(script.authAsks()).toBeLessThanOrEqual(8);
  });

  it('a value no learned answer holds is DNS_MISMATCH, with the routing in the evidence', async () => {
    const script = rotating([['192.0.2.1'], ['192.0.2.2']], (at) => (at === '8.8.8.8:53' ? ['192.0.2.9'] : ['192.0.2.1']));
    const report = await audit(script);
    expect(report.findings.map((f) => `${f.code} ${f.resolver}`)).toEqual(['DNS_MISMATCH google']);
    expect(report.findings[0].evidence?.routing).toMatchObject({ source: 'learned', policy: 'dynamic', variants: ['192.0.2.1', '192.0.2.2'] });
    expect(report.findings[0].message).toContain('192.0.2.9, which no variant of the zone holds');
  });

  it('a static name with a stale resolver: the zone is asked again only until no new answer comes', async () => {
    const script = rotating([['192.0.2.1']], (at) => (at === '8.8.8.8:53' ? ['192.0.2.9'] : ['192.0.2.1']));
    const report = await audit(script);
    expect(report.findings.map((f) => `${f.code} ${f.resolver}`)).toEqual(['DNS_MISMATCH google']);
    expect(report.findings[0].evidence?.routing).toBeUndefined();
    expect(script.authAsks()).toBeLessThanOrEqual(1 + LEARN_QUIET_ASKS + 3);
  });

  it('two authoritative servers each handing out either answer are not DNS_AUTH_INCONSISTENT', async () => {
    // Prepare: ns1 and ns2 answer in turn, out of step with each other.
    const cfg = fleetConfig({ authoritative: [{ name: 'ns1', address: AUTH }, { name: 'ns2', address: '127.0.0.11:53' }] });
    const turns: Record<string, number> = {};
    const script: Script = (q) => {
      if (q.name !== 'acme.dialer.example.com') return fleetHere()({ ...q, at: q.at === '127.0.0.11:53' ? AUTH : q.at });
      const auth = q.at === AUTH || q.at === '127.0.0.11:53';
      const n = (turns[q.at] = (turns[q.at] ?? 0) + 1);
      const value = auth ? (n + (q.at === AUTH ? 0 : 1)) % 2 === 0 ? '192.0.2.1' : '192.0.2.2' : '192.0.2.1';
      return answer('NOERROR', [{ name: q.name, type: 'A', ttl: 60, value }], { aa: auth });
    };
    // Act
    const report = await audit(script, cfg);
    // Assess
    expect(report.findings).toEqual([]);
  });

  it('with egress, the zone is asked with the resolver’s network as client subnet and compared with that answer', async () => {
    // Prepare: a geo answer: 192.0.2.22 for 127.58.2.0/24, 192.0.2.21 for everyone else (the audit host).
    const cfg = fleetConfig({
      resolvers: [
        { name: 'google', address: '8.8.8.8', egress: ['127.58.2.0/24'] },
        { name: 'cloudflare', address: '1.1.1.1', egress: ['127.58.3.0/24', '127.58.4.0/24'] },
      ],
    });
    const script: Script = (q) => {
      if (q.name !== 'acme.dialer.example.com') return fleetHere()(q);
      const geo = (subnet?: string) => (subnet === '127.58.2.0' ? '192.0.2.22' : subnet === '127.58.4.0' ? '192.0.2.24' : '192.0.2.21');
      const value = q.at === AUTH ? geo(q.clientSubnet?.address) : q.at === '8.8.8.8:53' ? '192.0.2.22' : '192.0.2.24';
      return answer('NOERROR', [{ name: q.name, type: 'A', ttl: 60, value }], { aa: q.at === AUTH });
    };
    const dns = new FakeDns(script);
    // Act
    const report = await runAudit(cfg, { dns, log: silentLogger });
    // Assess
    expect(report.findings).toEqual([]);
    const subnets = dns.asked.filter((q) => q.at === AUTH && q.name.startsWith('acme')).map((q) => (q.clientSubnet ? `${q.clientSubnet.address}/${q.clientSubnet.prefixLength}` : 'none'));
    expect(subnets.sort()).toEqual(['127.58.2.0/24', '127.58.3.0/24', '127.58.4.0/24', 'none']);
  });

  it('with a Route 53 inventory, every record set is a variant: nothing is learned, a foreign value is still a mismatch', async () => {
    // Prepare: acme is weighted 50/50 in Route 53; the zone hands the audit host w1; Google holds w2, Cloudflare a stale value.
    const sets: RecordSet[] = [
      { Name: 'acme.dialer.example.com.', Type: 'A', SetIdentifier: 'w1', Weight: 50, TTL: 60, ResourceRecords: [{ Value: '192.0.2.1' }] },
      { Name: 'acme.dialer.example.com.', Type: 'A', SetIdentifier: 'w2', Weight: 50, TTL: 60, ResourceRecords: [{ Value: '192.0.2.2' }] },
    ];
    const inventory: Inventory = { dialers: ['acme.dialer.example.com'], zones: [{ zoneId: 'Z1', name: 'dialer.example.com', privateZone: false, recordSets: sets, dialerRecordSets: sets }] };
    const script = rotating([['192.0.2.1']], (at) => (at === '8.8.8.8:53' ? ['192.0.2.2'] : ['192.0.2.9']));
    // Act
    const report = await runAudit(fleetConfig(), { dns: new FakeDns(script), log: silentLogger, inventory: async () => inventory });
    // Assess
    expect(report.findings.map((f) => `${f.code} ${f.resolver}`)).toEqual(['DNS_MISMATCH cloudflare']);
    expect(report.findings[0].evidence?.routing).toEqual({ source: 'route53', policy: 'weighted', variants: ['w1 192.0.2.1', 'w2 192.0.2.2'] });
    expect(script.authAsks()).toBe(1);
  });
});
