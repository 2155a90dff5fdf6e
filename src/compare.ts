// Pure comparison of what a resolver hands out against what the zone holds.
//
// The rule (also in the README, "How answers are compared"):
// 1. The zone's truth for one resolver is every answer the zone may legitimately give it: each
//    authoritative server's answer (asked with the resolver's egress network as EDNS Client Subnet
//    when `egress` is configured, and asked again when the name turns out to be dynamic), plus,
//    with a Route 53 inventory, every record set at the name (weighted, latency, geolocation,
//    geoproximity, CIDR, failover, multivalue: one variant each).
// 2. When a variant is a CNAME, only the CNAME target is compared. The addresses behind it belong
//    to whoever runs the target (a load balancer rotates them) and are never compared; likewise
//    the addresses of an alias to something outside the inventory.
// 3. Addresses are consistent when they are (a subset of) one variant's values; for multivalue
//    record sets, any subset of the union of their values.
// 4. Where precision is impossible (variants learned by asking, not read from Route 53), a
//    resolver is accused only of values no variant holds.
// 5. NXDOMAIN matches NXDOMAIN, NODATA matches NODATA; anything else against them is a mismatch.
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
  return compareWithTruth({ answers: zone }, resolver);
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

// ── routing policies ────────────────────────────────────────────────────────────────────────

export type RoutingPolicy = 'simple' | 'weighted' | 'latency' | 'geolocation' | 'geoproximity' | 'cidr' | 'multivalue' | 'failover';

/** One answer the zone may give for a name and type: a Route 53 record set (or the sets an alias leads to). */
export interface Variant {
  /** For people: the set identifier, or the name's type for a simple record set. */
  label: string;
  policy: RoutingPolicy;
  /** A CNAME record set: only the target is compared. */
  cname?: string;
  /** Sorted. */
  values: string[];
  ttl?: number;
  /** An alias to something outside the inventory (a load balancer, CloudFront): its addresses are not known here. */
  aliasTo?: string;
}

/** What the zone may give one resolver for one name and type. */
export interface ZoneTruth {
  /** Usable authoritative answers, asked as this resolver would be answered (its egress as ECS when configured). */
  answers: AnswerShape[];
  /** The name's record sets, from the Route 53 inventory. */
  variants?: Variant[];
  /** The authoritative servers gave different answers when asked again: a dynamic name, its variants learned by asking. */
  learned?: { asks: number };
  /** The client subnets the authoritative servers were asked with (the resolver's `egress`). */
  egress?: string[];
}

function variantShape(v: Variant): AnswerShape {
  // An alias's addresses are unknown here; its description stands in for them in reasons.
  if (v.aliasTo) return { status: 'data', values: [`alias to ${v.aliasTo}`], ttl: v.ttl ?? 0 };
  return { status: 'data', cname: v.cname, values: v.values, ttl: v.ttl ?? 0 };
}

function distinctDataAnswers(answers: AnswerShape[]): Extract<AnswerShape, { status: 'data' }>[] {
  const out: Extract<AnswerShape, { status: 'data' }>[] = [];
  for (const a of answers) if (a.status === 'data' && !out.some((b) => sameZoneAnswer(a, b))) out.push(a);
  return out;
}

/** Whether the name is routed: several variants, or answers that change between asks. */
export function isRouted(truth: ZoneTruth): boolean {
  return (truth.variants?.length ?? 0) > 1 || truth.learned !== undefined || (truth.variants ?? []).some((v) => v.aliasTo || v.policy !== 'simple');
}

/** Every value any variant or answer holds (what "no variant holds" is measured against). */
function heldValues(truth: ZoneTruth, only?: (v: Variant) => boolean): Set<string> {
  const held = new Set<string>();
  for (const v of truth.variants ?? []) if (!only || only(v)) for (const x of v.values) held.add(x);
  if (!only) for (const a of truth.answers) if (a.status === 'data') for (const x of a.values) held.add(x);
  return held;
}

/** Compare one resolver's answer with the zone's truth for it (the README rule). */
export function compareWithTruth(truth: ZoneTruth, resolver: AnswerShape): Comparison {
  const candidates = [...truth.answers.filter(isAnswer), ...(truth.variants ?? []).map(variantShape)];
  const open = (truth.variants ?? []).find((v) => v.aliasTo);
  if (candidates.length === 0 || !isAnswer(resolver)) return { consistent: true };
  const verdicts = candidates.map((z) => compareOne(z, resolver));
  if (verdicts.some((v) => v.consistent)) return { consistent: true };
  if (resolver.status === 'data' && !resolver.cname) {
    // An alias to something outside the inventory hands out addresses nobody here knows.
    if (open) return { consistent: true };
    const values = resolver.values;
    const multivalue = heldValues(truth, (v) => v.policy === 'multivalue');
    if (multivalue.size > 0 && values.every((x) => multivalue.has(x))) return { consistent: true };
    if (truth.learned) {
      const held = heldValues(truth);
      if (values.every((x) => held.has(x))) return { consistent: true };
    }
    if (isRouted(truth)) {
      const held = heldValues(truth);
      const foreign = values.filter((x) => !held.has(x));
      const routing = describeVariants(truth);
      const reason = foreign.length > 0
        ? `the resolver hands out ${foreign.join(', ')}, which no variant of the zone holds (${routing})`
        : `the resolver hands out ${values.join(', ')} together, which no single record set holds (${routing})`;
      return { consistent: false, kind: 'mismatch', reason };
    }
  }
  return verdicts[0] as Comparison;
}

/** The variants in words, e.g. "weighted: w1 192.0.2.1; w2 192.0.2.2". */
export function describeVariants(truth: ZoneTruth): string {
  if (truth.variants && truth.variants.length > 0) {
    const policies = [...new Set(truth.variants.map((v) => v.policy))].join('/');
    return `${policies}: ${truth.variants.map(describeVariant).join('; ')}`;
  }
  const learned = distinctDataAnswers(truth.answers).map(describeShape).sort();
  return `learned from ${truth.learned?.asks ?? 1} asks${truth.egress?.length ? ` with client subnet ${truth.egress.join(', ')}` : ''}: ${learned.join('; ') || 'no data'}`;
}

function describeVariant(v: Variant): string {
  const what = v.aliasTo ? `alias to ${v.aliasTo}` : v.cname ? `CNAME ${v.cname}` : v.values.join(', ');
  return `${v.label} ${what}`;
}

/** For a finding's evidence: that the name is routed, how, and its variants. */
export function routingEvidence(truth: ZoneTruth): Record<string, unknown> | undefined {
  if (!isRouted(truth)) return truth.egress?.length ? { egress: truth.egress } : undefined;
  if (truth.variants && truth.variants.length > 0) {
    return {
      source: 'route53',
      policy: [...new Set(truth.variants.map((v) => v.policy))].join('/'),
      variants: truth.variants.map(describeVariant),
      ...(truth.egress?.length ? { egress: truth.egress } : {}),
    };
  }
  return {
    source: 'learned',
    policy: 'dynamic',
    asks: truth.learned?.asks,
    variants: distinctDataAnswers(truth.answers).map(describeShape).sort(),
    ...(truth.egress?.length ? { egress: truth.egress } : {}),
  };
}

/** The TTL check against the truth: the longest TTL any variant or answer carries is the bound. */
export function cachedUnderLongerTruthTtl(truth: ZoneTruth, res: AnswerShape): { zoneTtl: number; remaining: number } | undefined {
  return cachedUnderLongerTtl([...truth.answers, ...(truth.variants ?? []).filter((v) => v.ttl !== undefined && !v.aliasTo).map(variantShape)], res);
}
