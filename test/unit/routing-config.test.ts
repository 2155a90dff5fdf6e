// The config keys of routing-aware comparison and the fixer's window: resolvers[].egress, fix.window.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';

const base = { targets: { dialers: ['acme.dialer.test'] }, checks: { 'dns-consistency': {} } };

describe('routing and fix-window config', () => {
  it('reads egress networks (IPv4 and IPv6) and a fix window as a duration', () => {
    // Act
    const config = parseConfig({ ...base, resolvers: [{ name: 'office', address: '10.0.0.53', egress: ['198.51.100.0/24', '2001:db8:7::/48'] }], fix: { window: '6h' } });
    // Assess
    expect(config.resolvers[0].egress).toEqual([
      { address: '198.51.100.0', prefixLength: 24 },
      { address: '2001:db8:7::', prefixLength: 48 },
    ]);
    expect(config.fix.window).toBe(6 * 3_600_000);
    expect(parseConfig({ ...base, resolvers: [{ name: 'pub1', address: '127.0.0.1' }] }).fix.window).toBe(86_400_000);
  });

  it('a bad egress network is a config error naming the key', () => {
    const bad = (egress: string[]) => () => parseConfig({ ...base, resolvers: [{ name: 'office', address: '10.0.0.53', egress }] });
    expect(bad(['198.51.100.0/33', '2001:db8::/48'])).toThrow(
      expect.objectContaining({ problems: ['resolvers[0].egress[0]: expected a network such as 198.51.100.0/24 or 2001:db8::/48, got "198.51.100.0/33"'] }),
    );
    expect(bad([])).toThrow(/^resolvers\[0\]\.egress: /);
  });
});
