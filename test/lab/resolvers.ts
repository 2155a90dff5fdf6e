/**
 * The resolver-implementations lab: the resolvers people actually run, in front of the lab's
 * authoritative servers, each with the settings that make a healthy fleet look sick to a naive
 * audit — TTL floors and caps, serve-stale, DNSSEC validation (pdns-recursor's default `process`
 * mode included), Extended DNS Errors — and unbound serving DNS over TLS and HTTPS with a test CA.
 *
 *   127.57.N.1     unbound from test/lab/dns-lab.ts (the plain lab resolver, unused here)
 *   127.57.N.10    knot: the plain zone (dialer.test), changed with setRecords() as in dns-lab.ts
 *   127.57.N.11    knot: sec.test signed, with children valid.sec.test, expired.sec.test (RRSIGs
 *                  expired a day ago) and wrongds.sec.test (the DS at sec.test matches another key)
 *   127.57.N.20+   the resolvers asked for, in order: unbound, pdns_recursor, dnsmasq, named
 *   127.57.N.99    the dead address (nothing listens: "." points there, so nothing leaves 127/8)
 *
 * N is free-picked from 1..250, so test files in parallel each have their own lab. named binds
 * only to addresses configured on an interface, so its address is added to `lo` (label lo:f<pid>)
 * and removed at stop; a lab killed before stop leaves it, and the next start removes it.
 * Needs root (ports 53/443/853, `ip addr`); CI runs as root.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  bin,
  knotConfig,
  labQuery,
  releaseAddresses,
  reserveAddresses,
  run,
  spawnDaemon,
  startDnsLab,
  terminate,
  track,
  untrack,
  waitReady,
  type DnsLab,
  type LabProcess,
  type Spawned,
} from './dns-lab.ts';
import { dnsmasqConfig, namedConfig, pdnsConfig, unboundConfig, type ResolverKind, type ResolverSpec, type Upstreams } from './resolver-configs.ts';
import { makeCertificates, signedZones, TLS_NAME } from './signed-zones.ts';

export type { ResolverKind, ResolverSpec } from './resolver-configs.ts';

export interface LabResolver {
  name: string;
  kind: ResolverKind;
  /** Plain DNS, host:53. */
  address: string;
  /** With `encrypted`: tls://host and https://host/dns-query. */
  dot?: string;
  doh?: string;
}

export interface ResolverLab {
  dir: string;
  /** The plain zone (its records change through setRecords). */
  zone: string;
  /** knot with the plain zone. */
  authoritative: { name: string; address: string }[];
  /** knot with the signed zones. */
  signedAuthoritative: { name: string; address: string }[];
  /** The signed zones: the parent and its children in each state. */
  signed: { parent: string; valid: string; expired: string; wrongDs: string };
  resolvers: LabResolver[];
  /** The test CA's certificate (PEM file) and the names on the DoT/DoH certificate. */
  caFile: string;
  tlsName: string;
  setRecords(name: string, type: string, ttl: number, values: string[]): Promise<void>;
  /** Forget `name` at one resolver (unbound-control flush, rec_control wipe-cache, rndc flushname; dnsmasq forgets everything). */
  flush(resolver: string, name: string): Promise<void>;
  /** unbound only: point the plain zone at the dead address, as if its path to the zone's servers broke (it keeps its cache). */
  cutUpstream(resolver: string): Promise<void>;
  stop(): Promise<void>;
}

