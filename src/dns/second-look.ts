// The questions asked after the first answers, when those answers alone cannot say who is at
// fault: whether a SERVFAIL is DNSSEC (the same question with checking disabled, the zone's
// signatures and DS), and whether a resolver clamps TTLs (a made-up name asked twice). Each is
// asked once per run and resolver (or name), through the run's memo.
import { randomBytes } from 'node:crypto';
import { formatServerAddress } from '../address.ts';
import { ask, memo, memoForRun, type NameView, type Observation, type Vantage } from '../lookup.ts';
import type { DnsRecord, DnsResult } from '../net/dns.ts';
import type { CheckContext } from '../types.ts';
import { dnssecError, dsProblem, isValidationFailure, signatureProblems, type DnssecVerdict, type ZoneDnssecProblem } from './dnssec.ts';
import { judgeClamp, type Clamp } from './ttl-clamp.ts';

/** Whether a resolver's SERVFAIL is a DNSSEC validation failure, and what the zone shows; undefined when it is not. */
export async function dnssecVerdict(ctx: CheckContext, view: NameView, o: Observation): Promise<DnssecVerdict | undefined> {
  if (!o.result.ok || o.result.response.rcode !== 'SERVFAIL') return undefined;
  const ede = dnssecError(o.result.response.extendedErrors);
  let answersWithoutValidation = false;
  if (!ede) {
    const cd = await ask(ctx, o.vantage, view.name, view.type, { dnssecOk: true, checkingDisabled: true });
    answersWithoutValidation = cd.ok && (cd.response.rcode === 'NOERROR' || cd.response.rcode === 'NXDOMAIN');
  }
  const verdict: DnssecVerdict = { ede, answersWithoutValidation, problems: await zoneDnssecProblems(ctx, view, o.vantage) };
  return isValidationFailure(verdict) ? verdict : undefined;
}

function records(result: DnsResult): DnsRecord[] {
  return result.ok ? [...result.response.answers, ...result.response.authorities] : [];
}

/** The zone's signatures over the name and over its DNSKEYs, and its DS at the parent (asked through the resolver, CD set). */
function zoneDnssecProblems(ctx: CheckContext, view: NameView, resolver: Vantage): Promise<ZoneDnssecProblem[]> {
  const auth = view.authoritative.find((a) => a.result.ok)?.vantage;
  if (!auth) return Promise.resolve([]);
  return memo(ctx, `dnssec-zone|${view.name}|${view.type}|${formatServerAddress(resolver.server)}`, async () => {
    const signed = records(await ask(ctx, auth, view.name, view.type, { dnssecOk: true })).filter((r) => r.type === 'RRSIG');
    const signer = signed.find((r) => r.fields?.signer)?.fields?.signer;
    if (signer === undefined) return [];
    const zone = String(signer);
    const [keys, ds] = await Promise.all([
      ask(ctx, auth, zone, 'DNSKEY', { dnssecOk: true }),
      ask(ctx, resolver, zone, 'DS', { dnssecOk: true, checkingDisabled: true }),
    ]);
    const keyRecords = records(keys);
    const problems = signatureProblems([...signed, ...keyRecords.filter((r) => r.type === 'RRSIG')], ctx.now());
    const mismatch = dsProblem(zone, records(ds), keyRecords);
    return mismatch ? [...problems, mismatch] : problems;
  });
}

/** A resolver's clamp, once per run; `reported` lets the first dialer that sees it say so, once. */
export interface ClampAtResolver {
  clamp?: Clamp;
  reported: boolean;
}

/** The TTL a negative answer (the SOA in its authority section) or a wildcard answer carries. */
function ttlOf(result: DnsResult, zoneSide: boolean): number | undefined {
  if (!result.ok) return undefined;
  const r = result.response;
  if (r.rcode === 'NOERROR' && r.answers.length > 0) return Math.min(...r.answers.map((a) => a.ttl));
  if (r.rcode !== 'NXDOMAIN' && r.rcode !== 'NOERROR') return undefined;
  const soa = r.authorities.find((a) => a.type === 'SOA');
  if (!soa) return undefined;
  // RFC 2308 §5: a negative answer is cached for min(SOA TTL, SOA MINIMUM); resolvers hand out what they cached.
  const minimum = Number(soa.fields?.minimum);
  return zoneSide && Number.isFinite(minimum) ? Math.min(soa.ttl, minimum) : soa.ttl;
}

/**
 * Ask the resolver twice in a row about a name made up for this run under the dialer's parent,
 * which no cache can hold, and compare with the TTL the zone gives that name.
 */
export function ttlClampAt(ctx: CheckContext, resolver: Vantage, dialer: string, authoritative: Vantage[]): Promise<ClampAtResolver> {
  return memoForRun(ctx, `ttl-clamp|${formatServerAddress(resolver.server)}`, async (): Promise<ClampAtResolver> => {
    const labels = dialer.split('.');
    if (labels.length < 3 || authoritative.length === 0) return { reported: false };
    const made = `_dialer-audit-${randomBytes(4).toString('hex')}.${labels.slice(1).join('.')}`;
    let zoneTtl: number | undefined;
    for (const auth of authoritative) {
      zoneTtl = ttlOf(await ask(ctx, auth, made, 'A'), true);
      if (zoneTtl !== undefined) break;
    }
    if (zoneTtl === undefined) return { reported: false };
    const question = { server: resolver.server, name: made, type: 'A' as const, recursionDesired: true };
    const started = ctx.now();
    const first = ttlOf(await ctx.dns.query(question, ctx.signal), false);
    const second = ttlOf(await ctx.dns.query(question, ctx.signal), false);
    if (first === undefined || second === undefined) return { reported: false };
    return { clamp: judgeClamp({ zoneTtl, first, second, elapsedS: Math.ceil((ctx.now() - started) / 1000) }), reported: false };
  });
}

/** What the second look found for one resolver's answer to one question. */
export interface SecondLook {
  dnssec?: DnssecVerdict;
  clamp?: Clamp;
  /** Set for the one answer that first learnt of the resolver's clamp: it reports it. */
  clampNews?: Clamp;
}

export async function secondLook(ctx: CheckContext, view: NameView, o: Observation): Promise<SecondLook> {
  const authoritative = view.authoritative.filter((a) => a.result.ok).map((a) => a.vantage);
  const [dnssec, atResolver] = await Promise.all([
    dnssecVerdict(ctx, view, o),
    o.shape.status === 'data' ? ttlClampAt(ctx, o.vantage, view.name, authoritative) : undefined,
  ]);
  const clamp = atResolver?.clamp;
  let clampNews: Clamp | undefined;
  if (atResolver && clamp && !atResolver.reported) {
    atResolver.reported = true;
    clampNews = clamp;
  }
  return { dnssec, clamp, clampNews };
}
