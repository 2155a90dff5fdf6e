// The Route 53 edge shared by the inventory and the fixer: reading zones and record sets with
// full pagination, and one bounded, deadline-aware retry policy for every call. The client is
// passed in (built in src/entry/deps.ts, or by a test against the Route 53 double).
import {
  ListHostedZonesByNameCommand,
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  type HostedZone,
  type ResourceRecordSet,
  type Route53Client,
  type RRType,
} from '@aws-sdk/client-route-53';
import { bareId, normalizeRoute53Name } from '../names.ts';
import type { Logger, RecordSet } from '../types.ts';
import { sleep } from './limit.ts';

/** Codes AWS documents as "slow down / try again": Route 53's 5 requests/s and its one-change-at-a-time rule. */
const RETRYABLE_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'PriorRequestNotComplete',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ServiceUnavailable',
  'InternalFailure',
  'InternalError',
]);
const RETRYABLE_NETWORK = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'TimeoutError', 'RequestTimeout']);

export interface Route53CallOptions {
  /** Epoch ms after which no new attempt starts (the run's deadline, less room to report). */
  deadline: number;
  signal?: AbortSignal;
  log?: Logger;
  now?: () => number;
  /** First backoff step; doubles per attempt up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxAttempts?: number;
}

export const DEFAULT_RETRY = { baseDelayMs: 200, maxDelayMs: 5000, maxAttempts: 8 } as const;

/** A Route 53 call that failed for good: AWS's code and message, and how many attempts it took. */
export class Route53Error extends Error {
  constructor(
    readonly code: string,
    readonly awsMessage: string,
    readonly attempts: number,
  ) {
    super(`${code}: ${awsMessage}`);
    this.name = 'Route53Error';
  }
}

interface AwsLikeError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

export function errorCode(err: unknown): string {
  const e = err as AwsLikeError;
  return e?.Code ?? e?.code ?? e?.name ?? 'Error';
}

export function isRetryable(err: unknown): boolean {
  const e = err as AwsLikeError;
  const code = errorCode(err);
  if (code === 'AbortError') return false;
  if (RETRYABLE_CODES.has(code) || RETRYABLE_NETWORK.has(code)) return true;
  return (e?.$metadata?.httpStatusCode ?? 0) >= 500;
}

/**
 * Calls `send` until it succeeds, fails with a non-retryable error, runs out of attempts, or the
 * next backoff would end past the deadline. Backoff: base·2^n with equal jitter, capped.
 */
export async function callRoute53<T>(what: string, send: (signal?: AbortSignal) => Promise<T>, opts: Route53CallOptions): Promise<T> {
  const now = opts.now ?? Date.now;
  const base = opts.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
  const cap = opts.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
  const maxAttempts = opts.maxAttempts ?? DEFAULT_RETRY.maxAttempts;
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted) throw new Route53Error('RunBudgetSpent', `the run budget was spent before ${what}`, attempt - 1);
    try {
      return await send(opts.signal);
    } catch (err) {
      const code = errorCode(err);
      const message = (err as Error)?.message ?? String(err);
      if (opts.signal?.aborted) throw new Route53Error('RunBudgetSpent', `the run budget was spent during ${what}`, attempt);
      if (!isRetryable(err)) throw new Route53Error(code, message, attempt);
      const step = Math.min(cap, base * 2 ** (attempt - 1));
      const delay = Math.round(step / 2 + Math.random() * (step / 2));
      if (attempt >= maxAttempts || now() + delay >= opts.deadline) {
        throw new Route53Error(code, `${message} (gave up after ${attempt} attempt${attempt === 1 ? '' : 's'})`, attempt);
      }
      opts.log?.warn('route53 call will be retried', { call: what, code, attempt, delayMs: delay });
      if (!(await sleep(delay, opts.signal))) throw new Route53Error('RunBudgetSpent', `the run budget was spent while retrying ${what}`, attempt);
    }
  }
}

/** The SDK's shape, kept whole but without keys whose value is undefined (so copies compare equal). */
export function toRecordSet(r: ResourceRecordSet): RecordSet {
  return JSON.parse(JSON.stringify(r)) as RecordSet;
}

export interface RecordSetPosition {
  name?: string;
  type?: string;
  identifier?: string;
}

