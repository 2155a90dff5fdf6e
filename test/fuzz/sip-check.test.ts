// Fuzz: a whole sip-options run on hostile DNS and SIP values — NAPTR and SRV records with any
// fields (port 0, 70000, NaN, text where a number belongs, empty or malformed targets), A records
// with anything as the address, and replies with any status and reason. A crash inside a check is
// a bug: no CHECK_ERROR, and nothing is ever sent to a port outside 1–65535.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import type { DnsRecord, DnsResult } from '../../src/net/dns.ts';
import type { SipClient, SipProbe, SipProbeResult } from '../../src/net/sip.ts';
import { answer, FakeDns } from '../support/fake-dns.ts';
import { fuzzParameters, nastyText, RUNS_LABEL, tally } from './inputs.ts';

const HOST = 'trunk.carrier.test';
/** Mostly what a carrier publishes, often what it should not. */
const sometimesBad = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) => fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: bad });
const anyField = sometimesBad(fc.nat(0xffff), fc.oneof(fc.constantFrom(0, -1, 65536, 70000, NaN, Infinity, 1.5), nastyText(20), fc.constant(undefined)));
const targetName = sometimesBad(fc.constantFrom('edge.carrier.test', `_sip._udp.${HOST}`, `_sip._tcp.${HOST}`), fc.oneof(fc.constantFrom('', '.', 'a..b', '-x.test', 'x'.repeat(300)), nastyText(30)));

const srv = fc.record({ priority: anyField, weight: anyField, port: anyField, target: targetName });
const naptr = fc.record({ order: anyField, preference: anyField, flags: sometimesBad(fc.constantFrom('s', 'S'), fc.oneof(fc.constantFrom('a', 'u', ''), nastyText(3))), services: sometimesBad(fc.constantFrom('SIP+D2U', 'SIP+D2T', 'SIPS+D2T', 'sip+d2u'), nastyText(10)), regexp: fc.constant(''), replacement: targetName });

/** What every resolver and the zone answer for each name: the same records everywhere, or nothing. */
const zone = fc.record({
  naptr: fc.array(naptr, { maxLength: 3 }),
  srv: fc.array(srv, { maxLength: 4 }),
  a: fc.array(sometimesBad(fc.ipV4(), nastyText(15)), { maxLength: 3 }),
});
const replies = fc.record({ status: fc.oneof(fc.integer({ min: 100, max: 699 }), fc.constantFrom(0, -1, 1000)), reason: nastyText(40), outcome: fc.constantFrom('answered', 'timeout', 'unavailable', 'malformed') });

function record(type: string, name: string, fields: Record<string, unknown>): Partial<DnsRecord> {
  return { name, type, ttl: 300, value: Object.values(fields).map(String).join(' '), fields: fields as DnsRecord['fields'] };
}

describe('fuzz: sip-options on hostile DNS and SIP values', () => {
  it(`NAPTR/SRV/A and replies with any values: ${RUNS_LABEL}, no crash, no probe to a bad port`, async () => {
    const seen = tally('sip-options runs');
    const config = parseConfig({
      resolvers: [{ name: 'pub1', address: '127.0.0.1:5399' }],
      authoritative: [{ name: 'ns1', address: '127.0.0.2:5399' }],
      carriers: [{ name: 'c1', uri: `sip:${HOST}`, transports: ['udp', 'tcp'] }],
      checks: { 'sip-options': { fragmentation: false, timeout: '1s' } },
    });
    await fc.assert(
      fc.asyncProperty(zone, replies, async (z, reply) => {
        // Prepare
        const dns = new FakeDns((q): DnsResult => {
          const name = q.name.toLowerCase();
          if (q.type === 'NAPTR' && name === HOST) return answer('NOERROR', z.naptr.map((n) => record('NAPTR', name, n)), { aa: q.at === '127.0.0.2:5399' });
          if (q.type === 'SRV') return answer('NOERROR', z.srv.map((s) => record('SRV', name, s)), { aa: q.at === '127.0.0.2:5399' });
          if (q.type === 'A') return answer('NOERROR', z.a.map((value) => ({ name, type: 'A', value })), { aa: q.at === '127.0.0.2:5399' });
          return answer('NOERROR', [], { aa: q.at === '127.0.0.2:5399' });
        });
        const probes: SipProbe[] = [];
        const sip: SipClient = {
          async options(p): Promise<SipProbeResult> {
            probes.push(p);
            const base = { transport: p.transport, address: p.address, port: p.port, bytesSent: 400, sends: 1 };
            if (reply.outcome !== 'answered') return { ...base, outcome: reply.outcome, detail: reply.reason };
            return { ...base, outcome: 'answered', rttMs: 20, response: { status: reply.status, reason: reply.reason } };
          },
        };
        // Act
        const report = await runAudit(config, { dns, log: silentLogger, sip });
        // Assess
        expect(report.findings.filter((f) => f.code === 'CHECK_ERROR')).toEqual([]);
        for (const p of probes) {
          expect(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535, `probe to port ${p.port}`).toBe(true);
          expect(p.address).not.toBe('');
        }
        seen.count(probes.length > 0 ? 'probed' : 'nothing to probe');
        for (const code of new Set(report.findings.map((f) => f.code))) seen.count(code);
      }),
      fuzzParameters(),
    );
    seen.print();
  });
});
