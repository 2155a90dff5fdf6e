// DNSSEC against the validators people run: a signed zone in three states (valid, RRSIGs expired
// a day ago, a DS at the parent that matches no key) behind unbound (with EDE), pdns-recursor in
// its default `process` mode and in `validate` mode, dnsmasq and BIND 9 — which say "bogus" in
// as many different ways (EDE 7 or 9, EDE 6, nothing at all, SERVFAIL even with CD=1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import type { Report } from '../../src/types.ts';
import { startResolverLab, type ResolverLab } from '../lab/resolvers.ts';

let lab: ResolverLab;

beforeAll(async () => {
  lab = await startResolverLab({
    resolvers: [
      { name: 'unbound', kind: 'unbound', dnssec: 'validate', ede: true },
      { name: 'pdns-process', kind: 'pdns-recursor', dnssec: 'process' },
      { name: 'pdns-validate', kind: 'pdns-recursor', dnssec: 'validate' },
      { name: 'dnsmasq', kind: 'dnsmasq', dnssec: 'validate' },
      { name: 'bind', kind: 'named', dnssec: 'validate' },
    ],
  });
});
afterAll(async () => {
  await lab?.stop();
});

function audit(dialers: string[], dns: Record<string, unknown> = {}): Promise<Report> {
  const config = parseConfig({
    resolvers: lab.resolvers.map((r) => ({ name: r.name, address: r.address })),
    authoritative: lab.signedAuthoritative,
    targets: { dialers },
    checks: { 'dns-consistency': { recordTypes: ['A'] } },
    dns: { timeout: '1500ms', retries: 1, ...dns },
  });
  return runAudit(config, { dns: dnsClientFromConfig(config), log: silentLogger });
}

const at = (report: Report, code: string, target: string) =>
  report.findings
    .filter((f) => f.code === code && f.target === target)
    .map((f) => f.resolver)
    .sort();

describe('DNSSEC-bogus zones at validating resolvers', () => {
  it('is DNS_DNSSEC_BOGUS at every validating resolver, pdns-recursor in process mode included; the valid zone is clean', async () => {
    // Prepare
    const valid = `acme.${lab.signed.valid}`;
    const expired = `acme.${lab.signed.expired}`;
    const wrongDs = `acme.${lab.signed.wrongDs}`;
    // Act
    const report = await audit([valid, expired, wrongDs]);
    // Assess
    const everyone = lab.resolvers.map((r) => r.name).sort();
    expect(at(report, 'DNS_DNSSEC_BOGUS', expired)).toEqual(everyone);
    expect(at(report, 'DNS_DNSSEC_BOGUS', wrongDs)).toEqual(everyone);
    expect(report.findings.filter((f) => f.target === valid)).toEqual([]);
    expect(report.findings.filter((f) => f.code !== 'DNS_DNSSEC_BOGUS')).toEqual([]);
    for (const f of report.findings) expect(f.severity).toBe('critical');
  });

  it('quotes the EDE where one is sent and names the first step: re-sign, or fix the DS at the parent', async () => {
    // Act
    const report = await audit([`beta.${lab.signed.expired}`, `beta.${lab.signed.wrongDs}`]);
    // Assess: unbound's own words, and the zone's state read from its records for everyone.
    const expiredAtUnbound = report.findings.find((f) => f.target === `beta.${lab.signed.expired}` && f.resolver === 'unbound')!;
    expect(expiredAtUnbound.message).toMatch(/it says (Signature Expired \(7\)|DNSSEC Bogus \(6\))/);
    const expiredAtBind = report.findings.find((f) => f.target === `beta.${lab.signed.expired}` && f.resolver === 'bind')!;
    expect(expiredAtBind.message).toMatch(/answers the same question with checking disabled/);
    expect(expiredAtBind.message).toMatch(/RRSIG over .* expired at/);
    expect(expiredAtBind.firstStep).toMatch(/^Re-sign zone expired\.sec\.test/);
    const wrongDsAtDnsmasq = report.findings.find((f) => f.target === `beta.${lab.signed.wrongDs}` && f.resolver === 'dnsmasq')!;
    expect(wrongDsAtDnsmasq.message).toMatch(/DNSSEC Bogus \(6\)/);
    expect(wrongDsAtDnsmasq.message).toMatch(/the DS at the parent \(key tag \d+\) matches none of the zone's DNSKEYs/);
    expect(wrongDsAtDnsmasq.firstStep).toMatch(/^Make the DS for wrongds\.sec\.test at its parent match/);
  });

  it("asked as a DNSSEC-unaware client (dns.dnssec: false), pdns-recursor's process mode hands out the bogus answer: why it is on by default", async () => {
    // Act
    const report = await audit([`acme.${lab.signed.wrongDs}`], { dnssec: false });
    // Assess: the validating-for-everyone resolvers still fail; process mode does not even notice.
    const bogus = at(report, 'DNS_DNSSEC_BOGUS', `acme.${lab.signed.wrongDs}`);
    expect(bogus).not.toContain('pdns-process');
    expect(bogus).toEqual(['bind', 'dnsmasq', 'pdns-validate', 'unbound']);
  });
});
