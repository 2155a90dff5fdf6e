import { describe, expect, it } from 'vitest';
import { buildReport } from '../../src/audit.ts';
import { parseConfig, type Config } from '../../src/config.ts';
import { notify, type MetricsSink, type Notifier } from '../../src/notify.ts';
import type { NoticeContent } from '../../src/report/notice.ts';
import { fingerprint } from '../../src/state/fingerprint.ts';
import { emptyState, type AlertState } from '../../src/state/policy.ts';
import type { StateStore, Versioned } from '../../src/state/store.ts';
import { silentLogger } from '../../src/log.ts';
import { formatText } from '../../src/report/text.ts';
import type { Finding, Report } from '../../src/types.ts';

const T0 = Date.parse('2026-11-23T12:00:00Z');

class MemoryStore implements StateStore {
  description = 'memory';
  revision = 0;
  state: AlertState = emptyState();
  loads = 0;
  conflicts = 0;
  constructor(private readonly beforeSave: () => Promise<void> = async () => {}) {}
  async load(): Promise<Versioned> {
    this.loads++;
    return { state: structuredClone(this.state), revision: this.revision };
  }
  async save(state: AlertState, revision: number): Promise<boolean> {
    await this.beforeSave();
    if (revision !== this.revision) {
      this.conflicts++;
      return false;
    }
    this.state = structuredClone(state);
    this.revision++;
    return true;
  }
}

function recorder(name: string, fail?: string): Notifier & { got: NoticeContent[] } {
  const got: NoticeContent[] = [];
  return {
    name,
    got,
    async send(content) {
      if (fail) throw new Error(fail);
      got.push(content);
    },
  };
}

const critical: Finding = { check: 'dns-consistency', target: 'acme.dialer.example.com', severity: 'critical', code: 'DNS_MISMATCH', message: 'stale at google', resolver: 'google', firstStep: 'Flush it.' };

function reportOf(config: Config, findings: Finding[]): Report {
  const withVantage = findings.map((f) => ({ ...f, vantage: config.run.vantage }));
  return buildReport({ runId: 'r', started: T0, finished: T0 + 1000, config, dryRun: true, findings: withVantage, fixes: [], summaries: {}, targetCount: 1 });
}

describe('notify', () => {
  it('keeps going when one reporter fails, records only what was delivered, and fails the run', async () => {
    // Prepare
    const config = parseConfig({ run: { failOn: 'critical' } });
    const store = new MemoryStore();
    const slack = recorder('slack', 'Slack answered HTTP 500');
    const email = recorder('email');
    const written: Report[] = [];
    const metrics: MetricsSink = { name: 'emf', write: async (r) => void written.push(r) };
    const clean = reportOf(config, [{ ...critical, severity: 'warning' }]);
    // Act
    const first = await notify(reportOf(config, [critical]), config, { log: silentLogger, stateStore: store, notifiers: [slack, email], metrics: [metrics], now: () => T0 });
    const afterFirst = structuredClone(store.state);
    const slackBack = recorder('slack');
    const second = await notify(clean, config, { log: silentLogger, stateStore: store, notifiers: [slackBack, email], now: () => T0 + 300_000 });
    // Assess
    expect(first.reporterFailures).toEqual([{ reporter: 'slack', error: 'Slack answered HTTP 500' }]);
    expect(first.summary.failed).toBe(true);
    expect(email.got[0].notices.map((n) => n.kind)).toEqual(['problem']);
    expect(written[0].reporterFailures).toHaveLength(1);
    expect(afterFirst.entries[fingerprint(critical)].told).toEqual({ email: { severity: 'critical', at: new Date(T0).toISOString() } });
    expect(afterFirst.reporters.slack).toMatchObject({ consecutiveFailures: 1, lastError: 'Slack answered HTTP 500' });
    // The next run: slack gets the owed notice (now a warning), email the severity change.
    expect(first.notify).toEqual({ state: 'saved', sent: { email: 1 }, owed: { slack: 1 } });
    expect(formatText(first, { width: 200 }).split('\n')[0]).toContain('(notify: state updated, 1 notice sent (email), 1 owed to the next run (slack failed); TTL fixes: plan only)');
    expect(second.notify).toEqual({ state: 'saved', sent: { slack: 1, email: 1 }, owed: {} });
    expect(formatText(second, { width: 200 }).split('\n')[0]).toContain('(notify: state updated, 2 notices sent (slack 1, email 1); TTL fixes: plan only)');
    expect(second.reporterFailures).toEqual([]);
    expect(second.summary.failed).toBe(false);
    expect(slackBack.got[0].notices.map((n) => [n.kind, n.severity])).toEqual([['problem', 'warning']]);
    expect(email.got[1].notices.map((n) => [n.kind, n.severity, n.previousSeverity])).toEqual([['severity-changed', 'warning', 'critical']]);
    expect(store.state.reporters).toEqual({});
  });

  it('keeps both updates when two overlapping runs write the state at the same time', async () => {
    // Prepare: neither run may save before both have loaded.
    let release!: () => void;
    const bothLoaded = new Promise<void>((r) => (release = r));
    const store: MemoryStore = new MemoryStore(() => bothLoaded);
    const origLoad = store.load.bind(store);
    store.load = async () => {
      const v = await origLoad();
      if (store.loads === 2) release();
      return v;
    };
    const east = parseConfig({ run: { vantage: 'us-east-1' } });
    const west = parseConfig({ run: { vantage: 'eu-west-1' } });
    const slack = recorder('slack');
    // Act
    await Promise.all([
      notify(reportOf(east, [critical]), east, { log: silentLogger, stateStore: store, notifiers: [slack], now: () => T0 }),
      notify(reportOf(west, [critical]), west, { log: silentLogger, stateStore: store, notifiers: [slack], now: () => T0 }),
    ]);
    // Assess
    expect(store.conflicts).toBe(1);
    const entries = Object.values(store.state.entries);
    expect(entries.map((e) => [e.vantage, e.firing, Object.keys(e.told)]).sort()).toEqual([
      ['eu-west-1', true, ['slack']],
      ['us-east-1', true, ['slack']],
    ]);
  });

  it('reports a state store that cannot be read, sends nothing, and still writes metrics', async () => {
    const config = parseConfig({});
    const slack = recorder('slack');
    const written: Report[] = [];
    const broken: StateStore = {
      description: 'memory',
      load: async () => Promise.reject(new Error('memory: read failed (AccessDenied)')),
      save: async () => true,
    };
    const result = await notify(reportOf(config, [critical]), config, {
      log: silentLogger,
      stateStore: broken,
      notifiers: [slack],
      metrics: [{ name: 'emf', write: async (r) => void written.push(r) }],
    });
    expect(result.reporterFailures).toEqual([{ reporter: 'state', error: 'memory: read failed (AccessDenied); no notices were sent this run' }]);
    expect(slack.got).toEqual([]);
    expect(written).toHaveLength(1);
    expect(result.notify?.state).toBe('not-loaded');
    expect(formatText(result, { width: 200 }).split('\n')[0]).toContain('(notify: state NOT read, nothing sent; TTL fixes: plan only)');
  });

  it('without a state store, sends nothing and does not fail', async () => {
    const config = parseConfig({});
    const slack = recorder('slack');
    const result = await notify(reportOf(config, []), config, { log: silentLogger, notifiers: [slack] });
    expect(result.reporterFailures).toEqual([]);
    expect(slack.got).toEqual([]);
  });
});
