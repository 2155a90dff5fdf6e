// The fix journal (pure): every TTL change --fix applied, kept in the alert state so that
// - the fixer's limits count what earlier runs changed within fix.window (plan.ts), and
// - a later run knows a resolver counting down a long TTL holds it from before our own fix.
// Bounded: an entry is kept while it matters for either (the window, or until every cache that took
// the old TTL has expired), and never more than JOURNAL_MAX_ENTRIES, oldest dropped first.
import type { AlertState } from '../state/policy.ts';
import type { AppliedTtlChange, FixRecord } from '../types.ts';

/** About 150 bytes each: well inside DynamoDB's 400 KB item beside the alert entries. */
export const JOURNAL_MAX_ENTRIES = 1000;

/** The fixes of a run that changed Route 53 (applied, or submitted and still pending), as journal entries. */
export function journalEntries(fixes: FixRecord[], at: number, runId?: string): AppliedTtlChange[] {
  return fixes
    .filter((f) => f.status === 'applied' || f.status === 'pending')
    .map((f) => ({
      zoneId: f.zoneId,
      name: f.name,
      type: f.type,
      setIdentifier: f.setIdentifier,
      fromTtl: f.fromTtl,
      toTtl: f.toTtl,
      at: new Date(at).toISOString(),
      ...(runId ? { runId } : {}),
      ...(f.changeId ? { changeId: f.changeId } : {}),
    }));
}

/** Still relevant at `now`: inside the window, or caches may still hold the TTL it replaced. */
function stillRelevant(e: AppliedTtlChange, now: number, windowMs: number): boolean {
  const age = now - Date.parse(e.at);
  return age < Math.max(windowMs, e.fromTtl * 1000);
}

/** The state with `entries` added and what no longer matters dropped. Pure. */
export function withJournalEntries(state: AlertState, entries: AppliedTtlChange[], now: number, windowMs: number): AlertState {
  const kept = [...(state.fixJournal ?? []), ...entries].filter((e) => stillRelevant(e, now, windowMs));
  return { ...state, fixJournal: kept.slice(-JOURNAL_MAX_ENTRIES) };
}

/** The entries applied within the window ending at `now`. */
export function withinWindow(entries: AppliedTtlChange[], now: number, windowMs: number): AppliedTtlChange[] {
  return entries.filter((e) => now - Date.parse(e.at) < windowMs);
}
