// RFC 3263 through real DNS servers: a carrier published with NAPTR → SRV → A in knot, asked of
// three unbound resolvers (our own DNS lab instance on 127.56.0.x), probed at the address the
// zone names (SIPp on 127.50.5.x). Then the carrier moves and one resolver keeps the old
// address cached → SIP_DNS_MISMATCH at that resolver only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import { ensureLabPackages, startDnsLab, type DnsLab } from '../lab/dns-lab.ts';
import { startSippUas, type SippUas } from '../lab/sipp.ts';

const ZONE = 'carrier.test';
const OLD_EDGE = '127.50.5.1';
const NEW_EDGE = '127.50.5.2';
const EDGE = `edge.trunk.${ZONE}`;

let dns: DnsLab;
const sipp: SippUas[] = [];

beforeAll(async () => {
  await ensureLabPackages();
  dns = await startDnsLab({
    prefix: '127.56.0',
    zone: ZONE,
    records: [
      {
        name: `trunk.${ZONE}`,
        type: 'NAPTR',
        ttl: 300,
        values: [`10 50 "s" "SIP+D2U" "" _sip._udp.trunk.${ZONE}.`, `20 50 "s" "SIP+D2T" "" _sip._tcp.trunk.${ZONE}.`],
      },
      { name: `_sip._udp.trunk.${ZONE}`, type: 'SRV', ttl: 300, values: [`0 0 5060 ${EDGE}`] },
      { name: `_sip._tcp.trunk.${ZONE}`, type: 'SRV', ttl: 300, values: [`0 0 5070 ${EDGE}`] },
      { name: EDGE, type: 'A', ttl: 3600, values: [OLD_EDGE] },
    ],
  });
  for (const address of [OLD_EDGE, NEW_EDGE]) {
    sipp.push(await startSippUas({ address, port: 5060, transport: 'udp', answer: 200 }));
    sipp.push(await startSippUas({ address, port: 5070, transport: 'tcp', answer: 200 }));
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(sipp.map((s) => s.stop()));
  await dns?.stop();
});

async function audit() {
  const config = parseConfig({
    resolvers: dns.resolvers,
    authoritative: dns.authoritative,
    carriers: [{ name: 'lab-carrier', uri: `sip:trunk.${ZONE}`, transports: ['udp', 'tcp'] }],
    checks: { 'sip-options': { fragmentation: false, timeout: '2s' } },
  });
  return runAudit(config, { dns: dnsClientFromConfig(config), log: silentLogger });
}

const probedAddresses = (r: Awaited<ReturnType<typeof audit>>) =>
  [...new Set(r.aggregates.filter((m) => m.metric === 'up').map((m) => `${m.labels.transport} ${m.labels.address} ${m.sum / m.count}`))].sort();

describe('sip-options with RFC 3263 resolution through the DNS lab', () => {
  it('follows NAPTR → SRV (port per transport) → A and finds a healthy carrier', async () => {
    // Act
    const report = await audit();
    // Assess
    expect(report.findings).toEqual([]);
    expect(probedAddresses(report)).toEqual([`tcp ${OLD_EDGE}:5070 1`, `udp ${OLD_EDGE}:5060 1`]);
  });

  it('after the carrier moves, a resolver still handing out the old address is SIP_DNS_MISMATCH; probes follow the zone', async () => {
    // Prepare: every resolver cached the old address in the previous test; move the edge and
    // flush it at pub2 and pub3 only, so pub1 keeps the stale answer.
    await dns.setRecords(EDGE, 'A', 3600, [NEW_EDGE]);
    await dns.flush('pub2', EDGE);
    await dns.flush('pub3', EDGE);
    // Act
    const report = await audit();
    // Assess
    expect(report.findings.map((f) => `${f.code} ${f.target} ${f.resolver}`)).toEqual(['SIP_DNS_MISMATCH lab-carrier pub1']);
    const [f] = report.findings;
    expect(f.message).toContain(`${EDGE} A at pub1`);
    expect(f.evidence?.names).toEqual([{ name: EDGE, type: 'A', resolverAnswer: OLD_EDGE, zoneAnswer: NEW_EDGE, kind: 'mismatch' }]);
    expect(probedAddresses(report)).toEqual([`tcp ${NEW_EDGE}:5070 1`, `udp ${NEW_EDGE}:5060 1`]);
  });
});
