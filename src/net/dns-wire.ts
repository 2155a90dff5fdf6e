// DNS messages on the wire: the query we send (written by hand), and the checks a reply must
// pass before anything in it is believed — its bytes are walked record by record first, because
// dns-packet reads A/AAAA rdata at a fixed size whatever RDLENGTH says (an A record with RDLENGTH
// 0 decodes as the next record's bytes, or as "undefined.undefined…" past the end).
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { Packet } from 'dns-packet';
import { ipv6Bytes } from '../address.ts';
import type { ClientSubnet, DnsQuery, QueryFlags, RecordType } from './dns-types.ts';

export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

// ── the query ───────────────────────────────────────────────────────────────────────────────

const TYPE_CODES: Record<RecordType, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, NAPTR: 35, DS: 43, RRSIG: 46, DNSKEY: 48, CAA: 257 };
const CLASS_CODES = { IN: 1, CH: 3 } as const;

/**
 * The query on the wire: header, one question and an EDNS0 OPT record. Written by hand because it
 * is the same 30-odd bytes every time and dns-packet's general encoder was a sixth of the client's
 * CPU time; a unit test checks it against dns-packet's decoder.
 */
export function encodeQuery(id: number, name: string, type: RecordType, flags: QueryFlags | boolean, ednsBufferSize: number): Buffer {
  const f: QueryFlags = typeof flags === 'boolean' ? { recursionDesired: flags } : flags;
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  const qnameLength = labels.reduce((n, l) => n + 1 + Buffer.byteLength(l), 1);
  if (qnameLength > 255 || labels.some((l) => Buffer.byteLength(l) > 63)) throw new RangeError(`not a valid DNS name: ${name}`);
  const ecs = f.clientSubnet ? encodeClientSubnet(f.clientSubnet) : undefined;
  const optionsLength = ecs ? 4 + ecs.length : 0;
  // allocUnsafe draws from Node's shared pool (Buffer.alloc makes a new ArrayBuffer each time, which
  // the garbage collector pays for); every byte is written below.
  const buf = Buffer.allocUnsafe(12 + qnameLength + 4 + 11 + optionsLength);
  buf.writeUInt16BE(id, 0);
  buf.writeUInt16BE((f.recursionDesired ? 0x0100 : 0) | (f.authenticatedData ? 0x0020 : 0) | (f.checkingDisabled ? 0x0010 : 0), 2);
  buf.writeUInt16BE(1, 4); // QDCOUNT
  buf.writeUInt32BE(0, 6); // ANCOUNT, NSCOUNT
  buf.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  let at = 12;
  for (const label of labels) {
    const length = buf.write(label, at + 1, 'utf8');
    buf[at] = length;
    at += 1 + length;
  }
  buf[at++] = 0;
  buf.writeUInt16BE(TYPE_CODES[type], at);
  buf.writeUInt16BE(CLASS_CODES[f.qclass ?? 'IN'], at + 2);
  at += 4;
  // OPT: root name, type 41, class = UDP payload size, TTL = extended rcode 0, version 0, flags (DO).
  buf[at] = 0;
  buf.writeUInt16BE(41, at + 1);
  buf.writeUInt16BE(ednsBufferSize, at + 3);
  buf.writeUInt16BE(0, at + 5);
  buf.writeUInt16BE(f.dnssecOk ? 0x8000 : 0, at + 7);
  buf.writeUInt16BE(optionsLength, at + 9);
  if (ecs) {
    buf.writeUInt16BE(8, at + 11); // OPTION-CODE: edns-client-subnet
    buf.writeUInt16BE(ecs.length, at + 13);
    ecs.copy(buf, at + 15);
  }
  return buf;
}

