// Slack: a pure formatter (NoticeContent → Block Kit) inside Slack's limits, and a thin send()
// for an incoming webhook or chat.postMessage that honours 429 Retry-After within a bound.
import type { Config, Secret } from '../config-schema.ts';
import type { Notifier } from '../notify.ts';
import type { Notice } from '../state/policy.ts';
import type { Severity } from '../types.ts';
import { firingWords, headline, noticeLabel, seenAtWords, subjectLine, summaryWords, timeline, type NoticeContent } from './notice.ts';
import { describeError, excerpt, redact } from './redact.ts';
import { sanitizeDeep } from './sanitize.ts';
import { sleep } from '../net/limit.ts';

/** Slack's documented limits for Block Kit messages. */
export const SLACK_LIMITS = { blocks: 50, sectionText: 3000, headerText: 150, contextElements: 10, fallbackText: 4000 } as const;

interface TextObject {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
}

export type SlackBlock =
  | { type: 'header'; text: TextObject }
  | { type: 'section'; text: TextObject }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'divider' };

export interface SlackPayload {
  /** Shown in notifications and where blocks cannot be. */
  text: string;
  blocks: SlackBlock[];
  channel?: string;
  unfurl_links?: boolean;
}

/** Slack mrkdwn treats &, < and > as control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cut to `max` characters with an ellipsis, never in the middle of an &entity;. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  return text.slice(0, max - 1).replace(/&[a-z]*$/, '') + '…';
}

function link(url: string, label: string): string {
  return `<${url.replace(/\|/g, '%7C').replace(/>/g, '%3E')}|${escapeMrkdwn(label)}>`;
}

const MARK: Record<Severity, string> = { critical: ':red_circle:', warning: ':large_orange_circle:', info: ':large_blue_circle:' };

function noticeSection(n: Notice, now: number): SlackBlock {
  const mark = n.kind === 'resolved' ? ':white_check_mark:' : MARK[n.severity];
  const where = seenAtWords(n);
  const lines = [
    `${mark} *${noticeLabel(n)}*  \`${n.code}\`  *${escapeMrkdwn(n.target)}*${where ? `  (${escapeMrkdwn(where)})` : ''}`,
    escapeMrkdwn(n.message),
  ];
  if (n.kind !== 'resolved' && n.firstStep) lines.push(`*First step:* ${escapeMrkdwn(n.firstStep)}`);
  lines.push(`_${escapeMrkdwn(timeline(n, now))}_`);
  return { type: 'section', text: { type: 'mrkdwn', text: clip(lines.join('\n'), SLACK_LIMITS.sectionText) } };
}

/** Bullet lines that fit one section, with "…and N more" when they do not. */
function listSection(title: string, lines: string[]): SlackBlock {
  const max = SLACK_LIMITS.sectionText;
  let text = title;
  for (let i = 0; i < lines.length; i++) {
    const more = `\n…and ${lines.length - i} more`;
    const next = `${text}\n${lines[i]}`;
    // Room must remain for the "and N more" line of whatever does not fit after this one.
    const reserve = i + 1 < lines.length ? `\n…and ${lines.length - i - 1} more`.length : 0;
    if (next.length + reserve > max) {
      text += more;
      return { type: 'section', text: { type: 'mrkdwn', text: clip(text, max) } };
    }
    text = next;
  }
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

function kindCounts(notices: Notice[]): string {
  const counts = new Map<string, number>();
  for (const n of notices) counts.set(n.kind, (counts.get(n.kind) ?? 0) + 1);
  return [...counts].map(([k, c]) => `${c} ${k === 'problem' ? 'new' : k}`).join(', ');
}

/** Block Kit for one notice message: header, one section per notice, the digest, the links. */
export function formatSlack(unsafe: NoticeContent): SlackPayload {
  const c = sanitizeDeep(unsafe);
  const now = Date.parse(c.at);
  const head: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(`dialer-audit: ${summaryWords(c)}`, SLACK_LIMITS.headerText), emoji: true } },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: clip(escapeMrkdwn(`${firingWords(c)} · run ${c.runId}${c.vantage ? ` from ${c.vantage}` : ''} · ${c.at.slice(0, 16).replace('T', ' ')} UTC`), SLACK_LIMITS.sectionText),
        },
      ],
    },
  ];
  const tail: SlackBlock[] = [];
  if (c.stillFailing.length > 0) {
    tail.push({ type: 'divider' });
    tail.push(
      listSection(
        `*Still failing (${c.stillFailing.length}), already told:*`,
        c.stillFailing.map((f) => `• ${MARK[f.severity]} \`${f.code}\` ${escapeMrkdwn(headline(f))} — ${escapeMrkdwn(timeline(f, now))}`),
      ),
    );
  }
  const links = [c.links.runbook ? link(c.links.runbook, 'Runbook') : '', c.links.dashboard ? link(c.links.dashboard, 'Dashboard') : ''].filter(Boolean);
  if (links.length) tail.push({ type: 'context', elements: [{ type: 'mrkdwn', text: links.join('  ·  ') }] });

  const room = SLACK_LIMITS.blocks - head.length - tail.length;
  const shown = c.notices.length > room ? c.notices.slice(0, room - 1) : c.notices;
  const body = shown.map((n) => noticeSection(n, now));
  const hidden = c.notices.slice(shown.length);
  if (hidden.length > 0) {
    body.push(
      listSection(
        `…and ${hidden.length} more (${kindCounts(hidden)}):`,
        hidden.map((n) => `• ${escapeMrkdwn(noticeLabel(n))} \`${n.code}\` ${escapeMrkdwn(headline(n))}`),
      ),
    );
  }
  return { text: clip(subjectLine(c, 'dialer-audit:'), SLACK_LIMITS.fallbackText), blocks: [...head, ...body, ...tail], unfurl_links: false };
}

