// Pure comparison of what a resolver hands out against what the zone holds.
//
// The rule (also in the README, "How answers are compared"):
// 1. The zone's view is every authoritative server's answer (they may disagree; that is its own finding).
// 2. When the zone has a CNAME at the name, only the CNAME target is compared. The addresses behind
//    it belong to whoever runs the target (a load balancer rotates them) and are never compared.
// 3. When the zone has addresses at the name, a resolver is stale if it hands out any address the
//    zone does not hold. A subset is fine: Route 53 multivalue/weighted answers hand out subsets.
// 4. NXDOMAIN matches NXDOMAIN, NODATA matches NODATA; anything else against them is a mismatch.
import type { DnsRecord, DnsResult } from './net/dns.ts';
import { normalizeName } from './net/dns.ts';

export type AnswerShape =
  | {
      status: 'data';
      /** Target of the CNAME owned by the queried name, if any. */
      cname?: string;
      /** Values of the queried type at the end of the chain, sorted. */
      values: string[];
      /** TTL of the record owned by the queried name (remaining TTL when it comes from a cache). */
      ttl: number;
    }
  | { status: 'nxdomain' | 'nodata'; negativeTtl?: number }
  | { status: 'rcode'; rcode: string }
  | { status: 'failed'; kind: string; detail: string };

export function shapeOf(qname: string, qtype: string, result: DnsResult): AnswerShape {
  if (!result.ok) return { status: 'failed', kind: result.kind, detail: result.detail };
  const r = result.response;
  const negativeTtl = r.authorities.find((a) => a.type === 'SOA')?.ttl;
  if (r.rcode === 'NXDOMAIN') return { status: 'nxdomain', negativeTtl };
  if (r.rcode !== 'NOERROR') return { status: 'rcode', rcode: r.rcode };
  const name = normalizeName(qname);
  const cnameAtName = r.answers.find((a) => a.type === 'CNAME' && a.name === name);
  const finalName = followChain(name, r.answers);
  const values = r.answers
    .filter((a) => a.type === qtype && a.name === finalName)
    .map((a) => a.value)
    .sort();
  if (!cnameAtName && values.length === 0) return { status: 'nodata', negativeTtl };
  const own = cnameAtName ?? r.answers.find((a) => a.type === qtype && a.name === name);
  return { status: 'data', cname: cnameAtName?.value, values, ttl: own?.ttl ?? 0 };
}

/** The last name of a CNAME chain starting at `name` (loops stop where they close). */
function followChain(name: string, answers: DnsRecord[]): string {
  let current = name;
  const seen = new Set<string>();
  while (!seen.has(current)) {
    seen.add(current);
    const next = answers.find((a) => a.type === 'CNAME' && a.name === current);
    if (!next) break;
    current = next.value;
  }
  return current;
}

export type Comparison =
  | { consistent: true }
  | {
      consistent: false;
      /** Which code a caller should raise: stale data, a stale negative answer, or missing data. */
      kind: 'mismatch' | 'nxdomain' | 'nodata';
      reason: string;
    };

/** Whether the zone's views are all usable answers (not timeouts, not SERVFAIL). */
export function isAnswer(s: AnswerShape): s is Extract<AnswerShape, { status: 'data' | 'nxdomain' | 'nodata' }> {
  return s.status === 'data' || s.status === 'nxdomain' || s.status === 'nodata';
}

export function describeShape(s: AnswerShape): string {
  switch (s.status) {
    case 'data':
      if (s.cname) return `CNAME ${s.cname}${s.values.length ? ` (→ ${s.values.join(', ')})` : ''}`;
      return s.values.join(', ');
    case 'nxdomain':
      return 'NXDOMAIN';
    case 'nodata':
      return 'no records of that type (NODATA)';
    case 'rcode':
      return s.rcode;
    case 'failed':
      return `no answer (${s.kind})`;
  }
}

/** Two zone answers agree when they would lead clients to the same place. */
export function sameZoneAnswer(a: AnswerShape, b: AnswerShape): boolean {
  if (a.status !== b.status) return false;
  if (a.status === 'data' && b.status === 'data') {
    if (a.cname || b.cname) return a.cname === b.cname;
    return a.values.join(' ') === b.values.join(' ');
  }
  return true;
}

/** Compare one resolver's answer with every (usable) authoritative answer; matching any one is enough. */
export function compareWithZone(zone: AnswerShape[], resolver: AnswerShape): Comparison {
  const usable = zone.filter(isAnswer);
  if (usable.length === 0 || !isAnswer(resolver)) return { consistent: true };
  const reasons: Comparison[] = usable.map((z) => compareOne(z, resolver));
  return reasons.find((r) => r.consistent) ?? reasons[0];
}

function compareOne(zone: AnswerShape, res: AnswerShape): Comparison {
  if (zone.status === 'nxdomain') {
    if (res.status === 'nxdomain') return { consistent: true };
    return { consistent: false, kind: 'mismatch', reason: `the zone has no such name, the resolver hands out ${describeShape(res)}` };
  }
  if (zone.status === 'nodata') {
    if (res.status === 'nodata') return { consistent: true };
    if (res.status === 'nxdomain') return { consistent: false, kind: 'nxdomain', reason: 'the resolver says the name does not exist; the zone has it (a cached negative answer)' };
    return { consistent: false, kind: 'mismatch', reason: `the zone has no records of that type, the resolver hands out ${describeShape(res)}` };
  }
  if (zone.status !== 'data') return { consistent: true };
  if (res.status === 'nxdomain') {
    return { consistent: false, kind: 'nxdomain', reason: `the resolver says the name does not exist; the zone has ${describeShape(zone)} (a cached negative answer)` };
  }
  if (res.status === 'nodata') {
    return { consistent: false, kind: 'nodata', reason: `the resolver has no records of that type; the zone has ${describeShape(zone)}` };
  }
  if (res.status !== 'data') return { consistent: true };
  if (zone.cname) {
    if (res.cname === zone.cname) return { consistent: true };
    return { consistent: false, kind: 'mismatch', reason: `the zone points at CNAME ${zone.cname}, the resolver hands out ${describeShape(res)}` };
  }
  if (res.cname) {
    return { consistent: false, kind: 'mismatch', reason: `the zone has ${describeShape(zone)}, the resolver hands out ${describeShape(res)}` };
  }
  const held = new Set(zone.values);
  const foreign = res.values.filter((v) => !held.has(v));
  if (foreign.length === 0) return { consistent: true };
  return { consistent: false, kind: 'mismatch', reason: `the resolver hands out ${res.values.join(', ')}, the zone has ${zone.values.join(', ')}` };
}

/**
 * A resolver still counting down a TTL longer than the zone's cached the record under an older,
 * longer TTL. Resolvers that enforce a minimum TTL add a little, so a margin of 60 s is allowed.
 */
export const TTL_STALE_MARGIN_S = 60;

export function cachedUnderLongerTtl(zone: AnswerShape[], res: AnswerShape): { zoneTtl: number; remaining: number } | undefined {
  if (res.status !== 'data') return undefined;
  const zoneTtls = zone.filter((z): z is Extract<AnswerShape, { status: 'data' }> => z.status === 'data').map((z) => z.ttl);
  if (zoneTtls.length === 0) return undefined;
  const zoneTtl = Math.max(...zoneTtls);
  return res.ttl > zoneTtl + TTL_STALE_MARGIN_S ? { zoneTtl, remaining: res.ttl } : undefined;
}
