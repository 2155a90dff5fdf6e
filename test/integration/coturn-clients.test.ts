// The coturn commands that STUN/TURN first steps tell people to run, run as written against the
// real coturn lab: each must exist with those options and say what the advice says it says.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stunClientCommand, turnClientCommand } from '../../src/stun/reference-clients.ts';
import { startCoturnLab, type CoturnLab } from '../lab/coturn.ts';

let lab: CoturnLab;
beforeAll(async () => {
  lab = await startCoturnLab();
});
afterAll(async () => {
  await lab?.stop();
});

/** Runs a first step's command line (plain words, no shell); a silent server ends it at the timeout. */
function run(command: string, timeoutMs = 8000): Promise<{ code: number | null; output: string }> {
  const [file, ...args] = command.split(' ');
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, output: `${stdout}${stderr}` });
    });
  });
}

describe('coturn clients as the first steps name them', () => {
  it('UDP: turnutils_stunclient gets the reflexive address', async () => {
    const { code, output } = await run(stunClientCommand('udp', lab.longTerm.ip, lab.longTerm.port));
    expect(code).toBe(0);
    expect(output).toMatch(/UDP reflexive addr: 127\.\d+\.\d+\.\d+:\d+/);
  });

  it('TCP and TLS without credentials: "Cannot complete Allocation" means the server answered', async () => {
    const tcp = await run(stunClientCommand('tcp', lab.longTerm.ip, lab.longTerm.port));
    const tls = await run(stunClientCommand('tls', lab.longTerm.ip, lab.longTerm.tlsPort));
    expect(tcp.output).toContain('Cannot complete Allocation');
    expect(tls.output).toContain('Cannot complete Allocation');
  });

  it('TCP where nothing listens: "cannot connect to remote addr"', async () => {
    const { code, output } = await run(stunClientCommand('tcp', `${lab.prefix}.99`, 3478));
    expect(code).not.toBe(0);
    expect(output).toContain('cannot connect to remote addr');
  });

  it.concurrent.each(['udp', 'tcp', 'tls'] as const)('TURN over %s with the user and password: allocated and relayed', async (transport) => {
    // Prepare
    const port = transport === 'tls' ? lab.longTerm.tlsPort : lab.longTerm.port;
    const command = turnClientCommand(transport, lab.longTerm.ip, port).replace('USER', lab.longTerm.user!).replace('PASS', lab.longTerm.password!);
    // Act
    const { code, output } = await run(command);
    // Assess
    expect(code).toBe(0);
    expect(output).toMatch(/tot_recv_msgs=[1-9]/);
  });
});
