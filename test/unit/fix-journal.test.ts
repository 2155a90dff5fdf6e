// The fix journal in the alert state: what --fix applied, kept as long as it matters and bounded.
import { describe, expect, it } from 'vitest';
import { JOURNAL_MAX_ENTRIES, journalEntries, withJournalEntries } from '../../src/fix/journal.ts';
import { emptyState } from '../../src/state/policy.ts';
import { parseState, serializeState } from '../../src/state/store.ts';
import type { FixRecord } from '../../src/types.ts';

const NOW = Date.parse('2026-11-23T15:00:00Z');
const DAY = 86_400_000;
const fix = (name: string, status: FixRecord['status'], fromTtl = 86400): FixRecord => ({ zoneId: 'Z1', name, type: 'A', setIdentifier: null, fromTtl, toTtl: 300, status, changeId: 'C1' });

describe('fix journal', () => {
  it('records applied and submitted changes, not planned, refused or failed ones', () => {
    // Act
    const entries = journalEntries([fix('a.example.com', 'applied'), fix('b.example.com', 'pending'), fix('c.example.com', 'refused'), fix('d.example.com', 'failed'), fix('e.example.com', 'planned')], NOW, 'run-1');
    // Assess
    expect(entries.map((e) => e.name)).toEqual(['a.example.com', 'b.example.com']);
    expect(entries[0]).toEqual({ zoneId: 'Z1', name: 'a.example.com', type: 'A', setIdentifier: null, fromTtl: 86400, toTtl: 300, at: '2026-11-23T15:00:00.000Z', runId: 'run-1', changeId: 'C1' });
  });

  it('keeps an entry while it is in the window or caches may still hold the old TTL, then drops it', () => {
    // Prepare: a 1-hour-TTL change 2 days ago (done on both counts), a 1-week-TTL change 2 days ago (caches may hold it).
    const old = journalEntries([fix('short.example.com', 'applied', 3600), fix('long.example.com', 'applied', 604800)], NOW - 2 * DAY);
    // Act
    const state = withJournalEntries({ ...emptyState(), fixJournal: old }, journalEntries([fix('new.example.com', 'applied')], NOW), NOW, DAY);
    // Assess
    expect(state.fixJournal?.map((e) => e.name)).toEqual(['long.example.com', 'new.example.com']);
  });

  it('never grows past its bound, and survives the state store’s round trip', () => {
    const many = journalEntries(Array.from({ length: JOURNAL_MAX_ENTRIES + 5 }, (_, i) => fix(`d${i}.example.com`, 'applied')), NOW);
    const state = withJournalEntries(emptyState(), many, NOW, DAY);
    expect(state.fixJournal).toHaveLength(JOURNAL_MAX_ENTRIES);
    expect(state.fixJournal?.[0].name).toBe('d5.example.com');
    expect(parseState(serializeState(state), 'test').fixJournal).toEqual(state.fixJournal);
  });
});
