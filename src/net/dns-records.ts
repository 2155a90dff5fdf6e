// What a reply says, once dns-wire.ts has judged it well formed: records as normalised text (and
// parsed fields where checks need them), Extended DNS Errors, the ECS scope, the header flags.
import dnsPacket from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';
import type { DnsRecord, DnsResponse, ExtendedDnsError } from './dns-types.ts';
import { canonicalIp } from '../address.ts';
import { normalizeName } from './dns-wire.ts';

interface DecodedOption {
  code: number;
  data?: Buffer;
  scopePrefixLength?: number;
}

/** EDE options and the ECS scope from the reply's OPT record (a reply without EDNS has neither). */
export function ednsOptionsOf(packet: Packet): { extendedErrors: ExtendedDnsError[]; clientSubnetScope?: number } {
  const opt = (packet.additionals ?? []).find((a) => a.type === 'OPT') as { options?: DecodedOption[] } | undefined;
  const extendedErrors: ExtendedDnsError[] = [];
  let clientSubnetScope: number | undefined;
  for (const o of opt?.options ?? []) {
    if (o.code === 15 && o.data && o.data.length >= 2) {
      // EXTRA-TEXT is UTF-8 "for human consumption": kept as data, cut short.
      extendedErrors.push({ code: o.data.readUInt16BE(0), text: o.data.subarray(2, 2 + 200).toString('utf8').replace(/\0+$/, '') });
    } else if (o.code === 8 && typeof o.scopePrefixLength === 'number') {
      clientSubnetScope = o.scopePrefixLength;
    }
  }
  return { extendedErrors, clientSubnetScope };
}

function toRecord(a: Answer): DnsRecord | undefined {
  if (a.type === 'OPT') return undefined;
  const base = { name: normalizeName(a.name), type: a.type, ttl: (a as { ttl?: number }).ttl ?? 0 };
  const data = (a as { data?: unknown }).data;
  switch (a.type) {
    case 'A':
      return { ...base, value: String(data) };
    case 'AAAA':
      return { ...base, value: canonicalIp(String(data)) };
    case 'CNAME':
    case 'NS':
    case 'PTR':
    case 'DNAME':
      return { ...base, value: normalizeName(String(data)) };
    case 'SOA': {
      const s = data as { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };
      const fields = { ...s, mname: normalizeName(s.mname), rname: normalizeName(s.rname) };
      return { ...base, value: `${fields.mname} ${fields.rname} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`, fields };
    }
    case 'SRV': {
      const s = data as { priority: number; weight: number; port: number; target: string };
      const fields = { priority: s.priority, weight: s.weight, port: s.port, target: normalizeName(s.target) };
      return { ...base, value: `${s.priority} ${s.weight} ${s.port} ${fields.target}`, fields };
    }
    case 'NAPTR': {
      const n = data as { order: number; preference: number; flags: string; services: string; regexp: string; replacement: string };
      const fields = { ...n, flags: n.flags.toLowerCase(), replacement: normalizeName(n.replacement) };
      return { ...base, value: `${n.order} ${n.preference} "${fields.flags}" "${n.services}" "${n.regexp}" ${fields.replacement}`, fields };
    }
    case 'MX': {
      const m = data as { preference: number; exchange: string };
      return { ...base, value: `${m.preference} ${normalizeName(m.exchange)}` };
    }
    case 'TXT': {
      const parts = Array.isArray(data) ? data : [data];
      return { ...base, value: parts.map((p) => (Buffer.isBuffer(p) ? p.toString('utf8') : String(p))).join('') };
    }
    case 'RRSIG': {
      const r = data as { typeCovered: string; algorithm: number; labels: number; originalTTL: number; expiration: number; inception: number; keyTag: number; signersName: string };
      const fields = { typeCovered: r.typeCovered, algorithm: r.algorithm, keyTag: r.keyTag, signer: normalizeName(r.signersName), expiration: r.expiration, inception: r.inception };
      return { ...base, value: `${r.typeCovered} ${r.algorithm} ${r.keyTag} ${fields.signer} ${r.inception}-${r.expiration}`, fields };
    }
    case 'DS': {
      const d = data as { keyTag: number; algorithm: number; digestType: number; digest: Buffer };
      const fields = { keyTag: d.keyTag, algorithm: d.algorithm, digestType: d.digestType, digest: d.digest.toString('hex') };
      return { ...base, value: `${d.keyTag} ${d.algorithm} ${d.digestType} ${fields.digest}`, fields };
    }
    case 'DNSKEY': {
      const k = data as { flags: number; algorithm: number; key: Buffer };
      const fields = { flags: k.flags, algorithm: k.algorithm, keyTag: keyTag(k.flags, k.algorithm, k.key) };
      return { ...base, value: `${k.flags} 3 ${k.algorithm} ${k.key.toString('base64')}`, fields };
    }
    default:
      return { ...base, value: Buffer.isBuffer(data) ? data.toString('hex') : JSON.stringify(data) };
  }
}

