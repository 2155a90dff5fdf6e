// Asking every vantage point about a name: the configured resolvers (RD=1) and the zone's
// authoritative servers (RD=0; explicit in config, else found through the first resolver).
// Shared by dns-consistency, stun-binding and sip-options so the comparison exists once.
import { formatNetwork, formatServerAddress, parseServerAddress, type ServerAddress } from './address.ts';
import { compareWithTruth, isAnswer, sameZoneAnswer, shapeOf, type AnswerShape, type Comparison, type ZoneTruth } from './compare.ts';
import { route53Variants } from './inventory/routing.ts';
import type { ClientSubnet, DnsQuery, DnsResult, RecordType } from './net/dns.ts';
import { normalizeName } from './net/dns.ts';
import type { CheckContext } from './types.ts';

export interface Vantage {
  name: string;
  kind: 'resolver' | 'authoritative';
  server: ServerAddress;
  flushUrl?: string;
  /** A resolver's egress networks: the zone is asked with each as EDNS Client Subnet. */
  egress?: ClientSubnet[];
}

export interface Observation {
  vantage: Vantage;
  result: DnsResult;
  shape: AnswerShape;
  /** A resolver's answer is compared with this: what the zone would give that resolver. */
  truth?: ZoneTruth;
}

/** Cache-flush pages of public resolvers people actually use, by address (and DoH/DoT host name). */
const KNOWN_FLUSH_PAGES: { addresses: string[]; url: string }[] = [
  { addresses: ['8.8.8.8', '8.8.4.4', '2001:4860:4860::8888', '2001:4860:4860::8844', 'dns.google'], url: 'https://developers.google.com/speed/public-dns/cache' },
  { addresses: ['1.1.1.1', '1.0.0.1', '2606:4700:4700::1111', '2606:4700:4700::1001', 'cloudflare-dns.com', 'one.one.one.one'], url: 'https://one.one.one.one/purge-cache/' },
  { addresses: ['208.67.222.222', '208.67.220.220', '2620:119:35::35', '2620:119:53::53'], url: 'https://cachecheck.opendns.com/' },
];

export function flushPageFor(server: ServerAddress, configured?: string): string | undefined {
  if (configured) return configured;
  return KNOWN_FLUSH_PAGES.find((p) => p.addresses.includes(server.host))?.url;
}

export function resolverVantages(ctx: Pick<CheckContext, 'config'>): Vantage[] {
  return ctx.config.resolvers.map((r) => ({ name: r.name, kind: 'resolver', server: r.address, flushUrl: flushPageFor(r.address, r.flushUrl), egress: r.egress }));
}

/**
 * Per-name memo: the same question asked by two checks about the name they audit costs one query.
 * Its answers go when their name is done (see RunCache), so facts about the run as a whole — what
 * a resolver does to TTLs, a zone's name servers — belong in memoForRun instead.
 */
export function memo<T>(ctx: CheckContext, key: string, make: () => Promise<T>): Promise<T> {
  let hit = ctx.cache.get(key) as Promise<T> | undefined;
  if (!hit) {
    hit = make();
    ctx.cache.set(key, hit);
  }
  return hit;
}

/** One map per run, found by the run's AbortSignal (one per run; the map goes with it). */
const runFacts = new WeakMap<AbortSignal, Map<string, Promise<unknown>>>();

/**
 * Run-wide memo for the few facts every name shares (per resolver, per zone): learnt once per
 * run whatever the order names finish in. Keyed by the run, so it grows with servers and zones,
 * never with the fleet.
 */
export function memoForRun<T>(ctx: CheckContext, key: string, make: () => Promise<T>): Promise<T> {
  let facts = runFacts.get(ctx.signal);
  if (!facts) runFacts.set(ctx.signal, (facts = new Map()));
  let hit = facts.get(key) as Promise<T> | undefined;
  if (!hit) {
    hit = make();
    facts.set(key, hit);
  }
  return hit;
}

