// ttl-policy: no dialer record may be cached longer than the policy allows. The 2020 WebRTC
// outage lasted a day because a bad answer was cached under the dialers' 24-hour TTLs; at
// 300 s it would have healed itself in five minutes.
//
// Record sets from Route 53 zones are read from the inventory (nothing is queried) and each
// over-policy one carries the TTL change the fixer would make. Static dialers outside those
// zones are measured through their authoritative servers (the TTL the world is handed).
import { z } from 'zod';
import { formatServerAddress } from '../src/address.ts';
import { ZONE_NAME_SERVERS } from '../src/bound.ts';
import type { Config } from '../src/config-schema.ts';
import { auditCommand, shellWord } from '../src/config-file.ts';
import { shapeOf } from '../src/compare.ts';
import { ask, authoritativeFor } from '../src/lookup.ts';
import { firstMatchingGlob, isInZone, matchesGlob, normalizeRoute53Name } from '../src/names.ts';
import type { RecordType } from '../src/net/dns.ts';
import type { Check, CheckContext, CodeDoc, Finding, Inventory, RecordSet, Target, TtlChange } from '../src/types.ts';
import { humanDuration } from '../src/units.ts';
import { ttlSeconds } from '../src/durations.ts';

const ID = 'ttl-policy';
/** Seconds, or a duration such as `5m`. */
const ttl = ttlSeconds;

const override = z.strictObject({
  /** Name glob (`*` within a label, `**` across labels). */
  name: z.string().min(1).optional(),
  /** Record type, e.g. TXT. */
  type: z
    .string()
    .regex(/^[A-Za-z]+$/, 'expected a record type such as A, AAAA, CNAME, TXT')
    .transform((t) => t.toUpperCase())
    .optional(),
  maxTtl: ttl,
});

const params = z.strictObject({
  /** Longest TTL allowed on a dialer record, in seconds. */
  maxTtl: ttl.default(300),
  /** Exceptions; the first one whose name and type match wins. */
  overrides: z.array(override).default([]),
  /** Longest negative-caching TTL allowed (min of the SOA's TTL and MINIMUM); default: maxTtl. */
  maxNegativeTtl: ttl.optional(),
  /** For dialers outside the Route 53 zones: the types whose TTLs are read from the authoritative servers. */
  recordTypes: z.array(z.enum(['A', 'AAAA', 'CNAME', 'TXT', 'SRV', 'NAPTR'])).min(1).default(['A', 'AAAA']),
});
export type TtlPolicyParams = z.output<typeof params>;

const codes: Record<string, CodeDoc> = {
  TTL_ABOVE_POLICY: {
    severity: 'warning',
    meaning: "A dialer record's TTL is above policy: a wrong or stale answer cached by a resolver can live that long after the record is corrected.",
    firstStep: 'For a Route 53 record: run the `dialer-audit audit --config FILE --fix` command the finding names (it changes only the TTL). Elsewhere: lower the TTL at the DNS provider.',
  },
  TTL_NEGATIVE_ABOVE_POLICY: {
    severity: 'warning',
    meaning: "The zone's negative-caching TTL, min(SOA TTL, SOA MINIMUM), is above policy: a dialer name that was briefly missing stays missing at resolvers that long (Route 53's default is 900 s).",
    firstStep: "For a Route 53 zone: the finding's `--fix` command lowers the SOA record's TTL to the policy (its values stay). Elsewhere: lower the SOA's TTL or MINIMUM at the DNS provider.",
  },
  TTL_ALIAS: {
    severity: 'info',
    meaning: 'An alias record has no TTL of its own: resolvers cache it for the TTL of what it points at. The fixer never sends alias records.',
    firstStep: "Nothing to change on the alias; if it points at a record of your own, keep that record's TTL within policy.",
  },
  TTL_UNKNOWN: {
    severity: 'warning',
    meaning: "The TTL of a dialer outside the Route 53 zones could not be read: none of its zone's authoritative servers answered, so the policy was not checked.",
    firstStep: 'Query the authoritative servers directly (dig +norec @server NAME); set `authoritative:` in the config if they cannot be found through the first resolver.',
  },
};

type TtlTargetData =
  | { kind: 'records'; zoneId: string; zoneName: string; recordSets: RecordSet[] }
  | { kind: 'zone'; zoneId: string; zoneName: string; soa?: RecordSet }
  | { kind: 'dns' };

export interface TtlTarget extends Target {
  data: TtlTargetData;
}