/** RFC 4034 Appendix B: the key tag a DS or RRSIG names this DNSKEY by. */
export function keyTag(flags: number, algorithm: number, key: Buffer): number {
  const rdata = Buffer.alloc(4 + key.length);
  rdata.writeUInt16BE(flags, 0);
  rdata[2] = 3;
  rdata[3] = algorithm;
  key.copy(rdata, 4);
  let sum = 0;
  for (let i = 0; i < rdata.length; i++) sum += i & 1 ? rdata[i] : rdata[i] << 8;
  sum += (sum >> 16) & 0xffff;
  return sum & 0xffff;
}

export function toResponse(packet: Packet, transport: DnsResponse['transport'], rttMs: number, attempts: number, bytes: number): DnsResponse {
  const flags = packet.flags ?? 0;
  return {
    rcode: (packet as { rcode?: string }).rcode ?? 'NOERROR',
    authoritative: (flags & dnsPacket.AUTHORITATIVE_ANSWER) !== 0,
    truncated: (flags & dnsPacket.TRUNCATED_RESPONSE) !== 0,
    recursionAvailable: (flags & dnsPacket.RECURSION_AVAILABLE) !== 0,
    authenticated: (flags & dnsPacket.AUTHENTIC_DATA) !== 0,
    ...ednsOptionsOf(packet),
    answers: (packet.answers ?? []).map(toRecord).filter((r): r is DnsRecord => r !== undefined),
    authorities: (packet.authorities ?? []).map(toRecord).filter((r): r is DnsRecord => r !== undefined),
    transport,
    rttMs,
    attempts,
    bytes,
  };
}

// ── Extended DNS Errors ───────────────────────────────────────────────────────────────────────

/** RFC 8914 §4 and the IANA registry: the INFO-CODE names people search for. */
const EDE_NAMES: Record<number, string> = {
  0: 'Other Error',
  1: 'Unsupported DNSKEY Algorithm',
  2: 'Unsupported DS Digest Type',
  3: 'Stale Answer',
  4: 'Forged Answer',
  5: 'DNSSEC Indeterminate',
  6: 'DNSSEC Bogus',
  7: 'Signature Expired',
  8: 'Signature Not Yet Valid',
  9: 'DNSKEY Missing',
  10: 'RRSIGs Missing',
  11: 'No Zone Key Bit Set',
  12: 'NSEC Missing',
  13: 'Cached Error',
  14: 'Not Ready',
  15: 'Blocked',
  16: 'Censored',
  17: 'Filtered',
  18: 'Prohibited',
  19: 'Stale NXDOMAIN Answer',
  20: 'Not Authoritative',
  21: 'Not Supported',
  22: 'No Reachable Authority',
  23: 'Network Error',
  24: 'Invalid Data',
  25: 'Signature Expired before Valid',
  26: 'Too Early',
  27: 'Unsupported NSEC3 Iterations Value',
  28: 'Unable to conform to policy',
  29: 'Synthesized',
  30: 'Invalid Query Type',
};

/** "DNSSEC Bogus (6): signature expired" — the way findings quote an Extended DNS Error. */
export function describeExtendedError(e: ExtendedDnsError): string {
  const name = EDE_NAMES[e.code] ?? 'Unknown Error';
  return `${name} (${e.code})${e.text ? `: ${e.text}` : ''}`;
}
