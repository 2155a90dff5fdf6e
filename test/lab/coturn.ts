/**
 * The STUN/TURN lab: two real coturn (`turnserver`) instances on loopback, in a temp dir this module
 * owns, started and stopped by pid.
 *
 *   longTerm  lt-cred-mech, user=<user>:<password>, realm=stun-lab.test   on 127.34.N.1
 *   rest      use-auth-secret + static-auth-secret (TURN REST API)        on 127.34.N.2
 *
 * Each listens on UDP/TCP 3478 and TLS 5349 with a self-signed certificate made at start (openssl
 * CLI; SAN = .1, .2 and .3) whose PEM is `caFile`. N is picked at random (1–254) so test files
 * running in parallel each get their own pair; only 127.34.0.0/16 is used (other labs use other
 * ranges). Relays are on the same loopback address; coturn denies loopback peers by default, so
 * `allow-loopback-peers` lets the relay round trip (relay → its own relayed address) work.
 *
 * Logs are verbose and kept in the dir: `allocations()` reads them to say which allocations were
 * created, refreshed to LIFETIME 0 and deleted — "coturn shows none left".
 *
 *   const lab = await startCoturnLab();   ...   await lab.stop();
 *   STUN_LAB_KEEP=1 keeps the dir (configs, logs) after stop().
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface CoturnInstance {
  name: 'long-term' | 'rest';
  ip: string;
  port: number;
  tlsPort: number;
  realm: string;
  /** Long-term instance only. */
  user?: string;
  password?: string;
  /** REST instance only. */
  sharedSecret?: string;
  pid: number;
  conf: string;
  log: string;
}

export interface AllocationRecord {
  session: string;
  username: string;
  /** We sent Refresh with LIFETIME 0 and coturn accepted it. */
  refreshedToZero: boolean;
  deleted: boolean;
}

export interface CoturnLab {
  dir: string;
  /** PEM of the self-signed certificate both instances serve (trust it with caFile). */
  caFile: string;
  /** Its private key, for a test HTTPS server that should be trusted with the same caFile. */
  keyFile: string;
  /**
   * The loopback /24 of this lab, e.g. 127.34.17: .1 and .2 are coturn, .3 is in the certificate for a
   * test's own HTTPS server, .99 never listens.
   */
  prefix: string;
  longTerm: CoturnInstance;
  rest: CoturnInstance;
  allocations(instance: CoturnInstance): Promise<AllocationRecord[]>;
  /** Waits (up to timeoutMs) until every allocation in the log is deleted; returns those still alive. */
  waitForNoAllocations(instance: CoturnInstance, timeoutMs?: number): Promise<AllocationRecord[]>;
  stop(): Promise<void>;
}

const REALM = 'stun-lab.test';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, _stdout, stderr) => (err ? reject(new Error(`${cmd} failed: ${stderr || err.message}`)) : resolve()));
  });
}

function findTurnserver(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/sbin', '/usr/local/bin']) {
    const p = path.join(dir, 'turnserver');
    if (dir && fs.existsSync(p)) return p;
  }
  throw new Error('coturn lab: turnserver not found (apt-get install coturn)');
}

/** Is something already listening on ip:port (another lab)? */
function tcpInUse(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(true));
    server.listen(port, ip, () => server.close(() => resolve(false)));
  });
}

function tcpOpen(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(500, () => done(false));
  });
}

const started = new Set<ChildProcess>();
let exitHookInstalled = false;
function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of started) if (child.pid) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
  });
}

function configFor(dir: string, inst: Omit<CoturnInstance, 'pid' | 'conf' | 'log'>, cert: string, key: string): string {
  const auth =
    inst.name === 'long-term'
      ? ['lt-cred-mech', `user=${inst.user}:${inst.password}`]
      : ['use-auth-secret', `static-auth-secret=${inst.sharedSecret}`];
  return [
    `listening-ip=${inst.ip}`,
    `relay-ip=${inst.ip}`,
    `listening-port=${inst.port}`,
    `tls-listening-port=${inst.tlsPort}`,
    'min-port=49152',
    'max-port=49407',
    `realm=${inst.realm}`,
    ...auth,
    `cert=${cert}`,
    `pkey=${key}`,
    // The relay round trip goes to our own relayed address on 127.x: coturn denies loopback peers by default.
    'allow-loopback-peers',
    'no-multicast-peers',
    'no-cli',
    'no-dtls',
    `userdb=${path.join(dir, `${inst.name}.sqlite`)}`,
    `pidfile=${path.join(dir, `${inst.name}.pid`)}`,
    `log-file=${path.join(dir, `${inst.name}.log`)}`,
    'simple-log',
    'verbose',
    'no-stdout-log',
    '',
  ].join('\n');
}

