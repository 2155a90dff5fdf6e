// Fuzz: DNS replies, through the public entry points only — judgeReply (is this datagram the reply
// to our query, and does it decode) and the client's query() against a loopback server that
// answers each query with a generated reply (then, 2 ms later, a well-formed one, so a reply the
// client rightly ignores does not cost a timeout). Whatever the bytes: no exception, no crash, a
// DnsResult whose records are strings.
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ednsOptionsOf, judgeReply, UdpTcpDnsClient, type DnsQuery, type DnsResult, type RecordType } from '../../src/net/dns.ts';
import { applyMutation, fuzzParameters, hostile, mutation, nastyText, randomBytes, RUNS_LABEL, tally, type Mutation } from './inputs.ts';

const u16 = fc.nat(0xffff);
const u32 = fc.nat(0xffffffff);
const label = fc.oneof({ weight: 5, arbitrary: fc.stringMatching(/^[a-z0-9_-]{1,20}$/) }, { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 15 }).filter((s) => !s.includes('.')) });
const name = fc.array(label, { minLength: 0, maxLength: 4 }).map((l) => l.join('.') || '.');

const record: fc.Arbitrary<Answer> = fc.oneof(
  fc.record({ type: fc.constant('A'), data: fc.ipV4() }),
  fc.record({ type: fc.constant('AAAA'), data: fc.ipV6() }),
  fc.record({ type: fc.constantFrom('CNAME', 'NS', 'PTR', 'DNAME'), data: name }),
  fc.record({ type: fc.constant('TXT'), data: fc.array(fc.string({ maxLength: 60 }), { maxLength: 3 }) }),
  fc.record({ type: fc.constant('MX'), data: fc.record({ preference: u16, exchange: name }) }),
  fc.record({ type: fc.constant('SRV'), data: fc.record({ priority: u16, weight: u16, port: u16, target: name }) }),
  fc.record({ type: fc.constant('NAPTR'), data: fc.record({ order: u16, preference: u16, flags: fc.string({ maxLength: 4 }), services: nastyText(20), regexp: nastyText(30), replacement: name }) }),
  fc.record({ type: fc.constant('SOA'), data: fc.record({ mname: name, rname: name, serial: u32, refresh: u32, retry: u32, expire: u32, minimum: u32 }) }),
  fc.record({ type: fc.constant('CAA'), data: fc.record({ flags: fc.constantFrom(0, 128), tag: fc.constantFrom('issue', 'iodef'), value: fc.string({ maxLength: 30 }) }) }),
).chain((r) => fc.record({ name, ttl: u32 }).map((base) => ({ ...base, class: 'IN', ...r }) as Answer));

const opt = fc.record({
  ede: fc.array(fc.tuple(u16, randomBytes(40)), { maxLength: 2 }),
  ecs: fc.option(fc.record({ source: fc.nat(32), scope: fc.nat(32), ip: fc.ipV4() })),
});

const replyPacket = fc.record({
  flags: u16,
  answers: fc.array(record, { maxLength: 5 }),
  authorities: fc.array(record, { maxLength: 2 }),
  opt,
});
type ReplyPacket = typeof replyPacket extends fc.Arbitrary<infer T> ? T : never;

function encodeReply(p: ReplyPacket, id: number, question: Packet['questions']): Buffer | undefined {
  const options = [
    ...p.opt.ede.map(([code, text]) => ({ code: 15, data: Buffer.concat([Buffer.from([code >> 8, code & 0xff]), text]) })),
    ...(p.opt.ecs ? [{ code: 8, family: 1, sourcePrefixLength: p.opt.ecs.source, scopePrefixLength: p.opt.ecs.scope, ip: p.opt.ecs.ip }] : []),
  ];
  try {
    return dnsPacket.encode({
      type: 'response',
      id,
      // TC stays clear: a truncated reply sends the client to TCP, which this server does not speak.
      flags: (p.flags | dnsPacket.RECURSION_AVAILABLE) & ~dnsPacket.TRUNCATED_RESPONSE & 0x7fff,
      questions: question,
      answers: p.answers,
      authorities: p.authorities,
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options } as unknown as Answer],
    } as Packet);
  } catch {
    return undefined; // dns-packet refuses what it cannot write (a label over 63 bytes …)
  }
}

