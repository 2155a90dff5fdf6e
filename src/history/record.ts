// What a notifying run leaves in the history: a compact record read off the report's aggregates
// (per check × resolver/server/carrier × transport: probes up and down, RTT quantiles) and its
// findings' keys. Records live in day documents (one per UTC day; src/state/history-store.ts keeps
// them in files or DynamoDB items), where each finding key is written once a day and runs refer to
// it by index: a problem that lasts all day costs a few bytes per run. Pure.
import { gzipSync } from 'node:zlib';
import { z } from 'zod';
import { combine, quantile } from '../aggregate.ts';
import type { MetricAggregate, Report, Severity } from '../types.ts';
import { SEVERITY_RANK } from '../types.ts';

/** One check × subject × transport (or kind) of one run. */
export interface HistorySeries {
  check: string;
  /** The resolver or server (DNS), carrier (SIP), or STUN/TURN URI. */
  subject: string;
  /** The transport (SIP, STUN/TURN) or the kind of DNS server (resolver, authoritative). */
  via?: string;
  /** Probes that answered as expected, and those that did not. */
  up: number;
  down: number;
  /** RTT quantiles over the answered probes, in milliseconds. */
  p50Ms?: number;
  p95Ms?: number;
}

export interface HistoryFinding {
  check: string;
  target: string;
  code: string;
  resolver?: string;
  severity: Severity;
}

export interface HistoryRecord {
  runId: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  vantage?: string;
  targets: number;
  counts: Record<Severity, number>;
  /** Findings per code, all of them (the keys below are capped). */
  byCode: Record<string, number>;
  series: HistorySeries[];
  /** The findings' keys, worst first, at most MAX_RECORD_FINDINGS. */
  findings: HistoryFinding[];
  /** Findings past the cap, counted in `counts` and `byCode` only. */
  moreFindings?: number;
}

/** Keys kept per run; a run with more keeps the worst ones and counts the rest. */
export const MAX_RECORD_FINDINGS = 200;
/** A day document's most, gzip-compressed: below DynamoDB's 400 KB item limit with room for the item's other attributes. */
export const MAX_DAY_BYTES = 350 * 1024;
/** The history kept by default. */
export const DEFAULT_RETENTION_MS = 14 * 86_400_000;

const round = (ms: number) => Math.round(ms * 1000) / 1000;

function subjectOf(a: MetricAggregate): { subject: string; via?: string } | undefined {
  const subject = a.labels.server ?? a.labels.carrier ?? a.labels.target;
  if (subject === undefined) return undefined;
  const via = a.labels.transport ?? a.labels.kind;
  return via === undefined ? { subject } : { subject, via };
}

/** Per check × subject × via: up/down and RTT quantiles, folded over record types, sizes and addresses. */
export function seriesOf(aggregates: MetricAggregate[]): HistorySeries[] {
  const byKey = new Map<string, { series: HistorySeries; rtt?: MetricAggregate }>();
  for (const a of aggregates) {
    if (a.metric !== 'up' && a.metric !== 'rtt_seconds') continue;
    // A TURN relay's round trip is another measure than the allocation's; the allocation speaks for the server.
    if (a.metric === 'rtt_seconds' && a.labels.step !== undefined && a.labels.step !== 'allocate') continue;
    const who = subjectOf(a);
    if (!who) continue;
    const key = `${a.check}\u0000${who.subject}\u0000${who.via ?? ''}`;
    let entry = byKey.get(key);
    if (!entry) byKey.set(key, (entry = { series: { check: a.check, ...who, up: 0, down: 0 } }));
    if (a.metric === 'up') {
      entry.series.up += a.sum;
      entry.series.down += a.count - a.sum;
    } else {
      entry.rtt = entry.rtt ? combine(entry.rtt, a) : a;
    }
  }
  const out: HistorySeries[] = [];
  for (const { series, rtt } of byKey.values()) {
    if (series.up + series.down === 0) continue;
    const p50 = rtt ? quantile(rtt, 0.5) : undefined;
    const p95 = rtt ? quantile(rtt, 0.95) : undefined;
    out.push({ ...series, ...(p50 !== undefined ? { p50Ms: round(p50 * 1000) } : {}), ...(p95 !== undefined ? { p95Ms: round(p95 * 1000) } : {}) });
  }
  return out.sort((a, b) => a.check.localeCompare(b.check) || a.subject.localeCompare(b.subject) || (a.via ?? '').localeCompare(b.via ?? ''));
}