/** RFC 7871 §6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH 0, the address cut to the prefix. */
function encodeClientSubnet(subnet: ClientSubnet): Buffer {
  const v6 = net.isIPv6(subnet.address);
  if (!v6 && !net.isIPv4(subnet.address)) throw new RangeError(`not an IP address: ${subnet.address}`);
  const bits = v6 ? 128 : 32;
  if (!Number.isInteger(subnet.prefixLength) || subnet.prefixLength < 0 || subnet.prefixLength > bits) {
    throw new RangeError(`prefix length ${subnet.prefixLength} is out of range for ${subnet.address}`);
  }
  const full = v6 ? ipv6Bytes(subnet.address) : Buffer.from(subnet.address.split('.').map(Number));
  const keep = Math.ceil(subnet.prefixLength / 8);
  const address = Buffer.from(full.subarray(0, keep));
  // Bits past the prefix must be zero (RFC 7871 §6): a server may otherwise refuse the option.
  if (subnet.prefixLength % 8 !== 0) address[keep - 1] &= 0xff << (8 - (subnet.prefixLength % 8));
  const out = Buffer.alloc(4 + keep);
  out.writeUInt16BE(v6 ? 2 : 1, 0);
  out[2] = subnet.prefixLength;
  out[3] = 0;
  address.copy(out, 4);
  return out;
}

export function buildQuery(id: number, q: DnsQuery, ednsBufferSize: number): Buffer {
  return encodeQuery(id, q.name, q.type, q, ednsBufferSize);
}

// ── is the reply well-formed? ─────────────────────────────────────────────────────────────────

const SECTIONS = ['answer', 'authority', 'additional'] as const;
/** Types whose rdata is exactly one domain name. */
const NAME_RDATA = new Set([2, 5, 12, 39]); // NS, CNAME, PTR, DNAME

/**
 * Walks the message's bytes and says what is wrong with it, or undefined when every record lies
 * inside the message, every name is well formed, A rdata is 4 bytes, AAAA 16, and names in
 * CNAME/NS/PTR/DNAME/MX/SRV/SOA rdata fill their RDLENGTH exactly. Allocates nothing when the
 * message is fine (it runs on every reply).
 */
export function validateMessage(buf: Buffer): string | undefined {
  if (buf.length < 12) return `${buf.length}-byte message is shorter than a DNS header`;
  let at = 12;
  const qdcount = buf.readUInt16BE(4);
  for (let i = 0; i < qdcount; i++) {
    const end = nameEnd(buf, at, buf.length);
    if (end < 0) return `question ${i + 1}: ${NAME_PROBLEMS[-end]}`;
    at = end + 4;
    if (at > buf.length) return `question ${i + 1} runs past the end of the ${buf.length}-byte message`;
  }
  for (let s = 0; s < 3; s++) {
    const count = buf.readUInt16BE(6 + 2 * s);
    for (let i = 0; i < count; i++) {
      const nameAt = nameEnd(buf, at, buf.length);
      if (nameAt < 0) return `${SECTIONS[s]} record ${i + 1}: ${NAME_PROBLEMS[-nameAt]}`;
      if (nameAt + 10 > buf.length) return `${SECTIONS[s]} record ${i + 1} runs past the end of the ${buf.length}-byte message`;
      const type = buf.readUInt16BE(nameAt);
      const rdlength = buf.readUInt16BE(nameAt + 8);
      const rdata = nameAt + 10;
      const end = rdata + rdlength;
      if (end > buf.length) return `${SECTIONS[s]} record ${i + 1} (${typeName(type)}): RDLENGTH ${rdlength} runs past the end of the ${buf.length}-byte message`;
      const problem = rdataProblem(buf, type, rdata, end);
      if (problem) return `${SECTIONS[s]} record ${i + 1} (${typeName(type)}): ${problem}`;
      at = end;
    }
  }
  return undefined;
}

const TYPE_NAMES: Record<number, string> = {
  ...Object.fromEntries(Object.entries(TYPE_CODES).map(([name, code]) => [code, name])),
  39: 'DNAME',
  41: 'OPT',
  47: 'NSEC',
  50: 'NSEC3',
};

function typeName(code: number): string {
  return TYPE_NAMES[code] ?? `TYPE${code}`;
}

