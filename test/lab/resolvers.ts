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

export type ResolverKind = 'unbound' | 'pdns-recursor' | 'dnsmasq' | 'named';

export interface ResolverSpec {
  name: string;
  kind: ResolverKind;
  /** Raise every TTL to at least this (unbound cache-min-ttl, pdns minimum-ttl-override, dnsmasq min-cache-ttl, named min-cache-ttl ≤ 90). */
  ttlFloor?: number;
  /** Hand out at most this (unbound cache-max-ttl, pdns max-cache-ttl, dnsmasq max-ttl — which keeps answers longer —, named max-cache-ttl). */
  ttlCap?: number;
  /** RFC 8767 (unbound serve-expired, pdns serve-stale-extensions, dnsmasq use-stale-cache, named stale-answer-enable). */
  serveStale?: boolean;
  /** Validate with the lab's trust anchor for sec.test. pdns-recursor: `process` (its default) or `validate`. */
  dnssec?: 'process' | 'validate';
  /** unbound: send Extended DNS Errors (`ede: yes`, and for stale answers `ede-serve-expired`). */
  ede?: boolean;
  /** unbound: also DNS over TLS on 853 and DNS over HTTPS on 443 (/dns-query), certificate from the lab CA. */
  encrypted?: boolean;
}

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
const TLS_NAME = 'resolver.lab.test';

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

// ── the signed zones ────────────────────────────────────────────────────────────────────────

interface SignedZones {
  parent: string;
  valid: string;
  expired: string;
  wrongDs: string;
  /** DS of the parent's key: the resolvers' trust anchor, as "keytag alg digesttype hex". */
  trustAnchor: string;
  files: Record<string, string>;
}

async function keygen(dir: string, zone: string): Promise<string> {
  const r = await run(bin('dnssec-keygen'), ['-q', '-K', dir, '-a', 'ECDSAP256SHA256', '-f', 'KSK', '-n', 'ZONE', zone]);
  if (r.code !== 0) throw new Error(`resolvers lab: dnssec-keygen ${zone} failed: ${r.stderr}`);
  return path.join(dir, r.stdout.trim());
}

async function dsOf(keyBase: string): Promise<string> {
  const r = await run(bin('dnssec-dsfromkey'), ['-2', `${keyBase}.key`]);
  if (r.code !== 0) throw new Error(`resolvers lab: dnssec-dsfromkey failed: ${r.stderr}`);
  return r.stdout.trim();
}

async function sign(dir: string, zone: string, source: string, key: string, validity: { start: string; end: string }): Promise<string> {
  const out = path.join(dir, `${zone}.signed`);
  // -P: no verification afterwards (it refuses signatures that have already expired, which is the point);
  // -d: its dsset- file goes into the lab's dir, not the working directory.
  const r = await run(bin('dnssec-signzone'), ['-q', '-P', '-z', '-d', dir, '-o', zone, '-s', validity.start, '-e', validity.end, '-f', out, source, key]);
  if (r.code !== 0) throw new Error(`resolvers lab: dnssec-signzone ${zone} failed: ${r.stdout}${r.stderr}`);
  return out;
}

async function signedZones(dir: string, nsAddress: string): Promise<SignedZones> {
  const keys = path.join(dir, 'keys');
  await fsp.mkdir(keys, { recursive: true });
  const parent = 'sec.test';
  const children = { valid: `valid.${parent}`, expired: `expired.${parent}`, wrongDs: `wrongds.${parent}` };
  const files: Record<string, string> = {};
  const childDs: string[] = [];
  for (const [state, zone] of Object.entries(children)) {
    const key = await keygen(keys, zone);
    const source = path.join(dir, `${zone}.zone`);
    await fsp.writeFile(
      source,
      [
        `$ORIGIN ${zone}.`,
        '$TTL 300',
        `@ 300 IN SOA ns1.${parent}. hostmaster.${parent}. 1 7200 900 1209600 300`,
        `@ 300 IN NS ns1.${parent}.`,
        'acme 300 IN A 127.61.1.1',
        'beta 300 IN A 127.61.1.2',
        `$INCLUDE ${key}.key`,
        '',
      ].join('\n'),
    );
    const validity = state === 'expired' ? { start: 'now-2592000', end: 'now-86400' } : { start: 'now-3600', end: 'now+2592000' };
    files[zone] = await sign(dir, zone, source, key, validity);
    // wrongds.sec.test: the parent's DS is that of a key the zone never published.
    childDs.push(await dsOf(state === 'wrongDs' ? await keygen(keys, zone) : key));
  }
  const parentKey = await keygen(keys, parent);
  const parentSource = path.join(dir, `${parent}.zone`);
  await fsp.writeFile(
    parentSource,
    [
      `$ORIGIN ${parent}.`,
      '$TTL 300',
      `@ 300 IN SOA ns1 hostmaster 1 7200 900 1209600 300`,
      '@ 300 IN NS ns1',
      `ns1 300 IN A ${nsAddress}`,
      ...Object.values(children).map((zone) => `${zone}. 300 IN NS ns1.${parent}.`),
      ...childDs,
      `$INCLUDE ${parentKey}.key`,
      '',
    ].join('\n'),
  );
  files[parent] = await sign(dir, parent, parentSource, parentKey, { start: 'now-3600', end: 'now+2592000' });
  const trustAnchor = (await dsOf(parentKey)).split(/\s+/).slice(3).join(' ');
  return { parent, ...children, trustAnchor, files };
}

