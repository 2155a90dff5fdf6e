// The content of one notice message, written once and rendered by Slack and email alike: what is
// new, changed or over, what is still failing, and where to read more. Pure.
import type { AlertItem, Notice, NoticeKind } from '../state/policy.ts';
import type { Severity } from '../types.ts';
import { humanDuration, humanTime } from '../units.ts';
import { plural } from './common.ts';

export interface NoticeLinks {
  runbook?: string;
  dashboard?: string;
}

export interface NoticeContent {
  runId: string;
  vantage?: string;
  /** ISO time of the run that sends it. */
  at: string;
  /** Owed to this reporter, worst first. */
  notices: Notice[];
  /** Problems that fire and failed this run but need no notice now (the digest). */
  stillFailing: AlertItem[];
  counts: Record<NoticeKind, number> & { stillFailing: number; firing: Record<Severity, number> };
  links: NoticeLinks;
}

export function noticeContent(input: {
  channel: string;
  notices: Notice[];
  firing: AlertItem[];
  runId: string;
  vantage?: string;
  now: number;
  links?: NoticeLinks;
}): NoticeContent {
  const notices = input.notices.filter((n) => n.channels.includes(input.channel));
  const told = new Set(notices.map((n) => n.fingerprint));
  const stillFailing = input.firing.filter((f) => !told.has(f.fingerprint));
  const count = (k: NoticeKind) => notices.filter((n) => n.kind === k).length;
  const firing = { critical: 0, warning: 0, info: 0 };
  for (const f of input.firing) firing[f.severity]++;
  return {
    runId: input.runId,
    vantage: input.vantage,
    at: new Date(input.now).toISOString(),
    notices,
    stillFailing,
    counts: {
      problem: count('problem'),
      'severity-changed': count('severity-changed'),
      reminder: count('reminder'),
      resolved: count('resolved'),
      stillFailing: stillFailing.length,
      firing,
    },
    links: input.links ?? {},
  };
}

/** Short words for codes in subjects and digests; the message carries the detail. */
const CODE_WORDS: Record<string, string> = {
  DNS_MISMATCH: 'stale',
  DNS_NXDOMAIN: 'NXDOMAIN',
  DNS_NO_DATA: 'has no records',
  DNS_SERVFAIL: 'SERVFAIL',
  DNS_TIMEOUT: 'timing out',
  DNS_TTL_STALE: 'cached under an old TTL',
  DNS_AUTH_INCONSISTENT: 'inconsistent between name servers',
  DNS_AUTH_UNREACHABLE: 'name server unreachable',
  DNS_MALFORMED_REPLY: 'malformed reply',
  TTL_ABOVE_POLICY: 'TTL above policy',
  CHECK_ERROR: 'not audited',
  INVENTORY_ERROR: 'inventory failed',
  REPORTER_FAILED: 'cannot deliver notices',
};

function codeWords(code: string): string {
  return CODE_WORDS[code] ?? code.toLowerCase().replace(/_/g, ' ');
}

/** "acme.dialer.example.com stale at google": the worst thing in a few words. */
export function headline(item: Pick<AlertItem, 'target' | 'code' | 'resolver'>): string {
  const at = item.resolver && item.resolver !== 'authoritative' ? ` at ${item.resolver}` : '';
  return `${item.target} ${codeWords(item.code)}${at}`;
}

/** "NEW critical", "REMINDER warning", "NOW critical (was warning)", "RESOLVED". */
export function noticeLabel(n: Pick<Notice, 'kind' | 'severity' | 'previousSeverity'>): string {
  switch (n.kind) {
    case 'problem':
      return `NEW ${n.severity}`;
    case 'reminder':
      return `STILL ${n.severity}`;
    case 'severity-changed':
      return `NOW ${n.severity}${n.previousSeverity ? ` (was ${n.previousSeverity})` : ''}`;
    case 'resolved':
      return 'RESOLVED';
  }
}

/** Where it was seen: "google, from eu-west-1". */
export function seenAtWords(item: Pick<AlertItem, 'resolver' | 'vantage'>): string {
  return [item.resolver, item.vantage ? `from ${item.vantage}` : ''].filter(Boolean).join(', ');
}

/** "failing since 2026-11-23 15:20 UTC, for 10m (3 runs in a row)", or how long a resolved one lasted. */
export function timeline(n: AlertItem & { kind?: NoticeKind }, now: number): string {
  const first = Date.parse(n.firstSeen);
  if (n.kind === 'resolved') {
    const last = Date.parse(n.lastSeen);
    return `failed from ${humanTime(first)} until ${humanTime(last)} (${humanDuration((last - first) / 1000)})`;
  }
  const runs = n.consecutiveFailures > 1 ? ` (${n.consecutiveFailures} runs in a row)` : '';
  return `failing since ${humanTime(first)}, for ${humanDuration((now - first) / 1000)}${runs}`;
}

/** "2 new, 1 changed, 1 resolved, 4 still failing". */
export function summaryWords(c: NoticeContent): string {
  const parts = [
    c.counts.problem ? `${c.counts.problem} new` : '',
    c.counts['severity-changed'] ? `${c.counts['severity-changed']} changed` : '',
    c.counts.reminder ? `${plural(c.counts.reminder, 'reminder')}` : '',
    c.counts.resolved ? `${c.counts.resolved} resolved` : '',
    c.counts.stillFailing ? `${c.counts.stillFailing} more still failing` : '',
  ].filter(Boolean);
  return parts.join(', ') || 'nothing new';
}

/** Severity counts of everything that fires now: "1 critical, 3 warning firing". */
export function firingWords(c: NoticeContent): string {
  const f = c.counts.firing;
  const parts = (['critical', 'warning', 'info'] as const).filter((s) => f[s] > 0).map((s) => `${f[s]} ${s}`);
  return parts.length ? `${parts.join(', ')} firing` : 'nothing firing';
}

/**
 * The email subject and Slack fallback text: the worst thing first, e.g.
 * `[dialer-audit] 2 critical: acme.dialer.example.com stale at google`.
 */
export function subjectLine(c: NoticeContent, prefix = '[dialer-audit]', max = 140): string {
  const active = c.notices.filter((n) => n.kind !== 'resolved');
  let text: string;
  if (active.length > 0) {
    const worst = active.reduce((w, n) => (rank(n.severity) > rank(w.severity) ? n : w), active[0]);
    const same = active.filter((n) => n.severity === worst.severity).length;
    const resolved = c.counts.resolved ? `; ${c.counts.resolved} resolved` : '';
    const changed = worst.kind === 'severity-changed' ? ' now' : worst.kind === 'reminder' ? ' still' : '';
    text = `${same} ${worst.severity}:${changed} ${headline(worst)}${resolved}`;
  } else if (c.notices.length > 0) {
    text = `${c.notices.length} resolved: ${headline(c.notices[0])}`;
  } else {
    text = 'nothing to report';
  }
  const full = `${prefix} ${text}`;
  return full.length > max ? `${full.slice(0, max - 1)}…` : full;
}

function rank(s: Severity): number {
  return s === 'critical' ? 2 : s === 'warning' ? 1 : 0;
}
