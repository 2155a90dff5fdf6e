// `dialer-audit audit` as a person runs it, against the Route 53 double (aws.endpoint in the
// config): the plan printed in a dry run, --fix applying it, a refused plan still printed, --force.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/entry/cli.ts';
import { capture } from '../support/cli.ts';
import type { RecordSet, Report } from '../../src/types.ts';
import { startRoute53Double, type Route53Double } from '../lab/route53-double.ts';

let r53: Route53Double;
let config: string;

/** A config in a fresh directory, with its own alert state (and so its own fix journal). */
async function writeConfig(zone: string, extra = ''): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dialer-audit-r53-'));
  const file = path.join(dir, 'dialer-audit.yaml');
  await writeFile(
    file,
    `aws: { region: us-east-1, endpoint: "${r53.endpoint}" }\n` +
      `state: { file: "${path.join(dir, 'state.json')}" }\n` +
      `targets:\n  zones:\n    - zone: ${zone}\n      match: "*.${zone}"\n` +
      `checks:\n  ttl-policy: { maxTtl: 300 }\n${extra}`,
  );
  return file;
}

const a = (name: string, ttl: number, i: number): RecordSet => ({ Name: name, Type: 'A', TTL: ttl, ResourceRecords: [{ Value: `192.0.2.${i}` }] });

beforeEach(async () => {
  // The SDK's default credential chain finds these; the double does not check signatures.
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  r53 = await startRoute53Double();
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await r53.close();
});

