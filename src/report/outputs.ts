// What one run writes where: `--format` for stdout and any number of `--output FORMAT=PATH`, all
// rendered from the one report of the one run (one set of probes). Pure: specs in, contents out;
// the CLI writes them (atomically). A format renders files: one for a file format, several for a
// directory format (the static status page: `html=DIR` writes DIR/index.html).
import type { Report } from '../types.ts';
import { formatJson } from './json.ts';
import { formatMarkdown } from './markdown.ts';
import { formatPrometheus } from './metrics.ts';
import { renderStatusPage, STATUS_PAGE_FILE, type StatusInputs } from './status/page.ts';
import { formatText } from './text.ts';

export interface RenderOptions {
  /** ANSI colours (stdout on a terminal only; never in files). */
  color: boolean;
  /** For the status page: the history and alert state (read at the edge); without them it shows this run alone. */
  status?: StatusInputs;
}

/** One file a format produces; `name` is relative to the output's directory, '' for a file format's own path. */
export interface RenderedFile {
  name: string;
  content: string;
}

export interface OutputFormat {
  /** What PATH names: a file (or `-` for stdout), or a directory the format fills. */
  target: 'file' | 'directory';
  render(report: Report, opts: RenderOptions): RenderedFile[];
}

const single = (render: (report: Report, opts: RenderOptions) => string): OutputFormat => ({
  target: 'file',
  render: (report, opts) => [{ name: '', content: render(report, opts) }],
});

export const OUTPUT_FORMATS: Record<string, OutputFormat> = {
  text: single((report, opts) => formatText(report, { color: opts.color, width: 80 })),
  json: single(formatJson),
  markdown: single(formatMarkdown),
  prom: single(formatPrometheus),
  html: { target: 'directory', render: (report, opts) => [{ name: STATUS_PAGE_FILE, content: renderStatusPage(report, opts.status) }] },
};

export interface OutputSpec {
  format: string;
  /** A path, or `-` for stdout. */
  path: string;
}

/** `json=report.json` → { format: 'json', path: 'report.json' }; a problem in words naming the option otherwise. */
export function parseOutputSpec(text: string): OutputSpec | { problem: string } {
  const at = text.indexOf('=');
  const known = Object.keys(OUTPUT_FORMATS).join(', ');
  if (at <= 0 || at === text.length - 1) return { problem: `--output ${text}: expected FORMAT=PATH such as json=report.json or prom=- (formats: ${known})` };
  const format = text.slice(0, at);
  const path = text.slice(at + 1);
  if (!OUTPUT_FORMATS[format]) return { problem: `--output ${text}: unknown format "${format}" (formats: ${known})` };
  if (path === '-' && OUTPUT_FORMATS[format].target === 'directory') return { problem: `--output ${text}: ${format} writes a directory, not stdout` };
  return { format, path };
}

/**
 * Every output of one run, checked together: at most one on stdout, no path twice, and `--quiet`
 * only while stdout carries no report. `stdoutFormat` is what `--format` asked for (undefined when
 * it was left at its default).
 */
export function planOutputs(specs: OutputSpec[], opts: { stdoutFormat?: string; quiet: boolean }): { stdout: string | undefined; files: OutputSpec[] } | { problem: string } {
  const toStdout = specs.filter((s) => s.path === '-');
  if (toStdout.length > 1) return { problem: `--output: only one output can go to stdout (${toStdout.map((s) => `${s.format}=-`).join(', ')})` };
  if (toStdout.length === 1 && opts.stdoutFormat) return { problem: `--format ${opts.stdoutFormat}: stdout already carries --output ${toStdout[0].format}=-; use one of them` };
  const stdout = toStdout[0]?.format ?? opts.stdoutFormat;
  if (opts.quiet && stdout) return { problem: `--quiet prints only the verdict line, so stdout cannot also carry ${stdout} (write it to a file: --output ${stdout}=PATH)` };
  const files = specs.filter((s) => s.path !== '-');
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) return { problem: `--output: ${f.path} is named twice` };
    seen.add(f.path);
  }
  return { stdout: opts.quiet ? undefined : (stdout ?? 'text'), files };
}
