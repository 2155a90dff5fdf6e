// SIP on the wire as pure functions: the OPTIONS we build, what we make of replies (and of garbage),
// TCP framing, and RFC 3261's retransmission timer.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  PADDING_HEADER,
  buildOptions,
  frameStream,
  header,
  headerList,
  matchesTransaction,
  nextRetransmitInterval,
  parseSipMessage,
  summarizeResponse,
  udpSendSchedule,
  type OptionsSpec,
} from '../../src/sip/message.ts';
import { parseCarrierUri, requestUriOf } from '../../src/sip/uri.ts';

const spec = (extra: Partial<OptionsSpec> = {}): OptionsSpec => ({
  requestUri: 'sip:example.pstn.twilio.com',
  transport: 'udp',
  local: { address: '192.0.2.5', port: 40312 },
  fromUser: 'dialer-audit',
  branch: 'z9hG4bKabc123',
  callId: 'c0ffee@dialer-audit',
  fromTag: 'tag42',
  cseq: 1,
  userAgent: 'dialer-audit/test',
  ...extra,
});

const CRLF = '\r\n';

describe('buildOptions', () => {
  it('builds an RFC 3261 OPTIONS with Via rport, a magic-cookie branch and the carrier identity', () => {
    // Act
    const text = buildOptions(spec({ fromDomain: 'dialer.example.com' }));
    // Assess
    const lines = text.split(CRLF);
    expect(lines[0]).toBe('OPTIONS sip:example.pstn.twilio.com SIP/2.0');
    expect(lines).toContain('Via: SIP/2.0/UDP 192.0.2.5:40312;branch=z9hG4bKabc123;rport');
    expect(lines).toContain('Max-Forwards: 70');
    expect(lines).toContain('From: "dialer-audit" <sip:dialer-audit@dialer.example.com>;tag=tag42');
    expect(lines).toContain('To: <sip:example.pstn.twilio.com>');
    expect(lines).toContain('Call-ID: c0ffee@dialer-audit');
    expect(lines).toContain('CSeq: 1 OPTIONS');
    expect(lines).toContain('Contact: <sip:dialer-audit@192.0.2.5:40312>');
    expect(text.endsWith(`Content-Length: 0${CRLF}${CRLF}`)).toBe(true);
    // It is a request our own parser reads back.
    const parsed = parseSipMessage(text);
    expect(parsed.ok && parsed.message.method).toBe('OPTIONS');
  });

  it('names the transport in Via and Contact for TCP/TLS, and brackets IPv6', () => {
    const tcp = buildOptions(spec({ transport: 'tcp' }));
    expect(tcp).toContain('Via: SIP/2.0/TCP 192.0.2.5:40312;');
    expect(tcp).toContain('Contact: <sip:dialer-audit@192.0.2.5:40312;transport=tcp>');
    const v6 = buildOptions(spec({ transport: 'tls', local: { address: '2001:db8::5', port: 5061 } }));
    expect(v6).toContain('Via: SIP/2.0/TLS [2001:db8::5]:5061;');
    expect(v6).toContain('<sip:dialer-audit@[2001:db8::5]>');
  });

  it.each([500, 1300, 1472, 1600, 1800, 3000])('pads to exactly %i bytes with a harmless header', (size) => {
    // Act
    const text = buildOptions(spec({ padTo: size }));
    // Assess
    expect(Buffer.byteLength(text)).toBe(size);
    const parsed = parseSipMessage(text);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.message.headers.get(PADDING_HEADER.toLowerCase())?.length).toBeGreaterThan(0);
    expect(header(parsed.message, 'content-length')).toBe('0');
    for (const line of text.split(CRLF)) expect(line.length).toBeLessThanOrEqual(200);
  });

  it('never overshoots: a size below the plain request, or too close to it for a header line, sends the plain request', () => {
    const plain = Buffer.byteLength(buildOptions(spec()));
    expect(Buffer.byteLength(buildOptions(spec({ padTo: 100 })))).toBe(plain);
    expect(Buffer.byteLength(buildOptions(spec({ padTo: plain + 5 })))).toBe(plain);
  });
});

