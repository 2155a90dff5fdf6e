// Slack against a local HTTP server standing in for it (test/lab/slack-stand-in.ts).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config.ts';
import { noticeContent } from '../../src/report/notice.ts';
import { formatSlack, SLACK_LIMITS, sendSlack, slackLimitProblems, slackNotifier, type SlackTarget } from '../../src/report/slack.ts';
import type { Notice } from '../../src/state/policy.ts';
import { startSlackStandIn, type SlackStandIn } from '../lab/slack-stand-in.ts';

const HOOK_PATH = '/services/T0001/B0001/hook-secret-Xy7Qp2Lm9Rt4';
const NOW = Date.parse('2026-11-23T15:20:00Z');

function notices(n: number): Notice[] {
  return Array.from({ length: n }, (_, i) => ({
    fingerprint: `fp${i}`,
    kind: 'problem' as const,
    channels: ['slack'],
    check: 'dns-consistency',
    target: `dialer${i}.dialer.example.com`,
    code: 'DNS_MISMATCH',
    resolver: 'google',
    severity: i % 3 === 0 ? ('critical' as const) : ('warning' as const),
    message: `dialer${i}.dialer.example.com A at google: 192.0.2.99, the zone has 192.0.2.10`,
    firstStep: 'Flush the name at https://developers.google.com/speed/public-dns/cache',
    firstSeen: '2026-11-23T15:10:00.000Z',
    lastSeen: '2026-11-23T15:20:00.000Z',
    consecutiveFailures: 2,
  }));
}

function content(n: number) {
  return noticeContent({ channel: 'slack', notices: notices(n), firing: [], runId: 'run-1', now: NOW, links: { runbook: 'https://wiki.example.com/runbook' } });
}

let slack: SlackStandIn;
let target: SlackTarget;
const waits: number[] = [];
const recordSleep = async (ms: number) => void waits.push(ms);

beforeAll(async () => {
  slack = await startSlackStandIn();
  target = { kind: 'webhook', url: new Secret(slack.webhook(HOOK_PATH), 'env:SLACK_WEBHOOK_URL') };
});
afterAll(() => slack.close());
beforeEach(() => {
  slack.requests.length = 0;
  slack.script.length = 0;
  slack.down = undefined;
  waits.length = 0;
});

