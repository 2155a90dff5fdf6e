// A vantage that can reach no DNS server at all — every packet to port 53 silently dropped by nft,
// or no route to the servers — in a network namespace of the test's own: 300 dialers, one finding,
// over in seconds (it took 241 s and spent the run's budget before the circuit breaker).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/types.ts';
import { createLoneNamespace, type LoneNamespace } from '../lab/netns.ts';

let ns: LoneNamespace;
const TIMEOUT_MS = 1500;

beforeAll(() => {
  ns = createLoneNamespace('dablind');
});
afterAll(() => {
  ns?.destroy();
});

/** 300 dialers, three resolvers and one authoritative server at `hosts`, the default DNS settings. */
function fleetConfig(hosts: string[]): string {
  return JSON.stringify({
    resolvers: hosts.slice(0, 3).map((host, i) => ({ name: `pub${i + 1}`, address: `${host}:53` })),
    authoritative: [{ name: 'ns1', address: `${hosts[3]}:53` }],
    targets: { dialers: Array.from({ length: 300 }, (_, i) => `d${i}.dialer.test`) },
    checks: { 'dns-consistency': {} },
    dns: { timeout: TIMEOUT_MS },
  });
}

async function auditInNamespace(config: string): Promise<{ report: Report; runMs: number }> {
  const report = JSON.parse(await ns.runNode('test/lab/audit-child.ts', [config], 60_000)) as Report;
  return { report, runMs: Date.parse(report.finishedAt) - Date.parse(report.startedAt) };
}

describe('a blind vantage', () => {
  it('DNS dropped silently: 300 dialers finish within two DNS timeouts, with exactly one critical VANTAGE_BLIND', async () => {
    // Prepare: the servers' addresses are on loopback, but nft drops every DNS packet on its way out.
    ns.nft(`table inet dialer_audit_blind {
  chain output {
    type filter hook output priority 0; policy accept;
    udp dport 53 drop
    tcp dport 53 drop
  }
}
`);
    // Act
    const { report, runMs } = await auditInNamespace(fleetConfig(['127.57.250.1', '127.57.250.2', '127.57.250.3', '127.57.250.10']));
    // Assess
    expect(runMs).toBeLessThan(2 * TIMEOUT_MS);
    expect(report.findings).toHaveLength(1);
    const [blind] = report.findings;
    expect(blind).toMatchObject({ code: 'VANTAGE_BLIND', severity: 'critical', evidence: { resolversBlind: true, authoritativeBlind: true } });
    expect(blind.message).toMatch(/can reach none of its 3 resolvers and none of the zone's 1 authoritative server/);
    expect(Object.keys(blind.evidence?.errors as object)).toEqual(['pub1 (127.57.250.1:53)', 'pub2 (127.57.250.2:53)', 'pub3 (127.57.250.3:53)', 'ns1 (127.57.250.10:53)']);
    expect(JSON.stringify(blind.evidence)).toMatch(/attempts in a row got no answer/);
    expect(report.summary).toMatchObject({ critical: 1, warning: 0, failed: true });
  });

  it('no route to the servers: reported as unreachable at once, not as retried timeouts', async () => {
    // Act: 198.51.100.0/24 has no route inside the namespace.
    const { report, runMs } = await auditInNamespace(fleetConfig(['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.10']));
    // Assess
    expect(runMs).toBeLessThan(TIMEOUT_MS);
    expect(report.findings.map((f) => f.code)).toEqual(['VANTAGE_BLIND']);
    expect(JSON.stringify(report.findings[0].evidence)).toMatch(/network unreachable \(ENETUNREACH\): this host has no route to the server/);
    expect(JSON.stringify(report)).not.toMatch(/attempts of 1500 ms/);
  });
});
