// What ice-policy says about the ICE servers it reads: codes and pure finding builders.
import { basename } from 'node:path';
import { formatIceUri, type IceUri } from '../stun/uri.ts';
import type { CodeDoc, Finding } from '../types.ts';
import { replacementFor, replacementText, type IcePolicy, type PolicyVerdict } from './policy.ts';
import type { IceFormat } from './sources.ts';

export const ICE_CODES = {
  ICE_DISALLOWED_SERVER: {
    severity: 'critical',
    meaning: "A webphone or Asterisk configuration uses a STUN/TURN server that is not allowed (not on stun.allow, on stun.deny, or a public default such as Google's stun.l.google.com:19302, the server of the 2020 audio outage).",
    firstStep: 'Replace the server at the file and line in the finding with an allowed one (the finding names it), then reload the webphone or Asterisk.',
  },
  ICE_NO_TURN: {
    severity: 'warning',
    meaning: 'A webphone configuration has no TURN server: agents behind symmetric NATs or firewalls that block UDP get no audio at all.',
    firstStep: "Add your provider's TURN server to the webphone's iceServers (turn:…:3478?transport=udp and turns:…:5349 for UDP-blocking networks), with REST credentials.",
  },
  ICE_BAD_URI: {
    severity: 'warning',
    meaning: 'A STUN/TURN URL in the configuration does not parse: browsers reject the whole iceServers list (RTCPeerConnection throws), so the webphone may not connect at all.',
    firstStep: 'Fix the URL at the file and line in the finding: stun:host:port, turn:host:port?transport=udp|tcp, turns:host:port.',
  },
  ICE_SOURCE_UNREADABLE: {
    severity: 'warning',
    meaning: 'An ICE configuration source could not be read (missing file, HTTP error, timeout, invalid JSON): its servers were not checked this run.',
    firstStep: 'Open the source named in the finding yourself (cat FILE or curl -v URL); fix the path/URL in checks.ice-policy.sources or the file itself.',
  },
} satisfies Record<string, CodeDoc>;
export type IceCode = 'ICE_DISALLOWED_SERVER' | 'ICE_NO_TURN' | 'ICE_BAD_URI' | 'ICE_SOURCE_UNREADABLE';

export interface Location {
  source: string;
  line: number;
  raw: string;
  key?: string;
  format: IceFormat;
}

export function iceFinding(target: string, code: IceCode, message: string, firstStep: string, extra: Partial<Finding> = {}): Finding {
  return { check: 'ice-policy', target, severity: ICE_CODES[code].severity, code, message, firstStep, ...extra };
}

/** The command that makes the change take effect, by file. */
function reloadHint(loc: Location): string {
  if (loc.format === 'webphone') return 'redeploy the webphone configuration (agents must reload the page)';
  const file = basename(loc.source.replace(/[?#].*$/, ''));
  const module = file.startsWith('rtp') ? 'res_rtp_asterisk.so' : file.startsWith('res_stun_monitor') ? 'res_stun_monitor.so' : file.startsWith('pjsip') ? 'res_pjsip.so' : undefined;
  return module ? `asterisk -rx "module reload ${module}"` : 'asterisk -rx "core reload"';
}

const locText = (l: Location) => `${l.source} line ${l.line}`;

/** "a", "a and b", "a, b and c". */
function andList(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** One finding per server (static sources) or per dialer (templated ones), with every place it is written. */
export function disallowedFinding(target: string, servers: { uri: IceUri; verdict: Extract<PolicyVerdict, { allowed: false }>; locations: Location[] }[], policy: IcePolicy, dialer?: string): Finding {
  const parts = servers.map((s) => `${formatIceUri(s.uri)} (${s.locations.map(locText).join(', ')})`);
  const reasons = [...new Set(servers.map((s) => s.verdict.reason))];
  const steps = servers.flatMap((s) => {
    const replacement = replacementFor(s.uri, policy);
    return s.locations.map((l) => {
      const instead = replacement ? `"${replacementText(replacement, l.key)}"` : 'a server on stun.allow (list your provider’s server in stun.servers to have it suggested here)';
      const current = l.key ? `${l.key}=${l.raw}` : l.raw;
      return `in ${locText(l)} replace "${current}" with ${instead}`;
    });
  });
  const reloads = [...new Set(servers.flatMap((s) => s.locations.map(reloadHint)))];
  const first = servers[0];
  const where = dialer ? `${dialer}'s ICE configuration uses` : `${formatIceUri(first.uri)} is configured in`;
  const message = dialer
    ? `${where} ${parts.join('; ')}, not allowed: ${reasons.join('; ')}`
    : `${where} ${andList(first.locations.map(locText))}, and is not allowed: ${reasons.join('; ')}`;
  const step = `${steps.map((s, i) => (i === 0 ? s[0].toUpperCase() + s.slice(1) : s)).join('; ')}; then ${reloads.join(' and ')}.`;
  const locations = servers.flatMap((s) => s.locations.map((l) => ({ ...l, server: formatIceUri(s.uri) })));
  return iceFinding(target, 'ICE_DISALLOWED_SERVER', message, step, {
    evidence: {
      servers: servers.map((s) => ({ server: formatIceUri(s.uri), rule: s.verdict.rule, pattern: s.verdict.pattern, reason: s.verdict.reason })),
      file: locations[0].source,
      line: locations[0].line,
      locations,
      replacement: servers.map((s) => replacementFor(s.uri, policy)).map((r) => (r ? formatIceUri(r) : undefined))[0],
    },
  });
}

