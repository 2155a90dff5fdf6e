// Applying the TTL plan through Route 53 (the AWS edge of the fixer).
//
// Per zone: re-read the planned record sets, skip any that changed since they were planned,
// UPSERT a deep copy of each with only TTL changed (alias records are never sent), in batches
// within Route 53's limits, with a Comment naming the run. Throttling and PriorRequestNotComplete
// are retried with backoff inside the run's deadline; InvalidChangeBatch / InvalidInput fail
// only their batch (with AWS's message); then GetChange until INSYNC within the budget.
import { ChangeResourceRecordSetsCommand, GetChangeCommand, type ResourceRecordSet, type Route53Client } from '@aws-sdk/client-route-53';
import type { FixerInput } from '../audit.ts';
import { bareId } from '../names.ts';
import { callRoute53, listAllRecordSets, readRecordSets, Route53Error, type Route53CallOptions } from '../net/route53.ts';
import type { AppliedTtlChange, FixRecord, InventoryZone, RecordSet } from '../types.ts';
import { journalEntries } from './journal.ts';
import { batchUpserts, fixKey, planFixes, sameRecordSet, withTtl, ROUTE53_BATCH_LIMITS } from './plan.ts';
import { sleep } from '../net/limit.ts';

export interface Route53FixerOptions {
  now?: () => number;
  /** Retry tuning for every call (tests shorten the backoff). */
  retry?: Pick<Route53CallOptions, 'baseDelayMs' | 'maxDelayMs' | 'maxAttempts'>;
  /** GetChange polling: first interval, growing ×1.5 up to maxPollMs. */
  pollMs?: number;
  maxPollMs?: number;
  /** Time kept free at the end of the run budget for reporting. */
  reserveMs?: number;
  /** Override Route 53's batch limits (tests). */
  batchLimits?: { maxRecords: number; maxValueChars: number };
  /** Keeps what was applied (the fix journal in the alert state), for fix.window and later reports. */
  recordApplied?: (entries: AppliedTtlChange[]) => Promise<void>;
}

const DEFAULTS = { pollMs: 1000, maxPollMs: 10_000, reserveMs: 3000 };
/** ListResourceRecordSets' page size: re-reading a whole zone costs ceil(size / 300) calls. */
const PAGE_SIZE = 300;

interface Submitted {
  changeId: string;
  fixes: FixRecord[];
}

function setStatus(fixes: FixRecord[], status: FixRecord['status'], reason?: string, changeId?: string): void {
  for (const f of fixes) {
    f.status = status;
    if (reason === undefined) delete f.reason;
    else f.reason = reason;
    if (changeId) f.changeId = changeId;
  }
}

function awsReason(err: unknown): string {
  if (err instanceof Route53Error) return `${err.code}: ${err.awsMessage}`;
  return (err as Error)?.message ?? String(err);
}

/** What differs between the planned and the current record set, in words. */
function describeChange(before: RecordSet, now: RecordSet): string {
  if (before.TTL !== now.TTL) return `its TTL is now ${now.TTL ?? 'none'} (was ${before.TTL})`;
  if (JSON.stringify(before.ResourceRecords) !== JSON.stringify(now.ResourceRecords)) return 'its values changed';
  return 'its routing or health-check settings changed';
}

function indexByKey(zoneId: string, recordSets: RecordSet[]): Map<string, RecordSet> {
  return new Map(recordSets.map((r) => [fixKey({ zoneId, name: r.Name, type: r.Type, setIdentifier: r.SetIdentifier }), r]));
}

