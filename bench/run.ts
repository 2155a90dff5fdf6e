// `npm run bench`: speed, memory and size, measured against references in the same run on the same lab.
//   DNS: 2,000 dialers × 3 resolvers × (A, AAAA) through our client, through Node's built-in
//        resolver (c-ares) and through dnsperf (the ceiling); ratios, medians of 3 rounds.
//   The whole audit as the CLI runs it, a clean fleet of 2,000 and of 50,000 dialers on one lab
//   of 50,000 names, at a fixed politeness: wall time against the politeness bound, peak RSS,
//   the JSON report's size and the Prometheus series; then a fleet with problems audited in one
//   run and in 4 shards merged, which must report the same findings; then the Lambda bundle
//   driven by the state machine (plan → 4 shards → merge) over the 50,000 dialers.
//   The Lambda bundle's size and cold import time against a bare `node -e ''` (bench/bundle.ts).
//   Hostile config files: exit 2 within 1 s and 150 MB (bench/hostile-config.ts).
//   The status page at 50,000 dialers with a week of history: render time, size, chromium's load,
//   a history day at its worst (bench/status-page.ts).
// Targets: ours ≥ 1.0× Node's resolver; RSS(50k) ≤ 1.3 × RSS(2k) and ≤ 200 MB; clean JSON at 2k
// ≤ 50 KB; ≤ 1,000 Prometheus series at 50k; wall ≤ 1.1 × the politeness bound; shards = one run.
import { execFile, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import { parseServerAddress } from '../src/address.ts';
import { UdpTcpDnsClient, type RecordType } from '../src/net/dns.ts';
import { prometheusSeries } from '../src/report/metrics.ts';
import type { Report } from '../src/types.ts';
import { ensureLabPackages, startDnsLab, type DnsLab } from '../test/lab/dns-lab.ts';
import { startDynalite } from '../test/lab/dynalite.ts';
import { runMachine, type Machine } from '../test/lab/step-functions.ts';
import { buildLambda } from '../scripts/build-lambda.ts';

const run = promisify(execFile);
const DIALERS = 2000;
const FLEET = 50_000;
/** Per server, for the whole-audit runs (half of Google's per-client rate): the bound decides the wall time. */
const QPS = 750;
const SHARD_FLEET = 400;
const TYPES: RecordType[] = ['A', 'AAAA'];
const IN_FLIGHT_PER_RESOLVER = 64;
const ROUNDS = 3;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const names = Array.from({ length: FLEET }, (_, i) => `d${String(i + 1).padStart(5, '0')}.dialer.test`);
const microNames = names.slice(0, DIALERS);

async function ourClient(lab: DnsLab): Promise<{ qps: number; failures: number }> {
  const client = new UdpTcpDnsClient({ timeoutMs: 2000, retries: 2, ednsBufferSize: 1232, limitsFor: () => ({ qps: 1e9, concurrency: IN_FLIGHT_PER_RESOLVER }) });
  const servers = lab.resolvers.map((r) => parseServerAddress(r.address, 53)!);
  const started = performance.now();
  const results = await Promise.all(servers.flatMap((server) => microNames.flatMap((name) => TYPES.map((type) => client.query({ server, name, type, recursionDesired: true })))));
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
        microNames.flatMap((name) =>
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
  await writeFile(file, microNames.flatMap((n) => TYPES.map((t) => `${n} ${t}`)).join('\n') + '\n');
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

interface AuditRun {
  seconds: number;
  maxRssMb: number;
  exitCode: number;
  output: string;
}

/** One command of the installed CLI (bin/dialer-audit: Node with its GC flags) in a process of its own. */
async function cli(args: string[]): Promise<AuditRun> {
  const hook = pathToFileURL(path.join(root, 'bench/rusage.mjs')).href;
  const started = performance.now();
  const child = spawn(path.join(root, 'bin/dialer-audit'), args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: `--import=${hook}` } });
  let output = '';
  let log = '';
  let usage = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (log += d));
  child.stdio[3]!.on('data', (d) => (usage += d));
  const exitCode = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  if (exitCode > 1) throw new Error(`dialer-audit ${args.join(' ')} exited ${exitCode}:\n${log}`);
  const seconds = (performance.now() - started) / 1000;
  return { seconds, maxRssMb: (JSON.parse(usage) as { maxRssKb: number }).maxRssKb / 1024, exitCode, output };
}

