// The only place real clients are built (sockets, AWS SDK, SMTP); tests build their own.
// The AWS SDK and nodemailer are loaded only when the config uses them: a plain DNS audit
// starts without them (cold start and memory matter for a job that runs every five minutes).
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { Config } from '../config.ts';
import type { JobDeps } from '../job.ts';
import { dnsClientFromConfig } from '../net/dns-client.ts';
import type { MetricsSink, Notifier } from '../notify.ts';
import { emailNotifier } from '../report/email.ts';
import { emfSink, textfileSink } from '../report/metrics.ts';
import { slackNotifier } from '../report/slack.ts';
import type { PagePublisher } from '../report/status-sink.ts';
import { DEFAULT_STATE_FILE, FileStateStore } from '../state/file-store.ts';
import { FileHistoryStore, historyDirFor, type HistoryStore } from '../state/history-store.ts';
import type { ShardRunStore } from '../state/partials.ts';
import type { StateStore } from '../state/store.ts';
import { DEFAULT_RETENTION_MS } from '../history/record.ts';
import type { Logger } from '../types.ts';

/**
 * Route 53 is global (signed for us-east-1). `aws.endpoint` points it at a lab double. The SDK's
 * own retries are off: src/net/route53.ts retries Throttling / PriorRequestNotComplete itself,
 * with a backoff bounded by the run's deadline.
 */
export async function route53ClientFor(config: Config): Promise<Route53Client> {
  const { Route53Client } = await import('@aws-sdk/client-route-53');
  return new Route53Client({
    region: config.aws?.region ?? 'us-east-1',
    endpoint: config.aws?.endpoint,
    profile: config.aws?.profile,
    maxAttempts: 1,
  });
}

type DynamoTable = NonNullable<NonNullable<Config['state']>['dynamodb']>;

async function dynamoClientFor(config: Config, table: DynamoTable): Promise<DynamoDBClient> {
  const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
  return new DynamoDBClient({
    region: config.aws?.region ?? 'us-east-1',
    endpoint: table.endpoint ?? config.aws?.endpoint,
    profile: config.aws?.profile,
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 3000, requestTimeout: 5000 },
  });
}

/** DynamoDB when configured (Lambda), else the file (CLI, daemon). Nothing is read until a run notifies. */
export async function stateStoreFor(config: Config, log: Logger): Promise<StateStore> {
  const table = config.state?.dynamodb;
  if (table) {
    const [client, { DynamoDbStateStore }] = await Promise.all([dynamoClientFor(config, table), import('../state/dynamodb-store.ts')]);
    return new DynamoDbStateStore(client, table.table, table.key);
  }
  return new FileStateStore(config.state?.file ?? DEFAULT_STATE_FILE, { log });
}

/** The run history beside the state: DynamoDB items per day next to the state item, else files beside the state file. */
export async function historyStoreFor(config: Config, log: Logger): Promise<HistoryStore> {
  const retentionMs = config.state?.history.retention ?? DEFAULT_RETENTION_MS;
  const table = config.state?.dynamodb;
  if (table) {
    const [client, { DynamoDbHistoryStore }] = await Promise.all([dynamoClientFor(config, table), import('../state/dynamodb-history.ts')]);
    return new DynamoDbHistoryStore(client, table.table, table.key, retentionMs);
  }
  return new FileHistoryStore(historyDirFor(config.state?.file ?? DEFAULT_STATE_FILE), retentionMs, { log });
}

/** Where reporters.html puts the page: a directory, or S3 (the SDK's S3 client loaded only then). */
async function pagePublishersFor(config: Config): Promise<PagePublisher[]> {
  const html = config.reporters?.html;
  if (html?.dir) return [(await import('../report/status-sink.ts')).directoryPublisher(html.dir)];
  if (!html?.s3) return [];
  const s3 = html.s3;
  const [{ S3Client }, { objectKey, putPage }, { STATUS_PAGE_FILE }] = await Promise.all([import('@aws-sdk/client-s3'), import('../net/s3.ts'), import('../report/status/page.ts')]);
  const client = new S3Client({
    region: s3.region ?? config.aws?.region ?? 'us-east-1',
    endpoint: s3.endpoint,
    forcePathStyle: s3.endpoint !== undefined,
    profile: config.aws?.profile,
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 3000, requestTimeout: 10_000 },
  });
  const key = objectKey(s3.prefix, STATUS_PAGE_FILE);
  return [{ where: `s3://${s3.bucket}/${key}`, publish: (page) => putPage(client, s3.bucket, key, page) }];
}