/** The current state of the planned record sets: per name+type reads, or the whole zone when that is fewer calls. */
async function reRead(client: Route53Client, zone: InventoryZone, fixes: FixRecord[], opts: Route53CallOptions): Promise<RecordSet[]> {
  const planned = indexByKey(zone.zoneId, zone.recordSets);
  const groups = new Map<string, { name: string; type: string }>();
  for (const f of fixes) {
    const raw = planned.get(fixKey(f))?.Name ?? `${f.name}.`;
    groups.set(`${f.name}|${f.type}`, { name: raw, type: f.type });
  }
  const wholeZoneCalls = Math.max(1, Math.ceil(zone.recordSets.length / PAGE_SIZE));
  if (groups.size >= wholeZoneCalls) return listAllRecordSets(client, zone.zoneId, opts);
  const out: RecordSet[] = [];
  for (const g of groups.values()) out.push(...(await readRecordSets(client, zone.zoneId, g.name, g.type, opts)));
  return out;
}

async function applyZone(
  client: Route53Client,
  zone: InventoryZone,
  fixes: FixRecord[],
  input: FixerInput,
  opts: Route53CallOptions,
  limits: { maxRecords: number; maxValueChars: number },
): Promise<Submitted[]> {
  let current: RecordSet[];
  try {
    current = await reRead(client, zone, fixes, opts);
  } catch (err) {
    setStatus(fixes, 'failed', `could not re-read zone ${zone.name} before applying: ${awsReason(err)}`);
    return [];
  }
  const byKey = indexByKey(zone.zoneId, current);
  const planned = indexByKey(zone.zoneId, zone.recordSets);
  const items: { fix: FixRecord; recordSet: RecordSet }[] = [];
  for (const fix of fixes) {
    const before = planned.get(fixKey(fix));
    const now = byKey.get(fixKey(fix));
    if (!before) setStatus([fix], 'skipped', 'not in the inventory the plan was made from');
    else if (!now) setStatus([fix], 'skipped', 'the record set no longer exists in Route 53');
    else if (!sameRecordSet(before, now)) setStatus([fix], 'skipped', `changed since it was planned (${describeChange(before, now)}); left alone, the next run plans again`);
    else if (now.AliasTarget) setStatus([fix], 'skipped', 'an alias record has no TTL of its own and is never sent');
    else if (now.TrafficPolicyInstanceId) setStatus([fix], 'skipped', `managed by traffic policy instance ${now.TrafficPolicyInstanceId}`);
    else items.push({ fix, recordSet: withTtl(now, fix.toTtl) });
  }

  const submitted: Submitted[] = [];
  const batches = batchUpserts(items, limits);
  for (const [i, batch] of batches.entries()) {
    const batchFixes = batch.map((b) => b.fix);
    if ((opts.now ?? Date.now)() >= opts.deadline || input.signal.aborted) {
      setStatus(batchFixes, 'skipped', 'the run budget was spent before this batch was sent');
      continue;
    }
    const comment = `dialer-audit run ${input.runId}: TTL to policy, ${batch.length} record set${batch.length === 1 ? '' : 's'} (batch ${i + 1}/${batches.length})`;
    try {
      const res = await callRoute53(
        `ChangeResourceRecordSets ${zone.zoneId}`,
        (abortSignal) =>
          client.send(
            new ChangeResourceRecordSetsCommand({
              HostedZoneId: zone.zoneId,
              ChangeBatch: { Comment: comment, Changes: batch.map((b) => ({ Action: 'UPSERT', ResourceRecordSet: b.recordSet as ResourceRecordSet })) },
            }),
            { abortSignal },
          ),
        opts,
      );
      const changeId = bareId(res.ChangeInfo?.Id ?? '');
      input.log.info('route53 change submitted', { zone: zone.name, zoneId: zone.zoneId, changeId, recordSets: batch.length, batch: `${i + 1}/${batches.length}` });
      if (res.ChangeInfo?.Status === 'INSYNC') setStatus(batchFixes, 'applied', undefined, changeId);
      else {
        setStatus(batchFixes, 'pending', `change ${changeId} submitted, Route 53 reports PENDING`, changeId);
        submitted.push({ changeId, fixes: batchFixes });
      }
    } catch (err) {
      input.log.error('route53 change failed', { zone: zone.name, zoneId: zone.zoneId, batch: `${i + 1}/${batches.length}`, error: awsReason(err) });
      setStatus(batchFixes, 'failed', awsReason(err));
    }
  }
  return submitted;
}

