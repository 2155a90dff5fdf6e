/**
 * The DNS lab: real DNS servers on loopback (see DESIGN.md, "The lab: real servers on loopback").
 *
 *   knotd   authoritative for `zone` (default dialer.test) on `${prefix}.10:port`
 *   unbound N recursive "public resolvers" pub1..pubN on `${prefix}.1..N:port`, each with
 *           stub-zones: <zone> -> knot, broken.test -> the dead address, "." -> the dead address
 *           (so nothing ever leaves 127.0.0.0/8 and names outside the lab SERVFAIL quickly).
 *
 * Everything lives in one directory (`dir`): configs, the zone source (zone.json), the zone file
 * knot reads, pid/daemon registry (daemons.json), lab.json (the DnsLabInfo), control sockets, logs.
 *
 * The zone source of truth is `zone.json`; the zone file is rendered from it on every change,
 * then `knotc -b zone-reload` and a poll until knot serves the new SOA serial. Changes are
 * serialised across processes with a lock directory (`zone.lock`), so test files running in
 * parallel workers can mutate the shared zone at the same time — as long as each test uses its
 * OWN record names (two tests rewriting the same RRset would still race logically).
 *
 * Resolver caches are per instance: a record cached by pub1 is not cached by pub2/pub3, which is
 * what reproduces the stale-cache incident (see the integration test).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import dnsPacket from 'dns-packet';

// ---------------------------------------------------------------------------------------------
// Public types

export interface ZoneRecord {
  /** FQDN without trailing dot, or '@' for the apex. */
  name: string;
  type: string;
  ttl: number;
  /**
   * Zone-file rdata syntax (TXT values need their quotes: '"v=spf1 -all"'). Domain names in
   * CNAME/NS/PTR/DNAME/MX/SRV rdata are taken as absolute whether or not they end with a dot.
   */
  values: string[];
}

/** Serialisable (vitest provide/inject passes it to test workers). */
export interface DnsLabInfo {
  dir: string;
  zone: string;
  resolvers: { name: string; address: string }[];
  authoritative: { name: string; address: string }[];
  deadAddress: string;
  servfailName: string;
  nxdomainName: string;
}

export interface DnsLabOptions {
  dir?: string;
  zone?: string;
  records?: ZoneRecord[];
  soa?: { ttl: number; minimum: number };
  prefix?: string;
  port?: number;
  resolverCount?: number;
  /**
   * Extra (not in the original brief): true = daemons are detached (own session) and outlive
   * this process; no exit/signal hook kills them. Used by the CLI `start`. Default false: the
   * daemons share our process group (Ctrl-C reaches them too) and are SIGTERMed when this
   * process exits or gets SIGINT/SIGTERM/SIGHUP.
   */
  detach?: boolean;
  /**
   * Extra (not in the original brief): if an address of `prefix` is already in use (another lab,
   * e.g. a concurrent vitest run), try these prefixes in order. The chosen one is in the info.
   */
  fallbackPrefixes?: string[];
}

/** One daemon the lab started (recorded in `${dir}/daemons.json`). */
export interface LabProcess {
  name: string;
  /** knot and unbound here; test/lab/resolvers.ts adds pdns-recursor, dnsmasq and named; test/lab/routing-lab.ts adds pdns. */
  kind: 'knot' | 'unbound' | 'pdns' | 'pdns-recursor' | 'dnsmasq' | 'named';
  pid: number;
  conf: string;
  log: string;
  address: string;
}

export interface DnsLab extends DnsLabInfo {
  info(): DnsLabInfo;
  records(): Promise<ZoneRecord[]>;
  setRecords(name: string, type: string, ttl: number, values: string[]): Promise<void>;
  replaceZone(records: ZoneRecord[], soa?: { ttl: number; minimum: number }): Promise<void>;
  /**
   * Without `name`: flush_zone <zone> + flush_negative. With `name`: `unbound-control flush name`
   * (types A, AAAA, NS, SOA, CNAME, DNAME, MX, PTR, SRV, NAPTR — not TXT/CAA/...). Extra optional
   * `type`: `flush_type name type` instead (use it for TXT etc.).
   */
  flush(resolverName: string, name?: string, type?: string): Promise<void>;
  /** Extra: the daemons of this lab, with their pids. */
  processes(): Promise<LabProcess[]>;
  stop(): Promise<void>;
}

/** Result of {@link labQuery}. */
export interface LabAnswer {
  rcode: string;
  aa: boolean;
  answers: { name: string; type: string; ttl: number; data: string }[];
  authorities: { name: string; type: string; ttl: number; data: string }[];
}

// ---------------------------------------------------------------------------------------------
// Constants / defaults

const DEFAULT_ZONE = 'dialer.test';
const DEFAULT_PREFIX = '127.53.0';
const DEFAULT_PORT = 53;
const DEFAULT_SOA = { ttl: 900, minimum: 86400 }; // Route 53's defaults
const NS_TTL = 172800; // Route 53's default NS TTL
const SERVFAIL_NAME = 'x.broken.test';
const KNOT_HOST = 10;
const DEAD_HOST = 99;
const REQUIRED_BINARIES = ['unbound', 'unbound-control', 'knotd', 'knotc'];

