// The carrier scorecard (pure): per carrier, how many SIP probes got an acceptable answer, how fast
// (p50/p95 RTT) and how many timed out, computed from a report's measurements. The text and
// Markdown reporters print it as a table; the metrics reporter exports the same measurements.
import type { Measurement } from '../types.ts';
import { escapeCell } from './common.ts';

export const SCORECARD_CHECK = 'sip-options';

export interface ScorecardTransport {
  transport: string;
  probes: number;
  successes: number;
}

export interface ScorecardRow {
  carrier: string;
  probes: number;
  successes: number;
  /** successes / probes, 0..1. */
  successRatio: number;
  /** Over answered probes; undefined when nothing answered. */
  p50RttMs?: number;
  p95RttMs?: number;
  timeouts: number;
  transports: ScorecardTransport[];
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sortedAscending: number[], p: number): number | undefined {
  if (sortedAscending.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * sortedAscending.length));
  return sortedAscending[Math.min(rank, sortedAscending.length) - 1];
}

export function scorecard(measurements: Measurement[]): ScorecardRow[] {
  const byCarrier = new Map<string, { up: Measurement[]; rtts: number[]; timeouts: number }>();
  for (const m of measurements) {
    if (m.check !== SCORECARD_CHECK) continue;
    const carrier = m.labels?.carrier ?? m.target;
    const entry = byCarrier.get(carrier) ?? { up: [], rtts: [], timeouts: 0 };
    if (m.metric === 'up') entry.up.push(m);
    else if (m.metric === 'rtt_seconds') entry.rtts.push(m.value * 1000);
    else if (m.metric === 'timeouts') entry.timeouts += m.value;
    byCarrier.set(carrier, entry);
  }
  const rows: ScorecardRow[] = [];
  for (const [carrier, e] of byCarrier) {
    if (e.up.length === 0) continue;
    const successes = e.up.filter((m) => m.value >= 1).length;
    const rtts = [...e.rtts].sort((a, b) => a - b);
    const transports = new Map<string, ScorecardTransport>();
    for (const m of e.up) {
      const t = m.labels?.transport ?? '?';
      const row = transports.get(t) ?? { transport: t, probes: 0, successes: 0 };
      row.probes++;
      if (m.value >= 1) row.successes++;
      transports.set(t, row);
    }
    rows.push({
      carrier,
      probes: e.up.length,
      successes,
      successRatio: successes / e.up.length,
      p50RttMs: percentile(rtts, 50),
      p95RttMs: percentile(rtts, 95),
      timeouts: e.timeouts,
      transports: [...transports.values()].sort((a, b) => ORDER.indexOf(a.transport) - ORDER.indexOf(b.transport) || a.transport.localeCompare(b.transport)),
    });
  }
  // Worst first: that is the row someone on call needs.
  return rows.sort((a, b) => a.successRatio - b.successRatio || b.timeouts - a.timeouts || a.carrier.localeCompare(b.carrier));
}

const ORDER = ['udp', 'tcp', 'tls'];

function ms(value: number | undefined): string {
  if (value === undefined) return '–';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

function ratio(r: ScorecardRow): string {
  return `${r.successes}/${r.probes} (${(r.successRatio * 100).toFixed(1)}%)`;
}

function transportsText(r: ScorecardRow): string {
  return r.transports.map((t) => `${t.transport} ${t.successes}/${t.probes}`).join(', ');
}

const HEADINGS = ['Carrier', 'Success', 'p50 RTT', 'p95 RTT', 'Timeouts', 'By transport'];

function cells(r: ScorecardRow): string[] {
  return [r.carrier, ratio(r), ms(r.p50RttMs), ms(r.p95RttMs), String(r.timeouts), transportsText(r)];
}

/** A plain-text table for the console report; empty when no carrier was probed. */
export function formatScorecardText(measurements: Measurement[]): string {
  const rows = scorecard(measurements);
  if (rows.length === 0) return '';
  const table = [HEADINGS, ...rows.map(cells)];
  const widths = HEADINGS.map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return ['Carrier scorecard (SIP OPTIONS, this run)', line(HEADINGS), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cells(r)))].join('\n') + '\n';
}

/** A Markdown section for the Markdown report; empty when no carrier was probed. */
export function formatScorecardMarkdown(measurements: Measurement[]): string {
  const rows = scorecard(measurements);
  if (rows.length === 0) return '';
  return [
    '### Carrier scorecard',
    '',
    `| ${HEADINGS.join(' | ')} |`,
    '|---|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${cells(r).map(escapeCell).join(' | ')} |`),
    '',
  ].join('\n');
}
