// After the audit (with --notify, and always in Lambda and the daemon): update the alert state,
// send what each reporter is owed, record only what it confirmed, write metrics. A reporter that
// fails does not stop the others; its failure lands in the report and fails the run. The state
// store's lock is held from reading the state to writing it, so runs that overlap (two daemons,
// a CLI run next to the daemon) send each notice once and count as one observation.
import type { Config } from './config-schema.ts';
import { noticeContent, type NoticeContent } from './report/notice.ts';
import {
  applyPolicy,
  NOTIFY_CHECK,
  overlapsLastObservation,
  recordDeliveries,
  recordObservation,
  recordReporterOutcomes,
  REPORTER_FAILED_DOC,
  reporterFindings,
  type AlertState,
  type Notice,
  type PolicyInput,
} from './state/policy.ts';
import { historyRecord } from './history/record.ts';
import { withAlertHistory } from './state/history.ts';
import type { HistoryStore } from './state/history-store.ts';
import { updateState, type StateLock, type StateStore, type Versioned } from './state/store.ts';
import { configSecrets, redact } from './report/redact.ts';
import type { Logger, NotifyOutcome, Report, ReporterFailure } from './types.ts';

export const NOTIFY_CODES = { REPORTER_FAILED: REPORTER_FAILED_DOC };
export { NOTIFY_CHECK };

/** A reporter that tells people (Slack, email); send() resolves only when delivery is confirmed. */
export interface Notifier {
  name: string;
  send(content: NoticeContent, signal?: AbortSignal): Promise<void>;
}

/** A reporter that writes every run's metrics (EMF lines, a Prometheus textfile). */
export interface MetricsSink {
  name: string;
  write(report: Report): Promise<void>;
}

export interface NotifyDeps {
  log: Logger;
  stateStore?: StateStore;
  /** The run history beside the state: every notifying run adds its record (status page: uptime, trends). */
  history?: HistoryStore;
  notifiers?: Notifier[];
  metrics?: MetricsSink[];
  now?: () => number;
  signal?: AbortSignal;
}