export function defaultFleet(zone = DEFAULT_ZONE): ZoneRecord[] {
  return [
    { name: `acme.${zone}`, type: 'A', ttl: 300, values: ['127.60.0.1'] },
    { name: `beta.${zone}`, type: 'A', ttl: 300, values: ['127.60.0.2'] },
    { name: `gamma.${zone}`, type: 'A', ttl: 300, values: ['127.60.0.3'] },
    { name: `lb.${zone}`, type: 'CNAME', ttl: 300, values: [`lb-pool.${zone}`] },
    { name: `lb-pool.${zone}`, type: 'A', ttl: 60, values: ['127.60.0.10', '127.60.0.11'] },
  ];
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  if (i < 0) return { host: address, port: 53 };
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

const SBIN_DIRS = ['/usr/sbin', '/sbin', '/usr/local/sbin', '/usr/bin', '/bin'];

function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN_DIRS];
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function bin(name: string): string {
  const p = findBinary(name);
  if (!p) throw new Error(`DNS lab: '${name}' not found (call ensureLabPackages(), or apt-get install -y unbound knot knot-dnsutils)`);
  return p;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 15_000, env: opts.env ?? process.env, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(err); // ENOENT etc.
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        if (err && (err as { killed?: boolean }).killed) {
          return reject(new Error(`${cmd} ${args.join(' ')} timed out\n${stdout}${stderr}`));
        }
        resolve({ code: typeof code === 'number' ? code : 1, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

export async function tailFile(file: string, lines = 40): Promise<string> {
  try {
    const text = await fsp.readFile(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch (e) {
    return `(no log: ${(e as Error).message})`;
  }
}

async function writeAtomic(file: string, content: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await fsp.writeFile(tmp, content);
  await fsp.rename(tmp, file);
}

/** Is `pid` a live (non-zombie) process whose command line mentions `marker`? */
function pidAlive(pid: number, marker?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPERM') return true;
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    if (marker) {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (!cmdline.includes(marker)) return false;
    }
  } catch {
    // no /proc (or raced with exit): trust kill(0) unless it is gone now
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// A tiny DNS client (UDP) used for readiness/serial polling; exported for tests.

export async function labQuery(
  address: string,
  name: string,
  type: string,
  opts: { klass?: 'IN' | 'CH'; timeoutMs?: number; recursionDesired?: boolean } = {},
): Promise<LabAnswer> {
  const { host, port } = splitAddress(address);
  const id = Math.floor(Math.random() * 65535);
  const query = dnsPacket.encode({
    type: 'query',
    id,
    flags: opts.recursionDesired === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as dnsPacket.RecordType, class: opts.klass ?? 'IN', name } as dnsPacket.Question],
  });
  const socket = dgram.createSocket('udp4');
  try {
    const response = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`DNS query ${name}/${type} to ${address} timed out after ${opts.timeoutMs ?? 3000} ms`)),
        opts.timeoutMs ?? 3000,
      );
      socket.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.on('message', (msg) => {
        if (msg.length >= 2 && msg.readUInt16BE(0) === id) {
          clearTimeout(timer);
          resolve(msg);
        }
      });
      // connected UDP: an ICMP port-unreachable surfaces at once as ECONNREFUSED
      socket.connect(port, host, () => {
        socket.send(query, (err) => {
          if (err) {
            clearTimeout(timer);
            reject(err);
          }
        });
      });
    });
    const p = dnsPacket.decode(response) as dnsPacket.DecodedPacket & { rcode: string };
    const conv = (a: dnsPacket.Answer) => ({
      name: a.name,
      type: a.type,
      ttl: (a as { ttl?: number }).ttl ?? 0,
      data: formatData(a),
    });
    return { rcode: p.rcode, aa: p.flag_aa, answers: (p.answers ?? []).map(conv), authorities: (p.authorities ?? []).map(conv) };
  } finally {
    socket.close();
  }
}

