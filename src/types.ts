// The shared vocabulary of dialer-audit: what a check is, what it finds, what a run reports.
import type { ZodType } from 'zod';
import type { Config } from './config-schema.ts';
import type { AnswerCache } from './cache.ts';
import type { DnsClient } from './net/dns.ts';
import type { SipClient } from './net/sip.ts';
import type { StunClient } from './net/stun.ts';

export type Severity = 'critical' | 'warning' | 'info';

/** Higher is worse; used for sorting and for the exit-code threshold. */
export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export interface Finding {
  check: string;
  target: string;
  severity: Severity;
  /** Stable, documented in the README (e.g. 'DNS_MISMATCH'). */
  code: string;
  /** One line a human can act on. */
  message: string;
  /** The first thing to try, in words an on-call engineer can follow. */
  firstStep?: string;
  /** Which resolver / authoritative server / vantage point saw it. */
  resolver?: string;
  /** Where this run ran (region of a Lambda, host of a daemon); set by the runner. */
  vantage?: string;
  evidence?: Record<string, unknown>;
  /** A suggested TTL change; only the fixer reads it. */
  fix?: TtlChange;
  /** Only in a report merged from several vantage points: where this one problem was seen. */
  vantages?: FindingVantages;
}

/** Where one problem was seen, across the reports `dialer-audit merge` read. */
export interface FindingVantages {
  seenFrom: string[];
  /** Ran the check on this target and did not see it. */
  notSeenFrom: string[];
  /** Did not run the check there, or could not audit the target (CHECK_ERROR): they say nothing. */
  notRunFrom: string[];
}

/** Documentation of a finding code; the README and `firstStep` defaults come from here. */
export interface CodeDoc {
  severity: Severity;
  meaning: string;
  firstStep: string;
}

/** A record set as Route 53 holds it (the SDK's ResourceRecordSet shape, kept whole). */
export interface RecordSet {
  Name: string;
  Type: string;
  TTL?: number;
  ResourceRecords?: { Value: string }[];
  AliasTarget?: { HostedZoneId: string; DNSName: string; EvaluateTargetHealth: boolean };
  SetIdentifier?: string;
  Weight?: number;
  Region?: string;
  Failover?: string;
  GeoLocation?: Record<string, string>;
  CidrRoutingConfig?: { CollectionId: string; LocationName: string };
  GeoProximityLocation?: Record<string, unknown>;
  MultiValueAnswer?: boolean;
  HealthCheckId?: string;
  TrafficPolicyInstanceId?: string;
}

/** One TTL change the fixer may make; everything else about the record set is copied. */
export interface TtlChange {
  zoneId: string;
  zoneName: string;
  name: string;
  type: string;
  setIdentifier?: string;
  fromTtl: number;
  toTtl: number;
}

/** A TTL change --fix applied (or submitted), as the fix journal in the alert state keeps it. */
export type AppliedTtlChange = Pick<FixRecord, 'zoneId' | 'name' | 'type' | 'setIdentifier' | 'fromTtl' | 'toTtl' | 'changeId'> & {
  /** ISO time the change was in sync (or, when still pending, the end of the run that sent it). */
  at: string;
  runId?: string;
};

/** The fix journal as a run sees it: what earlier runs applied, or why it could not be read. */
export interface FixJournal {
  entries: AppliedTtlChange[];
  /** Set when the journal could not be read: the fixer's window limits cannot be checked. */
  problem?: string;
}

export type FixStatus = 'planned' | 'applied' | 'pending' | 'failed' | 'skipped' | 'refused';

export interface FixRecord {
  zoneId: string;
  name: string;
  type: string;
  setIdentifier: string | null;
  fromTtl: number;
  toTtl: number;
  status: FixStatus;
  /** Why a fix was skipped, refused or failed (AWS's message for a failed batch). */
  reason?: string;
  changeId?: string;
}

export interface InventoryZone {
  zoneId: string;
  name: string;
  privateZone: boolean;
  /** Every record set of the zone (needed for the plan's percentage limit). */
  recordSets: RecordSet[];
  /** The record sets whose names match the zone's `match` globs and not its `exclude`. */
  dialerRecordSets: RecordSet[];
}

export interface Inventory {
  /** Every dialer name to audit (static list plus names found in zones), lower-case, no trailing dot. */
  dialers: string[];
  zones: InventoryZone[];
  /** Sources that could not be read (e.g. one Route 53 zone); each becomes an INVENTORY_ERROR, the rest is still audited. */
  problems?: string[];
  /** TTL changes earlier runs applied (from the alert state), for the fixer's window and the report's truth after a fix. */
  fixJournal?: FixJournal;
}

export interface Target {
  /** What findings name as their target, e.g. 'acme.dialer.example.com'. */
  name: string;
  /** Check-specific data the check's run() needs. */
  data?: unknown;
}

/** A number observed during a run (RTT, TTL, up/down); metrics and scorecards are made from these. */
export interface Measurement {
  check: string;
  target: string;
  /** snake_case with base units, e.g. 'up', 'rtt_seconds', 'ttl_seconds', 'retransmissions'. */
  metric: string;
  value: number;
  labels?: Record<string, string>;
}

/**
 * A run's measurements of one metric with one label set, folded as they arrived (src/aggregate.ts):
 * per check × resolver/server/carrier × labels, however many targets contributed.
 */
