// The hand-written query encoder must produce what a standard decoder reads back exactly.
import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { describeExtendedError, ednsOptionsOf, encodeQuery, type RecordType } from '../../src/net/dns.ts';

describe('encodeQuery', () => {
  it.each([
    ['acme.dialer.example.com', 'A', true],
    ['acme.dialer.example.com.', 'AAAA', false],
    ['_sip._udp.carrier.example', 'SRV', true],
    ['carrier.example', 'NAPTR', true],
    ['dialer.example.com', 'SOA', false],
    ['dialer.example.com', 'CAA', true],
  ] as [string, RecordType, boolean][])('%s %s (RD=%s) decodes to the same question with EDNS0', (name, type, rd) => {
    // Act
    const decoded = dnsPacket.decode(encodeQuery(0xbeef, name, type, rd, 1232));
    // Assess
    expect(decoded.id).toBe(0xbeef);
    expect(decoded.type).toBe('query');
    expect(Boolean((decoded.flags ?? 0) & dnsPacket.RECURSION_DESIRED)).toBe(rd);
    expect(decoded.questions).toEqual([{ name: name.replace(/\.$/, ''), type, class: 'IN' }]);
    expect(decoded.additionals).toHaveLength(1);
    expect(decoded.additionals![0]).toMatchObject({ type: 'OPT', udpPayloadSize: 1232 });
  });

  it('refuses a label longer than 63 bytes instead of sending garbage', () => {
    expect(() => encodeQuery(1, `${'x'.repeat(64)}.example`, 'A', true, 1232)).toThrow(/not a valid DNS name/);
  });
});

describe('EDNS flags and options', () => {
  it('sets DO in the OPT record and CD in the header when asked, and neither by default', () => {
    // Act
    const plain = dnsPacket.decode(encodeQuery(1, 'acme.dialer.test', 'A', { recursionDesired: true }, 1232));
    const dnssec = dnsPacket.decode(encodeQuery(2, 'acme.dialer.test', 'A', { recursionDesired: true, dnssecOk: true, checkingDisabled: true }, 1232));
    // Assess
    expect((plain.additionals![0] as { flag_do: boolean }).flag_do).toBe(false);
    expect((plain.flags ?? 0) & dnsPacket.CHECKING_DISABLED).toBe(0);
    expect((dnssec.additionals![0] as { flag_do: boolean }).flag_do).toBe(true);
    expect((dnssec.flags ?? 0) & dnsPacket.CHECKING_DISABLED).not.toBe(0);
  });

  it.each([
    ['198.51.100.77', 24, 1, '198.51.100.0'],
    ['203.0.113.200', 20, 1, '203.0.112.0'],
    ['2001:db8:abcd:12ff::1', 56, 2, '2001:db8:abcd:1200::'],
  ])('carries the client subnet %s/%i with the host bits zeroed (RFC 7871)', (address, prefixLength, family, network) => {
    // Act
    const decoded = dnsPacket.decode(encodeQuery(3, 'geo.dialer.test', 'A', { recursionDesired: false, clientSubnet: { address, prefixLength } }, 1232));
    // Assess
    const options = (decoded.additionals![0] as { options: { code: number; family: number; sourcePrefixLength: number; scopePrefixLength: number; ip: string }[] }).options;
    expect(options).toHaveLength(1);
    expect(options[0]).toMatchObject({ code: 8, family, sourcePrefixLength: prefixLength, scopePrefixLength: 0, ip: network });
  });

  it('refuses a subnet that is not an address or whose prefix does not fit', () => {
    expect(() => encodeQuery(4, 'x.test', 'A', { recursionDesired: true, clientSubnet: { address: 'nope', prefixLength: 24 } }, 1232)).toThrow(/not an IP address/);
    expect(() => encodeQuery(4, 'x.test', 'A', { recursionDesired: true, clientSubnet: { address: '192.0.2.1', prefixLength: 33 } }, 1232)).toThrow(/out of range/);
  });
});

describe('EDNS options in replies', () => {
  it('reads Extended DNS Errors and the ECS scope from the OPT record', () => {
    // Prepare: a SERVFAIL as a validating resolver sends it, with EDE 6 and an echoed subnet.
    const ede = Buffer.concat([Buffer.from([0, 6]), Buffer.from('signature expired for dialer.test')]);
    const reply = dnsPacket.decode(
      dnsPacket.encode({
        type: 'response',
        id: 5,
        flags: 2, // SERVFAIL
        questions: [{ type: 'A', name: 'acme.dialer.test' }],
        additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, options: [{ code: 15, data: ede }, { code: 8, family: 1, sourcePrefixLength: 24, scopePrefixLength: 16, ip: '198.51.100.0' }] } as never],
      }),
    );
    // Act
    const options = ednsOptionsOf(reply);
    // Assess
    expect(options.extendedErrors).toEqual([{ code: 6, text: 'signature expired for dialer.test' }]);
    expect(describeExtendedError(options.extendedErrors[0])).toBe('DNSSEC Bogus (6): signature expired for dialer.test');
    expect(describeExtendedError({ code: 3, text: '' })).toBe('Stale Answer (3)');
    expect(options.clientSubnetScope).toBe(16);
  });
});
