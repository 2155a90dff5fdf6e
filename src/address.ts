// Server addresses as people write them in the config: `8.8.8.8`, `127.0.0.1:5353`, `[::1]:53`.
import { isIP } from 'node:net';

export interface ServerAddress {
  host: string;
  port: number;
  family: 4 | 6;
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
  return a.family === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
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
