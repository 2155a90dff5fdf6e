// Where a carrier lives: the `uri` of a carrier entry, parsed (pure).
// Accepts what people paste: "sip:example.pstn.twilio.com", "sips:sbc.example.net:5061",
// "sip:+15550100@trunk.example.net;transport=tcp", "127.0.0.1:5060", "[::1]:5060", "sbc.example.net".
import { isIP } from 'node:net';

export type SipTransport = 'udp' | 'tcp' | 'tls';

export interface CarrierUri {
  scheme: 'sip' | 'sips';
  user?: string;
  /** Lower-case name, or an address (IPv6 without brackets). */
  host: string;
  hostKind: 'name' | 'ipv4' | 'ipv6';
  /** Only when written; RFC 3263 skips NAPTR/SRV lookups when a port is given. */
  port?: number;
  params: Record<string, string>;
}

const HOSTNAME = /^(?=.{1,253}$)(?:(?!-)[a-z0-9_-]{1,63}(?<!-)\.)*(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

export function parseCarrierUri(text: string): CarrierUri | undefined {
  let rest = text.trim();
  let scheme: 'sip' | 'sips' = 'sip';
  const schemeMatch = /^(sips?):/i.exec(rest);
  if (schemeMatch) {
    scheme = schemeMatch[1].toLowerCase() as 'sip' | 'sips';
    rest = rest.slice(schemeMatch[0].length);
  }
  // Headers (?...) never matter for where a request goes.
  rest = rest.replace(/\?.*$/, '');
  const [hostPart, ...paramParts] = rest.split(';');
  const params: Record<string, string> = {};
  for (const p of paramParts) {
    if (!p) continue;
    const [k, v = ''] = p.split('=');
    params[k.toLowerCase()] = v;
  }
  let user: string | undefined;
  let hostPort = hostPart;
  const at = hostPart.lastIndexOf('@');
  if (at >= 0) {
    user = hostPart.slice(0, at);
    hostPort = hostPart.slice(at + 1);
    if (!user) return undefined;
  }
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(hostPort);
  if (bracketed) {
    host = bracketed[1].toLowerCase();
    portText = bracketed[2];
    if (isIP(host) !== 6) return undefined;
  } else if (isIP(hostPort) === 6) {
    host = hostPort.toLowerCase();
  } else {
    const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(hostPort);
    if (!m) return undefined;
    host = m[1].toLowerCase().replace(/\.$/, '');
    portText = m[2];
  }
  const kind = isIP(host);
  const hostKind = kind === 4 ? 'ipv4' : kind === 6 ? 'ipv6' : 'name';
  if (hostKind === 'name' && (!HOSTNAME.test(host) || /^[0-9.]+$/.test(host))) return undefined;
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { scheme, user, host, hostKind, port, params };
}

/** The host as it goes into a URI or a Via header (IPv6 in brackets). */
export function uriHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** The Request-URI we send: the configured URI without transport parameters (we choose the transport). */
export function requestUriOf(u: CarrierUri): string {
  return `${u.scheme}:${u.user ? `${u.user}@` : ''}${uriHost(u.host)}${u.port ? `:${u.port}` : ''}`;
}

export function defaultPort(transport: SipTransport): number {
  return transport === 'tls' ? 5061 : 5060;
}

/** `1.2.3.4:5060` / `[::1]:5060`, the way findings name an endpoint. */
export function hostPort(address: string, port: number): string {
  return `${uriHost(address)}:${port}`;
}