/** EDNS flags and options a question may carry besides RD; part of the question's identity. */
export type AskOptions = Pick<DnsQuery, 'authenticatedData' | 'dnssecOk' | 'checkingDisabled' | 'clientSubnet'> & {
  /** The same question asked again (1, 2, …) to learn a dynamic name's answers; 0 or absent is the first ask. */
  again?: number;
};

export function ask(ctx: CheckContext, vantage: Vantage, name: string, type: RecordType, options: AskOptions = {}): Promise<DnsResult> {
  const { again, ...query } = options;
  const ecs = query.clientSubnet ? formatNetwork(query.clientSubnet) : '';
  // Resolvers are asked as DNSSEC-aware clients by default (dns.dnssec): AD set, so pdns-recursor's
  // default mode validates too; not DO, which dnsmasq answers past its cache.
  const authenticatedData = query.authenticatedData ?? (vantage.kind === 'resolver' && ctx.config.dns.dnssec);
  const key = `dns|${formatServerAddress(vantage.server)}|${vantage.kind}|${normalizeName(name)}|${type}|${authenticatedData ? 'ad' : ''}${query.dnssecOk ? 'do' : ''}|${query.checkingDisabled ? 'cd' : ''}|${ecs}|${again ?? 0}`;
  return memo(ctx, key, () =>
    ctx.dns.query({ server: vantage.server, name, type, recursionDesired: vantage.kind === 'resolver', ...query, authenticatedData }, ctx.signal),
  );
}

export type AuthoritativeLookup = { ok: true; servers: Vantage[]; zone?: string } | { ok: false; detail: string };

/**
 * The zone's authoritative servers for `name`: the configured ones, or the NS of the closest
 * enclosing zone (SOA owner) as the first resolver sees them, each queried on port 53.
 */
export function authoritativeFor(ctx: CheckContext, name: string): Promise<AuthoritativeLookup> {
  const configured = ctx.config.authoritative;
  if (configured && configured.length > 0) {
    return Promise.resolve({
      ok: true,
      servers: configured.map((a, i) => ({ name: a.name ?? `auth${i + 1}`, kind: 'authoritative', server: a.address })),
    });
  }
  const resolver = resolverVantages(ctx)[0];
  if (!resolver) return Promise.resolve({ ok: false, detail: 'no authoritative servers configured and no resolver to find them with' });
  return memo(ctx, `auth-discovery|${normalizeName(name)}`, async () => {
    const soa = await ask(ctx, resolver, name, 'SOA');
    if (!soa.ok) return { ok: false, detail: `finding the zone of ${name} through ${resolver.name} failed: ${soa.detail}` };
    const soaRecord = [...soa.response.answers, ...soa.response.authorities].find((r) => r.type === 'SOA');
    if (!soaRecord) return { ok: false, detail: `${resolver.name} returned no SOA for ${name} (${soa.response.rcode})` };
    const zone = soaRecord.name;
    return memoForRun(ctx, `auth-servers|${zone}`, async (): Promise<AuthoritativeLookup> => {
      const ns = await ask(ctx, resolver, zone, 'NS');
      if (!ns.ok) return { ok: false, detail: `NS of ${zone} through ${resolver.name}: ${ns.detail}` };
      const nsNames = ns.response.answers.filter((r) => r.type === 'NS' && r.name === zone).map((r) => r.value);
      if (nsNames.length === 0) return { ok: false, detail: `${resolver.name} returned no NS for ${zone}` };
      const servers: Vantage[] = [];
      for (const nsName of nsNames.sort()) {
        for (const type of ['A', 'AAAA'] as const) {
          const addr = await ask(ctx, resolver, nsName, type);
          if (!addr.ok) continue;
          for (const rec of addr.response.answers.filter((r) => r.type === type)) {
            const server = parseServerAddress(type === 'AAAA' ? `[${rec.value}]` : rec.value, 53);
            if (server) servers.push({ name: `${nsName}${type === 'AAAA' ? ' (v6)' : ''}`, kind: 'authoritative', server });
          }
        }
      }
      if (servers.length === 0) return { ok: false, detail: `none of ${zone}'s name servers (${nsNames.join(', ')}) has an address` };
      return { ok: true, servers, zone };
    });
  });
}

