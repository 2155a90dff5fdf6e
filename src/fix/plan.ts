// The TTL fix plan (pure): the changes the findings suggest, with octoDNS-style safety limits,
// and the arithmetic of cutting a zone's changes into batches Route 53 accepts.
//
// Limits (config `fix`), all checked before anything is sent:
// - `protect`: names the fixer must never touch. Such a fix is refused on its own, even with --force.
// - `maxChanges` (default 100): more changes than that in one run refuses the whole plan.
// - `maxPercent` (default 30 %): a plan touching more than that share of a zone's record sets
//   refuses the whole plan, for zones of at least 10 record sets (smaller zones would trip it
//   with a single change). octoDNS uses the same 30 % and 10-record floor for its update threshold.
// Both limits count this run's plan together with what --fix applied within `window` (the fix
// journal in the alert state), so a plan cut into one-by-one `--target X --fix` runs meets the same
// limits as the whole plan; a journal that cannot be read refuses the plan (the window is unknown).
// Over a limit, every fix is `refused` with the reason, unless forced; the plan is still shown.
import type { Config } from '../config-schema.ts';
import { bareId, firstMatchingGlob, normalizeRoute53Name } from '../names.ts';
import type { AppliedTtlChange, Finding, FixJournal, FixRecord, Inventory, RecordSet, TtlChange } from '../types.ts';
import { humanDuration } from '../units.ts';
import { withinWindow } from './journal.ts';

export type FixLimits = Pick<Config['fix'], 'maxChanges' | 'maxPercent' | 'protect'> & Partial<Pick<Config['fix'], 'window'>>;

/** fix.window's default: a day of one-by-one runs counts as one plan. */
export const DEFAULT_FIX_WINDOW_MS = 86_400_000;

/** How every refusal by a limit begins (a fix refused by fix.protect says so instead). */
export const PLAN_REFUSED = 'plan refused:';

export function refusedByLimit(f: FixRecord): boolean {
  return f.status === 'refused' && (f.reason ?? '').startsWith(PLAN_REFUSED);
}

/** Below this many record sets a zone has no percentage limit. */
export const MIN_RECORD_SETS_FOR_PERCENT = 10;

export function fixKey(f: { zoneId: string; name: string; type: string; setIdentifier?: string | null }): string {
  return `${bareId(f.zoneId)}|${normalizeRoute53Name(f.name)}|${f.type}|${f.setIdentifier ?? ''}`;
}

function byZoneNameTypeSet(a: FixRecord, b: FixRecord): number {
  return a.zoneId.localeCompare(b.zoneId) || a.name.localeCompare(b.name) || a.type.localeCompare(b.type) || (a.setIdentifier ?? '').localeCompare(b.setIdentifier ?? '');
}

export interface PlanInput {
  findings: Finding[];
  inventory: Inventory;
  limits: FixLimits;
  force: boolean;
  /** What --fix applied in earlier runs; absent when no state is kept (then only this run counts). */
  journal?: FixJournal;
  /** Epoch ms, for the window. */
  now?: number;
}

