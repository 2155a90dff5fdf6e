// `init`, `validate` and `--help` as a user meets them: what is written, what exits 2 and why.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/entry/cli.ts';
import { capture } from '../support/cli.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-cli-init-'));
let n = 0;
function configFile(text: string): string {
  const file = path.join(dir, `config-${++n}.yaml`);
  writeFileSync(file, text);
  return file;
}

const valid = `resolvers:
  - { name: pub1, address: "127.0.0.1:5399" }
targets:
  dialers: [acme.dialer.test]
checks:
  dns-consistency: {}
`;

describe('dialer-audit init', () => {
  it('writes a commented starter config that validate accepts as written', async () => {
    // Prepare
    const file = path.join(dir, 'starter.yaml');
    // Act
    const initIo = capture();
    const initCode = await main(['init', '--config', file], initIo);
    const validateIo = capture();
    const validateCode = await main(['validate', '--config', file], validateIo);
    // Assess
    expect(initCode).toBe(0);
    expect(initIo.out()).toContain(`${file}: written`);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^# dialer-audit config/);
    expect(text).toContain('# reporters:');
    expect(validateIo.err()).toBe('');
    expect(validateCode).toBe(0);
    expect(validateIo.out()).toContain('valid (2 checks: dns-consistency, ttl-policy)');
  });

  it('refuses to overwrite an existing file unless --force', async () => {
    // Prepare
    const file = configFile('# my precious config\n');
    // Act
    const refused = capture();
    const refusedCode = await main(['init', '--config', file], refused);
    const kept = readFileSync(file, 'utf8');
    const forcedCode = await main(['init', '--config', file, '--force'], capture());
    // Assess
    expect(refusedCode).toBe(2);
    expect(refused.err()).toContain('already exists; not overwritten (use --force to replace it)');
    expect(kept).toBe('# my precious config\n');
    expect(forcedCode).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(/^# dialer-audit config/);
  });

  it('a folder that does not exist exits 2 with the path', async () => {
    const io = capture();
    const file = path.join(dir, 'no/such/dir/c.yaml');
    expect(await main(['init', '--config', file], io)).toBe(2);
    expect(io.err()).toContain(`${file}: cannot write the config file (ENOENT)`);
    expect(existsSync(file)).toBe(false);
  });
});

describe('dialer-audit validate', () => {
  // Each invalid config exits 2 and names the key path (the deploy-related keys among them).
  const invalid: [string, string, string][] = [
    ['resolver address', valid.replace('"127.0.0.1:5399"', 'dns.google'), 'resolvers[0].address: expected host[:port]'],
    ['unknown top-level key', valid + 'resolverz: []\n', 'resolverz: unknown key'],
    ['unknown check', valid.replace('dns-consistency: {}', 'dns-consistancy: {}'), 'checks.dns-consistancy: unknown check'],
    ['run budget', valid + 'run: { budget: soon }\n', 'run.budget: expected a duration'],
    ['fix mode', valid + 'fix: { mode: yolo }\n', 'fix.mode:'],
    ['inline secret', valid + 'reporters: { slack: { webhookUrl: "https://hooks.slack.com/x" } }\n', 'reporters.slack.webhookUrl: expected env:NAME or ssm:/parameter/name'],
    ['unset env secret', valid + 'reporters: { slack: { webhookUrl: env:DIALER_AUDIT_TEST_NOT_SET } }\n', 'reporters.slack.webhookUrl: environment variable DIALER_AUDIT_TEST_NOT_SET is not set'],
    ['relative ssm path', valid + 'reporters: { slack: { webhookUrl: "ssm:slack" } }\n', 'reporters.slack.webhookUrl: expected env:NAME or ssm:/parameter/name'],
    ['daemon schedule', valid + 'daemon: { schedule: "every 5 minutes" }\n', 'daemon.schedule: expected a cron expression'],
    ['daemon schedule field', valid + 'daemon: { schedule: "61 * * * *" }\n', 'daemon.schedule: expected a cron expression such as "*/5 * * * *" (minute:'],
    ['daemon timezone', valid + 'daemon: { timezone: Mars/Olympus }\n', 'daemon.timezone: expected an IANA time zone'],
    ['daemon grace', valid + 'daemon: { grace: forever }\n', 'daemon.grace: expected a duration'],
    ['healthz port', valid + 'daemon: { healthz: { port: 99999 } }\n', 'daemon.healthz.port:'],
    ['unknown daemon key', valid + 'daemon: { shedule: "* * * * *" }\n', 'daemon.shedule: unknown key'],
    ['state table', valid + 'state: { dynamodb: { tabel: x } }\n', 'state.dynamodb.tabel: unknown key'],
  ];

  it.each(invalid)('%s → exit 2 naming the key', async (_name, text, expected) => {
    // Prepare
    const io = capture();
    // Act
    const code = await main(['validate', '--config', configFile(text)], io);
    // Assess
    expect(code).toBe(2);
    expect(io.err()).toContain(expected);
    expect(io.out()).toBe('');
  });

  it('accepts a seconds field in daemon.schedule (for tests and tight loops)', async () => {
    const io = capture();
    expect(await main(['validate', '--config', configFile(valid + 'daemon: { schedule: "*/10 * * * * *", timezone: Europe/Berlin }\n')], io)).toBe(0);
  });
});

describe('dialer-audit --help', () => {
  it('shows an example for every command, and each command has its own', async () => {
    // Act
    const io = capture();
    const code = await main(['--help'], io);
    // Assess
    expect(code).toBe(0);
    const commands = ['audit', 'validate', 'init', 'daemon', 'merge'];
    for (const command of commands) expect(io.out()).toMatch(new RegExp(`\\n  dialer-audit ${command} `));
    for (const command of commands) {
      const sub = capture();
      expect(await main([command, '--help'], sub)).toBe(0);
      expect(sub.out(), command).toMatch(/Examples?:\n {2}dialer-audit /);
    }
  });

  it('--version prints the package version', async () => {
    const io = capture();
    expect(await main(['--version'], io)).toBe(0);
    expect(io.out().trim()).toBe(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
  });
});
