// Where a carrier's requests go, as RFC 3263 §4 says: NAPTR → SRV → A/AAAA, asked of every resolver
// and of the zone through lookup.ts (so the comparison logic exists once). The records we follow
// are the zone's (authoritative) when it answers, else the first resolver's; resolvers that hand
// out something else become SIP_DNS_MISMATCH material.
import { describeShape } from '../compare.ts';
import { formatServerAddress } from '../address.ts';
import { disagreements, viewName, type NameView } from '../lookup.ts';
import type { DnsRecord, RecordType } from '../net/dns.ts';
import { systemLookup } from '../net/sip.ts';
import type { CheckContext } from '../types.ts';
import { defaultPort, type CarrierUri, type SipTransport } from './uri.ts';

export interface Endpoint {
  transport: SipTransport;
  address: string;
  port: number;
  /** The host name the address belongs to (the SRV target, or the URI host). */
  host: string;
  /** How it was found. */
  via: 'literal' | 'naptr' | 'srv' | 'a' | 'system';
  /** SRV priority, when it came from SRV (lower is preferred; others are backups). */
  priority?: number;
}

export interface DnsMismatch {
  name: string;
  type: RecordType;
  resolver: string;
  server: string;
  kind: 'mismatch' | 'nxdomain' | 'nodata';
  reason: string;
  resolverAnswer: string;
  zoneAnswer: string;
  flushUrl?: string;
}

export interface Resolution {
  endpoints: Endpoint[];
  mismatches: DnsMismatch[];
  /** Transports for which no address could be found, with why. */
  failures: { transport: SipTransport; detail: string }[];
  /** What was looked up, in order, for the evidence. */
  trace: string[];
}

/** RFC 3263 §4.1: NAPTR service field per transport (SIPS over TCP is TLS). */
const NAPTR_SERVICE: Record<SipTransport, string> = { udp: 'SIP+D2U', tcp: 'SIP+D2T', tls: 'SIPS+D2T' };
/** RFC 3263 §4.1: the SRV names tried when there is no NAPTR. */
const SRV_PREFIX: Record<SipTransport, string> = { udp: '_sip._udp', tcp: '_sip._tcp', tls: '_sips._tcp' };

export interface ResolveOptions {
  transports: SipTransport[];
  /** Per-transport port overrides from the config. */
  ports?: Partial<Record<SipTransport, number>>;
  ipv6: boolean;
}

