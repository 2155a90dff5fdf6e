// A reply's bytes are walked before anything in it is believed: dns-packet reads A/AAAA rdata at a
// fixed size whatever RDLENGTH says, so these replies would otherwise decode to made-up addresses.
import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { parseServerAddress } from '../../src/address.ts';
import { judgeReply, validateMessage, type DnsQuery } from '../../src/net/dns.ts';

const question: DnsQuery = { server: parseServerAddress('127.0.0.1', 53)!, name: 'acme.dialer.test', type: 'A', recursionDesired: true };

/** A well-formed reply for acme.dialer.test with the given answers. */
function reply(answers: dnsPacket.Answer[], id = 7): Buffer {
  return dnsPacket.encode({ type: 'response', id, flags: dnsPacket.RECURSION_AVAILABLE, questions: [{ type: 'A', name: 'acme.dialer.test', class: 'IN' }], answers });
}

/** Rewrites the RDLENGTH of the first answer (and cuts or pads its rdata to match). */
function withRdata(buf: Buffer, rdata: Buffer): Buffer {
  const answerAt = 12 + 18 + 4; // header, question name (18 bytes), type + class
  const rdlengthAt = answerAt + 18 + 2 + 2 + 4; // owner (dns-packet does not compress), type, class, TTL
  const head = Buffer.from(buf.subarray(0, rdlengthAt + 2));
  head.writeUInt16BE(rdata.length, rdlengthAt);
  return Buffer.concat([head, rdata]);
}

describe('validateMessage', () => {
  it('accepts what a standard encoder writes', () => {
    const ok = reply([
      { type: 'A', name: 'acme.dialer.test', ttl: 300, data: '192.0.2.1' },
      { type: 'AAAA', name: 'acme.dialer.test', ttl: 300, data: '2001:db8::1' },
      { type: 'CNAME', name: 'acme.dialer.test', ttl: 300, data: 'lb.dialer.test' },
      { type: 'MX', name: 'acme.dialer.test', ttl: 300, data: { preference: 10, exchange: 'mx.dialer.test' } },
      { type: 'TXT', name: 'acme.dialer.test', ttl: 300, data: ['v=spf1 -all'] },
    ]);
    expect(validateMessage(ok)).toBeUndefined();
  });

  it.each([
    ['an A record with RDLENGTH 0', Buffer.alloc(0), /RDLENGTH 0, but an A record is 4 bytes/],
    ['an A record with RDLENGTH 16', Buffer.from('20010db8000000000000000000000001', 'hex'), /RDLENGTH 16, but an A record is 4 bytes/],
  ])('rejects %s', (_what, rdata, problem) => {
    const bad = withRdata(reply([{ type: 'A', name: 'acme.dialer.test', ttl: 300, data: '192.0.2.1' }]), rdata);
    expect(validateMessage(bad)).toMatch(problem);
    expect(judgeReply(bad, 7, question)).toMatchObject({ kind: 'malformed' });
  });

  it('rejects a 2-byte AAAA', () => {
    const aaaa = dnsPacket.encode({
      type: 'response',
      id: 7,
      questions: [{ type: 'AAAA', name: 'acme.dialer.test', class: 'IN' }],
      answers: [{ type: 'AAAA', name: 'acme.dialer.test', ttl: 300, data: '2001:db8::1' }],
    });
    expect(validateMessage(withRdata(aaaa, Buffer.from([0x20, 0x01])))).toMatch(/RDLENGTH 2, but an AAAA record is 16 bytes/);
  });

  it('rejects rdata that runs past the end of the message', () => {
    const good = reply([{ type: 'A', name: 'acme.dialer.test', ttl: 300, data: '192.0.2.1' }]);
    expect(validateMessage(good.subarray(0, good.length - 2))).toMatch(/RDLENGTH 4 runs past the end/);
  });

  it('rejects a compression pointer that loops', () => {
    const good = reply([{ type: 'CNAME', name: 'acme.dialer.test', ttl: 300, data: 'lb.dialer.test' }]);
    const looped = Buffer.from(good);
    const ownerAt = 12 + 18 + 4;
    looped.writeUInt16BE(0xc000 | ownerAt, ownerAt); // the owner name points at itself
    expect(validateMessage(looped)).toMatch(/compression pointer loop/);
  });

  it('rejects a CNAME whose name does not fill its RDLENGTH', () => {
    const good = reply([{ type: 'CNAME', name: 'acme.dialer.test', ttl: 300, data: 'lb.example' }]);
    const padded = withRdata(good, Buffer.concat([good.subarray(good.length - 12), Buffer.from([0, 0])]));
    expect(validateMessage(padded)).toMatch(/the name ends 2 bytes before its RDLENGTH/);
  });

  it('never lets an undecodable value through as an answer', () => {
    // Prepare: the reply a hostile authoritative server sends (A with RDLENGTH 0 as the last record).
    const bad = withRdata(reply([{ type: 'A', name: 'acme.dialer.test', ttl: 300, data: '192.0.2.1' }]), Buffer.alloc(0));
    // Act
    const verdict = judgeReply(bad, 7, question);
    // Assess: dns-packet alone would have read "undefined.undefined.undefined.undefined".
    expect(verdict.kind).toBe('malformed');
    expect(JSON.stringify(verdict)).not.toContain('undefined');
  });
});
