// `npm run demo`: the 2020 stale-cache outage replayed on a lab of real servers, audited with the
// real CLI. Three unbound "public resolvers" and knot as the authoritative server run on loopback;
// a Route 53 double (the real AWS SDK talks to it over HTTP) feeds knot, so a TTL fixed through
// the API is what DNS serves next. Needs root for the lab's port 53 (and apt-get when the servers
// are missing). Nothing leaves 127.0.0.0/8.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ChangeResourceRecordSetsCommand, GetChangeCommand, Route53Client } from '@aws-sdk/client-route-53';
import { main } from '../src/entry/cli.ts';
import { ensureLabPackages, startDnsLab, type DnsLab } from '../test/lab/dns-lab.ts';
import { labZoneFrom, startRoute53Double, type Route53Double } from '../test/lab/route53-double.ts';

const ZONE = 'dialer.test';
const OLD = '127.60.0.1';
const NEW = '127.60.0.11';

// The demo's Route 53 is the double on loopback; the SDK still wants credentials to sign with.
process.env.AWS_ACCESS_KEY_ID ??= 'demo';
process.env.AWS_SECRET_ACCESS_KEY ??= 'demo';

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
}

async function audit(configFile: string, extra: string[] = []): Promise<number> {
  const code = await main(['audit', '--config', configFile, ...extra]);
  process.stdout.write(`(exit code ${code})\n`);
  return code;
}

async function run(): Promise<number> {
  await ensureLabPackages();
  const dir = await mkdtemp(path.join(tmpdir(), 'dialer-audit-demo-'));
  let lab: DnsLab | undefined;
  let r53: Route53Double | undefined;
  try {
    say('Starting the lab: a Route 53 double feeding knot (authoritative for dialer.test) and three unbound resolvers on 127.58.0.x');
    r53 = await startRoute53Double({ onZoneChange: (zone) => lab?.replaceZone(labZoneFrom(zone).records, labZoneFrom(zone).soa) });
    const zoneId = r53.addZone({
      name: ZONE,
      recordSets: [
        // acme carries the incident's 24-hour TTL; the others follow the 300 s policy.
        { Name: `acme.${ZONE}`, Type: 'A', TTL: 86400, ResourceRecords: [{ Value: OLD }] },
        { Name: `beta.${ZONE}`, Type: 'A', TTL: 300, ResourceRecords: [{ Value: '127.60.0.2' }] },
        { Name: `gamma.${ZONE}`, Type: 'A', TTL: 300, ResourceRecords: [{ Value: '127.60.0.3' }] },
        { Name: `lb.${ZONE}`, Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: `pool.lb.${ZONE}` }] },
        { Name: `pool.lb.${ZONE}`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '127.60.0.21' }, { Value: '127.60.0.22' }] },
      ],
    });
    const initial = labZoneFrom(r53.zone(zoneId));
    lab = await startDnsLab({ dir, zone: ZONE, prefix: '127.58.0', fallbackPrefixes: ['127.58.1', '127.58.2'], records: initial.records, soa: initial.soa });

    const names = ['pub1', 'pub2', 'pub3'];
    const configFile = path.join(dir, 'dialer-audit.yaml');
    await writeFile(
      configFile,
      [
        '# Written by the demo: the lab stands in for Google/Cloudflare/Quad9 and Route 53.',
        `aws: { region: us-east-1, endpoint: "${r53.endpoint}" }`,
        `state: { file: "${path.join(dir, 'state.json')}" }`,
        'resolvers:',
        ...lab.resolvers.map((r, i) => `  - { name: ${names[i]}, address: "${r.address}", flushUrl: "https://flush.example/${names[i]}" }`),
        'authoritative:',
        ...lab.authoritative.map((a) => `  - { name: ${a.name}, address: "${a.address}" }`),
        'targets:',
        `  zones: [{ zone: ${ZONE}, match: "*.${ZONE}" }]`,
        'checks:',
        '  dns-consistency: { recordTypes: [A, AAAA] }',
        '  ttl-policy: { maxTtl: 300 }',
        '',
      ].join('\n'),
    );
    process.stdout.write(`config: ${configFile}\n`);

    say('1. The fleet as it was in 2020: every resolver agrees with the zone, but acme carries a 24-hour TTL');
    const first = await audit(configFile);

    say(`2. acme moves from ${OLD} to ${NEW} (through the Route 53 API). pub2 and pub3 fetch it afresh; pub1 keeps its cached copy`);
    const route53 = new Route53Client({ region: 'us-east-1', endpoint: r53.endpoint });
    const moved = await route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: `acme.${ZONE}`, Type: 'A', TTL: 86400, ResourceRecords: [{ Value: NEW }] } }] },
      }),
    );
    // As an operator would: wait until Route 53 says the change is on its name servers (INSYNC),
    // or pub2 and pub3 could fetch the old address again on a busy machine.
    for (let status = moved.ChangeInfo?.Status; status !== 'INSYNC'; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await route53.send(new GetChangeCommand({ Id: moved.ChangeInfo!.Id }))).ChangeInfo?.Status;
    }
    await lab.flush('pub2', `acme.${ZONE}`);
    await lab.flush('pub3', `acme.${ZONE}`);
    const stale = await audit(configFile);

    say('3. The on-call engineer follows the first steps: apply the TTL plan with --fix (the report shows what it fixed), then flush acme at pub1');
    const fixed = await audit(configFile, ['--fix']);
    // The first step of the DNS_MISMATCH: flush the stale name where it is stale.
    await lab.flush('pub1', `acme.${ZONE}`);

    say('4. The next scheduled run: pub1 hands out the new address; pub2 and pub3 still count down the 24-hour TTL they cached before the fix — our own doing, so info, not an alarm');
    const clean = await audit(configFile);

    const ok = first === 1 && stale === 1 && fixed === 1 && clean === 0;
    say(ok ? 'Demo done: the stale answer was caught at pub1 only, the 24-hour TTL is now 300 s, and the run after --fix is green.' : 'Demo finished with unexpected exit codes.');
    return ok ? 0 : 1;
  } finally {
    await lab?.stop();
    await r53?.close();
  }
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
