// dns-consistency against real servers: unbound ×3 as the public resolvers, knot as the zone.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import { connectDnsLab } from '../lab/dns-lab.ts';
import { startHostileDns, type HostileDns } from '../lab/hostile-dns.ts';

const info = inject('dnsLab');
const lab = connectDnsLab(info);
const zone = info.zone;

function config(dialers: string[], extra: Record<string, unknown> = {}) {
  return parseConfig({
    resolvers: info.resolvers,
    authoritative: info.authoritative,
    targets: { dialers },
    checks: { 'dns-consistency': { recordTypes: ['A', 'AAAA'] } },
    dns: { timeout: '400ms', retries: 1 },
    ...extra,
  });
}

async function audit(cfg: ReturnType<typeof config>) {
  return runAudit(cfg, { dns: dnsClientFromConfig(cfg), log: silentLogger });
}

const summary = (report: Awaited<ReturnType<typeof audit>>) => report.findings.map((f) => `${f.code} ${f.target} @${f.resolver}`).sort();

describe('dns-consistency on the lab', () => {
  it('a healthy fleet gives zero findings, three runs in a row', async () => {
    // Prepare: the lab's default fleet, including a CNAME to a two-address pool.
    const cfg = config([`acme.${zone}`, `beta.${zone}`, `gamma.${zone}`, `lb.${zone}`]);
    // Act
    const runs = [await audit(cfg), await audit(cfg), await audit(cfg)];
    // Assess
    for (const report of runs) expect(summary(report)).toEqual([]);
    expect(runs[2].summary.targets).toBe(4);
  });

  it('replays the stale-cache outage: exactly that resolver × dialer, with the remaining TTL; clean after a flush', async () => {
    // Prepare: a dialer with the incident's 24-hour TTL, cached by every resolver.
    const name = `replay.${zone}`;
    await lab.setRecords(name, 'A', 86400, ['127.61.0.1']);
    const cfg = config([name, `acme.${zone}`]);
    expect(summary(await audit(cfg))).toEqual([]);
    // The address moves; pub2 and pub3 fetch afresh, pub1 keeps its copy.
    await lab.setRecords(name, 'A', 86400, ['127.61.0.2']);
    await lab.flush('pub2', name);
    await lab.flush('pub3', name);
    // Act
    const stale = await audit(cfg);
    await lab.flush('pub1', name);
    const afterFlush = await audit(cfg);
    // Assess
    expect(summary(stale)).toEqual([`DNS_MISMATCH ${name} @pub1`]);
    const finding = stale.findings[0];
    expect(finding.severity).toBe('critical');
    expect(finding.evidence?.remainingTtl).toBeGreaterThan(80_000);
    expect(finding.evidence?.resolverAnswer).toBe('127.61.0.1');
    expect(finding.evidence?.zone).toEqual({ knot: '127.61.0.2' });
    expect(finding.message).toMatch(/stale for (23h\d+m|1d) more/);
    expect(summary(afterFlush)).toEqual([]);
  });

  it('a resolver holding a negative answer for a dialer created later is DNS_NXDOMAIN there', async () => {
    // Prepare: pub1 is asked before the dialer exists and caches NXDOMAIN for the SOA negative TTL.
    const name = `late.${zone}`;
    await lab.setRecords(name, 'A', 300, []);
    await audit(config([name], { resolvers: [info.resolvers[0]] }));
    await lab.setRecords(name, 'A', 300, ['127.61.0.3']);
    // Act
    const report = await audit(config([name]));
    // Assess
    expect(summary(report)).toEqual([`DNS_NXDOMAIN ${name} @pub1`]);
    expect(report.findings[0].evidence?.remainingTtl).toBeLessThanOrEqual(900);
    // NXDOMAIN is about the whole name: one finding for both queried types.
    expect(report.findings[0].evidence?.types).toEqual(['A', 'AAAA']);
    await lab.flush('pub1', name);
  });

  it('a dialer missing from the zone is DNS_NXDOMAIN at the authoritative', async () => {
    const report = await audit(config([info.nxdomainName]));
    expect(summary(report)).toEqual([`DNS_NXDOMAIN ${info.nxdomainName} @authoritative`]);
  });

  it('SERVFAIL from every resolver is DNS_SERVFAIL per resolver', async () => {
    const report = await audit(config([info.servfailName], { checks: { 'dns-consistency': { recordTypes: ['A'] } } }));
    const servfails = report.findings.filter((f) => f.code === 'DNS_SERVFAIL').map((f) => f.resolver).sort();
    expect(servfails).toEqual(['pub1', 'pub2', 'pub3']);
  });

  it('a resolver address where nothing listens is one DNS_TIMEOUT for that resolver', async () => {
    const cfg = config([`acme.${zone}`, `beta.${zone}`], { resolvers: [...info.resolvers, { name: 'dead', address: info.deadAddress }] });
    const report = await audit(cfg);
    expect(summary(report)).toEqual([`DNS_TIMEOUT dead (${info.deadAddress}) @dead`]);
    expect(report.findings[0].message).toContain('failed every one of 4 queries');
  });
});

