// What the status page shows, computed from (report, history, alert state) — pure, no HTML here:
// the dialer × DNS server matrix (names with findings only; the healthy ones counted), open
// problems with "failing since", per-series uptime over 24 h and 7 d with hourly buckets for the
// charts (DNS servers, carriers per region and transport, STUN/TURN servers), TTL compliance.
import { historyRecord, type HistoryRecord, type HistorySeries } from '../../history/record.ts';
import { fingerprint } from '../../state/fingerprint.ts';
import type { AlertState } from '../../state/policy.ts';
import type { Finding, Report, Severity } from '../../types.ts';
import { SEVERITY_RANK } from '../../types.ts';

/** What the page needs besides the report; read at the edge (src/state/status-inputs.ts). */
export interface StatusInputs {
  /** Earlier runs, oldest first (this run is added when missing). */
  history: HistoryRecord[];
  state?: AlertState;
  /** Why part of the page is missing or thin (history unreadable, no state store …). */
  notes: string[];
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
export const WEEK_MS = 7 * DAY_MS;
/** Hourly buckets in a chart: a week. */
export const HOURS = 168;
/** Matrix rows shown; a fleet with more names with findings lists the worst and counts the rest. */
export const MAX_MATRIX_ROWS = 500;
export const MAX_PROBLEMS = 200;
export const MAX_TTL_ROWS = 100;

// --- The matrix ---------------------------------------------------------------------------

export type CellState = 'consistent' | 'stale' | 'failing' | 'routed';

export interface MatrixColumn {
  server: string;
  kind: string;
  up: number;
  down: number;
  /** Findings about the server as a whole (one folded DNS_TIMEOUT for a dead resolver …). */
  wide: Finding[];
}

export interface MatrixRow {
  name: string;
  state: Exclude<CellState, 'consistent'>;
  severity: Severity;
  /** Per column, the findings of that name at that server. */
  cells: Map<string, { state: Exclude<CellState, 'consistent'>; findings: Finding[] }>;
}

export interface Matrix {
  columns: MatrixColumn[];
  rows: MatrixRow[];
  /** Names with findings past MAX_MATRIX_ROWS. */
  hiddenRows: number;
  /** Names audited by dns-consistency, and those consistent at every server. */
  audited: number;
  healthy: number;
}

const DNS_CHECK = 'dns-consistency';
/** A resolver handing out what its cache holds, not what the zone has now. */
const STALE_CODES = new Set(['DNS_MISMATCH', 'DNS_NXDOMAIN', 'DNS_NO_DATA', 'DNS_TTL_STALE']);
const STATE_RANK: Record<Exclude<CellState, 'consistent'>, number> = { failing: 0, routed: 1, stale: 2 };
/** A dialer name (findings about a server as a whole name the server, e.g. "dead (127.0.0.9:53)"). */
const NAME = /^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?\.?$/i;

function cellState(f: Finding, kind: string | undefined): Exclude<CellState, 'consistent'> {
  const routing = f.evidence?.routing as { source?: unknown } | undefined;
  if (routing?.source !== undefined) return 'routed';
  return kind !== 'authoritative' && f.resolver !== 'authoritative' && STALE_CODES.has(f.code) ? 'stale' : 'failing';
}

const worse = (a: Severity, b: Severity): Severity => (SEVERITY_RANK[a] >= SEVERITY_RANK[b] ? a : b);

export function dnsMatrix(report: Report): Matrix {
  const columns = new Map<string, MatrixColumn>();
  for (const a of report.aggregates) {
    if (a.check !== DNS_CHECK || a.metric !== 'up' || !a.labels.server) continue;
    const c = columns.get(a.labels.server) ?? { server: a.labels.server, kind: a.labels.kind ?? 'resolver', up: 0, down: 0, wide: [] };
    c.up += a.sum;
    c.down += a.count - a.sum;
    columns.set(c.server, c);
  }
  const rows = new Map<string, MatrixRow>();
  for (const f of report.findings) {
    if (f.check !== DNS_CHECK || !f.resolver) continue;
    let column = columns.get(f.resolver);
    if (!column) columns.set(f.resolver, (column = { server: f.resolver, kind: f.resolver === 'authoritative' ? 'authoritative' : 'resolver', up: 0, down: 0, wide: [] }));
    if (!NAME.test(f.target)) {
      column.wide.push(f);
      continue;
    }
    const state = cellState(f, column.kind);
    const row: MatrixRow = rows.get(f.target) ?? { name: f.target, state, severity: f.severity, cells: new Map() };
    const cell: { state: Exclude<CellState, 'consistent'>; findings: Finding[] } = row.cells.get(f.resolver) ?? { state, findings: [] };
    cell.findings.push(f);
    if (STATE_RANK[state] < STATE_RANK[cell.state]) cell.state = state;
    row.cells.set(f.resolver, cell);
    if (STATE_RANK[state] < STATE_RANK[row.state]) row.state = state;
    row.severity = worse(row.severity, f.severity);
    rows.set(f.target, row);
  }
  const sorted = [...rows.values()].sort((a, b) => STATE_RANK[a.state] - STATE_RANK[b.state] || SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.name.localeCompare(b.name));
  const audited = report.summary.checks[DNS_CHECK]?.targets ?? 0;
  const kindRank = (k: string) => (k === 'authoritative' ? 1 : 0);
  return {
    columns: [...columns.values()].sort((a, b) => kindRank(a.kind) - kindRank(b.kind) || a.server.localeCompare(b.server)),
    rows: sorted.slice(0, MAX_MATRIX_ROWS),
    hiddenRows: Math.max(0, sorted.length - MAX_MATRIX_ROWS),
    audited,
    healthy: Math.max(0, audited - sorted.length),
  };
}

// --- Open problems --------------------------------------------------------------------------

export interface Problem {
  finding: Pick<Finding, 'check' | 'target' | 'code' | 'resolver' | 'vantage' | 'severity' | 'message' | 'firstStep'>;
  /** Since when it fails: the alert state's first sighting (a clean run in between does not end a problem), else this run. */
  since: string;
  /** Since when people were told (the alert state's firingSince), while it fires. */
  notifiedSince?: string;
  /** False for a problem the state holds that this run did not look at (another vantage, a skipped check). */
  seenThisRun: boolean;
}

export function openProblems(report: Report, state: AlertState | undefined): { problems: Problem[]; more: number } {
  const byPrint = new Map<string, Problem>();
  const entries = state?.entries ?? {};
  for (const f of report.findings) {
    const fp = fingerprint(f);
    const seen = byPrint.get(fp);
    if (seen && SEVERITY_RANK[seen.finding.severity] >= SEVERITY_RANK[f.severity]) continue;
    const e = entries[fp];
    byPrint.set(fp, { finding: f, since: e?.firstSeen ?? report.startedAt, ...(e?.firing && e.firingSince ? { notifiedSince: e.firingSince } : {}), seenThisRun: true });
  }
  for (const [fp, e] of Object.entries(entries)) {
    if (byPrint.has(fp) || !e.firing || e.consecutiveFailures === 0) continue;
    byPrint.set(fp, { finding: e, since: e.firstSeen, ...(e.firingSince ? { notifiedSince: e.firingSince } : {}), seenThisRun: false });
  }
  const all = [...byPrint.values()].sort(
    (a, b) =>
      SEVERITY_RANK[b.finding.severity] - SEVERITY_RANK[a.finding.severity] ||
      Number(b.seenThisRun) - Number(a.seenThisRun) ||
      a.since.localeCompare(b.since) ||
      a.finding.target.localeCompare(b.finding.target) ||
      a.finding.code.localeCompare(b.finding.code),
  );
  return { problems: all.slice(0, MAX_PROBLEMS), more: Math.max(0, all.length - MAX_PROBLEMS) };
}

// --- Series over time -----------------------------------------------------------------------

export interface HourBucket {
  up: number;
  down: number;
  /** Median of the runs' p50 RTTs in that hour, ms. */
  p50Ms?: number;
}

export interface SeriesRow {
  vantage: string;
  check: string;
  subject: string;
  via?: string;
  /** The latest run's numbers. */
  latest: HistorySeries;
  latestAt: string;
  /** Share of probes that answered as expected; undefined without probes in the window. */
  uptime24h?: number;
  uptime7d?: number;
  /** Oldest first, HOURS of them, ending with the hour of `now`. */
  hours: HourBucket[];
}

/** The history with this run in it, oldest first. */
export function withThisRun(report: Report, history: HistoryRecord[]): HistoryRecord[] {
  if (report.shard || history.some((r) => r.runId === report.runId)) return history;
  return [...history, historyRecord(report)].sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? undefined : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Rows for the series whose check passes `only`, per vantage × check × subject × via. */
export function seriesRows(records: HistoryRecord[], now: number, only: (check: string) => boolean): SeriesRow[] {
  const firstHour = Math.floor(now / HOUR_MS) - HOURS + 1;
  const byKey = new Map<string, { row: SeriesRow; up24: number; down24: number; up7: number; down7: number; rtts: number[][] }>();
  for (const r of records) {
    const at = Date.parse(r.finishedAt);
    if (at > now || now - at > WEEK_MS) continue;
    const hour = Math.floor(at / HOUR_MS) - firstHour;
    for (const s of r.series) {
      if (!only(s.check)) continue;
      const vantage = r.vantage ?? '';
      const key = JSON.stringify([vantage, s.check, s.subject, s.via ?? null]);
      let acc = byKey.get(key);
      if (!acc) {
        const hours = Array.from({ length: HOURS }, () => ({ up: 0, down: 0 }));
        acc = { row: { vantage, check: s.check, subject: s.subject, ...(s.via ? { via: s.via } : {}), latest: s, latestAt: r.finishedAt, hours }, up24: 0, down24: 0, up7: 0, down7: 0, rtts: hours.map(() => []) };
        byKey.set(key, acc);
      }
      if (r.finishedAt >= acc.row.latestAt) {
        acc.row.latest = s;
        acc.row.latestAt = r.finishedAt;
      }
      acc.up7 += s.up;
      acc.down7 += s.down;
      if (now - at <= DAY_MS) {
        acc.up24 += s.up;
        acc.down24 += s.down;
      }
      if (hour >= 0 && hour < HOURS) {
        acc.row.hours[hour].up += s.up;
        acc.row.hours[hour].down += s.down;
        if (s.p50Ms !== undefined) acc.rtts[hour].push(s.p50Ms);
      }
    }
  }
  const ratio = (up: number, down: number) => (up + down === 0 ? undefined : up / (up + down));
  const rows = [...byKey.values()].map((acc) => {
    acc.row.hours.forEach((h, i) => {
      const m = median(acc.rtts[i]);
      if (m !== undefined) h.p50Ms = m;
    });
    return { ...acc.row, uptime24h: ratio(acc.up24, acc.down24), uptime7d: ratio(acc.up7, acc.down7) };
  });
  // Worst first: the row someone on call needs.
  return rows.sort(
    (a, b) =>
      (a.uptime24h ?? 1) - (b.uptime24h ?? 1) ||
      a.vantage.localeCompare(b.vantage) ||
      a.check.localeCompare(b.check) ||
      a.subject.localeCompare(b.subject) ||
      (a.via ?? '').localeCompare(b.via ?? ''),
  );
}

/** Probes up over all series of the checks in the window (the headline uptime). */
export function overallUptime(records: HistoryRecord[], now: number, windowMs: number): number | undefined {
  let up = 0;
  let down = 0;
  for (const r of records) {
    const at = Date.parse(r.finishedAt);
    if (at > now || now - at > windowMs) continue;
    for (const s of r.series) {
      up += s.up;
      down += s.down;
    }
  }
  return up + down === 0 ? undefined : up / (up + down);
}

/** Per hour of the week, the largest count of a code a run had (the TTL chart). */
export function codeHours(records: HistoryRecord[], now: number, codes: string[]): (number | undefined)[] {
  const firstHour = Math.floor(now / HOUR_MS) - HOURS + 1;
  const out: (number | undefined)[] = new Array(HOURS).fill(undefined);
  for (const r of records) {
    const hour = Math.floor(Date.parse(r.finishedAt) / HOUR_MS) - firstHour;
    if (hour < 0 || hour >= HOURS) continue;
    const n = codes.reduce((sum, c) => sum + (r.byCode[c] ?? 0), 0);
    out[hour] = Math.max(out[hour] ?? 0, n);
  }
  return out;
}

// --- TTL policy -----------------------------------------------------------------------------

export interface TtlCompliance {
  audited: number;
  /** Names over the policy (distinct targets of TTL_ABOVE_POLICY). */
  over: number;
  negativeOver: number;
  other: number;
  compliance?: number;
  maxTtl?: number;
  offenders: Finding[];
  moreOffenders: number;
  fixes: Record<string, number>;
}

export const TTL_CHECK = 'ttl-policy';

export function ttlCompliance(report: Report): TtlCompliance | undefined {
  const audited = report.summary.checks[TTL_CHECK]?.targets;
  if (audited === undefined) return undefined;
  const findings = report.findings.filter((f) => f.check === TTL_CHECK);
  const targets = (code: string) => new Set(findings.filter((f) => f.code === code).map((f) => f.target)).size;
  const over = targets('TTL_ABOVE_POLICY');
  const ttl = report.aggregates.filter((a) => a.check === TTL_CHECK && a.metric === 'ttl_seconds');
  const fixes: Record<string, number> = {};
  for (const f of report.fixes) fixes[f.status] = (fixes[f.status] ?? 0) + 1;
  const offenders = [...findings].sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.target.localeCompare(b.target));
  return {
    audited,
    over,
    negativeOver: targets('TTL_NEGATIVE_ABOVE_POLICY'),
    other: findings.filter((f) => f.code !== 'TTL_ABOVE_POLICY' && f.code !== 'TTL_NEGATIVE_ABOVE_POLICY').length,
    compliance: audited > 0 ? Math.max(0, audited - over) / audited : undefined,
    maxTtl: ttl.length ? Math.max(...ttl.map((a) => a.max)) : undefined,
    offenders: offenders.slice(0, MAX_TTL_ROWS),
    moreOffenders: Math.max(0, offenders.length - MAX_TTL_ROWS),
    fixes,
  };
}