/** A config over the lab with its dialers in a list file (a 50,000-line YAML costs ~100 MB to parse). */
async function fleetConfig(lab: DnsLab, dir: string, name: string, dialers: string[], extra: { resolvers?: string[]; run?: string; more?: string[] } = {}): Promise<string> {
  const list = path.join(dir, `${name}.txt`);
  await writeFile(list, dialers.join('\n') + '\n');
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(
    file,
    [
      'resolvers:',
      ...lab.resolvers.map((r) => `  - { name: ${r.name}, address: "${r.address}" }`),
      ...(extra.resolvers ?? []),
      'authoritative:',
      ...lab.authoritative.map((a) => `  - { name: ${a.name}, address: "${a.address}" }`),
      'targets:',
      `  dialersFile: ${name}.txt`,
      'checks:',
      '  dns-consistency: { recordTypes: [A, AAAA] }',
      `dns: { qps: ${QPS}, concurrency: 16, timeout: 400ms, retries: 1 }`,
      `run: { budget: 10m${extra.run ?? ''} }`,
      ...(extra.more ?? []),
      '',
    ].join('\n'),
  );
  return file;
}

interface FleetNumbers {
  /** Finding codes and how often, e.g. "DNS_SERVFAIL×3" (a clean fleet on a loaded lab may have some). */
  codes: string;
  dialers: number;
  seconds: number;
  boundSeconds: number;
  maxRssMb: number;
  jsonBytes: number;
  series: number;
  findings: number;
  exitCode: number;
}

async function cleanFleet(lab: DnsLab, dir: string, dialers: number): Promise<FleetNumbers> {
  const config = await fleetConfig(lab, dir, `clean-${dialers}`, names.slice(0, dialers));
  const run = await cli(['audit', '--config', config, '--format', 'json']);
  const report = JSON.parse(run.output) as Report;
  const codes = new Map<string, number>();
  for (const f of report.findings) codes.set(f.code, (codes.get(f.code) ?? 0) + 1);
  return {
    codes: [...codes].map(([code, count]) => `${code}×${count}`).join(', '),
    dialers,
    seconds: run.seconds,
    boundSeconds: report.summary.bound?.seconds ?? NaN,
    maxRssMb: run.maxRssMb,
    jsonBytes: Buffer.byteLength(run.output),
    series: prometheusSeries(report),
    findings: report.findings.length,
    exitCode: run.exitCode,
  };
}

/**
 * A fleet with problems, audited in one run and in 4 shards merged: names missing from the zone,
 * and a resolver that answers nothing (its timeouts fold into one finding over all shards).
 */
async function shardsAgainstOneRun(lab: DnsLab, dir: string): Promise<{ one: string[]; merged: string[]; shards: number[] }> {
  const fleet = [...names.slice(0, SHARD_FLEET - 10), ...Array.from({ length: 10 }, (_, i) => `missing${i}.dialer.test`)];
  // Its own in-flight bound, so waiting out its timeouts does not make the bench slow.
  const dead = [`  - { name: dead, address: "${lab.deadAddress}", concurrency: 200 }`];
  const config = await fleetConfig(lab, dir, 'problems', fleet, { resolvers: dead });
  const key = (r: Report) => r.findings.map((f) => `${f.severity} ${f.code} ${f.target}${f.resolver ? ` @${f.resolver}` : ''}: ${f.message}`).sort();
  const one = JSON.parse((await cli(['audit', '--config', config, '--format', 'json'])).output) as Report;
  const files: string[] = [];
  const shards: number[] = [];
  for (let i = 1; i <= 4; i++) {
    const file = path.join(dir, `shard-${i}.json`);
    const run = await cli(['audit', '--config', config, '--shard', `${i}/4`, '--format', 'json']);
    await writeFile(file, run.output);
    shards.push((JSON.parse(run.output) as Report).summary.targets);
    files.push(file);
  }
  const merged = JSON.parse((await cli(['merge', '--config', config, '--format', 'json', ...files])).output) as Report;
  return { one: key(one), merged: key(merged), shards };
}

