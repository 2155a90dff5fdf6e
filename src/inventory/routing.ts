// A name's routing variants as the Route 53 inventory holds them (pure): every record set at the
// name — weighted, latency, geolocation, geoproximity, CIDR, failover, multivalue or simple — is
// one answer Route 53 may give, depending on who asks, the weights' dice and health checks.
import type { RoutingPolicy, Variant } from '../compare.ts';
import { normalizeRoute53Name } from '../names.ts';
import { canonicalIp } from '../address.ts';
import { normalizeName } from '../net/dns.ts';
import type { Inventory, RecordSet } from '../types.ts';

const indexes = new WeakMap<Inventory, Map<string, RecordSet[]>>();

/** Every record set of the inventory's zones at `name` (any type), indexed once per inventory. */
export function recordSetsAt(inventory: Inventory, name: string): RecordSet[] {
  let index = indexes.get(inventory);
  if (!index) {
    index = new Map();
    for (const r of inventory.zones.flatMap((z) => z.recordSets)) {
      const n = normalizeRoute53Name(r.Name);
      index.set(n, [...(index.get(n) ?? []), r]);
    }
    indexes.set(inventory, index);
  }
  return index.get(normalizeRoute53Name(name)) ?? [];
}

export function policyOf(r: RecordSet): RoutingPolicy {
  if (r.Weight !== undefined) return 'weighted';
  if (r.Region !== undefined) return 'latency';
  if (r.GeoLocation !== undefined) return 'geolocation';
  if (r.GeoProximityLocation !== undefined) return 'geoproximity';
  if (r.CidrRoutingConfig !== undefined) return 'cidr';
  if (r.Failover !== undefined) return 'failover';
  if (r.MultiValueAnswer) return 'multivalue';
  return 'simple';
}

/** The record sets that answer a `type` question at `name`: that type, or a CNAME; a wildcard when the name has none. */
function answeringSets(inventory: Inventory, name: string, type: string): RecordSet[] {
  const own = (n: string) => recordSetsAt(inventory, n).filter((r) => r.Type === type || r.Type === 'CNAME');
  const exact = own(name);
  if (exact.length > 0 || recordSetsAt(inventory, name).length > 0) return exact;
  const parent = normalizeRoute53Name(name).split('.').slice(1).join('.');
  return parent ? own(`*.${parent}`) : [];
}

/** Aliases inside the inventory are followed this far (Route 53 allows alias chains). */
const MAX_ALIAS_DEPTH = 4;

/**
 * The variants of `name`/`type` in the inventory, or undefined when no zone of the inventory
 * holds the name (then only the authoritative servers' answers are the truth).
 */
export function route53Variants(inventory: Inventory, name: string, type: string, depth = 0): Variant[] | undefined {
  const sets = answeringSets(inventory, name, type);
  if (sets.length === 0) return undefined;
  const variants: Variant[] = [];
  for (const r of sets) {
    const policy = policyOf(r);
    const label = r.SetIdentifier ?? (r.Type === 'CNAME' ? 'CNAME' : 'simple');
    if (r.AliasTarget) {
      const target = normalizeRoute53Name(r.AliasTarget.DNSName);
      const inside = depth < MAX_ALIAS_DEPTH ? route53Variants(inventory, target, r.Type, depth + 1) : undefined;
      if (inside) variants.push(...inside.map((v) => ({ ...v, label: `${label} → ${target}${v.label === 'simple' ? '' : ` ${v.label}`}`, policy })));
      else variants.push({ label, policy, values: [], aliasTo: target });
      continue;
    }
    const values = (r.ResourceRecords ?? []).map((v) => valueOf(r.Type, v.Value)).sort();
    if (r.Type === 'CNAME') variants.push({ label, policy, cname: values[0], values: [], ttl: r.TTL });
    else variants.push({ label, policy, values, ttl: r.TTL });
  }
  return variants;
}

/** A Route 53 value as the DNS client reports it (src/net/dns.ts): names lower case without the dot, IPv6 canonical, TXT strings joined. */
function valueOf(type: string, value: string): string {
  const parts = value.trim().split(/\s+/);
  switch (type) {
    case 'AAAA':
      return canonicalIp(value);
    case 'CNAME':
    case 'NS':
    case 'PTR':
      return normalizeName(value);
    case 'MX':
      return `${parts[0]} ${normalizeName(parts[1] ?? '')}`;
    case 'SRV':
      return `${parts.slice(0, 3).join(' ')} ${normalizeName(parts[3] ?? '')}`;
    case 'TXT':
      return [...value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, '$1')).join('') || value;
    default:
      return value;
  }
}