describe('parseSipMessage', () => {
  const response = [
    'SIP/2.0 200 OK',
    'v: SIP/2.0/UDP 192.0.2.5:40312;branch=z9hG4bKabc123;rport=61000;received=203.0.113.7, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKother',
    'f: "dialer-audit" <sip:dialer-audit@192.0.2.5>;tag=tag42',
    't: <sip:example.pstn.twilio.com>;tag=srv1',
    'i: c0ffee@dialer-audit',
    'CSeq: 1 OPTIONS',
    'User-Agent: Twilio Gateway',
    'allow: INVITE, ACK,',
    '  CANCEL, OPTIONS, BYE',
    'Supported: path',
    'l: 0',
    '',
    '',
  ].join(CRLF);

  it('reads compact forms, folded headers and comma-separated Vias', () => {
    // Act
    const parsed = parseSipMessage(response);
    // Assess
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.message).toMatchObject({ kind: 'response', status: 200, reason: 'OK' });
    expect(header(parsed.message, 'Call-ID')).toBe('c0ffee@dialer-audit');
    expect(header(parsed.message, 'i')).toBe('c0ffee@dialer-audit');
    expect(headerList(parsed.message, 'via')).toHaveLength(2);
    expect(summarizeResponse(parsed.message)).toEqual({
      status: 200,
      reason: 'OK',
      server: 'Twilio Gateway',
      allow: ['INVITE', 'ACK', 'CANCEL', 'OPTIONS', 'BYE'],
      viaReceived: '203.0.113.7',
      viaRport: 61000,
      retryAfter: undefined,
    });
    expect(matchesTransaction(parsed.message, { branch: 'z9hG4bKabc123', callId: 'c0ffee@dialer-audit', cseq: 1, method: 'OPTIONS' })).toBe(true);
  });

  it('accepts bare LF line ends and a reason phrase with spaces, and prefers Server to User-Agent', () => {
    const parsed = parseSipMessage('SIP/2.0 503 Service Unavailable\nServer: Kamailio\nUser-Agent: other\nRetry-After: 30\n\n');
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(summarizeResponse(parsed.message)).toMatchObject({ status: 503, reason: 'Service Unavailable', server: 'Kamailio', retryAfter: '30' });
  });

  it('does not take somebody else’s response for ours', () => {
    const parsed = parseSipMessage(response);
    if (!parsed.ok) throw new Error(parsed.error);
    const ours = { branch: 'z9hG4bKabc123', callId: 'c0ffee@dialer-audit', cseq: 1, method: 'OPTIONS' };
    expect(matchesTransaction(parsed.message, { ...ours, branch: 'z9hG4bKzzz' })).toBe(false);
    expect(matchesTransaction(parsed.message, { ...ours, callId: 'other' })).toBe(false);
    expect(matchesTransaction(parsed.message, { ...ours, cseq: 2 })).toBe(false);
    expect(matchesTransaction(parsed.message, { ...ours, method: 'INVITE' })).toBe(false);
  });

  it.each([
    ['binary', Buffer.from([0x00, 0xff, 0x13, 0x37, 0xde, 0xad])],
    ['HTTP', 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'],
    ['empty', ''],
    ['a status out of range', 'SIP/2.0 999 Weird\r\n\r\n'],
    ['a header line without a colon', 'SIP/2.0 200 OK\r\nVia SIP/2.0/UDP nowhere\r\n\r\n'],
    ['a SIP/1.0 status line', 'SIP/1.0 200 OK\r\n\r\n'],
  ])('calls %s garbage, without throwing', (_label, input) => {
    const parsed = parseSipMessage(input as string);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.length).toBeGreaterThan(5);
  });

  it('survives random bytes', () => {
    for (let i = 0; i < 500; i++) {
      const junk = randomBytes(1 + (i % 300));
      expect(() => parseSipMessage(junk)).not.toThrow();
      expect(() => frameStream(junk)).not.toThrow();
    }
  });
});

