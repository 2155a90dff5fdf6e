// dns-consistency: does what each resolver hands out for a dialer match what the zone holds?
// The check that would have found the stale cached answer of the 2020 WebRTC outage in minutes.
import { z } from 'zod';
import { formatServerAddress } from '../src/address.ts';
import { ZONE_NAME_SERVERS } from '../src/bound.ts';
import { cachedUnderLongerTtl, compareWithZone, describeShape, type AnswerShape } from '../src/compare.ts';
import { viewName, type NameView, type Observation } from '../src/lookup.ts';
import type { RecordType } from '../src/net/dns.ts';
import type { Config } from '../src/config.ts';
import type { Check, CheckContext, CodeDoc, DnsQuestion, Finding, Target } from '../src/types.ts';
import { humanDuration, humanTime } from '../src/units.ts';

const ID = 'dns-consistency';

const params = z.strictObject({
  recordTypes: z.array(z.enum(['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'SRV', 'NS'])).min(1).default(['A', 'AAAA']),
});
type Params = z.output<typeof params>;

const codes: Record<string, CodeDoc> = {
  DNS_MISMATCH: {
    severity: 'critical',
    meaning: 'A resolver hands out an answer the zone does not hold (a stale or poisoned cache): its users reach the wrong place.',
    firstStep: "Flush the name at that resolver (its cache-flush page is in the finding), or wait until the stale answer expires at the time given; then lower the record's TTL.",
  },
  DNS_NXDOMAIN: {
    severity: 'critical',
    meaning: 'The name does not exist: at the zone (the dialer has no record), or only at a resolver that cached a negative answer.',
    firstStep: 'At the zone: create the record or remove the dialer from the config. At a resolver: flush the name there; the negative answer otherwise lives for the SOA negative TTL.',
  },
  DNS_NO_DATA: {
    severity: 'critical',
    meaning: 'No records of that type: the zone has no address for the dialer at all, or a resolver lacks a type the zone has.',
    firstStep: 'At the zone: add the A/AAAA record. At a resolver: flush the name there (a cached NODATA lives for the SOA negative TTL).',
  },
  DNS_SERVFAIL: {
    severity: 'critical',
    meaning: 'The resolver answered SERVFAIL, REFUSED or another error code for the dialer: its users cannot resolve it.',
    firstStep: "Query the authoritative servers directly (dig +norec @ns NAME); if they answer, the resolver's path to them is broken (DNSSEC, lame delegation, outage).",
  },
  DNS_TIMEOUT: {
    severity: 'warning',
    meaning: 'A resolver did not answer within the deadline (after retries). One finding per resolver when it answers nothing.',
    firstStep: 'Check the path from this vantage to the resolver (dig @resolver NAME); when only one resolver is affected, it is likely its outage or rate limiting.',
  },
  DNS_AUTH_INCONSISTENT: {
    severity: 'warning',
    meaning: "The zone's authoritative servers give different answers: a secondary missed an update, so resolvers get either one.",
    firstStep: 'Compare the SOA serial on every authoritative server (dig +norec SOA @each); fix the zone transfer or reload the lagging server.',
  },
  DNS_AUTH_UNREACHABLE: {
    severity: 'warning',
    meaning: 'An authoritative server did not answer, answered without authority (lame) or refused; critical when none of them answers.',
    firstStep: 'Query it directly (dig +norec @server NAME SOA); check that it still serves the zone and that the delegation (NS) is current.',
  },
  DNS_MALFORMED_REPLY: {
    severity: 'warning',
    meaning: 'A server sent bytes that are not a valid DNS reply to our question (a broken middlebox, or a server bug).',
    firstStep: 'Capture the exchange (tcpdump -n port 53 and host SERVER) and compare with dig from the same host; look for a middlebox rewriting DNS.',
  },
  DNS_TTL_STALE: {
    severity: 'warning',
    meaning: "A resolver is counting down a TTL longer than the zone's: it cached the record under an older, longer TTL, so a change now would stay stale that long.",
    firstStep: 'Nothing breaks now; avoid changing this record until the time given, or flush it at that resolver first.',
  },
};

interface DialerTarget extends Target {
  data: { types: RecordType[] };
}

function finding(target: string, code: keyof typeof codes, message: string, extra: Partial<Finding> = {}): Finding {
  return { check: ID, target, severity: codes[code].severity, code, message, firstStep: codes[code].firstStep, ...extra };
}

function zoneEvidence(view: NameView): Record<string, string> {
  return Object.fromEntries(view.authoritative.map((o) => [o.vantage.name, describeShape(o.shape)]));
}

/** When a cached answer expires by itself, and where to flush it sooner. */
function expiry(ctx: CheckContext, o: Observation, seconds: number | undefined): { until: string; step: string; evidence: Record<string, unknown> } {
  const flush = o.vantage.flushUrl;
  const flushStep = flush ? `Flush the name at ${o.vantage.name}: ${flush}` : `Ask the operator of ${o.vantage.name} to flush the name`;
  if (seconds === undefined) return { until: '', step: `${flushStep}.`, evidence: { flushUrl: flush } };
  const expiresAt = ctx.now() + seconds * 1000;
  return {
    until: `stale for ${humanDuration(seconds)} more (until ${humanTime(expiresAt)})`,
    step: `${flushStep} — or wait until ${humanTime(expiresAt)}, when it expires by itself. Then keep the TTL at 300 s or less so the next bad answer lasts minutes.`,
    evidence: { remainingTtl: seconds, expiresAt: new Date(expiresAt).toISOString(), flushUrl: flush },
  };
}

function cachedTtl(shape: AnswerShape): number | undefined {
  if (shape.status === 'data') return shape.ttl;
  if (shape.status === 'nxdomain' || shape.status === 'nodata') return shape.negativeTtl;
  return undefined;
}

function resolverFindings(ctx: CheckContext, view: NameView, o: Observation): Finding[] {
  const target = view.name;
  const where = { resolver: o.vantage.name };
  const label = view.type;
  const s = o.shape;
  if (s.status === 'failed') {
    if (s.kind === 'aborted') return [];
    const code = s.kind === 'malformed' ? 'DNS_MALFORMED_REPLY' : 'DNS_TIMEOUT';
    return [finding(target, code, `${label}: ${o.vantage.name} (${formatServerAddress(o.vantage.server)}) gave no usable answer: ${s.detail}`, {
      ...where,
      evidence: { type: view.type, server: formatServerAddress(o.vantage.server), kind: s.kind, detail: s.detail, attempts: o.result.ok ? undefined : o.result.attempts },
    })];
  }
  if (s.status === 'rcode') {
    return [finding(target, 'DNS_SERVFAIL', `${label}: ${o.vantage.name} answers ${s.rcode}; the zone has ${view.zone.length ? describeShape(view.zone[0]) : 'no usable answer'}`, {
      ...where,
      evidence: { type: view.type, rcode: s.rcode, zone: zoneEvidence(view) },
    })];
  }
  const comparison = compareWithZone(view.zone, s);
  if (!comparison.consistent) {
    const exp = expiry(ctx, o, cachedTtl(s));
    const code = comparison.kind === 'mismatch' ? 'DNS_MISMATCH' : comparison.kind === 'nxdomain' ? 'DNS_NXDOMAIN' : 'DNS_NO_DATA';
    const severity = code === 'DNS_NO_DATA' && view.type !== 'A' ? 'warning' : 'critical';
    return [finding(target, code, `${label} at ${o.vantage.name}: ${comparison.reason}${exp.until ? `; ${exp.until}` : ''}`, {
      ...where,
      severity,
      firstStep: exp.step,
      evidence: { type: view.type, resolverAnswer: describeShape(s), zone: zoneEvidence(view), ...exp.evidence },
    })];
  }
  const stale = cachedUnderLongerTtl(view.zone, s);
  if (stale) {
    const exp = expiry(ctx, o, stale.remaining);
    return [finding(target, 'DNS_TTL_STALE', `${label} at ${o.vantage.name}: cached with ${humanDuration(stale.remaining)} left under an older TTL; the zone's TTL is ${stale.zoneTtl} s`, {
      ...where,
      firstStep: `Nothing is wrong yet. Avoid changing ${view.name} before ${humanTime(ctx.now() + stale.remaining * 1000)}, or flush it at ${o.vantage.name} first${o.vantage.flushUrl ? ` (${o.vantage.flushUrl})` : ''}.`,
      evidence: { type: view.type, zoneTtl: stale.zoneTtl, ...exp.evidence },
    })];
  }
  return [];
}

/** up (1 = a usable, consistent answer), RTT and the TTL handed out, per server and type: the metrics' raw numbers. */
function measure(ctx: CheckContext, view: NameView, o: Observation, healthy: boolean): void {
  const labels = { server: o.vantage.name, kind: o.vantage.kind, type: view.type };
  ctx.measure({ metric: 'up', value: healthy ? 1 : 0, labels });
  if (o.result.ok) ctx.measure({ metric: 'rtt_seconds', value: o.result.response.rttMs / 1000, labels });
  if (o.shape.status === 'data') ctx.measure({ metric: 'ttl_seconds', value: o.shape.ttl, labels });
}

function authoritativeFindings(view: NameView): Finding[] {
  const out: Finding[] = [];
  if (view.authLookupError) {
    out.push(finding(view.name, 'DNS_AUTH_UNREACHABLE', `${view.name}: cannot find the zone's authoritative servers: ${view.authLookupError}`, {
      resolver: 'authoritative',
      evidence: { type: view.type, detail: view.authLookupError },
    }));
  }
  for (const o of view.authoritative) {
    const s = o.shape;
    if (s.status === 'failed' && s.kind === 'aborted') continue;
    if (s.status === 'failed' && s.kind === 'malformed') {
      out.push(finding(view.name, 'DNS_MALFORMED_REPLY', `${view.name} ${view.type}: authoritative ${o.vantage.name} sent an invalid reply: ${s.detail}`, {
        resolver: o.vantage.name,
        evidence: { type: view.type, server: formatServerAddress(o.vantage.server), detail: s.detail },
      }));
    } else if (s.status === 'failed' || s.status === 'rcode') {
      const detail = s.status === 'rcode' ? `answered ${s.rcode}` : s.detail;
      out.push(finding(view.name, 'DNS_AUTH_UNREACHABLE', `${view.name} ${view.type}: authoritative ${o.vantage.name} (${formatServerAddress(o.vantage.server)}): ${detail}`, {
        resolver: o.vantage.name,
        evidence: { type: view.type, server: formatServerAddress(o.vantage.server), detail },
      }));
    }
  }
  if (view.zoneInconsistent) {
    out.push(finding(view.name, 'DNS_AUTH_INCONSISTENT', `${view.name} ${view.type}: the authoritative servers disagree: ${Object.entries(zoneEvidence(view)).map(([k, v]) => `${k}: ${v}`).join('; ')}`, {
      resolver: 'authoritative',
      evidence: { type: view.type, zone: zoneEvidence(view) },
    }));
  }
  return out;
}

/**
 * NXDOMAIN and SERVFAIL are about the whole name, not one record type: the A and AAAA queries
 * of one resolver make one finding (the types go into the evidence), not two.
 */
function mergeNameWide(sofar: Finding[], fresh: Finding[]): Finding[] {
  return fresh.filter((f) => {
    if (f.code !== 'DNS_NXDOMAIN' && f.code !== 'DNS_SERVFAIL') return true;
    const twin = sofar.find((g) => g.code === f.code && g.resolver === f.resolver && g.target === f.target);
    if (!twin) return true;
    const types = (twin.evidence?.types as string[] | undefined) ?? [String(twin.evidence?.type)];
    twin.evidence = { ...twin.evidence, types: [...types, String(f.evidence?.type)] };
    return false;
  });
}

/** Fold many findings of one code at one resolver into one, so a dead resolver is one alarm, not thousands. */
function fold(findings: Finding[], code: string, totalPerResolver: number, always: boolean): Finding[] {
  const byResolver = new Map<string, Finding[]>();
  const rest: Finding[] = [];
  for (const f of findings) {
    if (f.code !== code || !f.resolver) rest.push(f);
    else byResolver.set(f.resolver, [...(byResolver.get(f.resolver) ?? []), f]);
  }
  const FOLD_ABOVE = 5;
  for (const [resolver, group] of byResolver) {
    if (!always && group.length <= FOLD_ABOVE && group.length < totalPerResolver) {
      rest.push(...group);
      continue;
    }
    const dialers = [...new Set(group.map((f) => f.target))];
    const server = group[0].evidence?.server as string | undefined;
    const all = group.length >= totalPerResolver;
    const details = [...new Set(group.map((f) => String(f.evidence?.detail ?? '')))].filter(Boolean).slice(0, 3);
    rest.push({
      ...group[0],
      target: `${resolver}${server ? ` (${server})` : ''}`,
      message: `${resolver}${server ? ` (${server})` : ''} failed ${all ? 'every one' : group.length} of ${totalPerResolver} queries for ${dialers.length} dialer${dialers.length === 1 ? '' : 's'}: ${details.join('; ')}`,
      evidence: { failedQueries: group.length, totalQueries: totalPerResolver, dialers: dialers.slice(0, 20), moreDialers: Math.max(0, dialers.length - 20), server, details },
    });
  }
  return rest;
}

const questionsOf = new WeakMap<Config, Map<string, DnsQuestion[]>>();

/**
 * Every type at every resolver and authoritative server; without configured ones, the zone's
 * name servers are found through the first resolver (one SOA question per name).
 */
function dialerQuestions(config: Config, types: RecordType[]): DnsQuestion[] {
  const out: DnsQuestion[] = [];
  const auth = config.authoritative?.length ? config.authoritative.map((a) => formatServerAddress(a.address)) : [ZONE_NAME_SERVERS];
  for (const type of types) {
    for (const r of config.resolvers) out.push({ server: formatServerAddress(r.address), question: `resolver ${type}` });
    for (const server of auth) out.push({ server, question: `authoritative ${type}` });
  }
  if (!config.authoritative?.length && config.resolvers[0]) out.push({ server: formatServerAddress(config.resolvers[0].address), question: 'resolver SOA' });
  return out;
}

export const dnsConsistency: Check<Params, DialerTarget> = {
  id: ID,
  description: 'Compares every resolver’s answer for every dialer with the zone’s authoritative answer (CNAME-aware).',
  params,
  codes,
  *targets(inventory, p) {
    for (const name of inventory.dialers) yield { name, data: { types: p.recordTypes as RecordType[] } };
  },
  questions(target, _p, config) {
    // The same for every dialer: made once per config and type list.
    let byTypes = questionsOf.get(config);
    if (!byTypes) questionsOf.set(config, (byTypes = new Map()));
    const key = target.data.types.join(',');
    let out = byTypes.get(key);
    if (!out) byTypes.set(key, (out = dialerQuestions(config, target.data.types)));
    return out;
  },
  async run(target, _p, ctx) {
    const views = await Promise.all(target.data.types.map((type) => viewName(ctx, target.name, type)));
    const findings: Finding[] = [];
    for (const view of views) {
      findings.push(...authoritativeFindings(view));
      for (const o of view.resolvers) {
        const own = resolverFindings(ctx, view, o);
        findings.push(...mergeNameWide(findings, own));
        measure(ctx, view, o, own.length === 0);
      }
      for (const o of view.authoritative) measure(ctx, view, o, o.shape.status !== 'failed' && o.shape.status !== 'rcode');
    }
    // Whole-name verdicts of the zone itself, once per dialer rather than once per type.
    const usable = views.filter((v) => v.zone.length > 0 && !v.zoneInconsistent);
    if (usable.length > 0 && usable.every((v) => v.zone[0].status === 'nxdomain')) {
      findings.push(finding(target.name, 'DNS_NXDOMAIN', `${target.name} does not exist in the zone (NXDOMAIN from the authoritative servers)`, {
        resolver: 'authoritative',
        firstStep: 'Create the record in the zone, or remove this dialer from targets.dialers.',
        evidence: { zone: zoneEvidence(usable[0]) },
      }));
    } else if (usable.length === views.length && usable.every((v) => v.zone[0].status === 'nodata')) {
      findings.push(finding(target.name, 'DNS_NO_DATA', `${target.name} has no ${target.data.types.join('/')} records in the zone: nobody can reach it`, {
        resolver: 'authoritative',
        firstStep: `Add the dialer's ${target.data.types[0]} record in the zone.`,
        evidence: { types: target.data.types },
      }));
    }
    return findings;
  },
  aggregate(findings, targets, p, config) {
    const perServer = targets.count * p.recordTypes.length;
    let out = fold(findings, 'DNS_TIMEOUT', perServer, false);
    out = fold(out, 'DNS_MALFORMED_REPLY', perServer, false);
    out = fold(out, 'DNS_AUTH_UNREACHABLE', perServer, true);
    // Nobody authoritative answered anything: nothing could be compared, so this is critical.
    const authFindings = out.filter((f) => f.code === 'DNS_AUTH_UNREACHABLE');
    const authCount = config.authoritative?.length ?? 0;
    const allDown = authFindings.length > 0 && authFindings.every((f) => (f.evidence?.failedQueries as number) >= perServer) && (authCount === 0 || authFindings.length >= authCount);
    if (allDown) for (const f of authFindings) f.severity = 'critical';
    return out;
  },
};
