// sip-options against real SIP servers on loopback (127.50.1.0/24): SIPp answering OPTIONS over
// UDP and TCP, SIPp answering 503, nothing listening, garbage, a TLS UAS with a self-signed
// certificate, and the route verdicts — all through runAudit, as the CLI runs it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import { formatScorecardText } from '../../src/report/scorecard.ts';
import { startSippUas, type SippUas } from '../lab/sipp.ts';
import { selfSignedCertificate, startGarbageServer, startNodeUas, type LabServer } from '../lab/sip-servers.ts';

const HEALTHY = '127.50.1.1';
const OVERLOADED = '127.50.1.2';
const NOTHING = '127.50.1.9';
const GARBAGE = '127.50.1.3';
const TLS_UAS = '127.50.1.4';
const SLOW_UAS = '127.50.1.5';
const TRYING_UAS = '127.50.1.6';

async function audit(raw: Record<string, unknown>) {
  // Prepare the way the CLI does: a validated config and the real clients.
  const config = parseConfig(raw);
  return runAudit(config, { dns: dnsClientFromConfig(config), log: silentLogger });
}

const sipp: SippUas[] = [];
const servers: LabServer[] = [];

beforeAll(async () => {
  sipp.push(
    ...(await Promise.all([
      startSippUas({ address: HEALTHY, transport: 'udp', answer: 200 }),
      startSippUas({ address: HEALTHY, transport: 'tcp', answer: 200 }),
      startSippUas({ address: OVERLOADED, transport: 'udp', answer: 503 }),
      startSippUas({ address: OVERLOADED, transport: 'tcp', answer: 503 }),
    ])),
  );
  const fresh = selfSignedCertificate('sip.lab.test', TLS_UAS, 365);
  const expiring = selfSignedCertificate('sip.lab.test', TLS_UAS, 5);
  servers.push(
    ...(await Promise.all([
      startGarbageServer({ address: GARBAGE, port: 5060, transport: 'udp', reply: 'binary' }),
      startGarbageServer({ address: GARBAGE, port: 5060, transport: 'tcp', reply: 'http' }),
      startGarbageServer({ address: GARBAGE, port: 5062, transport: 'udp', reply: 'brokenSip' }),
      startNodeUas({ address: TLS_UAS, port: 5061, transport: 'tls', certificate: fresh }),
      startNodeUas({ address: TLS_UAS, port: 5063, transport: 'tls', certificate: expiring }),
      startNodeUas({ address: SLOW_UAS, port: 5060, transport: 'tcp', delayMs: 300 }),
      startNodeUas({ address: TRYING_UAS, port: 5060, transport: 'udp', delayMs: 2000, provisional: true }),
    ])),
  );
});

afterAll(async () => {
  await Promise.all([...sipp.map((s) => s.stop()), ...servers.map((s) => s.stop())]);
});

