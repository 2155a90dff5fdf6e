// ttl-policy against a fixed inventory (Route 53 record sets) and a scripted DNS (static dialers).
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { loadConfig } from '../../src/config-load.ts';
import { silentLogger } from '../../src/log.ts';
import type { Finding, Inventory, RecordSet } from '../../src/types.ts';
import { FakeDns, answer } from '../support/fake-dns.ts';

const SOA: RecordSet = { Name: 'dialer.example.com.', Type: 'SOA', TTL: 900, ResourceRecords: [{ Value: 'ns-1.awsdns-00.com. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400' }] };
const NS: RecordSet = { Name: 'dialer.example.com.', Type: 'NS', TTL: 172800, ResourceRecords: [{ Value: 'ns-1.awsdns-00.com.' }] };

function zoneInventory(dialerRecordSets: RecordSet[], others: RecordSet[] = []): Inventory {
  const recordSets = [NS, SOA, ...dialerRecordSets, ...others];
  return {
    dialers: [],
    zones: [{ zoneId: 'Z1', name: 'dialer.example.com', privateZone: false, recordSets, dialerRecordSets }],
  };
}

async function audit(raw: Record<string, unknown>, inventory?: Inventory, dns = new FakeDns(() => undefined)) {
  const config = parseConfig(raw);
  return runAudit(config, { dns, log: silentLogger, ...(inventory ? { inventory: async () => inventory } : {}) });
}

const byCode = (findings: Finding[], code: string) => findings.filter((f) => f.code === code);