describe('dns-consistency with a hostile resolver', () => {
  let hostile: HostileDns;
  beforeAll(async () => {
    hostile = await startHostileDns('127.66.0.3', 5353);
    for (const label of ['ok', 'spoofed', 'cut', 'random', 'wrongid']) await lab.setRecords(`${label}.${zone}`, 'A', 300, ['192.0.2.1']);
  });
  afterAll(async () => {
    await hostile?.stop();
  });

  it('never crashes, does not believe the spoof, reports the malformed replies', async () => {
    // Prepare
    const dialers = ['ok', 'spoofed', 'cut', 'random', 'wrongid'].map((l) => `${l}.${zone}`);
    const cfg = config(dialers, {
      resolvers: [info.resolvers[0], { name: 'hostile', address: hostile.address }],
      checks: { 'dns-consistency': { recordTypes: ['A'] } },
    });
    // Act
    const report = await audit(cfg);
    // Assess: the spoofed 203.0.113.66 never shows up as an answer; garbage is DNS_MALFORMED_REPLY.
    expect(summary(report)).toEqual([
      `DNS_MALFORMED_REPLY cut.${zone} @hostile`,
      `DNS_MALFORMED_REPLY random.${zone} @hostile`,
      `DNS_MALFORMED_REPLY wrongid.${zone} @hostile`,
    ]);
    expect(JSON.stringify(report)).not.toContain('203.0.113.66');
  });

  it('an authoritative server with broken rdata is DNS_MALFORMED_REPLY there and accuses no resolver', async () => {
    // Prepare: the resolvers get good answers from knot; the configured authoritative server is the
    // hostile one, answering with an A of RDLENGTH 0, an A of 16 bytes and a 2-byte AAAA.
    const labels = ['rdlen0', 'rdlen16', 'aaaa2'];
    for (const label of labels) await lab.setRecords(`${label}.${zone}`, 'A', 300, ['192.0.2.1']);
    const cfg = config(labels.map((l) => `${l}.${zone}`), {
      authoritative: [{ name: 'broken', address: hostile.address }],
      checks: { 'dns-consistency': { recordTypes: ['A'] } },
    });
    // Act
    const report = await audit(cfg);
    // Assess: one folded finding for the broken server; nothing about the healthy resolvers.
    expect(summary(report)).toEqual([`DNS_MALFORMED_REPLY broken (${hostile.address}) @broken`]);
    expect(report.findings[0].evidence?.details).toEqual(
      expect.arrayContaining([expect.stringMatching(/RDLENGTH 0, but an A record is 4 bytes/), expect.stringMatching(/RDLENGTH 2, but an AAAA record is 16 bytes/)]),
    );
    expect(JSON.stringify(report)).not.toMatch(/undefined|0\.0\.0\.0/);
  });
});
