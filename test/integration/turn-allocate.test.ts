// turn-allocate against real coturn (long-term credentials and TURN REST secret, UDP/TCP/TLS), a dead
// address, and a hostile mini TURN server that answers the first signed request with 438 Stale Nonce.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { runAudit } from '../../src/audit.ts';
import { silentLogger } from '../../src/log.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import { startCoturnLab, type CoturnLab } from '../lab/coturn.ts';
import { HOSTILE_TURN, startHostileStun, type HostileStun } from '../lab/hostile-stun.ts';

let lab: CoturnLab;
let hostile: HostileStun;

beforeAll(async () => {
  [lab, hostile] = await Promise.all([startCoturnLab(), startHostileStun()]);
  process.env.TURN_IT_USER = lab.longTerm.user!;
  process.env.TURN_IT_PASS = lab.longTerm.password!;
  process.env.TURN_IT_WRONG_PASS = 'not-the-password-4711';
  process.env.TURN_IT_SECRET = lab.rest.sharedSecret!;
  process.env.TURN_IT_WRONG_SECRET = 'not-the-secret-0815';
  process.env.TURN_IT_HOSTILE_USER = HOSTILE_TURN.user;
  process.env.TURN_IT_HOSTILE_PASS = HOSTILE_TURN.password;
});
afterAll(async () => {
  await Promise.all([lab?.stop(), hostile?.stop()]);
});

async function audit(servers: unknown[], params: Record<string, unknown> = {}) {
  const config = parseConfig({ stun: { servers }, checks: { 'turn-allocate': params } });
  return runAudit(config, { dns: dnsClientFromConfig(config), log: silentLogger });
}

const codes = (report: Awaited<ReturnType<typeof audit>>) => report.findings.map((f) => `${f.code} ${f.target}`).sort();