describe('ttl-policy on Route 53 record sets', () => {
  it('flags each record set above policy with its TTL, the policy, the worst case and the fix', async () => {
    // Prepare
    const inventory = zoneInventory([
      { Name: 'acme.dialer.example.com.', Type: 'A', TTL: 86400, ResourceRecords: [{ Value: '192.0.2.1' }] },
      { Name: 'beta.dialer.example.com.', Type: 'A', TTL: 300, ResourceRecords: [{ Value: '192.0.2.2' }] },
    ]);
    // Act
    const report = await audit({ checks: { 'ttl-policy': {} } }, inventory);
    // Assess
    const [over] = byCode(report.findings, 'TTL_ABOVE_POLICY');
    expect(byCode(report.findings, 'TTL_ABOVE_POLICY')).toHaveLength(1);
    expect(over.target).toBe('acme.dialer.example.com');
    expect(over.message).toBe(
      'acme.dialer.example.com A has TTL 86400 s, above the 300 s policy: a stale or wrong answer can live in resolver caches for up to 1d after the record is corrected',
    );
    expect(over.evidence).toMatchObject({ ttl: 86400, maxTtl: 300, worstCaseStaleSeconds: 86400, zoneId: 'Z1' });
    expect(over.fix).toEqual({ zoneId: 'Z1', zoneName: 'dialer.example.com', name: 'acme.dialer.example.com', type: 'A', setIdentifier: undefined, fromTtl: 86400, toTtl: 300 });
    expect(over.firstStep).toContain('Run `dialer-audit audit --config FILE --only ttl-policy --target acme.dialer.example.com --fix`: it sets the TTL of acme.dialer.example.com A 86400 → 300 s');
    expect(report.measurements).toContainEqual(expect.objectContaining({ check: 'ttl-policy', target: 'acme.dialer.example.com', metric: 'ttl_seconds', value: 86400 }));
  });

  it("names the config file the run loaded in the finding's command", async () => {
    // Prepare
    const dir = await mkdtemp(path.join(tmpdir(), 'ttl-policy-'));
    const file = path.join(dir, 'dialer-audit.yaml');
    await writeFile(file, 'checks:\n  ttl-policy: { maxTtl: 300 }\n');
    const config = await loadConfig(file);
    const inventory = zoneInventory([{ Name: 'acme.dialer.example.com.', Type: 'A', TTL: 3600, ResourceRecords: [{ Value: '192.0.2.1' }] }]);
    // Act
    const report = await runAudit(config, { dns: new FakeDns(() => undefined), log: silentLogger, inventory: async () => inventory });
    // Assess
    expect(byCode(report.findings, 'TTL_ABOVE_POLICY')[0].firstStep).toContain(`dialer-audit audit --config ${file} --only ttl-policy --target acme.dialer.example.com --fix`);
  });

  it('lists every over-policy set of a name (weighted sets too) in the one command', async () => {
    // Prepare
    const inventory = zoneInventory([
      { Name: 'w.dialer.example.com.', Type: 'A', SetIdentifier: 'eu', Weight: 10, TTL: 3600, ResourceRecords: [{ Value: '192.0.2.1' }] },
      { Name: 'w.dialer.example.com.', Type: 'A', SetIdentifier: 'us', Weight: 20, TTL: 7200, ResourceRecords: [{ Value: '192.0.2.2' }] },
    ]);
    // Act
    const report = await audit({ checks: { 'ttl-policy': {} } }, inventory);
    // Assess
    const found = byCode(report.findings, 'TTL_ABOVE_POLICY');
    expect(found.map((f) => f.fix?.setIdentifier)).toEqual(['eu', 'us']);
    expect(found[0].message).toContain('w.dialer.example.com A [eu] has TTL 3600 s');
    expect(found[0].firstStep).toContain('it sets the TTL of w.dialer.example.com A [eu] 3600 → 300 s, A [us] 7200 → 300 s');
    expect(found[0].firstStep).toContain('fully in effect after 2h');
  });

  it('does not offer --fix for a name the config protects', async () => {
    // Prepare
    const inventory = zoneInventory([{ Name: 'pbx.dialer.example.com.', Type: 'A', TTL: 3600, ResourceRecords: [{ Value: '192.0.2.1' }] }]);
    // Act
    const report = await audit({ checks: { 'ttl-policy': {} }, fix: { protect: ['pbx.*'] } }, inventory);
    // Assess
    const [over] = byCode(report.findings, 'TTL_ABOVE_POLICY');
    expect(over.firstStep).toMatch(/^pbx\.dialer\.example\.com is protected by fix\.protect "pbx\.\*", so --fix leaves it alone: set the TTL of pbx\.dialer\.example\.com A 3600 → 300 s by hand/);
  });

  it("quotes a wildcard record's name in the command, so the shell does not expand it", async () => {
    // Prepare: Route 53 returns the wildcard label as \052.
    const inventory = zoneInventory([{ Name: '\\052.dialer.example.com.', Type: 'A', TTL: 3600, ResourceRecords: [{ Value: '192.0.2.1' }] }]);
    // Act
    const report = await audit({ checks: { 'ttl-policy': {} } }, inventory);
    // Assess
    const [over] = byCode(report.findings, 'TTL_ABOVE_POLICY');
    expect(over.target).toBe('*.dialer.example.com');
    expect(over.firstStep).toContain("--target '*.dialer.example.com' --fix");
  });

  it('applies the first matching override, by name glob and type', async () => {
    // Prepare
    const inventory = zoneInventory([
      { Name: 'acme.dialer.example.com.', Type: 'TXT', TTL: 3600, ResourceRecords: [{ Value: '"v=1"' }] },
      { Name: 'static.dialer.example.com.', Type: 'A', TTL: 900, ResourceRecords: [{ Value: '192.0.2.9' }] },
      { Name: 'acme.dialer.example.com.', Type: 'A', TTL: 600, ResourceRecords: [{ Value: '192.0.2.1' }] },
    ]);
    const params = { maxTtl: 300, overrides: [{ type: 'txt', maxTtl: 3600 }, { name: 'static.*.example.com', maxTtl: 900 }] };
    // Act
    const report = await audit({ checks: { 'ttl-policy': params } }, inventory);
    // Assess
    expect(byCode(report.findings, 'TTL_ABOVE_POLICY').map((f) => `${f.target} ${f.fix?.type} ${f.fix?.toTtl}`)).toEqual(['acme.dialer.example.com A 300']);
  });

  it('reports an alias record as TTL_ALIAS (info) without a fix, with the TTL of an aliased record of the zone', async () => {
    // Prepare
    const target: RecordSet = { Name: 'pool.dialer.example.com.', Type: 'A', TTL: 3600, ResourceRecords: [{ Value: '192.0.2.5' }] };
    const inventory = zoneInventory(
      [{ Name: 'acme.dialer.example.com.', Type: 'A', AliasTarget: { HostedZoneId: 'Z1', DNSName: 'pool.dialer.example.com.', EvaluateTargetHealth: false } }],
      [target],
    );
    // Act
    const report = await audit({ checks: { 'ttl-policy': {} } }, inventory);
    // Assess
    const [alias] = byCode(report.findings, 'TTL_ALIAS');
    expect(alias.severity).toBe('info');
    expect(alias.fix).toBeUndefined();
    expect(alias.message).toContain('is an alias to pool.dialer.example.com: it has no TTL of its own; resolvers cache it for the TTL of pool.dialer.example.com (3600 s, above the 300 s policy)');
    expect(byCode(report.findings, 'TTL_ABOVE_POLICY')).toHaveLength(0);
  });

  it("flags the zone's negative-caching TTL from Route 53's SOA, with the SOA TTL change as its fix", async () => {
    // Act
    const report = await audit({ checks: { 'ttl-policy': {} } }, zoneInventory([]));
    // Assess
    const [neg] = byCode(report.findings, 'TTL_NEGATIVE_ABOVE_POLICY');
    expect(neg.target).toBe('dialer.example.com');
    expect(neg.message).toContain('min(SOA TTL 900, MINIMUM 86400) = 900 s, above the 300 s policy');
    expect(neg.message).toContain('for up to 15m');
    expect(neg.fix).toMatchObject({ name: 'dialer.example.com', type: 'SOA', fromTtl: 900, toTtl: 300 });
    // The zone's NS (TTL 172800) is the zone's own, not a dialer's.
    expect(byCode(report.findings, 'TTL_ABOVE_POLICY')).toHaveLength(0);
  });

  it('reads a static dialer from the Route 53 zone that holds it, without asking DNS', async () => {
    // Prepare
    const inventory = zoneInventory([], [{ Name: 'legacy.dialer.example.com.', Type: 'CNAME', TTL: 86400, ResourceRecords: [{ Value: 'pool.example.net' }] }]);
    inventory.dialers = ['legacy.dialer.example.com'];
    const dns = new FakeDns(() => undefined);
    // Act
    const report = await audit({ targets: { dialers: ['legacy.dialer.example.com'] }, checks: { 'ttl-policy': { maxNegativeTtl: 900 } } }, inventory, dns);
    // Assess
    expect(byCode(report.findings, 'TTL_ABOVE_POLICY').map((f) => `${f.target} ${f.fix?.type}`)).toEqual(['legacy.dialer.example.com CNAME']);
    expect(dns.asked).toHaveLength(0);
  });
});

