// After the audit (with --notify, and always in Lambda and the daemon): update the alert state,
// send what each reporter is owed, record only what it confirmed, write metrics. A reporter that
// fails does not stop the others; its failure lands in the report and fails the run.
import type { Config } from './config.ts';
import { noticeContent, type NoticeContent } from './report/notice.ts';
import {
  applyPolicy,
  NOTIFY_CHECK,
  recordDeliveries,
  recordReporterOutcomes,
  REPORTER_FAILED_DOC,
  reporterFindings,
  type AlertState,
  type Notice,
  type PolicyInput,
} from './state/policy.ts';
import { withAlertHistory } from './state/history.ts';
import { updateState, type StateStore, type Versioned } from './state/store.ts';
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

export async function notify(report: Report, config: Config, deps: NotifyDeps, opts: NotifyOptions = {}): Promise<Report> {
  const failures: ReporterFailure[] = [...report.reporterFailures];
  const now = deps.now?.() ?? Date.now();
  const notifiers = deps.notifiers ?? [];
  const store = deps.stateStore;
  const outcome: NotifyOutcome = { state: store ? 'saved' : 'none', sent: {}, owed: {} };

  if (store) {
    let loaded: Versioned | undefined;
    try {
      loaded = await store.load();
    } catch (err) {
      outcome.state = 'not-loaded';
      failures.push({ reporter: 'state', error: `${message(err)}; no notices were sent this run` });
      deps.log.error('cannot load the alert state; no notices sent', { error: message(err) });
    }
    if (loaded) {
      // Stale answers whose end no TTL can tell carry how long they have lasted.
      report = { ...report, findings: withAlertHistory(report.findings, loaded.state, now) };
      const channels = notifiers.map((n) => n.name);
      const policyInput = (state: AlertState): PolicyInput => ({
        findings: [...report.findings, ...reporterFindings(state, report.vantage, channels)],
        now,
        alerting: config.alerting,
        channels,
        scope: { vantage: report.vantage, checks: opts.only, targets: opts.targets },
      });
      const policy = applyPolicy(loaded.state, policyInput(loaded.state));

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
            failures.push({ reporter: n.name, error: message(err) });
            outcome.owed[n.name] = content.notices.length;
            deps.log.warn('reporter failed; its notices stay owed for the next run', { reporter: n.name, notices: content.notices.length, error: message(err) });
            return { reporter: n.name, delivered: [], error: message(err) };
          }
        }),
      );

      try {
        await updateState(
          store,
          (fresh) => {
            // Re-applied to whatever is stored now, so an overlapping run's updates are kept.
            const applied = applyPolicy(fresh, policyInput(fresh)).state;
            const delivered = recordDeliveries(
              applied,
              outcomes.filter((o) => o.delivered.length > 0).map((o) => ({ channel: o.reporter, notices: o.delivered })),
              now,
            );
            return recordReporterOutcomes(delivered, outcomes, report.vantage, now);
          },
          { initial: loaded },
        );
      } catch (err) {
        outcome.state = 'not-saved';
        failures.push({ reporter: 'state', error: `${message(err)}; notices sent this run may be sent again` });
        deps.log.error('cannot save the alert state', { error: message(err) });
      }
    }
  }

  let result: Report = withFailures(report, failures, outcome);
  for (const sink of deps.metrics ?? []) {
    try {
      await sink.write(result);
    } catch (err) {
      failures.push({ reporter: sink.name, error: message(err) });
      deps.log.warn('metrics reporter failed', { reporter: sink.name, error: message(err) });
    }
  }
  result = withFailures(report, failures, outcome);
  return result;
}

function withFailures(report: Report, failures: ReporterFailure[], outcome: NotifyOutcome): Report {
  return { ...report, notify: outcome, reporterFailures: [...failures], summary: { ...report.summary, failed: report.summary.failed || failures.length > 0 } };
}
