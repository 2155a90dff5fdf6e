// The STUN message codec (RFC 8489) with the TURN attributes (RFC 8656): pure functions over bytes.
//
// Why our own and not `stun`/`@msimerson/stun`: both check FINGERPRINT and MESSAGE-INTEGRITY over a
// *re-encoded* message, so a server that pads attributes with anything but zero bytes (RFC 8489 lets it)
// fails validation, and RFC 5769's own test vectors do not validate. Here both are computed over the
// bytes exactly as received. Decoding never throws: a bad message is a `problem` the caller reports.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { crc32 } from 'node:zlib';
import { ipv6Bytes, ipv6Text } from '../address.ts';

export const MAGIC_COOKIE = 0x2112a442;
export const HEADER_LENGTH = 20;
const FINGERPRINT_XOR = 0x5354554e;
const INTEGRITY_LENGTH = 20;

export const Method = {
  BINDING: 0x001,
  ALLOCATE: 0x003,
  REFRESH: 0x004,
  SEND: 0x006,
  DATA: 0x007,
  CREATE_PERMISSION: 0x008,
  CHANNEL_BIND: 0x009,
} as const;

const METHOD_NAMES: Record<number, string> = {
  0x001: 'Binding',
  0x003: 'Allocate',
  0x004: 'Refresh',
  0x006: 'Send',
  0x007: 'Data',
  0x008: 'CreatePermission',
  0x009: 'ChannelBind',
};

export type MessageClass = 'request' | 'indication' | 'success' | 'error';
const CLASSES: MessageClass[] = ['request', 'indication', 'success', 'error'];

export const Attr = {
  MAPPED_ADDRESS: 0x0001,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  CHANNEL_NUMBER: 0x000c,
  LIFETIME: 0x000d,
  XOR_PEER_ADDRESS: 0x0012,
  DATA: 0x0013,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_RELAYED_ADDRESS: 0x0016,
  REQUESTED_TRANSPORT: 0x0019,
  XOR_MAPPED_ADDRESS: 0x0020,
  PRIORITY: 0x0024,
  SOFTWARE: 0x8022,
  ALTERNATE_SERVER: 0x8023,
  FINGERPRINT: 0x8028,
  ICE_CONTROLLED: 0x8029,
  ICE_CONTROLLING: 0x802a,
  RESPONSE_ORIGIN: 0x802b,
  OTHER_ADDRESS: 0x802c,
} as const;

/** IANA protocol number of UDP, the only relay transport we ask for (REQUESTED-TRANSPORT). */
export const TRANSPORT_UDP = 17;

export interface TransportAddress {
  family: 4 | 6;
  address: string;
  port: number;
}

export interface AttributeInput {
  type: number;
  value: Buffer;
}

export interface StunAttribute extends AttributeInput {
  /** Offset of the attribute's header within `raw`. */
  offset: number;
}

export interface StunMessage {
  method: number;
  cls: MessageClass;
  transactionId: Buffer;
  attributes: StunAttribute[];
  /** The message exactly as received: integrity and fingerprint are checked over these bytes. */
  raw: Buffer;
}

export type Decoded = { ok: true; message: StunMessage } | { ok: false; problem: string };

export function messageType(method: number, cls: MessageClass): number {
  const c = CLASSES.indexOf(cls);
  return ((method & 0xf80) << 2) | ((method & 0x070) << 1) | (method & 0x00f) | ((c & 2) << 7) | ((c & 1) << 4);
}

export function splitMessageType(type: number): { method: number; cls: MessageClass } {
  const method = ((type & 0x3e00) >> 2) | ((type & 0x00e0) >> 1) | (type & 0x000f);
  const c = ((type & 0x0100) >> 7) | ((type & 0x0010) >> 4);
  return { method, cls: CLASSES[c] };
}

/** "Allocate error response", for messages people read. */
export function describeType(method: number, cls: MessageClass): string {
  const name = METHOD_NAMES[method] ?? `method 0x${method.toString(16).padStart(3, '0')}`;
  const kind = { request: 'request', indication: 'indication', success: 'success response', error: 'error response' }[cls];
  return `${name} ${kind}`;
}

