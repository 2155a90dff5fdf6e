// STUN and TURN URIs (RFC 7064, RFC 7065): `stun:host[:port]`, `stuns:`, `turn:host[:port][?transport=udp|tcp]`,
// `turns:`. Pure. The canonical text (`stun:host:port`, port always written) is what findings name as target.
import { isIpLiteral } from './codec.ts';

export type IceScheme = 'stun' | 'stuns' | 'turn' | 'turns';
/** How the client talks to the server: UDP, TCP, or TLS over TCP. */
export type StunTransport = 'udp' | 'tcp' | 'tls';

export interface IceUri {
  scheme: IceScheme;
  /** Without brackets; lower case for names. */
  host: string;
  port: number;
  transport: StunTransport;
  hostKind: 'ipv4' | 'ipv6' | 'name';
  isTurn: boolean;
}

export const DEFAULT_PORT = 3478;
export const DEFAULT_TLS_PORT = 5349;

const hostLabel = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

export type ParsedUri = { ok: true; uri: IceUri } | { ok: false; problem: string };

/**
 * Parse one URI. `//` after the scheme is tolerated (webphone configs have it; browsers' parsers vary),
 * so is an upper-case scheme. `turns:…?transport=udp` would be DTLS, which is not supported.
 */
export function parseIceUri(text: string): ParsedUri {
  const m = /^\s*(stuns?|turns?):(?:\/\/)?([^?#\s]*)(?:\?([^#\s]*))?\s*$/i.exec(text);
  if (!m) return { ok: false, problem: `"${text}" is not a STUN/TURN URI (stun:host:port, stuns:, turn:host:port?transport=tcp, turns:)` };
  const scheme = m[1].toLowerCase() as IceScheme;
  const isTurn = scheme.startsWith('turn');
  const secure = scheme.endsWith('s');
  const hostPort = m[2].replace(/\/$/, '');
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort);
  if (bracketed) {
    host = bracketed[1];
    portText = bracketed[2];
    if (isIpLiteral(host) !== 6) return { ok: false, problem: `"${text}": [${host}] is not an IPv6 address` };
  } else {
    const hp = /^([^:]+)(?::(\d+))?$/.exec(hostPort);
    if (!hp) return { ok: false, problem: `"${text}": expected host[:port] after "${scheme}:" (an IPv6 address goes in brackets)` };
    host = hp[1].toLowerCase().replace(/\.$/, '');
    portText = hp[2];
    if (isIpLiteral(host) === 0 && !host.split('.').every((label) => hostLabel.test(label))) {
      return { ok: false, problem: `"${text}": "${host}" is neither an IP address nor a host name` };
    }
  }
  const port = portText === undefined ? (secure ? DEFAULT_TLS_PORT : DEFAULT_PORT) : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { ok: false, problem: `"${text}": port ${portText} is out of range` };

  let transport: StunTransport = secure ? 'tls' : 'udp';
  if (m[3] !== undefined && m[3] !== '') {
    // RFC 7064 gives stun: no query; `?transport=tcp` is accepted there too (our own targets use it).
    const q = /^transport=(udp|tcp)$/i.exec(m[3]);
    if (!q) return { ok: false, problem: `"${text}": the only query a STUN/TURN URI takes is ?transport=udp or ?transport=tcp` };
    const wanted = q[1].toLowerCase();
    if (secure && wanted === 'udp') return { ok: false, problem: `"${text}": ${scheme}: over UDP would be DTLS, which is not supported; use ?transport=tcp` };
    if (!secure) transport = wanted as StunTransport;
  }
  const kind = isIpLiteral(host);
  return { ok: true, uri: { scheme, host, port, transport, hostKind: kind === 4 ? 'ipv4' : kind === 6 ? 'ipv6' : 'name', isTurn } };
}

/**
 * `stun:host:port`, `turn:host:port?transport=tcp`: the transport is written only when it is not the
 * scheme's default. RFC 7064 has no query for stun:, but a finding about STUN over TCP needs a target
 * of its own, so `stun:host:port?transport=tcp` names it.
 */
export function formatIceUri(u: Pick<IceUri, 'scheme' | 'host' | 'port' | 'transport' | 'hostKind'>): string {
  const host = u.hostKind === 'ipv6' ? `[${u.host}]` : u.host;
  const query = (u.scheme === 'turn' || u.scheme === 'stun') && u.transport === 'tcp' ? '?transport=tcp' : '';
  return `${u.scheme}:${host}:${u.port}${query}`;
}

/** The same server reached over another transport, for `transports: [udp, tcp, tls]`. */
export function withTransport(u: IceUri, transport: StunTransport, tlsPort: number): IceUri {
  if (transport === u.transport) return u;
  const base = u.isTurn ? 'turn' : 'stun';
  if (transport === 'tls') {
    const port = u.scheme.endsWith('s') ? u.port : tlsPort;
    return { ...u, scheme: `${base}s` as IceScheme, transport, port };
  }
  // From a TLS URI down to plain UDP/TCP: the plain port is the default one unless the URI said otherwise.
  const port = u.scheme.endsWith('s') ? DEFAULT_PORT : u.port;
  return { ...u, scheme: base, transport, port };
}
