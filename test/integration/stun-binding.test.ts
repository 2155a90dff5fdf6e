// stun-binding against real servers: coturn (UDP, TCP, TLS), nothing at all, a hostile STUN server,
// and a STUN name that the DNS lab's resolvers disagree about.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { runAudit } from '../../src/audit.ts';
import { silentLogger } from '../../src/log.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import { startCoturnLab, type CoturnLab } from '../lab/coturn.ts';
import { connectDnsLab } from '../lab/dns-lab.ts';
import { startHostileStun, type HostileStun } from '../lab/hostile-stun.ts';

let lab: CoturnLab;
let hostile: HostileStun;

beforeAll(async () => {
  [lab, hostile] = await Promise.all([startCoturnLab(), startHostileStun()]);
});
afterAll(async () => {
  await Promise.all([lab?.stop(), hostile?.stop()]);
});

async function audit(stun: Record<string, unknown>, params: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const config = parseConfig({ stun, checks: { 'stun-binding': params }, ...extra });
  return runAudit(config, { dns: dnsClientFromConfig(config), log: silentLogger });
}

const codes = (report: Awaited<ReturnType<typeof audit>>) => report.findings.map((f) => `${f.code} ${f.target}`).sort();

describe('stun-binding against coturn', () => {
  it('a healthy server gives zero findings over UDP, TCP and TLS, with the RTT of each recorded', async () => {
    // Prepare
    const stun = {
      servers: [
        { uri: `stun:${lab.longTerm.ip}:3478`, transports: ['udp', 'tcp', 'tls'], caFile: lab.caFile },
        { uri: `turn:${lab.rest.ip}:3478`, transports: ['udp', 'tcp', 'tls'], caFile: lab.caFile },
      ],
    };
    // Act
    const report = await audit(stun);
    // Assess
    expect(report.findings).toEqual([]);
    // The run's aggregates: per server (its URI) and transport.
    const rtts = report.aggregates.filter((m) => m.metric === 'rtt_seconds');
    const [a, b] = [lab.longTerm.ip, lab.rest.ip];
    expect(rtts.map((m) => `${m.labels.target} ${m.labels.transport}`).sort()).toEqual([
      `stun:${a}:3478 udp`,
      `stun:${a}:3478?transport=tcp tcp`,
      `stuns:${a}:5349 tls`,
      `turn:${b}:3478 udp`,
      `turn:${b}:3478?transport=tcp tcp`,
      `turns:${b}:5349 tls`,
    ]);
    for (const m of rtts) expect(m.min).toBeGreaterThan(0);
    expect(report.aggregates.filter((m) => m.metric === 'up').every((m) => m.sum === m.count)).toBe(true);
    console.info(`coturn RTTs: ${rtts.map((m) => `${m.labels.transport} ${(m.max * 1000).toFixed(2)} ms`).join(', ')}`);
  });

  it('nothing listening: STUN_TIMEOUT within the configured budget (UDP), connection refused (TCP)', async () => {
    // Prepare: nothing ever listens on .99 of the lab's range.
    const dead = `${lab.prefix}.99`;
    const started = performance.now();
    // Act
    const report = await audit({ servers: [{ uri: `stun:${dead}:3478`, transports: ['udp', 'tcp'] }] }, { timeout: '1s' });
    const elapsed = performance.now() - started;
    // Assess
    expect(codes(report)).toEqual([`STUN_TIMEOUT stun:${dead}:3478`, `STUN_TIMEOUT stun:${dead}:3478?transport=tcp`]);
    const udp = report.findings.find((f) => f.target === `stun:${dead}:3478`)!;
    expect(udp.message).toMatch(/^stun:127\.34\.\d+\.99:3478 did not answer a Binding request over UDP: no answer in \d+ ms \(1 retransmission\)$/);
    expect(udp.firstStep).toBe(`From this host run \`turnutils_stunclient -p 3478 ${dead}\`; if it also times out, check that the server runs and that udp/3478 is open in its firewall / security group.`);
    const tcp = report.findings.find((f) => f.target.endsWith('?transport=tcp'))!;
    expect(tcp.message).toContain(`connection refused: nothing listens on tcp ${dead}:3478`);
    expect(report.measurements.filter((m) => m.metric === 'up').map((m) => m.value)).toEqual([0, 0]);
    expect(elapsed).toBeLessThan(1000 + 500);
    console.info(`STUN_TIMEOUT test took ${Math.round(elapsed)} ms for a 1000 ms budget`);
  });

  it('TLS to a self-signed server without its CA is STUN_TLS_FAILED', async () => {
    const report = await audit({ servers: [{ uri: `stuns:${lab.longTerm.ip}:5349` }] });
    expect(codes(report)).toEqual([`STUN_TLS_FAILED stuns:${lab.longTerm.ip}:5349`]);
    expect(report.findings[0].message).toMatch(/self-signed certificate/);
    expect(report.findings[0].firstStep).toContain(`openssl s_client -connect ${lab.longTerm.ip}:5349`);
  });
});

