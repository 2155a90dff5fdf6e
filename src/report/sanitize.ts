// Everything that came from the network is data, never a terminal command (house rule 9). A DNS
// name, a SIP reason phrase or a line of an ICE file may carry ESC, BEL or an OSC sequence that
// would retitle a terminal, hide a line or fake a finding; so before a text or Markdown report, a
// Slack notice, an email or a log line shows a string, its control characters are written out
// (`\x1b`) and it is cut to a length. This is the one place that does it.

/** C0 (newline and tab included: a field is one line), DEL, C1, and the bidirectional overrides. */
const CONTROL = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/** Longest string a report, notice or log line shows of one field. */
export const FIELD_MAX = 2000;

function escapeOne(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One string made safe to show: control characters escaped, then cut to `max` characters. */
export function sanitizeText(text: string, max = FIELD_MAX): string {
  const escaped = text.replace(CONTROL, escapeOne);
  if (escaped.length <= max) return escaped;
  const cut = escaped.slice(0, max).replace(/\\(x[0-9a-f]?|u[0-9a-f]{0,3})?$/, '');
  return `${cut}… (${(escaped.length - cut.length).toLocaleString('en-US')} more characters)`;
}

/** Deeper than any report or log field; past it a value is shown as "…". */
const MAX_DEPTH = 12;

/**
 * Every string inside a report, notice content or log fields, sanitised; numbers, booleans and
 * the shape stay as they are. Only plain objects and arrays are walked.
 */
export function sanitizeDeep<T>(value: T, max = FIELD_MAX): T {
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return sanitizeText(v, max);
    if (v === null || typeof v !== 'object') return v;
    if (depth >= MAX_DEPTH) return '…';
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[sanitizeText(k, 200)] = walk(x, depth + 1);
    return out;
  };
  return walk(value, 0) as T;
}