describe('turn-allocate against coturn', () => {
  it('long-term credentials over UDP, TCP and TLS: allocated, relayed back to us, released — coturn shows none left', async () => {
    // Prepare
    const server = { uri: `turn:${lab.longTerm.ip}:3478`, transports: ['udp', 'tcp', 'tls'], caFile: lab.caFile, username: 'env:TURN_IT_USER', credential: 'env:TURN_IT_PASS' };
    const before = (await lab.allocations(lab.longTerm)).length;
    // Act
    const report = await audit([server]);
    // Assess
    expect(report.findings).toEqual([]);
    const relay = report.aggregates.filter((m) => m.metric === 'rtt_seconds' && m.labels.step === 'relay');
    expect(relay.map((m) => m.labels.transport).sort()).toEqual(['tcp', 'tls', 'udp']);
    expect(report.aggregates.filter((m) => m.metric === 'up').map((m) => `${m.sum}/${m.count}`)).toEqual(['1/1', '1/1', '1/1']);
    const left = await lab.waitForNoAllocations(lab.longTerm);
    expect(left).toEqual([]);
    const ours = (await lab.allocations(lab.longTerm)).slice(before);
    expect(ours).toHaveLength(3);
    expect(ours.every((a) => a.refreshedToZero && a.deleted && a.username === lab.longTerm.user)).toBe(true);
    const allocate = report.aggregates.filter((m) => m.metric === 'rtt_seconds' && m.labels.step === 'allocate');
    console.info(`TURN allocate RTT: ${allocate.map((m) => `${m.labels.transport} ${(m.max * 1000).toFixed(2)} ms`).join(', ')}; relay round trip: ${relay.map((m) => `${m.labels.transport} ${(m.max * 1000).toFixed(2)} ms`).join(', ')}`);
  });

  it('a wrong password is TURN_AUTH_FAILED, and the password appears nowhere in the report', async () => {
    // Prepare
    const server = { uri: `turn:${lab.longTerm.ip}:3478`, username: 'env:TURN_IT_USER', credential: 'env:TURN_IT_WRONG_PASS' };
    // Act
    const report = await audit([server]);
    // Assess
    expect(codes(report)).toEqual([`TURN_AUTH_FAILED turn:${lab.longTerm.ip}:3478`]);
    const f = report.findings[0];
    expect(f.message).toBe(`turn:${lab.longTerm.ip}:3478: the server rejected the credentials: 401 Unauthorized (realm "${lab.longTerm.realm}")`);
    expect(f.firstStep).toBe(`Check the user and password of stun.servers[0] against the server (realm "${lab.longTerm.realm}"), e.g. coturn \`turnadmin -l\`; rotate them in the webphone config too if they changed.`);
    const text = JSON.stringify(report);
    expect(text).not.toContain(process.env.TURN_IT_WRONG_PASS);
    expect(text).not.toContain(lab.longTerm.user);
    expect((await lab.allocations(lab.longTerm)).filter((a) => !a.deleted)).toEqual([]);
  });

  it('TURN REST credentials from the shared secret allocate over UDP and TLS; a wrong secret is TURN_AUTH_FAILED', async () => {
    // Prepare
    const good = { uri: `turn:${lab.rest.ip}:3478`, transports: ['udp', 'tls'], caFile: lab.caFile, sharedSecret: 'env:TURN_IT_SECRET', restUser: 'audit-it' };
    const bad = { uri: `turn:${lab.rest.ip}:3478?transport=tcp`, sharedSecret: 'env:TURN_IT_WRONG_SECRET' };
    // Act
    const report = await audit([good, bad]);
    // Assess
    expect(codes(report)).toEqual([`TURN_AUTH_FAILED turn:${lab.rest.ip}:3478?transport=tcp`]);
    expect(report.findings[0].firstStep).toMatch(/sharedSecret equals the server's static-auth-secret/);
    expect(JSON.stringify(report)).not.toContain('not-the-secret-0815');
    expect(await lab.waitForNoAllocations(lab.rest)).toEqual([]);
    const rest = await lab.allocations(lab.rest);
    expect(rest.map((a) => a.username.replace(/^\d+:/, 'EXPIRY:'))).toEqual(['EXPIRY:audit-it', 'EXPIRY:audit-it']);
    expect(rest.every((a) => a.refreshedToZero)).toBe(true);
  });

  it('no credentials configured: TURN_AUTH_FAILED saying so', async () => {
    const report = await audit([{ uri: `turn:${lab.longTerm.ip}:3478` }]);
    expect(codes(report)).toEqual([`TURN_AUTH_FAILED turn:${lab.longTerm.ip}:3478`]);
    expect(report.findings[0].message).toContain('the server asks for credentials and none are configured');
    expect(report.findings[0].firstStep).toBe('Add username + credential (env: secrets) or sharedSecret to stun.servers[0] in the config.');
  });

  it('nothing listening: TURN_TIMEOUT within the budget', async () => {
    const dead = `${lab.prefix}.99`;
    const started = performance.now();
    const report = await audit([{ uri: `turn:${dead}:3478`, username: 'env:TURN_IT_USER', credential: 'env:TURN_IT_PASS' }], { timeout: '800ms' });
    expect(codes(report)).toEqual([`TURN_TIMEOUT turn:${dead}:3478`]);
    expect(report.findings[0].message).toMatch(/did not answer the Allocate over UDP: no answer in \d+ ms/);
    expect(performance.now() - started).toBeLessThan(800 + 500);
  });
});

describe('turn-allocate against a hostile TURN server', () => {
  it('438 Stale Nonce: retried with the fresh nonce, allocated, relayed and released', async () => {
    // Prepare
    const server = { uri: `turn:${hostile.host}:${hostile.udp['turn-stale-nonce']}`, username: 'env:TURN_IT_HOSTILE_USER', credential: 'env:TURN_IT_HOSTILE_PASS' };
    const before = { ...hostile.turn };
    // Act
    const report = await audit([server]);
    // Assess
    expect(report.findings).toEqual([]);
    expect(hostile.turn.staleNoncesSent - before.staleNoncesSent).toBe(1);
    expect(hostile.turn.allocations - before.allocations).toBe(1);
    expect(hostile.turn.dataEchoed - before.dataEchoed).toBeGreaterThanOrEqual(1);
    expect(hostile.turn.released - before.released).toBe(1);
  });

  it('a STUN-only server that answers Allocate with garbage is TURN_ALLOCATE_FAILED, not a crash', async () => {
    const report = await audit([{ uri: `turn:${hostile.host}:${hostile.tcp['no-xor-mapped']}?transport=tcp`, username: 'env:TURN_IT_USER', credential: 'env:TURN_IT_PASS' }]);
    expect(codes(report)).toEqual([`TURN_ALLOCATE_FAILED turn:${hostile.host}:${hostile.tcp['no-xor-mapped']}?transport=tcp`]);
    expect(report.findings[0].message).toMatch(/a Binding success response came back for our Allocate request/);
  });
});