/** Findings with a suggested TTL change → the plan, each fix `planned` or `refused` (with the reason). */
export function planFixes({ findings, inventory, limits, force, journal, now = Date.now() }: PlanInput): FixRecord[] {
  const changes = new Map<string, TtlChange>();
  for (const f of findings) {
    if (!f.fix) continue;
    const key = fixKey(f.fix);
    const seen = changes.get(key);
    // Two rules asking for the same record: the stricter TTL wins.
    if (!seen || f.fix.toTtl < seen.toTtl) changes.set(key, f.fix);
  }
  const fixes: FixRecord[] = [...changes.values()]
    .filter((c) => c.toTtl < c.fromTtl)
    .map((c) => ({
      zoneId: bareId(c.zoneId),
      name: normalizeRoute53Name(c.name),
      type: c.type,
      setIdentifier: c.setIdentifier ?? null,
      fromTtl: c.fromTtl,
      toTtl: c.toTtl,
      status: 'planned' as const,
    }))
    .sort(byZoneNameTypeSet);

  for (const fix of fixes) {
    const glob = firstMatchingGlob(fix.name, limits.protect);
    if (glob !== undefined) {
      fix.status = 'refused';
      fix.reason = `protected by fix.protect "${glob}" (never changed, not even with --force)`;
    }
  }

  const active = fixes.filter((f) => f.status === 'planned');
  const windowMs = limits.window ?? DEFAULT_FIX_WINDOW_MS;
  const earlier = earlierChanges(journal, active, now, windowMs);
  const within = `within fix.window ${humanDuration(windowMs / 1000)}`;
  const violations: string[] = [];
  if (journal?.problem && active.length > 0) violations.push(`${journal.problem}, so fix.window cannot be checked`);
  if (active.length + earlier.length > limits.maxChanges) {
    const total = earlier.length > 0 ? `${active.length + earlier.length} changes ${within} (${active.length} planned, ${earlier.length} applied by earlier runs)` : `${active.length} changes`;
    violations.push(`${total}, over fix.maxChanges ${limits.maxChanges}`);
  }
  const earlierByZone = countBy(earlier, (e) => bareId(e.zoneId));
  for (const [zoneId, planned] of countBy(active, (f) => f.zoneId)) {
    const zone = inventory.zones.find((z) => z.zoneId === zoneId);
    const size = zone?.recordSets.length ?? 0;
    if (size < MIN_RECORD_SETS_FOR_PERCENT) continue;
    const before = earlierByZone.get(zoneId) ?? 0;
    const count = planned + before;
    const percent = (count / size) * 100;
    if (percent > limits.maxPercent) {
      const history = before > 0 ? ` ${within} (${planned} planned, ${before} applied by earlier runs)` : '';
      violations.push(`${count} of ${size} record sets (${formatPercent(percent)} %) in zone ${zone?.name ?? zoneId}${history}, over fix.maxPercent ${limits.maxPercent} %`);
    }
  }
  if (violations.length > 0 && !force) {
    const reason = `${PLAN_REFUSED} ${violations.join('; ')}; rerun with --fix --force to apply it anyway, or raise the limit`;
    for (const fix of active) {
      fix.status = 'refused';
      fix.reason = reason;
    }
  }
  return fixes;
}

/** Record sets earlier runs changed within the window, each once, not counting those this plan changes again. */
function earlierChanges(journal: FixJournal | undefined, active: FixRecord[], now: number, windowMs: number): AppliedTtlChange[] {
  const planned = new Set(active.map(fixKey));
  const seen = new Map<string, AppliedTtlChange>();
  for (const e of withinWindow(journal?.entries ?? [], now, windowMs)) {
    const key = fixKey(e);
    if (!planned.has(key)) seen.set(key, e);
  }
  return [...seen.values()];
}

function countBy<T>(items: T[], key: (t: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

function formatPercent(p: number): string {
  return Number.isInteger(p) ? String(p) : p.toFixed(1);
}

// ── batching ────────────────────────────────────────────────────────────────────────────────

/**
 * Route 53's limits on one ChangeResourceRecordSets request: at most 1,000 ResourceRecord
 * elements and 32,000 characters across all Value elements, where an UPSERT counts twice.
 */
export const ROUTE53_BATCH_LIMITS = { maxRecords: 1000, maxValueChars: 32_000 } as const;

/** What one UPSERT of this record set costs against the batch limits (UPSERT counts twice). */
export function upsertCost(r: RecordSet): { records: number; chars: number } {
  const values = r.ResourceRecords ?? [];
  return { records: 2 * values.length, chars: 2 * values.reduce((n, v) => n + v.Value.length, 0) };
}

/** Cuts UPSERTs into batches within the limits, keeping their order; an oversized set goes alone. */
export function batchUpserts<T extends { recordSet: RecordSet }>(items: T[], limits: { maxRecords: number; maxValueChars: number } = ROUTE53_BATCH_LIMITS): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let records = 0;
  let chars = 0;
  for (const item of items) {
    const cost = upsertCost(item.recordSet);
    if (current.length > 0 && (records + cost.records > limits.maxRecords || chars + cost.chars > limits.maxValueChars)) {
      batches.push(current);
      current = [];
      records = 0;
      chars = 0;
    }
    current.push(item);
    records += cost.records;
    chars += cost.chars;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** The record set to send: a deep copy of the whole set as Route 53 holds it, with only TTL changed. */
export function withTtl(r: RecordSet, ttl: number): RecordSet {
  if (r.AliasTarget) throw new Error(`${r.Name} ${r.Type} is an alias record: it has no TTL and is never sent`);
  return { ...structuredClone(r), TTL: ttl };
}

/** Deep equality of two record sets as Route 53 returns them (key order and undefined keys ignored). */
export function sameRecordSet(a: RecordSet, b: RecordSet): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
