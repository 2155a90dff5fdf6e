// The plan as people read it (text and Markdown) from the report's fixes[]; one line per change.
// A reason several fixes share (a refused plan) is printed once under the plan, not on every line.
import { escapeCell } from '../report/common.ts';
import type { FixRecord, FixStatus } from '../types.ts';

const STATUS_ORDER: FixStatus[] = ['planned', 'applied', 'pending', 'skipped', 'failed', 'refused'];

export function planLine(f: FixRecord, opts: { withReason?: boolean } = {}): string {
  const set = f.setIdentifier ? ` [${f.setIdentifier}]` : '';
  const reason = (opts.withReason ?? true) && f.reason ? `: ${f.reason}` : '';
  const status = f.status === 'planned' ? '' : ` ${f.status}${reason}`;
  return `± MODIFY-TTL ${f.name}${set} ${f.type} ttl=(${f.fromTtl}->${f.toTtl})${status}`;
}

export function planSummary(fixes: FixRecord[]): string {
  const zones = new Set(fixes.map((f) => f.zoneId)).size;
  const head = `Plan: ${fixes.length} TTL change${fixes.length === 1 ? '' : 's'} in ${zones} zone${zones === 1 ? '' : 's'}`;
  if (fixes.every((f) => f.status === 'planned')) return head;
  const counts = STATUS_ORDER.map((s) => [s, fixes.filter((f) => f.status === s).length] as const).filter(([, n]) => n > 0);
  return `${head} (${counts.map(([s, n]) => `${n} ${s}`).join(', ')})`;
}

/** Reasons given to more than one fix, with how many share each. */
function sharedReasons(fixes: FixRecord[]): Map<string, { status: FixStatus; count: number }> {
  const counts = new Map<string, { status: FixStatus; count: number }>();
  for (const f of fixes) {
    if (!f.reason) continue;
    const seen = counts.get(f.reason);
    counts.set(f.reason, { status: f.status, count: (seen?.count ?? 0) + 1 });
  }
  for (const [reason, { count }] of counts) if (count < 2) counts.delete(reason);
  return counts;
}

export function renderPlanText(fixes: FixRecord[]): string[] {
  if (fixes.length === 0) return [];
  const shared = sharedReasons(fixes);
  return [
    ...fixes.map((f) => planLine(f, { withReason: !f.reason || !shared.has(f.reason) })),
    planSummary(fixes),
    ...[...shared].map(([reason, { status, count }]) => `${count} ${status}: ${reason}`),
  ];
}

/** `*` and `_` (wildcards, _sip._udp) would turn into emphasis in Markdown. */
function markdownName(name: string): string {
  return name.replace(/[*_]/g, '\\$&');
}

export function renderPlanMarkdown(fixes: FixRecord[]): string[] {
  if (fixes.length === 0) return [];
  const shared = sharedReasons(fixes);
  const cell = (f: FixRecord) => `${f.status}${f.reason && !shared.has(f.reason) ? `: ${escapeCell(f.reason)}` : ''}`;
  return [
    '| Zone | Name | Type | Set | TTL | Status |',
    '| --- | --- | --- | --- | --- | --- |',
    ...fixes.map((f) => `| ${f.zoneId} | ${markdownName(f.name)} | ${f.type} | ${f.setIdentifier ? escapeCell(f.setIdentifier) : ''} | ${f.fromTtl} → ${f.toTtl} | ${cell(f)} |`),
    '',
    planSummary(fixes),
    ...[...shared].flatMap(([reason, { status, count }]) => ['', `**${count} ${status}:** ${reason}`]),
  ];
}