describe('ttl-policy on static dialers (through the authoritative servers)', () => {
  const auth = '127.0.0.10:5300';
  const soa = { name: 'dialer.test', type: 'SOA', ttl: 900, value: '', fields: { minimum: 86400 } };
  const script = (q: { name: string; type: string; at: string }) => {
    if (q.at !== auth) return undefined;
    if (q.type === 'A' && q.name === 'slow.dialer.test') return answer('NOERROR', [{ name: 'slow.dialer.test', type: 'A', ttl: 86400, value: '192.0.2.1' }], { aa: true });
    if (q.type === 'A') return answer('NOERROR', [{ name: q.name, type: 'A', ttl: 60, value: '192.0.2.2' }], { aa: true });
    return answer('NOERROR', [], { aa: true, authorities: [soa] });
  };

  it('reads TTLs the zone hands out and reports the negative TTL once per zone', async () => {
    // Prepare
    const dns = new FakeDns(script);
    const raw = { authoritative: [{ address: auth }], targets: { dialers: ['slow.dialer.test', 'fast.dialer.test'] }, checks: { 'ttl-policy': {} } };
    // Act
    const report = await audit(raw, undefined, dns);
    // Assess
    const over = byCode(report.findings, 'TTL_ABOVE_POLICY');
    expect(over.map((f) => f.target)).toEqual(['slow.dialer.test']);
    expect(over[0].message).toContain('slow.dialer.test A has TTL 86400 s at auth1, above the 300 s policy');
    expect(over[0].fix).toBeUndefined();
    expect(over[0].firstStep).toContain('--fix cannot change it');
    const neg = byCode(report.findings, 'TTL_NEGATIVE_ABOVE_POLICY');
    expect(neg).toHaveLength(1);
    expect(neg[0]).toMatchObject({ target: 'dialer.test', evidence: { negativeTtl: 900, dialers: ['fast.dialer.test', 'slow.dialer.test'] } });
  });

  it('says TTL_UNKNOWN when no authoritative server answers', async () => {
    // Prepare
    const raw = { authoritative: [{ address: auth }], targets: { dialers: ['gone.dialer.test'] }, checks: { 'ttl-policy': {} } };
    // Act
    const report = await audit(raw, undefined, new FakeDns(() => undefined));
    // Assess
    expect(report.findings.map((f) => `${f.code} ${f.target}`)).toEqual(['TTL_UNKNOWN gone.dialer.test']);
  });
});