export interface NameView {
  name: string;
  type: RecordType;
  authoritative: Observation[];
  /** Each with the truth it is compared with. */
  resolvers: Observation[];
  /** The zone's usable answers to the first ask (no client subnet); empty when no authoritative server answered. */
  zone: AnswerShape[];
  /** The authoritative servers disagree with one another (and the name is not routed). */
  zoneInconsistent: boolean;
  /** Why no authoritative server was asked (they could not be found). */
  authLookupError?: string;
}

/**
 * Learning a dynamic name: the zone is asked again while a resolver's answer is unexplained, at
 * most LEARN_MAX_ASKS times, and no longer once LEARN_QUIET_ASKS asks in a row brought no new
 * answer. A 50/50 weighted name shows its other answer within 16 asks with odds of 1 in 65,000.
 */
export const LEARN_MAX_ASKS = 24;
export const LEARN_QUIET_ASKS = 16;
/** Asks sent at once while learning (rounds of the same question). */
const LEARN_BATCH = 4;

/** Ask all authoritative servers and all resolvers about one name and type. */
export async function viewName(ctx: CheckContext, name: string, type: RecordType): Promise<NameView> {
  const auth = await authoritativeFor(ctx, name);
  const authServers = auth.ok ? auth.servers : [];
  const [authoritative, resolvers] = await Promise.all([
    Promise.all(authServers.map(async (v) => observe(ctx, v, name, type))),
    Promise.all(resolverVantages(ctx).map(async (v) => observe(ctx, v, name, type))),
  ]);
  const zone = authoritative.map((o) => o.shape).filter(isAnswer);
  const variants = route53Variants(ctx.inventory, name, type);
  const zoneAsk: ZoneAsk = { ctx, servers: authServers, name, type };
  // Most answers are explained by the first asks: only the others cost more queries (and awaits).
  const plain: ZoneTruth = { answers: zone, variants };
  const unexplained: Observation[] = [];
  for (const o of resolvers) {
    if (!o.vantage.egress?.length && explained(plain, o.shape)) o.truth = plain;
    else unexplained.push(o);
  }
  if (unexplained.length > 0) await Promise.all(unexplained.map(async (o) => (o.truth = await truthFor(zoneAsk, o, zone, variants))));
  const usable = authoritative.map((o) => o.shape).filter(isAnswer);
  const disagree = usable.some((a) => !sameZoneAnswer(a, usable[0]));
  const zoneInconsistent = disagree && (await authoritativeDisagree(zoneAsk, authoritative, variants));
  return { name, type, authoritative, resolvers, zone, zoneInconsistent, authLookupError: auth.ok ? undefined : auth.detail };
}

/** Nothing more to learn: Route 53's record sets are the whole truth, or the answer matches. */
function explained(truth: ZoneTruth, shape: AnswerShape): boolean {
  return truth.variants !== undefined || shape.status !== 'data' || compareWithTruth(truth, shape).consistent;
}

interface ZoneAsk {
  ctx: CheckContext;
  servers: Vantage[];
  name: string;
  type: RecordType;
}

/** Every authoritative server's answer to one ask (usable or not, in server order). */
async function askZone(z: ZoneAsk, again: number, clientSubnet?: ClientSubnet): Promise<AnswerShape[]> {
  return Promise.all(z.servers.map(async (v) => authoritativeShape(v, z.name, z.type, await ask(z.ctx, v, z.name, z.type, { again, clientSubnet }))));
}

/**
 * What the zone would give this resolver: the first answers (asked with its egress networks as
 * client subnet when it has them), the Route 53 variants, and — when the name is not in the
 * inventory and the answer is still unexplained — the answers learned by asking again.
 */