describe('frameStream', () => {
  const msg = (body = '') => `SIP/2.0 200 OK\r\nCall-ID: x\r\nl: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

  it('cuts messages by Content-Length, skipping keep-alive CRLFs, across chunk boundaries', () => {
    // Prepare
    const stream = Buffer.from(`\r\n\r\n${msg('hello')}${msg()}${msg('tail')}`);
    const cut = stream.length - 3;
    // Act
    const first = frameStream(stream.subarray(0, cut));
    const second = frameStream(Buffer.concat([first.rest, stream.subarray(cut)]));
    // Assess
    expect(first.messages.map(String)).toEqual([msg('hello'), msg()]);
    expect(second.messages.map(String)).toEqual([msg('tail')]);
    expect(second.rest.length).toBe(0);
    expect(first.error ?? second.error).toBeUndefined();
  });

  it('says a stream of HTTP or binary is not SIP instead of waiting for more', () => {
    expect(frameStream(Buffer.from('HTTP/1.1 400 Bad Request\r\n')).error).toMatch(/does not carry SIP/);
    expect(frameStream(Buffer.from([0xde, 0xad, 0xbe, 0xef])).error).toMatch(/does not carry SIP/);
    expect(frameStream(Buffer.from('SIP/2.0 200 OK\r\nContent-Length: lots\r\n\r\n')).error).toMatch(/Content-Length/);
  });

  it('waits for the rest of a message that is still arriving', () => {
    const partial = frameStream(Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    expect(partial.messages).toEqual([]);
    expect(partial.error).toBeUndefined();
  });
});

describe('UDP retransmission (RFC 3261 §17.1.2.2)', () => {
  it('retransmits at T1, then doubling intervals capped at T2, within the budget', () => {
    expect(udpSendSchedule(8000)).toEqual([0, 500, 1500, 3500, 7500]);
    expect(udpSendSchedule(20_000)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500]);
    expect(udpSendSchedule(400)).toEqual([0]);
    expect(udpSendSchedule(2000, 100, 400)).toEqual([0, 100, 300, 700, 1100, 1500, 1900]);
  });

  it('retransmits every T2 once a provisional response arrived', () => {
    expect(nextRetransmitInterval(undefined, false)).toBe(500);
    expect(nextRetransmitInterval(500, false)).toBe(1000);
    expect(nextRetransmitInterval(4000, false)).toBe(4000);
    expect(nextRetransmitInterval(1000, true)).toBe(4000);
  });
});

describe('carrier URIs', () => {
  it.each([
    ['sip:example.pstn.twilio.com', { scheme: 'sip', host: 'example.pstn.twilio.com', hostKind: 'name', port: undefined }],
    ['sips:SBC.Example.NET:5061', { scheme: 'sips', host: 'sbc.example.net', hostKind: 'name', port: 5061 }],
    ['sip:+15550100@trunk.example.net;transport=tcp', { user: '+15550100', host: 'trunk.example.net', params: { transport: 'tcp' } }],
    ['127.0.0.1:5060', { scheme: 'sip', host: '127.0.0.1', hostKind: 'ipv4', port: 5060 }],
    ['[::1]:5070', { host: '::1', hostKind: 'ipv6', port: 5070 }],
    ['sbc.example.net', { host: 'sbc.example.net', hostKind: 'name' }],
  ])('reads %s', (text, expected) => {
    expect(parseCarrierUri(text)).toMatchObject(expected);
  });

  it.each(['sip:', 'sip:host:99999', 'http://example.com', 'sip:bad host', '300.1.1.1:5060'])('rejects %s', (text) => {
    expect(parseCarrierUri(text)).toBeUndefined();
  });

  it('keeps the user and port in the Request-URI but not the transport parameter', () => {
    expect(requestUriOf(parseCarrierUri('sip:+15550100@trunk.example.net:5080;transport=tcp')!)).toBe('sip:+15550100@trunk.example.net:5080');
    expect(requestUriOf(parseCarrierUri('[::1]:5060')!)).toBe('sip:[::1]:5060');
  });
});
