// The hand-written query encoder must produce what a standard decoder reads back exactly.
import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { encodeQuery, type RecordType } from '../../src/net/dns.ts';

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