function rdataProblem(buf: Buffer, type: number, start: number, end: number): string | undefined {
  const length = end - start;
  switch (type) {
    case 1:
      return length === 4 ? undefined : `RDLENGTH ${length}, but an A record is 4 bytes`;
    case 28:
      return length === 16 ? undefined : `RDLENGTH ${length}, but an AAAA record is 16 bytes`;
    case 15: // MX: preference, exchange
      return length < 3 ? `RDLENGTH ${length} is too short for MX` : exactName(buf, start + 2, end);
    case 33: // SRV: priority, weight, port, target
      return length < 7 ? `RDLENGTH ${length} is too short for SRV` : exactName(buf, start + 6, end);
    case 6: {
      const mname = nameEnd(buf, start, end);
      if (mname < 0) return `MNAME: ${NAME_PROBLEMS[-mname]}`;
      const rname = nameEnd(buf, mname, end);
      if (rname < 0) return `RNAME: ${NAME_PROBLEMS[-rname]}`;
      return rname + 20 === end ? undefined : `RDLENGTH ${length} does not fit two names and five 32-bit fields`;
    }
    case 16: {
      // TXT: one or more character-strings, exactly filling the rdata.
      let at = start;
      while (at < end) at += 1 + buf[at];
      return at === end && length > 0 ? undefined : `its character-strings do not fill RDLENGTH ${length}`;
    }
    case 41: {
      // OPT: options as code, length, data — exactly filling the rdata.
      let at = start;
      while (at + 4 <= end) at += 4 + buf.readUInt16BE(at + 2);
      return at === end ? undefined : `its options do not fill RDLENGTH ${length}`;
    }
    default:
      return NAME_RDATA.has(type) ? exactName(buf, start, end) : undefined;
  }
}

function exactName(buf: Buffer, start: number, end: number): string | undefined {
  const after = nameEnd(buf, start, end);
  if (after < 0) return NAME_PROBLEMS[-after];
  return after === end ? undefined : `the name ends ${end - after} bytes before its RDLENGTH`;
}

const NAME_PROBLEMS = ['', 'a name runs past its bounds', 'a name has a bad label type', 'a name has a compression pointer loop or points outside the message', 'a name is longer than 255 bytes'];

/**
 * Where the name starting at `at` ends (the byte after it, or after its compression pointer), or a
 * negative index into NAME_PROBLEMS. Pointers must point backwards into the message.
 */
function nameEnd(buf: Buffer, at: number, limit: number): number {
  let end = -1;
  let length = 0;
  let hops = 0;
  let pos = at;
  let bound = limit;
  for (;;) {
    if (pos >= bound) return -1;
    const byte = buf[pos];
    if (byte === 0) return end < 0 ? pos + 1 : end;
    const kind = byte & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= bound) return -1;
      const target = ((byte & 0x3f) << 8) | buf[pos + 1];
      if (end < 0) end = pos + 2;
      if (target >= pos || ++hops > 64) return -3;
      pos = target;
      bound = buf.length;
      continue;
    }
    if (kind !== 0) return -2;
    length += byte + 1;
    if (length > 255) return -4;
    pos += byte + 1;
  }
}

// ── believing a reply ─────────────────────────────────────────────────────────────────────────

export type Verdict =
  | { kind: 'ignore'; why: string }
  | { kind: 'malformed'; detail: string }
  | { kind: 'reply'; packet: Packet };

/**
 * Decide whether a datagram/stream message is the reply to our query: it must carry our id (`id`
 * -1 skips that: DoH replies carry id 0 and arrive on their own stream), be well formed, be a
 * response, and echo our question.
 */
export function judgeReply(buf: Buffer, id: number, q: DnsQuery): Verdict {
  if (buf.length < 2) return { kind: 'ignore', why: `${buf.length}-byte datagram` };
  if (id >= 0 && buf.readUInt16BE(0) !== id) return { kind: 'ignore', why: 'id does not match' };
  const problem = validateMessage(buf);
  if (problem) return { kind: 'malformed', detail: `invalid ${buf.length}-byte reply: ${problem}` };
  let packet: Packet;
  try {
    packet = dnsPacket.decode(buf);
  } catch (err) {
    return { kind: 'malformed', detail: `undecodable ${buf.length}-byte reply: ${(err as Error).message}` };
  }
  if (packet.type !== 'response') return { kind: 'ignore', why: 'not a response' };
  const question = packet.questions?.[0];
  if (!question || normalizeName(question.name) !== normalizeName(q.name) || question.type !== q.type) {
    return { kind: 'ignore', why: 'question does not match' };
  }
  return { kind: 'reply', packet };
}