/** The policy for one record: the first matching override, else maxTtl. */
export function maxTtlFor(p: Pick<TtlPolicyParams, 'maxTtl' | 'overrides'>, name: string, type: string): number {
  const hit = p.overrides.find((o) => (o.name === undefined || matchesGlob(name, o.name)) && (o.type === undefined || o.type === type.toUpperCase()));
  return hit ? hit.maxTtl : p.maxTtl;
}

/** RFC 2308: negative answers are cached for the smaller of the SOA's own TTL and its MINIMUM field. */
export function negativeTtlOf(soa: RecordSet): { soaTtl: number; minimum: number; negativeTtl: number } | undefined {
  const value = soa.ResourceRecords?.[0]?.Value;
  const minimum = Number(value?.trim().split(/\s+/)[6]);
  if (soa.TTL === undefined || !Number.isFinite(minimum)) return undefined;
  return { soaTtl: soa.TTL, minimum, negativeTtl: Math.min(soa.TTL, minimum) };
}

function finding(target: string, code: keyof typeof codes, message: string, extra: Partial<Finding> = {}): Finding {
  return { check: ID, target, severity: codes[code].severity, code, message, firstStep: codes[code].firstStep, ...extra };
}

function describeSet(type: string, setIdentifier?: string): string {
  return `${type}${setIdentifier ? ` [${setIdentifier}]` : ''}`;
}

/** The exact command a person runs to apply this target's fixes, and nothing else. */
function fixCommand(config: Config, target: string): string {
  return auditCommand(config, ['--only', ID, '--target', shellWord(target), '--fix']);
}

function stale(seconds: number): string {
  return `up to ${humanDuration(seconds)}`;
}

const ttlIndexes = new WeakMap<Inventory, Map<string, number>>();

/** The longest TTL at each name and type of the inventory's zones, for the TTL an alias inherits. */
function ttlIndex(inventory: Inventory): Map<string, number> {
  let index = ttlIndexes.get(inventory);
  if (!index) {
    index = new Map();
    for (const r of inventory.zones.flatMap((z) => z.recordSets)) {
      if (r.TTL === undefined) continue;
      const key = `${normalizeRoute53Name(r.Name)}|${r.Type}`;
      index.set(key, Math.max(r.TTL, index.get(key) ?? 0));
    }
    ttlIndexes.set(inventory, index);
  }
  return index;
}

/** What to do about a fixable record: the exact --fix command, unless the config keeps --fix away from it. */
function fixStep(config: Config, name: string, what: string, zoneName: string): string {
  const protectedBy = firstMatchingGlob(name, config.fix.protect);
  if (protectedBy !== undefined) {
    return `${name} is protected by fix.protect "${protectedBy}", so --fix leaves it alone: set ${what} by hand in Route 53 zone ${zoneName}, or take it out of fix.protect.`;
  }
  const command = fixCommand(config, name);
  if (config.fix.mode === 'off') return `fix.mode is off in the config, so --fix plans nothing: set fix.mode: plan, then run \`${command}\` (it sets ${what}).`;
  return `Run \`${command}\`: it sets ${what} in Route 53 zone ${zoneName} and changes nothing else (without --fix it only prints the plan).`;
}