async function truthFor(z: ZoneAsk, o: Observation, zone: AnswerShape[], variants: ZoneTruth['variants']): Promise<ZoneTruth> {
  const subnets = o.vantage.egress ?? [];
  const egress = subnets.length > 0 ? subnets.map(formatNetwork) : undefined;
  const askAll = async (again: number) =>
    subnets.length === 0 ? (again === 0 ? zone : (await askZone(z, again)).filter(isAnswer)) : (await Promise.all(subnets.map((s) => askZone(z, again, s)))).flat().filter(isAnswer);
  // A server that does not answer questions with a client subnet still answers the plain one.
  let answers = await askAll(0);
  if (answers.length === 0) answers = zone;
  let truth: ZoneTruth = { answers, variants, egress };
  if (explained(truth, o.shape)) return truth;
  let quiet = 0;
  for (let again = 1; again < LEARN_MAX_ASKS && quiet < LEARN_QUIET_ASKS; again += LEARN_BATCH) {
    const batch = await Promise.all(Array.from({ length: Math.min(LEARN_BATCH, LEARN_MAX_ASKS - again) }, (_, i) => askAll(again + i)));
    for (const more of batch) {
      const known = distinctCount(answers);
      answers = [...answers, ...more];
      quiet = distinctCount(answers) > known ? 0 : quiet + 1;
    }
    const asks = again + batch.length;
    truth = { answers, variants, egress, ...(distinctCount(answers) > 1 ? { learned: { asks } } : {}) };
    if (compareWithTruth(truth, o.shape).consistent) break;
  }
  return truth;
}

function distinctCount(answers: AnswerShape[]): number {
  const distinct: AnswerShape[] = [];
  for (const a of answers) if (!distinct.some((b) => sameZoneAnswer(a, b))) distinct.push(a);
  return distinct.length;
}

/**
 * Authoritative servers that gave different answers are inconsistent (a secondary missed an
 * update) — unless the name is routed: every answer is a Route 53 variant, or a server's own
 * answer changes when asked again (a dynamic name).
 */
async function authoritativeDisagree(z: ZoneAsk, authoritative: Observation[], variants: ZoneTruth['variants']): Promise<boolean> {
  const first = authoritative.map((o) => o.shape);
  const usable = first.filter(isAnswer);
  if (variants && usable.every((a) => compareWithTruth({ answers: [], variants }, a).consistent)) return false;
  const seen = first.map((s) => (isAnswer(s) ? [s] : []));
  let quiet = 0;
  for (let again = 1; again < LEARN_MAX_ASKS && quiet < LEARN_QUIET_ASKS; again++) {
    const more = await askZone(z, again);
    let grew = false;
    more.forEach((s, i) => {
      if (isAnswer(s) && !seen[i].some((b) => sameZoneAnswer(s, b))) {
        seen[i].push(s);
        grew = true;
      }
    });
    if (seen.some((answers) => answers.length > 1)) return false;
    quiet = grew ? 0 : quiet + 1;
  }
  return true;
}

async function observe(ctx: CheckContext, vantage: Vantage, name: string, type: RecordType): Promise<Observation> {
  const result = await ask(ctx, vantage, name, type);
  const shape = vantage.kind === 'authoritative' ? authoritativeShape(vantage, name, type, result) : shapeOf(name, type, result);
  return { vantage, result, shape };
}

function authoritativeShape(vantage: Vantage, name: string, type: RecordType, result: DnsResult): AnswerShape {
  const shape = shapeOf(name, type, result);
  // An authoritative server that answers without AA is lame: it does not hold the zone.
  if (result.ok && !result.response.authoritative && isAnswer(shape)) {
    return { status: 'failed', kind: 'lame', detail: `${vantage.name} answered without the AA flag: it is not authoritative for ${name}` };
  }
  return shape;
}

/** Resolvers whose answer disagrees with the zone, for callers that only need the verdicts. */
export function disagreements(view: NameView): { observation: Observation; comparison: Extract<Comparison, { consistent: false }> }[] {
  const out: { observation: Observation; comparison: Extract<Comparison, { consistent: false }> }[] = [];
  for (const observation of view.resolvers) {
    const comparison = compareWithTruth(observation.truth ?? { answers: view.zone }, observation.shape);
    if (!comparison.consistent) out.push({ observation, comparison });
  }
  return out;
}
