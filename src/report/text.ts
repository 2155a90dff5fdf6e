// The terminal report: grouped by severity, each finding on its own (wrapped) line with its
// first step underneath, a summary line last. Readable in 80 columns; colour only when asked.
import { describeBound } from '../bound.ts';
import { renderPlanText } from '../fix/render.ts';
import { formatScorecardText } from './scorecard.ts';
import type { Finding, Report, Severity } from '../types.ts';
import { countsLine, describeSplit, durationSeconds, groupBySeverity, seenAt, verdictWord } from './common.ts';

export interface TextOptions {
  color?: boolean;
  width?: number;
}

const COLORS: Record<Severity | 'ok' | 'dim', string> = { critical: '31;1', warning: '33', info: '36', ok: '32', dim: '2' };

/** Wrap at word boundaries; the first line has `first` before it, the others `rest`. */
export function wrap(text: string, width: number, first: string, rest: string): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line);
      line = rest + word;
    } else {
      line += (empty ? '' : ' ') + word;
    }
    empty = false;
  }
  lines.push(line);
  return lines;
}

export function formatText(report: Report, opts: TextOptions = {}): string {
  const width = opts.width ?? 80;
  const paint = (code: keyof typeof COLORS, text: string) => (opts.color ? `\x1b[${COLORS[code]}m${text}\x1b[0m` : text);
  const out: string[] = [];
  const checks = Object.keys(report.summary.checks).length;
  const header = `dialer-audit run ${report.runId}${report.dryRun ? ' (dry run)' : ''}${report.vantage ? ` from ${report.vantage}` : ''}: ${report.summary.targets} targets, ${checks} check${checks === 1 ? '' : 's'}, ${durationSeconds(report)} s`;
  out.push(...wrap(header, width, '', '  ').map((l) => paint('dim', l)));
  const bound = report.summary.bound;
  if (bound) out.push(...wrap(describeBound(bound), width, '', '  ').map((l) => paint(bound.fits ? 'dim' : 'warning', l)));
  for (const [severity, findings] of groupBySeverity(report.findings)) {
    out.push('', paint(severity, `${severity.toUpperCase()} (${findings.length})`));
    for (const f of findings) out.push(...formatFinding(f, width, paint));
  }
  const split = report.summary.vantages;
  if (split && split.partial.length) {
    out.push('', paint('warning', `SEEN FROM SOME VANTAGE POINTS ONLY (${split.partial.length} of ${split.partial.length + split.everywhere}; vantages: ${split.vantages.join(', ')})`));
    for (const s of split.partial) out.push(...wrap(describeSplit(s), width, '  ', '      '));
    out.push(...wrap('Caches differ by place: flush at the resolver named, from where it is seen.', width, '    → ', '      '));
  }
  const scorecard = formatScorecardText(report.aggregates);
  if (scorecard) out.push('', scorecard.trimEnd());
  const plan = renderPlanText(report.fixes);
  if (plan.length) out.push('', paint('dim', report.dryRun ? 'TTL fixes (dry run: nothing changed; rerun with --fix to apply)' : 'TTL fixes'), ...plan);
  for (const failure of report.reporterFailures) out.push('', paint('warning', `reporter ${failure.reporter} failed: ${failure.error}`));
  out.push('', `${paint(report.summary.failed ? 'critical' : 'ok', verdictWord(report))}: ${countsLine(report)} (fail on ${report.summary.failOn} and above)`);
  return out.join('\n') + '\n';
}

function formatFinding(f: Finding, width: number, paint: (c: keyof typeof COLORS, t: string) => string): string[] {
  const where = seenAt(f);
  const head = `${f.code} ${f.target}${where ? ` ${where}` : ''}:`;
  const lines = wrap(`${head} ${f.message}`, width, '  ', '      ');
  lines[0] = lines[0].replace(f.code, paint(f.severity, f.code));
  if (f.firstStep) lines.push(...wrap(f.firstStep, width, '    → ', '      '));
  return lines;
}