function recordFindings(target: TtlTarget & { data: { kind: 'records' } }, p: TtlPolicyParams, ctx: CheckContext): Finding[] {
  const { zoneId, zoneName, recordSets } = target.data;
  const name = target.name;
  const findings: Finding[] = [];
  const fixes: { finding: Finding; change: TtlChange }[] = [];
  for (const r of recordSets) {
    if (r.Type === 'SOA' || (r.Type === 'NS' && name === zoneName)) continue; // the zone's own; SOA has its own rule
    const maxTtl = maxTtlFor(p, name, r.Type);
    const label = `${name} ${describeSet(r.Type, r.SetIdentifier)}`;
    const where = { zoneId, zoneName, type: r.Type, setIdentifier: r.SetIdentifier };
    if (r.AliasTarget) {
      const aliased = normalizeRoute53Name(r.AliasTarget.DNSName);
      const targetTtl = ttlIndex(ctx.inventory).get(`${aliased}|${r.Type}`);
      const effective =
        targetTtl !== undefined
          ? `resolvers cache it for the TTL of ${aliased} (${targetTtl} s${targetTtl > maxTtl ? `, above the ${maxTtl} s policy` : ''})`
          : `resolvers cache it for the TTL AWS gives ${aliased} (60 s for load balancers and CloudFront)`;
      findings.push(
        finding(name, 'TTL_ALIAS', `${label} is an alias to ${aliased}: it has no TTL of its own; ${effective}; the fixer never sends alias records`, {
          evidence: { ...where, aliasTarget: aliased, aliasHostedZoneId: r.AliasTarget.HostedZoneId, targetTtl, maxTtl },
        }),
      );
      continue;
    }
    if (r.TTL === undefined) continue;
    ctx.measure({ metric: 'ttl_seconds', value: r.TTL, labels: { type: r.Type, ...(r.SetIdentifier ? { set: r.SetIdentifier } : {}) } });
    if (r.TTL <= maxTtl) continue;
    const message = `${label} has TTL ${r.TTL} s, above the ${maxTtl} s policy: a stale or wrong answer can live in resolver caches for ${stale(r.TTL)} after the record is corrected`;
    const evidence = { ...where, ttl: r.TTL, maxTtl, worstCaseStaleSeconds: r.TTL };
    if (r.TrafficPolicyInstanceId) {
      findings.push(
        finding(name, 'TTL_ABOVE_POLICY', message, {
          evidence: { ...evidence, trafficPolicyInstanceId: r.TrafficPolicyInstanceId },
          firstStep: `This record set belongs to traffic policy instance ${r.TrafficPolicyInstanceId}: set its TTL to ${maxTtl} s there (Route 53 → Traffic policies); the fixer does not change it.`,
        }),
      );
      continue;
    }
    const change: TtlChange = { zoneId, zoneName, name, type: r.Type, setIdentifier: r.SetIdentifier, fromTtl: r.TTL, toTtl: maxTtl };
    const f = finding(name, 'TTL_ABOVE_POLICY', message, { evidence, fix: change });
    findings.push(f);
    fixes.push({ finding: f, change });
  }
  // The first step names the exact command; with several over-policy sets at one name it lists them all.
  const what = fixes.map(({ change: c }) => `${describeSet(c.type, c.setIdentifier)} ${c.fromTtl} → ${c.toTtl} s`).join(', ');
  const longest = Math.max(0, ...fixes.map(({ change: c }) => c.fromTtl));
  for (const { finding: f } of fixes) {
    f.firstStep = `${fixStep(ctx.config, name, `the TTL of ${name} ${what}`, zoneName)} Answers cached before the change keep the old TTL, so it is fully in effect after ${humanDuration(longest)}.`;
  }
  return findings;
}

function zoneFindings(target: TtlTarget & { data: { kind: 'zone' } }, p: TtlPolicyParams, ctx: CheckContext): Finding[] {
  const { zoneId, zoneName, soa } = target.data;
  const neg = soa ? negativeTtlOf(soa) : undefined;
  if (!soa || !neg) return [];
  const policy = p.maxNegativeTtl ?? p.maxTtl;
  ctx.measure({ metric: 'negative_ttl_seconds', value: neg.negativeTtl, target: zoneName });
  if (neg.negativeTtl <= policy) return [];
  const change: TtlChange = { zoneId, zoneName, name: zoneName, type: 'SOA', fromTtl: neg.soaTtl, toTtl: policy };
  return [
    finding(
      zoneName,
      'TTL_NEGATIVE_ABOVE_POLICY',
      `zone ${zoneName} has negative-caching TTL min(SOA TTL ${neg.soaTtl}, MINIMUM ${neg.minimum}) = ${neg.negativeTtl} s, above the ${policy} s policy: a dialer name that was briefly missing stays missing at resolvers for ${stale(neg.negativeTtl)}`,
      {
        evidence: { zoneId, zoneName, soaTtl: neg.soaTtl, soaMinimum: neg.minimum, negativeTtl: neg.negativeTtl, maxTtl: policy, worstCaseStaleSeconds: neg.negativeTtl, source: 'route53' },
        fix: change,
        firstStep: fixStep(ctx.config, zoneName, `the TTL of the SOA record of ${zoneName} ${neg.soaTtl} → ${policy} s (its values, MINIMUM included, stay as they are)`, zoneName),
      },
    ),
  ];
}