/** The record a run leaves. */
export function historyRecord(report: Report): HistoryRecord {
  const byCode: Record<string, number> = {};
  for (const f of report.findings) byCode[f.code] = (byCode[f.code] ?? 0) + 1;
  const worstFirst = [...report.findings].sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.check.localeCompare(b.check) || a.target.localeCompare(b.target));
  const kept = worstFirst.slice(0, MAX_RECORD_FINDINGS);
  const started = Date.parse(report.startedAt);
  const finished = Date.parse(report.finishedAt);
  return {
    runId: report.runId,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    durationMs: Math.max(0, finished - started),
    ...(report.vantage ? { vantage: report.vantage } : {}),
    targets: report.summary.targets,
    counts: { critical: report.summary.critical, warning: report.summary.warning, info: report.summary.info },
    byCode,
    series: seriesOf(report.aggregates),
    findings: kept.map((f) => ({ check: f.check, target: f.target, code: f.code, ...(f.resolver ? { resolver: f.resolver } : {}), severity: f.severity })),
    ...(report.findings.length > kept.length ? { moreFindings: report.findings.length - kept.length } : {}),
  };
}

// --- Day documents: how records are stored -------------------------------------------------

const severity = z.enum(['critical', 'warning', 'info']);
const optionalNumber = z.number().nullable();

/** A run as stored: short keys, series as tuples, findings as indexes into the day's keys. */
const packedRun = z.object({
  id: z.string(),
  s: z.string(),
  f: z.string(),
  ms: z.number(),
  v: z.string().optional(),
  t: z.number(),
  c: z.tuple([z.number(), z.number(), z.number()]),
  b: z.record(z.string(), z.number()),
  x: z.array(z.tuple([z.string(), z.string(), z.string().nullable(), z.number(), z.number(), optionalNumber, optionalNumber])),
  k: z.array(z.number().int().min(0)),
  m: z.number().optional(),
});

export const historyDaySchema = z.object({
  schemaVersion: z.literal(1),
  /** UTC day, YYYY-MM-DD. */
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  findings: z.array(z.tuple([z.string(), z.string(), z.string(), z.string().nullable(), severity])),
  runs: z.array(packedRun),
  /** Runs not kept because the day was full (MAX_DAY_BYTES). */
  dropped: z.number().int().min(0).optional(),
});

export type HistoryDay = z.infer<typeof historyDaySchema>;

