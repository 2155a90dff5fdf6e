// The alert policy, as pure functions: what the state becomes after a run and which notices are
// owed to which reporter. Like Gatus and Alertmanager: a problem is told once it has lasted
// `failureThreshold` runs (a critical one after `criticalFailureThreshold`), repeated every
// `reminderInterval`, told again when its severity changes, and "resolved" after
// `successThreshold` clean runs. Each reporter ("channel") has its own record of what it was
// told, written only after it confirmed delivery — so a notice that failed is owed again next run.
import type { Config } from '../config-schema.ts';
import type { AppliedTtlChange, Finding, Severity } from '../types.ts';
import { SEVERITY_RANK } from '../types.ts';
import { fingerprint } from './fingerprint.ts';

export type AlertingConfig = Config['alerting'];

/** What a channel was last told about a problem that fires. */
export interface Told {
  severity: Severity;
  /** ISO time of the last delivered notice (problem, severity change or reminder). */
  at: string;
}

export interface AlertEntry {
  check: string;
  target: string;
  code: string;
  resolver?: string;
  vantage?: string;
  /** The latest finding's severity, message and first step. */
  severity: Severity;
  message: string;
  firstStep?: string;
  firstSeen: string;
  lastSeen: string;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** Lasted long enough to be told; stays true until `successThreshold` clean runs. */
  firing: boolean;
  firingSince?: string;
  resolvedAt?: string;
  /** Per channel; removed when that channel got the resolved notice. */
  told: Record<string, Told>;
}

/** A reporter that failed to deliver; becomes a REPORTER_FAILED finding for the other reporters. */
export interface ReporterHealth {
  reporter: string;
  vantage?: string;
  consecutiveFailures: number;
  since: string;
  lastError: string;
}

/** The audit window of the last run counted for a vantage point. */
export interface Observation {
  runId: string;
  startedAt: string;
  finishedAt: string;
}

export interface AlertState {
  schemaVersion: 1;
  entries: Record<string, AlertEntry>;
  reporters: Record<string, ReporterHealth>;
  /** TTL changes --fix applied, newest last (src/fix/journal.ts keeps it bounded). */
  fixJournal?: AppliedTtlChange[];
  /** Per vantage ("" when none): a run whose audit overlaps the last counted one is the same observation. */
  observations?: Record<string, Observation>;
}

export function emptyState(): AlertState {
  return { schemaVersion: 1, entries: {}, reporters: {} };
}

/** A problem as notices and digests show it: an entry's public part, with its fingerprint. */
export type AlertItem = Pick<
  AlertEntry,
  'check' | 'target' | 'code' | 'resolver' | 'vantage' | 'severity' | 'message' | 'firstStep' | 'firstSeen' | 'lastSeen' | 'firingSince' | 'consecutiveFailures'
> & { fingerprint: string };

export type NoticeKind = 'problem' | 'severity-changed' | 'reminder' | 'resolved';

export interface Notice extends AlertItem {
  kind: NoticeKind;
  /** The reporters this notice is owed to. */
  channels: string[];
  /** For 'severity-changed': what the channels were told before (the most common one). */
  previousSeverity?: Severity;
  resolvedAt?: string;
}

/** Which entries this run could have seen; others are left alone (another vantage, --only, --target). */
export interface PolicyScope {
  vantage?: string;
  checks?: string[];
  targets?: string[];
}

export interface PolicyInput {
  findings: Finding[];
  now: number;
  alerting: AlertingConfig;
  /** The configured reporters, e.g. ['slack', 'email']. */
  channels: string[];
  scope?: PolicyScope;
  /**
   * false: this run overlapped a run already counted (two daemons, a CLI run next to the daemon):
   * it is the same observation, so no failure or success is counted again; what is owed is still
   * computed from the state. Default true.
   */
  count?: boolean;
}

export interface PolicyResult {
  state: AlertState;
  /** Owed notices, worst first. */
  notices: Notice[];
  /** Every problem that fires and failed this run (the "still failing" digest). */
  firing: AlertItem[];
}

/** The check name of findings about the notifier itself. */
export const NOTIFY_CHECK = 'notify';

const KIND_ORDER: Record<NoticeKind, number> = { problem: 0, 'severity-changed': 1, reminder: 2, resolved: 3 };

export function byUrgency(a: AlertItem & { kind?: NoticeKind }, b: AlertItem & { kind?: NoticeKind }): number {
  return (
    KIND_ORDER[a.kind ?? 'reminder'] - KIND_ORDER[b.kind ?? 'reminder'] ||
    SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
    a.target.localeCompare(b.target) ||
    a.code.localeCompare(b.code) ||
    (a.resolver ?? '').localeCompare(b.resolver ?? '') ||
    a.check.localeCompare(b.check)
  );
}

function failureThreshold(severity: Severity, alerting: AlertingConfig): number {
  return severity === 'critical' ? Math.min(alerting.criticalFailureThreshold, alerting.failureThreshold) : alerting.failureThreshold;
}