export interface NotifyOptions {
  /** The run's --only and --target: problems outside them are left as they are. */
  only?: string[];
  targets?: string[];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** How long a run waits for another run's state lock: that run's sends, with room to read and write. */
export function lockWaitMs(config: Config): number {
  return config.alerting.deliveryTimeout + 20_000;
}

export async function notify(report: Report, config: Config, deps: NotifyDeps, opts: NotifyOptions = {}): Promise<Report> {
  // Every error a reporter or store quotes is scrubbed of every secret of the config (a reporter
  // already removes its own; a server may have echoed another's).
  const secrets = configSecrets(config);
  const failures: ReporterFailure[] = report.reporterFailures.map((f) => ({ ...f, error: redact(f.error, secrets) }));
  const fail = (reporter: string, error: string): string => {
    const clean = redact(error, secrets);
    failures.push({ reporter, error: clean });
    return clean;
  };
  const store = deps.stateStore;
  const outcome: NotifyOutcome = { state: store ? 'saved' : 'none', sent: {}, owed: {} };

  if (store) {
    let lock: StateLock | undefined;
    let locked = true;
    if (store.lock) {
      try {
        lock = await store.lock({ owner: report.runId, waitMs: lockWaitMs(config), signal: deps.signal, log: deps.log });
      } catch (err) {
        locked = false;
        outcome.state = 'not-loaded';
        const error = fail('state', `${message(err)}; no notices were sent this run`);
        deps.log.error('cannot take the state lock; no notices sent', { error });
      }
    }
    if (locked) {
      try {
        report = await decideSendRecord(report, config, deps, opts, store, lock, fail, outcome);
        await appendHistory(report, deps, fail);
      } finally {
        await lock?.release();
      }
    }
  }

  let result: Report = withFailures(report, failures, outcome);
  for (const sink of deps.metrics ?? []) {
    try {
      await sink.write(result);
    } catch (err) {
      deps.log.warn('metrics reporter failed', { reporter: sink.name, error: fail(sink.name, message(err)) });
    }
  }
  result = withFailures(report, failures, outcome);
  return result;
}

/**
 * Under the state lock: read the state, decide what is owed, send it, record what was confirmed.
 * Returns the report with what the state adds to findings (how long a stale answer has lasted).
 */
async function decideSendRecord(
  report: Report,
  config: Config,
  deps: NotifyDeps,
  opts: NotifyOptions,
  store: StateStore,
  lock: StateLock | undefined,
  /** Records a failure for the report; returns its text without secrets. */
  fail: (reporter: string, error: string) => string,
  /** What the run did with the state and the reporters, for the report's header. */
  outcome: NotifyOutcome,
): Promise<Report> {
  const now = deps.now?.() ?? Date.now();
  const notifiers = deps.notifiers ?? [];
  let loaded: Versioned;
  try {
    loaded = await store.load();
  } catch (err) {
    outcome.state = 'not-loaded';
    fail('state', `${message(err)}; no notices were sent this run`);
    deps.log.error('cannot load the alert state; no notices sent', { error: message(err) });
    return report;
  }
  // Stale answers whose end no TTL can tell carry how long they have lasted.
  report = { ...report, findings: withAlertHistory(report.findings, loaded.state, now) };
  const channels = notifiers.map((n) => n.name);
  const policyInput = (state: AlertState): PolicyInput => ({
    findings: [...report.findings, ...reporterFindings(state, report.vantage, channels)],
    now,
    alerting: config.alerting,
    channels,
    scope: { vantage: report.vantage, checks: opts.only, targets: opts.targets },
    // A run overlapping one already counted (another daemon, a CLI run) is the same observation.
    count: overlapsLastObservation(state, report) === undefined,
  });
  const overlapped = overlapsLastObservation(loaded.state, report);
  if (overlapped) deps.log.info('this run overlaps a run already counted; its findings are not counted again', { countedRun: overlapped.runId });
  const policy = applyPolicy(loaded.state, policyInput(loaded.state));

  // Nothing goes out unless the lock is still ours (a stalled run whose lease ran out is not).
  if (lock && policy.notices.length > 0 && !(await lock.renew())) {
    outcome.state = 'not-saved';
    fail('state', `${store.description}: the state lock was taken over by another run; no notices were sent this run`);
    return report;
  }

  // Sends share one deadline, so a slow Slack or mail server cannot eat the entry's safety margin.
  const timeout = AbortSignal.timeout(config.alerting.deliveryTimeout);
  const signal = deps.signal ? AbortSignal.any([deps.signal, timeout]) : timeout;
  const outcomes = await Promise.all(
    notifiers.map(async (n): Promise<{ reporter: string; delivered: Notice[]; error?: string }> => {
      const content = noticeContent({
        channel: n.name,
        notices: policy.notices,
        firing: policy.firing,
        runId: report.runId,
        vantage: report.vantage,
        now,
        links: config.reporters?.links,
      });
      if (content.notices.length === 0) return { reporter: n.name, delivered: [] };
      try {
        await n.send(content, signal);
        deps.log.info('notices sent', { reporter: n.name, notices: content.notices.length, kinds: [...new Set(content.notices.map((x) => x.kind))].join(',') });
        outcome.sent[n.name] = content.notices.length;
        return { reporter: n.name, delivered: content.notices };
      } catch (err) {
        const error = fail(n.name, message(err));
        outcome.owed[n.name] = content.notices.length;
        deps.log.warn('reporter failed; its notices stay owed for the next run', { reporter: n.name, notices: content.notices.length, error });
        return { reporter: n.name, delivered: [], error };
      }
    }),
  );

  try {
    await updateState(
      store,
      (fresh) => {
        // Re-applied to whatever is stored now, so an overlapping run's updates are kept (and,
        // being the same observation, not counted twice).
        const input = policyInput(fresh);
        const applied = applyPolicy(fresh, input).state;
        const observed = input.count ? recordObservation(applied, report) : applied;
        const delivered = recordDeliveries(
          observed,
          outcomes.filter((o) => o.delivered.length > 0).map((o) => ({ channel: o.reporter, notices: o.delivered })),
          now,
        );
        return recordReporterOutcomes(delivered, outcomes, report.vantage, now);
      },
      { initial: loaded },
    );
  } catch (err) {
    outcome.state = 'not-saved';
    fail('state', `${message(err)}; notices sent this run may be sent again`);
    deps.log.error('cannot save the alert state', { error: message(err) });
  }
  return report;
}

/** Under the state lock: the run's record joins the history; a failure is the run's like a reporter's. */
async function appendHistory(report: Report, deps: NotifyDeps, fail: (reporter: string, error: string) => string): Promise<void> {
  if (!deps.history) return;
  try {
    const outcome = await deps.history.append(historyRecord(report));
    if (outcome !== 'kept') deps.log.warn(outcome === 'dropped' ? "history: today's document is full; this run is not kept" : "history: today's document is nearly full; this run is kept without its findings' keys", { history: deps.history.description });
  } catch (err) {
    deps.log.warn('history not written', { error: fail('history', message(err)) });
  }
}

function withFailures(report: Report, failures: ReporterFailure[], outcome: NotifyOutcome): Report {
  return { ...report, notify: outcome, reporterFailures: [...failures], summary: { ...report.summary, failed: report.summary.failed || failures.length > 0 } };
}
