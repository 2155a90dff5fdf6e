// Routing policies on real servers: PowerDNS with LUA records (weighted, multivalue-like, and
// answers by who asks) behind three unbound resolvers that each ask from their own address, and a
// Route 53 double holding the same record sets. A healthy routed fleet raises nothing; a value no
// variant holds is still caught at the resolver that holds it.
import { Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { route53Inventory } from '../../src/inventory/route53.ts';
import { silentLogger } from '../../src/log.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import { SEVERITY_RANK, type RecordSet, type Report } from '../../src/types.ts';
import { routingFleet, type RoutingFleet } from '../fixtures/routing-fleet.ts';
import { labQuery } from '../lab/dns-lab.ts';
import { startRoute53Double, type Route53Double } from '../lab/route53-double.ts';
import { startRoutingLab, type RoutingLab } from '../lab/routing-lab.ts';

const ZONE = 'routed.test';
const RUNS = 20;
let lab: RoutingLab;
let r53: Route53Double;
let zoneId: string;
let client: Route53Client;
let fleet: RoutingFleet;

beforeAll(async () => {
  lab = await startRoutingLab({ zone: ZONE, records: (nets) => routingFleet(ZONE, nets).zoneLines });
  fleet = routingFleet(ZONE, lab.nets);
  r53 = await startRoute53Double();
  zoneId = r53.addZone({ name: ZONE, recordSets: fleet.recordSets });
  client = new Route53Client({ endpoint: r53.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
});

afterAll(async () => {
  await lab?.stop();
  await r53?.close();
});

const common = () => ({
  authoritative: [lab.authoritative],
  checks: { 'dns-consistency': { recordTypes: ['A', 'AAAA'] } },
  dns: { timeout: '2s', retries: 1 },
});

/** With the Route 53 inventory: the zone's record sets are the truth; resolvers have no egress. */
function withInventory() {
  return parseConfig({ ...common(), resolvers: lab.resolvers.map(({ name, address }) => ({ name, address })), targets: { zones: [{ zone: ZONE, match: `*.${ZONE}` }] } });
}

/** Without an inventory: each resolver's egress network is known, the rest is learned by asking. */
function withEgress(dialers: string[]) {
  return parseConfig({ ...common(), resolvers: lab.resolvers.map(({ name, address, egress }) => ({ name, address, egress: [egress] })), targets: { dialers } });
}

async function audit(config: ReturnType<typeof parseConfig>): Promise<Report> {
  const inventory = config.targets.zones.length > 0 ? { inventory: (cfg: typeof config, signal: AbortSignal) => route53Inventory(cfg, client, signal) } : {};
  return runAudit(config, { dns: dnsClientFromConfig(config), log: silentLogger, ...inventory });
}

const loud = (r: Report) => r.findings.filter((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK.warning).map((f) => `${f.code} ${f.target} @${f.resolver}: ${f.message}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What each resolver hands out now, per name: the answers the audit just compared. */
async function handedOut(names: string[]): Promise<Map<string, Set<string>>> {
  const seen = new Map<string, Set<string>>();
  for (const name of names) {
    for (const r of lab.resolvers) {
      const values = (await labQuery(r.address, name, 'A')).answers.filter((a) => a.type === 'A').map((a) => a.data).sort().join(',');
      seen.set(name, (seen.get(name) ?? new Set()).add(values));
    }
  }
  return seen;
}

async function healthyRuns(config: ReturnType<typeof parseConfig>): Promise<{ loudFindings: string[]; seen: Map<string, Set<string>>; targets: number }> {
  const loudFindings: string[] = [];
  const seen = new Map<string, Set<string>>();
  let targets = 0;
  for (let i = 0; i < RUNS; i++) {
    const started = Date.now();
    const report = await audit(config);
    loudFindings.push(...loud(report));
    targets = report.summary.targets;
    for (const [name, values] of await handedOut(fleet.dialers)) for (const v of values) seen.set(name, (seen.get(name) ?? new Set()).add(v));
    // Runs at least 300 ms apart, so resolvers fetch other variants of the 1-second TTLs in between.
    await sleep(300 - (Date.now() - started));
  }
  return { loudFindings, seen, targets };
}

describe('routing policies on PowerDNS LUA records', () => {
  it(`with the Route 53 inventory: ${RUNS} healthy runs, 0 findings at warning or above`, async () => {
    // Act
    const { loudFindings, seen, targets } = await healthyRuns(withInventory());
    // Assess: nothing loud, and the runs really met every variant (not one cached answer 20 times).
    expect(loudFindings).toEqual([]);
    expect(targets).toBe(fleet.dialers.length);
    expect([...seen.get(`weighted.${ZONE}`)!].sort()).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(seen.get(`multi.${ZONE}`)!.size).toBeGreaterThan(2);
    expect([...seen.get(`cidr.${ZONE}`)!].sort()).toEqual(['192.0.2.21', '192.0.2.22', '192.0.2.23']);
    expect([...seen.get(`latency.${ZONE}`)!].sort()).toEqual(['192.0.2.31', '192.0.2.32']);
  });

  it(`without an inventory, with egress: ${RUNS} healthy runs, 0 findings at warning or above`, async () => {
    const { loudFindings, seen } = await healthyRuns(withEgress(fleet.dialers));
    expect(loudFindings).toEqual([]);
    expect([...seen.get(`weighted.${ZONE}`)!].sort()).toEqual(['192.0.2.1', '192.0.2.2']);
    expect([...seen.get(`geo.${ZONE}`)!].sort()).toEqual(['192.0.2.41', '192.0.2.42']);
  });

  it('a value no variant holds is DNS_MISMATCH at that resolver only, with and without the inventory', async () => {
    // Prepare: "moved" is weighted over .71/.72 for an hour; pub1 caches one of them; then both
    // its sets move to .81/.82 (in PowerDNS and in Route 53).
    const name = `moved.${ZONE}`;
    const weighted = (a: string, b: string): { lua: string; sets: RecordSet[] } => ({
      lua: `${name}. 3600 IN LUA A "pickwrandom({{50,'${a}'},{50,'${b}'}})"`,
      sets: [
        { Name: `${name}.`, Type: 'A', TTL: 3600, SetIdentifier: 'a', Weight: 50, ResourceRecords: [{ Value: a }] },
        { Name: `${name}.`, Type: 'A', TTL: 3600, SetIdentifier: 'b', Weight: 50, ResourceRecords: [{ Value: b }] },
      ],
    });
    const before = weighted('192.0.2.71', '192.0.2.72');
    const after = weighted('192.0.2.81', '192.0.2.82');
    await lab.setRecords([...fleet.zoneLines, before.lua]);
    const cached = (await labQuery(lab.resolvers[0].address, name, 'A')).answers.map((a) => a.data);
    await lab.setRecords([...fleet.zoneLines, after.lua]);
    r53.putRecordSets(zoneId, [...r53.recordSets(zoneId), ...after.sets]);
    try {
      // Act
      const inventoried = await audit(withInventory());
      const learned = await audit(withEgress([...fleet.dialers, name]));
      // Assess
      for (const report of [inventoried, learned]) expect(loud(report).map((l) => l.split(':')[0])).toEqual([`DNS_MISMATCH ${name} @pub1`]);
      const [viaRoute53] = inventoried.findings;
      expect(viaRoute53.message).toContain(`the resolver hands out ${cached[0]}, which no variant of the zone holds (weighted: a 192.0.2.81; b 192.0.2.82)`);
      expect(viaRoute53.evidence?.routing).toEqual({ source: 'route53', policy: 'weighted', variants: ['a 192.0.2.81', 'b 192.0.2.82'] });
      const [viaLearning] = learned.findings;
      expect(viaLearning.evidence?.routing).toMatchObject({ source: 'learned', policy: 'dynamic', variants: ['192.0.2.81', '192.0.2.82'], egress: [lab.resolvers[0].egress] });
    } finally {
      await lab.setRecords(fleet.zoneLines);
      r53.putRecordSets(zoneId, r53.recordSets(zoneId).filter((r) => r.Name !== `${name}.`));
      await lab.flush('pub1', name);
    }
  });
});
