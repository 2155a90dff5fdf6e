// The report after a fix tells the truth (pure): findings are marked by what the fixer did.
// - A finding whose TTL change this run applied is shown as fixed (info), with when it is fully in
//   effect, instead of the command that would fix it.
// - A finding whose change a safety limit refused says how to review the plan and --force it,
//   never to fix names one by one with --target (which the window limit counts anyway).
// - DNS_TTL_STALE for a TTL that --fix lowered (the fix journal) is info: the resolver cached the
//   record before our change, and it is fully in effect once the old TTL has run out.
import type { Config } from '../config-schema.ts';
import { auditCommand } from '../config-file.ts';
import { TTL_STALE_MARGIN_S } from '../compare.ts';
import { normalizeRoute53Name } from '../names.ts';
import type { AppliedTtlChange, Finding, FixJournal, FixRecord } from '../types.ts';
import { humanDuration, humanTime } from '../units.ts';
import { fixKey, PLAN_REFUSED, refusedByLimit } from './plan.ts';

export interface FixOutcomeInput {
  findings: Finding[];
  /** This run's plan, with each fix's status. */
  fixes: FixRecord[];
  /** What --fix applied in earlier runs. */
  journal?: FixJournal;
  config: Config;
  now: number;
}

export function markFixOutcomes({ findings, fixes, journal, config, now }: FixOutcomeInput): Finding[] {
  const byKey = new Map(fixes.map((f) => [fixKey(f), f]));
  return findings.map((f) => {
    const record = f.fix ? byKey.get(fixKey(f.fix)) : undefined;
    if (record && (record.status === 'applied' || record.status === 'pending')) return fixedByThisRun(f, record, now);
    if (record && refusedByLimit(record)) return refusedPlan(f, record, config);
    if (f.code === 'DNS_TTL_STALE') return ourOwnLowering(f, journal?.entries ?? [], now) ?? f;
    return f;
  });
}

function setLabel(r: { name: string; type: string; setIdentifier?: string | null }): string {
  return `${r.name} ${r.type}${r.setIdentifier ? ` [${r.setIdentifier}]` : ''}`;
}

function fixedByThisRun(f: Finding, r: FixRecord, now: number): Finding {
  const fullyAt = now + r.fromTtl * 1000;
  const how = r.status === 'applied' ? `applied${r.changeId ? ` (change ${r.changeId})` : ''}` : `submitted (change ${r.changeId}, Route 53 still reports it PENDING)`;
  return {
    ...f,
    severity: 'info',
    message: `fixed by this run: ${setLabel(r)} TTL ${r.fromTtl} → ${r.toTtl} s ${how}; answers cached before keep the old TTL, so it is fully in effect at ${humanTime(fullyAt)}`,
    firstStep: `Nothing to do. Resolvers that cached ${r.name} before the change count down the old ${humanDuration(r.fromTtl)}; flush it at a resolver to make the change count there sooner.`,
    evidence: { ...f.evidence, fixStatus: r.status, changeId: r.changeId, fullyInEffectAt: new Date(fullyAt).toISOString() },
  };
}

function refusedPlan(f: Finding, r: FixRecord, config: Config): Finding {
  const why = (r.reason ?? '').slice(PLAN_REFUSED.length).split('; rerun with')[0].trim();
  const review = auditCommand(config, ['--only', 'ttl-policy']);
  const force = auditCommand(config, ['--only', 'ttl-policy', '--fix', '--force']);
  return {
    ...f,
    firstStep:
      `The fixer refused this run's TTL plan: ${why}. Review the whole plan with \`${review}\` (it changes nothing), ` +
      `then apply it in one go with \`${force}\`, or raise fix.maxPercent / fix.maxChanges. ` +
      `Fixing names one by one with --target does not get round the limit: every change within fix.window counts.`,
    evidence: { ...f.evidence, fixStatus: 'refused', refusedBecause: why },
  };
}

/** The journal entry that explains a resolver still counting down a TTL we lowered, if any. */
function loweringFor(f: Finding, entries: AppliedTtlChange[], now: number): AppliedTtlChange | undefined {
  const type = f.evidence?.type;
  const remaining = Number(f.evidence?.remainingTtl);
  if (typeof type !== 'string' || !Number.isFinite(remaining)) return undefined;
  // Cached before the change: what is left cannot exceed the old TTL minus the time since.
  const cachedBefore = (e: AppliedTtlChange) => remaining <= e.fromTtl - (now - Date.parse(e.at)) / 1000 + TTL_STALE_MARGIN_S;
  return entries
    .filter((e) => normalizeRoute53Name(e.name) === f.target && e.type === type && e.toTtl < e.fromTtl && cachedBefore(e))
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at))[0];
}

function ourOwnLowering(f: Finding, entries: AppliedTtlChange[], now: number): Finding | undefined {
  const e = loweringFor(f, entries, now);
  if (!e) return undefined;
  const at = Date.parse(e.at);
  const fullyAt = at + e.fromTtl * 1000;
  const where = f.resolver ?? 'this resolver';
  const flushUrl = typeof f.evidence?.flushUrl === 'string' ? ` (${f.evidence.flushUrl})` : '';
  return {
    ...f,
    severity: 'info',
    message: `${e.type} at ${where}: still counting down the ${e.fromTtl} s TTL it cached before --fix lowered it to ${e.toTtl} s at ${humanTime(at)}; fully in effect at ${humanTime(fullyAt)}`,
    firstStep: `Nothing is wrong: answers cached before the fix keep their old TTL until they expire. Avoid changing ${f.target} before ${humanTime(fullyAt)}, or flush it at ${where}${flushUrl} first.`,
    evidence: { ...f.evidence, loweredByFix: { fromTtl: e.fromTtl, toTtl: e.toTtl, at: e.at, runId: e.runId, fullyInEffectAt: new Date(fullyAt).toISOString() } },
  };
}
