// Where a carrier's requests go, as RFC 3263 §4 says: NAPTR → SRV → A/AAAA, asked of every resolver
// and of the zone through lookup.ts (so the comparison logic exists once). The records we follow
// are the zone's (authoritative) when it answers, else the first resolver's; resolvers that hand
// out something else become SIP_DNS_MISMATCH material.
import { isIP } from 'node:net';
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

/** A NAPTR or SRV record that cannot be followed (port 0, an empty or malformed target …), with why. */
export interface UnusableRecord {
  name: string;
  type: RecordType;
  record: string;
  reason: string;
}

export interface Resolution {
  endpoints: Endpoint[];
  mismatches: DnsMismatch[];
  /** Records skipped because they cannot be used; they are data from the network, not instructions. */
  unusable: UnusableRecord[];
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
  const out: Resolution = { endpoints: [], mismatches: [], unusable: [], failures: [], trace: [] };
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
    const naptr = usable(uri.host, 'NAPTR', await view(uri.host, 'NAPTR'), naptrProblem, out.unusable).filter((n) => n.flags === 's');
    for (const transport of opts.transports) {
      const offered = naptr.filter((n) => n.services.toUpperCase() === NAPTR_SERVICE[transport]).sort((a, b) => a.order - b.order || a.preference - b.preference);
      const bestOrder = offered[0]?.order;
      const srvNames = offered.filter((n) => n.order === bestOrder).map((n) => n.replacement);
      const via: Endpoint['via'] = srvNames.length > 0 ? 'naptr' : 'srv';
      // No NAPTR for this transport: RFC 3263 §4.1 falls back to the well-known SRV name.
      if (srvNames.length === 0) srvNames.push(`${SRV_PREFIX[transport]}.${uri.host}`);
      const list: { host: string; port: number; via: Endpoint['via']; priority?: number }[] = [];
      let published = false;
      for (const srvName of [...new Set(srvNames)]) {
        const records = await view(srvName, 'SRV');
        published ||= records.some((r) => r.type === 'SRV');
        for (const r of usable(srvName, 'SRV', records, srvProblem, out.unusable)) {
          // RFC 2782: a target of "." means the service is decidedly not offered there.
          if (r.target === '') continue;
          list.push({ host: r.target, port: opts.ports?.[transport] ?? r.port, via, priority: r.priority });
        }
      }
      // No SRV published: the URI host itself on the transport's default port (RFC 3263 §4.2). SRV
      // records that say "not here" or cannot be used are not a reason to guess.
      if (list.length === 0 && !published) list.push({ host: uri.host, port: portFor(transport), via: 'a' });
      if (list.length === 0) {
        const skipped = out.unusable.filter((u) => srvNames.includes(u.name));
        out.failures.push({
          transport,
          detail: skipped.length > 0 ? `no usable SRV record at ${srvNames.join(', ')} (${skipped.map((u) => `${u.record}: ${u.reason}`).join('; ')})` : `${srvNames.join(', ')} says the service is not offered (SRV target ".")`,
        });
      }
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
        for (const type of types) found.push(...usable(host, type, await view(host, type), addressProblem, out.unusable).map((a) => a.address));
        return [...new Set(found)];
      })();
      addressCache.set(host, hit);
    }
    return hit;
  };

  for (const transport of opts.transports) {
    const list = targets.get(transport) ?? [];
    if (list.length === 0) continue; // already a failure: no usable SRV record
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

/** A DNS name we would send to: letters, digits, _ and -, dot-separated labels of at most 63, 253 in all. */
const HOST_NAME = /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Why a record cannot be used. */
type Unusable = { problem: string };

function isUint16(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535;
}

interface Srv {
  priority: number;
  weight: number;
  port: number;
  /** "" for the RFC 2782 "." (not offered here). */
  target: string;
}

interface Naptr {
  order: number;
  preference: number;
  flags: string;
  services: string;
  replacement: string;
}

/** The SRV fields, or why the record cannot be used. */
function srvProblem(r: DnsRecord): Srv | Unusable {
  const f = r.fields ?? {};
  if (!isUint16(f.priority) || !isUint16(f.weight) || !isUint16(f.port)) return { problem: 'priority, weight and port must be numbers from 0 to 65535' };
  const target = typeof f.target === 'string' ? f.target : undefined;
  if (target === undefined) return { problem: 'no target' };
  if (target === '') return { priority: f.priority, weight: f.weight, port: f.port, target };
  if (f.port === 0) return { problem: 'port 0: nothing can be reached there' };
  if (!HOST_NAME.test(target)) return { problem: 'the target is not a host name' };
  return { priority: f.priority, weight: f.weight, port: f.port, target };
}

/** The address of an A or AAAA record, or why it cannot be one. */
function addressProblem(r: DnsRecord): { address: string } | Unusable {
  const family = r.type === 'A' ? 4 : 6;
  return isIP(r.value) === family ? { address: r.value } : { problem: `not an IPv${family} address` };
}

/** The NAPTR fields we follow (flag "s": the replacement is an SRV name), or why not. */
function naptrProblem(r: DnsRecord): Naptr | Unusable {
  const f = r.fields ?? {};
  if (!isUint16(f.order) || !isUint16(f.preference)) return { problem: 'order and preference must be numbers from 0 to 65535' };
  if (typeof f.flags !== 'string' || typeof f.services !== 'string' || typeof f.replacement !== 'string') return { problem: 'flags, services and replacement must be text' };
  const flags = f.flags.toLowerCase();
  if (flags === 's' && !HOST_NAME.test(f.replacement)) return { problem: `flag "s" with a replacement that is not an SRV name` };
  return { order: f.order, preference: f.preference, flags, services: f.services, replacement: f.replacement };
}

/** The records of `type` that can be used; the others are noted with their reason. */
function usable<T extends object>(name: string, type: RecordType, records: DnsRecord[], read: (r: DnsRecord) => T | Unusable, into: UnusableRecord[]): T[] {
  const out: T[] = [];
  for (const r of records) {
    if (r.type !== type) continue;
    const parsed = read(r);
    if ('problem' in parsed) {
      if (!into.some((u) => u.name === name && u.record === r.value)) into.push({ name, type, record: r.value, reason: parsed.problem });
    } else out.push(parsed);
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
