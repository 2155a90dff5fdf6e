// The closed loop: the Route 53 double feeds its own knot (a lab of its own on 127.57.0.x, so
// the shared lab is not disturbed). A TTL violation is seen through DNS, `--fix` changes it
// through the Route 53 API, and the next audit sees 300 s through DNS.
import fs from 'node:fs';
import { Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { route53Fixer } from '../../src/fix/route53.ts';
import { route53Inventory } from '../../src/inventory/route53.ts';
import { silentLogger } from '../../src/log.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import type { Report } from '../../src/types.ts';
import { labQuery, startDnsLab, type DnsLab } from '../lab/dns-lab.ts';
import { labZoneFrom, startRoute53Double, type Route53Double } from '../lab/route53-double.ts';

const ZONE = 'r53.test';
let lab: DnsLab | undefined;
let r53: Route53Double;
let zoneId: string;

beforeAll(async () => {
  // Every change the API commits is rendered into knot's zone; the change is INSYNC once knot serves it.
  r53 = await startRoute53Double({ onZoneChange: (zone) => lab?.replaceZone(labZoneFrom(zone).records, labZoneFrom(zone).soa) });
  zoneId = r53.addZone({
    name: ZONE,
    recordSets: [
      { Name: `acme.${ZONE}`, Type: 'A', TTL: 86400, ResourceRecords: [{ Value: '127.60.0.1' }] },
      { Name: `beta.${ZONE}`, Type: 'A', TTL: 300, ResourceRecords: [{ Value: '127.60.0.2' }] },
    ],
  });
  const initial = labZoneFrom(r53.zone(zoneId));
  lab = await startDnsLab({ prefix: '127.57.0', fallbackPrefixes: ['127.57.1', '127.57.2', '127.57.3'], zone: ZONE, records: initial.records, soa: initial.soa });
});

afterAll(async () => {
  await lab?.stop();
  if (lab) fs.rmSync(lab.dir, { recursive: true, force: true });
  await r53?.close();
});

/** What the world sees: the dialers audited through the zone's authoritative server only (no Route 53). */
async function auditThroughDns(): Promise<Report> {
  const config = parseConfig({ authoritative: [{ address: lab!.authoritative[0].address }], targets: { dialers: [`acme.${ZONE}`, `beta.${ZONE}`] }, checks: { 'ttl-policy': {} } });
  return runAudit(config, { dns: dnsClientFromConfig(config), log: silentLogger });
}

describe('closed loop: Route 53 API → knot → DNS', () => {
  it('sees a 24-hour TTL through DNS, fixes it through Route 53, then sees 300 s through DNS', async () => {
    // Prepare: the violation as the world sees it.
    const before = await auditThroughDns();
    expect(before.findings.map((f) => `${f.code} ${f.target} ${f.evidence?.ttl ?? f.evidence?.negativeTtl}`).sort()).toEqual([
      `TTL_ABOVE_POLICY acme.${ZONE} 86400`,
      `TTL_NEGATIVE_ABOVE_POLICY ${ZONE} 900`,
    ]);
    const client = new Route53Client({ endpoint: r53.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
    const config = parseConfig({ targets: { zones: [{ zone: ZONE, match: `*.${ZONE}` }] }, checks: { 'ttl-policy': {} }, fix: { maxPercent: 100 } });

    // Act: the audit with --fix, through the Route 53 API.
    const fixed = await runAudit(
      config,
      {
        dns: dnsClientFromConfig(config),
        log: silentLogger,
        inventory: (cfg, signal) => route53Inventory(cfg, client, signal),
        fixer: route53Fixer(client, { pollMs: 50 }),
      },
      { dryRun: false },
    );

    // Assess: applied means INSYNC, which the double reports only once knot serves the change.
    expect(fixed.fixes.map((f) => `${f.name} ${f.type} ${f.fromTtl}->${f.toTtl} ${f.status}`)).toEqual([`acme.${ZONE} A 86400->300 applied`, `${ZONE} SOA 900->300 applied`]);
    const direct = await labQuery(lab!.authoritative[0].address, `acme.${ZONE}`, 'A', { recursionDesired: false });
    expect(direct.answers.map((r) => [r.data, r.ttl])).toEqual([['127.60.0.1', 300]]);
    const after = await auditThroughDns();
    expect(after.findings).toEqual([]);
    // Both dialers' A records, as DNS hands them out now: 300 s each.
    expect(after.aggregates.filter((m) => m.metric === 'ttl_seconds').map((m) => `${m.labels.type} ×${m.count} ${m.min}..${m.max}`)).toEqual(['A ×2 300..300']);
  });
});
