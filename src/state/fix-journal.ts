// Reading and writing the fix journal in the alert state store (the same store --notify uses), so
// a CLI run, the daemon and Lambda all count one history of applied TTL changes.
import { withJournalEntries } from '../fix/journal.ts';
import type { AppliedTtlChange, FixJournal } from '../types.ts';
import { updateState, type StateStore } from './store.ts';

/** The journal as stored; a store that cannot be read gives an empty journal with the problem named. */
export async function readFixJournal(store: StateStore): Promise<FixJournal> {
  try {
    const { state } = await store.load();
    return { entries: state.fixJournal ?? [] };
  } catch (err) {
    return { entries: [], problem: `the fix journal in ${store.description} could not be read: ${(err as Error).message}` };
  }
}

/** Adds what this run applied (and drops what no longer matters), merged with any other run's writes. */
export async function recordFixJournal(store: StateStore, entries: AppliedTtlChange[], now: number, windowMs: number): Promise<void> {
  if (entries.length === 0) return;
  await updateState(store, (state) => withJournalEntries(state, entries, now, windowMs));
}
