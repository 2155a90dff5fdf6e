// The Markdown report: for tickets, PR comments and chat tools that render Markdown.
import { renderPlanMarkdown } from '../fix/render.ts';
import { formatScorecardMarkdown } from './scorecard.ts';
import type { Report } from '../types.ts';
import { countsLine, describeVantages, durationSeconds, escapeCell, groupBySeverity, runActions, verdictWord } from './common.ts';
import { sanitizeDeep } from './sanitize.ts';

export function formatMarkdown(unsafe: Report): string {
  const report = sanitizeDeep(unsafe);
  const out: string[] = [];
  out.push(`# dialer-audit: ${verdictWord(report)} (${countsLine(report)})`, '');
  const split = report.summary.vantages;
  out.push(
    split
      ? `Merged from ${split.vantages.length} vantage points (${split.vantages.map((v) => `**${v}**`).join(', ')}), ${report.startedAt}, ${durationSeconds(report)} s, ${report.summary.targets} targets.`
      : `Run \`${report.runId}\`${report.vantage ? ` from **${report.vantage}**` : ''}, ${report.startedAt}, ${durationSeconds(report)} s, ${report.summary.targets} targets; ${runActions(report)}.`,
  );
  if (report.findings.length === 0) out.push('', 'No findings: every target matched.');
  for (const [severity, findings] of groupBySeverity(report.findings)) {
    out.push('', `## ${severity[0].toUpperCase()}${severity.slice(1)} (${findings.length})`, '');
    out.push('| Code | Target | Seen at | What is wrong | First step |', '| --- | --- | --- | --- | --- |');
    for (const f of findings) {
      const at = [f.resolver, f.vantages ? describeVantages(f.vantages) : f.vantage].filter(Boolean).join('; ');
      out.push(`| \`${f.code}\` | ${escapeCell(f.target)} | ${escapeCell(at)} | ${escapeCell(f.message)} | ${escapeCell(f.firstStep ?? '')} |`);
    }
  }
  if (split && split.partial.length) {
    out.push('', `${split.partial.length} of ${split.partial.length + split.everywhere} problems were seen from some vantage points only: resolvers' caches and paths differ by place.`);
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