async function dnsFindings(target: TtlTarget, p: TtlPolicyParams, ctx: CheckContext): Promise<Finding[]> {
  const name = target.name;
  const auth = await authoritativeFor(ctx, name);
  if (!auth.ok) return [finding(name, 'TTL_UNKNOWN', `${name}: cannot find its authoritative servers: ${auth.detail}`, { evidence: { detail: auth.detail } })];
  const findings: Finding[] = [];
  let answered = false;
  for (const type of p.recordTypes as RecordType[]) {
    // Each authoritative server may hand out a different TTL; the longest is the worst case.
    const ttls: { server: string; ttl: number }[] = [];
    for (const vantage of auth.servers) {
      const shape = shapeOf(name, type, await ask(ctx, vantage, name, type));
      if (shape.status === 'data' || shape.status === 'nodata' || shape.status === 'nxdomain') answered = true;
      if (shape.status === 'data') ttls.push({ server: vantage.name, ttl: shape.ttl });
    }
    if (ttls.length === 0) continue;
    const worst = ttls.reduce((a, b) => (b.ttl > a.ttl ? b : a));
    ctx.measure({ metric: 'ttl_seconds', value: worst.ttl, labels: { type } });
    const maxTtl = maxTtlFor(p, name, type);
    if (worst.ttl <= maxTtl) continue;
    findings.push(
      finding(name, 'TTL_ABOVE_POLICY', `${name} ${type} has TTL ${worst.ttl} s at ${worst.server}, above the ${maxTtl} s policy: a stale or wrong answer can live in resolver caches for ${stale(worst.ttl)} after the record is corrected`, {
        resolver: worst.server,
        evidence: { type, ttl: worst.ttl, maxTtl, worstCaseStaleSeconds: worst.ttl, authoritative: Object.fromEntries(ttls.map((t) => [t.server, t.ttl])), source: 'dns' },
        firstStep: `Lower the TTL of ${name} ${type} to ${maxTtl} s where its zone is served: it is not in a Route 53 zone under targets.zones, so --fix cannot change it (add the zone there if Route 53 serves it).`,
      }),
    );
  }
  if (!answered) {
    return [finding(name, 'TTL_UNKNOWN', `${name}: none of its authoritative servers (${auth.servers.map((s) => s.name).join(', ')}) answered, so its TTL is unknown`, { evidence: { servers: auth.servers.map((s) => s.name) } })];
  }
  findings.push(...(await dnsNegativeFindings(name, auth.servers, p, ctx)));
  return findings;
}

/** The zone's negative TTL from its SOA, as its authoritative servers hand it out. */
async function dnsNegativeFindings(name: string, servers: Parameters<typeof ask>[1][], p: TtlPolicyParams, ctx: CheckContext): Promise<Finding[]> {
  for (const vantage of servers) {
    const result = await ask(ctx, vantage, name, 'SOA');
    if (!result.ok) continue;
    const soa = [...result.response.answers, ...result.response.authorities].find((r) => r.type === 'SOA');
    const minimum = Number(soa?.fields?.minimum);
    if (!soa || !Number.isFinite(minimum)) continue;
    const negativeTtl = Math.min(soa.ttl, minimum);
    const policy = p.maxNegativeTtl ?? p.maxTtl;
    if (negativeTtl <= policy) return [];
    return [
      finding(soa.name, 'TTL_NEGATIVE_ABOVE_POLICY', `zone ${soa.name} has negative-caching TTL min(SOA TTL ${soa.ttl}, MINIMUM ${minimum}) = ${negativeTtl} s at ${vantage.name}, above the ${policy} s policy: a dialer name that was briefly missing stays missing at resolvers for ${stale(negativeTtl)}`, {
        resolver: vantage.name,
        evidence: { zoneName: soa.name, soaTtl: soa.ttl, soaMinimum: minimum, negativeTtl, maxTtl: policy, worstCaseStaleSeconds: negativeTtl, source: 'dns', dialers: [name] },
        firstStep: `Lower the SOA TTL or MINIMUM of ${soa.name} to ${policy} s where the zone is served (it is not a Route 53 zone under targets.zones, so --fix cannot change it).`,
      }),
    ];
  }
  return [];
}

/** The inventory zone holding `name` (the longest zone name wins when zones nest). */
function zoneHolding(inventory: Inventory, name: string) {
  return inventory.zones.filter((z) => isInZone(name, z.name)).sort((a, b) => b.name.length - a.name.length)[0];
}

