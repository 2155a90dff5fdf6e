// Lab: real SIPp (Debian sip-tester) as a UAS answering OPTIONS, over UDP (-t u1) or TCP (-t t1).
// On loopback it binds to 127.50.0.0/16 only (other labs use other ranges); inside a network
// namespace this test made, to that namespace's address. Its control socket always listens on
// 127.0.0.1 (-ci; SIPp picks the next free control port itself), its media sockets on the SIP
// address (-mi), so nothing listens on any other interface. Stopped with SIGINT by pid.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCENARIOS = {
  200: fileURLToPath(new URL('./sipp/options-200.xml', import.meta.url)),
  503: fileURLToPath(new URL('./sipp/options-503.xml', import.meta.url)),
} as const;

export interface SippOptions {
  address: string;
  port?: number;
  transport: 'udp' | 'tcp';
  /** Which status the UAS answers every OPTIONS with. */
  answer: keyof typeof SCENARIOS;
  /** Run inside this network namespace (made by the test); the address must be one of its own. */
  netns?: string;
}

export interface SippUas {
  address: string;
  port: number;
  transport: 'udp' | 'tcp';
  pid: number;
  /** SIPp's screen output so far (for a failing test's message). */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// A crashed test run must not leave SIPp behind.
process.once('exit', () => {
  for (const child of running) if (child.pid) try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
});

function assertLabAddress(address: string, netns?: string): void {
  // 127.50/16 for the SIP labs, 127.100/16 for the status page test.
  const loopbackRange = /^127\.(50|100)\.\d{1,3}\.\d{1,3}$/.test(address);
  const namespaceRange = netns !== undefined && /^198\.(18|19)\.\d{1,3}\.\d{1,3}$/.test(address);
  if (!loopbackRange && !namespaceRange) {
    throw new Error(`SIPp lab address ${address} is outside 127.50.0.0/16 and 127.100.0.0/16${netns ? ' and 198.18.0.0/15' : ''}`);
  }
}

function withNetns(netns: string | undefined, command: string, args: string[]): [string, string[]] {
  return netns ? ['ip', ['netns', 'exec', netns, command, ...args]] : [command, args];
}

function listening(o: Required<Pick<SippOptions, 'address' | 'port' | 'transport'>> & { netns?: string }): boolean {
  const [cmd, args] = withNetns(o.netns, 'ss', ['-H', o.transport === 'udp' ? '-lnu' : '-lnt']);
  const out = execFileSync(cmd, args, { encoding: 'utf8' });
  return out.split('\n').some((line) => line.split(/\s+/).includes(`${o.address}:${o.port}`));
}

export async function startSippUas(opts: SippOptions): Promise<SippUas> {
  const port = opts.port ?? 5060;
  assertLabAddress(opts.address, opts.netns);
  // SIPp may write trace files into its working directory: give it a private one.
  const cwd = mkdtempSync(join(tmpdir(), 'dialer-audit-sipp-'));
  const sippArgs = [
    '-sf', SCENARIOS[opts.answer],
    '-i', opts.address,
    '-p', String(port),
    '-mi', opts.address,
    '-t', opts.transport === 'udp' ? 'u1' : 't1',
    '-ci', '127.0.0.1',
    '-nostdin',
  ];
  const [cmd, args] = withNetns(opts.netns, 'sipp', sippArgs);
  // `ip netns exec` execs SIPp in place, so the pid is SIPp's own.
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exited = code;
      running.delete(child);
      rmSync(cwd, { recursive: true, force: true });
      resolve();
    }),
  );

  const stop = async () => {
    if (exited !== undefined) return;
    child.kill('SIGINT');
    const killed = await Promise.race([exit.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
    if (!killed) {
      child.kill('SIGKILL');
      await exit;
    }
  };

  const startedAt = Date.now();
  while (!listening({ address: opts.address, port, transport: opts.transport, netns: opts.netns })) {
    if (exited !== undefined) throw new Error(`SIPp exited (${exited}) before listening on ${opts.transport} ${opts.address}:${port}:\n${output}`);
    if (Date.now() - startedAt > 5000) {
      await stop();
      throw new Error(`SIPp did not listen on ${opts.transport} ${opts.address}:${port} within 5 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { address: opts.address, port, transport: opts.transport, pid: child.pid!, output: () => output, stop };
}
