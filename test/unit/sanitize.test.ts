// Issue 12, "Output" row: a DNS name, a SIP reason phrase and a line of an ICE file carrying ESC,
// BEL and OSC sequences are shown escaped (`\x1b`) in every place people read them — text and
// Markdown reports, `merge`, Slack, email and the log — never written raw to a terminal.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { runCli } from '../support/cli.ts';
import { createLogger } from '../../src/log.ts';
import { formatEmail } from '../../src/report/email.ts';
import { formatJson } from '../../src/report/json.ts';
import { formatMarkdown } from '../../src/report/markdown.ts';
import { noticeContent } from '../../src/report/notice.ts';
import { FIELD_MAX, sanitizeText } from '../../src/report/sanitize.ts';
import { formatSlack } from '../../src/report/slack.ts';
import { formatText } from '../../src/report/text.ts';
import type { Notice } from '../../src/state/policy.ts';
import type { Finding } from '../../src/types.ts';

/** Any C0 byte but newline, DEL, or C1: what a terminal would obey. */
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

const OSC_TITLE = '\x1b]0;you have been owned\x07';
const CLEAR = '\x1b[2J\x1b[H';
const C1_CSI = '\x9b31m';

const findings: Finding[] = [
  {
    check: 'dns-consistency',
    target: `acme${CLEAR}.dialer.test`,
    severity: 'critical',
    code: 'DNS_MISMATCH',
    resolver: 'pub1',
    message: `acme.dialer.test A at pub1: the resolver hands out a CNAME to evil${OSC_TITLE}.example, the zone has 192.0.2.10`,
    firstStep: 'Flush it.',
  },
  {
    check: 'sip-options',
    target: 'twilio/udp',
    severity: 'critical',
    code: 'SIP_ERROR_RESPONSE',
    message: `twilio over UDP: 127.70.1.1:5060: answers 503 Service Unavailable${OSC_TITLE}${C1_CSI}\x7f`,
    firstStep: 'Fail over.',
  },
  {
    check: 'ice-policy',
    target: '/srv/webphone/ice.json',
    severity: 'warning',
    code: 'ICE_BAD_URI',
    message: `/srv/webphone/ice.json line 3: stun:evil\x1b[8m.example:3478\x1b[0m is not a valid URI\nFAKE_FINDING all good`,
    firstStep: 'Fix the URL.',
  },
];

function report() {
  const built = buildReport({
    runId: '20261123T150000Z-abcdef',
    started: Date.parse('2026-11-23T15:00:00Z'),
    finished: Date.parse('2026-11-23T15:00:02Z'),
    config: parseConfig({ run: { vantage: `eu${CLEAR}` } }),
    dryRun: true,
    findings,
    fixes: [],
    summaries: { 'dns-consistency': { targets: 1, findings: 3, errors: 0, durationMs: 2000 } },
    targetCount: 3,
  });
  return { ...built, reporterFailures: [{ reporter: 'slack', error: `Slack refused the message: HTTP 400: ${OSC_TITLE}` }] };
}

function expectShownEscaped(output: string): void {
  expect(output).not.toMatch(RAW_CONTROL);
  expect(output).toContain('\\x1b]0;you have been owned\\x07');
}

const dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-sanitize-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('control characters from the network are shown, not obeyed', () => {
  it('in the text report', () => {
    const text = formatText(report());
    expectShownEscaped(text);
    expect(text).toContain('acme\\x1b[2J\\x1b[H.dialer.test');
    expect(text).toContain('\\x9b31m\\x7f');
    // A newline inside a field cannot start a line of its own that looks like a finding.
    expect(text.split('\n').some((l) => l.startsWith('FAKE_FINDING'))).toBe(false);
  });

  it('in the Markdown report', () => {
    expectShownEscaped(formatMarkdown(report()));
  });

  it('in `merge` of JSON reports (text and Markdown)', async () => {
    // Prepare: two vantages' JSON reports, written as `audit --format json` writes them.
    const a = path.join(dir, 'a.json');
    const b = path.join(dir, 'b.json');
    writeFileSync(a, formatJson(report()));
    writeFileSync(b, formatJson({ ...report(), vantage: 'us-east-1' }));
    for (const format of ['text', 'markdown']) {
      // Act
      const { code, out } = await runCli(['merge', '--format', format, a, b]);
      // Assess
      expect(code).toBe(1);
      expectShownEscaped(out);
    }
  });

  it('in Slack and email notices', () => {
    // Prepare
    const notices: Notice[] = findings.map((f, i) => ({
      ...f,
      fingerprint: `fp${i}`,
      firstSeen: '2026-11-23T15:00:00.000Z',
      lastSeen: '2026-11-23T15:00:00.000Z',
      consecutiveFailures: 1,
      kind: 'problem',
      channels: ['slack'],
    }));
    const content = noticeContent({ channel: 'slack', notices, firing: [], runId: 'r1', vantage: 'eu', now: Date.parse('2026-11-23T15:00:00Z') });
    // Act
    const slack = JSON.stringify(formatSlack(content));
    const email = formatEmail(content);
    // Assess: JSON would escape C0 itself, so look at the strings Slack renders.
    const slackTexts = (formatSlack(content).blocks as { text?: { text: string } }[]).map((b) => b.text?.text ?? '').join('\n');
    expect(slackTexts).not.toMatch(RAW_CONTROL);
    expect(slack).toContain('\\\\x1b]0;you have been owned\\\\x07');
    for (const part of [email.subject, email.text, email.html]) expect(part).not.toMatch(RAW_CONTROL);
    expect(email.text).toContain('\\x1b]0;you have been owned\\x07');
  });

  it('in log lines, JSON and human', () => {
    for (const json of [true, false]) {
      // Prepare
      const lines: string[] = [];
      const log = createLogger({ json, write: (l) => lines.push(l) });
      // Act
      log.warn(`reporter failed ${OSC_TITLE}`, { error: `HTTP 400: ${C1_CSI}${CLEAR}`, finding: findings[1] });
      // Assess: JSON.stringify escapes C0 but leaves DEL and C1 raw.
      expect(lines.join('\n')).not.toMatch(RAW_CONTROL);
      expect(lines[0]).toContain('\\x9b31m');
    }
  });

  it('cuts a long field, never in the middle of an escape', () => {
    // Prepare: a 100 kB reason phrase of escapes.
    const text = '\x1b'.repeat(100_000);
    // Act
    const shown = sanitizeText(text);
    // Assess
    expect(shown.length).toBeLessThan(FIELD_MAX + 50);
    expect(shown).toMatch(/^(\\x1b)+… \([\d,]+ more characters\)$/);
  });
});
