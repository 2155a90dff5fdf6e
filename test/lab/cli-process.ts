/**
 * `dialer-audit <args>` in a process of its own, as users run it (two CLI runs at once, two
 * daemons, a run killed with SIGKILL), with a start barrier: the process loads the CLI, says it is
 * ready, and runs only when told — so two of them start within a millisecond of each other.
 * stderr is collected line by line (JSON log lines parsed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const SCRIPT = `
const { main } = await import('./src/entry/cli.ts');
process.stdout.write('ready\\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.pause();
process.exitCode = await main(process.argv.slice(1));
`;

export interface CliProcess {
  child: ChildProcess;
  /** Resolves once the CLI is loaded and waiting for go(). */
  ready: Promise<void>;
  go(): void;
  exited: Promise<number | null>;
  stdout(): string;
  /** stderr lines; JSON log lines parsed, others as { raw }. */
  logs: Record<string, any>[];
  /** Resolves when a log line satisfies `test`. */
  until(test: (line: Record<string, any>) => boolean): Promise<Record<string, any>>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, TZ: 'UTC', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let readyResolve: () => void;
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.startsWith('ready\n')) readyResolve();
  });
  const logs: Record<string, any>[] = [];
  const waiters: { test: (l: Record<string, any>) => boolean; resolve: (l: Record<string, any>) => void }[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    let parsed: Record<string, any>;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = { raw: line };
    }
    logs.push(parsed);
    for (const w of [...waiters]) if (w.test(parsed)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(parsed);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    ready,
    go: () => child.stdin!.end('go\n'),
    exited,
    stdout: () => out.replace(/^ready\n/, ''),
    logs,
    until: (test) => {
      const hit = logs.find(test);
      return hit ? Promise.resolve(hit) : new Promise((resolve) => waiters.push({ test, resolve }));
    },
  };
}
