// dns-consistency: does what each resolver hands out for a dialer match what the zone holds?
// The check that would have found the stale cached answer of the 2020 WebRTC outage in minutes.
import { z } from 'zod';
import { formatServerAddress } from '../src/address.ts';
import { ZONE_NAME_SERVERS } from '../src/bound.ts';
import { cachedUnderLongerTruthTtl, compareWithTruth, describeShape, isAnswer, routingEvidence, type AnswerShape } from '../src/compare.ts';
import { foldBlindVantage } from '../src/dns/blind-vantage.ts';
import { RESOLVER_BEHAVIOUR_CODES } from '../src/dns/codes.ts';
import { bogusWording, edeSuffix } from '../src/dns/dnssec.ts';
import { secondLook, type SecondLook } from '../src/dns/second-look.ts';
import { clampWording, explainedByFloor, hidesCacheLifetime } from '../src/dns/ttl-clamp.ts';
import { viewName, type NameView, type Observation } from '../src/lookup.ts';
import { describeExtendedError, type RecordType } from '../src/net/dns.ts';
import type { Config } from '../src/config-schema.ts';
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
    meaning: "The resolver answered SERVFAIL, REFUSED or another error code for the dialer, or it answers other questions but stays silent for this one (its path to the zone's servers is down): its users cannot resolve it. Its Extended DNS Error, when it sends one, is quoted.",
    firstStep: "Query the authoritative servers directly (dig +norec @ns NAME); if they answer, the resolver's path to them is broken (DNSSEC, lame delegation, outage).",
  },
  DNS_TIMEOUT: {
    severity: 'warning',
    meaning: 'A resolver could not be asked: silence after retries, nothing listening on its port, or no route from this host (ENETUNREACH/EHOSTUNREACH, not retried). One finding per resolver when it answers nothing; after a few failures in a row it is not asked again this run.',
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
  DNS_AUTH_NOT_FOUND: {
    severity: 'warning',
    meaning: "The zone's authoritative servers could not be found (no SOA or NS for the name through the first resolver), so none was asked and the resolvers' answers were not compared.",
    firstStep: 'List the zone\'s name servers under authoritative: in the config, or check the delegation (dig SOA NAME and dig NS ZONE through the first resolver).',
  },
  DNS_MALFORMED_REPLY: {
    severity: 'warning',
    meaning: "A server sent bytes that are not a valid DNS reply to our question (a broken middlebox, or a server bug): records that run past the message, an A record that is not 4 bytes, an AAAA that is not 16. Nothing in such a reply is used as evidence; an authoritative server's broken reply never accuses a resolver.",
    firstStep: 'Capture the exchange (tcpdump -n port 53 and host SERVER) and compare with dig from the same host; look for a middlebox rewriting DNS.',
  },
  DNS_TTL_STALE: {
    severity: 'warning',
    meaning: "A resolver is counting down a TTL longer than the zone's: it cached the record under an older, longer TTL, so a change now would stay stale that long.",
    firstStep: 'Nothing breaks now; avoid changing this record until the time given, or flush it at that resolver first.',
  },
  ...RESOLVER_BEHAVIOUR_CODES,
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

/** When the remaining TTL cannot say when a stale answer ends: no invented expiry, the alert history tells how long it has lasted. */
function unboundedExpiry(o: Observation, why: string): { until: string; step: string; evidence: Record<string, unknown> } {
  const flush = o.vantage.flushUrl;
  return {
    until: `${why}, so its remaining TTL cannot say when this ends`,
    step: `${flush ? `Flush the name at ${o.vantage.name}: ${flush}` : `Ask the operator of ${o.vantage.name} to flush the name`} — waiting for its TTL will not end it. Then keep the TTL at 300 s or less.`,
    evidence: { staleEndUnknown: why, flushUrl: flush },
  };
}

/** Why a stale answer's end cannot be read from its TTL, if it cannot. */
function unboundedBecause(o: Observation, look: SecondLook): string | undefined {
  const stale = o.result.ok ? o.result.response.extendedErrors.find((e) => e.code === 3 || e.code === 19) : undefined;
  if (stale) return `${o.vantage.name} serves it stale (${describeExtendedError(stale)})`;
  if (hidesCacheLifetime(look.clamp)) return `${o.vantage.name} caps the TTLs it hands out at ${look.clamp!.ttl} s and may keep answers longer`;
  return undefined;
}

function cachedTtl(shape: AnswerShape): number | undefined {
  if (shape.status === 'data') return shape.ttl;
  if (shape.status === 'nxdomain' || shape.status === 'nodata') return shape.negativeTtl;
  return undefined;
}

function resolverFindings(ctx: CheckContext, view: NameView, o: Observation, look: SecondLook = {}): Finding[] {
  const target = view.name;
  const where = { resolver: o.vantage.name };
  const label = view.type;
  const s = o.shape;
  const server = formatServerAddress(o.vantage.server);
  const ede = o.result.ok ? o.result.response.extendedErrors : [];
  const edeEvidence = ede.length > 0 ? { extendedErrors: ede.map(describeExtendedError) } : {};
  if (s.status === 'failed') {
    if (s.kind === 'aborted') return [];
    if (!o.result.ok && o.result.serverAlive && s.kind !== 'malformed' && s.kind !== 'tls') {
      // Up but silent for this name: its path to the zone is down — as bad for its users as a SERVFAIL.
      return [finding(target, 'DNS_SERVFAIL', `${label}: ${o.vantage.name} (${server}) answers other questions but not this one: ${s.detail}`, {
        ...where,
        evidence: { type: view.type, server, kind: s.kind, detail: `silent for this name while it answers others (${s.detail})`, zone: zoneEvidence(view) },
      })];
    }
    const code = s.kind === 'malformed' ? 'DNS_MALFORMED_REPLY' : s.kind === 'tls' ? 'DNS_TLS_FAILED' : 'DNS_TIMEOUT';
    return [finding(target, code, `${label}: ${o.vantage.name} (${server}) gave no usable answer: ${s.detail}`, {
      ...where,
      evidence: { type: view.type, server, kind: s.kind, detail: s.detail, attempts: o.result.ok ? undefined : o.result.attempts },
    })];
  }
  if (s.status === 'rcode') {
    if (look.dnssec) {
      const { why, firstStep } = bogusWording(look.dnssec, view.name);
      return [finding(target, 'DNS_DNSSEC_BOGUS', `${label}: ${o.vantage.name} fails DNSSEC validation for ${view.name} and answers ${s.rcode}: ${why}`, {
        ...where,
        firstStep,
        evidence: { type: view.type, server, rcode: s.rcode, detail: why, ...edeEvidence, answersWithCheckingDisabled: look.dnssec.answersWithoutValidation, zoneProblems: look.dnssec.problems.map((p) => p.detail), zone: zoneEvidence(view) },
      })];
    }
    return [finding(target, 'DNS_SERVFAIL', `${label}: ${o.vantage.name} answers ${s.rcode}; the zone has ${view.zone.length ? describeShape(view.zone[0]) : 'no usable answer'}${edeSuffix(ede)}`, {
      ...where,
      evidence: { type: view.type, server, rcode: s.rcode, detail: `answers ${s.rcode}${edeSuffix(ede)}`, ...edeEvidence, zone: zoneEvidence(view) },
    })];
  }
  const truth = o.truth ?? { answers: view.zone };
  const routing = routingEvidence(truth);
  const comparison = compareWithTruth(truth, s);
  if (!comparison.consistent) {
    const unbounded = unboundedBecause(o, look);
    const exp = unbounded ? unboundedExpiry(o, unbounded) : expiry(ctx, o, cachedTtl(s));
    const code = comparison.kind === 'mismatch' ? 'DNS_MISMATCH' : comparison.kind === 'nxdomain' ? 'DNS_NXDOMAIN' : 'DNS_NO_DATA';
    const severity = code === 'DNS_NO_DATA' && view.type !== 'A' ? 'warning' : 'critical';
    return [finding(target, code, `${label} at ${o.vantage.name}: ${comparison.reason}${exp.until ? `; ${exp.until}` : ''}${edeSuffix(ede)}`, {
      ...where,
      severity,
      firstStep: exp.step,
      evidence: { type: view.type, resolverAnswer: describeShape(s), zone: zoneEvidence(view), remainingTtl: cachedTtl(s), ...(routing ? { routing } : {}), ...edeEvidence, ...exp.evidence },
    })];
  }
  // At a resolver with a TTL floor, a TTL above the zone's is the floor at work (reported once, as DNS_TTL_CLAMPED).
  const stale = explainedByFloor(look.clamp) ? undefined : cachedUnderLongerTruthTtl(truth, s);
  if (stale) {
    const exp = expiry(ctx, o, stale.remaining);
    return [finding(target, 'DNS_TTL_STALE', `${label} at ${o.vantage.name}: cached with ${humanDuration(stale.remaining)} left under an older TTL; the zone's TTL is ${stale.zoneTtl} s${edeSuffix(ede)}`, {
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

/** The once-per-resolver DNS_TTL_CLAMPED finding. */
function clampFinding(o: Observation, look: SecondLook): Finding[] {
  if (!look.clampNews) return [];
  const server = formatServerAddress(o.vantage.server);
  const { message, firstStep } = clampWording(o.vantage.name, look.clampNews);
  return [finding(`${o.vantage.name} (${server})`, 'DNS_TTL_CLAMPED', message, {
    resolver: o.vantage.name,
    firstStep,
    evidence: { server, clamp: look.clampNews.kind, ttl: look.clampNews.ttl, zoneTtl: look.clampNews.zoneTtl },
  })];
}

/** One DNS_TTL_CLAMPED per resolver, however many dialers (and shards of one run) learnt of it. */
function onceEachClamp(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    if (f.code !== 'DNS_TTL_CLAMPED') return true;
    const first = !seen.has(f.resolver ?? '');
    seen.add(f.resolver ?? '');
    return first;
  });
}

function authoritativeFindings(view: NameView): Finding[] {
  const out: Finding[] = [];
  // Nothing authoritative was asked: that is not an unreachable server.
  if (view.authLookupError) {
    out.push(finding(view.name, 'DNS_AUTH_NOT_FOUND', `${view.name}: its authoritative servers could not be found, so none was asked: ${view.authLookupError}`, {
      evidence: { type: view.type, detail: view.authLookupError },
    }));
  }
  for (const o of view.authoritative) {
    const s = o.shape;
    if (s.status === 'failed' && s.kind === 'aborted') continue;
    if (s.status === 'failed' && s.kind === 'malformed') {
      out.push(finding(view.name, 'DNS_MALFORMED_REPLY', `${view.name} ${view.type}: authoritative ${o.vantage.name} sent an invalid reply: ${s.detail}`, {
        resolver: o.vantage.name,
        evidence: { type: view.type, server: formatServerAddress(o.vantage.server), kind: s.kind, detail: s.detail },
      }));
    } else if (s.status === 'failed' || s.status === 'rcode') {
      const detail = s.status === 'rcode' ? `answered ${s.rcode}${edeSuffix(o.result.ok ? o.result.response.extendedErrors : [])}` : s.detail;
      out.push(finding(view.name, 'DNS_AUTH_UNREACHABLE', `${view.name} ${view.type}: authoritative ${o.vantage.name} (${formatServerAddress(o.vantage.server)}): ${detail}`, {
        resolver: o.vantage.name,
        evidence: { type: view.type, server: formatServerAddress(o.vantage.server), kind: s.status === 'rcode' ? 'rcode' : s.kind, detail },
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

/**
 * Fold many findings of one code at one resolver into one, so a dead resolver is one alarm, not
 * thousands: `always`, or when there are many or they are all its questions (`dead`), or only when
 * there are many (`many`: answers about names, where a few are best told one by one).
 */
function fold(findings: Finding[], code: string, totalPerResolver: number, when: 'always' | 'dead' | 'many'): Finding[] {
  const byResolver = new Map<string, Finding[]>();
  const rest: Finding[] = [];
  for (const f of findings) {
    if (f.code !== code || !f.resolver) rest.push(f);
    else if (byResolver.has(f.resolver)) byResolver.get(f.resolver)!.push(f);
    else byResolver.set(f.resolver, [f]);
  }
  const FOLD_ABOVE = 5;
  for (const [resolver, group] of byResolver) {
    if (when !== 'always' && group.length <= FOLD_ABOVE && (when === 'many' || group.length < totalPerResolver)) {
      rest.push(...group);
      continue;
    }
    const dialers = [...new Set(group.map((f) => f.target))];
    const server = group[0].evidence?.server as string | undefined;
    // A SERVFAIL for A and AAAA of one dialer is one finding that stands for both questions.
    const failed = group.reduce((n, f) => n + ((f.evidence?.types as unknown[] | undefined)?.length ?? 1), 0);
    const all = failed >= totalPerResolver;
    const details = [...new Set(group.map((f) => String(f.evidence?.detail ?? '')))].filter(Boolean).slice(0, 3);
    rest.push({
      ...group[0],
      target: `${resolver}${server ? ` (${server})` : ''}`,
      message: `${resolver}${server ? ` (${server})` : ''} failed ${all ? 'every one' : failed} of ${totalPerResolver} queries for ${dialers.length} dialer${dialers.length === 1 ? '' : 's'}: ${details.join('; ')}`,
      evidence: { failedQueries: failed, totalQueries: totalPerResolver, dialers: dialers.slice(0, 20), moreDialers: Math.max(0, dialers.length - 20), server, details },
    });
  }
  return rest;
}

/** Every resolver that answered says NXDOMAIN, and no authoritative server could be asked. */
function nonexistentEverywhere(views: NameView[]): boolean {
  return views.every((v) => {
    const answered = v.resolvers.filter((o) => isAnswer(o.shape));
    return v.authLookupError !== undefined && answered.length > 0 && answered.every((o) => o.shape.status === 'nxdomain');
  });
}

/** One finding for every dialer whose authoritative servers could not be found, not one per dialer. */
function foldNotFound(findings: Finding[]): Finding[] {
  const group = findings.filter((f) => f.code === 'DNS_AUTH_NOT_FOUND');
  const dialers = [...new Set(group.map((f) => f.target))];
  if (dialers.length <= 1) return findings;
  const details = [...new Set(group.map((f) => String(f.evidence?.detail ?? '')))].filter(Boolean).slice(0, 3);
  return [
    ...findings.filter((f) => f.code !== 'DNS_AUTH_NOT_FOUND'),
    finding(`${dialers.length} dialers`, 'DNS_AUTH_NOT_FOUND', `the authoritative servers of ${dialers.length} dialers could not be found, so their answers were not compared: ${details.join('; ')}`, {
      evidence: { dialers: dialers.slice(0, 20), moreDialers: Math.max(0, dialers.length - 20), details },
    }),
  ];
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
      const looks = await Promise.all(view.resolvers.map((o) => secondLook(ctx, view, o)));
      for (const [i, o] of view.resolvers.entries()) {
        findings.push(...clampFinding(o, looks[i]));
        const own = resolverFindings(ctx, view, o, looks[i]);
        findings.push(...mergeNameWide(findings, own));
        measure(ctx, view, o, own.length === 0);
      }
      for (const o of view.authoritative) measure(ctx, view, o, o.shape.status !== 'failed' && o.shape.status !== 'rcode');
    }
    // Whole-name verdicts of the zone itself, once per dialer rather than once per type.
    const usable = views.filter((v) => v.zone.length > 0 && !v.zoneInconsistent);
    if (nonexistentEverywhere(views)) {
      // No authoritative server could be asked, but every resolver says the name does not exist.
      const resolvers = Object.fromEntries(views[0].resolvers.map((o) => [o.vantage.name, describeShape(o.shape)]));
      const saidSo = views[0].resolvers.filter((o) => o.shape.status === 'nxdomain').map((o) => o.vantage.name);
      // This finding says it all: the servers' not being found is part of its message.
      findings.splice(0, findings.length, ...findings.filter((f) => f.code !== 'DNS_AUTH_NOT_FOUND'));
      findings.push(finding(target.name, 'DNS_NXDOMAIN', `${target.name} does not exist at any resolver (NXDOMAIN from ${saidSo.join(', ')}); its authoritative servers could not be found to confirm: ${views[0].authLookupError}`, {
        firstStep: 'Create the record in the zone (check the zone is delegated), or remove this dialer from targets.dialers.',
        evidence: { resolvers, authLookup: views[0].authLookupError },
      }));
    } else if (usable.length > 0 && usable.every((v) => v.zone[0].status === 'nxdomain')) {
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
    let out = foldBlindVantage({
      findings: onceEachClamp(findings),
      resolvers: config.resolvers.map((r) => r.name),
      authoritative: config.authoritative?.map((a, i) => a.name ?? `auth${i + 1}`),
      perServer,
      vantage: config.run.vantage,
    });
    out = fold(out, 'DNS_TIMEOUT', perServer, 'dead');
    out = fold(out, 'DNS_TLS_FAILED', perServer, 'dead');
    out = fold(out, 'DNS_SERVFAIL', perServer, 'many');
    out = fold(out, 'DNS_DNSSEC_BOGUS', perServer, 'many');
    out = fold(out, 'DNS_MALFORMED_REPLY', perServer, 'dead');
    out = fold(out, 'DNS_AUTH_UNREACHABLE', perServer, 'always');
    out = foldNotFound(out);
    // Nobody authoritative answered anything: nothing could be compared, so this is critical.
    const authFindings = out.filter((f) => f.code === 'DNS_AUTH_UNREACHABLE');
    const authCount = config.authoritative?.length ?? 0;
    const allDown = authFindings.length > 0 && authFindings.every((f) => (f.evidence?.failedQueries as number) >= perServer) && (authCount === 0 || authFindings.length >= authCount);
    if (allDown) for (const f of authFindings) f.severity = 'critical';
    return out;
  },
};
