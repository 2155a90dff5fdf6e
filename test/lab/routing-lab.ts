/**
 * The routing lab: PowerDNS Authoritative (bind backend, `enable-lua-records`,
 * `edns-subnet-processing`) serving a zone of LUA records — weighted (`pickwrandom`),
 * multivalue-like (`pickrandomsample`) and answers by who asks (`netmask`, i.e. `bestwho`: the
 * EDNS Client Subnet when there is one, else the source address) — behind the DNS lab's unbound
 * resolvers (startResolvers), each asking from its own source address (`outgoing-interface`).
 *
 * Addresses: a free 127.58.B.0/24 (B from 100 to 199, picked at random): resolvers listen on .1–.3
 * and ask from .65, .129, .193 (their egress networks are the /26 around those); PowerDNS on .10;
 * .99 is dead (nothing listens: names outside the zone SERVFAIL fast). Port 53 (the lab runs as root).
 */
import dgram from 'node:dgram';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { labQuery, startLabDaemon, startResolvers, type LabDaemon, type ResolverFarm } from './dns-lab.ts';

const run = promisify(execFile);

export interface RoutingLab {
  dir: string;
  zone: string;
  authoritative: { name: string; address: string };
  /** With each resolver's egress network (where it asks PowerDNS from). */
  resolvers: { name: string; address: string; egress: string }[];
  /** The egress networks in resolver order, for zone contents that answer by who asks. */
  nets: [string, string, string];
  /** Replaces the zone below the apex and reloads PowerDNS (zone-file lines, owner names absolute). */
  setRecords(lines: string[]): Promise<void>;
  flush(resolverName: string, name?: string): Promise<void>;
  stop(): Promise<void>;
}

const PORT = 53;
const REQUIRED = ['pdns_server', 'pdns_control'];

function which(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin']) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/** PowerDNS from Debian (pdns-server, pdns-backend-bind), installed when missing and we are root. */
export async function ensurePowerDns(): Promise<void> {
  if (REQUIRED.every(which)) return;
  if (process.getuid?.() !== 0) throw new Error('routing lab: PowerDNS is missing; as root: apt-get install -y pdns-server pdns-backend-bind');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { env, timeout: 600_000 });
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'pdns-server', 'pdns-backend-bind'], { env, timeout: 600_000 });
}

/** A 127.58.B prefix whose listening addresses are free right now. */
async function freePrefix(): Promise<string> {
  const tried = new Set<number>();
  while (tried.size < 100) {
    const b = 100 + Math.floor(Math.random() * 100);
    if (tried.has(b)) continue;
    tried.add(b);
    const prefix = `127.58.${b}`;
    const sockets: dgram.Socket[] = [];
    try {
      for (const host of [1, 2, 3, 10, 99]) {
        const s = dgram.createSocket('udp4');
        sockets.push(s);
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind(PORT, `${prefix}.${host}`, () => resolve());
        });
      }
      return prefix;
    } catch {
      continue;
    } finally {
      await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    }
  }
  throw new Error('routing lab: no free 127.58.B prefix (B 100–199)');
}

function zoneFile(zone: string, nsAddress: string, serial: number, lines: string[]): string {
  return [
    `$ORIGIN ${zone}.`,
    `@ 900 IN SOA ns1.${zone}. hostmaster.${zone}. ${serial} 7200 900 1209600 86400`,
    `@ 172800 IN NS ns1.${zone}.`,
    `ns1.${zone}. 172800 IN A ${nsAddress}`,
    ...lines,
    '',
  ].join('\n');
}

export async function startRoutingLab(opts: { zone: string; records: (nets: [string, string, string]) => string[] }): Promise<RoutingLab> {
  await ensurePowerDns();
  const zone = opts.zone;
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'routing-lab-'));
  const prefix = await freePrefix();
  const pdnsAddress = `${prefix}.10`;
  const resolvers = [1, 2, 3].map((i) => ({ name: `pub${i}`, address: `${prefix}.${i}:${PORT}`, outgoing: `${prefix}.${i * 64 + 1}`, egress: `${prefix}.${i * 64}/26` }));
  const nets = resolvers.map((r) => r.egress) as [string, string, string];
  const zonePath = path.join(dir, `${zone}.zone`);
  let serial = 1;
  await fsp.writeFile(zonePath, zoneFile(zone, pdnsAddress, serial, opts.records(nets)));
  await fsp.writeFile(path.join(dir, 'named.conf'), `zone "${zone}" { type master; file "${zonePath}"; };\n`);
  const conf = path.join(dir, 'pdns.conf');
  await fsp.writeFile(
    conf,
    [
      'launch=bind',
      `bind-config=${path.join(dir, 'named.conf')}`,
      `local-address=${pdnsAddress}`,
      `local-port=${PORT}`,
      'enable-lua-records=yes',
      // The answers of netmask()/bestwho follow the client subnet a question carries.
      'edns-subnet-processing=yes',
      `socket-dir=${dir}`,
      'daemon=no',
      'guardian=no',
      'disable-syslog=yes',
      'loglevel=4',
      // Offline and fresh: no security polling, no caches between a reload and the next answer.
      'security-poll-suffix=',
      'cache-ttl=0',
      'query-cache-ttl=0',
      'negquery-cache-ttl=0',
      'distributor-threads=3',
      'receiver-threads=1',
      '',
    ].join('\n'),
  );

  const daemons: LabDaemon[] = [];
  let farm: ResolverFarm | undefined;
  try {
    const soaServed = async () => (await labQuery(`${pdnsAddress}:${PORT}`, zone, 'SOA', { recursionDesired: false, timeoutMs: 300 })).rcode === 'NOERROR';
    // `conf` is what stop() looks for in the process's command line: pdns_server is given the directory.
    const pdns = { name: 'pdns', kind: 'pdns' as const, conf: `--config-dir=${dir}`, log: path.join(dir, 'pdns.log'), address: `${pdnsAddress}:${PORT}` };
    daemons.push(await startLabDaemon(dir, pdns, which('pdns_server')!, [`--config-dir=${dir}`], soaServed));
    // LUA records cost PowerDNS milliseconds of CPU each; on a busy machine an answer can take a
    // second, which the DNS lab's fast-fail settings would turn into SERVFAIL.
    const patient = ['infra-cache-max-rtt: 5000', 'max-sent-count: 16', 'outbound-msg-retry: 5'];
    farm = await startResolvers({ dir, zone, authoritative: `${pdnsAddress}:${PORT}`, dead: `${prefix}.99:${PORT}`, resolvers, serverOptions: patient });
  } catch (e) {
    await Promise.allSettled(daemons.map((d) => d.stop()));
    throw e;
  }
  const resolverFarm = farm;

  return {
    dir,
    zone,
    authoritative: { name: 'pdns', address: `${pdnsAddress}:${PORT}` },
    resolvers: resolvers.map(({ name, address, egress }) => ({ name, address, egress })),
    nets,
    async setRecords(lines) {
      serial += 1;
      await fsp.writeFile(zonePath, zoneFile(zone, pdnsAddress, serial, lines));
      await run(which('pdns_control')!, [`--socket-dir=${dir}`, 'bind-reload-now', zone], { timeout: 10_000 });
    },
    flush: (resolverName, name) => resolverFarm.flush(resolverName, name),
    async stop() {
      await resolverFarm.stop();
      await Promise.all(daemons.map((d) => d.stop()));
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}
