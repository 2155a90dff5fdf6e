// The command line as a user meets it: exit codes and messages that name the bad key or option.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/entry/cli.ts';
import { capture } from '../support/cli.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-cli-'));
function configFile(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

const valid = `resolvers:\n  - { name: pub1, address: "127.0.0.1:5399" }\ntargets:\n  dialers: [acme.dialer.test]\nchecks:\n  dns-consistency: {}\n`;

describe('dialer-audit CLI', () => {
  const badConfigs: [string, string, string][] = [
    ['resolver address', valid.replace('127.0.0.1:5399', 'resolver.example'), 'resolvers[0].address: expected host[:port]'],
    ['unknown key', valid + 'resolverz: []\n', 'resolverz: unknown key'],
    ['typo in a check', valid.replace('dns-consistency: {}', 'dns-consistency: { recordType: [A] }'), 'checks.dns-consistency.recordType: unknown key'],
    ['duplicate YAML key', valid + 'targets: {}\n', 'targets: duplicate key (line 3 and line 7); map keys must be unique'],
    ['not YAML', 'resolvers: [', 'bad.yaml'],
  ];

  it.each(badConfigs)('audit with a bad config (%s) exits 2 naming the key', async (_name, text, expected) => {
    // Prepare
    const io = capture();
    const file = configFile('bad.yaml', text);
    // Act
    const code = await main(['audit', '--config', file], io);
    // Assess
    expect(code).toBe(2);
    expect(io.err()).toContain(expected);
    expect(io.out()).toBe('');
  });

  it('validate accepts a good config and says what it found', async () => {
    const io = capture();
    const code = await main(['validate', '--config', configFile('good.yaml', valid)], io);
    expect(code).toBe(0);
    expect(io.out()).toContain('valid (1 check: dns-consistency)');
  });

  it('a missing config file exits 2 with the path', async () => {
    const io = capture();
    expect(await main(['audit', '--config', path.join(dir, 'nope.yaml')], io)).toBe(2);
    expect(io.err()).toContain('nope.yaml: cannot read the config file (ENOENT)');
  });

  it('--only with an unknown or disabled check exits 2', async () => {
    const file = configFile('good.yaml', valid);
    const unknown = capture();
    expect(await main(['audit', '--config', file, '--only', 'dns-consistancy'], unknown)).toBe(2);
    expect(unknown.err()).toContain('--only: unknown check "dns-consistancy"');
  });

  it('an unknown option or format exits 2; --help and --version exit 0', async () => {
    const file = configFile('good.yaml', valid);
    expect(await main(['audit', '--config', file, '--format', 'yaml'], capture())).toBe(2);
    expect(await main(['audit', '--config', file, '--frobnicate'], capture())).toBe(2);
    const help = capture();
    expect(await main(['audit', '--help'], help)).toBe(0);
    expect(help.out()).toContain('Examples:');
    const version = capture();
    expect(await main(['--version'], version)).toBe(0);
    expect(version.out()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