describe('sip-options against SIPp', () => {
  it('SIPp answering OPTIONS over UDP and TCP → zero findings, every size answered, a full scorecard', async () => {
    // Act
    const report = await audit({
      carriers: [{ name: 'sipp-lab', uri: `${HEALTHY}:5060`, transports: ['udp', 'tcp'] }],
      checks: { 'sip-options': { fragmentation: true, timeout: '3s' } },
    });
    // Assess
    expect(report.findings).toEqual([]);
    const up = report.aggregates.filter((m) => m.metric === 'up');
    expect(up.map((m) => `${m.labels.transport} ${m.labels.size} ${m.sum}/${m.count}`).sort()).toEqual(
      ['tcp 3000 1/1', 'tcp 500 1/1', 'udp 1300 1/1', 'udp 1472 1/1', 'udp 1600 1/1', 'udp 1800 1/1', 'udp 3000 1/1', 'udp 500 1/1'].sort(),
    );
    expect(report.aggregates.filter((m) => m.metric === 'rtt_seconds').reduce((n, m) => n + m.count, 0)).toBe(8);
    const scorecard = formatScorecardText(report.aggregates);
    expect(scorecard).toMatch(/sipp-lab\s+8\/8 \(100\.0%\)/);
    console.info(`[sip] SIPp on loopback:\n${scorecard}`);
  });

  it('SIPp answering 503 → SIP_ERROR_RESPONSE naming 503 Service Unavailable and the Retry-After', async () => {
    // Act
    const report = await audit({
      carriers: [{ name: 'overloaded', uri: `${OVERLOADED}:5060`, transports: ['udp', 'tcp'] }],
      checks: { 'sip-options': { fragmentation: false, timeout: '3s' } },
    });
    // Assess
    expect(report.findings.map((f) => `${f.target} ${f.code} ${f.severity}`).sort()).toEqual([
      'overloaded/tcp SIP_ERROR_RESPONSE critical',
      'overloaded/udp SIP_ERROR_RESPONSE critical',
    ]);
    const udp = report.findings.find((f) => f.target === 'overloaded/udp')!;
    expect(udp.message).toContain('503 Service Unavailable');
    expect(udp.message).toContain('Retry-After 30');
    expect(udp.firstStep).toContain('fail its destinations over to another carrier');
    expect(udp.evidence).toMatchObject({ status: 503, server: 'sipp-lab-503', retryAfter: '30', address: `${OVERLOADED}:5060` });
  });

  it('nothing listening → SIP_TIMEOUT over UDP within the budget after RFC 3261 retransmissions; TCP is refused', async () => {
    // Prepare
    const budgetMs = 2000;
    const started = Date.now();
    // Act
    const report = await audit({
      carriers: [{ name: 'nobody', uri: `${NOTHING}:5060`, transports: ['udp', 'tcp'] }],
      checks: { 'sip-options': { fragmentation: false, timeout: budgetMs } },
    });
    const elapsed = Date.now() - started;
    // Assess
    const udp = report.findings.find((f) => f.target === 'nobody/udp')!;
    expect(udp).toMatchObject({ code: 'SIP_TIMEOUT', severity: 'critical' });
    // Sent at 0, 500 and 1500 ms: three transmissions fit a 2 s budget.
    expect(udp.evidence).toMatchObject({ outcome: 'timeout', transmissions: 3 });
    expect(report.findings.find((f) => f.target === 'nobody/tcp')).toMatchObject({ code: 'SIP_TRANSPORT_UNAVAILABLE' });
    expect(elapsed).toBeLessThan(budgetMs + 1500);
    console.info(`[sip] nothing listening: SIP_TIMEOUT after ${elapsed} ms (budget ${budgetMs} ms)`);
  });

  it('garbage replies over UDP and TCP → SIP_MALFORMED_RESPONSE findings, no crash', async () => {
    // Act
    const report = await audit({
      carriers: [
        { name: 'garbage', uri: `${GARBAGE}:5060`, transports: ['udp', 'tcp'] },
        { name: 'half-sip', uri: `${GARBAGE}:5062`, transports: ['udp'] },
      ],
      checks: { 'sip-options': { fragmentation: false, timeout: '1s' } },
    });
    // Assess
    expect(report.findings.filter((f) => f.code === 'CHECK_ERROR')).toEqual([]);
    expect(report.findings.map((f) => `${f.target} ${f.code}`).sort()).toEqual([
      'garbage/tcp SIP_MALFORMED_RESPONSE',
      'garbage/udp SIP_MALFORMED_RESPONSE',
      'half-sip/udp SIP_MALFORMED_RESPONSE',
    ]);
    const tcp = report.findings.find((f) => f.target === 'garbage/tcp')!;
    expect(tcp.evidence?.sample).toContain('HTTP/1.1 400 Bad Request');
    expect(tcp.firstStep).toContain('tcpdump');
  });
});

