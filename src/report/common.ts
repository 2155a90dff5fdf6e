// Shared pieces of the report formats: ordering, counts and labels people read.
import type { Finding, Report, Severity, VantageSplit } from '../types.ts';

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

/** One line per problem seen from some vantage points only (merged reports). */
export function describeSplit(s: VantageSplit): string {
  const where = s.resolver ? ` @${s.resolver}` : '';
  const unknown = s.unknownAt?.length ? `; not audited from ${s.unknownAt.join(', ')}` : '';
  return `${s.code} ${s.target}${where}: seen from ${s.seenFrom.join(', ')}, not from ${s.notSeenFrom.join(', ')}${unknown}`;
}
