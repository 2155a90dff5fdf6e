import { describe, expect, it } from 'vitest';
import { formatEmail } from '../../src/report/email.ts';
import { noticeContent, subjectLine } from '../../src/report/notice.ts';
import { formatSlack, SLACK_LIMITS, slackLimitProblems } from '../../src/report/slack.ts';
import type { AlertItem, Notice, NoticeKind } from '../../src/state/policy.ts';
import type { Severity } from '../../src/types.ts';

const NOW = Date.parse('2026-11-23T15:20:00Z');

function item(i: number, over: Partial<AlertItem> = {}): AlertItem {
  return {
    fingerprint: `fp${i}`,
    check: 'dns-consistency',
    target: `dialer${i}.dialer.example.com`,
    code: 'DNS_MISMATCH',
    resolver: 'google',
    severity: 'critical',
    message: `dialer${i}.dialer.example.com A at google: 192.0.2.99, the zone has 192.0.2.10; it expires by itself in 23h59m`,
    firstStep: `Flush dialer${i} at https://developers.google.com/speed/public-dns/cache, or wait until 2026-11-24 15:19 UTC.`,
    firstSeen: '2026-11-23T15:10:00.000Z',
    lastSeen: '2026-11-23T15:20:00.000Z',
    firingSince: '2026-11-23T15:15:00.000Z',
    consecutiveFailures: 3,
    ...over,
  };
}

function notice(i: number, kind: NoticeKind = 'problem', over: Partial<Notice> = {}): Notice {
  return { ...item(i), kind, channels: ['slack', 'email'], ...over };
}

function content(notices: Notice[], firing: AlertItem[] = [], links = { runbook: 'https://wiki.example.com/dialer-audit', dashboard: 'https://grafana.example.com/d/dialers' }) {
  return noticeContent({ channel: 'slack', notices, firing, runId: '20261123T152000Z-abc123', vantage: 'eu-west-1', now: NOW, links });
}

describe('Slack Block Kit', () => {
  it('shows a header with counts, a section per notice with target, code, message and first step, and the links', () => {
    // Prepare
    const c = content([notice(1), notice(2, 'resolved', { severity: 'warning' })], [item(1), item(3)]);
    // Act
    const payload = formatSlack(c);
    // Assess
    expect(slackLimitProblems(payload)).toEqual([]);
    expect(payload.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'dialer-audit: 1 new, 1 resolved, 1 more still failing', emoji: true } });
    const texts = payload.blocks.map((b) => ('text' in b ? b.text.text : 'elements' in b ? b.elements.map((e) => e.text).join(' ') : '')).join('\n');
    expect(texts).toContain('*NEW critical*  `DNS_MISMATCH`  *dialer1.dialer.example.com*');
    expect(texts).toContain('*First step:* Flush dialer1 at https://developers.google.com/speed/public-dns/cache');
    expect(texts).toContain('*RESOLVED*  `DNS_MISMATCH`  *dialer2.dialer.example.com*');
    expect(texts).toContain('Still failing (1)');
    expect(texts).toContain('dialer3.dialer.example.com stale at google');
    expect(texts).toContain('<https://wiki.example.com/dialer-audit|Runbook>');
    expect(texts).toContain('<https://grafana.example.com/d/dialers|Dashboard>');
    expect(payload.text).toBe('dialer-audit: 1 critical: dialer1.dialer.example.com stale at google; 1 resolved');
  });

  it('fits 120 findings into Slack limits and says how many more there are', () => {
    // Prepare: 120 new problems, 500 still failing, long messages
    const notices = Array.from({ length: 120 }, (_, i) => notice(i, 'problem', { message: 'x'.repeat(4000) }));
    const firing = Array.from({ length: 620 }, (_, i) => item(i));
    // Act
    const payload = formatSlack(content(notices, firing));
    // Assess
    expect(slackLimitProblems(payload)).toEqual([]);
    expect(payload.blocks.length).toBe(SLACK_LIMITS.blocks);
    const more = payload.blocks.find((b) => b.type === 'section' && b.text.text.startsWith('…and '));
    expect(more && 'text' in more ? more.text.text : '').toMatch(/^…and 76 more \(76 new\):/);
    const digest = payload.blocks.find((b) => b.type === 'section' && b.text.text.startsWith('*Still failing (500)'));
    expect(digest && 'text' in digest ? digest.text.text : '').toMatch(/…and \d+ more$/);
    expect(JSON.stringify(payload)).toContain('x'.repeat(100));
  });

  it('escapes Slack control characters and keeps a long header within 150 characters', () => {
    const c = content([notice(1, 'problem', { message: 'answer <script> & friends', target: `${'a'.repeat(200)}.example.com` })]);
    const payload = formatSlack(c);
    expect(slackLimitProblems(payload)).toEqual([]);
    expect(JSON.stringify(payload)).toContain('answer &lt;script&gt; &amp; friends');
    expect(JSON.stringify(payload)).not.toContain('<script>');
  });
});

describe('email', () => {
  it('puts the worst thing first in the subject', () => {
    const c = content([
      notice(9, 'problem', { severity: 'warning', code: 'DNS_TIMEOUT', target: 'zzz.dialer.example.com' }),
      notice(1, 'problem', { target: 'acme.dialer.example.com' }),
      notice(2, 'problem'),
    ]);
    expect(formatEmail(c).subject).toBe('[dialer-audit] 2 critical: acme.dialer.example.com stale at google');
  });

  it('says what changed or resolved when nothing new is critical', () => {
    expect(subjectLine(content([notice(1, 'resolved')]))).toBe('[dialer-audit] 1 resolved: dialer1.dialer.example.com stale at google');
    expect(subjectLine(content([notice(1, 'severity-changed', { severity: 'warning' as Severity, previousSeverity: 'critical' })]))).toBe(
      '[dialer-audit] 1 warning: now dialer1.dialer.example.com stale at google',
    );
    expect(subjectLine(content([notice(1, 'problem', { target: 'x'.repeat(300) })])).length).toBeLessThanOrEqual(140);
  });

  it('carries each notice and its first step in both the text and the HTML part, HTML-escaped', () => {
    // Prepare
    const c = content([notice(1), notice(2, 'problem', { severity: 'warning', firstStep: 'Run dig <name> & compare' }), notice(3, 'resolved')], [item(4)]);
    // Act
    const mail = formatEmail(c);
    // Assess
    for (const i of [1, 2, 3]) {
      expect(mail.text).toContain(`dialer${i}.dialer.example.com`);
      expect(mail.html).toContain(`dialer${i}.dialer.example.com`);
    }
    expect(mail.text).toContain('First step: Flush dialer1 at https://developers.google.com/speed/public-dns/cache');
    expect(mail.html).toContain('<strong>First step:</strong> Flush dialer1 at https://developers.google.com/speed/public-dns/cache');
    expect(mail.text).toContain('First step: Run dig <name> & compare');
    expect(mail.html).toContain('Run dig &lt;name&gt; &amp; compare');
    expect(mail.text).toContain('Still failing (1), already told:');
    expect(mail.text).toContain('Runbook: https://wiki.example.com/dialer-audit');
    expect(mail.html).toContain('<a href="https://grafana.example.com/d/dialers">Dashboard</a>');
  });
});