// ── the test CA and the DoT/DoH certificate ────────────────────────────────────────────────

async function makeCertificates(dir: string, ip: string): Promise<{ caFile: string; keyFile: string; certFile: string }> {
  const openssl = bin('openssl');
  const caKey = path.join(dir, 'ca.key');
  const caFile = path.join(dir, 'ca.pem');
  const keyFile = path.join(dir, 'resolver.key');
  const csr = path.join(dir, 'resolver.csr');
  const certFile = path.join(dir, 'resolver.pem');
  const ext = path.join(dir, 'resolver.ext');
  const steps: string[][] = [
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=dialer-audit lab CA'],
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${TLS_NAME}`],
    ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext],
  ];
  await fsp.writeFile(ext, `subjectAltName=DNS:${TLS_NAME},IP:${ip}\nextendedKeyUsage=serverAuth\n`);
  for (const args of steps) {
    const r = await run(openssl, args);
    if (r.code !== 0) throw new Error(`resolvers lab: openssl ${args[0]} failed: ${r.stderr}`);
  }
  return { caFile, keyFile, certFile };
}

// ── resolver configs ─────────────────────────────────────────────────────────────────────────

interface Upstreams {
  zone: string;
  plain: string;
  signed: string;
  dead: string;
  trustAnchor: string;
}

function unboundConfig(dir: string, r: ResolverSpec, ip: string, up: Upstreams, tls?: { keyFile: string; certFile: string }): string {
  const lines = [
    '# generated by test/lab/resolvers.ts',
    'server:',
    `    interface: ${ip}@53`,
    ...(tls ? [`    interface: ${ip}@853`, `    interface: ${ip}@443`, '    tls-port: 853', '    https-port: 443', `    tls-service-key: "${tls.keyFile}"`, `    tls-service-pem: "${tls.certFile}"`, '    http-endpoint: "/dns-query"'] : []),
    '    interface-automatic: no',
    `    outgoing-interface: ${ip}`,
    '    do-ip6: no',
    '    do-daemonize: no',
    '    username: ""',
    '    chroot: ""',
    `    directory: "${dir}"`,
    `    pidfile: "${path.join(dir, `${r.name}.pid`)}"`,
    '    use-syslog: no',
    '    logfile: ""',
    '    verbosity: 1',
    '    num-threads: 1',
    '    so-reuseport: no',
    '    access-control: 127.0.0.0/8 allow',
    '    do-not-query-localhost: no',
    '    local-zone: "test." nodefault',
    `    module-config: "${r.dnssec ? 'validator iterator' : 'iterator'}"`,
    ...(r.dnssec ? [`    trust-anchor: "sec.test. DS ${up.trustAnchor}"`] : []),
    '    qname-minimisation: no',
    '    prefetch: no',
    `    cache-min-ttl: ${r.ttlFloor ?? 0}`,
    `    cache-max-ttl: ${r.ttlCap ?? 86400}`,
    ...(r.serveStale ? ['    serve-expired: yes', '    serve-expired-ttl: 86400', '    serve-expired-reply-ttl: 30', '    serve-expired-client-timeout: 0'] : []),
    ...(r.ede ? ['    ede: yes', ...(r.serveStale ? ['    ede-serve-expired: yes'] : [])] : []),
    '    infra-host-ttl: 60',
    '    infra-cache-max-rtt: 500',
    '    infra-keep-probing: yes',
    '    max-sent-count: 4',
    '    outbound-msg-retry: 1',
    'stub-zone:',
    `    name: "${up.zone}"`,
    `    stub-addr: ${up.plain.replace(':', '@')}`,
    'stub-zone:',
    '    name: "sec.test"',
    `    stub-addr: ${up.signed.replace(':', '@')}`,
    'stub-zone:',
    '    name: "."',
    `    stub-addr: ${up.dead.replace(':', '@')}`,
    'remote-control:',
    '    control-enable: yes',
    `    control-interface: "${path.join(dir, `${r.name}.ctl`)}"`,
    '    control-use-cert: no',
    '',
  ];
  return lines.join('\n');
}

function pdnsConfig(confDir: string, r: ResolverSpec, ip: string, up: Upstreams): { conf: string; lua: string; hints: string } {
  const host = (a: string) => a.replace(/:53$/, '');
  const conf = [
    '# generated by test/lab/resolvers.ts',
    `local-address=${ip}`,
    'local-port=53',
    `query-local-address=${ip}`,
    `socket-dir=${confDir}`,
    `forward-zones=${up.zone}=${host(up.plain)}, sec.test=${host(up.signed)}`,
    // The root is the dead address: nothing is asked outside the lab, not even the security poll.
    `hint-file=${path.join(confDir, 'root.hints')}`,
    'security-poll-suffix=',
    `lua-config-file=${path.join(confDir, 'rec.lua')}`,
    'dont-query=',
    `dnssec=${r.dnssec ?? 'off'}`,
    `minimum-ttl-override=${r.ttlFloor ?? 1}`,
    `max-cache-ttl=${r.ttlCap ?? 86400}`,
    `serve-stale-extensions=${r.serveStale ? 2880 : 0}`,
    'daemon=no',
    'write-pid=no',
    'threads=1',
    'loglevel=4',
    '',
  ].join('\n');
  const lua = ['clearTA()', ...(r.dnssec ? [`addTA('sec.test', '${up.trustAnchor}')`] : []), ''].join('\n');
  const hints = `.  3600000  NS  a.root-servers.lab.\na.root-servers.lab.  3600000  A  ${host(up.dead)}\n`;
  return { conf, lua, hints };
}

function dnsmasqConfig(dir: string, r: ResolverSpec, ip: string, up: Upstreams): string {
  const host = (a: string) => a.replace(/:53$/, '');
  const [tag, alg, type, digest] = up.trustAnchor.split(' ');
  return [
    '# generated by test/lab/resolvers.ts',
    'port=53',
    `listen-address=${ip}`,
    'bind-interfaces',
    'no-resolv',
    'no-hosts',
    'user=root',
    `pid-file=${path.join(dir, `${r.name}.pid`)}`,
    `server=/${up.zone}/${host(up.plain)}`,
    `server=/sec.test/${host(up.signed)}`,
    ...(r.ttlFloor ? [`min-cache-ttl=${r.ttlFloor}`] : []),
    ...(r.ttlCap ? [`max-ttl=${r.ttlCap}`] : []),
    ...(r.serveStale ? ['use-stale-cache'] : []),
    ...(r.dnssec
      ? [
          'dnssec',
          // dnsmasq insists on a root anchor; the lab's root is dead, so this one is never used.
          'trust-anchor=.,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D',
          `trust-anchor=sec.test,${tag},${alg},${type},${digest}`,
          // Unsigned answers (the plain zone) cannot be proven insecure without a root: take them as they are.
          'dnssec-check-unsigned=no',
        ]
      : []),
    '',
  ].join('\n');
}

function namedConfig(dir: string, r: ResolverSpec, ip: string, up: Upstreams, rndcSecret: string): string {
  const host = (a: string) => a.replace(/:53$/, '');
  const [tag, alg, type, digest] = up.trustAnchor.split(' ');
  return `# generated by test/lab/resolvers.ts
options {
  directory "${dir}";
  pid-file "${path.join(dir, `${r.name}.pid`)}";
  listen-on port 53 { ${ip}; };
  listen-on-v6 { none; };
  query-source address ${ip};
  recursion yes;
  allow-query { 127.0.0.0/8; };
  allow-recursion { 127.0.0.0/8; };
  dnssec-validation ${r.dnssec ? 'yes' : 'no'};
  ${r.ttlFloor ? `min-cache-ttl ${Math.min(90, r.ttlFloor)};` : ''}
  ${r.ttlCap ? `max-cache-ttl ${r.ttlCap};` : ''}
  ${r.serveStale ? 'stale-answer-enable yes; stale-cache-enable yes; stale-answer-ttl 30;' : ''}
  servfail-ttl 0;
  notify no;
};
${r.dnssec ? `trust-anchors { "sec.test." static-ds ${tag} ${alg} ${type} "${digest}"; };` : ''}
zone "${up.zone}" { type static-stub; server-addresses { ${host(up.plain)}; }; };
zone "sec.test" { type static-stub; server-addresses { ${host(up.signed)}; }; };
zone "." { type static-stub; server-addresses { ${host(up.dead)}; }; };
key "lab" { algorithm hmac-sha256; secret "${rndcSecret}"; };
controls { inet ${ip} port 953 allow { 127.0.0.0/8; } keys { "lab"; }; };
`;
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
