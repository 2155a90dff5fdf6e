// Hostile and unlucky config files (issue 12, "Config" rows): each is exit 2 with a line that
// names the file or the key, in validate, audit and daemon alike — never a hang, a stack trace or
// gigabytes of memory. (How fast and how small: `npm run bench` measures these inputs.)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.ts';
import { MAX_CONFIG_VALUES, parseConfigText } from '../../src/config-load.ts';
import { runCli } from '../support/cli.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-config-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

function problemsOf(text: string): string[] {
  try {
    parseConfigText(text, 'c.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

/** Nine levels of nine aliases each: 387 million strings if expanded. */
const aliasBomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n') + '\n';

const fifo = path.join(dir, 'config.fifo');
execFileSync('mkfifo', [fifo]);
const fiftyMegabytes = path.join(dir, 'fifty.yaml');
writeFileSync(fiftyMegabytes, '# ');
truncateSync(fiftyMegabytes, 50 * 1024 * 1024);

const hostile: [string, string, RegExp][] = [
  ['a YAML alias bomb (9 levels)', file('bomb.yaml', aliasBomb), /bomb\.yaml: YAML aliases expand too far/],
  ['/dev/zero', '/dev/zero', /\/dev\/zero: a character device, not a regular file/],
  ['/dev/urandom', '/dev/urandom', /\/dev\/urandom: a character device, not a regular file/],
  ['a 50 MB file', fiftyMegabytes, /fifty\.yaml: 50 MB, over the limit of 4 MB/],
  ['a FIFO', fifo, /config\.fifo: a FIFO \(named pipe\), not a regular file/],
  ['a directory', dir, /a directory, not a regular file/],
];

describe.each(['validate', 'audit', 'daemon'])('dialer-audit %s --config <hostile input>', (command) => {
  it.each(hostile)('%s: exit 2 with one line naming the file', async (_name, config, expected) => {
    // Act
    const { code, out, err } = await runCli([command, '--config', config]);
    // Assess
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(expected);
    expect(err).not.toMatch(/internal error|\n\s+at /);
    expect(err.length).toBeLessThan(400);
  });
});

describe('config problems', () => {
  it('several bad keys across sections are reported in one pass, sorted by key path', () => {
    // Prepare: problems zod used to find in rounds (cross-key rules ran only once the rest was valid).
    const text = `
resolvers:
  - { name: a, address: "not an address" }
  - { name: a, address: "1.2.3.4" }
targets:
  dialers: ["bad name!"]
carriers:
  - { name: c1, uri: "sip:x.example.com", transports: [udp, udp, sctp], warnAfter: 5s, criticalAfter: 1s }
destinations:
  - { prefix: "+1", carriers: [nope] }
dns: { timeout: forever, retries: 9 }
stun:
  servers: [{ uri: "stun:stun.example.net", username: "env:X", port: 1 }]
checks:
  dns-consistency: { recordTypes: [Q] }
  nonsense: {}
unknownTop: 1
`;
    // Act
    const problems = problemsOf(text);
    // Assess
    expect(problems).toEqual([
      'carriers[0].criticalAfter: criticalAfter must not be shorter than warnAfter',
      'carriers[0].transports: each transport once',
      'carriers[0].transports[2]: Invalid option: expected one of "udp"|"tcp"|"tls"',
      'checks.dns-consistency.recordTypes[0]: Invalid option: expected one of "A"|"AAAA"|"CNAME"|"MX"|"TXT"|"SRV"|"NS"',
      expect.stringMatching(/^checks\.nonsense: unknown check/),
      'destinations[0].carriers[0]: unknown carrier "nope"',
      'dns.retries: Too big: expected number to be <=5',
      expect.stringMatching(/^dns\.timeout: expected a duration/),
      expect.stringMatching(/^resolvers\[0\]\.address: expected host\[:port\]/),
      'resolvers[1].name: duplicate resolver name "a"',
      'stun.servers[0].credential: username and credential go together',
      'stun.servers[0].port: unknown key',
      'stun.servers[0].uri: credentials are for turn:/turns: servers; a STUN Binding needs none',
      'stun.servers[0].username: environment variable X is not set',
      'targets.dialers[0]: expected a DNS name such as acme.dialer.example.com',
      'unknownTop: unknown key',
    ]);
  });

  it('list items sort by index as numbers: [2] before [10]', () => {
    const dialers = Array.from({ length: 12 }, (_, i) => `bad name ${i}`);
    const problems = problemsOf(`targets: { dialers: ${JSON.stringify(dialers)} }\n`);
    expect(problems.map((p) => p.split(':')[0])).toEqual(dialers.map((_, i) => `targets.dialers[${i}]`));
  });

  it('thousands of bad keys: every one is in the error, the first 50 are printed, then "…and N more"', async () => {
    // Prepare
    const text = Array.from({ length: 9862 }, (_, i) => `key${String(i).padStart(5, '0')}: ${i}`).join('\n') + '\n';
    const config = file('many.yaml', text);
    // Act
    const problems = problemsOf(text);
    const { code, err } = await runCli(['validate', '--config', config]);
    // Assess
    expect(problems).toHaveLength(9862);
    expect(code).toBe(2);
    const lines = err.trimEnd().split('\n');
    expect(lines).toHaveLength(1 + 50 + 1);
    expect(lines[1]).toBe('  key00000: unknown key');
    expect(lines.at(-1)).toBe('  …and 9,812 more');
  });

  it('a duplicate key is named with its path and both lines, however large the map', () => {
    // Prepare: yaml's own check compares every key with every other (minutes at this size).
    const keys = Array.from({ length: 20_000 }, (_, i) => `    d${i}.dialer.test: 1`);
    const text = `run:\n  vantage: a\ntargets:\n  dialers: []\nchecks:\n  dns-consistency:\n    recordTypes: [A]\n    recordTypes: [AAAA]\nextra:\n${keys.join('\n')}\n`;
    // Act
    const problems = problemsOf(text);
    // Assess
    expect(problems).toEqual(['c.yaml: checks.dns-consistency.recordTypes: duplicate key (line 7 and line 8); map keys must be unique']);
  });

  it.each([
    ['a terminal escape', 'run:\n  vantage: "a\x1b]0;owned\x07"\n', 'c.yaml: line 2: a control character (\\x1b); a config is YAML text'],
    ['a NUL byte', 'run: {}\n\0', 'c.yaml: line 2: a control character (\\x00); a config is YAML text'],
    ['an alias before its anchor', 'run: { vantage: *a }\nx: &a eu\n', 'c.yaml: Unresolved alias (the anchor must be set before the alias): a'],
    ['nesting 100 deep', `run: ${'['.repeat(100)}${']'.repeat(100)}\n`, expect.stringMatching(/^c\.yaml: run(\[0\])+: nested deeper than 64 levels$/)],
    [`more than ${MAX_CONFIG_VALUES} values`, `targets:\n  dialers: [${Array(MAX_CONFIG_VALUES).fill('a.b').join(',')}]\n`, 'c.yaml: more than 50,000 keys and values; list a fleet this large through targets.zones (Route 53)'],
  ])('%s is refused before validation', (_name, text, expected) => {
    expect(problemsOf(text)).toEqual([expected]);
  });

  it('nesting 100,000 deep is a problem with the source name, not a stack overflow', () => {
    const problems = problemsOf(`x: ${'['.repeat(100_000)}`);
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) expect(p).toMatch(/^c\.yaml: /);
  });

  it('a file that is not UTF-8 text is refused with its name', async () => {
    const config = path.join(dir, 'latin1.yaml');
    writeFileSync(config, Buffer.from([0x72, 0x75, 0x6e, 0x3a, 0x20, 0xe9, 0x0a]));
    const { code, err } = await runCli(['validate', '--config', config]);
    expect(code).toBe(2);
    expect(err).toContain('latin1.yaml: not a text file (it is not UTF-8)');
  });
});
