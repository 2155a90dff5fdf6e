// SIP messages on the wire, as pure functions: building an OPTIONS request (padded to a size when
// asked), parsing what comes back (folded headers, compact forms, garbage), framing a TCP/TLS
// stream, and the RFC 3261 retransmission timer for UDP. No sockets here: src/net/sip.ts sends.
import { hostPort, uriHost, type SipTransport } from './uri.ts';

export const SIP_VERSION = 'SIP/2.0';
/** RFC 3261 §8.1.1.7: a branch that starts with the magic cookie marks an RFC 3261 transaction. */
export const BRANCH_COOKIE = 'z9hG4bK';
/** The harmless header that carries the padding; servers ignore headers they do not know (RFC 3261 §7.3.1). */
export const PADDING_HEADER = 'X-Dialer-Audit-Padding';
/** Padding is split over lines of at most this many bytes, so no parser's line limit is the thing being tested. */
const MAX_PADDING_LINE = 200;

export interface OptionsSpec {
  requestUri: string;
  transport: SipTransport;
  /** Our address and port as the socket sees them (Via sent-by and Contact). */
  local: { address: string; port: number };
  fromUser: string;
  /** Domain of the From URI; our address when not configured. */
  fromDomain?: string;
  displayName?: string;
  branch: string;
  callId: string;
  fromTag: string;
  cseq: number;
  userAgent: string;
  /** Pad the whole message to exactly this many bytes (no padding when the plain request is larger). */
  padTo?: number;
}

const CRLF = '\r\n';

/** The OPTIONS request of RFC 3261 §11.1, with Via rport (RFC 3581) so NATed replies still reach us. */
export function buildOptions(spec: OptionsSpec): string {
  const sentBy = hostPort(spec.local.address, spec.local.port);
  const fromDomain = spec.fromDomain ?? uriHost(spec.local.address);
  const transportParam = spec.transport === 'udp' ? '' : `;transport=${spec.transport}`;
  const lines = [
    `OPTIONS ${spec.requestUri} ${SIP_VERSION}`,
    `Via: ${SIP_VERSION}/${spec.transport.toUpperCase()} ${sentBy};branch=${spec.branch};rport`,
    'Max-Forwards: 70',
    `From: "${spec.displayName ?? spec.fromUser}" <sip:${spec.fromUser}@${fromDomain}>;tag=${spec.fromTag}`,
    `To: <${spec.requestUri}>`,
    `Call-ID: ${spec.callId}`,
    `CSeq: ${spec.cseq} OPTIONS`,
    `Contact: <sip:${spec.fromUser}@${sentBy}${transportParam}>`,
    'Accept: application/sdp',
    `User-Agent: ${spec.userAgent}`,
  ];
  const tail = ['Content-Length: 0', '', ''];
  const plain = [...lines, ...tail].join(CRLF);
  if (spec.padTo === undefined) return plain;
  const padding = paddingLines(spec.padTo - Buffer.byteLength(plain));
  return [...lines, ...padding, ...tail].join(CRLF);
}

/**
 * Header lines adding exactly `bytes` bytes (each line counts its CRLF). When fewer bytes are missing
 * than the shortest possible line, nothing is added: undershooting a size step is safe, overshooting
 * 1472 would turn an unfragmented probe into a fragmented one.
 */