/** Reads events on stdin, answers each on fd 3 with the handler's result: a warm Lambda container. */
const RUNTIME = `
import { createInterface } from 'node:readline';
import { writeSync } from 'node:fs';
const { handler } = await import(process.argv[2]);
let n = 0;
for await (const line of createInterface({ input: process.stdin })) {
  const deadline = Date.now() + 900_000;
  const context = { awsRequestId: 'req-' + ++n, getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
  try {
    writeSync(3, JSON.stringify({ ok: true, result: await handler(JSON.parse(line), context) }) + '\\n');
  } catch (err) {
    writeSync(3, JSON.stringify({ ok: false, error: String(err && err.message || err) }) + '\\n');
  }
}
`;

interface LambdaNumbers {
  seconds: number;
  boundSeconds: number;
  maxRssMb: number;
  shards: number;
  targets: number;
}

/**
 * The whole fleet as AWS runs it: the Lambda bundle in a node process with serverless.yml's
 * NODE_OPTIONS, driven by the state machine of deploy/state-machine.cjs (the Step Functions
 * stand-in of the tests), 4 shards one after another, partial reports and lock in dynalite.
 */
async function lambdaShards(lab: DnsLab, dir: string): Promise<LambdaNumbers> {
  const dynamo = await startDynalite();
  try {
    await dynamo.createTable('bench-state');
    const config = await fleetConfig(lab, dir, 'lambda', names, { run: ', shards: 4', more: [`state: { dynamodb: { table: bench-state, endpoint: "${dynamo.endpoint}" } }`] });
    const built = await buildLambda({ config, outdir: path.join(dir, 'lambda') });
    const runtime = path.join(dir, 'runtime.mjs');
    await writeFile(runtime, RUNTIME);
    const hook = pathToFileURL(path.join(root, 'bench/rusage.mjs')).href;
    const child = spawn(process.execPath, [runtime, built.bundle], {
      cwd: dir,
      stdio: ['pipe', 'ignore', 'inherit', 'pipe'],
      env: { PATH: process.env.PATH, AWS_REGION: 'lab-west-1', AWS_ACCESS_KEY_ID: 'lab', AWS_SECRET_ACCESS_KEY: 'lab', DIALER_AUDIT_SHARD_CONCURRENCY: '1', NODE_OPTIONS: `--max-semi-space-size=8 --import=${hook}` },
    });
    const answers = createInterface({ input: child.stdio[3] as Readable })[Symbol.asyncIterator]();
    let plan: { bound: { seconds: number }; shards: unknown[] } | undefined;
    const invoke = async (payload: unknown) => {
      child.stdin!.write(JSON.stringify(payload) + '\n');
      const answer = JSON.parse((await answers.next()).value as string) as { ok: boolean; result?: unknown; error?: string };
      if (!answer.ok) throw new Error(answer.error);
      if ((payload as { action?: string }).action === 'plan') plan = answer.result as typeof plan;
      return answer.result;
    };
    const machine = (createRequire(import.meta.url)('../deploy/state-machine.cjs') as { definition(o: object): Machine }).definition({ shardConcurrency: 1, timeoutSeconds: 3600 });
    const started = performance.now();
    try {
      const out = (await runMachine(machine, {}, { invoke: (_fn, payload) => invoke(payload), execution: { StartTime: new Date().toISOString() } })) as { summary: { summary: { targets: number } } };
      const seconds = (performance.now() - started) / 1000;
      child.stdin!.end();
      const usage = JSON.parse((await answers.next()).value as string) as { maxRssKb: number };
      return { seconds, boundSeconds: plan!.bound.seconds, maxRssMb: usage.maxRssKb / 1024, shards: plan!.shards.length, targets: out.summary.summary.targets };
    } finally {
      if (child.exitCode === null) child.kill();
    }
  } finally {
    await dynamo.close();
  }
}

async function bundleNumbers(): Promise<string> {
  const { benchBundle, formatBundleBench } = await import('./bundle.ts');
  return formatBundleBench(await benchBundle());
}