function itemOf(fp: string, e: AlertEntry): AlertItem {
  return {
    fingerprint: fp,
    check: e.check,
    target: e.target,
    code: e.code,
    resolver: e.resolver,
    vantage: e.vantage,
    severity: e.severity,
    message: e.message,
    firstStep: e.firstStep,
    firstSeen: e.firstSeen,
    lastSeen: e.lastSeen,
    firingSince: e.firingSince,
    consecutiveFailures: e.consecutiveFailures,
  };
}

/** One finding per fingerprint: the worst one (A and AAAA mismatches at one resolver are one problem). */
function worstByFingerprint(findings: Finding[], notifyOn: Severity): Map<string, Finding> {
  const out = new Map<string, Finding>();
  for (const f of findings) {
    if (SEVERITY_RANK[f.severity] < SEVERITY_RANK[notifyOn]) continue;
    const fp = fingerprint(f);
    const seen = out.get(fp);
    if (!seen || SEVERITY_RANK[f.severity] > SEVERITY_RANK[seen.severity]) out.set(fp, f);
  }
  return out;
}

/**
 * Absence is evidence of health only where the run looked: an entry of another vantage, of a
 * check or target this run skipped, or of a target whose check errored, is held as it is.
 */
function heldBy(findings: Finding[], scope: PolicyScope): (e: AlertEntry) => boolean {
  // A list that could not be read, or a shard that never reported: part of the fleet went unseen.
  const inventoryFailed = findings.some((f) => f.code === 'INVENTORY_ERROR' || f.code === 'SHARD_FAILED');
  const errored = new Set(findings.filter((f) => f.code === 'CHECK_ERROR').map((f) => `${f.check}\0${f.target}`));
  return (e) => {
    if (e.vantage !== scope.vantage) return true;
    if (e.check === NOTIFY_CHECK) return false;
    if (scope.checks && !scope.checks.includes(e.check)) return true;
    if (scope.targets && !scope.targets.includes(e.target)) return true;
    if (inventoryFailed) return true;
    return e.code !== 'CHECK_ERROR' && (errored.has(`${e.check}\0${e.target}`) || errored.has(`${e.check}\0${e.check}`));
  };
}

/** The state after this run, and the notices owed. Pure: the input state is not changed. */
export function applyPolicy(previous: AlertState, input: PolicyInput): PolicyResult {
  const state = structuredClone(previous);
  const nowIso = new Date(input.now).toISOString();
  const { alerting } = input;
  const current = worstByFingerprint(input.findings, alerting.notifyOn);
  const held = heldBy(input.findings, input.scope ?? {});
  const count = input.count ?? true;

  for (const [fp, f] of count ? current : []) {
    const e: AlertEntry = state.entries[fp] ?? {
      check: f.check,
      target: f.target,
      code: f.code,
      resolver: f.resolver,
      vantage: f.vantage,
      severity: f.severity,
      message: f.message,
      firstSeen: nowIso,
      lastSeen: nowIso,
      consecutiveFailures: 0,
      consecutiveSuccesses: 0,
      firing: false,
      told: {},
    };
    e.severity = f.severity;
    e.message = f.message;
    e.firstStep = f.firstStep;
    e.lastSeen = nowIso;
    e.consecutiveFailures += 1;
    e.consecutiveSuccesses = 0;
    if (!e.firing && e.consecutiveFailures >= failureThreshold(e.severity, alerting)) {
      e.firing = true;
      e.firingSince = nowIso;
      delete e.resolvedAt;
    }
    state.entries[fp] = e;
  }

  for (const [fp, e] of Object.entries(state.entries)) {
    if (!count || current.has(fp) || held(e)) continue;
    e.consecutiveFailures = 0;
    e.consecutiveSuccesses += 1;
    if (e.firing && e.consecutiveSuccesses >= alerting.successThreshold) {
      e.firing = false;
      e.resolvedAt = nowIso;
    }
  }

  const notices: Notice[] = [];
  const firing: AlertItem[] = [];
  for (const [fp, e] of Object.entries(state.entries)) {
    // A reporter is never asked to announce its own failure.
    const channels = input.channels.filter((ch) => !(e.check === NOTIFY_CHECK && e.target === ch));
    const owed = new Map<NoticeKind, string[]>();
    const owe = (kind: NoticeKind, ch: string) => owed.set(kind, [...(owed.get(kind) ?? []), ch]);
    const previousSeverities: Severity[] = [];
    if (e.firing && current.has(fp)) {
      firing.push(itemOf(fp, e));
      for (const ch of channels) {
        const told = e.told[ch];
        if (!told) owe('problem', ch);
        else if (told.severity !== e.severity) {
          owe('severity-changed', ch);
          previousSeverities.push(told.severity);
        } else if (input.now - Date.parse(told.at) >= alerting.reminderInterval) owe('reminder', ch);
      }
    } else if (!e.firing && !current.has(fp)) {
      // Only a channel that was told of the problem is told it is over (and not while it is back).
      for (const ch of channels) if (e.told[ch]) owe('resolved', ch);
    }
    for (const [kind, chs] of owed) {
      notices.push({
        ...itemOf(fp, e),
        kind,
        channels: chs,
        previousSeverity: kind === 'severity-changed' ? mostCommon(previousSeverities) : undefined,
        resolvedAt: kind === 'resolved' ? e.resolvedAt : undefined,
      });
    }
    pruneIfDone(state, fp);
  }
  notices.sort(byUrgency);
  firing.sort(byUrgency);
  return { state, notices, firing };
}

