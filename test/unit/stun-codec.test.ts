// The STUN codec against the IETF's own bytes (RFC 5769) and a real coturn 401.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  Attr,
  Method,
  decodeMessage,
  encodeMessage,
  errorCodeAttribute,
  longTermKey,
  messageType,
  readErrorCode,
  readText,
  readUint32,
  readXorAddress,
  shortTermKey,
  splitMessageType,
  streamFrameLength,
  textAttribute,
  uint32Attribute,
  verifyFingerprint,
  verifyIntegrity,
  xorAddressAttribute,
  type StunMessage,
} from '../../src/stun/codec.ts';
import { turnRestCredentials } from '../../src/stun/credentials.ts';
import { judgeBindingResponse, judgeTurnResponse } from '../../src/stun/messages.ts';

/** A fixture: hex bytes, `#` starts a comment. */
function fixture(name: string): Buffer {
  const text = readFileSync(new URL(`../fixtures/stun/${name}`, import.meta.url), 'utf8');
  return Buffer.from(text.split('\n').map((l) => l.replace(/#.*/, '')).join('').replace(/\s+/g, ''), 'hex');
}

function decoded(bytes: Buffer): StunMessage {
  const d = decodeMessage(bytes);
  if (!d.ok) throw new Error(d.problem);
  return d.message;
}

const VECTOR_PASSWORD = 'VOkJxbRl1RmTxUk/WvJxBt';

describe('RFC 5769 test vectors', () => {
  it('§2.1 sample request: fingerprint and short-term integrity validate over the received bytes', () => {
    // Prepare
    const bytes = fixture('rfc5769-sample-request.hex');
    // Act
    const m = decoded(bytes);
    // Assess
    expect(m.method).toBe(Method.BINDING);
    expect(m.cls).toBe('request');
    expect(readText(m, Attr.USERNAME)).toBe('evtj:h6vY');
    expect(readText(m, Attr.SOFTWARE)).toBe('STUN test client');
    expect(readUint32(m, Attr.PRIORITY)).toBe(0x6e0001ff);
    expect(verifyFingerprint(m)).toBe('valid');
    expect(verifyIntegrity(m, shortTermKey(VECTOR_PASSWORD))).toBe('valid');
    expect(verifyIntegrity(m, shortTermKey('wrong'))).toBe('invalid');
  });

  it('§2.1 sample request: encoding the same attributes with space padding gives the same bytes', () => {
    // Prepare
    const bytes = fixture('rfc5769-sample-request.hex');
    const m = decoded(bytes);
    // Act
    const encoded = encodeMessage(
      {
        method: Method.BINDING,
        cls: 'request',
        transactionId: m.transactionId,
        attributes: [
          textAttribute(Attr.SOFTWARE, 'STUN test client'),
          uint32Attribute(Attr.PRIORITY, 0x6e0001ff),
          { type: Attr.ICE_CONTROLLED, value: Buffer.from('932ff9b151263b36', 'hex') },
          textAttribute(Attr.USERNAME, 'evtj:h6vY'),
        ],
      },
      { integrityKey: shortTermKey(VECTOR_PASSWORD), fingerprint: true, padByte: 0x20 },
    );
    // Assess
    expect(encoded.toString('hex')).toBe(bytes.toString('hex'));
  });

  it('§2.2 sample IPv4 response: XOR-MAPPED-ADDRESS is 192.0.2.1:32853', () => {
    const m = decoded(fixture('rfc5769-sample-ipv4-response.hex'));
    expect(m.cls).toBe('success');
    expect(readXorAddress(m, Attr.XOR_MAPPED_ADDRESS)).toEqual({ ok: true, address: { family: 4, address: '192.0.2.1', port: 32853 } });
    expect(readText(m, Attr.SOFTWARE)).toBe('test vector');
    expect(verifyFingerprint(m)).toBe('valid');
    expect(verifyIntegrity(m, shortTermKey(VECTOR_PASSWORD))).toBe('valid');
    expect(judgeBindingResponse(m)).toMatchObject({ ok: true, mapped: { address: '192.0.2.1', port: 32853 }, fingerprint: 'valid' });
  });

  it('§2.3 sample IPv6 response: XOR-MAPPED-ADDRESS is [2001:db8:1234:5678:11:2233:4455:6677]:32853', () => {
    const m = decoded(fixture('rfc5769-sample-ipv6-response.hex'));
    expect(readXorAddress(m, Attr.XOR_MAPPED_ADDRESS)).toEqual({ ok: true, address: { family: 6, address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 } });
    expect(verifyFingerprint(m)).toBe('valid');
    expect(verifyIntegrity(m, shortTermKey(VECTOR_PASSWORD))).toBe('valid');
  });

  it('§2.4 long-term request: integrity validates with MD5(username:realm:SASLprep(password))', () => {
    const m = decoded(fixture('rfc5769-long-term-request.hex'));
    const username = readText(m, Attr.USERNAME)!;
    expect(username).toBe('\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9');
    expect(readText(m, Attr.REALM)).toBe('example.org');
    expect(readText(m, Attr.NONCE)).toBe('f//499k954d6OL34oL9FSTvy64sA');
    expect(verifyFingerprint(m)).toBe('absent');
    expect(verifyIntegrity(m, longTermKey(username, 'example.org', 'TheMatrIX'))).toBe('valid');
  });

  it('XOR addresses encode back to the vector bytes (IPv4 and IPv6)', () => {
    const v4 = decoded(fixture('rfc5769-sample-ipv4-response.hex'));
    const v6 = decoded(fixture('rfc5769-sample-ipv6-response.hex'));
    expect(xorAddressAttribute(Attr.XOR_MAPPED_ADDRESS, { family: 4, address: '192.0.2.1', port: 32853 }, v4.transactionId).value.toString('hex')).toBe('0001a147e112a643');
    expect(xorAddressAttribute(Attr.XOR_MAPPED_ADDRESS, { family: 6, address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 }, v6.transactionId).value.toString('hex')).toBe(
      '0002a1470113a9faa5d3f179bc25f4b5bed2b9d9',
    );
  });

  it('one flipped bit breaks the fingerprint and the integrity', () => {
    const bytes = Buffer.from(fixture('rfc5769-sample-ipv4-response.hex'));
    bytes[30] ^= 0x01; // inside SOFTWARE
    const m = decoded(bytes);
    expect(verifyFingerprint(m)).toBe('invalid');
    expect(verifyIntegrity(m, shortTermKey(VECTOR_PASSWORD))).toBe('invalid');
    expect(judgeBindingResponse(m)).toMatchObject({ ok: false, kind: 'bad-response', problem: expect.stringContaining('FINGERPRINT') });
  });
});

describe('ERROR-CODE', () => {
  it("decodes a real coturn 401 as 401 Unauthorized, a challenge with REALM and NONCE", () => {
    // Prepare
    const m = decoded(fixture('coturn-401-allocate.hex'));
    // Act
    const error = readErrorCode(m);
    const verdict = judgeTurnResponse(m, Method.ALLOCATE);
    // Assess
    expect(m.method).toBe(Method.ALLOCATE);
    expect(m.cls).toBe('error');
    expect(error).toEqual({ code: 401, reason: 'Unauthorized' });
    expect(verdict).toEqual({ kind: 'challenge', code: 401, realm: 'stun-lab.test', nonce: '644fe769289bb700' });
    expect(verifyFingerprint(m)).toBe('valid');
  });

  it('round-trips 300–699 codes, and a signed 401 answer is an authentication failure, not a challenge', () => {
    for (const code of [300, 401, 420, 437, 438, 441, 486, 508, 600]) {
      const tid = Buffer.alloc(12, 7);
      const bytes = encodeMessage({ method: Method.ALLOCATE, cls: 'error', transactionId: tid, attributes: [errorCodeAttribute(code, 'x')] });
      expect(readErrorCode(decoded(bytes))).toEqual({ code, reason: 'x' });
    }
    const challenge = encodeMessage({ method: Method.ALLOCATE, cls: 'error', transactionId: Buffer.alloc(12), attributes: [errorCodeAttribute(401, 'Unauthorized'), textAttribute(Attr.REALM, 'r'), textAttribute(Attr.NONCE, 'n')] });
    expect(judgeTurnResponse(decoded(challenge), Method.ALLOCATE, Buffer.from('key'))).toEqual({ kind: 'error', code: 401, reason: 'Unauthorized' });
  });

  it('438 with a NONCE is a stale nonce', () => {
    const bytes = encodeMessage({ method: Method.REFRESH, cls: 'error', transactionId: Buffer.alloc(12), attributes: [errorCodeAttribute(438, 'Stale Nonce'), textAttribute(Attr.NONCE, 'fresh')] });
    expect(judgeTurnResponse(decoded(bytes), Method.REFRESH, Buffer.from('k'))).toEqual({ kind: 'stale-nonce', nonce: 'fresh', realm: undefined });
  });
});

describe('decoding bad input never throws', () => {
  const tid = Buffer.alloc(12, 1);
  const good = encodeMessage({ method: Method.BINDING, cls: 'success', transactionId: tid, attributes: [textAttribute(Attr.SOFTWARE, 'abc')] }, { fingerprint: true });

  it.each([
    ['too short', Buffer.alloc(10), /shorter than a STUN header/],
    ['first two bits set', Buffer.concat([Buffer.from([0xc1]), good.subarray(1)]), /first two bits/],
    ['no magic cookie (RFC 3489)', Buffer.concat([good.subarray(0, 4), Buffer.alloc(4), good.subarray(8)]), /magic cookie/],
    ['length field lies', Buffer.concat([good, Buffer.alloc(4)]), /announces/],
    ['random bytes', Buffer.from('ff'.repeat(40), 'hex'), /not a STUN message/],
  ])('%s', (_name, bytes, problem) => {
    const d = decodeMessage(bytes);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.problem).toMatch(problem);
  });

  it('an attribute running past the end, and one after FINGERPRINT', () => {
    const overrun = Buffer.from(good);
    overrun.writeUInt16BE(200, 22); // SOFTWARE claims 200 bytes
    expect(decodeMessage(overrun)).toMatchObject({ ok: false, problem: expect.stringMatching(/runs past the end/) });
    const after = Buffer.concat([good, Buffer.from('80220000', 'hex')]);
    after.writeUInt16BE(after.length - 20, 2);
    expect(decodeMessage(after)).toMatchObject({ ok: false, problem: expect.stringMatching(/follows FINGERPRINT/) });
  });

  it('a success without XOR-MAPPED-ADDRESS, or with a malformed one, is a bad response', () => {
    expect(judgeBindingResponse(decoded(good))).toMatchObject({ ok: false, kind: 'bad-response', problem: 'no XOR-MAPPED-ADDRESS in the success response' });
    const broken = encodeMessage({ method: Method.BINDING, cls: 'success', transactionId: tid, attributes: [{ type: Attr.XOR_MAPPED_ADDRESS, value: Buffer.from('0003a147e112a643', 'hex') }] });
    expect(judgeBindingResponse(decoded(broken))).toMatchObject({ ok: false, problem: expect.stringMatching(/unknown address family 0x03/) });
  });
});

describe('message types and stream framing', () => {
  it('maps method and class to the type field and back', () => {
    expect(messageType(Method.BINDING, 'request')).toBe(0x0001);
    expect(messageType(Method.BINDING, 'success')).toBe(0x0101);
    expect(messageType(Method.ALLOCATE, 'error')).toBe(0x0113);
    expect(messageType(Method.DATA, 'indication')).toBe(0x0017);
    expect(splitMessageType(0x0118)).toEqual({ method: Method.CREATE_PERMISSION, cls: 'error' });
  });

  it('finds message boundaries in a TCP stream of back-to-back messages (no RFC 4571 prefix)', () => {
    // Prepare: two messages, then a ChannelData frame with padding.
    const a = encodeMessage({ method: Method.BINDING, cls: 'request', transactionId: Buffer.alloc(12, 1), attributes: [] });
    const b = encodeMessage({ method: Method.BINDING, cls: 'success', transactionId: Buffer.alloc(12, 2), attributes: [textAttribute(Attr.SOFTWARE, 'x')] }, { fingerprint: true });
    const channelData = Buffer.from('40000005' + '6162636465' + '000000', 'hex'); // 4 + 5 + 3 padding
    const stream = Buffer.concat([a, b, channelData]);
    // Act
    const lengths: number[] = [];
    let rest = stream;
    for (;;) {
      const f = streamFrameLength(rest);
      if (!f || 'problem' in f || rest.length < f.length) break;
      lengths.push(f.length);
      rest = rest.subarray(f.length);
    }
    // Assess
    expect(lengths).toEqual([a.length, b.length, 12]);
    expect(streamFrameLength(stream.subarray(0, 3))).toBeUndefined();
    expect(streamFrameLength(Buffer.from('ffffffff', 'hex'))).toMatchObject({ problem: expect.stringMatching(/neither STUN nor ChannelData/) });
  });
});

describe('TURN REST credentials', () => {
  it('username is expiry:user, password base64(HMAC-SHA1(secret, username))', () => {
    // Prepare: the expected password computed with `openssl dgst -sha1 -hmac lab-secret -binary | base64`.
    const now = (1700000000 - 3600) * 1000;
    // Act
    const creds = turnRestCredentials('lab-secret', 'dialer-audit', 3600, now);
    // Assess
    expect(creds).toEqual({ username: '1700000000:dialer-audit', password: 'oiNG4YvwpYq3kMHFW9BMC92m6Uc=' });
  });
});
