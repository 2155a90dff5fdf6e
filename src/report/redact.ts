// Secrets never appear in a log, a report or an error: every message that may carry text from
// the outside (an HTTP body, an SMTP reply, an exception) passes through here first.
import type { Secret } from '../config.ts';

/** Replace each secret value (and its URL-encoded form) with [secret]. */
export function redact(text: string, secrets: (Secret | string | undefined)[]): string {
  const values = secrets
    .map((s) => (s === undefined ? undefined : typeof s === 'string' ? s : s.reveal()))
    .filter((v): v is string => v !== undefined && v.length >= 4)
    .flatMap((v) => [v, encodeURIComponent(v), Buffer.from(v).toString('base64'), ...urlParts(v)])
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const v of new Set(values)) out = out.split(v).join('[secret]');
  return out;
}

/** A URL secret (a Slack webhook) is secret by its path: hide the path and long token-like segments too. */
function urlParts(value: string): string[] {
  if (!/^https?:\/\//i.test(value)) return [];
  try {
    const url = new URL(value);
    const tail = url.pathname + url.search;
    const tokens = url.pathname.split('/').filter((seg) => seg.length >= 16);
    return [...(tail.length >= 8 ? [tail] : []), ...tokens];
  } catch {
    return [];
  }
}

/** A one-line description of an error, without secrets. */
export function describeError(err: unknown, secrets: (Secret | string | undefined)[]): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const base = e instanceof Error ? e.message : String(err);
  const cause = e?.cause && (e.cause.code || e.cause.message) ? ` (${e.cause.code ?? e.cause.message})` : '';
  return redact(`${base}${cause}`.replace(/\s+/g, ' ').trim(), secrets);
}
