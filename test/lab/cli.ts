/**
 * DNS lab by hand:
 *
 *   npx tsx test/lab/cli.ts start [--dir D] [--prefix 127.53.0] [--port 53] [--resolvers 3] [--zone dialer.test]
 *       starts knot + unbound resolvers, prints the DnsLabInfo JSON, writes D/lab.json, leaves the daemons running
 *   npx tsx test/lab/cli.ts stop --dir D
 *       stops the daemons of that lab (by the pids recorded in D/daemons.json)
 *   npx tsx test/lab/cli.ts status --dir D
 *       prints the daemons and whether they are alive
 *
 * Tests can reuse a lab started this way: DNS_LAB_JSON=D/lab.json npx vitest ...
 * (see global-setup.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { connectDnsLab, ensureLabPackages, startDnsLab, type DnsLabInfo } from './dns-lab.ts';

const USAGE = `usage:
  npx tsx test/lab/cli.ts start [--dir D] [--prefix 127.53.0] [--port 53] [--resolvers 3] [--zone dialer.test]
  npx tsx test/lab/cli.ts stop --dir D
  npx tsx test/lab/cli.ts status --dir D`;

function readInfo(dir: string | undefined): DnsLabInfo {
  if (!dir) throw new Error(`--dir is required\n${USAGE}`);
  const file = path.join(path.resolve(dir), 'lab.json');
  if (!fs.existsSync(file)) throw new Error(`no lab in ${dir} (${file} missing)`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as DnsLabInfo;
}

function alive(pid: number, conf: string): boolean {
  try {
    process.kill(pid, 0);
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(conf);
  } catch {
    return false;
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      dir: { type: 'string' },
      prefix: { type: 'string' },
      port: { type: 'string' },
      resolvers: { type: 'string' },
      zone: { type: 'string' },
    },
    strict: true,
  });
  switch (command) {
    case 'start': {
      await ensureLabPackages();
      const t0 = performance.now();
      const lab = await startDnsLab({
        dir: values.dir,
        prefix: values.prefix,
        port: values.port ? Number(values.port) : undefined,
        resolverCount: values.resolvers ? Number(values.resolvers) : undefined,
        zone: values.zone,
        detach: true, // the daemons outlive this command
      });
      console.log(JSON.stringify(lab.info(), null, 2));
      console.error(`DNS lab started in ${Math.round(performance.now() - t0)} ms; stop it with: npx tsx test/lab/cli.ts stop --dir ${lab.dir}`);
      return 0;
    }
    case 'stop': {
      const lab = connectDnsLab(readInfo(values.dir));
      await lab.stop();
      console.error(`DNS lab in ${lab.dir} stopped`);
      return 0;
    }
    case 'status': {
      const lab = connectDnsLab(readInfo(values.dir));
      const procs = await lab.processes();
      for (const p of procs) console.log(`${p.name.padEnd(6)} ${p.kind.padEnd(8)} pid ${String(p.pid).padEnd(8)} ${p.address.padEnd(16)} ${alive(p.pid, p.conf) ? 'running' : 'stopped'}`);
      return procs.every((p) => alive(p.pid, p.conf)) ? 0 : 1;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
