// Reading the ICE servers a fleet really uses out of its own configuration files: pure parsers that
// keep the line of every server, so a finding can say "webphone/ice.json line 4".
//
//   webphone  JSON or JavaScript (iceServers, pcConfig, stunServers, …): every string literal that is
//             a STUN/TURN URI, outside comments. Evaluating JS is neither safe nor needed.
//   asterisk  rtp.conf (stunaddr, turnaddr), res_stun_monitor.conf (stunaddr), pjsip.conf and other
//             Asterisk-style INI files: those keys, plus any value holding a STUN/TURN URI.
// Credentials in these files (TURN usernames/passwords) are never kept.
import { parseIceUri, type IceUri } from '../stun/uri.ts';

export type IceFormat = 'webphone' | 'asterisk';

export interface IceServerRef {
  uri: IceUri;
  /** The text as written (a URI, or rtp.conf's host:port). */
  raw: string;
  /** 1-based. */
  line: number;
  /** The key it was found under, for INI files (stunaddr, turnaddr). */
  key?: string;
}

export interface ParsedIceSource {
  format: IceFormat;
  servers: IceServerRef[];
  /** Things that could not be read, with their line; e.g. invalid JSON, a URI that does not parse. */
  problems: { line?: number; text: string }[];
}

/** The format a source's name (or HTTP content type) suggests. */
export function detectFormat(name: string, contentType?: string): IceFormat {
  const path = name.replace(/[?#].*$/, '').toLowerCase();
  if (/\.conf$/.test(path) || /(^|\/)(rtp|pjsip|res_stun_monitor)[^/]*$/.test(path)) return 'asterisk';
  if (contentType && /json|javascript|ecmascript|html/.test(contentType)) return 'webphone';
  return 'webphone';
}

export function parseIceSource(text: string, format: IceFormat, name = ''): ParsedIceSource {
  return format === 'asterisk' ? parseAsterisk(text) : parseWebphone(text, name);
}

/** Host names WebRTC stacks ship as defaults; found even without a scheme (`"stun.l.google.com:19302"`). */
const BARE_DEFAULT_HOST = /^(stun[0-9]*\.l\.google\.com|stun\.services\.mozilla\.com|stun\.stunprotocol\.org|stun\.ekiga\.net)(:\d{1,5})?$/i;

function refFromText(raw: string, line: number, key?: string): { ref?: IceServerRef; problem?: string } {
  const text = raw.trim();
  if (/^(stuns?|turns?):/i.test(text)) {
    const parsed = parseIceUri(text);
    return parsed.ok ? { ref: { uri: parsed.uri, raw: text, line, key } } : { problem: parsed.problem };
  }
  if (BARE_DEFAULT_HOST.test(text)) {
    const parsed = parseIceUri(`stun:${text}`);
    if (parsed.ok) return { ref: { uri: parsed.uri, raw: text, line, key } };
  }
  return {};
}

// --- webphone: JSON / JavaScript ---------------------------------------------------------------

interface StringLiteral {
  value: string;
  line: number;
  /** A template literal with ${…}: its value is not known without running the code. */
  dynamic: boolean;
}

/** String literals with their lines, skipping // and /* *\/ comments (a commented-out server is not in use). */
export function stringLiterals(text: string): StringLiteral[] {
  const out: StringLiteral[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '\n') {
      line++;
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      i += 2;
      while (i < n && !(text[i] === '*' && text[i + 1] === '/')) {
        if (text[i] === '\n') line++;
        i++;
      }
      i += 2;
    } else if (c === '"' || c === "'" || c === '`') {
      const startLine = line;
      let value = '';
      let dynamic = false;
      i++;
      while (i < n && text[i] !== c) {
        if (text[i] === '\\' && i + 1 < n) {
          const next = text[i + 1];
          value += next === 'n' ? '\n' : next === 't' ? '\t' : next;
          if (next === '\n') line++;
          i += 2;
          continue;
        }
        if (c === '`' && text[i] === '$' && text[i + 1] === '{') dynamic = true;
        if (text[i] === '\n') {
          if (c !== '`') break; // an unterminated ' or " string ends at the line
          line++;
        }
        value += text[i];
        i++;
      }
      i++;
      out.push({ value, line: startLine, dynamic });
    } else {
      i++;
    }
  }
  return out;
}

function parseWebphone(text: string, name: string): ParsedIceSource {
  const problems: ParsedIceSource['problems'] = [];
  if (/\.json$/i.test(name.replace(/[?#].*$/, '')) || /^\s*[[{]/.test(text)) {
    try {
      JSON.parse(text);
    } catch (err) {
      // Not fatal: the servers are still found, but a webphone loading this file would fail.
      if (/\.json$/i.test(name.replace(/[?#].*$/, ''))) problems.push({ text: `not valid JSON: ${(err as Error).message}` });
    }
  }
  const servers: IceServerRef[] = [];
  for (const lit of stringLiterals(text)) {
    if (lit.dynamic) {
      if (/^\s*(stuns?|turns?):/i.test(lit.value)) problems.push({ line: lit.line, text: `a URI built at run time (${lit.value.slice(0, 80)}): its server cannot be known from the file` });
      continue;
    }
    // One literal may hold several comma-separated URLs (some SIP stacks take a list in one string).
    for (const part of lit.value.includes(',') ? lit.value.split(',') : [lit.value]) {
      const r = refFromText(part, lit.line);
      if (r.ref) servers.push(r.ref);
      else if (r.problem) problems.push({ line: lit.line, text: r.problem });
    }
  }
  return { format: 'webphone', servers, problems };
}

// --- Asterisk INI -------------------------------------------------------------------------------

/** `;` starts a comment unless escaped as `\;` (Asterisk's rule). */
function stripComment(line: string): string {
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\' && line[i + 1] === ';') {
      out += ';';
      i++;
    } else if (line[i] === ';') {
      break;
    } else {
      out += line[i];
    }
  }
  return out.trim();
}

function parseAsterisk(text: string): ParsedIceSource {
  const servers: IceServerRef[] = [];
  const problems: ParsedIceSource['problems'] = [];
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = index + 1;
    const content = stripComment(rawLine);
    if (!content || content.startsWith('[') || content.startsWith('#')) return;
    const kv = /^([A-Za-z0-9_.-]+)\s*=>?\s*(.*)$/.exec(content);
    if (!kv) return;
    const key = kv[1].toLowerCase();
    const value = kv[2].trim();
    if (!value) return; // `stunaddr=` switches it off
    if (key === 'stunaddr' || key === 'turnaddr') {
      const scheme = key === 'stunaddr' ? 'stun' : 'turn';
      const parsed = /^(stuns?|turns?):/i.test(value) ? parseIceUri(value) : parseIceUri(`${scheme}:${value}`);
      if (parsed.ok) servers.push({ uri: parsed.uri, raw: value, line, key });
      else problems.push({ line, text: `${key}: ${parsed.problem}` });
      return;
    }
    for (const part of value.split(/[,\s]+/)) {
      const r = refFromText(part, line, key);
      if (r.ref) servers.push(r.ref);
      else if (r.problem) problems.push({ line, text: `${key}: ${r.problem}` });
    }
  });
  return { format: 'asterisk', servers, problems };
}
