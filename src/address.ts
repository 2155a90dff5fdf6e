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