/** The UTC day of an instant, YYYY-MM-DD. */
export function dayOf(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

export function emptyDay(day: string): HistoryDay {
  return { schemaVersion: 1, day, findings: [], runs: [] };
}

function findingKey(f: HistoryFinding): string {
  return JSON.stringify([f.check, f.target, f.code, f.resolver ?? null, f.severity]);
}

function pack(day: HistoryDay, record: HistoryRecord, withKeys: boolean): { day: HistoryDay } {
  const findings = [...day.findings];
  const index = new Map(findings.map((f, i) => [JSON.stringify(f), i]));
  const keys: number[] = [];
  for (const f of withKeys ? record.findings : []) {
    const key = findingKey(f);
    let i = index.get(key);
    if (i === undefined) {
      i = findings.length;
      findings.push([f.check, f.target, f.code, f.resolver ?? null, f.severity]);
      index.set(key, i);
    }
    keys.push(i);
  }
  const unlisted = (record.moreFindings ?? 0) + (withKeys ? 0 : record.findings.length);
  const run = {
    id: record.runId,
    s: record.startedAt,
    f: record.finishedAt,
    ms: record.durationMs,
    ...(record.vantage ? { v: record.vantage } : {}),
    t: record.targets,
    c: [record.counts.critical, record.counts.warning, record.counts.info] as [number, number, number],
    b: record.byCode,
    x: record.series.map((s) => [s.check, s.subject, s.via ?? null, s.up, s.down, s.p50Ms ?? null, s.p95Ms ?? null] as [string, string, string | null, number, number, number | null, number | null]),
    k: keys,
    ...(unlisted > 0 ? { m: unlisted } : {}),
  };
  return { day: { ...day, findings, runs: [...day.runs, run] } };
}

export function encodeDay(day: HistoryDay): Buffer {
  return gzipSync(JSON.stringify(day));
}

export interface AppendResult {
  day: HistoryDay;
  /** The day as stored (gzip JSON). */
  bytes: Buffer;
  /** kept: as is; unkeyed: its finding keys left out to fit (counts kept); dropped: the day is full. */
  outcome: 'kept' | 'unkeyed' | 'dropped';
}

/**
 * The day with one more run, within `maxBytes` compressed: when it does not fit, the run is kept
 * without its finding keys, and when even that does not fit, it is counted as dropped.
 */
export function appendRun(day: HistoryDay, record: HistoryRecord, maxBytes = MAX_DAY_BYTES): AppendResult {
  for (const withKeys of [true, false]) {
    const next = pack(day, record, withKeys).day;
    const bytes = encodeDay(next);
    if (bytes.length <= maxBytes) return { day: next, bytes, outcome: withKeys ? 'kept' : 'unkeyed' };
  }
  const full = { ...day, dropped: (day.dropped ?? 0) + 1 };
  return { day: full, bytes: encodeDay(full), outcome: 'dropped' };
}

/** The records of a day, oldest first. */
export function unpackDay(day: HistoryDay): HistoryRecord[] {
  return day.runs.map((r) => {
    const findings = r.k.flatMap((i) => {
      const f = day.findings[i];
      return f ? [{ check: f[0], target: f[1], code: f[2], ...(f[3] !== null ? { resolver: f[3] } : {}), severity: f[4] }] : [];
    });
    return {
      runId: r.id,
      startedAt: r.s,
      finishedAt: r.f,
      durationMs: r.ms,
      ...(r.v !== undefined ? { vantage: r.v } : {}),
      targets: r.t,
      counts: { critical: r.c[0], warning: r.c[1], info: r.c[2] },
      byCode: r.b,
      series: r.x.map(([check, subject, via, up, down, p50, p95]) => ({
        check,
        subject,
        ...(via !== null ? { via } : {}),
        up,
        down,
        ...(p50 !== null ? { p50Ms: p50 } : {}),
        ...(p95 !== null ? { p95Ms: p95 } : {}),
      })),
      findings,
      ...(r.m !== undefined ? { moreFindings: r.m } : {}),
    };
  });
}

/** Parses a stored day; throws a message naming what is wrong (never the content). */
export function parseDay(json: string, where: string): HistoryDay {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error(`${where}: not JSON`);
  }
  const parsed = historyDaySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${where}: not a history day (${issue.path.join('.') || 'top level'}: ${issue.message})`);
  }
  return parsed.data;
}

/** The UTC days from `since` to `now`, oldest first. */
export function daysBetween(since: number, now: number): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${dayOf(since)}T00:00:00Z`); t <= now; t += 86_400_000) out.push(dayOf(t));
  return out;
}

/** When a day falls out of the history: the end of the day plus the retention. */
export function dayExpiresAt(day: string, retentionMs: number): number {
  return Date.parse(`${day}T00:00:00Z`) + 86_400_000 + retentionMs;
}