export function newTransactionId(): Buffer {
  return randomBytes(12);
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

export interface EncodeOptions {
  /** Adds MESSAGE-INTEGRITY (HMAC-SHA1) with this key. */
  integrityKey?: Buffer;
  /** Adds FINGERPRINT (CRC-32 ^ 0x5354554e) last. */
  fingerprint?: boolean;
  /** Byte used for attribute padding (RFC 5769's vectors pad with 0x20). */
  padByte?: number;
}

export function encodeMessage(
  m: { method: number; cls: MessageClass; transactionId: Buffer; attributes: AttributeInput[] },
  opts: EncodeOptions = {},
): Buffer {
  if (m.transactionId.length !== 12) throw new RangeError('a STUN transaction id is 12 bytes');
  const parts: Buffer[] = [];
  for (const a of m.attributes) {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(a.type, 0);
    head.writeUInt16BE(a.value.length, 2);
    parts.push(head, a.value, Buffer.alloc(pad4(a.value.length), opts.padByte ?? 0));
  }
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt16BE(messageType(m.method, m.cls), 0);
  header.writeUInt32BE(MAGIC_COOKIE, 4);
  m.transactionId.copy(header, 8);
  let message = Buffer.concat([header, ...parts]);
  if (opts.integrityKey) {
    // The length covers MESSAGE-INTEGRITY itself while the HMAC is computed (RFC 8489 §14.5).
    message.writeUInt16BE(message.length - HEADER_LENGTH + 4 + INTEGRITY_LENGTH, 2);
    const hmac = createHmac('sha1', opts.integrityKey).update(message).digest();
    const head = Buffer.alloc(4);
    head.writeUInt16BE(Attr.MESSAGE_INTEGRITY, 0);
    head.writeUInt16BE(INTEGRITY_LENGTH, 2);
    message = Buffer.concat([message, head, hmac]);
  }
  if (opts.fingerprint) {
    message.writeUInt16BE(message.length - HEADER_LENGTH + 8, 2);
    const fp = Buffer.alloc(8);
    fp.writeUInt16BE(Attr.FINGERPRINT, 0);
    fp.writeUInt16BE(4, 2);
    fp.writeUInt32BE((crc32(message) ^ FINGERPRINT_XOR) >>> 0, 4);
    message = Buffer.concat([message, fp]);
  } else {
    message.writeUInt16BE(message.length - HEADER_LENGTH, 2);
  }
  return message;
}

/** A first look at bytes: is this even meant to be STUN? (RFC 7983 demultiplexing: first byte 0–3.) */
export function looksLikeStun(buf: Buffer): boolean {
  return buf.length >= HEADER_LENGTH && (buf[0] & 0xc0) === 0 && buf.readUInt32BE(4) === MAGIC_COOKIE;
}

export function decodeMessage(buf: Buffer): Decoded {
  if (buf.length < HEADER_LENGTH) return { ok: false, problem: `only ${buf.length} bytes, shorter than a STUN header (20)` };
  if ((buf[0] & 0xc0) !== 0) return { ok: false, problem: `the first two bits are not zero (first byte 0x${buf[0].toString(16)}): not a STUN message` };
  if (buf.readUInt32BE(4) !== MAGIC_COOKIE) {
    return { ok: false, problem: 'no magic cookie 0x2112a442: not an RFC 5389/8489 STUN message (an RFC 3489-only server, or not STUN at all)' };
  }
  const length = buf.readUInt16BE(2);
  if (length % 4 !== 0) return { ok: false, problem: `the header's length ${length} is not a multiple of 4` };
  if (HEADER_LENGTH + length !== buf.length) {
    return { ok: false, problem: `the header announces ${length} bytes of attributes, the message carries ${buf.length - HEADER_LENGTH}` };
  }
  const { method, cls } = splitMessageType(buf.readUInt16BE(0));
  const attributes: StunAttribute[] = [];
  let offset = HEADER_LENGTH;
  while (offset < buf.length) {
    if (buf.length - offset < 4) return { ok: false, problem: `a truncated attribute header at byte ${offset}` };
    const type = buf.readUInt16BE(offset);
    const valueLength = buf.readUInt16BE(offset + 2);
    const end = offset + 4 + valueLength;
    if (end > buf.length) return { ok: false, problem: `attribute 0x${type.toString(16).padStart(4, '0')} (${valueLength} bytes) runs past the end of the message` };
    if (attributes.some((a) => a.type === Attr.FINGERPRINT)) return { ok: false, problem: 'an attribute follows FINGERPRINT, which must be last' };
    attributes.push({ type, value: buf.subarray(offset + 4, end), offset });
    offset = end + pad4(valueLength);
  }
  if (offset !== buf.length) return { ok: false, problem: 'the last attribute is not padded to a multiple of 4 bytes' };
  return { ok: true, message: { method, cls, transactionId: Buffer.from(buf.subarray(8, 20)), attributes, raw: buf } };
}

/**
 * Length of the next frame in a STUN-over-TCP stream: STUN messages back to back (RFC 8489 §6.2.2),
 * TURN ChannelData padded to 4 bytes over TCP (RFC 8656 §12.5). `undefined`: need more bytes.
 */
export function streamFrameLength(buf: Buffer): { length: number } | { problem: string } | undefined {
  if (buf.length < 4) return undefined;
  const top = buf[0] & 0xc0;
  if (top === 0x00) return { length: HEADER_LENGTH + buf.readUInt16BE(2) };
  if (top === 0x40) {
    const data = buf.readUInt16BE(2);
    return { length: 4 + data + pad4(data) };
  }
  return { problem: `the stream carries bytes that are neither STUN nor ChannelData (first byte 0x${buf[0].toString(16)})` };
}

export function getAttribute(m: StunMessage, type: number): StunAttribute | undefined {
  return m.attributes.find((a) => a.type === type);
}

export function textAttribute(type: number, text: string): AttributeInput {
  return { type, value: Buffer.from(text, 'utf8') };
}

export function uint32Attribute(type: number, value: number): AttributeInput {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0, 0);
  return { type, value: b };
}

