// What dns-consistency makes of resolvers that validate DNSSEC, clamp TTLs, serve stale or go
// silent, with a scripted DNS client (test/integration/resolver-implementations.test.ts and
// resolvers-dnssec.test.ts do the same against the real servers).
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { silentLogger } from '../../src/log.ts';
import type { DnsRecord } from '../../src/net/dns.ts';
import { answer, FakeDns, type Script } from '../support/fake-dns.ts';
import { AUTH, fleet, fleetConfig } from '../support/dialer-fleet.ts';

const GOOGLE = '8.8.8.8:53';
const NOW = Date.parse('2026-11-23T15:00:00Z');
const SOA: Partial<DnsRecord> = { name: 'dialer.example.com', type: 'SOA', ttl: 900, value: 'ns1 h 1 2 3 4 900', fields: { minimum: 900 } };


/** The shared fleet (test/support/dialer-fleet.ts) as this file's tests see it. */
const fleetHere = (override: Script = () => undefined): Script => fleet(override, { negativeSoa: SOA });

function audit(script: Script, cfg = fleetConfig()) {
  const dns = new FakeDns(script);
  return runAudit(cfg, { dns, log: silentLogger, now: () => NOW }).then((report) => ({ report, dns }));
}

const made = (name: string) => name.startsWith('_dialer-audit-');

describe('DNSSEC at a validating resolver', () => {
  it('a SERVFAIL with a DNSSEC EDE is DNS_DNSSEC_BOGUS, quoting it', async () => {
    const { report } = await audit(fleetHere((q) => (q.at === GOOGLE && q.name.startsWith('acme') ? answer('SERVFAIL', [], { extendedErrors: [{ code: 7, text: 'signature expired' }] }) : undefined)));
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]).toMatchObject({ code: 'DNS_DNSSEC_BOGUS', severity: 'critical', resolver: 'google', target: 'acme.dialer.example.com' });
    expect(report.findings[0].message).toContain('it says Signature Expired (7): signature expired');
  });

  it('a SERVFAIL without EDE that answers with checking disabled is DNS_DNSSEC_BOGUS (BIND 9.18, pdns-recursor)', async () => {
    const { report, dns } = await audit(fleetHere((q) => (q.at === GOOGLE && q.name.startsWith('acme') && !q.checkingDisabled ? answer('SERVFAIL', []) : undefined)));
    expect(report.findings.map((f) => f.code)).toEqual(['DNS_DNSSEC_BOGUS']);
    expect(report.findings[0].message).toContain('it answers the same question with checking disabled (CD)');
    // Resolvers are asked with AD (pdns-recursor's process mode validates only then), not DO.
    const first = dns.asked.find((q) => q.at === GOOGLE && q.name.startsWith('acme'))!;
    expect(first).toMatchObject({ authenticatedData: true });
    expect(first.dnssecOk).toBeFalsy();
  });

  it('a SERVFAIL that stays a SERVFAIL with CD, from an unsigned zone, is DNS_SERVFAIL with its EDE', async () => {
    const { report } = await audit(fleetHere((q) => (q.at === GOOGLE && q.name.startsWith('acme') ? answer('SERVFAIL', [], { extendedErrors: [{ code: 22, text: '' }] }) : undefined)));
    expect(report.findings.map((f) => f.code)).toEqual(['DNS_SERVFAIL']);
    expect(report.findings[0].message).toContain('[EDE: No Reachable Authority (22)]');
  });
});

describe('a resolver that is up but silent for the dialers', () => {
  it('gets the same severity as one that answers SERVFAIL', async () => {
    // Prepare: Cloudflare answers SERVFAIL, Google says nothing, although it answered version.bind.
    const script = fleetHere((q) => {
      if (q.at === '1.1.1.1:53' && !made(q.name)) return answer('SERVFAIL', []);
      if (q.at === GOOGLE && !made(q.name)) return { ok: false, kind: 'timeout', detail: 'no answer after 3 attempts of 1500 ms', attempts: 3, serverAlive: true };
      return undefined;
    });
    // Act
    const { report } = await audit(script);
    // Assess
    const byResolver = Object.fromEntries(report.findings.map((f) => [`${f.resolver} ${f.target}`, `${f.code} ${f.severity}`]));
    expect(byResolver).toEqual({
      'google acme.dialer.example.com': 'DNS_SERVFAIL critical',
      'google beta.dialer.example.com': 'DNS_SERVFAIL critical',
      'cloudflare acme.dialer.example.com': 'DNS_SERVFAIL critical',
      'cloudflare beta.dialer.example.com': 'DNS_SERVFAIL critical',
    });
    expect(report.findings.find((f) => f.resolver === 'google')!.message).toContain('answers other questions but not this one');
  });

  it('a resolver that answers nothing at all is DNS_TIMEOUT (a warning: maybe only our path to it)', async () => {
    const { report } = await audit(fleetHere((q) => (q.at === GOOGLE ? { ok: false, kind: 'timeout', detail: 'timed out', attempts: 3 } : undefined)));
    expect(report.findings.map((f) => `${f.code} ${f.severity}`)).toEqual(['DNS_TIMEOUT warning']);
  });

  it('every resolver answering nothing is one critical VANTAGE_BLIND', async () => {
    const dead = { ok: false as const, kind: 'timeout' as const, detail: 'not asked: 9 attempts in a row got no answer', attempts: 0, notAsked: true };
    const { report } = await audit(fleetHere((q) => (q.at !== AUTH ? dead : undefined)));
    expect(report.findings.map((f) => `${f.code} ${f.severity}`)).toEqual(['VANTAGE_BLIND critical']);
    expect(report.findings[0].evidence?.errors).toEqual({ 'google (8.8.8.8:53)': [dead.detail], 'cloudflare (1.1.1.1:53)': [dead.detail] });
  });
});

