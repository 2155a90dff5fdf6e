// The three STUN/TURN checks together through runAudit, as the CLI runs them: a healthy lab is silent,
// every transport is measured, no allocation is left behind, and no secret reaches the report.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { runAudit } from '../../src/audit.ts';
import { silentLogger } from '../../src/log.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import { startCoturnLab, type CoturnLab } from '../lab/coturn.ts';

let lab: CoturnLab;
beforeAll(async () => {
  lab = await startCoturnLab();
  process.env.STUN_AUDIT_USER = lab.longTerm.user!;
  process.env.STUN_AUDIT_PASS = lab.longTerm.password!;
  process.env.STUN_AUDIT_SECRET = lab.rest.sharedSecret!;
});
afterAll(async () => {
  await lab?.stop();
});

describe('stun-binding + turn-allocate + ice-policy through runAudit', () => {
  it('a healthy lab: zero findings, RTTs for every transport, allocations released, secrets nowhere', async () => {
    // Prepare: a webphone config that names exactly the lab's servers.
    const webphone = path.join(lab.dir, 'webphone.json');
    fs.writeFileSync(webphone, JSON.stringify({ iceServers: [{ urls: `stun:${lab.longTerm.ip}:3478` }, { urls: `turn:${lab.longTerm.ip}:3478`, username: 'u', credential: 'c' }] }, null, 2));
    const config = parseConfig({
      stun: {
        servers: [
          { uri: `turn:${lab.longTerm.ip}:3478`, transports: ['udp', 'tcp', 'tls'], caFile: lab.caFile, username: 'env:STUN_AUDIT_USER', credential: 'env:STUN_AUDIT_PASS' },
          { uri: `turns:${lab.rest.ip}:5349`, caFile: lab.caFile, sharedSecret: 'env:STUN_AUDIT_SECRET' },
        ],
        allow: [`${lab.prefix}.*`],
      },
      checks: { 'stun-binding': {}, 'turn-allocate': {}, 'ice-policy': { sources: [webphone] } },
    });
    // Act
    const report = await runAudit(config, { dns: dnsClientFromConfig(config), log: silentLogger });
    // Assess
    expect(report.findings).toEqual([]);
    expect(report.summary.failed).toBe(false);
    expect(Object.keys(report.summary.checks).sort()).toEqual(['ice-policy', 'stun-binding', 'turn-allocate']);
    const rtt = (check: string) => report.aggregates.filter((m) => m.check === check && m.metric === 'rtt_seconds').map((m) => `${m.labels.transport}${m.labels.step ? `/${m.labels.step}` : ''}`).sort();
    expect(rtt('stun-binding')).toEqual(['tcp', 'tls', 'tls', 'udp']);
    expect(rtt('turn-allocate')).toEqual(['tcp/allocate', 'tcp/relay', 'tls/allocate', 'tls/allocate', 'tls/relay', 'tls/relay', 'udp/allocate', 'udp/relay']);
    expect(await lab.waitForNoAllocations(lab.longTerm)).toEqual([]);
    expect(await lab.waitForNoAllocations(lab.rest)).toEqual([]);
    const text = JSON.stringify(report);
    for (const secret of [lab.longTerm.password!, lab.rest.sharedSecret!]) expect(text).not.toContain(secret);
  });
});
