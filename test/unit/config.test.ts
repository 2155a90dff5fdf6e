import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, Secret } from '../../src/config.ts';
import { parseConfigText } from '../../src/config-load.ts';
import { parseDuration } from '../../src/units.ts';
import { parseServerAddress } from '../../src/address.ts';

function problemsOf(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const minimal = { resolvers: [{ name: 'pub1', address: '127.0.0.1' }], targets: { dialers: ['acme.dialer.test'] }, checks: { 'dns-consistency': {} } };

describe('config', () => {
  it('accepts the contract keys and fills defaults', () => {
    // Prepare
    const yaml = `
resolvers:
  - { name: google, address: 8.8.8.8 }
  - { name: local, address: "[::1]:5353" }
authoritative:
  - { address: 127.0.0.10:5300 }
targets:
  dialers: [Acme.Dialer.Example.com., beta.dialer.example.com]
checks:
  dns-consistency: { recordTypes: [A, AAAA] }
`;
    // Act
    const config = parseConfigText(yaml);
    // Assess
    expect(config.resolvers[0].address).toEqual({ host: '8.8.8.8', port: 53, family: 4 });
    expect(config.resolvers[1].address).toEqual({ host: '::1', port: 5353, family: 6 });
    expect(config.authoritative?.[0].address).toEqual({ host: '127.0.0.10', port: 5300, family: 4 });
    expect(config.targets.dialers).toEqual(['acme.dialer.example.com', 'beta.dialer.example.com']);
    expect(config.checks['dns-consistency']).toEqual({ recordTypes: ['A', 'AAAA'] });
    expect(config.run.failOn).toBe('warning');
    expect(config.dns.qps).toBeLessThan(1500);
  });

  it('a checks key that is not a mapping is one problem at checks, never a crash (found by the fuzz suite)', () => {
    // Prepare / Act
    const problems = problemsOf({ ...minimal, resolvers: [], checks: null });
    // Assess
    expect(problems).toEqual([expect.stringMatching(/^checks: /)]);
  });

  it('fills a check’s default params', () => {
    const config = parseConfig({ ...minimal, checks: { 'dns-consistency': null } });
    expect(config.checks['dns-consistency']).toEqual({ recordTypes: ['A', 'AAAA'] });
  });

  // Each invalid config names the exact key path of the problem.
  const invalid: [string, unknown, string][] = [
    ['bad resolver address', { ...minimal, resolvers: [{ name: 'a', address: '1.1.1.1' }, { name: 'b', address: 'dns.google' }] }, 'resolvers[1].address: expected host[:port]'],
    ['port out of range', { ...minimal, resolvers: [{ name: 'a', address: '1.1.1.1:70000' }] }, 'resolvers[0].address: expected host[:port]'],
    ['IPv6 without brackets and a port', { ...minimal, resolvers: [{ name: 'a', address: '::1:53:x' }] }, 'resolvers[0].address: expected host[:port]'],
    ['unknown top-level key', { ...minimal, resolver: [] }, 'resolver: unknown key'],
    ['unknown key in a resolver', { ...minimal, resolvers: [{ name: 'a', address: '1.1.1.1', adress: 'x' }] }, 'resolvers[0].adress: unknown key'],
    ['missing resolver name', { ...minimal, resolvers: [{ address: '1.1.1.1' }] }, 'resolvers[0].name:'],
    ['duplicate resolver names', { ...minimal, resolvers: [{ name: 'a', address: '1.1.1.1' }, { name: 'a', address: '1.0.0.1' }] }, 'resolvers[1].name: duplicate resolver name "a"'],
    ['bad dialer name', { ...minimal, targets: { dialers: ['acme..dialer'] } }, 'targets.dialers[0]: expected a DNS name'],
    ['unknown check', { ...minimal, checks: { 'dns-consistancy': {} } }, 'checks.dns-consistancy: unknown check'],
    ['bad check param', { ...minimal, checks: { 'dns-consistency': { recordTypes: ['A', 'AXFR'] } } }, 'checks.dns-consistency.recordTypes[1]:'],
    ['unknown check param', { ...minimal, checks: { 'dns-consistency': { types: ['A'] } } }, 'checks.dns-consistency.types: unknown key'],
    ['dns-consistency without resolvers', { targets: { dialers: ['a.b'] }, checks: { 'dns-consistency': {} } }, 'resolvers: dns-consistency needs at least one resolver'],
    ['bad duration', { ...minimal, run: { budget: 'soon' } }, 'run.budget: expected a duration'],
    ['bad failOn', { ...minimal, run: { failOn: 'panic' } }, 'run.failOn:'],
    ['secret written inline', { ...minimal, reporters: { slack: { webhookUrl: 'https://hooks.slack.com/x' } } }, 'reporters.slack.webhookUrl: expected env:NAME'],
    ['secret variable missing', { ...minimal, reporters: { slack: { webhookUrl: 'env:DIALER_AUDIT_TEST_UNSET_VAR' } } }, 'reporters.slack.webhookUrl: environment variable DIALER_AUDIT_TEST_UNSET_VAR is not set'],
    ['zone without name or id', { ...minimal, targets: { zones: [{ match: '*.dialer.example.com' }] } }, 'targets.zones[0]: expected zone'],
    ['fix mode', { ...minimal, fix: { mode: 'yolo' } }, 'fix.mode:'],
  ];

  it.each(invalid)('rejects %s with the key path', (_name, raw, expected) => {
    // Act
    const problems = problemsOf(raw);
    // Assess
    expect(problems.some((p) => p.startsWith(expected)), `problems: ${JSON.stringify(problems)}`).toBe(true);
  });

  it('reports YAML syntax errors with the source name', () => {
    expect(() => parseConfigText('resolvers: [\n', 'x.yaml')).toThrow(/x\.yaml/);
  });

  it('keeps secrets out of JSON, strings and inspection', () => {
    // Prepare
    process.env.DIALER_AUDIT_TEST_HOOK = 'https://hooks.example/T000/B000/very-secret';
    // Act
    const config = parseConfig({ ...minimal, reporters: { slack: { webhookUrl: 'env:DIALER_AUDIT_TEST_HOOK' } } });
    const hook = config.reporters?.slack?.webhookUrl as Secret;
    // Assess
    expect(hook.reveal()).toBe('https://hooks.example/T000/B000/very-secret');
    expect(JSON.stringify(config)).not.toContain('very-secret');
    expect(String(hook)).not.toContain('very-secret');
    expect(`${JSON.stringify({ hook })}`).not.toContain('very-secret');
  });
});

describe('server addresses and durations', () => {
  it.each([
    ['8.8.8.8', { host: '8.8.8.8', port: 53, family: 4 }],
    ['127.0.0.1:5353', { host: '127.0.0.1', port: 5353, family: 4 }],
    ['[2001:db8::1]:53', { host: '2001:db8::1', port: 53, family: 6 }],
    ['2001:4860:4860::8888', { host: '2001:4860:4860::8888', port: 53, family: 6 }],
    ['dns.google', undefined],
    ['300.1.1.1', undefined],
  ])('%s', (text, expected) => {
    expect(parseServerAddress(text, 53)).toEqual(expected);
  });

  it.each([['30s', 30_000], ['5m', 300_000], ['4h', 14_400_000], ['1d', 86_400_000], ['250ms', 250], [1500, 1500], ['soon', undefined]])('%s', (text, ms) => {
    expect(parseDuration(text as string)).toBe(ms);
  });
});

describe('every span of time takes the same forms', () => {
  it('TTLs in seconds or as durations: checks.ttl-policy.maxTtl 5m is 300 s, overrides too', () => {
    // Act
    const config = parseConfig({ ...minimal, checks: { 'ttl-policy': { maxTtl: '5m', maxNegativeTtl: 60, overrides: [{ type: 'TXT', maxTtl: '1h' }] } } });
    // Assess
    expect(config.checks['ttl-policy']).toMatchObject({ maxTtl: 300, maxNegativeTtl: 60, overrides: [{ type: 'TXT', maxTtl: 3600 }] });
  });

  it('certificate warnings in days or as durations; timeouts in milliseconds or as durations', () => {
    const config = parseConfig({ ...minimal, checks: { 'sip-options': { certWarnDays: '21d', timeout: '3s', t1: 250 } } });
    expect(config.checks['sip-options']).toMatchObject({ certWarnDays: 21, timeout: 3000, t1: 250 });
  });

  it.each([
    [{ 'ttl-policy': { maxTtl: '250ms' } }, 'checks.ttl-policy.maxTtl: expected whole seconds, got "250ms"'],
    [{ 'ttl-policy': { maxTtl: 'soon' } }, 'checks.ttl-policy.maxTtl: expected a duration such as 30s, 5m, 4h or 1d, or a number of seconds, got "soon"'],
    [{ 'ttl-policy': { maxTtl: '100000d' } }, 'checks.ttl-policy.maxTtl: expected at most 2147483647 seconds'],
    [{ 'sip-options': { timeout: '0s' } }, 'checks.sip-options.timeout: expected a duration longer than zero'],
    [{ 'sip-options': { certWarnDays: '36h' } }, 'checks.sip-options.certWarnDays: expected whole days'],
  ])('%j is exit 2 naming the key', (checks, problem) => {
    expect(problemsOf({ ...minimal, checks }).join('\n')).toContain(problem);
  });
});
