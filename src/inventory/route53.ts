// The Route 53 inventory: every record set of every configured zone (public or private), the
// ones whose names match the zone's `match` globs (and not its `exclude`) as dialer records, and
// the static `targets.dialers` on top. A zone that cannot be read is a problem of its own; the
// other zones are still audited.
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { Config } from '../config-schema.ts';
import { isSelected, normalizeRoute53Name } from '../names.ts';
import { findZoneById, findZonesByName, listAllRecordSets, type HostedZoneInfo, type Route53CallOptions } from '../net/route53.ts';
import type { Inventory, InventoryZone, Logger, RecordSet } from '../types.ts';
import { staticInventory } from './static.ts';

type ZoneTarget = Config['targets']['zones'][number];

/** Types whose names are dialers for the DNS checks (a name with only TXT or SRV is not dialled). */
const ADDRESS_TYPES = new Set(['A', 'AAAA', 'CNAME']);

export interface Route53InventoryOptions {
  log?: Logger;
  /** Epoch ms by which listing must be done; default: the run budget from now. */
  deadline?: number;
  now?: () => number;
  /** Retry tuning (tests shorten the backoff). */
  retry?: Pick<Route53CallOptions, 'baseDelayMs' | 'maxDelayMs' | 'maxAttempts'>;
}

function describeTarget(t: ZoneTarget): string {
  return t.zone ? `zone ${t.zone}${t.route53ZoneId ? ` (${t.route53ZoneId})` : ''}` : `zone ${t.route53ZoneId}`;
}

async function resolveZone(client: Route53Client, t: ZoneTarget, opts: Route53CallOptions): Promise<HostedZoneInfo> {
  if (t.route53ZoneId) {
    const zone = await findZoneById(client, t.route53ZoneId, opts);
    if (!zone) throw new Error('no hosted zone with this id is visible to these credentials');
    if (t.zone && zone.name !== t.zone) throw new Error(`that hosted zone is ${zone.name}, not ${t.zone}`);
    return zone;
  }
  const all = await findZonesByName(client, t.zone!, opts);
  const zones = t.private === undefined ? all : all.filter((z) => z.privateZone === t.private);
  if (zones.length === 0) {
    const kind = t.private === undefined ? '' : t.private ? 'private ' : 'public ';
    throw new Error(`no ${kind}hosted zone with this name is visible to these credentials`);
  }
  if (zones.length > 1) {
    const list = zones.map((z) => `${z.zoneId} ${z.privateZone ? 'private' : 'public'}`).join(', ');
    throw new Error(`${zones.length} hosted zones have this name (${list}); set private: true|false or route53ZoneId`);
  }
  return zones[0];
}

export function selectDialerRecordSets(recordSets: RecordSet[], t: Pick<ZoneTarget, 'match' | 'exclude'>): RecordSet[] {
  return recordSets.filter((r) => isSelected(r.Name, t.match, t.exclude));
}

export async function route53Inventory(config: Config, client: Route53Client, signal: AbortSignal, options: Route53InventoryOptions = {}): Promise<Inventory> {
  const now = options.now ?? Date.now;
  const callOpts: Route53CallOptions = {
    deadline: options.deadline ?? now() + config.run.budget,
    signal,
    log: options.log,
    now,
    ...options.retry,
  };
  const base = staticInventory(config);
  const problems: string[] = [];
  const zones: InventoryZone[] = [];
  // One zone at a time: Route 53 allows 5 requests per second per account.
  for (const t of config.targets.zones) {
    try {
      const info = await resolveZone(client, t, callOpts);
      if (zones.some((z) => z.zoneId === info.zoneId)) continue;
      const recordSets = await listAllRecordSets(client, info.zoneId, callOpts);
      zones.push({ ...info, recordSets, dialerRecordSets: selectDialerRecordSets(recordSets, t) });
      options.log?.debug('route53 zone read', { zone: info.name, zoneId: info.zoneId, recordSets: recordSets.length });
    } catch (err) {
      problems.push(`Route 53 ${describeTarget(t)}: ${(err as Error).message}`);
    }
  }
  const found = zones.flatMap((z) => z.dialerRecordSets.filter((r) => ADDRESS_TYPES.has(r.Type)).map((r) => normalizeRoute53Name(r.Name)));
  const inventory: Inventory = { dialers: [...new Set([...base.dialers, ...found])], zones };
  if (problems.length > 0) inventory.problems = problems;
  return inventory;
}