export function readText(m: StunMessage, type: number): string | undefined {
  return getAttribute(m, type)?.value.toString('utf8');
}

export function readUint32(m: StunMessage, type: number): number | undefined {
  const a = getAttribute(m, type);
  return a && a.value.length === 4 ? a.value.readUInt32BE(0) : undefined;
}

/** REQUESTED-TRANSPORT: the protocol number followed by three reserved bytes. */
export function requestedTransport(protocol: number): AttributeInput {
  const b = Buffer.alloc(4);
  b[0] = protocol;
  return { type: Attr.REQUESTED_TRANSPORT, value: b };
}

function xorMask(transactionId: Buffer): Buffer {
  const mask = Buffer.alloc(16);
  mask.writeUInt32BE(MAGIC_COOKIE, 0);
  transactionId.copy(mask, 4);
  return mask;
}

export function xorAddressAttribute(type: number, addr: TransportAddress, transactionId: Buffer): AttributeInput {
  const mask = xorMask(transactionId);
  const raw = addr.family === 4 ? Buffer.from(addr.address.split('.').map(Number)) : ipv6Bytes(addr.address);
  const value = Buffer.alloc(4 + raw.length);
  value[1] = addr.family === 4 ? 0x01 : 0x02;
  value.writeUInt16BE(addr.port ^ (MAGIC_COOKIE >>> 16), 2);
  for (let i = 0; i < raw.length; i++) value[4 + i] = raw[i] ^ mask[i];
  return { type, value };
}

export type AddressRead = { ok: true; address: TransportAddress } | { ok: false; problem: string };

/** XOR-MAPPED-ADDRESS, XOR-RELAYED-ADDRESS, XOR-PEER-ADDRESS. */
export function readXorAddress(m: StunMessage, type: number): AddressRead | undefined {
  const a = getAttribute(m, type);
  if (!a) return undefined;
  return parseAddressValue(a.value, xorMask(m.transactionId));
}

/** MAPPED-ADDRESS and the other plain address attributes. */
export function readPlainAddress(m: StunMessage, type: number): AddressRead | undefined {
  const a = getAttribute(m, type);
  if (!a) return undefined;
  return parseAddressValue(a.value, Buffer.alloc(16));
}

