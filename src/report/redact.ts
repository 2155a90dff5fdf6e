// Secrets never appear in a log, a report or an error: every message that may carry text from
// the outside (an HTTP body, an SMTP reply, an exception) passes through here first. A server
// that echoes what it got may echo it encoded — the webhook path URL-encoded, a password inside
// an SMTP AUTH PLAIN blob (base64 of "\0user\0pass") or as hex — so every secret is looked for in
// each of those forms, and every base64, hex or %-encoded run in the text is decoded and searched
// too (a blob is only found by decoding: base64 of "\0user\0pass" does not contain base64 of pass).
import type { Secret } from '../config-schema.ts';

type SecretLike = Secret | string | undefined;

const HIDDEN = '[secret]';
/** Shorter values would match ordinary words. */
const MIN_SECRET_LENGTH = 4;
/** A server reply is quoted at most this long, after redaction. */
export const EXCERPT_LENGTH = 200;

function valueOf(s: SecretLike): string | undefined {
  if (s === undefined) return undefined;
  return typeof s === 'string' ? s : s.reveal();
}

/** A URL secret (a Slack webhook) is secret by its path: its path and long token-like segments too. */
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

function base64Forms(bytes: Buffer): string[] {
  const std = bytes.toString('base64');
  return [std, std.replace(/=+$/, ''), bytes.toString('base64url')];
}

/** Each way a value may be written back to us: raw, %-encoded (once and twice), base64, hex. */
function encodedForms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const hex = bytes.toString('hex');
  const once = encodeURIComponent(value);
  return [value, once, encodeURIComponent(once), encodeURI(value), ...base64Forms(bytes), hex, hex.toUpperCase()];
}

/**
 * What SMTP AUTH sends for a user and password (RFC 4616 PLAIN with and without authzid; LOGIN
 * sends user and password on their own, each a secret already).
 */
export function smtpAuthBlobs(user: SecretLike, pass: SecretLike): string[] {
  const u = valueOf(user);
  const p = valueOf(pass);
  if (u === undefined || p === undefined) return [];
  return [`\0${u}\0${p}`, `${u}\0${u}\0${p}`];
}

/** Runs that may be an encoding of something: base64(url), hex, or text with %XX escapes. */
const BASE64_RUN = /[A-Za-z0-9+/_-]{8,}={0,2}/g;
const HEX_RUN = /(?:[0-9a-fA-F]{2}){4,}/g;
/** URL-ish runs; only those holding a %XX escape are decoded (one greedy class: linear time). */
const URL_RUN = /[A-Za-z0-9._~!*'()+=&;:@/?%-]{6,}/g;

function decodedCandidates(run: string): string[] {
  const out: string[] = [];
  if (/^[A-Za-z0-9+/_=-]+$/.test(run)) {
    // Any of the four alignments: the run may start in the middle of a longer base64 stream.
    for (let k = 0; k < 4 && run.length - k >= 6; k++) out.push(Buffer.from(run.slice(k).replace(/=+$/, ''), 'base64').toString('latin1'));
  }
  if (/^(?:[0-9a-fA-F]{2})+$/.test(run)) out.push(Buffer.from(run, 'hex').toString('latin1'));
  if (/%[0-9a-fA-F]{2}/.test(run)) {
    try {
      const once = decodeURIComponent(run);
      out.push(once);
      if (once.includes('%')) out.push(decodeURIComponent(once));
    } catch {
      /* not valid %-encoding: nothing to decode */
    }
  }
  return out;
}

/** Replace each secret, in every encoding, with [secret]. */
export function redact(text: string, secrets: SecretLike[]): string {
  const raw = [...new Set(secrets.map(valueOf).filter((v): v is string => v !== undefined && v.length >= MIN_SECRET_LENGTH))];
  if (raw.length === 0 || text === '') return text;
  const plain = [...new Set(raw.flatMap((v) => [v, ...urlParts(v)]))];
  const forms = [...new Set(plain.flatMap(encodedForms))].filter((f) => f.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  let out = text;
  for (const form of forms) if (out.includes(form)) out = out.split(form).join(HIDDEN);
  // What is left may still be an encoding of a secret inside something larger (an AUTH blob).
  // Secrets are looked for in decoded bytes both as UTF-8 text and as their latin1 byte string.
  const needles = plain.flatMap((v) => [v, Buffer.from(v, 'utf8').toString('latin1')]);
  const holdsSecret = (run: string) => decodedCandidates(run).some((d) => needles.some((n) => d.includes(n)));
  for (const pattern of [URL_RUN, BASE64_RUN, HEX_RUN]) out = out.replace(pattern, (run) => (holdsSecret(run) ? HIDDEN : run));
  return out;
}

/** A server's reply as a report may quote it: secrets removed first, then cut short (never the reverse). */
export function excerpt(text: string, secrets: SecretLike[], max = EXCERPT_LENGTH): string {
  const clean = redact(text, secrets).replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** A one-line description of an error, without secrets, cut to an excerpt. */
export function describeError(err: unknown, secrets: SecretLike[]): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const base = e instanceof Error ? e.message : String(err);
  const cause = e?.cause && (e.cause.code || e.cause.message) ? ` (${e.cause.code ?? e.cause.message})` : '';
  return excerpt(`${base}${cause}`, secrets, EXCERPT_LENGTH * 2);
}

/** Every Secret in a config (reporters, TURN credentials …), for scrubbing what leaves the run. */
export function configSecrets(config: unknown): Secret[] {
  const out: Secret[] = [];
  const walk = (v: unknown, depth: number) => {
    if (v === null || typeof v !== 'object' || depth > 12) return;
    if (typeof (v as Secret).reveal === 'function') {
      out.push(v as Secret);
      return;
    }
    for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x, depth + 1);
  };
  walk(config, 0);
  return out;
}
