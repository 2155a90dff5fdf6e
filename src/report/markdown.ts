// The Markdown report: for tickets, PR comments and chat tools that render Markdown.
import { renderPlanMarkdown } from '../fix/render.ts';
import { formatScorecardMarkdown } from './scorecard.ts';
import type { Report } from '../types.ts';
import { countsLine, describeSplit, durationSeconds, escapeCell, groupBySeverity, verdictWord } from './common.ts';

export function formatMarkdown(report: Report): string {
  const out: string[] = [];
  out.push(`# dialer-audit: ${verdictWord(report)} (${countsLine(report)})`, '');
  out.push(
    `Run \`${report.runId}\`${report.vantage ? ` from **${report.vantage}**` : ''}, ${report.startedAt}, ${durationSeconds(report)} s, ${report.summary.targets} targets${report.dryRun ? ', dry run' : ''}.`,
  );
  if (report.findings.length === 0) out.push('', 'No findings: every target matched.');
  for (const [severity, findings] of groupBySeverity(report.findings)) {
    out.push('', `## ${severity[0].toUpperCase()}${severity.slice(1)} (${findings.length})`, '');
    out.push('| Code | Target | Seen at | What is wrong | First step |', '| --- | --- | --- | --- | --- |');
    for (const f of findings) {
      const at = [f.resolver, f.vantage].filter(Boolean).join(', ');
      out.push(`| \`${f.code}\` | ${escapeCell(f.target)} | ${escapeCell(at)} | ${escapeCell(f.message)} | ${escapeCell(f.firstStep ?? '')} |`);
    }
  }
  const split = report.summary.vantages;
  if (split && split.partial.length) {
    out.push('', `## Seen from some vantage points only (${split.partial.length} of ${split.partial.length + split.everywhere})`, '', `Vantage points: ${split.vantages.join(', ')}.`, '');
    out.push(...split.partial.map((s) => `- ${escapeCell(describeSplit(s))}`));
  }
  const scorecard = formatScorecardMarkdown(report.aggregates);
  if (scorecard) out.push('', scorecard.replace(/^### /, '## ').trimEnd());
  const plan = renderPlanMarkdown(report.fixes);
  if (plan.length) out.push('', `## TTL fixes${report.dryRun ? ' (dry run)' : ''}`, '', ...plan);
  if (report.reporterFailures.length) {
    out.push('', '## Reporters that failed', '', ...report.reporterFailures.map((r) => `- ${r.reporter}: ${escapeCell(r.error)}`));
  }
  return out.join('\n') + '\n';
}
