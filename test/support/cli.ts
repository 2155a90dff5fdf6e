// The CLI run in-process, the way the tests drive it: what it wrote to stdout and stderr, and its
// exit code.
import { main, type CliIo } from '../../src/entry/cli.ts';

/** An io that keeps what the CLI writes; `env` is all the environment it sees. */
export function capture(env: NodeJS.ProcessEnv = {}): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env, out: () => out, err: () => err };
}

/** One CLI command: its exit code and everything it wrote. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const io = capture(env);
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}