/** Every way `payload` breaks Slack's limits (empty when it fits). */
export function slackLimitProblems(payload: SlackPayload): string[] {
  const problems: string[] = [];
  if (!payload.text) problems.push('no fallback text');
  if (!Array.isArray(payload.blocks) || payload.blocks.length === 0) return [...problems, 'no blocks'];
  if (payload.blocks.length > SLACK_LIMITS.blocks) problems.push(`${payload.blocks.length} blocks (max ${SLACK_LIMITS.blocks})`);
  payload.blocks.forEach((b, i) => {
    if (b.type === 'header') {
      if (b.text.type !== 'plain_text') problems.push(`block ${i}: header text must be plain_text`);
      if (b.text.text.length > SLACK_LIMITS.headerText) problems.push(`block ${i}: header of ${b.text.text.length} characters`);
    } else if (b.type === 'section') {
      if (!b.text.text) problems.push(`block ${i}: empty section`);
      if (b.text.text.length > SLACK_LIMITS.sectionText) problems.push(`block ${i}: section of ${b.text.text.length} characters`);
    } else if (b.type === 'context') {
      if (b.elements.length === 0 || b.elements.length > SLACK_LIMITS.contextElements) problems.push(`block ${i}: ${b.elements.length} context elements`);
      for (const e of b.elements) if (e.text.length > SLACK_LIMITS.sectionText) problems.push(`block ${i}: context text of ${e.text.length} characters`);
    } else if (b.type !== 'divider') {
      problems.push(`block ${i}: unknown type ${(b as { type: string }).type}`);
    }
  });
  return problems;
}

export type SlackTarget =
  | { kind: 'webhook'; url: Secret }
  | { kind: 'api'; token: Secret; channel: string; apiUrl: string };

export interface SendOptions {
  signal?: AbortSignal;
  /** One HTTP attempt. */
  timeoutMs?: number;
  maxAttempts?: number;
  /** A Retry-After longer than this fails now; the notice stays owed for the next run. */
  maxRetryWaitMs?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export class SlackError extends Error {
  override name = 'SlackError';
}

/** Waits before a retry; the run's end (the signal) turns the wait into a failure. */
async function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (!(await sleep(ms, signal))) throw new SlackError('no time left to retry');
}

/** Seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** POST the payload; resolves when Slack accepted it, throws a SlackError (without secrets) when not. */
export async function sendSlack(payload: SlackPayload, target: SlackTarget, opts: SendOptions = {}): Promise<void> {
  const secrets = target.kind === 'webhook' ? [target.url] : [target.token];
  const doFetch = opts.fetch ?? fetch;
  const sleep = opts.sleep ?? abortableSleep;
  const maxAttempts = opts.maxAttempts ?? 4;
  const maxWait = opts.maxRetryWaitMs ?? 30_000;
  const url = target.kind === 'webhook' ? target.url.reveal() : `${target.apiUrl.replace(/\/$/, '')}/chat.postMessage`;
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (target.kind === 'api') headers.authorization = `Bearer ${target.token.reveal()}`;
  const body = JSON.stringify(target.kind === 'api' ? { ...payload, channel: target.channel } : payload);

  let last = '';
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    let waitMs: number | undefined;
    try {
      const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs ?? 10_000)]) : AbortSignal.timeout(opts.timeoutMs ?? 10_000);
      const res = await doFetch(url, { method: 'POST', headers, body, signal, redirect: 'error' });
      // Slack (or whatever answers there) may echo the webhook path in any encoding: quoted only as
      // a short excerpt after redaction.
      const reply = await boundedText(res, MAX_REPLY_BYTES);
      const text = excerpt(reply, secrets);
      if (res.status === 429) {
        waitMs = parseRetryAfter(res.headers.get('retry-after')) ?? 1000 * attempt;
        last = `Slack is rate limiting (HTTP 429, Retry-After ${Math.ceil(waitMs / 1000)} s)`;
        if (waitMs > maxWait) throw new SlackError(`${last}: longer than the ${maxWait / 1000} s this run waits; the notices stay owed for the next run`);
      } else if (res.status >= 500) {
        last = `Slack answered HTTP ${res.status}${text ? `: ${text}` : ''}`;
        waitMs = 1000 * attempt;
      } else if (res.status >= 400) {
        throw new SlackError(`Slack refused the message: HTTP ${res.status}${text ? `: ${text}` : ''}`);
      } else if (target.kind === 'api') {
        const answer = safeJson(reply) as { ok?: boolean; error?: unknown } | undefined;
        if (answer?.ok === true) return;
        if (answer?.error === 'ratelimited') {
          waitMs = parseRetryAfter(res.headers.get('retry-after')) ?? 1000 * attempt;
          last = 'Slack is rate limiting (ratelimited)';
        } else throw new SlackError(`Slack refused the message: ${typeof answer?.error === 'string' ? excerpt(answer.error, secrets) : `unexpected answer ${text}`}`);
      } else {
        return;
      }
    } catch (err) {
      if (err instanceof SlackError) throw new SlackError(redact(err.message, secrets));
      if (opts.signal?.aborted) throw new SlackError(`no time left to send to Slack${last ? ` (last attempt: ${last})` : ''}`);
      last = `could not reach Slack: ${describeError(err, secrets)}`;
      waitMs = 1000 * attempt;
    }
    if (attempt < maxAttempts) {
      try {
        await sleep(Math.min(waitMs ?? 1000, maxWait), opts.signal);
      } catch {
        throw new SlackError(redact(`${last}; no time left in this run to retry`, secrets));
      }
    }
  }
  throw new SlackError(redact(`${last} (gave up after ${maxAttempts} attempts)`, secrets));
}

/** Slack's answers are a few bytes; a stand-in that sends megabytes is read this far and no further. */
const MAX_REPLY_BYTES = 64 * 1024;

async function boundedText(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export type SlackConfig = NonNullable<NonNullable<Config['reporters']>['slack']>;

export function slackTarget(config: SlackConfig): SlackTarget {
  if (config.webhookUrl) return { kind: 'webhook', url: config.webhookUrl };
  return { kind: 'api', token: config.botToken!, channel: config.channel!, apiUrl: config.apiUrl };
}

/** The Slack reporter as the notifier sees it. */
export function slackNotifier(config: SlackConfig, opts: Omit<SendOptions, 'signal'> = {}): Notifier {
  const target = slackTarget(config);
  return {
    name: 'slack',
    send: (content, signal) => sendSlack(formatSlack(content), target, { ...opts, signal }),
  };
}