export interface MetricAggregate {
  check: string;
  metric: string;
  /** The measurements' labels, plus `target` when a measurement named a subject of its own (a server, a zone). */
  labels: Record<string, string>;
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Counts per RTT_BUCKETS bucket (not cumulative; the last one is above the highest bound); times only. */
  buckets?: number[];
  /** Every value, ascending, while there are at most EXACT_VALUES of them (exact quantiles for small series). */
  values?: number[];
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface CheckContext {
  /** Aborted when the run's budget is spent. */
  signal: AbortSignal;
  /** Epoch ms by which this target's work must be done. */
  deadline: number;
  log: Logger;
  config: Config;
  inventory: Inventory;
  dns: DnsClient;
  /** Per-run memo shared by all checks: a question asked again while its name is audited is answered from it. */
  cache: AnswerCache<Promise<unknown>>;
  /** STUN/TURN and SIP clients; absent means real sockets (tests pass scripted ones). */
  stun?: StunClient;
  sip?: SipClient;
  /**
   * Record a measurement; `check` is filled in by the runner. Without `target` it counts toward the
   * check's aggregate over all its targets (by labels: server, type …) and is kept per target only
   * when the target has findings. `target` names a subject of its own — a server, a zone, never a
   * dialer — which becomes a label of the aggregate.
   */
  measure(m: { metric: string; value: number; target?: string; labels?: Record<string, string> }): void;
  now(): number;
}

export interface Check<P = unknown, T extends Target = Target> {
  id: string;
  description: string;
  params: ZodType<P>;
  /** Every code this check can emit, with meaning and first step (the README lists them). */
  codes: Record<string, CodeDoc>;
  /** The targets, streamed: the runner holds only the ones in flight (a generator suits a fleet-sized list). */
  targets(inventory: Inventory, params: P, config: Config): Iterable<T>;
  /** An unhealthy target is a Finding, never a throw. */
  run(target: T, params: P, ctx: CheckContext): Promise<Finding[]>;
  /**
   * Optional pass over all of this check's findings, e.g. to fold one dead resolver's many timeouts
   * into one finding. It sees findings only: the targets are described, not held (a sharded run
   * merges the shards' findings and calls it once).
   */
  aggregate?(findings: Finding[], targets: AuditedTargets, params: P, config: Config): Finding[];
  /** Optional: the DNS questions one target costs, per server, for the politeness bound (src/bound.ts). */
  questions?(target: T, params: P, config: Config): DnsQuestion[];
}

/** What an aggregate() pass knows about the targets it audited, without holding them. */
export interface AuditedTargets {
  /** How many targets of this check the run audited. */
  count: number;
  /** Whether the run's filters (--target, --shard) let a target of this name through. */
  includes(name: string): boolean;
}

/** One question to one DNS server; `server` is its host:port (or 'authoritative' for the zone's NS). */
export interface DnsQuestion {
  server: string;
  question: string;
}

export interface CheckSummary {
  targets: number;
  findings: number;
  errors: number;
  durationMs: number;
}

export interface ReportSummary {
  critical: number;
  warning: number;
  info: number;
  findings: number;
  targets: number;
  checks: Record<string, CheckSummary>;
  /** What the exit code will be: 0 clean, 1 findings at/above the fail threshold. */
  failOn: Severity;
  failed: boolean;
  /** Only in a report merged from several vantage points (src/vantage.ts). */
  vantages?: VantageSummary;
  /** How long politeness alone makes this run, against its budget and schedule (src/bound.ts). */
  bound?: TimeBound;
}

/** The politeness bound: queries per server ÷ that server's qps, the busiest server deciding. */
export interface TimeBound {
  seconds: number;
  /** Per check, its own queries alone. */
  checks: Record<string, { targets: number; seconds: number }>;
  /** The server that takes longest, and why. */
  busiest?: { server: string; queries: number; qps: number };
  budgetSeconds: number;
  intervalSeconds?: number;
  /** True when the bound fits the budget and the schedule interval. */
  fits: boolean;
  /** When it does not fit: what to change, in words. */
  advice?: string;
}

/** A shard's partial report: its slice of the fleet, findings not yet folded (see src/shards.ts). */
export interface ShardInfo {
  /** 1-based. */
  index: number;
  count: number;
}

/** A problem seen from some vantage points only (resolver caches differ by place). */
export interface VantageSplit {
  check: string;
  target: string;
  code: string;
  resolver?: string;
  severity: Severity;
  seenFrom: string[];
  notSeenFrom: string[];
  /** Vantages that could not audit the target this run (CHECK_ERROR), so they say nothing. */
  unknownAt?: string[];
}

export interface VantageSummary {
  vantages: string[];
  partial: VantageSplit[];
  /** How many problems every vantage point saw. */
  everywhere: number;
}

export interface ReporterFailure {
  reporter: string;
  error: string;
}

/** What a run with notify (--notify, Lambda, the daemon) did besides auditing. */
export interface NotifyOutcome {
  /** saved: the alert state was written; not-loaded / not-saved: the store failed; none: no store. */
  state: 'saved' | 'not-loaded' | 'not-saved' | 'none';
  /** Notices delivered this run, per reporter. */
  sent: Record<string, number>;
  /** Notices that stay owed to the next run because their reporter failed, per reporter. */
  owed: Record<string, number>;
}

export interface Report {
  schemaVersion: 2;
  runId: string;
  startedAt: string;
  finishedAt: string;
  vantage?: string;
  dryRun: boolean;
  summary: ReportSummary;
  /** Only in a shard's partial report (`audit --shard I/N`); `dialer-audit merge` combines them. */
  shard?: ShardInfo;
  /** Per check × labels: counts, sums, extremes, RTT buckets. */
  aggregates: MetricAggregate[];
  findings: Finding[];
  fixes: FixRecord[];
  /** Per-target measurements of the targets with findings (all of them stream out with --measurements). */
  measurements: Measurement[];
  reporterFailures: ReporterFailure[];
  /** Absent when the run only printed (no --notify). */
  notify?: NotifyOutcome;
}
