// Email: a pure formatter (NoticeContent → subject, plain text, HTML) from the same content as
// Slack, and a thin send() over SMTP (nodemailer) with STARTTLS or implicit TLS and AUTH from
// env: secrets, which are revealed only when the transport is built for this one message.
import { readFile } from 'node:fs/promises';
import type { SendMailOptions } from 'nodemailer';
import type { Config } from '../config-schema.ts';
import type { Notifier } from '../notify.ts';
import type { AlertItem, Notice } from '../state/policy.ts';
import { firingWords, headline, noticeLabel, seenAtWords, subjectLine, summaryWords, timeline, type NoticeContent } from './notice.ts';
import { describeError, smtpAuthBlobs } from './redact.ts';
import { sanitizeDeep } from './sanitize.ts';

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

/** Beyond this many notices in one message the rest is listed by headline only. */
const DETAILED = 200;

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const COLOR = { critical: '#b00020', warning: '#b35c00', info: '#1d5fa8', resolved: '#1e7b34' } as const;

function noticeText(n: Notice, now: number): string[] {
  const where = seenAtWords(n);
  const lines = [`${noticeLabel(n)}  ${n.code}  ${n.target}${where ? ` (${where})` : ''}`, `  ${n.message}`];
  if (n.kind !== 'resolved' && n.firstStep) lines.push(`  First step: ${n.firstStep}`);
  lines.push(`  ${timeline(n, now)}`);
  return lines;
}

function noticeHtml(n: Notice, now: number): string {
  const color = n.kind === 'resolved' ? COLOR.resolved : COLOR[n.severity];
  const where = seenAtWords(n);
  return [
    `<div style="margin:0 0 16px 0;padding:8px 12px;border-left:4px solid ${color}">`,
    `<div><strong style="color:${color}">${escapeHtml(noticeLabel(n))}</strong> <code>${escapeHtml(n.code)}</code> <strong>${escapeHtml(n.target)}</strong>${where ? ` (${escapeHtml(where)})` : ''}</div>`,
    `<div>${escapeHtml(n.message)}</div>`,
    n.kind !== 'resolved' && n.firstStep ? `<div><strong>First step:</strong> ${escapeHtml(n.firstStep)}</div>` : '',
    `<div style="color:#666"><em>${escapeHtml(timeline(n, now))}</em></div>`,
    `</div>`,
  ].join('');
}

function digestLine(f: AlertItem, now: number): string {
  return `${f.severity} ${f.code} ${headline(f)} — ${timeline(f, now)}`;
}

export function formatEmail(unsafe: NoticeContent, subjectPrefix = '[dialer-audit]'): EmailMessage {
  const c = sanitizeDeep(unsafe);
  const now = Date.parse(c.at);
  const detailed = c.notices.slice(0, DETAILED);
  const listed = c.notices.slice(DETAILED);
  const about = `${firingWords(c)} · run ${c.runId}${c.vantage ? ` from ${c.vantage}` : ''} · ${c.at.slice(0, 16).replace('T', ' ')} UTC`;
  const links = [c.links.runbook ? ['Runbook', c.links.runbook] : undefined, c.links.dashboard ? ['Dashboard', c.links.dashboard] : undefined].filter(
    (l): l is [string, string] => l !== undefined,
  );

  const text: string[] = [`dialer-audit: ${summaryWords(c)}`, about, ''];
  for (const n of detailed) text.push(...noticeText(n, now), '');
  if (listed.length) text.push(`…and ${listed.length} more:`, ...listed.map((n) => `  - ${noticeLabel(n)} ${n.code} ${headline(n)}`), '');
  if (c.stillFailing.length) text.push(`Still failing (${c.stillFailing.length}), already told:`, ...c.stillFailing.map((f) => `  - ${digestLine(f, now)}`), '');
  for (const [label, url] of links) text.push(`${label}: ${url}`);

  const html: string[] = [
    '<!doctype html><html><body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;line-height:1.4">',
    `<h2 style="margin:0 0 4px 0">dialer-audit: ${escapeHtml(summaryWords(c))}</h2>`,
    `<p style="margin:0 0 16px 0;color:#666">${escapeHtml(about)}</p>`,
    ...detailed.map((n) => noticeHtml(n, now)),
  ];
  if (listed.length) html.push(`<p>…and ${listed.length} more:</p><ul>${listed.map((n) => `<li>${escapeHtml(`${noticeLabel(n)} ${n.code} ${headline(n)}`)}</li>`).join('')}</ul>`);
  if (c.stillFailing.length) {
    html.push(`<h3>Still failing (${c.stillFailing.length}), already told</h3><ul>${c.stillFailing.map((f) => `<li>${escapeHtml(digestLine(f, now))}</li>`).join('')}</ul>`);
  }
  if (links.length) html.push(`<p>${links.map(([label, url]) => `<a href="${escapeHtml(url)}">${escapeHtml(label)}</a>`).join(' · ')}</p>`);
  html.push('</body></html>');

  return { subject: subjectLine(c, subjectPrefix), text: text.join('\n').trimEnd() + '\n', html: html.join('\n') + '\n' };
}

export type EmailConfig = NonNullable<NonNullable<Config['reporters']>['email']>;

export interface EmailSendOptions {
  signal?: AbortSignal;
}

/** Send one message; resolves when the server accepted it for every recipient. */
export async function sendEmail(message: EmailMessage, config: EmailConfig, opts: EmailSendOptions = {}): Promise<void> {
  const { smtp } = config;
  // A server may echo the AUTH exchange: the PLAIN blob is user and password in one base64 string.
  const secrets = [smtp.user, smtp.pass, ...smtpAuthBlobs(smtp.user, smtp.pass)];
  try {
    const ca = smtp.caFile ? await readFile(smtp.caFile, 'utf8') : undefined;
    const secure = smtp.secure ?? smtp.port === 465;
    // Loaded on first use: most runs send no email, and nodemailer is a large share of a cold start.
    const { default: nodemailer } = await import('nodemailer');
    const transport = nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure,
      requireTLS: !secure && smtp.requireTls,
      ignoreTLS: false,
      auth: smtp.user && smtp.pass ? { user: smtp.user.reveal(), pass: smtp.pass.reveal() } : undefined,
      tls: { rejectUnauthorized: !smtp.insecureTls, minVersion: 'TLSv1.2', ...(ca ? { ca } : {}) },
      connectionTimeout: smtp.timeout,
      greetingTimeout: smtp.timeout,
      socketTimeout: smtp.timeout,
      logger: false,
      debug: false,
    });
    try {
      const info = await transport.sendMail({
        from: config.from,
        to: config.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        headers: { 'X-Dialer-Audit': 'notice' },
        ...(opts.signal ? { signal: opts.signal } : {}),
      } as SendMailOptions);
      const rejected = (info.rejected ?? []).map(String);
      if (rejected.length > 0) throw new Error(`the server refused ${rejected.length} recipient${rejected.length === 1 ? '' : 's'}: ${rejected.join(', ')}`);
    } finally {
      transport.close();
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new Error(`email via ${smtp.host}:${smtp.port} failed${code ? ` (${code})` : ''}: ${describeError(err, secrets)}`);
  }
}

/** The email reporter as the notifier sees it. */
export function emailNotifier(config: EmailConfig): Notifier {
  return {
    name: 'email',
    send: (content, signal) => sendEmail(formatEmail(content), config, { signal }),
  };
}
