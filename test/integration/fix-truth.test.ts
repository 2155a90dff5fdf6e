// After a fix the report tells the truth, with the real CLI on a closed loop of its own (127.58.2x):
// the Route 53 double feeds knot, three unbound resolvers cache the 24-hour TTL, --fix lowers it.
// The --fix report shows what it fixed as fixed, and the next run exits 0 on the staleness our own
// fix left in the resolvers' caches (info, "fully in effect at").
import fs from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/entry/cli.ts';
import { capture } from '../support/cli.ts';
import type { Report } from '../../src/types.ts';
import { labQuery, startDnsLab, type DnsLab } from '../lab/dns-lab.ts';
import { labZoneFrom, startRoute53Double, type Route53Double } from '../lab/route53-double.ts';

const ZONE = 'fixed.test';
let lab: DnsLab | undefined;
let r53: Route53Double;
let config: string;

beforeAll(async () => {
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  r53 = await startRoute53Double({ onZoneChange: (zone) => lab?.replaceZone(labZoneFrom(zone).records, labZoneFrom(zone).soa) });
  const zoneId = r53.addZone({
    name: ZONE,
    recordSets: [
      { Name: `acme.${ZONE}`, Type: 'A', TTL: 86400, ResourceRecords: [{ Value: '127.60.0.1' }] },
      { Name: `beta.${ZONE}`, Type: 'A', TTL: 300, ResourceRecords: [{ Value: '127.60.0.2' }] },
    ],
  });
  const initial = labZoneFrom(r53.zone(zoneId));
  const prefixes = Array.from({ length: 10 }, (_, i) => `127.58.${20 + i}`);
  lab = await startDnsLab({ prefix: prefixes[0], fallbackPrefixes: prefixes.slice(1), zone: ZONE, records: initial.records, soa: initial.soa });
  const dir = await mkdtemp(path.join(tmpdir(), 'dialer-audit-fix-truth-'));
  config = path.join(dir, 'dialer-audit.yaml');
  await writeFile(
    config,
    [
      `aws: { region: us-east-1, endpoint: "${r53.endpoint}" }`,
      `state: { file: "${path.join(dir, 'state.json')}" }`,
      'resolvers:',
      ...lab.resolvers.map((r) => `  - { name: ${r.name}, address: "${r.address}" }`),
      `authoritative: [{ name: knot, address: "${lab!.authoritative[0].address}" }]`,
      `targets: { zones: [{ zone: ${ZONE}, match: "*.${ZONE}" }] }`,
      'checks: { dns-consistency: {}, ttl-policy: { maxTtl: 300 } }',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await lab?.stop();
  if (lab) fs.rmSync(lab.dir, { recursive: true, force: true });
  await r53?.close();
});

describe('the truth after a fix', () => {
  it('the --fix report shows its fixes as fixed; the next run exits 0 on the TTL staleness our fix left behind', async () => {
    // Prepare: every resolver caches acme under its 24-hour TTL.
    for (const r of lab!.resolvers) expect((await labQuery(r.address, `acme.${ZONE}`, 'A')).answers[0].ttl).toBeGreaterThan(86000);

    // Act 1: --fix, as text (what the on-call engineer reads) and the report's JSON beside it.
    const fixText = capture();
    const fixCode = await main(['audit', '--config', config, '--fix'], fixText);
    // Assess 1: shown as fixed, with when it is fully in effect; no "Run … --fix" beside "applied".
    const out = fixText.out().replace(/\s+/g, ' ');
    expect(fixCode).toBe(0);
    expect(out).toContain(`TTL_ABOVE_POLICY acme.${ZONE}: fixed by this run: acme.${ZONE} A TTL 86400 → 300 s applied (change`);
    expect(out).toContain('so it is fully in effect at');
    expect(out).toContain(`± MODIFY-TTL acme.${ZONE} A ttl=(86400->300) applied`);
    expect(out).not.toMatch(/Run `dialer-audit audit/);

    // Act 2: the next scheduled run; the resolvers still count down the 24-hour TTL they cached.
    const next = capture();
    const nextCode = await main(['audit', '--config', config, '--format', 'json'], next);
    // Assess 2: exit 0; one info finding per resolver, saying it is our own fix, fully in effect at T.
    const report = JSON.parse(next.out()) as Report;
    expect(nextCode).toBe(0);
    const stale = report.findings.filter((f) => f.code === 'DNS_TTL_STALE');
    expect(stale.map((f) => `${f.severity} ${f.resolver}`).sort()).toEqual(['info pub1', 'info pub2', 'info pub3']);
    expect(stale[0].message).toMatch(/^A at pub\d: still counting down the 86400 s TTL it cached before --fix lowered it to 300 s at .+; fully in effect at \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
  });
});