export function paddingLines(bytes: number): string[] {
  const overhead = PADDING_HEADER.length + ': '.length + CRLF.length;
  const minLine = overhead + 1; // at least one byte of filler
  if (bytes < minLine) return [];
  const count = Math.ceil(bytes / MAX_PADDING_LINE);
  const lines: string[] = [];
  let left = bytes;
  for (let i = 0; i < count; i++) {
    const share = Math.floor(left / (count - i));
    const filler = share - overhead;
    lines.push(`${PADDING_HEADER}: ${'x'.repeat(filler)}`);
    left -= share;
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** RFC 3261 §7.3.3 and later RFCs: one-letter compact header names. */
const COMPACT_FORMS: Record<string, string> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

export interface SipMessage {
  kind: 'response' | 'request';
  status?: number;
  reason?: string;
  method?: string;
  requestUri?: string;
  /** Lower-case long header names, values in order of appearance (one entry per header line). */
  headers: Map<string, string[]>;
  body: string;
}

export type ParseResult = { ok: true; message: SipMessage } | { ok: false; error: string };

const STATUS_LINE = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/;
const REQUEST_LINE = /^([A-Za-z]+) (\S+) SIP\/2\.0$/;
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*:[ \t]*(.*)$/;
const MAX_HEADER_LINES = 200;

export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT_FORMS[lower] ?? lower;
}

/** Parse one whole SIP message (a datagram, or one frame cut from a stream). Never throws. */
export function parseSipMessage(input: Buffer | string): ParseResult {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  if (text.includes('\u0000')) return { ok: false, error: 'contains NUL bytes: not a SIP message' };
  // Leading CRLFs are keep-alives (RFC 5626 §4.4.1), not part of the message.
  const trimmed = text.replace(/^(?:\r?\n)+/, '');
  const headerEnd = findHeaderEnd(trimmed);
  const head = headerEnd === undefined ? trimmed : trimmed.slice(0, headerEnd.index);
  const body = headerEnd === undefined ? '' : trimmed.slice(headerEnd.index + headerEnd.length);
  const rawLines = head.split(/\r?\n/);
  const startLine = rawLines.shift() ?? '';
  const message: SipMessage = { kind: 'response', headers: new Map(), body };
  const status = STATUS_LINE.exec(startLine);
  const request = status ? null : REQUEST_LINE.exec(startLine);
  if (status) {
    message.status = Number(status[1]);
    message.reason = (status[2] ?? '').trim();
  } else if (request) {
    message.kind = 'request';
    message.method = request[1].toUpperCase();
    message.requestUri = request[2];
  } else {
    return { ok: false, error: `first line is not a SIP status or request line: ${printable(startLine, 60)}` };
  }
  if (rawLines.length > MAX_HEADER_LINES) return { ok: false, error: `more than ${MAX_HEADER_LINES} header lines` };
  // Unfold: a line starting with whitespace continues the previous header (RFC 3261 §7.3.1).
  const lines: string[] = [];
  for (const line of rawLines) {
    if (/^[ \t]/.test(line) && lines.length > 0) lines[lines.length - 1] += ' ' + line.trim();
    else if (line !== '') lines.push(line);
  }
  for (const line of lines) {
    const m = HEADER_LINE.exec(line);
    if (!m) return { ok: false, error: `not a header line: ${printable(line, 60)}` };
    const name = canonicalHeaderName(m[1]);
    const values = message.headers.get(name) ?? [];
    values.push(m[2].trim());
    message.headers.set(name, values);
  }
  return { ok: true, message };
}

function findHeaderEnd(text: string): { index: number; length: number } | undefined {
  const crlf = text.indexOf('\r\n\r\n');
  const lf = text.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return undefined;
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { index: crlf, length: 4 };
  return { index: lf, length: 2 };
}

/** Safe to show in a report: control bytes escaped, cut to `max` characters. */
export function printable(text: string, max = 120): string {
  const cleaned = text.replace(/[^\x20-\x7e]/g, (c) => (c === '\r' ? '\\r' : c === '\n' ? '\\n' : '.'));
  return cleaned.length > max ? `${cleaned.slice(0, max)}…` : cleaned;
}

/** First value of a header, or undefined. */
export function header(m: SipMessage, name: string): string | undefined {
  return m.headers.get(canonicalHeaderName(name))?.[0];
}

/** All comma-separated values of a header over all its lines (commas in quotes or <> do not split). */
export function headerList(m: SipMessage, name: string): string[] {
  return (m.headers.get(canonicalHeaderName(name)) ?? []).flatMap(splitCommas).filter((v) => v !== '');
}

export function splitCommas(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  let angle = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && quoted) {
      current += c + (value[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '<') angle++;
    else if (!quoted && c === '>') angle = Math.max(0, angle - 1);
    if (c === ',' && !quoted && angle === 0) {
      out.push(current.trim());
      current = '';
    } else current += c;
  }
  out.push(current.trim());
  return out;
}

export interface Via {
  transport: string;
  sentBy: string;
  params: Record<string, string>;
}

export function parseVia(value: string): Via | undefined {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+([^;\s]+)\s*(.*)$/i.exec(value.trim());
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const part of m[3].split(';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq < 0) params[p.toLowerCase()] = '';
    else params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim();
  }
  return { transport: m[1].toUpperCase(), sentBy: m[2], params };
}

export function topVia(m: SipMessage): Via | undefined {
  const first = headerList(m, 'via')[0];
  return first === undefined ? undefined : parseVia(first);
}

export interface Transaction {
  branch: string;
  callId: string;
  cseq: number;
  method: string;
}

/** Whether a parsed message is a response to our transaction (RFC 3261 §17.1.3: top Via branch + CSeq method). */
export function matchesTransaction(m: SipMessage, t: Transaction): boolean {
  if (m.kind !== 'response') return false;
  const via = topVia(m);
  if (!via || via.params.branch !== t.branch) return false;
  if (header(m, 'call-id') !== t.callId) return false;
  const cseq = /^(\d+)\s+([A-Za-z]+)$/.exec(header(m, 'cseq') ?? '');
  return !!cseq && Number(cseq[1]) === t.cseq && cseq[2].toUpperCase() === t.method;
}

/** What a report shows about a response: who answered and what it said about us. */
export interface ResponseSummary {
  status: number;
  reason: string;
  /** Server, or User-Agent when there is no Server header. */
  server?: string;
  allow?: string[];
  /** The address and port the carrier saw us at (Via received / rport, RFC 3581). */
  viaReceived?: string;
  viaRport?: number;
  /** Retry-After of a 503 (RFC 3261 §21.5.4): how long the carrier asks us to stay away. */
  retryAfter?: string;
}

export function summarizeResponse(m: SipMessage): ResponseSummary {
  const via = topVia(m);
  const allow = headerList(m, 'allow').map((a) => a.toUpperCase());
  const rport = via?.params.rport ? Number(via.params.rport) : undefined;
  return {
    status: m.status ?? 0,
    reason: m.reason ?? '',
    server: header(m, 'server') ?? header(m, 'user-agent'),
    allow: allow.length > 0 ? allow : undefined,
    viaReceived: via?.params.received || undefined,
    viaRport: rport !== undefined && Number.isInteger(rport) && rport > 0 ? rport : undefined,
    retryAfter: header(m, 'retry-after'),
  };
}

// ---------------------------------------------------------------------------------------------
// Stream framing (TCP, TLS): messages are delimited by Content-Length (RFC 3261 §18.3).

const MAX_STREAM_HEADER_BYTES = 16 * 1024;
const MAX_BODY_BYTES = 64 * 1024;

export type Framing = { messages: Buffer[]; rest: Buffer; error?: string };

export function frameStream(buffer: Buffer): Framing {
  const messages: Buffer[] = [];
  let rest = buffer;
  for (;;) {
    // Skip CRLF keep-alives between messages.
    let start = 0;
    while (start < rest.length && (rest[start] === 0x0d || rest[start] === 0x0a)) start++;
    rest = rest.subarray(start);
    if (rest.length === 0) return { messages, rest };
    const prefix = rest.subarray(0, 8).toString('latin1');
    if (!looksLikeSipStart(prefix)) {
      return { messages, rest, error: `the stream does not carry SIP: ${printable(rest.subarray(0, 60).toString('latin1'), 60)}` };
    }
    const text = rest.toString('latin1');
    const end = findHeaderEnd(text);
    if (!end) {
      if (rest.length > MAX_STREAM_HEADER_BYTES) return { messages, rest, error: `no end of headers within ${MAX_STREAM_HEADER_BYTES} bytes` };
      return { messages, rest };
    }
    const head = text.slice(0, end.index);
    const lengthLine = /^(?:content-length|l)[ \t]*:[ \t]*(\S*)/im.exec(head);
    const bodyLength = lengthLine ? Number(lengthLine[1]) : 0;
    if (!Number.isInteger(bodyLength) || bodyLength < 0 || bodyLength > MAX_BODY_BYTES) {
      return { messages, rest, error: `unusable Content-Length: ${printable(lengthLine?.[1] ?? '', 20)}` };
    }
    const total = end.index + end.length + bodyLength;
    if (rest.length < total) return { messages, rest };
    messages.push(rest.subarray(0, total));
    rest = rest.subarray(total);
  }
}

/** Whether the first (up to 8) bytes could start a SIP status line or request line. */
function looksLikeSipStart(prefix: string): boolean {
  return prefix.startsWith('SIP/2.0 ') || 'SIP/2.0 '.startsWith(prefix) || /^[A-Z]+(?: |$)/.test(prefix);
}

// ---------------------------------------------------------------------------------------------
// RFC 3261 §17.1.2.2 (non-INVITE client transaction over UDP): Timer E starts at T1 and doubles,
// capped at T2; after a provisional response it fires every T2. Timer F (64·T1) is replaced by
// the check's budget: a monitor must not wait 32 s.

export const DEFAULT_T1_MS = 500;
export const DEFAULT_T2_MS = 4000;

export function nextRetransmitInterval(previousMs: number | undefined, provisionalSeen: boolean, t1 = DEFAULT_T1_MS, t2 = DEFAULT_T2_MS): number {
  if (provisionalSeen) return t2;
  if (previousMs === undefined) return t1;
  return Math.min(previousMs * 2, t2);
}

/** Offsets (ms from the first send) at which the request goes out, within the budget. */
export function udpSendSchedule(budgetMs: number, t1 = DEFAULT_T1_MS, t2 = DEFAULT_T2_MS): number[] {
  const times = [0];
  let interval: number | undefined;
  for (;;) {
    interval = nextRetransmitInterval(interval, false, t1, t2);
    const next = times[times.length - 1] + interval;
    if (next >= budgetMs) return times;
    times.push(next);
  }
}