/** Poll GetChange until every change is INSYNC or the budget ends; what is still PENDING stays `pending`. */
async function waitInSync(client: Route53Client, submitted: Submitted[], input: FixerInput, opts: Route53CallOptions, o: Required<Pick<Route53FixerOptions, 'pollMs' | 'maxPollMs'>>): Promise<void> {
  const now = opts.now ?? Date.now;
  let waiting = [...submitted];
  let interval = o.pollMs;
  while (waiting.length > 0) {
    if (now() + interval >= opts.deadline) break;
    if (!(await sleep(interval, input.signal))) break;
    interval = Math.min(o.maxPollMs, Math.round(interval * 1.5));
    const still: Submitted[] = [];
    for (const s of waiting) {
      try {
        const res = await callRoute53(`GetChange ${s.changeId}`, (abortSignal) => client.send(new GetChangeCommand({ Id: s.changeId }), { abortSignal }), opts);
        if (res.ChangeInfo?.Status === 'INSYNC') setStatus(s.fixes, 'applied', undefined, s.changeId);
        else still.push(s);
      } catch (err) {
        setStatus(s.fixes, 'pending', `change ${s.changeId} submitted; GetChange failed: ${awsReason(err)}`, s.changeId);
      }
    }
    waiting = still;
  }
  for (const s of waiting) {
    setStatus(s.fixes, 'pending', `change ${s.changeId} was not INSYNC by the end of the run budget; check: aws route53 get-change --id ${s.changeId}`, s.changeId);
  }
}

/**
 * The fixer for runAudit (AuditDeps.fixer): fix.mode `off` → nothing; a dry run → the plan only
 * (no change call); otherwise the plan, then the planned fixes applied unless a safety limit
 * refused the plan.
 */
export function route53Fixer(client: Route53Client, options: Route53FixerOptions = {}): (input: FixerInput) => Promise<FixRecord[]> {
  const now = options.now ?? Date.now;
  return async (input) => {
    const { config, findings, inventory, force, dryRun } = input;
    if (config.fix.mode === 'off') return [];
    const plan = planFixes({ findings, inventory, limits: config.fix, force, journal: inventory.fixJournal, now: now() });
    if (dryRun) return plan;
    const planned = plan.filter((f) => f.status === 'planned');
    if (planned.length === 0) return plan;

    const opts: Route53CallOptions = {
      deadline: input.deadline - (options.reserveMs ?? DEFAULTS.reserveMs),
      signal: input.signal,
      log: input.log,
      now,
      ...options.retry,
    };
    const submitted: Submitted[] = [];
    // Zone by zone: Route 53 allows 5 requests/s per account and one pending change per zone.
    for (const zoneId of [...new Set(planned.map((f) => f.zoneId))]) {
      const zoneFixes = planned.filter((f) => f.zoneId === zoneId);
      const zone = input.inventory.zones.find((z) => z.zoneId === zoneId);
      if (!zone) {
        setStatus(zoneFixes, 'skipped', `zone ${zoneId} is not in the inventory`);
        continue;
      }
      submitted.push(...(await applyZone(client, zone, zoneFixes, input, opts, options.batchLimits ?? ROUTE53_BATCH_LIMITS)));
    }
    if (submitted.length > 0 && config.fix.waitForSync) {
      await waitInSync(client, submitted, input, opts, { pollMs: options.pollMs ?? DEFAULTS.pollMs, maxPollMs: options.maxPollMs ?? DEFAULTS.maxPollMs });
    }
    // Stamped once in sync: caches that fetched before then may hold the old TTL.
    const entries = journalEntries(plan, now(), input.runId);
    if (entries.length > 0 && options.recordApplied) {
      try {
        await options.recordApplied(entries);
      } catch (err) {
        input.log.error('applied TTL changes could not be written to the fix journal; fix.window will not count them', { error: (err as Error).message, changes: entries.length });
      }
    }
    return plan;
  };
}