function mostCommon<T>(values: T[]): T | undefined {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

/** An entry that does not fire and that no channel still believes in is forgotten. */
function pruneIfDone(state: AlertState, fp: string): void {
  const e = state.entries[fp];
  if (!e || e.firing || Object.keys(e.told).length > 0) return;
  // A problem still under its threshold is kept while it keeps failing.
  if (e.consecutiveFailures > 0 && e.consecutiveSuccesses === 0) return;
  delete state.entries[fp];
}

export interface Delivery {
  channel: string;
  notices: Pick<Notice, 'fingerprint' | 'kind' | 'severity'>[];
}

/** Record what each channel confirmed; only then is a notice "sent". Pure. */
export function recordDeliveries(previous: AlertState, deliveries: Delivery[], now: number): AlertState {
  const state = structuredClone(previous);
  const at = new Date(now).toISOString();
  for (const { channel, notices } of deliveries) {
    for (const n of notices) {
      const e = state.entries[n.fingerprint];
      if (!e) continue;
      if (n.kind === 'resolved') delete e.told[channel];
      else e.told[channel] = { severity: n.severity, at };
      pruneIfDone(state, n.fingerprint);
    }
  }
  return state;
}

/** A run, as far as observations go: its id and audit window. */
export type RunWindow = { runId: string; startedAt: string; finishedAt: string; vantage?: string };

/** Whether `run` overlaps (or precedes) the last run counted for its vantage point. */
export function overlapsLastObservation(state: AlertState, run: RunWindow): Observation | undefined {
  const last = state.observations?.[run.vantage ?? ''];
  if (!last || last.runId === run.runId) return undefined;
  return Date.parse(run.startedAt) < Date.parse(last.finishedAt) ? last : undefined;
}

/** Remember `run` as the last counted observation of its vantage point. Pure. */
export function recordObservation(previous: AlertState, run: RunWindow): AlertState {
  const last = previous.observations?.[run.vantage ?? ''];
  if (last && Date.parse(last.finishedAt) >= Date.parse(run.finishedAt)) return previous;
  return { ...previous, observations: { ...previous.observations, [run.vantage ?? '']: { runId: run.runId, startedAt: run.startedAt, finishedAt: run.finishedAt } } };
}

function reporterKey(reporter: string, vantage: string | undefined): string {
  return vantage ? `${reporter}@${vantage}` : reporter;
}

/** Remember which reporters failed this run (and forget those that delivered). Pure. */
export function recordReporterOutcomes(
  previous: AlertState,
  outcomes: { reporter: string; error?: string }[],
  vantage: string | undefined,
  now: number,
): AlertState {
  const state = structuredClone(previous);
  for (const o of outcomes) {
    const key = reporterKey(o.reporter, vantage);
    if (o.error === undefined) {
      delete state.reporters[key];
      continue;
    }
    const h = state.reporters[key];
    state.reporters[key] = {
      reporter: o.reporter,
      vantage,
      consecutiveFailures: (h?.consecutiveFailures ?? 0) + 1,
      since: h?.since ?? new Date(now).toISOString(),
      lastError: o.error,
    };
  }
  return state;
}

export const REPORTER_FAILED_DOC = {
  severity: 'warning' as const,
  meaning: 'A reporter (Slack, email) could not deliver its notices in the last run: people who rely on it were not told. Its notices stay owed and go out when it works again.',
  firstStep: 'Read the error in the notice or in the run report (reporterFailures); check the webhook or SMTP settings and secrets, and whether Slack or the mail server is down.',
};

/** Reporters that failed in earlier runs, as findings the policy treats like any other. */
export function reporterFindings(state: AlertState, vantage: string | undefined, configured: string[]): Finding[] {
  return Object.values(state.reporters)
    .filter((h) => h.vantage === vantage && configured.includes(h.reporter))
    .map((h) => ({
      check: NOTIFY_CHECK,
      target: h.reporter,
      severity: REPORTER_FAILED_DOC.severity,
      code: 'REPORTER_FAILED',
      message: `${h.reporter} has failed to deliver notices in ${h.consecutiveFailures} run${h.consecutiveFailures === 1 ? '' : 's'} since ${h.since}: ${h.lastError}`,
      firstStep: REPORTER_FAILED_DOC.firstStep,
      vantage,
    }));
}