describe('stun-binding against a hostile STUN server', () => {
  it('garbage, a wrong transaction id, no XOR-MAPPED-ADDRESS, a bad fingerprint, a 401, a reflector: the right codes, no crash', async () => {
    // Prepare: every misbehaviour over UDP and over TCP.
    const h = hostile.host;
    const bad = ['garbage', 'wrong-transaction', 'no-xor-mapped', 'bad-fingerprint', 'error-401', 'reflect'] as const;
    const servers = bad.flatMap((b) => [{ uri: `stun:${h}:${hostile.udp[b]}` }, { uri: `stun:${h}:${hostile.tcp[b]}?transport=tcp` }]);
    // Act
    const report = await audit({ servers }, { timeout: '1s' });
    // Assess
    const got = Object.fromEntries(report.findings.map((f) => [f.target, f]));
    const expectCode = (b: (typeof bad)[number], code: string, problem: RegExp) => {
      for (const target of [`stun:${h}:${hostile.udp[b]}`, `stun:${h}:${hostile.tcp[b]}?transport=tcp`]) {
        expect(got[target]?.code, `${b} ${target}`).toBe(code);
        expect(got[target].message, `${b} ${target}`).toMatch(problem);
      }
    };
    expectCode('garbage', 'STUN_BAD_RESPONSE', /not a STUN message|neither STUN nor ChannelData/);
    expectCode('wrong-transaction', 'STUN_BAD_RESPONSE', /transaction id we never sent/);
    expectCode('no-xor-mapped', 'STUN_BAD_RESPONSE', /no XOR-MAPPED-ADDRESS, only the RFC 3489 MAPPED-ADDRESS/);
    expectCode('bad-fingerprint', 'STUN_BAD_RESPONSE', /FINGERPRINT does not match/);
    expectCode('error-401', 'STUN_ERROR_RESPONSE', /with error 401 Unauthorized/);
    expectCode('reflect', 'STUN_BAD_RESPONSE', /our own request back/);
    expect(report.findings).toHaveLength(bad.length * 2);
    expect(report.findings.filter((f) => f.code === 'CHECK_ERROR')).toEqual([]);
    expect(got[`stun:${h}:${hostile.udp['error-401']}`].evidence?.errorCode).toBe(401);
    expect(got[`stun:${h}:${hostile.udp.garbage}`].evidence?.addresses).toMatchObject([{ failure: 'bad-response', sample: expect.stringMatching(/^fffe/) }]);
  });

  it('a slow answer is STUN_SLOW; a lost request is answered on retransmission; space padding is fine', async () => {
    // Prepare
    const h = hostile.host;
    // Act
    const slow = await audit({ servers: [{ uri: `stun:${h}:${hostile.udp.slow}` }] }, { slowAfter: '100ms' });
    const lossy = await audit({ servers: [{ uri: `stun:${h}:${hostile.udp['drop-first']}` }, { uri: `stun:${h}:${hostile.udp['space-padding']}` }] }, { slowAfter: '2s' });
    // Assess
    expect(codes(slow)).toEqual([`STUN_SLOW stun:${h}:${hostile.udp.slow}`]);
    expect(slow.findings[0].message).toMatch(/answered over UDP only after \d+ ms \(slowAfter 100 ms\)/);
    expect(lossy.findings).toEqual([]);
    const retrans = lossy.aggregates.filter((m) => m.metric === 'retransmissions').map((m) => `${m.labels.target}=${m.sum}`).sort();
    expect(retrans).toEqual([`stun:${h}:${hostile.udp['drop-first']}=1`, `stun:${h}:${hostile.udp['space-padding']}=0`].sort());
  });
});

describe('stun-binding and the DNS lab', () => {
  it('a STUN name one resolver still resolves to the old address is STUN_DNS_MISMATCH there; both addresses answer', async () => {
    // Prepare: the STUN name points at coturn #1 and every resolver caches it; then it moves to coturn #2
    // and only pub2/pub3 forget the old answer.
    const info = inject('dnsLab');
    const dnsLab = connectDnsLab(info);
    const name = `stun-binding-it.${info.zone}`;
    const dnsConfig = { resolvers: info.resolvers, authoritative: info.authoritative, dns: { timeout: '400ms', retries: 1 } };
    await dnsLab.setRecords(name, 'A', 3600, [lab.longTerm.ip]);
    const servers = [{ uri: `stun:${name}:3478` }];
    expect(codes(await audit({ servers }, {}, dnsConfig))).toEqual([]);
    await dnsLab.setRecords(name, 'A', 3600, [lab.rest.ip]);
    await dnsLab.flush('pub2', name);
    await dnsLab.flush('pub3', name);
    try {
      // Act
      const report = await audit({ servers }, {}, dnsConfig);
      // Assess
      expect(report.findings.map((f) => `${f.code} ${f.target} @${f.resolver}`)).toEqual([`STUN_DNS_MISMATCH stun:${name}:3478 @pub1`]);
      expect(report.findings[0].message).toBe(`${name} A at pub1: the resolver hands out ${lab.longTerm.ip}, the zone has ${lab.rest.ip}; webphones behind it reach a different STUN/TURN server`);
      const probed = report.aggregates.filter((m) => m.metric === 'up').map((m) => `${m.labels.address}=${m.sum}`).sort();
      expect(probed).toEqual([`${lab.longTerm.ip}:3478=1`, `${lab.rest.ip}:3478=1`].sort());
    } finally {
      await dnsLab.setRecords(name, 'A', 300, []);
      for (const r of info.resolvers) await dnsLab.flush(r.name, name);
    }
  });
});