async function startInstance(dir: string, spec: Omit<CoturnInstance, 'pid' | 'conf' | 'log'>, cert: string, key: string): Promise<CoturnInstance> {
  const conf = path.join(dir, `${spec.name}.conf`);
  const log = path.join(dir, `${spec.name}.log`);
  await fsp.writeFile(conf, configFor(dir, spec, cert, key), { mode: 0o600 });
  const child = spawn(findTurnserver(), ['-c', conf], { stdio: 'ignore' });
  started.add(child);
  killAllOnExit();
  let exited = false;
  child.once('exit', () => {
    exited = true;
    started.delete(child);
  });
  const readyBy = Date.now() + 15_000;
  while (Date.now() < readyBy) {
    if (exited) break;
    const text = await fsp.readFile(log, 'utf8').catch(() => '');
    if (text.includes('Total General servers') && (await tcpOpen(spec.ip, spec.port)) && (await tcpOpen(spec.ip, spec.tlsPort))) {
      return { ...spec, pid: child.pid!, conf, log };
    }
    await sleep(100);
  }
  if (child.pid && !exited) process.kill(child.pid, 'SIGKILL');
  const tail = (await fsp.readFile(log, 'utf8').catch(() => '(no log)')).split('\n').slice(-20).join('\n');
  throw new Error(`coturn lab: ${spec.name} on ${spec.ip} did not come up\n${tail}`);
}

async function stopPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const by = Date.now() + 5000;
  while (Date.now() < by) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

export function parseAllocations(logText: string): AllocationRecord[] {
  const bySession = new Map<string, AllocationRecord>();
  for (const line of logText.split('\n')) {
    const created = /session (\d+): new, realm=<[^>]*>, username=<([^>]*)>/.exec(line);
    if (created) bySession.set(created[1], { session: created[1], username: created[2], refreshedToZero: false, deleted: false });
    const refreshed = /session (\d+): refreshed, .*lifetime=0\b/.exec(line);
    if (refreshed && bySession.has(refreshed[1])) bySession.get(refreshed[1])!.refreshedToZero = true;
    const deleted = /session (\d+): delete: realm/.exec(line);
    if (deleted && bySession.has(deleted[1])) bySession.get(deleted[1])!.deleted = true;
  }
  return [...bySession.values()];
}

export async function startCoturnLab(opts: { prefix?: string } = {}): Promise<CoturnLab> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dialer-audit-coturn-'));
  let prefix = opts.prefix;
  for (let tries = 0; !prefix && tries < 20; tries++) {
    const candidate = `127.34.${1 + Math.floor(Math.random() * 254)}`;
    if (!(await tcpInUse(`${candidate}.1`, 3478)) && !(await tcpInUse(`${candidate}.2`, 3478))) prefix = candidate;
  }
  if (!prefix) throw new Error('coturn lab: no free 127.34.N.0/24 found');
  const [ip1, ip2] = [`${prefix}.1`, `${prefix}.2`];
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=dialer-audit STUN lab',
    '-addext', `subjectAltName=IP:${ip1},IP:${ip2},IP:${prefix}.3,DNS:turn.${REALM}`,
  ]);
  const longTerm = await startInstance(dir, { name: 'long-term', ip: ip1, port: 3478, tlsPort: 5349, realm: REALM, user: 'agent7', password: 'lab-password-7' }, cert, key);
  let rest: CoturnInstance;
  try {
    rest = await startInstance(dir, { name: 'rest', ip: ip2, port: 3478, tlsPort: 5349, realm: REALM, sharedSecret: 'lab-shared-secret' }, cert, key);
  } catch (err) {
    await stopPid(longTerm.pid);
    throw err;
  }
  const allocations = async (inst: CoturnInstance) => parseAllocations(await fsp.readFile(inst.log, 'utf8').catch(() => ''));
  return {
    dir,
    caFile: cert,
    keyFile: key,
    prefix,
    longTerm,
    rest,
    allocations,
    async waitForNoAllocations(inst, timeoutMs = 5000) {
      const by = Date.now() + timeoutMs;
      for (;;) {
        const alive = (await allocations(inst)).filter((a) => !a.deleted);
        if (alive.length === 0 || Date.now() > by) return alive;
        await sleep(100);
      }
    },
    async stop() {
      await Promise.all([stopPid(longTerm.pid), stopPid(rest.pid)]);
      if (!process.env.STUN_LAB_KEEP) await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}
