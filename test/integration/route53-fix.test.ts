// The Route 53 inventory and fixer with the real AWS SDK client against the Route 53 double
// (REST/XML on 127.0.0.1): pagination, routing policies copied whole, aliases never sent,
// retries, failed batches, budgets.
import { ChangeResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { route53Fixer, type Route53FixerOptions } from '../../src/fix/route53.ts';
import { route53Inventory } from '../../src/inventory/route53.ts';
import { silentLogger } from '../../src/log.ts';
import { listAllRecordSets } from '../../src/net/route53.ts';
import type { RecordSet, Report } from '../../src/types.ts';
import { startRoute53Double, type DoubleZone, type Route53Double } from '../lab/route53-double.ts';
import { FakeDns } from '../support/fake-dns.ts';

const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 50 };

let r53: Route53Double;

beforeEach(async () => {
  r53 = await startRoute53Double();
});
afterEach(async () => {
  await r53.close();
});

function sdkClient(): Route53Client {
  return new Route53Client({ endpoint: r53.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
}

async function audit(raw: Record<string, unknown>, opts: { fix?: boolean; force?: boolean; fixer?: Route53FixerOptions } = {}): Promise<Report> {
  const config = parseConfig({ checks: { 'ttl-policy': {} }, ...raw });
  const client = sdkClient();
  return runAudit(
    config,
    {
      dns: new FakeDns(() => undefined),
      log: silentLogger,
      inventory: (cfg, signal) => route53Inventory(cfg, client, signal, { retry: FAST_RETRY }),
      fixer: route53Fixer(client, { pollMs: 10, retry: FAST_RETRY, ...opts.fixer }),
    },
    { dryRun: !opts.fix, force: opts.force },
  );
}

const a = (name: string, ttl: number, value = '192.0.2.1', extra: Partial<RecordSet> = {}): RecordSet => ({ Name: name, Type: 'A', TTL: ttl, ResourceRecords: [{ Value: value }], ...extra });

function zoneNamed(name: string): DoubleZone {
  return r53.snapshot().find((z) => z.name === `${name}.`)!;
}

describe('Route 53 inventory', () => {
  it('finds every dialer record of a 2,500-record zone over several pages, and none outside match', async () => {
    // Prepare: 2,000 dialers (A), 100 TXT and 100 SRV under dialer names, and 300 record sets the globs leave out.
    const sets: RecordSet[] = [];
    const dialers: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const name = `d${String(i).padStart(4, '0')}.dialer.example.com`;
      dialers.push(name);
      sets.push(a(name, 300, `10.${Math.floor(i / 250)}.${i % 250}.1`));
      if (i < 100) sets.push({ Name: name, Type: 'TXT', TTL: 300, ResourceRecords: [{ Value: '"dialer"' }] });
      if (i < 100) sets.push({ Name: `_sip._udp.${name}`, Type: 'SRV', TTL: 300, ResourceRecords: [{ Value: `10 10 5060 ${name}.` }] });
    }
    for (let i = 0; i < 3; i++) sets.push(a(`test-${i}.dialer.example.com`, 300));
    for (let i = 0; i < 297; i++) sets.push(a(`h${i}.hosts.example.com`, 300));
    const zoneId = r53.addZone({ name: 'example.com', recordSets: sets });
    const config = parseConfig({ targets: { zones: [{ zone: 'example.com', match: '*.dialer.example.com', exclude: ['test-*.dialer.example.com'] }] } });
    // Act
    const inventory = await route53Inventory(config, sdkClient(), new AbortController().signal);
    // Assess
    expect(r53.zone(zoneId).recordSets).toHaveLength(2502);
    expect(r53.calls.ListResourceRecordSets).toBe(9); // 300 per page
    const [zone] = inventory.zones;
    expect(zone.recordSets).toHaveLength(2502);
    expect(zone.dialerRecordSets).toHaveLength(2200);
    const srv = dialers.slice(0, 100).map((d) => `_sip._udp.${d}`);
    expect(new Set(zone.dialerRecordSets.map((r) => r.Name.replace(/\.$/, '')))).toEqual(new Set([...dialers, ...srv]));
    // The names to dial (A/AAAA/CNAME) are the dialers the DNS checks audit; SRV owners are not.
    expect([...inventory.dialers].sort()).toEqual(dialers);
    expect(inventory.problems).toBeUndefined();
  });

  it('pages through weighted sets of one name with NextRecordIdentifier', async () => {
    // Prepare: 7 weighted sets at one name, pages of 2.
    const zoneId = r53.addZone({
      name: 'dialer.example.com',
      recordSets: Array.from({ length: 7 }, (_, i) => a('w.dialer.example.com', 300, `192.0.2.${i + 1}`, { SetIdentifier: `set-${i}`, Weight: i })),
    });
    // Act
    const all = await listAllRecordSets(sdkClient(), zoneId, { deadline: Date.now() + 10_000, maxItems: 2 });
    // Assess
    expect(all.filter((r) => r.SetIdentifier).map((r) => r.SetIdentifier)).toEqual(['set-0', 'set-1', 'set-2', 'set-3', 'set-4', 'set-5', 'set-6']);
    expect(r53.calls.ListResourceRecordSets).toBe(5);
  });

  it('tells a public and a private zone of one name apart, and reports an ambiguous one', async () => {
    // Prepare
    r53.addZone({ name: 'corp.example.com', recordSets: [a('pbx.corp.example.com', 86400)] });
    const privateId = r53.addZone({ name: 'corp.example.com', privateZone: true, recordSets: [a('pbx.corp.example.com', 600, '10.0.0.5')] });
    const client = sdkClient();
    // Act
    const chosen = await route53Inventory(parseConfig({ targets: { zones: [{ zone: 'corp.example.com', private: true }] } }), client, new AbortController().signal);
    const byId = await route53Inventory(parseConfig({ targets: { zones: [{ route53ZoneId: privateId }] } }), client, new AbortController().signal);
    const ambiguous = await route53Inventory(parseConfig({ targets: { zones: [{ zone: 'corp.example.com' }] } }), client, new AbortController().signal);
    // Assess
    expect(chosen.zones.map((z) => [z.zoneId, z.privateZone])).toEqual([[privateId, true]]);
    expect(byId.zones.map((z) => [z.zoneId, z.name])).toEqual([[privateId, 'corp.example.com']]);
    expect(ambiguous.zones).toEqual([]);
    expect(ambiguous.problems?.[0]).toMatch(/zone corp\.example\.com: 2 hosted zones have this name .*set private: true\|false or route53ZoneId/);
  });

  it('reports a zone it cannot find as INVENTORY_ERROR and still audits the others', async () => {
    // Prepare
    r53.addZone({ name: 'dialer.example.com', recordSets: [a('acme.dialer.example.com', 86400)] });
    // Act
    const report = await audit({ targets: { zones: [{ zone: 'missing.example.com' }, { zone: 'dialer.example.com' }] } });
    // Assess
    expect(report.findings.filter((f) => f.code === 'INVENTORY_ERROR').map((f) => f.message)).toEqual([
      'Route 53 zone missing.example.com: no hosted zone with this name is visible to these credentials',
    ]);
    expect(report.findings.some((f) => f.code === 'TTL_ABOVE_POLICY' && f.target === 'acme.dialer.example.com')).toBe(true);
  });
});

describe('Route 53 fixer', () => {
  it('changes only TTL of weighted, latency, failover, geolocation, multivalue, CIDR and geoproximity sets', async () => {
    // Prepare
    const hc = (id: string) => ({ HealthCheckId: `0f1e2d3c-${id}` });
    r53.addZone({
      name: 'routing.example.com',
      recordSets: [
        a('w.routing.example.com', 86400, '192.0.2.1', { SetIdentifier: 'blue', Weight: 70, ...hc('blue') }),
        a('w.routing.example.com', 86400, '192.0.2.2', { SetIdentifier: 'green', Weight: 30, ...hc('green') }),
        a('lat.routing.example.com', 86400, '192.0.2.3', { SetIdentifier: 'use1', Region: 'us-east-1', ...hc('use1') }),
        a('lat.routing.example.com', 86400, '192.0.2.4', { SetIdentifier: 'euw1', Region: 'eu-west-1' }),
        a('fo.routing.example.com', 86400, '192.0.2.5', { SetIdentifier: 'primary', Failover: 'PRIMARY', ...hc('primary') }),
        a('fo.routing.example.com', 86400, '192.0.2.6', { SetIdentifier: 'secondary', Failover: 'SECONDARY' }),
        a('geo.routing.example.com', 86400, '192.0.2.7', { SetIdentifier: 'de', GeoLocation: { CountryCode: 'DE' } }),
        a('geo.routing.example.com', 86400, '192.0.2.8', { SetIdentifier: 'eu', GeoLocation: { ContinentCode: 'EU' } }),
        a('geo.routing.example.com', 86400, '192.0.2.9', { SetIdentifier: 'us-ca', GeoLocation: { CountryCode: 'US', SubdivisionCode: 'CA' } }),
        a('geo.routing.example.com', 86400, '192.0.2.10', { SetIdentifier: 'default', GeoLocation: { CountryCode: '*' } }),
        { Name: 'mv.routing.example.com', Type: 'A', TTL: 86400, SetIdentifier: 'mv-1', MultiValueAnswer: true, ResourceRecords: [{ Value: '192.0.2.11' }], ...hc('mv1') },
        { Name: 'mv.routing.example.com', Type: 'A', TTL: 86400, SetIdentifier: 'mv-2', MultiValueAnswer: true, ResourceRecords: [{ Value: '192.0.2.12' }], ...hc('mv2') },
        a('cidr.routing.example.com', 86400, '192.0.2.13', { SetIdentifier: 'office', CidrRoutingConfig: { CollectionId: 'c8c02a84-aaaa-bbbb-cccc-123456789012', LocationName: 'office' } }),
        a('gp.routing.example.com', 86400, '192.0.2.14', { SetIdentifier: 'gp-region', GeoProximityLocation: { AWSRegion: 'us-east-1', Bias: 10 } }),
        a('gp.routing.example.com', 86400, '192.0.2.15', { SetIdentifier: 'gp-coords', GeoProximityLocation: { Coordinates: { Latitude: '49.22', Longitude: '-74.01' }, Bias: -20 } }),
        { Name: 'six.routing.example.com', Type: 'AAAA', TTL: 86400, ResourceRecords: [{ Value: '2001:db8::1' }, { Value: '2001:db8::2' }] },
        a('*.routing.example.com', 86400, '192.0.2.16'),
        { Name: 'txt.routing.example.com', Type: 'TXT', TTL: 86400, ResourceRecords: [{ Value: '"v=1; a"' }, { Value: '"b & <c>"' }] },
      ],
    });
    const before = zoneNamed('routing.example.com');
    // Act
    const report = await audit({ targets: { zones: [{ zone: 'routing.example.com', match: '*.routing.example.com' }] }, fix: { maxPercent: 100 } }, { fix: true });
    // Assess
    const after = zoneNamed('routing.example.com');
    expect(report.fixes).toHaveLength(19); // 18 record sets + the SOA's TTL
    expect(report.fixes.map((f) => f.status)).toEqual(Array(19).fill('applied'));
    expect(report.fixes.some((f) => f.name === '*.routing.example.com')).toBe(true);
    expect(after.recordSets).toHaveLength(before.recordSets.length);
    for (const [i, was] of before.recordSets.entries()) {
      const expected = was.Type === 'NS' ? was : { ...was, TTL: 300 };
      expect(after.recordSets[i]).toStrictEqual(expected);
    }
    expect(r53.changeBatches).toHaveLength(1);
    expect(r53.changeBatches[0].comment).toContain(`dialer-audit run ${report.runId}`);
    expect(r53.changeBatches[0].changes.every((c) => c.action === 'UPSERT')).toBe(true);
  });

  it('never sends alias records and reports them as TTL_ALIAS', async () => {
    // Prepare
    r53.addZone({
      name: 'dialer.example.com',
      soa: { ttl: 300, minimum: 300 },
      recordSets: [
        { Name: 'lb.dialer.example.com', Type: 'A', AliasTarget: { HostedZoneId: 'Z35SXDOTRQ7X7K', DNSName: 'dualstack.my-elb-123.us-east-1.elb.amazonaws.com.', EvaluateTargetHealth: true } },
        { Name: 'www.dialer.example.com', Type: 'AAAA', AliasTarget: { HostedZoneId: 'Z2FDTNDATAQYW2', DNSName: 'd111111abcdef8.cloudfront.net.', EvaluateTargetHealth: false } },
        a('acme.dialer.example.com', 86400),
      ],
    });
    const before = zoneNamed('dialer.example.com');
    // Act
    const report = await audit({ targets: { zones: [{ zone: 'dialer.example.com', match: '*.dialer.example.com' }] }, fix: { maxPercent: 100 } }, { fix: true });
    // Assess
    expect(report.findings.filter((f) => f.code === 'TTL_ALIAS').map((f) => f.target)).toEqual(['lb.dialer.example.com', 'www.dialer.example.com']);
    expect(report.fixes.map((f) => `${f.name} ${f.status}`)).toEqual(['acme.dialer.example.com applied']);
    expect(r53.changeBatches.flatMap((b) => b.changes.map((c) => c.recordSet.Name))).toEqual(['acme.dialer.example.com.']);
    expect(r53.changeBatches.some((b) => b.body.includes('AliasTarget'))).toBe(false);
    const after = zoneNamed('dialer.example.com');
    expect(after.recordSets.filter((r) => r.AliasTarget)).toEqual(before.recordSets.filter((r) => r.AliasTarget));
  });

  it('retries Throttling three times, then applies', async () => {
    // Prepare
    r53.addZone({ name: 'dialer.example.com', soa: { ttl: 300, minimum: 300 }, recordSets: [a('acme.dialer.example.com', 86400)] });
    r53.failNext('ChangeResourceRecordSets', { code: 'Throttling', times: 3 });
    r53.failNext('ListResourceRecordSets', { code: 'Throttling', times: 1 });
    // Act
    const report = await audit({ targets: { zones: [{ zone: 'dialer.example.com' }] } }, { fix: true });
    // Assess
    expect(report.fixes.map((f) => f.status)).toEqual(['applied']);
    expect(r53.calls.ChangeResourceRecordSets).toBe(4);
    expect(r53.recordSets(zoneNamed('dialer.example.com').id).find((r) => r.Name === 'acme.dialer.example.com.')?.TTL).toBe(300);
  });

  it('waits out PriorRequestNotComplete and a throttled GetChange', async () => {
    // Prepare
    r53.addZone({ name: 'dialer.example.com', soa: { ttl: 300, minimum: 300 }, recordSets: [a('acme.dialer.example.com', 86400)] });
    r53.failNext('ChangeResourceRecordSets', { code: 'PriorRequestNotComplete', times: 2 });
    r53.failNext('GetChange', { code: 'Throttling', times: 1 });
    // Act
    const report = await audit({ targets: { zones: [{ zone: 'dialer.example.com' }] } }, { fix: true });
    // Assess
    expect(report.fixes.map((f) => [f.status, f.changeId?.startsWith('C')])).toEqual([['applied', true]]);
    expect(r53.calls.ChangeResourceRecordSets).toBe(3);
  });

  it('gives up on endless throttling within its bounds and says so', async () => {
    // Prepare
    r53.addZone({ name: 'dialer.example.com', soa: { ttl: 300, minimum: 300 }, recordSets: [a('acme.dialer.example.com', 86400)] });
    r53.failNext('ChangeResourceRecordSets', { code: 'Throttling', times: 1000 });
    // Act
    const report = await audit({ targets: { zones: [{ zone: 'dialer.example.com' }] } }, { fix: true, fixer: { retry: { ...FAST_RETRY, maxAttempts: 4 } } });
    // Assess
    expect(report.fixes[0]).toMatchObject({ status: 'failed', reason: 'Throttling: Rate exceeded (gave up after 4 attempts)' });
    expect(r53.calls.ChangeResourceRecordSets).toBe(4);
  });

  it("fails only the batch AWS rejects, with AWS's message, and applies the other zone", async () => {
    // Prepare: a legacy value Route 53 would no longer accept makes the UPSERT an InvalidChangeBatch.
    const badZone = r53.addZone({ name: 'legacy.example.com', soa: { ttl: 300, minimum: 300 } });
    r53.putRecordSets(badZone, [...r53.recordSets(badZone), a('pbx.legacy.example.com', 86400, '10.0.0')]);
    r53.addZone({ name: 'dialer.example.com', soa: { ttl: 300, minimum: 300 }, recordSets: [a('acme.dialer.example.com', 86400)] });
    // Act
    const report = await audit(
      { targets: { zones: [{ zone: 'legacy.example.com', match: '*.legacy.example.com' }, { zone: 'dialer.example.com', match: '*.dialer.example.com' }] }, run: { failOn: 'critical' } },
      { fix: true },
    );
    // Assess
    expect(report.fixes.map((f) => `${f.name} ${f.status}`).sort()).toEqual(['acme.dialer.example.com applied', 'pbx.legacy.example.com failed']);
    const failed = report.fixes.find((f) => f.status === 'failed')!;
    expect(failed.reason).toBe("InvalidChangeBatch: [Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '10.0.0'']");
    expect(report.summary.failed).toBe(true); // → exit code 1, though no finding is critical
  });

  it('sends the other batches of a zone when one batch fails', async () => {
    // Prepare: batches of one UPSERT each; the middle one is rejected.
    const zoneId = r53.addZone({ name: 'dialer.example.com', soa: { ttl: 300, minimum: 300 } });
    r53.putRecordSets(zoneId, [...r53.recordSets(zoneId), a('a.dialer.example.com', 86400), a('b.dialer.example.com', 86400, '999.1.1.1'), a('c.dialer.example.com', 86400)]);
    // Act
    const report = await audit({ targets: { zones: [{ zone: 'dialer.example.com', match: '*.dialer.example.com' }] }, fix: { maxPercent: 100 } }, { fix: true, fixer: { batchLimits: { maxRecords: 2, maxValueChars: 32_000 } } });
    // Assess
    expect(report.fixes.map((f) => `${f.name} ${f.status}`)).toEqual(['a.dialer.example.com applied', 'b.dialer.example.com failed', 'c.dialer.example.com applied']);
    expect(r53.calls.ChangeResourceRecordSets).toBe(3);
  });

  it('skips a record set that changed after it was planned', async () => {
    // Prepare: someone raises the TTL between the inventory and the apply.
    const zoneId = r53.addZone({ name: 'dialer.example.com', soa: { ttl: 300, minimum: 300 }, recordSets: [a('acme.dialer.example.com', 86400), a('beta.dialer.example.com', 3600)] });
    const client = sdkClient();
    const config = parseConfig({ checks: { 'ttl-policy': {} }, targets: { zones: [{ zone: 'dialer.example.com' }] }, fix: { maxPercent: 100 } });
    const fixer = route53Fixer(client, { pollMs: 10, retry: FAST_RETRY });
    // Act
    const report = await runAudit(
      config,
      {
        dns: new FakeDns(() => undefined),
        log: silentLogger,
        inventory: async (cfg, signal) => {
          const inv = await route53Inventory(cfg, client, signal);
          r53.putRecordSets(zoneId, r53.recordSets(zoneId).map((r) => (r.Name === 'beta.dialer.example.com.' ? { ...r, TTL: 7200 } : r)));
          return inv;
        },
        fixer,
      },
      { dryRun: false },
    );
    // Assess
    expect(report.fixes.map((f) => `${f.name} ${f.status}${f.reason ? `: ${f.reason}` : ''}`)).toEqual([
      'acme.dialer.example.com applied',
      'beta.dialer.example.com skipped: changed since it was planned (its TTL is now 7200 (was 3600)); left alone, the next run plans again',
    ]);
    expect(r53.recordSets(zoneId).find((r) => r.Name === 'beta.dialer.example.com.')?.TTL).toBe(7200);
  });

  it('reports pending when Route 53 is not INSYNC within the budget', async () => {
    // Prepare
    r53.addZone({ name: 'dialer.example.com', soa: { ttl: 300, minimum: 300 }, recordSets: [a('acme.dialer.example.com', 86400)] });
    r53.setInsyncAfter(60_000);
    const started = Date.now();
    // Act
    const report = await audit({ targets: { zones: [{ zone: 'dialer.example.com' }] }, run: { budget: '2s' } }, { fix: true, fixer: { reserveMs: 500 } });
    // Assess
    expect(report.fixes[0].status).toBe('pending');
    expect(report.fixes[0].reason).toMatch(/^change C\w+ was not INSYNC by the end of the run budget; check: aws route53 get-change --id C\w+$/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r53.calls.GetChange).toBeGreaterThan(0);
  });

  it('makes no change call in a dry run, and none with fix.mode off', async () => {
    // Prepare
    r53.addZone({ name: 'dialer.example.com', recordSets: [a('acme.dialer.example.com', 86400)] });
    const zones = [{ zone: 'dialer.example.com' }];
    // Act
    const dry = await audit({ targets: { zones } }, { fix: false });
    const off = await audit({ targets: { zones }, fix: { mode: 'off' } }, { fix: true });
    // Assess
    expect(dry.fixes.map((f) => `${f.name} ${f.type} ${f.status}`)).toEqual(['acme.dialer.example.com A planned', 'dialer.example.com SOA planned']);
    expect(off.fixes).toEqual([]);
    expect(r53.calls.ChangeResourceRecordSets).toBe(0);
  });
});

describe('the Route 53 double answers as AWS does', () => {
  it('rejects a TTL next to an AliasTarget as InvalidInput, through the real SDK', async () => {
    // Prepare
    const zoneId = r53.addZone({ name: 'dialer.example.com' });
    const change = new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: 'lb.dialer.example.com', Type: 'A', TTL: 300, AliasTarget: { HostedZoneId: 'Z35SXDOTRQ7X7K', DNSName: 'lb.example.', EvaluateTargetHealth: false } } }] },
    });
    // Act
    const outcome = sdkClient().send(change);
    // Assess
    await expect(outcome).rejects.toMatchObject({ name: 'InvalidInput', $metadata: { httpStatusCode: 400 } });
    await expect(outcome).rejects.toThrow(/Expected exactly one of \[AliasTarget, all of \[TTL, and ResourceRecords\], or TrafficPolicyInstanceId\], but found more than one/);
  });

  it('holds routing fields to AWS’s rules: a weighted set needs a SetIdentifier, and one name and type one policy', async () => {
    // Prepare
    const zoneId = r53.addZone({ name: 'dialer.example.com', recordSets: [a('w.dialer.example.com', 60, '192.0.2.1', { SetIdentifier: 'blue', Weight: 50 })] });
    const upsert = (recordSet: Record<string, unknown>) =>
      sdkClient().send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: 'w.dialer.example.com', Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.2' }], ...recordSet } }] } }));
    // Act / Assess
    await expect(upsert({ Weight: 50 })).rejects.toThrow(/Missing field 'SetIdentifier'/);
    await expect(upsert({ SetIdentifier: 'green' })).rejects.toThrow(/Expected exactly one of \[Weight, Region, Failover, GeoLocation, MultiValueAnswer, GeoProximityLocation, or CidrRoutingConfig\], but found none/);
    await expect(upsert({ SetIdentifier: 'green', Region: 'eu-west-1' })).rejects.toMatchObject({ name: 'InvalidChangeBatch' });
    await expect(upsert({ SetIdentifier: 'green', Weight: 50 })).resolves.toMatchObject({ ChangeInfo: { Status: 'PENDING' } });
  });

  it('answers a DELETE of a missing set with the standard InvalidChangeBatch error document', async () => {
    // Prepare
    const zoneId = r53.addZone({ name: 'dialer.example.com' });
    const body =
      '<?xml version="1.0" encoding="UTF-8"?><ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes><Change><Action>DELETE</Action>' +
      '<ResourceRecordSet><Name>gone.dialer.example.com</Name><Type>A</Type><TTL>300</TTL><ResourceRecords><ResourceRecord><Value>192.0.2.1</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>';
    // Act
    const res = await fetch(`${r53.endpoint}/2013-04-01/hostedzone/${zoneId}/rrset/`, { method: 'POST', body });
    // Assess
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(
      /<ErrorResponse xmlns="https:\/\/route53\.amazonaws\.com\/doc\/2013-04-01\/"><Error><Type>Sender<\/Type><Code>InvalidChangeBatch<\/Code><Message>\[Tried to delete resource record set \[name='gone\.dialer\.example\.com\.', type='A'\] but it was not found\]<\/Message><\/Error><RequestId>[0-9a-f]+<\/RequestId><\/ErrorResponse>/,
    );
  });
});