/** A sharded run's partial reports and run lock, next to the alert state in its DynamoDB table. */
export async function shardRunStoreFor(config: Config): Promise<ShardRunStore> {
  const table = config.state?.dynamodb;
  if (!table) throw new Error('a sharded run keeps its partial reports in the state table: set state.dynamodb (serverless.yml sets DIALER_AUDIT_STATE_TABLE)');
  const [client, { DynamoDbShardRunStore }] = await Promise.all([dynamoClientFor(config, table), import('../state/partials.ts')]);
  return new DynamoDbShardRunStore(client, table.table, table.key);
}

export function notifiersFor(config: Config): Notifier[] {
  const out: Notifier[] = [];
  if (config.reporters?.slack) out.push(slackNotifier(config.reporters.slack));
  if (config.reporters?.email) out.push(emailNotifier(config.reporters.email));
  return out;
}

/** EMF lines go to stderr by default so they never mix with a report on stdout (Lambda logs both). */
export function metricsFor(config: Config, writeMetricsLine: (line: string) => void = (l) => process.stderr.write(l + '\n')): MetricsSink[] {
  const m = config.reporters?.metrics;
  const out: MetricsSink[] = [];
  if (m?.emf) out.push(emfSink(m.namespace, writeMetricsLine));
  if (m?.prometheusTextfile) out.push(textfileSink(m.prometheusTextfile));
  return out;
}

export interface RealDepsOptions {
  writeMetricsLine?: (line: string) => void;
  /** Every status page a notifying run renders (the daemon's /status); renders one even without reporters.html. */
  onStatusPage?: (html: string) => void;
}

export async function realDeps(config: Config, log: Logger, opts: RealDepsOptions = {}): Promise<JobDeps> {
  const [stateStore, history, publishers] = await Promise.all([stateStoreFor(config, log), historyStoreFor(config, log), pagePublishersFor(config)]);
  const metrics = metricsFor(config, opts.writeMetricsLine);
  // The page's renderer is loaded only when a page is wanted (a lazy chunk of the Lambda bundle).
  if (publishers.length > 0 || opts.onStatusPage) {
    const { statusPageSink } = await import('../report/status-sink.ts');
    metrics.push(statusPageSink({ stores: { stateStore, history }, publishers, keep: opts.onStatusPage }));
  }
  const deps: JobDeps = {
    dns: dnsClientFromConfig(config),
    log,
    stateStore,
    history,
    notifiers: notifiersFor(config),
    metrics,
  };
  // run.measurements: every per-target measurement as a log line while the run goes (CloudWatch, journald).
  if (config.run.measurements) deps.onMeasurement = (m) => log.info('measurement', { ...m });
  if (config.targets.zones.length > 0) {
    const [route53, { route53Inventory }, { route53Fixer }, { readFixJournal, recordFixJournal }] = await Promise.all([
      route53ClientFor(config),
      import('../inventory/route53.ts'),
      import('../fix/route53.ts'),
      import('../state/fix-journal.ts'),
    ]);
    // The fix journal lives in the alert state: read with the zones, written when --fix applies.
    deps.inventory = async (cfg, signal) => {
      const [inventory, fixJournal] = await Promise.all([route53Inventory(cfg, route53, signal, { log }), readFixJournal(stateStore)]);
      return { ...inventory, fixJournal };
    };
    deps.fixer = route53Fixer(route53, { recordApplied: (entries) => recordFixJournal(stateStore, entries, Date.now(), config.fix.window) });
  }
  return deps;
}