describe('dialer-audit audit with Route 53', () => {
  it('prints the plan in a dry run, applies it with --fix, and is clean on the next run', async () => {
    // Prepare: 3 of 20 record sets over policy (15 %, within the 30 % limit).
    const sets = Array.from({ length: 18 }, (_, i) => a(`d${String(i).padStart(2, '0')}.dialer.example.com`, i < 3 ? 86400 : 300, i + 1));
    const zoneId = r53.addZone({ name: 'dialer.example.com', soa: { ttl: 300, minimum: 300 }, recordSets: sets });
    config = await writeConfig('dialer.example.com');

    // Act 1: dry run
    const dry = capture();
    const dryCode = await main(['audit', '--config', config], dry);
    // Assess 1
    expect(dryCode).toBe(1);
    expect(dry.out()).toContain(
      [
        'TTL fixes (dry run: nothing changed; rerun with --fix to apply)',
        '± MODIFY-TTL d00.dialer.example.com A ttl=(86400->300)',
        '± MODIFY-TTL d01.dialer.example.com A ttl=(86400->300)',
        '± MODIFY-TTL d02.dialer.example.com A ttl=(86400->300)',
        'Plan: 3 TTL changes in 1 zone',
      ].join('\n'),
    );
    expect(dry.out().replace(/\s+/g, ' ')).toContain(`Run \`dialer-audit audit --config ${config} --only ttl-policy --target d00.dialer.example.com --fix\`: it sets the TTL of d00.dialer.example.com A 86400 → 300 s`);
    expect(r53.calls.ChangeResourceRecordSets).toBe(0);

    // Act 2: --fix
    const fix = capture();
    const fixCode = await main(['audit', '--config', config, '--fix', '--format', 'json'], fix);
    // Assess 2: every fix is applied, and the findings it fixed are shown as fixed (info): exit 0.
    const report = JSON.parse(fix.out()) as Report;
    expect(fixCode).toBe(0);
    expect(report.findings.filter((f) => f.code === 'TTL_ABOVE_POLICY').map((f) => `${f.severity} ${f.evidence?.fixStatus}`)).toEqual(Array(3).fill('info applied'));
    expect(report.fixes.map((f) => `${f.name} ${f.fromTtl}->${f.toTtl} ${f.status}`)).toEqual([
      'd00.dialer.example.com 86400->300 applied',
      'd01.dialer.example.com 86400->300 applied',
      'd02.dialer.example.com 86400->300 applied',
    ]);
    expect(r53.recordSets(zoneId).filter((r) => r.Type !== 'NS' && r.TTL! > 300)).toEqual([]);

    // Act 3: the next run
    const after = capture();
    const afterCode = await main(['audit', '--config', config], after);
    // Assess 3
    expect(afterCode).toBe(0);
    expect(after.out()).not.toContain('MODIFY-TTL');
  });

  it('refuses a plan touching 40 % of a 50-record zone without --force, prints it, and applies it with --force', async () => {
    // Prepare: NS + SOA + 48 record sets, 20 of them at 86400 s → 20 of 50 = 40 %.
    const sets = Array.from({ length: 48 }, (_, i) => a(`d${String(i).padStart(2, '0')}.dialer.example.com`, i < 20 ? 86400 : 300, i + 1));
    const zoneId = r53.addZone({ name: 'dialer.example.com', soa: { ttl: 300, minimum: 300 }, recordSets: sets });
    config = await writeConfig('dialer.example.com');

    // Act 1
    const refused = capture();
    const refusedCode = await main(['audit', '--config', config, '--fix'], refused);
    // Assess 1
    expect(refusedCode).toBe(1);
    const out = refused.out();
    expect(out).toContain('TTL fixes\n± MODIFY-TTL d00.dialer.example.com A ttl=(86400->300) refused\n');
    expect(out.match(/± MODIFY-TTL .* refused/g)).toHaveLength(20);
    expect(out).toContain('Plan: 20 TTL changes in 1 zone (20 refused)');
    expect(out).toContain('20 refused: plan refused: 20 of 50 record sets (40 %) in zone dialer.example.com, over fix.maxPercent 30 %; rerun with --fix --force');
    expect(r53.calls.ChangeResourceRecordSets).toBe(0);

    // Act 2
    const forced = capture();
    await main(['audit', '--config', config, '--fix', '--force'], forced);
    // Assess 2
    expect(forced.out()).toContain('Plan: 20 TTL changes in 1 zone (20 applied)');
    expect(r53.recordSets(zoneId).filter((r) => r.Type !== 'NS' && r.TTL! > 300)).toEqual([]);
  });

  it('counts earlier one-by-one --target runs against the limit: the 4th is refused, and its finding says review and --force', async () => {
    // Prepare: NS + SOA + 8 dialers at 86400 s = 10 record sets; 30 % allows 3 changes within fix.window.
    const sets = Array.from({ length: 8 }, (_, i) => a(`d${i + 1}.dialer.example.com`, 86400, i + 1));
    const zoneId = r53.addZone({ name: 'dialer.example.com', soa: { ttl: 300, minimum: 300 }, recordSets: sets });
    config = await writeConfig('dialer.example.com');
    const oneByOne = async (name: string) => {
      const io = capture();
      await main(['audit', '--config', config, '--only', 'ttl-policy', '--target', name, '--fix', '--format', 'json'], io);
      return JSON.parse(io.out()) as Report;
    };

    // Act
    const runs = [];
    for (const name of ['d1', 'd2', 'd3', 'd4'].map((d) => `${d}.dialer.example.com`)) runs.push(await oneByOne(name));

    // Assess: three applied, each alone within the limit; the fourth makes 4 of 10 within the window.
    expect(runs.map((r) => r.fixes.map((f) => `${f.name} ${f.status}`))).toEqual([
      ['d1.dialer.example.com applied'],
      ['d2.dialer.example.com applied'],
      ['d3.dialer.example.com applied'],
      ['d4.dialer.example.com refused'],
    ]);
    expect(runs[3].fixes[0].reason).toContain('4 of 10 record sets (40 %) in zone dialer.example.com within fix.window 1d (1 planned, 3 applied by earlier runs), over fix.maxPercent 30 %');
    const [refused] = runs[3].findings;
    expect(refused).toMatchObject({ code: 'TTL_ABOVE_POLICY', severity: 'warning', target: 'd4.dialer.example.com' });
    expect(refused.firstStep).toContain(`Review the whole plan with \`dialer-audit audit --config ${config} --only ttl-policy\` (it changes nothing), then apply it in one go with \`dialer-audit audit --config ${config} --only ttl-policy --fix --force\``);
    expect(refused.firstStep).not.toContain('--target d4');
    expect(r53.recordSets(zoneId).filter((r) => r.TTL === 300 && r.Type === 'A').map((r) => r.Name)).toEqual(['d1.dialer.example.com.', 'd2.dialer.example.com.', 'd3.dialer.example.com.']);
  });

  it('exits 1 with the failed fix and AWS’s message in the report when Route 53 rejects a batch', async () => {
    // Prepare
    const zoneId = r53.addZone({ name: 'dialer.example.com', soa: { ttl: 300, minimum: 300 } });
    r53.putRecordSets(zoneId, [...r53.recordSets(zoneId), { Name: 'pbx.dialer.example.com', Type: 'A', TTL: 86400, ResourceRecords: [{ Value: '10.0.0' }] }]);
    config = await writeConfig('dialer.example.com', 'run: { failOn: critical }\n');
    const io = capture();
    // Act
    const code = await main(['audit', '--config', config, '--fix'], io);
    // Assess
    expect(code).toBe(1);
    expect(io.out()).toContain(
      "± MODIFY-TTL pbx.dialer.example.com A ttl=(86400->300) failed: InvalidChangeBatch: [Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '10.0.0'']",
    );
  });

  it('--force without --fix is a usage error', async () => {
    // Prepare
    r53.addZone({ name: 'dialer.example.com' });
    config = await writeConfig('dialer.example.com');
    const io = capture();
    // Act
    const code = await main(['audit', '--config', config, '--force'], io);
    // Assess
    expect(code).toBe(2);
    expect(io.err()).toContain('--force: only meaningful together with --fix');
  });
});
