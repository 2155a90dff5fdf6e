// Asking every vantage point about a name: the configured resolvers (RD=1) and the zone's
// authoritative servers (RD=0; explicit in config, else found through the first resolver).
// Shared by dns-consistency, stun-binding and sip-options so the comparison exists once.
import { formatServerAddress, parseServerAddress, type ServerAddress } from './address.ts';
import { compareWithZone, isAnswer, sameZoneAnswer, shapeOf, type AnswerShape, type Comparison } from './compare.ts';
import type { DnsQuery, DnsResult, RecordType } from './net/dns.ts';
import { normalizeName } from './net/dns.ts';
import type { CheckContext } from './types.ts';

export interface Vantage {
  name: string;
  kind: 'resolver' | 'authoritative';
  server: ServerAddress;
  flushUrl?: string;
}

export interface Observation {
  vantage: Vantage;
  result: DnsResult;
  shape: AnswerShape;
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
  return ctx.config.resolvers.map((r) => ({ name: r.name, kind: 'resolver', server: r.address, flushUrl: flushPageFor(r.address, r.flushUrl) }));
}

/** Per-run memo: the same question asked by two checks costs one query. */
export function memo<T>(ctx: CheckContext, key: string, make: () => Promise<T>): Promise<T> {
  let hit = ctx.cache.get(key) as Promise<T> | undefined;
  if (!hit) {
    hit = make();
    ctx.cache.set(key, hit);
  }
  return hit;
}

/** EDNS flags and options a question may carry besides RD; part of the question's identity. */
export type AskOptions = Pick<DnsQuery, 'authenticatedData' | 'dnssecOk' | 'checkingDisabled' | 'clientSubnet'>;

export function ask(ctx: CheckContext, vantage: Vantage, name: string, type: RecordType, options: AskOptions = {}): Promise<DnsResult> {
  const ecs = options.clientSubnet ? `${options.clientSubnet.address}/${options.clientSubnet.prefixLength}` : '';
  // Resolvers are asked as DNSSEC-aware clients by default (dns.dnssec): AD set, so pdns-recursor's
  // default mode validates too; not DO, which dnsmasq answers past its cache.
  const authenticatedData = options.authenticatedData ?? (vantage.kind === 'resolver' && ctx.config.dns.dnssec);
  const key = `dns|${formatServerAddress(vantage.server)}|${vantage.kind}|${normalizeName(name)}|${type}|${authenticatedData ? 'ad' : ''}${options.dnssecOk ? 'do' : ''}|${options.checkingDisabled ? 'cd' : ''}|${ecs}`;
  return memo(ctx, key, () =>
    ctx.dns.query({ server: vantage.server, name, type, recursionDesired: vantage.kind === 'resolver', ...options, authenticatedData }, ctx.signal),
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
    return memo(ctx, `auth-servers|${zone}`, async (): Promise<AuthoritativeLookup> => {
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
  resolvers: Observation[];
  /** The zone's usable answers; empty when no authoritative server answered. */
  zone: AnswerShape[];
  /** The authoritative servers disagree with one another. */
  zoneInconsistent: boolean;
  authLookupError?: string;
}

/** Ask all authoritative servers and all resolvers about one name and type. */
export async function viewName(ctx: CheckContext, name: string, type: RecordType): Promise<NameView> {
  const auth = await authoritativeFor(ctx, name);
  const authServers = auth.ok ? auth.servers : [];
  const [authoritative, resolvers] = await Promise.all([
    Promise.all(authServers.map(async (v) => observe(ctx, v, name, type))),
    Promise.all(resolverVantages(ctx).map(async (v) => observe(ctx, v, name, type))),
  ]);
  const zone = authoritative.map((o) => o.shape).filter(isAnswer);
  const zoneInconsistent = zone.some((z) => !sameZoneAnswer(z, zone[0]));
  return { name, type, authoritative, resolvers, zone, zoneInconsistent, authLookupError: auth.ok ? undefined : auth.detail };
}

async function observe(ctx: CheckContext, vantage: Vantage, name: string, type: RecordType): Promise<Observation> {
  const result = await ask(ctx, vantage, name, type);
  let shape = shapeOf(name, type, result);
  // An authoritative server that answers without AA is lame: it does not hold the zone.
  if (vantage.kind === 'authoritative' && result.ok && !result.response.authoritative && isAnswer(shape)) {
    shape = { status: 'failed', kind: 'lame', detail: `${vantage.name} answered without the AA flag: it is not authoritative for ${name}` };
  }
  return { vantage, result, shape };
}

/** Resolvers whose answer disagrees with the zone, for callers that only need the verdicts. */
export function disagreements(view: NameView): { observation: Observation; comparison: Extract<Comparison, { consistent: false }> }[] {
  const out: { observation: Observation; comparison: Extract<Comparison, { consistent: false }> }[] = [];
  for (const observation of view.resolvers) {
    const comparison = compareWithZone(view.zone, observation.shape);
    if (!comparison.consistent) out.push({ observation, comparison });
  }
  return out;
}
