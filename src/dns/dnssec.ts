// DNSSEC verdicts, as pure functions: is a resolver's SERVFAIL a validation failure, and what is
// wrong with the zone's signatures or its DS at the parent — so the finding can say what to fix.
import { createHash } from 'node:crypto';
import { describeExtendedError, type DnsRecord, type ExtendedDnsError } from '../net/dns.ts';

/** RFC 8914 INFO-CODEs that mean "DNSSEC validation failed". */
const DNSSEC_EDE = new Set([1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 25, 27]);

export function dnssecError(errors: ExtendedDnsError[]): ExtendedDnsError | undefined {
  return errors.find((e) => DNSSEC_EDE.has(e.code));
}

/** The EDE text findings append, e.g. " [EDE: DNSSEC Bogus (6)]"; empty without EDE. */
export function edeSuffix(errors: ExtendedDnsError[] | undefined): string {
  return errors && errors.length > 0 ? ` [EDE: ${errors.map(describeExtendedError).join('; ')}]` : '';
}

/** What the zone's own records say is wrong, read from its authoritative servers and the DS the parent holds. */
export interface ZoneDnssecProblem {
  kind: 'signature-expired' | 'signature-not-yet-valid' | 'ds-mismatch' | 'unsigned';
  zone: string;
  detail: string;
}

/** Seconds since the epoch as RRSIG times are written (32-bit, RFC 4034 §3.1.5 serial arithmetic around now). */
function rrsigTime(value: number, nowS: number): number {
  const wraps = Math.round((nowS - value) / 2 ** 32);
  return value + wraps * 2 ** 32;
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** Expired or not-yet-valid signatures among `records` (any RRSIGs, e.g. over the answer and over the DNSKEYs). */
export function signatureProblems(records: DnsRecord[], nowMs: number): ZoneDnssecProblem[] {
  const nowS = Math.floor(nowMs / 1000);
  const out: ZoneDnssecProblem[] = [];
  for (const r of records) {
    if (r.type !== 'RRSIG' || !r.fields) continue;
    const zone = String(r.fields.signer);
    const expiration = rrsigTime(Number(r.fields.expiration), nowS);
    const inception = rrsigTime(Number(r.fields.inception), nowS);
    const what = `the RRSIG over ${r.name} ${r.fields.typeCovered} (key tag ${r.fields.keyTag})`;
    if (expiration < nowS) out.push({ kind: 'signature-expired', zone, detail: `${what} expired at ${iso(expiration)}` });
    else if (inception > nowS) out.push({ kind: 'signature-not-yet-valid', zone, detail: `${what} is valid only from ${iso(inception)}` });
  }
  return out;
}

/** DNSKEY owner name in canonical wire form (lower case), for the DS digest. */
function wireName(name: string): Buffer {
  const labels = name.toLowerCase().replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)])), Buffer.from([0])]);
}

const DIGESTS: Record<number, string> = { 1: 'sha1', 2: 'sha256', 4: 'sha384' };

/** RFC 4034 §5.1.4: the digest a DS holds for this DNSKEY (undefined for digest types we do not know). */
export function dsDigest(zone: string, dnskey: DnsRecord, digestType: number): string | undefined {
  const algo = DIGESTS[digestType];
  const [flags, protocol, algorithm, key] = dnskey.value.split(' ');
  if (!algo || key === undefined) return undefined;
  const rdata = Buffer.alloc(4);
  rdata.writeUInt16BE(Number(flags), 0);
  rdata[2] = Number(protocol);
  rdata[3] = Number(algorithm);
  return createHash(algo).update(Buffer.concat([wireName(zone), rdata, Buffer.from(key, 'base64')])).digest('hex');
}

/** Whether the parent's DS records point at a DNSKEY the zone publishes (key tag, algorithm and digest). */
export function dsProblem(zone: string, ds: DnsRecord[], dnskeys: DnsRecord[]): ZoneDnssecProblem | undefined {
  const dsSet = ds.filter((r) => r.type === 'DS' && r.fields);
  const keys = dnskeys.filter((r) => r.type === 'DNSKEY' && r.fields);
  if (dsSet.length === 0) return undefined;
  if (keys.length === 0) return { kind: 'unsigned', zone, detail: `the parent holds a DS for ${zone} (key tag ${dsSet.map((d) => d.fields!.keyTag).join(', ')}), but the zone publishes no DNSKEY` };
  const matches = dsSet.some((d) =>
    keys.some((k) => k.fields!.keyTag === d.fields!.keyTag && k.fields!.algorithm === d.fields!.algorithm && [undefined, d.fields!.digest].includes(dsDigest(zone, k, Number(d.fields!.digestType)))),
  );
  if (matches) return undefined;
  return {
    kind: 'ds-mismatch',
    zone,
    detail: `the DS at the parent (key tag ${dsSet.map((d) => d.fields!.keyTag).join(', ')}) matches none of the zone's DNSKEYs (key tag ${keys.map((k) => k.fields!.keyTag).join(', ')})`,
  };
}

export interface DnssecVerdict {
  /** The resolver's own word for it. */
  ede?: ExtendedDnsError;
  /** The same question with CD=1 (checking disabled) got an answer: only validation stood in the way. */
  answersWithoutValidation: boolean;
  /** What the zone's records show. */
  problems: ZoneDnssecProblem[];
}

/**
 * A SERVFAIL is a validation failure when the resolver says so (EDE), when it answers the same
 * question with checking disabled (BIND 9.18 and pdns-recursor 4.8 send no EDE), or when the
 * zone's own records show why a validator must reject them (pdns-recursor SERVFAILs an expired
 * zone even with CD=1). Otherwise it is some other SERVFAIL.
 */
export function isValidationFailure(v: DnssecVerdict): boolean {
  return v.ede !== undefined || v.answersWithoutValidation || v.problems.length > 0;
}

/** Why, in one clause, and the first thing to do about it. */
export function bogusWording(v: DnssecVerdict, name: string): { why: string; firstStep: string } {
  const evidence = [
    v.ede ? `it says ${describeExtendedError(v.ede)}` : undefined,
    v.answersWithoutValidation ? 'it answers the same question with checking disabled (CD)' : undefined,
    ...v.problems.map((p) => p.detail),
  ].filter(Boolean);
  const expired = v.problems.find((p) => p.kind === 'signature-expired' || p.kind === 'signature-not-yet-valid');
  const ds = v.problems.find((p) => p.kind === 'ds-mismatch' || p.kind === 'unsigned');
  let firstStep: string;
  if (expired) {
    firstStep = `Re-sign zone ${expired.zone} now (its signer stopped refreshing the RRSIGs: check the signing job or key rollover), then flush ${name} at the resolvers; dig +dnssec +norec ${name} @authoritative shows the RRSIG's expiration.`;
  } else if (ds) {
    firstStep = `Make the DS for ${ds.zone} at its parent match the zone's key signing key (dig DS ${ds.zone} against dig DNSKEY ${ds.zone} | dnssec-dsfromkey -f - ${ds.zone}), or remove the DS to make the zone insecure; then wait out the DS TTL.`;
  } else {
    firstStep = `Check the zone's RRSIG expiry (dig +dnssec +norec ${name} @authoritative) and that the DS at the parent matches its DNSKEY (delv @resolver ${name} says which link fails).`;
  }
  return { why: evidence.join('; '), firstStep };
}