function parseAddressValue(value: Buffer, mask: Buffer): AddressRead {
  if (value.length < 4) return { ok: false, problem: `${value.length}-byte address attribute (at least 8 expected)` };
  const family = value[1];
  const expected = family === 0x01 ? 8 : family === 0x02 ? 20 : undefined;
  if (expected === undefined) return { ok: false, problem: `unknown address family 0x${family.toString(16).padStart(2, '0')}` };
  if (value.length !== expected) return { ok: false, problem: `${value.length}-byte ${family === 1 ? 'IPv4' : 'IPv6'} address attribute (${expected} expected)` };
  const port = value.readUInt16BE(2) ^ (mask.readUInt16BE(0));
  const bytes = Buffer.alloc(value.length - 4);
  for (let i = 0; i < bytes.length; i++) bytes[i] = value[4 + i] ^ mask[i];
  const address = family === 0x01 ? [...bytes].join('.') : ipv6Text(bytes);
  if (port === 0) return { ok: false, problem: `port 0 in the address ${address}` };
  return { ok: true, address: { family: family === 0x01 ? 4 : 6, address, port } };
}

export function errorCodeAttribute(code: number, reason: string): AttributeInput {
  const text = Buffer.from(reason, 'utf8');
  const value = Buffer.alloc(4 + text.length);
  value[2] = Math.floor(code / 100) & 0x07;
  value[3] = code % 100;
  text.copy(value, 4);
  return { type: Attr.ERROR_CODE, value };
}

/** ERROR-CODE: class (hundreds) in the low 3 bits of byte 2, number in byte 3 — so 401 reads as 401. */
export function readErrorCode(m: StunMessage): { code: number; reason: string } | { problem: string } | undefined {
  const a = getAttribute(m, Attr.ERROR_CODE);
  if (!a) return undefined;
  if (a.value.length < 4) return { problem: `${a.value.length}-byte ERROR-CODE attribute` };
  const cls = a.value[2] & 0x07;
  const num = a.value[3];
  if (cls < 3 || cls > 6 || num > 99) return { problem: `ERROR-CODE with class ${cls} and number ${num} (300–699 expected)` };
  return { code: cls * 100 + num, reason: a.value.subarray(4).toString('utf8') };
}

export type Verdict = 'absent' | 'valid' | 'invalid';

/** FINGERPRINT over the received bytes; it must be the last attribute. */
export function verifyFingerprint(m: StunMessage): Verdict {
  const fp = getAttribute(m, Attr.FINGERPRINT);
  if (!fp) return 'absent';
  if (fp.value.length !== 4 || fp.offset + 8 !== m.raw.length) return 'invalid';
  const expected = (crc32(m.raw.subarray(0, fp.offset)) ^ FINGERPRINT_XOR) >>> 0;
  return fp.value.readUInt32BE(0) === expected ? 'valid' : 'invalid';
}

/** MESSAGE-INTEGRITY (HMAC-SHA1) over the received bytes up to it, length adjusted to end at it. */
export function verifyIntegrity(m: StunMessage, key: Buffer): Verdict {
  const mi = getAttribute(m, Attr.MESSAGE_INTEGRITY);
  if (!mi) return 'absent';
  if (mi.value.length !== INTEGRITY_LENGTH) return 'invalid';
  const covered = Buffer.from(m.raw.subarray(0, mi.offset));
  covered.writeUInt16BE(mi.offset - HEADER_LENGTH + 4 + INTEGRITY_LENGTH, 2);
  const hmac = createHmac('sha1', key).update(covered).digest();
  return timingSafeEqual(hmac, mi.value) ? 'valid' : 'invalid';
}

/**
 * The long-term credential key: MD5(username ":" realm ":" password) (RFC 8489 §9.2.2).
 * Passwords are used as given (no SASLprep/OpaqueString step): coturn does the same.
 */
export function longTermKey(username: string, realm: string, password: string): Buffer {
  return createHash('md5').update(`${username}:${realm}:${password}`, 'utf8').digest();
}

/** Short-term credentials (ICE): the key is the password itself. */
export function shortTermKey(password: string): Buffer {
  return Buffer.from(password, 'utf8');
}

export function isIpLiteral(host: string): 4 | 6 | 0 {
  return isIPv4(host) ? 4 : isIPv6(host) ? 6 : 0;
}

export function formatTransportAddress(a: { address: string; port: number; family?: 4 | 6 }): string {
  return (a.family ?? isIpLiteral(a.address)) === 6 ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