const TYPES: RecordType[] = ['A', 'AAAA', 'CNAME', 'NS', 'SOA', 'TXT', 'SRV', 'NAPTR', 'MX', 'PTR', 'CAA'];
const QUERY_ID = 0x4242;

/** A decoded reply must be data: strings and numbers, nothing that throws when shown. */
function expectUsable(result: DnsResult): void {
  if (!result.ok) {
    expect(typeof result.detail).toBe('string');
    return;
  }
  for (const r of [...result.response.answers, ...result.response.authorities]) {
    expect(typeof r.name).toBe('string');
    expect(typeof r.value).toBe('string');
    expect(Number.isFinite(r.ttl)).toBe(true);
  }
  for (const e of result.response.extendedErrors) expect(typeof e.text).toBe('string');
}

describe('fuzz: DNS replies', () => {
  it(`judgeReply and the EDNS reader: ${RUNS_LABEL}, no exception`, () => {
    const question = [{ type: 'A' as const, name: 'fuzz.example', class: 'IN' as const }];
    const wellFormed = replyPacket.map((p) => encodeReply(p, QUERY_ID, question) ?? Buffer.alloc(12));
    const q: DnsQuery = { server: { host: '127.0.0.1', port: 53, family: 4 }, name: 'fuzz.example', type: 'A', recursionDesired: true };
    const seen = tally('judgeReply');
    fc.assert(
      fc.property(hostile(wellFormed), (buf) => {
        // The id is what a reply must carry to be decoded at all: keep it so decoding is reached.
        if (buf.length >= 2) buf.writeUInt16BE(QUERY_ID, 0);
        const verdict = judgeReply(buf, QUERY_ID, q);
        expect(['ignore', 'malformed', 'reply']).toContain(verdict.kind);
        seen.count(verdict.kind);
        if (verdict.kind === 'reply') ednsOptionsOf(verdict.packet);
      }),
      fuzzParameters(),
    );
    seen.print();
  });

  describe('the client against a server answering with generated replies', () => {
    let server: dgram.Socket;
    let respond: (query: Packet) => Buffer | undefined = () => undefined;
    let client: UdpTcpDnsClient;
    let address: DnsQuery['server'];
    let open = true;

    beforeAll(async () => {
      server = dgram.createSocket('udp4');
      server.on('message', (msg, rinfo) => {
        let query: Packet;
        try {
          query = dnsPacket.decode(msg);
        } catch {
          return;
        }
        const reply = respond(query);
        if (reply) server.send(reply, rinfo.port, rinfo.address);
        const valid = dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.RECURSION_AVAILABLE, questions: query.questions, answers: [] });
        setTimeout(() => open && server.send(valid, rinfo.port, rinfo.address), 2);
      });
      await new Promise<void>((resolve) => server.bind(0, `127.70.${200 + (process.pid % 50)}.53`, resolve));
      const bound = server.address() as AddressInfo;
      address = { host: bound.address, port: bound.port, family: 4 };
      client = new UdpTcpDnsClient({ timeoutMs: 300, retries: 0, ednsBufferSize: 1232, limitsFor: () => ({ qps: 1e9, concurrency: 64 }) });
    });
    afterAll(() => {
      open = false;
      client?.close();
      server?.close();
    });

    it(`query(): ${RUNS_LABEL}, a DnsResult every time`, async () => {
      const seen = tally('DNS client query()');
      await fc.assert(
        fc.asyncProperty(replyPacket, mutation, fc.constantFrom(...TYPES), async (packet: ReplyPacket, m: Mutation, type: RecordType) => {
          respond = (query) => {
            const encoded = encodeReply(packet, query.id!, query.questions);
            // The id (bytes 0–1) stays; everything after it may be damaged.
            return encoded && applyMutation(encoded, m, 2);
          };
          const result = await client.query({ server: address, name: 'fuzz.example', type, recursionDesired: true });
          expectUsable(result);
          seen.count(result.ok ? `answers (${result.response.answers.length > 0 ? 'with' : 'without'} records)` : result.kind);
        }),
        fuzzParameters(),
      );
      seen.print();
    });
  });
});