describe('TTL clamps', () => {
  /** Google keeps every answer at least an hour: 3600 s even for a name it just fetched. */
  const flooring = fleetHere((q) => {
    if (q.at !== GOOGLE) return undefined;
    if (made(q.name)) return answer('NXDOMAIN', [], { authorities: [{ ...SOA, ttl: 3600 }] });
    return answer('NOERROR', [{ name: q.name, type: 'A', ttl: 3400, value: q.name.startsWith('acme') ? '192.0.2.10' : '192.0.2.20' }]);
  });

  it('a floor is one DNS_TTL_CLAMPED info for the resolver, and no DNS_TTL_STALE for its dialers', async () => {
    const { report } = await audit(flooring);
    expect(report.findings.map((f) => `${f.code} ${f.severity} ${f.resolver}`)).toEqual(['DNS_TTL_CLAMPED info google']);
    expect(report.findings[0].evidence).toEqual({ server: '8.8.8.8:53', clamp: 'floor', ttl: 3600, zoneTtl: 900 });
    expect(report.findings[0].message).toContain('The next stale answer there can last 1h whatever TTL the zone sets');
  });

  it('asks each resolver about its clamp once per run, however many dialers finish in between', async () => {
    // Prepare: 60 dialers, two audited at a time, so most names are done before the next starts.
    const dialers = Array.from({ length: 60 }, (_, i) => `d${i}.dialer.example.com`);
    // Act
    const { dns } = await audit(flooring, fleetConfig({ targets: { dialers }, run: { concurrency: 2 } }));
    // Assess: the made-up name twice at Google (first and second ask), never again (Cloudflare
    // has no answer to judge a clamp by: every name but acme and beta is NXDOMAIN there).
    const probes = dns.asked.filter((q) => made(q.name) && q.at !== AUTH);
    expect(probes.map((q) => q.at)).toEqual([GOOGLE, GOOGLE]);
  });

  it('a stale answer behind a cap carries no invented end', async () => {
    // Prepare: Google says 900 s, then 60 s for the same made-up name, and holds acme's old address.
    let asks = 0;
    const capping = fleetHere((q) => {
      if (q.at !== GOOGLE) return undefined;
      if (made(q.name)) return answer('NXDOMAIN', [], { authorities: [{ ...SOA, ttl: asks++ === 0 ? 900 : 60 }] });
      if (q.name.startsWith('acme')) return answer('NOERROR', [{ name: q.name, type: 'A', ttl: 60, value: '192.0.2.99' }]);
      return undefined;
    });
    // Act
    const { report } = await audit(capping);
    // Assess
    const mismatch = report.findings.find((f) => f.code === 'DNS_MISMATCH')!;
    expect(mismatch.message).toContain('google caps the TTLs it hands out at 60 s and may keep answers longer, so its remaining TTL cannot say when this ends');
    expect(mismatch.evidence).toMatchObject({ remainingTtl: 60, staleEndUnknown: expect.stringContaining('caps') });
    expect(mismatch.evidence?.expiresAt).toBeUndefined();
    expect(report.findings.find((f) => f.code === 'DNS_TTL_CLAMPED')!.evidence).toMatchObject({ clamp: 'cap', ttl: 60 });
  });

  it('a stale answer with EDE 3 (Stale Answer) carries no invented end either', async () => {
    const { report } = await audit(
      fleetHere((q) => (q.at === GOOGLE && q.name.startsWith('acme') ? answer('NOERROR', [{ name: q.name, type: 'A', ttl: 30, value: '192.0.2.99' }], { extendedErrors: [{ code: 3, text: '' }] }) : undefined)),
    );
    const [f] = report.findings;
    expect(f.code).toBe('DNS_MISMATCH');
    expect(f.message).toMatch(/google serves it stale \(Stale Answer \(3\)\), so its remaining TTL cannot say when this ends \[EDE: Stale Answer \(3\)\]$/);
    expect(f.message).not.toMatch(/more \(until/);
  });
});
