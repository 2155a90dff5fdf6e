// Hostile config files (issue 12, "Config" rows): each must end in exit 2 within 1 s and 150 MB,
// in `validate`, `audit` and `daemon`. Each input is run by the built CLI (dist/cli.js) in a fresh
// process; wall time from spawn to exit and the process's peak RSS, the worst of the three commands.
// Also the largest config the loader accepts (50,000 values) and a 4 MB file of keys, for scale.
// Run alone with `npx tsx bench/hostile-config.ts`; `npm run bench` runs it too.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const COMMANDS = ['validate', 'audit', 'daemon'] as const;

interface Measured {
  input: string;
  exitCodes: number[];
  seconds: number;
  maxRssMb: number;
}

/** [what, file, commands]: a valid config is only validated (the daemon would run it). */
function inputs(dir: string): [string, string, readonly string[]][] {
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n') + '\n';
  const fifo = path.join(dir, 'config.fifo');
  execFileSync('mkfifo', [fifo]);
  const fifty = file('fifty.yaml', '# ');
  truncateSync(fifty, 50 * 1024 * 1024);
  const keys = (n: number) => Array.from({ length: n }, (_, i) => `key${i}: ${i}`).join('\n') + '\n';
  let fourMb = '';
  for (let i = 0; fourMb.length < 4 * 1024 * 1024 - 40; i++) fourMb += `key${i}: ${i}\n`;
  const dialers = (n: number) => `targets:\n  dialers:\n${Array.from({ length: n }, (_, i) => `    - d${i}.dialer.example.com`).join('\n')}\n`;
  return [
    ['YAML alias bomb (9 levels)', file('bomb.yaml', bomb), COMMANDS],
    ['/dev/zero', '/dev/zero', COMMANDS],
    ['/dev/urandom', '/dev/urandom', COMMANDS],
    ['a 50 MB file', fifty, COMMANDS],
    ['a FIFO', fifo, COMMANDS],
    ['9,862 bad keys', file('bad-keys.yaml', keys(9862)), COMMANDS],
    ['4 MB of keys (over 50,000 values)', file('four-mb.yaml', fourMb), COMMANDS],
    ['largest accepted: 49,997 dialers (validate, exit 0)', file('largest.yaml', dialers(49_997)), ['validate']],
  ];
}

async function once(command: string, config?: string): Promise<{ code: number; seconds: number; maxRssMb: number }> {
  const args = config === undefined ? [command] : [command, '--config', config];
  const script = `
    import { main } from ${JSON.stringify(path.join(root, 'dist/cli.js'))};
    const code = await main(${JSON.stringify(args)}, { stdout: { write: () => true }, stderr: { write: () => true }, env: {} });
    process.stdout.write(JSON.stringify({ code, maxRssKb: process.resourceUsage().maxRSS }));
    process.exit(0);
  `;
  const started = performance.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await new Promise((resolve) => child.on('exit', resolve));
  clearTimeout(killer);
  const seconds = (performance.now() - started) / 1000;
  const r = out ? (JSON.parse(out) as { code: number; maxRssKb: number }) : { code: -1, maxRssKb: 0 };
  return { code: r.code, seconds, maxRssMb: r.maxRssKb / 1024 };
}

export async function benchHostileConfig(): Promise<Measured[]> {
  if (!existsSync(path.join(root, 'dist/cli.js'))) await promisify(execFile)('npm', ['run', 'build'], { cwd: root });
  const dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-bench-config-'));
  try {
    // What any command costs before it reads a config: node, the CLI's modules.
    const baseline = await once('--version');
    const out: Measured[] = [{ input: 'baseline: --version (node and the CLI loading)', exitCodes: [baseline.code], seconds: baseline.seconds, maxRssMb: baseline.maxRssMb }];
    for (const [input, config, commands] of inputs(dir)) {
      const runs = [];
      for (const command of commands) runs.push(await once(command, config));
      out.push({ input, exitCodes: runs.map((r) => r.code), seconds: Math.max(...runs.map((r) => r.seconds)), maxRssMb: Math.max(...runs.map((r) => r.maxRssMb)) });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatHostileConfig(rows: Measured[]): string {
  const lines = [`Hostile configs (validate, audit, daemon in fresh processes, the worst of the three; target exit 2 within 1 s and 150 MB):`];
  for (const r of rows) lines.push(`  ${r.input.padEnd(52)} exit ${[...new Set(r.exitCodes)].join('/')}  ${r.seconds.toFixed(2)} s  ${r.maxRssMb.toFixed(0)} MB`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(formatHostileConfig(await benchHostileConfig()) + '\n');
}
