// DNS over TLS (RFC 7858) and DNS over HTTPS (RFC 8484, HTTP/2) against unbound serving both with
// a certificate from a test CA made by openssl: the same comparison as over port 53, and a
// certificate that does not verify is a finding, not an answer.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import type { Report } from '../../src/types.ts';
import { labQuery } from '../lab/dns-lab.ts';
import { startResolverLab, type ResolverLab } from '../lab/resolvers.ts';

let lab: ResolverLab;
let dot: string;
let doh: string;

beforeAll(async () => {
  lab = await startResolverLab({ resolvers: [{ name: 'unbound', kind: 'unbound', encrypted: true }] });
  ({ dot, doh } = lab.resolvers[0] as { dot: string; doh: string });
});
afterAll(async () => {
  await lab?.stop();
});

function audit(resolvers: Record<string, unknown>[], dialers: string[]): Promise<Report> {
  const config = parseConfig({
    resolvers,
    authoritative: lab.authoritative,
    targets: { dialers },
    checks: { 'dns-consistency': { recordTypes: ['A'] } },
    dns: { timeout: '1500ms', retries: 1 },
  });
  return runAudit(config, { dns: dnsClientFromConfig(config), log: silentLogger });
}

const summary = (report: Report) => report.findings.map((f) => `${f.code} ${f.target} @${f.resolver}`).sort();

describe('resolvers over DoT and DoH', () => {
  it('a healthy fleet is clean over tls:// and https://, certificates verified against the address or the name', async () => {
    // Act
    const report = await audit(
      [
        { name: 'dot', address: dot, caFile: lab.caFile },
        { name: 'doh', address: doh, caFile: lab.caFile },
        { name: 'dot-by-name', address: dot, caFile: lab.caFile, servername: lab.tlsName },
        { name: 'doh-by-name', address: doh, caFile: lab.caFile, servername: lab.tlsName },
      ],
      [`acme.${lab.zone}`, `lb.${lab.zone}`],
    );
    // Assess
    expect(summary(report)).toEqual([]);
  });

  it('compares the same way: a stale cached answer is DNS_MISMATCH over DoH and DoT', async () => {
    // Prepare: unbound caches a 24-hour record (asked over port 53; one cache behind all three), then it moves.
    const name = `moved-${randomBytes(3).toString('hex')}.${lab.zone}`;
    await lab.setRecords(name, 'A', 86400, ['127.62.3.1']);
    await labQuery(lab.resolvers[0].address, name, 'A');
    await lab.setRecords(name, 'A', 86400, ['127.62.3.2']);
    // Act
    const report = await audit(
      [
        { name: 'dot', address: dot, caFile: lab.caFile },
        { name: 'doh', address: doh, caFile: lab.caFile },
      ],
      [name],
    );
    // Assess
    expect(summary(report)).toEqual([`DNS_MISMATCH ${name} @doh`, `DNS_MISMATCH ${name} @dot`]);
    expect(report.findings.every((f) => f.evidence?.resolverAnswer === '127.62.3.1')).toBe(true);
  });

  it('a certificate that does not verify is DNS_TLS_FAILED, once per resolver, and no answer is used', async () => {
    // Act: no CA to trust; and the lab CA but a name the certificate does not hold.
    const report = await audit(
      [
        { name: 'doh-untrusted', address: doh },
        { name: 'dot-wrong-name', address: dot, caFile: lab.caFile, servername: 'elsewhere.lab.test' },
      ],
      [`acme.${lab.zone}`, `beta.${lab.zone}`],
    );
    // Assess
    expect(report.findings.map((f) => `${f.code} @${f.resolver}`).sort()).toEqual(['DNS_TLS_FAILED @doh-untrusted', 'DNS_TLS_FAILED @dot-wrong-name']);
    const byResolver = Object.fromEntries(report.findings.map((f) => [f.resolver, JSON.stringify(f.evidence)]));
    expect(byResolver['doh-untrusted']).toMatch(/unable to verify the first certificate|self.signed|UNABLE_TO_VERIFY_LEAF_SIGNATURE/i);
    expect(byResolver['dot-wrong-name']).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|does not match|not in the cert's altnames/i);
  });
});
