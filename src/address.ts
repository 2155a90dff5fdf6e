// Server addresses as people write them in the config: `8.8.8.8`, `127.0.0.1:5353`, `[::1]:53`;
// resolvers also `tls://dns.example[:853]` (DoT) and `https://dns.example/dns-query` (DoH).
import { isIP, isIPv6 } from 'node:net';

export interface ServerAddress {
  host: string;
  port: number;
  /** 0: a host name (DoT/DoH only; the system resolver finds its address when connecting). */
  family: 4 | 6 | 0;
  /** How DNS is spoken: plain (UDP, TCP when truncated; the default), DNS over TLS, DNS over HTTPS. */
  transport?: 'tls' | 'https';
  /** The DoH path, e.g. /dns-query. */
  path?: string;
}

/** `1.2.3.4`, `1.2.3.4:5353`, `[::1]`, `[::1]:5353`, or a bare IPv6 address without a port. */
export function parseServerAddress(text: string, defaultPort: number): ServerAddress | undefined {
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed) {
    if (isIP(bracketed[1]) !== 6) return undefined;
    const port = bracketed[2] === undefined ? defaultPort : Number(bracketed[2]);
    return port >= 1 && port <= 65535 ? { host: bracketed[1], port, family: 6 } : undefined;
  }
  if (isIP(text) === 6) return { host: text, port: defaultPort, family: 6 };
  const v4 = /^([0-9.]+)(?::(\d{1,5}))?$/.exec(text);
  if (v4 && isIP(v4[1]) === 4) {
    const port = v4[2] === undefined ? defaultPort : Number(v4[2]);
    return port >= 1 && port <= 65535 ? { host: v4[1], port, family: 4 } : undefined;
  }
  return undefined;
}

export function formatServerAddress(a: ServerAddress): string {
  const hostPort = a.family === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
  if (a.transport === 'tls') return `tls://${hostPort}`;
  if (a.transport === 'https') return `https://${hostPort}${a.path ?? '/dns-query'}`;
  return hostPort;
}

/**
 * A resolver: a plain address (see parseServerAddress, port 53), `tls://host[:853]` (RFC 7858) or
 * `https://host[:443]/path` (RFC 8484). The host of tls:// and https:// may be a name; its
 * certificate is verified against it. Undefined when the text is none of these.
 */
export function parseResolverAddress(text: string): ServerAddress | undefined {
  const scheme = /^(tls|https):\/\//i.exec(text);
  if (!scheme) return parseServerAddress(text, 53);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const transport = scheme[1].toLowerCase() as 'tls' | 'https';
  if (url.username || url.password || url.search || url.hash) return undefined;
  if (transport === 'tls' && url.pathname !== '' && url.pathname !== '/') return undefined;
  const bare = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const family = isIP(bare);
  if (family === 0 && !/^(?=.{1,253}$)([A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?$/.test(bare)) return undefined;
  const port = url.port === '' ? (transport === 'tls' ? 853 : 443) : Number(url.port);
  const address: ServerAddress = { host: bare, port, family: family as 0 | 4 | 6, transport };
  if (transport === 'https') address.path = url.pathname === '' || url.pathname === '/' ? '/dns-query' : url.pathname;
  return address;
}

/** A network as people write it, `198.51.100.0/24` or `2001:db8:7::/48`: its address and prefix length. */
export interface Network {
  address: string;
  prefixLength: number;
}

export function parseNetwork(text: string): Network | undefined {
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const family = isIP(m[1]);
  const prefixLength = Number(m[2]);
  if (family === 0 || prefixLength > (family === 6 ? 128 : 32)) return undefined;
  return { address: m[1], prefixLength };
}

export function formatNetwork(n: Network): string {
  return `${n.address}/${n.prefixLength}`;
}

/** An IPv6 address's 16 bytes; an embedded dotted quad (::ffff:192.0.2.1) is read as its two groups. */
export function ipv6Bytes(address: string): Buffer {
  const text = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a, b, c, d) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`);
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** RFC 5952 text of 16 address bytes: lower case, leading zeros dropped, the longest zero run compressed. */
export function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/**
 * One spelling per address (IPv6 as RFC 5952, anything else lower case), so a reply's source, a DNS
 * answer and the address in the config compare equal.
 */
export function canonicalIp(address: string): string {
  return isIPv6(address) ? ipv6Text(ipv6Bytes(address)) : address.toLowerCase();
}