describe('Slack incoming webhook', () => {
  it('receives valid Block Kit within the limits, even for 120 findings', async () => {
    // Act
    await sendSlack(formatSlack(content(120)), target);
    // Assess
    expect(slack.requests).toHaveLength(1);
    const [req] = slack.requests;
    expect(req.path).toBe(HOOK_PATH);
    expect(req.headers['content-type']).toContain('application/json');
    expect(slackLimitProblems(req.payload!)).toEqual([]);
    expect(req.payload!.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect(req.payload!.blocks[0]).toMatchObject({ type: 'header', text: { text: 'dialer-audit: 120 new' } });
    const sections = req.payload!.blocks.filter((b) => b.type === 'section');
    const more = /^…and (\d+) more \(\d+ new\):/.exec(sections.at(-1)!.text.text);
    expect(sections.length - 1 + Number(more?.[1])).toBe(120);
    expect(req.body).toContain('<https://wiki.example.com/runbook|Runbook>');
  });

  it('retries after a 429, waiting what Retry-After says', async () => {
    // Prepare
    slack.script.push({ status: 429, headers: { 'retry-after': '2' }, body: 'rate_limited' });
    // Act
    await sendSlack(formatSlack(content(1)), target, { sleep: recordSleep });
    // Assess
    expect(slack.requests).toHaveLength(2);
    expect(waits).toEqual([2000]);
    expect(slack.requests[1].body).toBe(slack.requests[0].body);
  });

  it('gives up at once when Retry-After is longer than the run may wait, leaving the notice owed', async () => {
    slack.script.push({ status: 429, headers: { 'retry-after': '600' } });
    await expect(sendSlack(formatSlack(content(1)), target, { sleep: recordSleep })).rejects.toThrow(
      'Slack is rate limiting (HTTP 429, Retry-After 600 s): longer than the 30 s this run waits; the notices stay owed for the next run',
    );
    expect(slack.requests).toHaveLength(1);
  });

  it('retries a 500 a bounded number of times and never shows the webhook URL, even when Slack echoes it', async () => {
    // Prepare: a "Slack" that answers with the URL it was called on
    slack.down = { status: 500, body: `internal error at ${slack.webhook(HOOK_PATH)} (${HOOK_PATH})` };
    // Act
    const error = await sendSlack(formatSlack(content(1)), target, { sleep: recordSleep, maxAttempts: 3 }).catch((e: Error) => e);
    // Assess
    expect(slack.requests).toHaveLength(3);
    expect(String(error)).toMatch(/Slack answered HTTP 500: internal error at \[secret\] .*\(gave up after 3 attempts\)/);
    expect(String(error)).not.toContain('hook-secret');
  });

  it('does not retry a refusal (404 no_service)', async () => {
    slack.script.push({ status: 404, body: 'no_service' });
    await expect(sendSlack(formatSlack(content(1)), target, { sleep: recordSleep })).rejects.toThrow('Slack refused the message: HTTP 404: no_service');
    expect(slack.requests).toHaveLength(1);
  });

  it('reports an unreachable Slack without the URL', async () => {
    const closed = new Secret('http://127.0.0.1:9/services/T/B/hook-secret-unreachable', 'env:X');
    const error = await sendSlack(formatSlack(content(1)), { kind: 'webhook', url: closed }, { sleep: recordSleep, maxAttempts: 2 }).catch((e: Error) => e);
    expect(String(error)).toContain('could not reach Slack');
    expect(String(error)).not.toContain('hook-secret');
  });
});

describe('Slack chat.postMessage with a bot token', () => {
  it('posts to the channel with the token and honours ratelimited', async () => {
    // Prepare
    slack.botToken = 'xoxb-test-token-Zz81';
    slack.script.push({ status: 429, headers: { 'retry-after': '1', 'content-type': 'application/json' }, body: '{"ok":false,"error":"ratelimited"}' });
    const notifier = slackNotifier(
      { botToken: new Secret('xoxb-test-token-Zz81', 'env:SLACK_BOT_TOKEN'), channel: '#voice-oncall', apiUrl: `${slack.url}/api` },
      { sleep: recordSleep },
    );
    // Act
    await notifier.send(content(3));
    // Assess
    expect(slack.requests.map((r) => r.path)).toEqual(['/api/chat.postMessage', '/api/chat.postMessage']);
    expect(slack.requests[1].payload!.channel).toBe('#voice-oncall');
    expect(waits).toEqual([1000]);
  });

  it('fails with Slack’s error and without the token', async () => {
    slack.botToken = 'another-token';
    const notifier = slackNotifier({ botToken: new Secret('xoxb-test-token-Zz81', 'env:SLACK_BOT_TOKEN'), channel: '#voice-oncall', apiUrl: `${slack.url}/api` });
    const error = await notifier.send(content(1)).catch((e: Error) => e);
    expect(String(error)).toBe('SlackError: Slack refused the message: invalid_auth');
  });
});

describe('Slack within the delivery deadline', () => {
  it('stops retrying when the run has no time left, saying what the last attempt got', async () => {
    // Prepare: Slack keeps failing; the deadline ends during the first wait
    slack.down = { status: 503, body: 'service unavailable' };
    const deadline = new AbortController();
    // Act
    const error = await sendSlack(formatSlack(content(1)), target, {
      signal: deadline.signal,
      sleep: async (_ms, signal) => {
        deadline.abort();
        if (signal?.aborted) throw new Error('aborted');
      },
    }).catch((e: Error) => e);
    // Assess
    expect(String(error)).toBe('SlackError: Slack answered HTTP 503: service unavailable; no time left in this run to retry');
    expect(slack.requests).toHaveLength(1);
  });
});