describe('sip-options over TLS', () => {
  it('a self-signed certificate accepted by insecureTls → no finding, plain and padded', async () => {
    // Act
    const report = await audit({
      carriers: [{ name: 'tls-lab', uri: `sips:${TLS_UAS}:5061`, transports: ['tls'], insecureTls: true }],
      checks: { 'sip-options': { fragmentation: true, timeout: '3s' } },
    });
    // Assess
    expect(report.findings).toEqual([]);
    expect(report.aggregates.filter((m) => m.metric === 'up').reduce((n, m) => n + m.sum, 0)).toBe(2);
  });

  it('a self-signed certificate without insecureTls → SIP_TRANSPORT_UNAVAILABLE with the certificate error', async () => {
    const report = await audit({
      carriers: [{ name: 'tls-strict', uri: `sips:${TLS_UAS}:5061`, transports: ['tls'] }],
      checks: { 'sip-options': { fragmentation: false, timeout: '3s' } },
    });
    expect(report.findings).toHaveLength(1);
    const [f] = report.findings;
    expect(f).toMatchObject({ code: 'SIP_TRANSPORT_UNAVAILABLE', target: 'tls-strict/tls' });
    expect(f.message).toMatch(/certificate is not trusted: .*SELF_SIGNED/i);
    expect(f.evidence).toMatchObject({ stage: 'tls', tls: { authorized: false, subject: 'sip.lab.test' } });
  });

  it('TLS to a port that does not speak TLS → SIP_TRANSPORT_UNAVAILABLE with the handshake error', async () => {
    const report = await audit({
      carriers: [{ name: 'not-tls', uri: `${GARBAGE}:5060`, transports: ['tls'] }],
      checks: { 'sip-options': { fragmentation: false, timeout: '2s' } },
    });
    expect(report.findings.map((f) => `${f.target} ${f.code}`)).toEqual(['not-tls/tls SIP_TRANSPORT_UNAVAILABLE']);
    expect(report.findings[0].message).toContain('TLS handshake failed');
    expect(report.findings[0].firstStep).toContain('TLS handshake');
  });

  it('a certificate expiring in 5 days → SIP_TLS_CERT_EXPIRING with the date, and what the carrier saw of us', async () => {
    const report = await audit({
      carriers: [{ name: 'tls-expiring', uri: `${TLS_UAS}:5063`, transports: ['tls'], insecureTls: true }],
      checks: { 'sip-options': { fragmentation: false, timeout: '3s' } },
    });
    expect(report.findings).toHaveLength(1);
    const [f] = report.findings;
    expect(f).toMatchObject({ code: 'SIP_TLS_CERT_EXPIRING', severity: 'warning', target: 'tls-expiring/tls' });
    expect(f.evidence).toMatchObject({ status: 200, server: 'node-lab-uas', tls: { subject: 'sip.lab.test' } });
    expect((f.evidence?.tls as { daysLeft: number }).daysLeft).toBeLessThanOrEqual(5);
    expect(f.evidence?.seenAs).toMatch(/^127\.\d+\.\d+\.\d+:\d+$/);
    expect(f.evidence?.allow).toContain('OPTIONS');
  });
});

describe('sip-options: slowness and routes', () => {
  it('an answer slower than warnAfter → SIP_SLOW warning', async () => {
    const report = await audit({
      carriers: [{ name: 'sluggish', uri: `${SLOW_UAS}:5060`, transports: ['tcp'], warnAfter: '100ms', criticalAfter: '5s' }],
      checks: { 'sip-options': { fragmentation: false, timeout: '3s' } },
    });
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]).toMatchObject({ code: 'SIP_SLOW', severity: 'warning', target: 'sluggish/tcp' });
    expect(report.findings[0].message).toContain('warning at 100 ms');
  });

  it('a 100 Trying over UDP moves retransmissions to T2; the evidence shows it and the address the carrier saw', async () => {
    // Act: the final 200 comes 2 s late, after an immediate 100 Trying.
    const report = await audit({
      carriers: [{ name: 'trying', uri: `${TRYING_UAS}:5060`, transports: ['udp'], warnAfter: '500ms' }],
      checks: { 'sip-options': { fragmentation: false, timeout: '3s' } },
    });
    // Assess: the pending Timer E still fires at 500 ms, then waits T2 (next at 4.5 s) instead of
    // doubling (which would have sent again at 1.5 s): two transmissions, not three.
    expect(report.findings).toHaveLength(1);
    const [f] = report.findings;
    expect(f).toMatchObject({ code: 'SIP_SLOW', target: 'trying/udp' });
    expect(f.evidence).toMatchObject({ status: 200, provisional: [100], transmissions: 2, server: 'node-lab-uas' });
    expect(f.evidence?.seenAs).toMatch(/^127\.\d+\.\d+\.\d+:\d+$/);
    expect(f.evidence?.seenAs).toBe(f.evidence?.local);
  });

  it('a destination only one carrier routes → SIP_SINGLE_CARRIER_ROUTE; one whose carriers all fail → SIP_ROUTE_DOWN', async () => {
    // Prepare: sipp-lab answers, nobody does not.
    const raw = {
      carriers: [
        { name: 'sipp-lab', uri: `${HEALTHY}:5060`, transports: ['udp'], regions: ['euc1', 'us1'] },
        { name: 'nobody', uri: `${NOTHING}:5060`, transports: ['udp'], regions: ['us1'] },
      ],
      destinations: [
        { name: 'slovakia', prefix: '+421', carriers: ['sipp-lab', 'nobody'] },
        { name: 'premium', prefix: '+1900', carriers: ['nobody'] },
      ],
      checks: { 'sip-options': { fragmentation: false, timeout: '1s' } },
    };
    // Act
    const report = await audit(raw);
    // Assess
    const routes = report.findings.filter((f) => f.target.startsWith('route '));
    expect(routes.map((f) => `${f.code} ${f.target}`).sort()).toEqual([
      'SIP_ROUTE_DOWN route +1900 (premium) in us1',
      'SIP_SINGLE_CARRIER_ROUTE route +421 (slovakia) in euc1',
    ]);
    expect(report.summary.failed).toBe(true);
  });
});
