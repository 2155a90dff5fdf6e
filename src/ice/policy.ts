// Which ICE servers a fleet may use: pure. The order of the rules:
//   1. stun.deny matches            → disallowed
//   2. stun.allow matches, or it is one of stun.servers (the ones we probe) → allowed
//   3. a public default (Google's stun*.l.google.com:19302 …) while denyPublicDefaults → disallowed
//   4. stun.allow is not empty      → disallowed (not on the list)
//   5. otherwise                    → allowed
import { formatIceUri, type IceUri } from '../stun/uri.ts';

export interface IcePolicy {
  allow: string[];
  deny: string[];
  denyPublicDefaults: boolean;
  /** The configured STUN/TURN servers: allowed by being configured. */
  configured: IceUri[];
}

export const GOOGLE_INCIDENT_REASON =
  "Google's public STUN server, the default most WebRTC stacks ship with: in the 2020 outage it handed webphones bogus connections for hours (a stale cache of the dialers' names on Google's side) and there was no log to read and nobody to call";

/** Defaults WebRTC code ships with; flagged unless explicitly allowed. */
export const PUBLIC_DEFAULTS: { pattern: string; reason: string }[] = [
  { pattern: 'stun*.l.google.com', reason: GOOGLE_INCIDENT_REASON },
  { pattern: 'stun.services.mozilla.com', reason: "Mozilla's public STUN server, a sample default: no support relationship, no logs" },
  { pattern: 'stun.stunprotocol.org', reason: 'a free public STUN server from tutorials: no support relationship, no logs' },
  { pattern: 'stun.ekiga.net', reason: 'a free public STUN server from tutorials: no support relationship, no logs' },
];

export type PolicyVerdict =
  | { allowed: true; why: 'allow-list' | 'configured' | 'no-allow-list' }
  | { allowed: false; rule: 'deny' | 'public-default' | 'not-allowed'; reason: string; pattern?: string };

/**
 * A pattern is `[scheme:]hostglob[:port]`: `*.example.net`, `turn.example.net:3478`, `stun:*`.
 * `*` matches any run of name characters, dots included, so `*.example.net` covers every depth.
 */
export function matchesPattern(uri: IceUri, pattern: string): boolean {
  const m = /^(?:(stuns?|turns?):)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/i.exec(pattern.trim());
  if (!m) return false;
  if (m[1] && m[1].toLowerCase() !== uri.scheme) return false;
  if (m[3] && Number(m[3]) !== uri.port) return false;
  const hostGlob = m[2].replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
  const re = new RegExp(`^${hostGlob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[a-z0-9._:-]*')}$`);
  return re.test(uri.host.toLowerCase());
}

export function judgeServer(uri: IceUri, policy: IcePolicy): PolicyVerdict {
  const denied = policy.deny.find((p) => matchesPattern(uri, p));
  if (denied) return { allowed: false, rule: 'deny', pattern: denied, reason: `it matches "${denied}" on stun.deny` };
  if (policy.allow.some((p) => matchesPattern(uri, p))) return { allowed: true, why: 'allow-list' };
  if (policy.configured.some((c) => c.host === uri.host && c.port === uri.port)) return { allowed: true, why: 'configured' };
  if (policy.denyPublicDefaults) {
    const d = PUBLIC_DEFAULTS.find((p) => matchesPattern(uri, p.pattern));
    if (d) return { allowed: false, rule: 'public-default', pattern: d.pattern, reason: d.reason };
  }
  if (policy.allow.length > 0) return { allowed: false, rule: 'not-allowed', reason: `it is not on stun.allow (${policy.allow.join(', ')})` };
  return { allowed: true, why: 'no-allow-list' };
}

/**
 * What to put in its place: a configured server of the same kind. For STUN, a configured TURN server
 * will do as well (TURN servers answer Binding requests), written as stun:host:port.
 */
export function replacementFor(uri: IceUri, policy: IcePolicy): IceUri | undefined {
  const same = policy.configured.find((c) => c.isTurn === uri.isTurn);
  if (same || uri.isTurn) return same;
  const turn = policy.configured.find((c) => c.isTurn && c.transport === 'udp');
  return turn ? { ...turn, scheme: 'stun', isTurn: false } : undefined;
}

/** The replacement as the source's own syntax wants it: a URI for webphones, host:port for rtp.conf keys. */
export function replacementText(replacement: IceUri, key: string | undefined): string {
  if (key === 'stunaddr' || key === 'turnaddr') {
    const host = replacement.hostKind === 'ipv6' ? `[${replacement.host}]` : replacement.host;
    return `${key}=${host}:${replacement.port}`;
  }
  return formatIceUri(replacement);
}