export const ttlPolicy: Check<TtlPolicyParams, TtlTarget> = {
  id: ID,
  description: 'Flags dialer records (and zones’ negative caching) whose TTL is above policy, with the Route 53 TTL change that fixes each.',
  params,
  codes,
  *targets(inventory) {
    const covered = new Set<string>();
    for (const zone of inventory.zones) {
      const soa = zone.recordSets.find((r) => r.Type === 'SOA' && normalizeRoute53Name(r.Name) === zone.name);
      yield { name: zone.name, data: { kind: 'zone', zoneId: zone.zoneId, zoneName: zone.name, soa } };
      const byName = new Map<string, RecordSet[]>();
      for (const r of zone.dialerRecordSets) {
        const n = normalizeRoute53Name(r.Name);
        byName.set(n, [...(byName.get(n) ?? []), r]);
      }
      // By name, as the runner streams every check's targets.
      for (const name of [...byName.keys()].sort()) {
        yield { name, data: { kind: 'records', zoneId: zone.zoneId, zoneName: zone.name, recordSets: byName.get(name)! } };
        covered.add(name);
      }
    }
    // Static dialers: read from Route 53 when a configured zone holds them, else through DNS.
    const byZone = new Map<string, Map<string, RecordSet[]>>();
    const setsAt = (zone: Inventory['zones'][number], name: string): RecordSet[] => {
      let index = byZone.get(zone.zoneId);
      if (!index) {
        index = new Map();
        for (const r of zone.recordSets) {
          const n = normalizeRoute53Name(r.Name);
          index.set(n, [...(index.get(n) ?? []), r]);
        }
        byZone.set(zone.zoneId, index);
      }
      return index.get(name) ?? [];
    };
    for (const name of inventory.dialers) {
      if (covered.has(name)) continue;
      covered.add(name);
      const zone = zoneHolding(inventory, name);
      if (!zone) {
        yield { name, data: { kind: 'dns' } };
        continue;
      }
      const recordSets = setsAt(zone, name);
      // Not in the zone at all: dns-consistency reports the missing name; no TTL to judge.
      if (recordSets.length > 0) yield { name, data: { kind: 'records', zoneId: zone.zoneId, zoneName: zone.name, recordSets } };
    }
  },
  questions(target, p, config) {
    // Only dialers outside the Route 53 zones are asked: every type, and the zone's SOA once.
    if (target.data.kind !== 'dns') return [];
    const auth = config.authoritative?.length ? config.authoritative.map((a) => formatServerAddress(a.address)) : [ZONE_NAME_SERVERS];
    const out = auth.flatMap((server) => p.recordTypes.map((type) => ({ server, question: `authoritative ${type}` })));
    out.push({ server: auth[0], question: 'authoritative SOA' });
    if (!config.authoritative?.length && config.resolvers[0]) out.push({ server: formatServerAddress(config.resolvers[0].address), question: 'resolver SOA' });
    return out;
  },
  async run(target, p, ctx) {
    switch (target.data.kind) {
      case 'records':
        return recordFindings(target as TtlTarget & { data: { kind: 'records' } }, p, ctx);
      case 'zone':
        return zoneFindings(target as TtlTarget & { data: { kind: 'zone' } }, p, ctx);
      case 'dns':
        return dnsFindings(target, p, ctx);
    }
  },
  aggregate(findings) {
    // One negative-TTL finding per zone found through DNS, however many dialers live in it.
    const out: Finding[] = [];
    const byZone = new Map<string, Finding>();
    const unknown = findings.filter((f) => f.code === 'TTL_UNKNOWN');
    for (const f of findings) {
      if (f.code === 'TTL_UNKNOWN' && unknown.length > 5) continue;
      if (f.code !== 'TTL_NEGATIVE_ABOVE_POLICY' || f.evidence?.source !== 'dns') {
        out.push(f);
        continue;
      }
      const seen = byZone.get(f.target);
      if (!seen) {
        byZone.set(f.target, f);
        out.push(f);
      } else {
        const dialers = [...((seen.evidence?.dialers as string[]) ?? []), ...((f.evidence?.dialers as string[]) ?? [])];
        seen.evidence = { ...seen.evidence, dialers: [...new Set(dialers)].sort() };
      }
    }
    if (unknown.length > 5) {
      const names = unknown.map((f) => f.target).sort();
      out.push(
        finding(`${names.length} dialers`, 'TTL_UNKNOWN', `the TTLs of ${names.length} dialers outside the Route 53 zones could not be read (${names.slice(0, 5).join(', ')}, …): ${String(unknown[0].message.split(': ').slice(1).join(': '))}`, {
          evidence: { dialers: names.slice(0, 50), moreDialers: Math.max(0, names.length - 50) },
        }),
      );
    }
    return out;
  },
};
