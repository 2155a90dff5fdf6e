// Shared pieces of the report formats: ordering, counts and labels people read.
import type { Finding, FindingVantages, NotifyOutcome, Report, Severity } from '../types.ts';

export const SEVERITY_ORDER: Severity[] = ['critical', 'warning', 'info'];

export function groupBySeverity(findings: Finding[]): [Severity, Finding[]][] {
  return SEVERITY_ORDER.map((s) => [s, findings.filter((f) => f.severity === s)] as [Severity, Finding[]]).filter(([, list]) => list.length > 0);
}

export function countsLine(report: Report): string {
  const s = report.summary;
  return `${s.critical} critical, ${s.warning} warning, ${s.info} info`;
}

export function verdictWord(report: Report): string {
  return report.summary.failed ? 'FAIL' : 'OK';
}

export function durationSeconds(report: Report): string {
  return ((Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000).toFixed(1);
}

/** Where a finding was seen: the resolver / server, and the vantage point when runs have several. */
export function seenAt(f: Finding): string {
  const parts = [f.resolver ? `@${f.resolver}` : '', f.vantage ? `from ${f.vantage}` : ''].filter(Boolean);
  return parts.join(' ');
}

/** Text safe inside a Markdown table cell. */
export function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Where a problem was seen across merged reports: "seen from a, b; not seen from c; not run from d". */
export function describeVantages(v: FindingVantages): string {
  const seen = v.notSeenFrom.length === 0 && v.notRunFrom.length === 0 ? `seen from every vantage point (${v.seenFrom.join(', ')})` : `seen from ${v.seenFrom.join(', ')}`;
  const parts = [seen];
  if (v.notSeenFrom.length) parts.push(`not seen from ${v.notSeenFrom.join(', ')}`);
  if (v.notRunFrom.length) parts.push(`not run from ${v.notRunFrom.join(', ')}`);
  return parts.join('; ');
}

/** "1 notice", "2 notices". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The total, and which reporters: " (slack)", or " (slack 1, email 1)" when there are several. */
function perReporter(counts: Record<string, number>): { total: number; detail: string } {
  const entries = Object.entries(counts).filter(([, n]) => n > 0);
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  if (entries.length === 0) return { total, detail: '' };
  return { total, detail: entries.length === 1 ? ` (${entries[0][0]})` : ` (${entries.map(([r, n]) => `${r} ${n}`).join(', ')})` };
}

/** "notify: state updated, 2 notices sent (slack)": what a run with notify did, in words. */
export function notifyWords(n: NotifyOutcome): string {
  const state = { saved: 'state updated', 'not-loaded': 'state NOT read, nothing sent', 'not-saved': 'state NOT saved', none: 'no state store' }[n.state];
  const sent = perReporter(n.sent);
  const owed = perReporter(n.owed);
  const parts = [state];
  if (n.state !== 'not-loaded') parts.push(sent.total > 0 ? `${plural(sent.total, 'notice')} sent${sent.detail}` : owed.total > 0 ? 'nothing sent' : 'no notices due');
  if (owed.total > 0) parts.push(`${owed.total} owed to the next run (${Object.keys(n.owed).join(', ')} failed)`);
  return `notify: ${parts.join(', ')}`;
}

/** What the run did besides auditing, for headers: TTL fixes (applied or only planned) and notify. */
export function runActions(report: Report): string {
  const parts: string[] = [];
  if (report.notify) parts.push(notifyWords(report.notify));
  if (!report.dryRun) {
    const counts = new Map<string, number>();
    for (const f of report.fixes) counts.set(f.status, (counts.get(f.status) ?? 0) + 1);
    parts.push(counts.size ? `TTL fixes: ${[...counts].map(([status, n]) => `${n} ${status}`).join(', ')}` : 'TTL fixes: none needed');
  } else {
    parts.push(report.notify ? 'TTL fixes: plan only' : 'dry run: nothing changed or sent');
  }
  return parts.join('; ');
}