export async function resolveCarrier(ctx: CheckContext, uri: CarrierUri, opts: ResolveOptions): Promise<Resolution> {
  const out: Resolution = { endpoints: [], mismatches: [], failures: [], trace: [] };
  const portFor = (t: SipTransport, fallback?: number) => opts.ports?.[t] ?? fallback ?? uri.port ?? defaultPort(t);

  if (uri.hostKind !== 'name') {
    for (const transport of opts.transports) out.endpoints.push({ transport, address: uri.host, port: portFor(transport), host: uri.host, via: 'literal' });
    return out;
  }

  if (ctx.config.resolvers.length === 0) {
    const found = await systemLookup(uri.host);
    out.trace.push(`system resolver: ${uri.host} → ${found.ok ? found.addresses.join(', ') : found.detail}`);
    const addresses = found.ok ? found.addresses.filter((a) => opts.ipv6 || !a.includes(':')) : [];
    for (const transport of opts.transports) {
      if (addresses.length === 0) out.failures.push({ transport, detail: `${uri.host} does not resolve (${found.ok ? 'no usable address' : found.detail})` });
      for (const address of addresses) out.endpoints.push({ transport, address, port: portFor(transport), host: uri.host, via: 'system' });
    }
    return out;
  }

  const seenViews = new Set<string>();
  const view = async (name: string, type: RecordType): Promise<DnsRecord[]> => {
    const v = await viewName(ctx, name, type);
    const key = `${name}|${type}`;
    if (!seenViews.has(key)) {
      seenViews.add(key);
      out.mismatches.push(...mismatchesOf(v));
    }
    const followed = followedRecords(v);
    out.trace.push(`${name} ${type}: ${followed.from} → ${followed.records.map((r) => r.value).join('; ') || describeShape(followed.shape)}`);
    return followed.records;
  };

  // Which host:port (and how it was found) each transport goes to.
  const targets = new Map<SipTransport, { host: string; port: number; via: Endpoint['via']; priority?: number }[]>();
  if (uri.port !== undefined) {
    for (const t of opts.transports) targets.set(t, [{ host: uri.host, port: portFor(t), via: 'a' }]);
  } else {
    const naptr = (await view(uri.host, 'NAPTR')).filter((r) => r.type === 'NAPTR' && String(r.fields?.flags ?? '') === 's');
    for (const transport of opts.transports) {
      const offered = naptr
        .filter((r) => String(r.fields?.services ?? '').toUpperCase() === NAPTR_SERVICE[transport])
        .sort((a, b) => Number(a.fields?.order) - Number(b.fields?.order) || Number(a.fields?.preference) - Number(b.fields?.preference));
      const bestOrder = offered[0]?.fields?.order;
      const srvNames = offered.filter((r) => r.fields?.order === bestOrder).map((r) => String(r.fields?.replacement));
      const via: Endpoint['via'] = srvNames.length > 0 ? 'naptr' : 'srv';
      // No NAPTR for this transport: RFC 3263 §4.1 falls back to the well-known SRV name.
      if (srvNames.length === 0) srvNames.push(`${SRV_PREFIX[transport]}.${uri.host}`);
      const list: { host: string; port: number; via: Endpoint['via']; priority?: number }[] = [];
      for (const srvName of srvNames) {
        const srv = (await view(srvName, 'SRV')).filter((r) => r.type === 'SRV' && r.fields?.target && r.fields.target !== '');
        for (const r of srv) list.push({ host: String(r.fields?.target), port: opts.ports?.[transport] ?? Number(r.fields?.port), via, priority: Number(r.fields?.priority) });
      }
      // No SRV either: the URI host itself on the transport's default port (RFC 3263 §4.2).
      if (list.length === 0) list.push({ host: uri.host, port: portFor(transport), via: 'a' });
      targets.set(transport, list);
    }
  }

  const addressCache = new Map<string, Promise<string[]>>();
  const addressesOf = (host: string) => {
    let hit = addressCache.get(host);
    if (!hit) {
      hit = (async () => {
        const types: RecordType[] = opts.ipv6 ? ['A', 'AAAA'] : ['A'];
        const found: string[] = [];
        for (const type of types) found.push(...(await view(host, type)).filter((r) => r.type === type).map((r) => r.value));
        return [...new Set(found)];
      })();
      addressCache.set(host, hit);
    }
    return hit;
  };

  for (const transport of opts.transports) {
    const list = targets.get(transport) ?? [];
    let any = false;
    for (const target of list) {
      const addresses = await addressesOf(target.host);
      for (const address of addresses) {
        any = true;
        out.endpoints.push({ transport, address, port: target.port, host: target.host, via: target.via, priority: target.priority });
      }
    }
    if (!any) {
      out.failures.push({ transport, detail: `${list.map((t) => t.host).join(', ')} has no ${opts.ipv6 ? 'A/AAAA' : 'A'} record (${uri.host} via ${list[0]?.via ?? 'a'})` });
    }
  }
  return out;
}

/** The records to follow: the zone's answer when it has one, otherwise the first resolver's. */
function followedRecords(v: NameView): { records: DnsRecord[]; from: string; shape: NameView['resolvers'][number]['shape'] } {
  const zone = v.authoritative.find((o) => o.shape.status === 'data' || o.shape.status === 'nxdomain' || o.shape.status === 'nodata');
  const source = zone ?? v.resolvers.find((o) => o.shape.status === 'data') ?? v.resolvers[0] ?? v.authoritative[0];
  if (!source) return { records: [], from: 'nobody', shape: { status: 'failed', kind: 'none', detail: 'nobody to ask' } };
  const records = source.shape.status === 'data' && source.result.ok ? source.result.response.answers.filter((r) => r.type === v.type) : [];
  return { records, from: source.vantage.name, shape: source.shape };
}

function mismatchesOf(v: NameView): DnsMismatch[] {
  return disagreements(v).map(({ observation, comparison }) => ({
    name: v.name,
    type: v.type,
    resolver: observation.vantage.name,
    server: formatServerAddress(observation.vantage.server),
    kind: comparison.kind,
    reason: comparison.reason,
    resolverAnswer: describeShape(observation.shape),
    zoneAnswer: v.zone.map(describeShape).join(' | '),
    flushUrl: observation.vantage.flushUrl,
  }));
}
