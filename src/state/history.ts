// How long a problem has lasted, from the alert state, for findings whose own evidence cannot
// say: a stale answer served by a resolver that caps its TTLs or serves stale (RFC 8767) ends
// whenever the resolver decides, so "stale for 30s more" would be invented run after run.
import type { Finding } from '../types.ts';
import { humanDuration, humanTime } from '../units.ts';
import { fingerprint } from './fingerprint.ts';
import type { AlertState } from './policy.ts';

/**
 * Findings with `evidence.staleEndUnknown` get `staleSince` (the problem's first sighting) and
 * `runsInARow` (this run included), and their message says so. Pure; other findings are returned as they are.
 */
export function withAlertHistory(findings: Finding[], state: AlertState, now: number): Finding[] {
  return findings.map((f) => {
    if (f.evidence?.staleEndUnknown === undefined) return f;
    const entry = state.entries[fingerprint(f)];
    if (!entry || entry.consecutiveFailures === 0) return f;
    const since = Date.parse(entry.firstSeen);
    const runs = entry.consecutiveFailures + 1;
    return {
      ...f,
      message: `${f.message}; stale since ${humanTime(since)} (${humanDuration((now - since) / 1000)}, ${runs} runs in a row)`,
      evidence: { ...f.evidence, staleSince: entry.firstSeen, runsInARow: runs },
    };
  });
}