async function main(): Promise<void> {
  await ensureLabPackages();
  // The CLI as it ships: built fresh, so the numbers are this tree's.
  await run('npm', ['run', 'build'], { cwd: root });
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
    // Each part as it ends (stderr), so a long bench shows where it is and what it measured.
    const step = <T>(name: string, value: T): T => (process.stderr.write(`bench: ${name} ${JSON.stringify(value)}\n`), value);
    const small = step('clean 2,000', await cleanFleet(lab, dir, DIALERS));
    const large = step('clean 50,000', await cleanFleet(lab, dir, FLEET));
    const shards = step('shards', await shardsAgainstOneRun(lab, dir));
    const lambda = step('lambda', await lambdaShards(lab, dir));
    const bundle = await bundleNumbers();
    const { benchHostileConfig, formatHostileConfig } = await import('./hostile-config.ts');
    const hostileConfig = formatHostileConfig(await benchHostileConfig());
    const { benchStatusPage, formatStatusPageBench } = await import('./status-page.ts');
    const statusPage = formatStatusPageBench(await benchStatusPage());

    const q = (x: number) => `${Math.round(x).toLocaleString('en-US')} q/s`;
    const n = (x: number) => x.toLocaleString('en-US');
    const fleet = (f: FleetNumbers) =>
      `  ${n(f.dialers).padStart(6)} dialers: ${f.seconds.toFixed(1)} s wall / ${f.boundSeconds.toFixed(1)} s bound = ${(f.seconds / f.boundSeconds).toFixed(2)}×, peak RSS ${f.maxRssMb.toFixed(1)} MB, JSON report ${(f.jsonBytes / 1024).toFixed(1)} KB, ${n(f.series)} Prometheus series, ${f.findings} findings${f.codes ? ` (${f.codes})` : ''}, exit ${f.exitCode}`;
    const same = shards.one.length === shards.merged.length && shards.one.every((k, i) => k === shards.merged[i]);
    const lines = [
      `DNS: ${DIALERS} dialers × ${lab.resolvers.length} resolvers × (${TYPES.join(', ')}) = ${DIALERS * lab.resolvers.length * TYPES.length} queries, ${IN_FLIGHT_PER_RESOLVER} in flight per resolver, median of ${ROUNDS} rounds`,
      `  ours (dns-packet over dgram)   ${q(median(ours))}   failures ${failures.ours}`,
      `  node dns.promises.Resolver     ${q(median(node))}   failures ${failures.node}`,
      ceiling.length ? `  dnsperf (ceiling)              ${q(median(ceiling))}` : `  dnsperf unavailable: ${dnsperfNote}`,
      `  ratio ours / node resolver     ${(median(ours) / median(node)).toFixed(2)}×   (target ≥ 1.00×)`,
      ceiling.length ? `  ratio ours / dnsperf           ${(median(ours) / median(ceiling)).toFixed(2)}×` : '',
      `Whole audit (CLI, clean fleet, ${lab.resolvers.length} resolvers + knot, A+AAAA, ${QPS} q/s per server, one lab of ${n(FLEET)} names):`,
      fleet(small),
      fleet(large),
      `  RSS(${n(FLEET)}) / RSS(${n(DIALERS)})        ${(large.maxRssMb / small.maxRssMb).toFixed(2)}×   (target ≤ 1.30×, and ≤ 200 MB)`,
      `  clean JSON report at ${n(DIALERS)}      ${(small.jsonBytes / 1024).toFixed(1)} KB   (target ≤ 50 KB)`,
      `  Prometheus series at ${n(FLEET)}     ${n(large.series)}   (target ≤ 1,000)`,
      `  wall / politeness bound       ${(large.seconds / large.boundSeconds).toFixed(2)}× at ${n(FLEET)}, ${(small.seconds / small.boundSeconds).toFixed(2)}× at ${n(DIALERS)}   (target ≤ 1.10×)`,
      `Lambda bundle (NODE_OPTIONS as serverless.yml), the state machine's plan → ${lambda.shards} shards one at a time → merge, ${n(lambda.targets)} dialers: ${lambda.seconds.toFixed(1)} s wall / ${lambda.boundSeconds.toFixed(1)} s bound = ${(lambda.seconds / lambda.boundSeconds).toFixed(2)}×, peak RSS of the warm container ${lambda.maxRssMb.toFixed(1)} MB`,
      `Shards: ${SHARD_FLEET} dialers (10 missing from the zone, a resolver that answers nothing), one run against 4 shards (${shards.shards.join(' + ')} targets) merged: ${same ? 'the same' : 'DIFFERENT'} ${shards.one.length} findings`,
      ...(same ? [] : ['  one run only:', ...shards.one.filter((k) => !shards.merged.includes(k)).map((k) => `    ${k}`), '  merged only:', ...shards.merged.filter((k) => !shards.one.includes(k)).map((k) => `    ${k}`)]),
    ].filter(Boolean);
    lines.push(bundle.trimEnd(), hostileConfig, statusPage);
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await lab.stop();
    // 50,000-name zone, lists and bundles: nothing of it is worth keeping.
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
