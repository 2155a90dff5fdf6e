// The small fleet the scripted dns-consistency tests share: two public resolvers, one
// authoritative server, two dialers (acme → 192.0.2.10, beta → 192.0.2.20, TTL 300).
import { parseConfig } from '../../src/config.ts';
import type { DnsRecord } from '../../src/net/dns.ts';
import { answer, type Script } from './fake-dns.ts';

export const AUTH = '127.0.0.10:53';

export const fleetConfig = (extra: Record<string, unknown> = {}) =>
  parseConfig({
    resolvers: [
      { name: 'google', address: '8.8.8.8' },
      { name: 'cloudflare', address: '1.1.1.1' },
    ],
    authoritative: [{ name: 'ns1', address: AUTH }],
    targets: { dialers: ['acme.dialer.example.com', 'beta.dialer.example.com'] },
    checks: { 'dns-consistency': { recordTypes: ['A'] } },
    ...extra,
  });

export interface FleetOptions {
  /** The TTL resolvers hand out (a cached answer counting down); the zone's is 300. */
  resolverTtl?: number;
  /** The SOA in NXDOMAIN answers (the negative TTL a resolver may cache). */
  negativeSoa?: Partial<DnsRecord>;
}

/** Every name the zone has answers consistently; other names are NXDOMAIN; `override` scripts the exceptions. */
export function fleet(override: Script = () => undefined, opts: FleetOptions = {}): Script {
  const zone: Record<string, string> = { 'acme.dialer.example.com': '192.0.2.10', 'beta.dialer.example.com': '192.0.2.20' };
  return (q) => {
    const own = override(q);
    if (own) return own;
    const value = zone[q.name];
    if (!value) return answer('NXDOMAIN', [], { aa: q.at === AUTH, ...(opts.negativeSoa ? { authorities: [opts.negativeSoa] } : {}) });
    return answer('NOERROR', [{ name: q.name, type: 'A', ttl: q.at === AUTH ? 300 : (opts.resolverTtl ?? 300), value }], { aa: q.at === AUTH });
  };
}
