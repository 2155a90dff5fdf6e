// The carrier scorecard (pure): per carrier, how many SIP probes got an acceptable answer, how fast
// (p50/p95 RTT) and how many timed out, computed from a report's aggregates (exact while a carrier
// has few probes, from the RTT histogram beyond). The text and Markdown reporters print it as a
// table; the metrics reporter exports the same aggregates.
import { combine, quantile } from '../aggregate.ts';
import type { MetricAggregate } from '../types.ts';
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

interface CarrierTally {
  probes: number;
  successes: number;
  rtt?: MetricAggregate;
  timeouts: number;
  transports: Map<string, ScorecardTransport>;
}

export function scorecard(aggregates: MetricAggregate[]): ScorecardRow[] {
  const byCarrier = new Map<string, CarrierTally>();
  for (const a of aggregates) {
    if (a.check !== SCORECARD_CHECK) continue;
    const carrier = a.labels.carrier ?? a.labels.target ?? '?';
    const entry: CarrierTally = byCarrier.get(carrier) ?? { probes: 0, successes: 0, timeouts: 0, transports: new Map() };
    if (a.metric === 'up') {
      entry.probes += a.count;
      entry.successes += a.sum;
      const t = a.labels.transport ?? '?';
      const row = entry.transports.get(t) ?? { transport: t, probes: 0, successes: 0 };
      row.probes += a.count;
      row.successes += a.sum;
      entry.transports.set(t, row);
    } else if (a.metric === 'rtt_seconds') {
      entry.rtt = entry.rtt ? combine(entry.rtt, a) : a;
    } else if (a.metric === 'timeouts') {
      entry.timeouts += a.sum;
    }
    byCarrier.set(carrier, entry);
  }
  const rows: ScorecardRow[] = [];
  for (const [carrier, e] of byCarrier) {
    if (e.probes === 0) continue;
    const ms = (q: number): number | undefined => {
      const seconds = e.rtt ? quantile(e.rtt, q) : undefined;
      return seconds === undefined ? undefined : seconds * 1000;
    };
    rows.push({
      carrier,
      probes: e.probes,
      successes: e.successes,
      successRatio: e.successes / e.probes,
      p50RttMs: ms(0.5),
      p95RttMs: ms(0.95),
      timeouts: e.timeouts,
      transports: [...e.transports.values()].sort((a, b) => ORDER.indexOf(a.transport) - ORDER.indexOf(b.transport) || a.transport.localeCompare(b.transport)),
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
export function formatScorecardText(aggregates: MetricAggregate[]): string {
  const rows = scorecard(aggregates);
  if (rows.length === 0) return '';
  const table = [HEADINGS, ...rows.map(cells)];
  const widths = HEADINGS.map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return ['Carrier scorecard (SIP OPTIONS, this run)', line(HEADINGS), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cells(r)))].join('\n') + '\n';
}

/** A Markdown section for the Markdown report; empty when no carrier was probed. */
export function formatScorecardMarkdown(aggregates: MetricAggregate[]): string {
  const rows = scorecard(aggregates);
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
