// `npm run bench`: speed and memory, measured against references in the same run on the same lab.
//   DNS: 2,000 dialers × 3 resolvers × (A, AAAA) through our client, through Node's built-in
//        resolver (c-ares) and through dnsperf (the ceiling); ratios, medians of 3 rounds.
//   The whole audit of that fleet as the CLI runs it: wall time and peak RSS.
//   The Lambda bundle's size and cold import time against a bare `node -e ''` (bench/bundle.ts).
//   Hostile config files: exit 2 within 1 s and 150 MB (bench/hostile-config.ts).
// Targets: ours ≥ 1.0× Node's resolver; peak RSS ≤ 150 MB.
import { execFile, spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import { parseServerAddress } from '../src/address.ts';
import { UdpTcpDnsClient, type RecordType } from '../src/net/dns.ts';
import { ensureLabPackages, startDnsLab, type DnsLab } from '../test/lab/dns-lab.ts';

const run = promisify(execFile);
const DIALERS = 2000;
const TYPES: RecordType[] = ['A', 'AAAA'];
const IN_FLIGHT_PER_RESOLVER = 64;
const ROUNDS = 3;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const names = Array.from({ length: DIALERS }, (_, i) => `d${String(i + 1).padStart(4, '0')}.dialer.test`);

async function ourClient(lab: DnsLab): Promise<{ qps: number; failures: number }> {
  const client = new UdpTcpDnsClient({ timeoutMs: 2000, retries: 2, ednsBufferSize: 1232, limitsFor: () => ({ qps: 1e9, concurrency: IN_FLIGHT_PER_RESOLVER }) });
  const servers = lab.resolvers.map((r) => parseServerAddress(r.address, 53)!);
  const started = performance.now();
  const results = await Promise.all(servers.flatMap((server) => names.flatMap((name) => TYPES.map((type) => client.query({ server, name, type, recursionDesired: true })))));
  const seconds = (performance.now() - started) / 1000;
  return { qps: results.length / seconds, failures: results.filter((r) => !r.ok).length };
}

async function nodeResolver(lab: DnsLab): Promise<{ qps: number; failures: number }> {
  let failures = 0;
  let count = 0;
  const started = performance.now();
  await Promise.all(
    lab.resolvers.map(async (r) => {
      const resolver = new Resolver({ timeout: 2000, tries: 3 });
      resolver.setServers([r.address]);
      const limit = pLimit(IN_FLIGHT_PER_RESOLVER);
      await Promise.all(
        names.flatMap((name) =>
          TYPES.map((type) =>
            limit(async () => {
              count++;
              try {
                await (type === 'A' ? resolver.resolve4(name, { ttl: true }) : resolver.resolve6(name, { ttl: true }));
              } catch (err) {
                // NODATA for AAAA is an answer, like ours counts it.
                if ((err as NodeJS.ErrnoException).code !== 'ENODATA') failures++;
              }
            }),
          ),
        ),
      );
    }),
  );
  return { qps: count / ((performance.now() - started) / 1000), failures };
}

async function dnsperf(lab: DnsLab, dir: string): Promise<{ qps: number } | { unavailable: string }> {
  const file = path.join(dir, 'queries.txt');
  await writeFile(file, names.flatMap((n) => TYPES.map((t) => `${n} ${t}`)).join('\n') + '\n');
  try {
    const outputs = await Promise.all(
      lab.resolvers.map((r) => {
        const server = parseServerAddress(r.address, 53)!;
        return run('dnsperf', ['-s', server.host, '-p', String(server.port), '-d', file, '-n', '1', '-q', String(IN_FLIGHT_PER_RESOLVER), '-t', '5']);
      }),
    );
    const perResolver = outputs.map((o) => Number(/Queries per second:\s+([\d.]+)/.exec(o.stdout)?.[1] ?? NaN));
    return { qps: perResolver.reduce((a, b) => a + b, 0) };
  } catch (err) {
    return { unavailable: (err as Error).message.split('\n')[0] };
  }
}

async function wholeAudit(lab: DnsLab, dir: string): Promise<{ seconds: number; maxRssMb: number; exitCode: number; findings: number }> {
  const configFile = path.join(dir, 'bench.yaml');
  await writeFile(
    configFile,
    [
      'resolvers:',
      ...lab.resolvers.map((r) => `  - { name: ${r.name}, address: "${r.address}" }`),
      'authoritative:',
      ...lab.authoritative.map((a) => `  - { name: ${a.name}, address: "${a.address}" }`),
      'targets:',
      '  dialers:',
      ...names.map((n) => `    - ${n}`),
      'checks:',
      '  dns-consistency: { recordTypes: [A, AAAA] }',
      // The lab is ours: no politeness limit needed beyond the in-flight bound.
      `dns: { qps: 1000000, concurrency: ${IN_FLIGHT_PER_RESOLVER} }`,
      '',
    ].join('\n'),
  );
  if (!existsSync(path.join(root, 'dist/cli.js'))) await run('npm', ['run', 'build'], { cwd: root });
  const script = `
    import { main } from ${JSON.stringify(path.join(root, 'dist/cli.js'))};
    let out = '';
    const started = performance.now();
    const code = await main(['audit', '--config', ${JSON.stringify(configFile)}, '--format', 'json'], { stdout: { write: (s) => (out += s) }, stderr: process.stderr, env: process.env });
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(JSON.stringify({ code, seconds, maxRssKb: process.resourceUsage().maxRSS, findings: (out.match(/"code": "/g) ?? []).length }));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  await new Promise((resolve) => child.on('exit', resolve));
  const r = JSON.parse(stdout) as { code: number; seconds: number; maxRssKb: number; findings: number };
  return { seconds: r.seconds, maxRssMb: r.maxRssKb / 1024, exitCode: r.code, findings: r.findings };
}

async function bundleNumbers(): Promise<string> {
  const { benchBundle, formatBundleBench } = await import('./bundle.ts');
  return formatBundleBench(await benchBundle());
}

async function main(): Promise<void> {
  await ensureLabPackages();
  const dir = await mkdtemp(path.join(tmpdir(), 'dialer-audit-bench-'));
  const lab = await startDnsLab({
    dir,
    prefix: '127.59.0',
    fallbackPrefixes: ['127.59.1', '127.59.2', '127.59.3'],
    records: names.map((name, i) => ({ name, type: 'A', ttl: 3600, values: [`127.62.${Math.floor(i / 250)}.${(i % 250) + 1}`] })),
  });
  try {
    // Warm every resolver's cache once so all clients measure the same cached path.
    await ourClient(lab);
    const ours: number[] = [];
    const node: number[] = [];
    const ceiling: number[] = [];
    let failures = { ours: 0, node: 0 };
    let dnsperfNote = '';
    for (let round = 0; round < ROUNDS; round++) {
      const o = await ourClient(lab);
      const n = await nodeResolver(lab);
      const d = await dnsperf(lab, dir);
      ours.push(o.qps);
      node.push(n.qps);
      if ('qps' in d) ceiling.push(d.qps);
      else dnsperfNote = d.unavailable;
      failures = { ours: failures.ours + o.failures, node: failures.node + n.failures };
    }
    const audit = await wholeAudit(lab, dir);
    const bundle = await bundleNumbers();
    const { benchHostileConfig, formatHostileConfig } = await import('./hostile-config.ts');
    const hostileConfig = formatHostileConfig(await benchHostileConfig());

    const q = (x: number) => `${Math.round(x).toLocaleString('en-US')} q/s`;
    const lines = [
      `DNS: ${DIALERS} dialers × ${lab.resolvers.length} resolvers × (${TYPES.join(', ')}) = ${DIALERS * lab.resolvers.length * TYPES.length} queries, ${IN_FLIGHT_PER_RESOLVER} in flight per resolver, median of ${ROUNDS} rounds`,
      `  ours (dns-packet over dgram)   ${q(median(ours))}   failures ${failures.ours}`,
      `  node dns.promises.Resolver     ${q(median(node))}   failures ${failures.node}`,
      ceiling.length ? `  dnsperf (ceiling)              ${q(median(ceiling))}` : `  dnsperf unavailable: ${dnsperfNote}`,
      `  ratio ours / node resolver     ${(median(ours) / median(node)).toFixed(2)}×   (target ≥ 1.00×)`,
      ceiling.length ? `  ratio ours / dnsperf           ${(median(ours) / median(ceiling)).toFixed(2)}×` : '',
      `Whole audit (CLI, ${DIALERS} dialers, 3 resolvers + knot, A+AAAA): ${audit.seconds.toFixed(2)} s wall, peak RSS ${audit.maxRssMb.toFixed(1)} MB (target ≤ 150 MB), exit ${audit.exitCode}, ${audit.findings} findings`,
    ].filter(Boolean);
    lines.push(bundle.trimEnd(), hostileConfig);
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await lab.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