function formatData(a: dnsPacket.Answer): string {
  const d = (a as { data?: unknown }).data;
  if (a.type === 'SOA' && d && typeof d === 'object') {
    const s = d as dnsPacket.SoaData;
    return `${s.mname}. ${s.rname}. ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
  }
  if (a.type === 'TXT') {
    const parts = Array.isArray(d) ? d : [d];
    return parts.map((x) => JSON.stringify(Buffer.isBuffer(x) ? x.toString() : String(x))).join(' ');
  }
  if (Buffer.isBuffer(d)) return d.toString('hex');
  if (d && typeof d === 'object') return JSON.stringify(d);
  return String(d);
}

async function soaSerial(address: string, zone: string, timeoutMs = 500): Promise<number | undefined> {
  const r = await labQuery(address, zone, 'SOA', { recursionDesired: false, timeoutMs });
  const soa = r.answers.find((a) => a.type === 'SOA');
  if (r.rcode !== 'NOERROR' || !soa) return undefined;
  return Number(soa.data.split(' ')[2]);
}

// ---------------------------------------------------------------------------------------------
// Packages

let ensuring: Promise<void> | undefined;

export function ensureLabPackages(): Promise<void> {
  ensuring ??= (async () => {
    let missing = REQUIRED_BINARIES.filter((b) => !findBinary(b));
    if (missing.length === 0) return;
    if (process.getuid?.() !== 0) {
      throw new Error(
        `DNS lab: missing ${missing.join(', ')}. Install the Debian packages as root: apt-get install -y unbound knot knot-dnsutils`,
      );
    }
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update'], ['install', '-y', 'unbound', 'knot', 'knot-dnsutils']]) {
      const r = await run('apt-get', args, { env, timeoutMs: 600_000 });
      if (r.code !== 0) throw new Error(`DNS lab: apt-get ${args.join(' ')} failed (${r.code}):\n${(r.stdout + r.stderr).slice(-3000)}`);
    }
    missing = REQUIRED_BINARIES.filter((b) => !findBinary(b));
    if (missing.length) throw new Error(`DNS lab: still missing ${missing.join(', ')} after apt-get install`);
  })();
  ensuring.catch(() => (ensuring = undefined));
  return ensuring;
}

// ---------------------------------------------------------------------------------------------
// Zone source

interface ZoneState {
  zone: string;
  serial: number;
  soa: { ttl: number; minimum: number };
  /** IP of the authoritative server, used for the ns1 glue. */
  nsAddress: string;
  records: ZoneRecord[];
}

const files = (dir: string) => ({
  lab: path.join(dir, 'lab.json'),
  state: path.join(dir, 'zone.json'),
  daemons: path.join(dir, 'daemons.json'),
  lock: path.join(dir, 'zone.lock'),
  knotConf: path.join(dir, 'knot.conf'),
  knotLog: path.join(dir, 'knot.log'),
  knotSock: path.join(dir, 'knot.sock'),
  knotDb: path.join(dir, 'knot-db'),
  zoneFile: (zone: string) => path.join(dir, `${zone}.zone`),
  unboundConf: (name: string) => path.join(dir, `${name}.conf`),
  unboundLog: (name: string) => path.join(dir, `${name}.log`),
  unboundCtl: (name: string) => path.join(dir, `${name}.ctl`),
});

const NAME_RE = /^[a-z0-9_*-]+(\.[a-z0-9_*-]+)*$/;
const TYPE_RE = /^[A-Z][A-Z0-9]*$/;

function canonicalName(name: string, zone: string): string {
  const n = name.trim().toLowerCase().replace(/\.$/, '');
  if (n === '@' || n === zone) return '@';
  if (!n.endsWith(`.${zone}`) || !NAME_RE.test(n)) {
    throw new Error(`DNS lab: record name '${name}' is not a name in zone ${zone} (use a FQDN such as acme.${zone}, or '@')`);
  }
  return n;
}

function canonicalRecord(r: ZoneRecord, zone: string): ZoneRecord {
  const type = String(r.type).trim().toUpperCase();
  if (!TYPE_RE.test(type)) throw new Error(`DNS lab: bad record type '${r.type}'`);
  if (type === 'SOA') throw new Error('DNS lab: the SOA is managed by the lab (use the soa option of replaceZone)');
  if (!Number.isInteger(r.ttl) || r.ttl < 0 || r.ttl > 2147483647) throw new Error(`DNS lab: bad TTL ${r.ttl} for ${r.name} ${type}`);
  if (!Array.isArray(r.values)) throw new Error(`DNS lab: values of ${r.name} ${type} must be an array`);
  for (const v of r.values) {
    if (typeof v !== 'string' || v.trim() === '' || /[\r\n]/.test(v)) throw new Error(`DNS lab: bad value ${JSON.stringify(v)} for ${r.name} ${type}`);
  }
  return { name: canonicalName(r.name, zone), type, ttl: r.ttl, values: [...r.values] };
}

/** Index of the field holding a domain name in the rdata of these types. */
const NAME_FIELD: Record<string, number> = { CNAME: 0, NS: 0, PTR: 0, DNAME: 0, MX: 1, SRV: 3 };

function renderValue(type: string, value: string): string {
  const idx = NAME_FIELD[type];
  if (idx === undefined) return value.trim();
  const parts = value.trim().split(/\s+/);
  const t = parts[idx];
  if (t !== undefined && t !== '@' && !t.endsWith('.')) parts[idx] = `${t}.`;
  return parts.join(' ');
}

function renderZone(st: ZoneState): string {
  const z = st.zone;
  const has = (n: string, t: string) => st.records.some((r) => r.name === n && r.type === t);
  const lines = [
    '; generated by test/lab/dns-lab.ts from zone.json - change it with setRecords()/replaceZone()',
    `$ORIGIN ${z}.`,
    `$TTL ${st.soa.ttl}`,
    `@ ${st.soa.ttl} IN SOA ns1.${z}. hostmaster.${z}. ${st.serial} 7200 900 1209600 ${st.soa.minimum}`,
  ];
  if (!has('@', 'NS')) lines.push(`@ ${NS_TTL} IN NS ns1.${z}.`);
  if (!has(`ns1.${z}`, 'A')) lines.push(`ns1.${z}. ${NS_TTL} IN A ${st.nsAddress}`);
  for (const r of st.records) {
    const owner = r.name === '@' ? '@' : `${r.name}.`;
    for (const v of r.values) lines.push(`${owner} ${r.ttl} IN ${r.type} ${renderValue(r.type, v)}`);
  }
  return `${lines.join('\n')}\n`;
}

async function readState(dir: string): Promise<ZoneState> {
  return JSON.parse(await fsp.readFile(files(dir).state, 'utf8')) as ZoneState;
}

const inProcessLocks = new Map<string, Promise<unknown>>();

/** Cross-process (lock directory) + in-process (promise chain) mutex on the zone source. */
async function withZoneLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const prev = inProcessLocks.get(dir) ?? Promise.resolve();
  const mine = prev.catch(() => undefined).then(() => withFileLock(dir, fn));
  inProcessLocks.set(dir, mine);
  try {
    return await mine;
  } finally {
    if (inProcessLocks.get(dir) === mine) inProcessLocks.delete(dir);
  }
}

async function withFileLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = files(dir).lock;
  const deadline = Date.now() + 60_000;
  for (;;) {
    // acquire atomically WITH the owner inside: build the directory aside, then rename it into
    // place (rename fails with ENOTEMPTY/EEXIST while another holder's lock exists)
    const mine = `${lock}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    await fsp.mkdir(mine);
    await fsp.writeFile(path.join(mine, 'owner'), String(process.pid));
    try {
      await fsp.rename(mine, lock);
      break;
    } catch (e) {
      await fsp.rm(mine, { recursive: true, force: true });
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    }
    let stale = false;
    try {
      stale = !pidAlive(Number(await fsp.readFile(path.join(lock, 'owner'), 'utf8')));
    } catch {
      continue; // released meanwhile: retry at once
    }
    if (stale) {
      // the holder died mid-update: move its lock aside (atomic) and retry
      const tomb = `${lock}.stale.${process.pid}.${Math.random().toString(36).slice(2)}`;
      await fsp.rename(lock, tomb).then(
        () => fsp.rm(tomb, { recursive: true, force: true }),
        () => undefined,
      );
      continue;
    }
    if (Date.now() > deadline) throw new Error(`DNS lab: timed out waiting for the zone lock ${lock}`);
    await sleep(5 + Math.random() * 10);
  }
  try {
    return await fn();
  } finally {
    // release atomically too (a recursive rm would leave an empty directory for a moment)
    const done = `${lock}.done.${process.pid}.${Math.random().toString(36).slice(2)}`;
    await fsp.rename(lock, done);
    await fsp.rm(done, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Config rendering

/**
 * A knotd config: `name` names its pid file, database and control socket in `dir`; `zones` maps
 * each zone to the file it is served from (the only source: never written back, no journal).
 */
export function knotConfig(o: { dir: string; name: string; listen: string; zones: Record<string, string> }): string {
  return `# generated by test/lab
server:
    rundir: "${o.dir}"
    pidfile: "${path.join(o.dir, `${o.name}.pid`)}"
    listen: ${o.listen}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

log:
  - target: stdout
    any: info

database:
    storage: "${path.join(o.dir, `${o.name}-db`)}"

control:
    listen: "${path.join(o.dir, `${o.name}.sock`)}"

template:
  - id: default
    storage: "${o.dir}"
    # the zone file is the only source: never written back, no journal, whole file on reload
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off

zone:
${Object.entries(o.zones)
  .map(([zone, file]) => `  - domain: ${zone}\n    file: "${file}"`)
  .join('\n')}
`;
}

/**
 * `outgoing` (default: `ip`) is the address the resolver asks the authoritative server from;
 * `serverOptions` are more `server:` lines, after (and so overriding) the ones here.
 */
function unboundConfig(o: { dir: string; name: string; ip: string; port: number; zone: string; knot: string; dead: string; outgoing?: string; serverOptions?: string[] }): string {
  const f = files(o.dir);
  const at = (a: string) => {
    const { host, port } = splitAddress(a);
    return `${host}@${port}`;
  };
  return `# generated by test/lab/dns-lab.ts
server:
    interface: ${o.ip}
    port: ${o.port}
    interface-automatic: no
    outgoing-interface: ${o.outgoing ?? o.ip}
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "${o.dir}"
    pidfile: "${path.join(o.dir, `${o.name}.pid`)}"
    use-syslog: no
    logfile: ""
    log-time-ascii: yes
    verbosity: 1
    num-threads: 1
    so-reuseport: no
    outgoing-range: 128
    num-queries-per-thread: 64
    msg-cache-size: 4m
    rrset-cache-size: 4m
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    local-zone: "test." nodefault
    module-config: "iterator"
    qname-minimisation: no
    cache-min-ttl: 0
    cache-max-ttl: 86400
    serve-expired: no
    prefetch: no
    # a dead upstream must give SERVFAIL fast: cap the RTT/timeout and the number of tries
    infra-host-ttl: 60
    infra-cache-max-rtt: 500
    infra-keep-probing: yes
    max-sent-count: 4
    outbound-msg-retry: 1
${(o.serverOptions ?? []).map((l) => `    ${l}\n`).join('')}
stub-zone:
    name: "${o.zone}"
    stub-addr: ${at(o.knot)}

stub-zone:
    name: "broken.test"
    stub-addr: ${at(o.dead)}

# offline: everything else goes nowhere (SERVFAIL), never to the real root servers
stub-zone:
    name: "."
    stub-addr: ${at(o.dead)}

remote-control:
    control-enable: yes
    control-interface: "${f.unboundCtl(o.name)}"
    control-use-cert: no
`;
}

// ---------------------------------------------------------------------------------------------
// Process management

const liveLabs = new Map<string, LabProcess[]>(); // dir -> daemons to kill if we die
let hooksInstalled = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function killAllSync(): void {
  for (const procs of liveLabs.values()) {
    for (const p of procs) {
      if (pidAlive(p.pid, p.conf)) {
        try {
          process.kill(p.pid, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
    }
  }
  liveLabs.clear();
}

function onExit(): void {
  killAllSync();
}

function onSignal(sig: NodeJS.Signals): void {
  killAllSync();
  const alone = process.listenerCount(sig) === 1;
  removeHooks();
  // nobody else handles it: behave like the default action (terminate by that signal)
  if (alone) process.kill(process.pid, sig);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function removeHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.off('exit', onExit);
  for (const s of SIGNALS) process.off(s, onSignal);
}

export function track(dir: string, p: LabProcess): void {
  const list = liveLabs.get(dir) ?? [];
  list.push(p);
  liveLabs.set(dir, list);
  installHooks();
}

export function untrack(dir: string): void {
  liveLabs.delete(dir);
  if (liveLabs.size === 0) removeHooks();
}

export async function terminate(p: LabProcess, graceMs = 5000): Promise<void> {
  if (!pidAlive(p.pid, p.conf)) return;
  try {
    process.kill(p.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pidAlive(p.pid, p.conf)) return;
    await sleep(20);
  }
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    return;
  }
  const hard = Date.now() + 2000;
  while (Date.now() < hard) {
    if (!pidAlive(p.pid, p.conf)) return;
    await sleep(20);
  }
  throw new Error(`DNS lab: ${p.name} (pid ${p.pid}) survived SIGKILL`);
}

async function readDaemons(dir: string): Promise<LabProcess[]> {
  try {
    return JSON.parse(await fsp.readFile(files(dir).daemons, 'utf8')) as LabProcess[];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

export interface Spawned {
  proc: LabProcess;
  /** set once the daemon has exited (it must not, while the lab runs) */
  exited: () => string | undefined;
}

export async function spawnDaemon(dir: string, p: Omit<LabProcess, 'pid'>, cmd: string, args: string[], detach: boolean): Promise<Spawned> {
  const fd = fs.openSync(p.log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, { cwd: dir, detached: detach, stdio: ['ignore', fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
  let exited: string | undefined;
  child.once('exit', (code, sig) => (exited = code !== null ? `exit code ${code}` : `signal ${sig}`));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  child.unref();
  return { proc: { ...p, pid: child.pid! }, exited: () => exited };
}

export async function waitReady(s: Spawned, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const { proc } = s;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !s.exited()) {
    if (await probe().catch(() => false)) return;
    await sleep(15);
  }
  const why = s.exited() ? `exited early (${s.exited()})` : `not ready after ${timeoutMs} ms`;
  throw new Error(`DNS lab: ${proc.name} (${proc.kind}, pid ${proc.pid}, ${proc.address}) ${why}.\n--- tail of ${proc.log} ---\n${await tailFile(proc.log)}`);
}

/**
 * Bind (and hold) a plain UDP socket on each address: proves nothing listens there, and keeps a
 * concurrently starting lab from picking the same addresses until we spawn our daemons.
 * Rejects with an Error whose `code` is the errno code (EADDRINUSE, EACCES, ...).
 */
export async function reserveAddresses(list: { address: string; what: string }[]): Promise<dgram.Socket[]> {
  const held: dgram.Socket[] = [];
  try {
    for (const { address, what } of list) {
      const { host, port } = splitAddress(address);
      const s = dgram.createSocket('udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind(port, host, () => resolve());
        });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const hint =
          code === 'EADDRINUSE'
            ? ' (another lab still running? `npx tsx test/lab/cli.ts stop --dir <dir>`, or use another prefix)'
            : code === 'EACCES'
              ? ' (ports < 1024 need root: pass a higher port)'
              : '';
        throw Object.assign(new Error(`DNS lab: cannot use ${address} for ${what}: ${code ?? (e as Error).message}${hint}`), { code });
      }
      held.push(s);
    }
    return held;
  } catch (e) {
    await releaseAddresses(held);
    throw e;
  }
}

export async function releaseAddresses(held: dgram.Socket[]): Promise<void> {
  await Promise.all(held.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
}

// ---------------------------------------------------------------------------------------------
// Start / connect

export async function startDnsLab(opts: DnsLabOptions = {}): Promise<DnsLab> {
  const zone = (opts.zone ?? DEFAULT_ZONE).toLowerCase().replace(/\.$/, '');
  const port = opts.port ?? DEFAULT_PORT;
  const count = opts.resolverCount ?? 3;
  const soa = opts.soa ?? DEFAULT_SOA;
  const detach = opts.detach ?? false;
  const candidates = [opts.prefix ?? DEFAULT_PREFIX, ...(opts.fallbackPrefixes ?? [])];
  for (const p of candidates) {
    if (!/^127\.\d{1,3}\.\d{1,3}$/.test(p)) throw new Error(`DNS lab: prefix must look like 127.X.Y (loopback only), got '${p}'`);
  }
  if (!Number.isInteger(count) || count < 1 || count > 9) throw new Error('DNS lab: resolverCount must be 1..9');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`DNS lab: bad port ${port}`);
  if (!NAME_RE.test(zone) || zone === 'broken.test') throw new Error(`DNS lab: bad zone '${zone}'`);
  const records = (opts.records ?? defaultFleet(zone)).map((r) => canonicalRecord(r, zone));
  assertUniqueRRsets(records);

  // pick the first prefix whose addresses are all free, and hold them until the daemons are spawned
  let prefix = candidates[0];
  let held: dgram.Socket[] = [];
  for (const [i, p] of candidates.entries()) {
    try {
      held = await reserveAddresses([
        ...Array.from({ length: count }, (_, n) => ({ address: `${p}.${n + 1}:${port}`, what: `resolver pub${n + 1}` })),
        { address: `${p}.${KNOT_HOST}:${port}`, what: 'knot' },
        { address: `${p}.${DEAD_HOST}:${port}`, what: 'the dead address (must have no listener)' },
      ]);
      prefix = p;
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || i === candidates.length - 1) {
        if (candidates.length > 1) (e as Error).message += ` [tried prefixes ${candidates.slice(0, i + 1).join(', ')}]`;
        throw e;
      }
    }
  }
  try {
    return await startOn(prefix, held);
  } finally {
    await releaseAddresses(held);
  }

  async function startOn(prefix: string, held: dgram.Socket[]): Promise<DnsLab> {
    const dir = path.resolve(opts.dir ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'dns-lab-'))));
    await fsp.mkdir(dir, { recursive: true });
    const f = files(dir);
    for (const sock of [f.knotSock, f.unboundCtl('pub9')]) {
      if (Buffer.byteLength(sock) > 100) throw new Error(`DNS lab: dir path too long for unix sockets (${sock})`);
    }

    const knotIp = `${prefix}.${KNOT_HOST}`;
    const info: DnsLabInfo = {
      dir,
      zone,
      resolvers: Array.from({ length: count }, (_, i) => ({ name: `pub${i + 1}`, address: `${prefix}.${i + 1}:${port}` })),
      authoritative: [{ name: 'knot', address: `${knotIp}:${port}` }],
      deadAddress: `${prefix}.${DEAD_HOST}:${port}`,
      servfailName: SERVFAIL_NAME,
      nxdomainName: `nope.${zone}`,
    };

    const state: ZoneState = { zone, serial: 1, soa: { ...soa }, nsAddress: knotIp, records };
    await fsp.rm(f.lock, { recursive: true, force: true });
    await writeAtomic(f.state, `${JSON.stringify(state, null, 2)}\n`);
    await writeAtomic(f.zoneFile(zone), renderZone(state));
    await writeAtomic(f.lab, `${JSON.stringify(info, null, 2)}\n`);
    await fsp.mkdir(f.knotDb, { recursive: true });
    await fsp.writeFile(f.knotConf, knotConfig({ dir, name: 'knot', listen: `${knotIp}@${port}`, zones: { [zone]: f.zoneFile(zone) } }));
    for (const r of info.resolvers) {
      await fsp.writeFile(
        f.unboundConf(r.name),
        unboundConfig({ dir, name: r.name, ip: splitAddress(r.address).host, port, zone, knot: info.authoritative[0].address, dead: info.deadAddress }),
      );
    }
    await fsp.writeFile(f.daemons, '[]\n');

    const started: LabProcess[] = [];
    const t0 = performance.now();
    /** DNS_LAB_DEBUG=1 prints start-up timings on stderr */
    const dbg = (m: string) => {
      if (process.env.DNS_LAB_DEBUG) console.error(`[dns-lab] +${Math.round(performance.now() - t0)} ms ${m}`);
    };
    let registry = Promise.resolve();
    const record = (p: LabProcess): Promise<void> => {
      started.push(p);
      if (!detach) track(dir, p);
      const snapshot = `${JSON.stringify(started, null, 2)}\n`;
      registry = registry.then(() => writeAtomic(f.daemons, snapshot)); // in order: the last write wins
      return registry;
    };
    // during start-up, even a detached lab must not be left half-running by a Ctrl-C
    const startupGuard = (sig: NodeJS.Signals) => {
      for (const p of started) {
        try {
          process.kill(p.pid, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
      for (const s of SIGNALS) process.off(s, startupGuard);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig); // default action
    };
    if (detach) for (const s of SIGNALS) process.on(s, startupGuard);

    const spawns: Promise<Spawned>[] = [];
    await releaseAddresses(held); // from here on the addresses are for our daemons
    try {
      const spawnOne = async (p: Omit<LabProcess, 'pid'>, cmd: string, args: string[]) => {
        const s = await spawnDaemon(dir, p, cmd, args, detach);
        await record(s.proc);
        dbg(`${p.name} spawned (pid ${s.proc.pid})`);
        return s;
      };
      const [knotd, unbound] = [bin('knotd'), bin('unbound')];
      spawns.push(
        spawnOne({ name: 'knot', kind: 'knot', conf: f.knotConf, log: f.knotLog, address: info.authoritative[0].address }, knotd, ['-c', f.knotConf]),
      );
      for (const r of info.resolvers) {
        const conf = f.unboundConf(r.name);
        spawns.push(spawnOne({ name: r.name, kind: 'unbound', conf, log: f.unboundLog(r.name), address: r.address }, unbound, ['-d', '-c', conf]));
      }
      const [knot, ...resolvers] = await Promise.all(spawns);
      await Promise.all([
        waitReady(knot, async () => {
          if ((await soaSerial(knot.proc.address, zone, 300)) !== state.serial) return false;
          dbg('knot ready');
          return true;
        }),
        ...resolvers.map((s) =>
          waitReady(s, async () => {
            if (!fs.existsSync(f.unboundCtl(s.proc.name))) return false;
            await labQuery(s.proc.address, 'version.server', 'TXT', { klass: 'CH', timeoutMs: 300 });
            dbg(`${s.proc.name} ready`);
            return true;
          }),
        ),
      ]);
    } catch (e) {
      await Promise.allSettled(spawns); // nothing may still be starting while we clean up
      await Promise.allSettled(started.map((p) => terminate(p, 2000)));
      untrack(dir);
      throw e;
    } finally {
      if (detach) for (const s of SIGNALS) process.off(s, startupGuard);
    }
    return makeLab(info);
  }
}

/** Controller for an already-running lab (e.g. from a vitest worker, via inject('dnsLab')). */
export function connectDnsLab(info: DnsLabInfo): DnsLab {
  return makeLab(info);
}

function assertUniqueRRsets(records: ZoneRecord[]): void {
  const seen = new Set<string>();
  for (const r of records) {
    const k = `${r.name} ${r.type}`;
    if (seen.has(k)) throw new Error(`DNS lab: RRset ${k} listed twice (one entry per name+type, several values)`);
    seen.add(k);
  }
}

function makeLab(infoIn: DnsLabInfo): DnsLab {
  const info: DnsLabInfo = structuredClone(infoIn);
  const { dir, zone } = info;
  const f = files(dir);
  const knotAddress = info.authoritative[0].address;

  async function knotc(args: string[]): Promise<RunResult> {
    return run(bin('knotc'), ['-c', f.knotConf, ...args], { timeoutMs: 20_000 });
  }

  async function waitForSerial(serial: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: number | undefined;
    while (Date.now() < deadline) {
      last = await soaSerial(knotAddress, zone, 300).catch(() => undefined);
      if (last !== undefined && last >= serial) return;
      await sleep(15);
    }
    throw new Error(`DNS lab: knot still serves serial ${last} instead of ${serial}\n--- tail of ${f.knotLog} ---\n${await tailFile(f.knotLog)}`);
  }

  /** Apply a change to the zone source, render, reload knot, wait until the new serial is live. */
  async function change(what: string, mutate: (st: ZoneState) => void): Promise<void> {
    await withZoneLock(dir, async () => {
      const st = await readState(dir);
      mutate(st);
      assertUniqueRRsets(st.records);
      st.serial = (st.serial + 1) % 4294967296 || 1;
      const zf = f.zoneFile(zone);
      const before = await fsp.readFile(zf, 'utf8');
      await writeAtomic(zf, renderZone(st));
      const r = await knotc(['-b', 'zone-reload', zone]);
      if (r.code !== 0) {
        await writeAtomic(zf, before); // knot keeps serving the previous zone; keep the file in step
        throw new Error(
          `DNS lab: knot rejected the zone after ${what}: ${(r.stdout + r.stderr).trim()}\n--- tail of ${f.knotLog} ---\n${await tailFile(f.knotLog, 15)}`,
        );
      }
      await writeAtomic(f.state, `${JSON.stringify(st, null, 2)}\n`);
      await waitForSerial(st.serial);
    });
  }

  const lab: DnsLab = {
    ...structuredClone(info),
    info: () => structuredClone(info),

    async records() {
      return structuredClone((await readState(dir)).records);
    },

    async setRecords(name, type, ttl, values) {
      const rec = canonicalRecord({ name, type, ttl, values }, zone);
      await change(`setRecords(${rec.name} ${rec.type})`, (st) => {
        const i = st.records.findIndex((r) => r.name === rec.name && r.type === rec.type);
        if (rec.values.length === 0) {
          if (i >= 0) st.records.splice(i, 1);
        } else if (i >= 0) st.records[i] = rec;
        else st.records.push(rec);
      });
    },

    async replaceZone(records, soa) {
      const recs = records.map((r) => canonicalRecord(r, zone)).filter((r) => r.values.length > 0);
      assertUniqueRRsets(recs);
      await change('replaceZone()', (st) => {
        st.records = recs;
        if (soa) st.soa = { ttl: soa.ttl, minimum: soa.minimum };
      });
    },

    async flush(resolverName, name, type) {
      const r = info.resolvers.find((x) => x.name === resolverName);
      if (!r) throw new Error(`DNS lab: no resolver '${resolverName}' (have ${info.resolvers.map((x) => x.name).join(', ')})`);
      await flushUnbound(dir, zone, r.name, name, type);
    },

    async processes() {
      return readDaemons(dir);
    },

    async stop() {
      const procs = await readDaemons(dir);
      // resolvers first, the authoritative last
      await Promise.all(procs.filter((p) => p.kind === 'unbound').map((p) => terminate(p)));
      await Promise.all(procs.filter((p) => p.kind !== 'unbound').map((p) => terminate(p)));
      untrack(dir);
    },
  };
  return lab;
}

async function flushUnbound(dir: string, zone: string, resolverName: string, name?: string, type?: string): Promise<void> {
  const commands = !name ? [['flush_zone', zone], ['flush_negative']] : type ? [['flush_type', name, type.toUpperCase()]] : [['flush', name]];
  for (const c of commands) {
    const res = await run(bin('unbound-control'), ['-c', files(dir).unboundConf(resolverName), ...c], { timeoutMs: 10_000 });
    if (res.code !== 0 || !res.stdout.startsWith('ok')) {
      throw new Error(`DNS lab: unbound-control ${c.join(' ')} on ${resolverName} failed (${res.code}): ${(res.stdout + res.stderr).trim()}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// unbound resolvers in front of an authoritative server the caller runs (e.g. PowerDNS)

export interface ResolverSpec {
  name: string;
  /** Where it listens, `ip:port`. */
  address: string;
  /** The address it asks the authoritative server from (unbound `outgoing-interface`); default: its own. */
  outgoing?: string;
}

export interface ResolverFarm {
  resolvers: { name: string; address: string }[];
  flush(resolverName: string, name?: string, type?: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The DNS lab's unbound resolvers, configured and started the same way, for a zone served by
 * another authoritative server. Each may ask from its own source address, so answers that depend
 * on who asks (PowerDNS LUA `netmask`, Route 53 latency/geo/CIDR) differ per resolver.
 * Everything outside `zone` goes to `dead` (nothing listens there), as in the DNS lab.
 */
export async function startResolvers(opts: { dir: string; zone: string; authoritative: string; dead: string; resolvers: ResolverSpec[]; serverOptions?: string[] }): Promise<ResolverFarm> {
  const dir = path.resolve(opts.dir);
  const f = files(dir);
  const daemons: LabDaemon[] = [];
  try {
    await Promise.all(
      opts.resolvers.map(async (r) => {
        const { host, port } = splitAddress(r.address);
        const conf = f.unboundConf(r.name);
        await fsp.writeFile(conf, unboundConfig({ dir, name: r.name, ip: host, port, zone: opts.zone, knot: opts.authoritative, dead: opts.dead, outgoing: r.outgoing, serverOptions: opts.serverOptions }));
        const probe = async () => {
          if (!fs.existsSync(f.unboundCtl(r.name))) return false;
          await labQuery(r.address, 'version.server', 'TXT', { klass: 'CH', timeoutMs: 300 });
          return true;
        };
        daemons.push(await startLabDaemon(dir, { name: r.name, kind: 'unbound', conf, log: f.unboundLog(r.name), address: r.address }, bin('unbound'), ['-d', '-c', conf], probe));
      }),
    );
  } catch (e) {
    await Promise.allSettled(daemons.map((d) => d.stop()));
    throw e;
  }
  return {
    resolvers: opts.resolvers.map((r) => ({ name: r.name, address: r.address })),
    flush: (resolverName, name, type) => flushUnbound(dir, opts.zone, resolverName, name, type),
    async stop() {
      await Promise.all(daemons.map((d) => d.stop()));
    },
  };
}

export interface LabDaemon {
  proc: LabProcess;
  stop(): Promise<void>;
}

/**
 * One daemon of a lab the caller builds (PowerDNS, the resolvers above): in our process group,
 * SIGTERMed if this process dies first, resolved once `probe` says it serves.
 */
export async function startLabDaemon(dir: string, p: Omit<LabProcess, 'pid'>, cmd: string, args: string[], probe: () => Promise<boolean>): Promise<LabDaemon> {
  const s = await spawnDaemon(dir, p, cmd, args, false);
  const key = `${dir}#${p.name}`;
  track(key, s.proc);
  const stop = async () => {
    await terminate(s.proc);
    untrack(key);
  };
  try {
    await waitReady(s, probe);
  } catch (e) {
    await stop();
    throw e;
  }
  return { proc: s.proc, stop };
}