const SIGNED_HOST = 11;
const FIRST_RESOLVER_HOST = 20;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** lo addresses of labs whose process is gone (killed before stop). */
function removeStaleLoopbackAddresses(): void {
  const out = spawnSync('ip', ['-o', '-4', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of out.split('\n')) {
    const m = /inet (127\.57\.\d+\.\d+)\/32 .*scope host lo:f(\d+)/.exec(line);
    if (!m) continue;
    try {
      process.kill(Number(m[2]), 0);
    } catch {
      spawnSync('ip', ['addr', 'del', `${m[1]}/32`, 'dev', 'lo']);
    }
  }
}

// ── start ────────────────────────────────────────────────────────────────────────────────────

export interface ResolverLabOptions {
  resolvers: ResolverSpec[];
}

export async function startResolverLab(opts: ResolverLabOptions): Promise<ResolverLab> {
  if (process.getuid?.() !== 0) throw new Error('the resolvers lab needs root (port 53, ip addr on lo); CI runs as root');
  removeStaleLoopbackAddresses();
  const candidates = Array.from({ length: 250 }, (_, i) => `127.57.${i + 1}`).sort(() => Math.random() - 0.5);
  const plain: DnsLab = await startDnsLab({ prefix: candidates[0], fallbackPrefixes: candidates.slice(1, 30), resolverCount: 1 });
  const prefix = plain.resolvers[0].address.replace(/\.\d+:53$/, '');
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'resolvers-lab-'));
  const started: LabProcess[] = [];
  const loopbackAddresses: string[] = [];
  const label = `lo:f${process.pid}`.slice(0, 15);
  const spawns: Promise<Spawned>[] = [];

  const stopAll = async () => {
    await Promise.allSettled(started.map((p) => terminate(p, 3000)));
    untrack(dir);
    for (const a of loopbackAddresses) spawnSync('ip', ['addr', 'del', `${a}/32`, 'dev', 'lo']);
    await plain.stop();
    await fsp.rm(plain.dir, { recursive: true, force: true });
  };

  try {
    const signedIp = `${prefix}.${SIGNED_HOST}`;
    const resolverIps = opts.resolvers.map((_, i) => `${prefix}.${FIRST_RESOLVER_HOST + i}`);
    const held = await reserveAddresses([
      { address: `${signedIp}:53`, what: 'signed knot' },
      ...opts.resolvers.map((r, i) => ({ address: `${resolverIps[i]}:53`, what: `resolver ${r.name}` })),
    ]);
    const zones = await signedZones(dir, signedIp);
    const up: Upstreams = { zone: plain.zone, plain: plain.authoritative[0].address, signed: `${signedIp}:53`, dead: plain.deadAddress, trustAnchor: zones.trustAnchor };
    const needsTls = opts.resolvers.some((r) => r.encrypted);
    const tlsIp = resolverIps[opts.resolvers.findIndex((r) => r.encrypted)];
    const certs = needsTls ? await makeCertificates(dir, tlsIp) : undefined;
    const rndcSecret = randomBytes(32).toString('base64');
    await releaseAddresses(held);

    const spawnOne = async (p: Omit<LabProcess, 'pid'>, cmd: string, args: string[], probe: () => Promise<boolean>) => {
      const s = await spawnDaemon(dir, p, cmd, args, false);
      started.push(s.proc);
      track(dir, s.proc);
      await waitReady(s, probe, 15_000);
      return s;
    };
    const answers = (address: string) => async () => {
      await labQuery(address, 'version.bind', 'TXT', { klass: 'CH', timeoutMs: 300 });
      return true;
    };

    const signedConf = path.join(dir, 'knot-signed.conf');
    await fsp.mkdir(path.join(dir, 'knot-signed-db'), { recursive: true });
    await fsp.writeFile(signedConf, knotConfig({ dir, name: 'knot-signed', listen: `${signedIp}@53`, zones: zones.files }));
    spawns.push(
      spawnOne({ name: 'knot-signed', kind: 'knot', conf: signedConf, log: path.join(dir, 'knot-signed.log'), address: `${signedIp}:53` }, bin('knotd'), ['-c', signedConf], async () => {
        const r = await labQuery(`${signedIp}:53`, `acme.${zones.valid}`, 'A', { recursionDesired: false, timeoutMs: 300 });
        return r.rcode === 'NOERROR' && r.answers.length > 0;
      }),
    );

    const resolvers: LabResolver[] = [];
    for (const [i, r] of opts.resolvers.entries()) {
      const ip = resolverIps[i];
      const address = `${ip}:53`;
      const log = path.join(dir, `${r.name}.log`);
      const entry: LabResolver = { name: r.name, kind: r.kind, address };
      if (r.kind === 'unbound') {
        const conf = path.join(dir, `${r.name}.conf`);
        const tls = r.encrypted ? certs : undefined;
        await fsp.writeFile(conf, unboundConfig(dir, r, ip, up, tls));
        if (tls) Object.assign(entry, { dot: `tls://${ip}`, doh: `https://${ip}/dns-query` });
        spawns.push(spawnOne({ name: r.name, kind: 'unbound', conf, log, address }, bin('unbound'), ['-d', '-c', conf], answers(address)));
      } else if (r.kind === 'pdns-recursor') {
        const confDir = path.join(dir, r.name);
        await fsp.mkdir(confDir, { recursive: true });
        const files = pdnsConfig(confDir, r, ip, up);
        await fsp.writeFile(path.join(confDir, 'recursor.conf'), files.conf);
        await fsp.writeFile(path.join(confDir, 'rec.lua'), files.lua);
        await fsp.writeFile(path.join(confDir, 'root.hints'), files.hints);
        spawns.push(spawnOne({ name: r.name, kind: 'pdns-recursor', conf: confDir, log, address }, bin('pdns_recursor'), [`--config-dir=${confDir}`], answers(address)));
      } else if (r.kind === 'dnsmasq') {
        const conf = path.join(dir, `${r.name}.dnsmasq.conf`);
        await fsp.writeFile(conf, dnsmasqConfig(dir, r, ip, up));
        spawns.push(spawnOne({ name: r.name, kind: 'dnsmasq', conf, log, address }, bin('dnsmasq'), ['--keep-in-foreground', '--log-facility=-', `--conf-file=${conf}`], answers(address)));
      } else {
        const conf = path.join(dir, `${r.name}.named.conf`);
        await fsp.writeFile(conf, namedConfig(dir, r, ip, up, rndcSecret));
        await fsp.writeFile(path.join(dir, `${r.name}.rndc.conf`), `key "lab" { algorithm hmac-sha256; secret "${rndcSecret}"; };\noptions { default-key "lab"; default-server ${ip}; default-port 953; };\n`);
        const added = spawnSync('ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo', 'label', label], { encoding: 'utf8' });
        if (added.status !== 0) throw new Error(`resolvers lab: ip addr add ${ip}/32 dev lo failed: ${added.stderr}`);
        loopbackAddresses.push(ip);
        spawns.push(spawnOne({ name: r.name, kind: 'named', conf, log, address }, bin('named'), ['-g', '-u', 'root', '-c', conf], answers(address)));
      }
      resolvers.push(entry);
    }
    await Promise.all(spawns);

    const lab: ResolverLab = {
      dir,
      zone: plain.zone,
      authoritative: plain.authoritative,
      signedAuthoritative: [{ name: 'knot-signed', address: `${signedIp}:53` }],
      signed: { parent: zones.parent, valid: zones.valid, expired: zones.expired, wrongDs: zones.wrongDs },
      resolvers,
      caFile: certs?.caFile ?? '',
      tlsName: TLS_NAME,
      setRecords: (name, type, ttl, values) => plain.setRecords(name, type, ttl, values),
      async flush(name, record) {
        const r = resolvers.find((x) => x.name === name);
        if (!r) throw new Error(`resolvers lab: no resolver ${name}`);
        const ip = r.address.replace(/:53$/, '');
        let res;
        if (r.kind === 'unbound') res = await run(bin('unbound-control'), ['-c', path.join(dir, `${r.name}.conf`), 'flush', record]);
        else if (r.kind === 'pdns-recursor') res = await run(bin('rec_control'), [`--socket-dir=${path.join(dir, r.name)}`, 'wipe-cache', `${record}$`]);
        else if (r.kind === 'named') res = await run(bin('rndc'), ['-c', path.join(dir, `${r.name}.rndc.conf`), '-s', ip, 'flushname', record]);
        else {
          // dnsmasq has no per-name flush: SIGHUP empties its cache.
          const pid = started.find((p) => p.name === r.name)!.pid;
          process.kill(pid, 'SIGHUP');
          await sleep(100);
          return;
        }
        if (res.code !== 0) throw new Error(`resolvers lab: flushing ${record} at ${name} failed: ${res.stdout}${res.stderr}`);
      },
      async cutUpstream(name) {
        const r = resolvers.find((x) => x.name === name && x.kind === 'unbound');
        if (!r) throw new Error(`resolvers lab: no unbound resolver ${name}`);
        const conf = path.join(dir, `${r.name}.conf`);
        for (const args of [['stub_remove', plain.zone], ['stub_add', plain.zone, plain.deadAddress.replace(':', '@')]]) {
          const res = await run(bin('unbound-control'), ['-c', conf, ...args]);
          if (res.code !== 0) throw new Error(`resolvers lab: unbound-control ${args.join(' ')} failed: ${res.stdout}${res.stderr}`);
        }
      },
      async stop() {
        await stopAll();
        if (!process.env.RESOLVERS_LAB_KEEP) await fsp.rm(dir, { recursive: true, force: true });
      },
    };
    return lab;
  } catch (err) {
    await Promise.allSettled(spawns);
    await stopAll();
    const logs = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.log')) : [];
    (err as Error).message += `\n(logs in ${dir}: ${logs.join(', ')})`;
    throw err;
  }
}