/** One page of ListResourceRecordSets from `start`; the caller pages with the Next* fields. */
export async function listRecordSetPage(
  client: Route53Client,
  zoneId: string,
  start: RecordSetPosition,
  maxItems: number | undefined,
  opts: Route53CallOptions,
): Promise<{ recordSets: RecordSet[]; next?: RecordSetPosition }> {
  const page = await callRoute53(
    `ListResourceRecordSets ${zoneId}`,
    (abortSignal) =>
      client.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: bareId(zoneId),
          StartRecordName: start.name,
          StartRecordType: start.type as RRType | undefined,
          StartRecordIdentifier: start.identifier,
          MaxItems: maxItems,
        }),
        { abortSignal },
      ),
    opts,
  );
  const recordSets = (page.ResourceRecordSets ?? []).map(toRecordSet);
  if (!page.IsTruncated) return { recordSets };
  return { recordSets, next: { name: page.NextRecordName, type: page.NextRecordType, identifier: page.NextRecordIdentifier } };
}

/**
 * Every record set of a zone. The SDK has no paginator for ListResourceRecordSets: the next page
 * starts at NextRecordName / NextRecordType / NextRecordIdentifier.
 */
export async function listAllRecordSets(client: Route53Client, zoneId: string, opts: Route53CallOptions & { maxItems?: number }): Promise<RecordSet[]> {
  const out: RecordSet[] = [];
  let start: RecordSetPosition = {};
  for (let pages = 1; ; pages++) {
    const page = await listRecordSetPage(client, zoneId, start, opts.maxItems, opts);
    out.push(...page.recordSets);
    if (!page.next) return out;
    if (samePosition(page.next, start) || !page.next.name) {
      throw new Route53Error('PaginationStuck', `ListResourceRecordSets ${zoneId} returned the same next position twice (${page.next.name} ${page.next.type})`, pages);
    }
    start = page.next;
  }
}

function samePosition(a: RecordSetPosition, b: RecordSetPosition): boolean {
  return a.name === b.name && a.type === b.type && a.identifier === b.identifier;
}

/** The record sets at one name and type (all of a weighted/latency/... group), read fresh. */
export async function readRecordSets(client: Route53Client, zoneId: string, name: string, type: string, opts: Route53CallOptions): Promise<RecordSet[]> {
  const wanted = normalizeRoute53Name(name);
  const out: RecordSet[] = [];
  let start: RecordSetPosition = { name, type };
  for (;;) {
    const page = await listRecordSetPage(client, zoneId, start, 100, opts);
    const here = page.recordSets.filter((r) => normalizeRoute53Name(r.Name) === wanted && r.Type === type);
    out.push(...here);
    // Past this name and type, or the end of the zone: done.
    if (!page.next || here.length < page.recordSets.length || normalizeRoute53Name(page.next.name ?? '') !== wanted || page.next.type !== type) return out;
    if (samePosition(page.next, start)) return out;
    start = page.next;
  }
}

export interface HostedZoneInfo {
  zoneId: string;
  name: string;
  privateZone: boolean;
}

function zoneInfo(z: HostedZone): HostedZoneInfo {
  return { zoneId: bareId(z.Id ?? ''), name: normalizeRoute53Name(z.Name ?? ''), privateZone: z.Config?.PrivateZone === true };
}

/** Every hosted zone with this name (a public and a private zone may share one). */
export async function findZonesByName(client: Route53Client, name: string, opts: Route53CallOptions): Promise<HostedZoneInfo[]> {
  const wanted = normalizeRoute53Name(name);
  const found: HostedZoneInfo[] = [];
  let dnsName: string | undefined = `${wanted}.`;
  let zoneId: string | undefined;
  for (;;) {
    const page = await callRoute53(
      `ListHostedZonesByName ${wanted}`,
      (abortSignal) => client.send(new ListHostedZonesByNameCommand({ DNSName: dnsName, HostedZoneId: zoneId }), { abortSignal }),
      opts,
    );
    const zones = (page.HostedZones ?? []).map(zoneInfo);
    found.push(...zones.filter((z) => z.name === wanted));
    // Zones come sorted by name: once a page ends past our name, there are no more.
    const nextName = page.NextDNSName ? normalizeRoute53Name(page.NextDNSName) : undefined;
    if (!page.IsTruncated || nextName !== wanted) return found;
    dnsName = page.NextDNSName;
    zoneId = page.NextHostedZoneId;
  }
}

/** The hosted zone with this id, found by listing (ListHostedZones needs no per-zone permission). */
export async function findZoneById(client: Route53Client, id: string, opts: Route53CallOptions): Promise<HostedZoneInfo | undefined> {
  const wanted = bareId(id);
  let marker: string | undefined;
  for (;;) {
    const page = await callRoute53(
      'ListHostedZones',
      (abortSignal) => client.send(new ListHostedZonesCommand({ Marker: marker }), { abortSignal }),
      opts,
    );
    const hit = (page.HostedZones ?? []).map(zoneInfo).find((z) => z.zoneId === wanted);
    if (hit) return hit;
    if (!page.IsTruncated || !page.NextMarker || page.NextMarker === marker) return undefined;
    marker = page.NextMarker;
  }
}
