// The plan as people read it (text and Markdown) from the report's fixes[]; one line per change.
import { escapeCell } from '../report/common.ts';
import type { FixRecord } from '../types.ts';

export function planLine(f: FixRecord): string {
  const set = f.setIdentifier ? ` [${f.setIdentifier}]` : '';
  const status = f.status === 'planned' ? '' : ` ${f.status}${f.reason ? `: ${f.reason}` : ''}`;
  return `± MODIFY-TTL ${f.name}${set} ${f.type} ttl=(${f.fromTtl}->${f.toTtl})${status}`;
}

export function planSummary(fixes: FixRecord[]): string {
  const zones = new Set(fixes.map((f) => f.zoneId)).size;
  return `Plan: ${fixes.length} TTL change${fixes.length === 1 ? '' : 's'} in ${zones} zone${zones === 1 ? '' : 's'}`;
}

export function renderPlanText(fixes: FixRecord[]): string[] {
  if (fixes.length === 0) return [];
  return [...fixes.map(planLine), planSummary(fixes)];
}

export function renderPlanMarkdown(fixes: FixRecord[]): string[] {
  if (fixes.length === 0) return [];
  return [
    '| Zone | Name | Type | Set | TTL | Status |',
    '| --- | --- | --- | --- | --- | --- |',
    ...fixes.map((f) => `| ${f.zoneId} | ${f.name} | ${f.type} | ${f.setIdentifier ?? ''} | ${f.fromTtl} → ${f.toTtl} | ${f.status}${f.reason ? `: ${escapeCell(f.reason)}` : ''} |`),
    '',
    planSummary(fixes),
  ];
}

