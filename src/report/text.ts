// The terminal report: grouped by severity, each finding on its own (wrapped) line with its
// first step underneath, a summary line last. Readable in 80 columns; colour only when asked.
// Commands (`…` spans) are never broken: a line that cannot hold one ends early, and a command
// longer than the line gets a line of its own, so it pastes into a shell whole.
import { describeBound } from '../bound.ts';
import { renderPlanText } from '../fix/render.ts';
import { formatScorecardText } from './scorecard.ts';
import type { Finding, Report, Severity } from '../types.ts';
import { countsLine, describeVantages, durationSeconds, groupBySeverity, runActions, seenAt, verdictWord } from './common.ts';
import { sanitizeDeep } from './sanitize.ts';

export interface TextOptions {
  color?: boolean;
  width?: number;
}

const COLORS: Record<Severity | 'ok' | 'dim', string> = { critical: '31;1', warning: '33', info: '36', ok: '32', dim: '2' };

/** Words to wrap between; a `…` span, with the punctuation stuck to it, is one word however many spaces it has. */
function words(text: string): string[] {
  return text.match(/(?:`[^`]*`|[^\s`])+|`[^\s]*/g) ?? [];
}

/** Wrap at word boundaries, never inside a `command`; the first line has `first` before it, the others `rest`. */
export function wrap(text: string, width: number, first: string, rest: string): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of words(text)) {
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

/** The first line: which run, from where, what it did besides auditing, how much, how long. */
function headerLine(report: Report): string {
  const checks = Object.keys(report.summary.checks).length;
  const size = `${report.summary.targets} targets, ${checks} check${checks === 1 ? '' : 's'}, ${durationSeconds(report)} s`;
  const split = report.summary.vantages;
  if (split) return `dialer-audit merge of ${split.vantages.length} vantage points (${split.vantages.join(', ')}): ${size}`;
  return `dialer-audit run ${report.runId}${report.vantage ? ` from ${report.vantage}` : ''} (${runActions(report)}): ${size}`;
}

/** The last line: OK or FAIL with the counts; `--quiet` prints only this. */
export function verdictLine(report: Report, opts: Pick<TextOptions, 'color'> = {}): string {
  const word = verdictWord(report);
  const painted = opts.color ? `\x1b[${COLORS[report.summary.failed ? 'critical' : 'ok']}m${word}\x1b[0m` : word;
  return `${painted}: ${countsLine(report)} (fail on ${report.summary.failOn} and above)`;
}

export function formatText(unsafe: Report, opts: TextOptions = {}): string {
  const report = sanitizeDeep(unsafe);
  const width = opts.width ?? 80;
  const paint = (code: keyof typeof COLORS, text: string) => (opts.color ? `\x1b[${COLORS[code]}m${text}\x1b[0m` : text);
  const out: string[] = [];
  out.push(...wrap(headerLine(report), width, '', '  ').map((l) => paint('dim', l)));
  const bound = report.summary.bound;
  if (bound) out.push(...wrap(describeBound(bound), width, '', '  ').map((l) => paint(bound.fits ? 'dim' : 'warning', l)));
  for (const [severity, findings] of groupBySeverity(report.findings)) {
    out.push('', paint(severity, `${severity.toUpperCase()} (${findings.length})`));
    for (const f of findings) out.push(...formatFinding(f, width, paint));
  }
  const split = report.summary.vantages;
  if (split && split.partial.length) {
    out.push('', ...wrap(`${split.partial.length} of ${split.partial.length + split.everywhere} problems were seen from some vantage points only: resolvers' caches and paths differ by place.`, width, '', ''));
  }
  const scorecard = formatScorecardText(report.aggregates);
  if (scorecard) out.push('', scorecard.trimEnd());
  const plan = renderPlanText(report.fixes);
  if (plan.length) out.push('', paint('dim', report.dryRun ? 'TTL fixes (dry run: nothing changed; rerun with --fix to apply)' : 'TTL fixes'), ...plan);
  for (const failure of report.reporterFailures) out.push('', paint('warning', `reporter ${failure.reporter} failed: ${failure.error}`));
  out.push('', verdictLine(report, opts));
  return out.join('\n') + '\n';
}

function formatFinding(f: Finding, width: number, paint: (c: keyof typeof COLORS, t: string) => string): string[] {
  const where = f.vantages ? (f.resolver ? `@${f.resolver}` : '') : seenAt(f);
  const head = `${f.code} ${f.target}${where ? ` ${where}` : ''}:`;
  const lines = wrap(`${head} ${f.message}`, width, '  ', '      ');
  lines[0] = lines[0].replace(f.code, paint(f.severity, f.code));
  if (f.vantages) lines.push(...wrap(describeVantages(f.vantages), width, '    ', '      ').map((l) => paint('dim', l)));
  if (f.firstStep) lines.push(...wrap(f.firstStep, width, '    → ', '      '));
  return lines;
}
