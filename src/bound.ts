// The time a run needs before it starts: every DNS server is asked at most its qps, so the busiest
// server's queries ÷ its qps is a floor no amount of CPU lowers (the politeness bound). `validate`
// and every run state it against the run's budget and the schedule interval, and say what to
// change when it does not fit. Pure.
import { validateDetailed as parseCron } from 'node-cron';
import { formatServerAddress } from './address.ts';
import type { Config } from './config-schema.ts';
import type { DnsQuestion, TimeBound } from './types.ts';
import { humanDuration } from './units.ts';

/** The pseudo-server of the zone's own name servers when none are configured (found through NS). */
export const ZONE_NAME_SERVERS = 'authoritative';

/** Questions per server, and each check's own, as counted over a run's targets. */
export class QuestionTally {
  readonly perServer = new Map<string, number>();
  readonly perCheck = new Map<string, { targets: number; perServer: Map<string, number> }>();
  /** What was asked about the current name ("server\0question"), by any check. */
  readonly #asked = new Set<string>();
  #name: string | undefined;

  /**
   * One target of one check. Targets of the same name come one after another (the runner's order),
   * so questions two checks share about one name — answered once from the run's cache — count once.
   */
  add(check: string, name: string, questions: DnsQuestion[]): void {
    if (name !== this.#name) {
      this.#asked.clear();
      this.#name = name;
    }
    let own = this.perCheck.get(check);
    if (!own) this.perCheck.set(check, (own = { targets: 0, perServer: new Map<string, number>() }));
    own.targets++;
    for (const q of questions) {
      own.perServer.set(q.server, (own.perServer.get(q.server) ?? 0) + 1);
      const key = `${q.server}\u0000${q.question}`;
      if (this.#asked.has(key)) continue;
      this.#asked.add(key);
      this.perServer.set(q.server, (this.perServer.get(q.server) ?? 0) + 1);
    }
  }
}

/** Queries per second allowed at a server: its resolver entry's qps, else dns.qps. */
export function qpsFor(config: Config, server: string): number {
  const resolver = config.resolvers.find((r) => formatServerAddress(r.address) === server);
  return resolver?.qps ?? config.dns.qps;
}

function slowest(config: Config, perServer: Map<string, number>): { server: string; queries: number; qps: number; seconds: number } | undefined {
  let worst: { server: string; queries: number; qps: number; seconds: number } | undefined;
  for (const [server, queries] of perServer) {
    const qps = qpsFor(config, server);
    const seconds = queries / qps;
    if (!worst || seconds > worst.seconds) worst = { server, queries, qps, seconds };
  }
  return worst;
}

function serverLabel(config: Config, server: string): string {
  if (server === ZONE_NAME_SERVERS) return "the zone's name servers";
  const resolver = config.resolvers.find((r) => formatServerAddress(r.address) === server);
  const auth = config.authoritative?.find((a) => formatServerAddress(a.address) === server);
  return resolver?.name ?? auth?.name ?? server;
}

export interface BoundInput {
  config: Config;
  tally: QuestionTally;
  budgetMs: number;
  intervalMs?: number;
}

/** The bound, per check and for the run, with advice when it does not fit. */
export function timeBound({ config, tally, budgetMs, intervalMs }: BoundInput): TimeBound {
  const worst = slowest(config, tally.perServer);
  const seconds = worst?.seconds ?? 0;
  const checks: TimeBound['checks'] = {};
  for (const [id, own] of tally.perCheck) checks[id] = { targets: own.targets, seconds: round(slowest(config, own.perServer)?.seconds ?? 0) };
  const budgetSeconds = budgetMs / 1000;
  const intervalSeconds = intervalMs === undefined ? undefined : intervalMs / 1000;
  const fits = seconds <= budgetSeconds && (intervalSeconds === undefined || seconds <= intervalSeconds);
  const bound: TimeBound = {
    seconds: round(seconds),
    checks,
    ...(worst ? { busiest: { server: serverLabel(config, worst.server), queries: worst.queries, qps: worst.qps } } : {}),
    budgetSeconds,
    ...(intervalSeconds !== undefined ? { intervalSeconds } : {}),
    fits,
  };
  if (!fits && worst) bound.advice = advice(config, bound, worst);
  return bound;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** What to change, biggest lever first. Shards fit a budget, never a schedule: politeness is per resolver. */
function advice(config: Config, b: TimeBound, worst: { queries: number; qps: number }): string {
  const limit = Math.min(b.budgetSeconds, b.intervalSeconds ?? Infinity);
  const neededQps = Math.ceil(worst.queries / (limit * 0.9));
  const types = (config.checks['dns-consistency'] as { recordTypes?: string[] } | undefined)?.recordTypes ?? [];
  const steps = [`raise dns.qps (or the busiest resolver's qps) from ${worst.qps} to ${neededQps}; public resolvers allow far more (Google: about 1,500 q/s per client)`];
  if (types.length > 1) steps.push(`ask fewer record types (checks.dns-consistency.recordTypes: ${types.length} now; each one is a query per dialer and server)`);
  const overInterval = b.intervalSeconds !== undefined && b.seconds > b.intervalSeconds;
  if (b.seconds > b.budgetSeconds && !overInterval) {
    steps.push(`or split the run into shards that each fit the budget (run.shards: ${shardsFor(b.seconds, b.budgetSeconds, 1)}; on AWS the Step Functions state machine runs them, see "Large fleets")`);
  } else {
    steps.push(`or run less often: shards keep each Lambda under its time limit, but the run as a whole still takes ${humanDuration(b.seconds)} at this politeness`);
  }
  return steps.join('; ');
}

/**
 * Shards that let each shard's share of the bound fit `shardBudgetSeconds`, when `concurrency` of
 * them run at once and share each server's qps (so a server never sees more than its qps).
 */
export function shardsFor(boundSeconds: number, shardBudgetSeconds: number, concurrency: number): number {
  if (shardBudgetSeconds <= 0) return 1;
  return Math.max(1, Math.ceil((boundSeconds * concurrency * 1.1) / shardBudgetSeconds));
}

/** One line for headers and `validate`: the bound, against the budget and the schedule. */
export function describeBound(b: TimeBound, extra = ''): string {
  const per = Object.entries(b.checks)
    .filter(([, c]) => c.seconds > 0)
    .map(([id, c]) => `${id} ${humanDuration(c.seconds)}`);
  const busiest = b.busiest ? ` (${b.busiest.queries.toLocaleString('en-US')} queries at ${b.busiest.server}, ${b.busiest.qps} q/s)` : '';
  const against = [`budget ${humanDuration(b.budgetSeconds)}`, b.intervalSeconds !== undefined ? `schedule every ${humanDuration(b.intervalSeconds)}` : ''].filter(Boolean).join(', ');
  const verdict = b.fits ? 'fits' : 'DOES NOT FIT';
  return `time bound: at least ${humanDuration(b.seconds)}${busiest}${per.length > 1 ? ` [${per.join(', ')}]` : ''}${extra}; ${against}: ${verdict}${b.advice ? `. To fit: ${b.advice}` : ''}`;
}

/**
 * The longest gap between two runs of a schedule, in ms: node-cron expressions (the daemon),
 * EventBridge `rate(5 minutes)` and `cron(0/5 * * * ? *)` (Lambda). Undefined when unknown.
 */
export function scheduleIntervalMs(expression: string): number | undefined {
  const rate = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (rate) return Number(rate[1]) * { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[rate[2].replace(/s$/, '') as 'minute' | 'hour' | 'day'];
  const aws = /^cron\((.+)\)$/.exec(expression.trim());
  if (aws) {
    // EventBridge: minutes hours day-of-month month day-of-week year; `?` for "any".
    const [min, hour, dom, month, dow] = aws[1].trim().split(/\s+/);
    if (!min || !hour) return undefined;
    return cronGapMs(`${min.replace(/^0\//, '*/')} ${hour.replace(/^0\//, '*/')} ${dom === '?' ? '*' : dom} ${month} ${dow === '?' ? '*' : dow}`);
  }
  return cronGapMs(expression);
}

function cronGapMs(expression: string): number | undefined {
  const parsed = parseCron(expression);
  if (!parsed.valid || !parsed.fields) return undefined;
  const f = parsed.fields;
  // Restricted days: it runs at most on some days, so a day is the shortest honest gap.
  const everyDay = f.dayOfMonth.length >= 31 && f.month.length >= 12 && f.dayOfWeek.length >= 7;
  const seconds = f.second.length > 0 ? f.second : [0];
  const times: number[] = [];
  for (const h of f.hour) for (const m of f.minute) for (const s of seconds) times.push(h * 3600 + m * 60 + Number(s));
  times.sort((a, b) => a - b);
  if (times.length === 0) return undefined;
  let gap = times[0] + 86_400 - times[times.length - 1];
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
  return (everyDay ? gap : Math.max(gap, 86_400)) * 1000;
}
