// `npm run demo`: the 2020 stale-cache outage replayed on a lab of real DNS servers (three unbound
// "public resolvers" and knot as the authoritative server, all on loopback), audited with the
// real CLI. Needs root for the lab's port 53 (and apt-get when the servers are missing).
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../src/entry/cli.ts';
import { ensureLabPackages, startDnsLab, type DnsLab } from '../test/lab/dns-lab.ts';

const ZONE = 'dialer.test';
const OLD = '127.60.0.1';
const NEW = '127.60.0.11';

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
  say('Starting the lab: knot (authoritative for dialer.test) and three unbound resolvers on 127.58.0.x');
  let lab: DnsLab | undefined;
  try {
    lab = await startDnsLab({
      dir,
      zone: ZONE,
      prefix: '127.58.0',
      records: [
        // acme carries the incident's 24-hour TTL; the others follow the 300 s policy.
        { name: `acme.${ZONE}`, type: 'A', ttl: 86400, values: [OLD] },
        { name: `beta.${ZONE}`, type: 'A', ttl: 300, values: ['127.60.0.2'] },
        { name: `gamma.${ZONE}`, type: 'A', ttl: 300, values: ['127.60.0.3'] },
        { name: `lb.${ZONE}`, type: 'CNAME', ttl: 300, values: [`lb-pool.${ZONE}`] },
        { name: `lb-pool.${ZONE}`, type: 'A', ttl: 60, values: ['127.60.0.21', '127.60.0.22'] },
      ],
    });
    const names = ['pub1', 'pub2', 'pub3'];
    const configFile = path.join(dir, 'dialer-audit.yaml');
    await writeFile(
      configFile,
      [
        '# Written by the demo: the lab stands in for Google/Cloudflare/Quad9 and Route 53.',
        'resolvers:',
        ...lab.resolvers.map((r, i) => `  - { name: ${names[i]}, address: "${r.address}", flushUrl: "https://flush.example/${names[i]}" }`),
        'authoritative:',
        ...lab.authoritative.map((a) => `  - { name: ${a.name}, address: "${a.address}" }`),
        'targets:',
        `  dialers: [acme.${ZONE}, beta.${ZONE}, gamma.${ZONE}, lb.${ZONE}]`,
        'checks:',
        '  dns-consistency: { recordTypes: [A, AAAA] }',
        '',
      ].join('\n'),
    );
    process.stdout.write(`config: ${configFile}\n`);

    say('1. A healthy fleet: every resolver hands out what the zone holds');
    await audit(configFile);

    say(`2. acme moves from ${OLD} to ${NEW}. pub2 and pub3 fetch it afresh; pub1 keeps its cached copy (TTL 24 h)`);
    await lab.setRecords(`acme.${ZONE}`, 'A', 86400, [NEW]);
    await lab.flush('pub2', `acme.${ZONE}`);
    await lab.flush('pub3', `acme.${ZONE}`);
    const stale = await audit(configFile);

    say('3. The on-call engineer follows the first step: flush acme at pub1');
    await lab.flush('pub1', `acme.${ZONE}`);
    const clean = await audit(configFile);

    say(stale === 1 && clean === 0 ? 'Demo done: the stale answer was caught at pub1 only, and the run is clean after the flush.' : 'Demo finished with unexpected exit codes.');
    return stale === 1 && clean === 0 ? 0 : 1;
  } finally {
    await lab?.stop();
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
