// Lab: small SIP servers in node for what SIPp does not do: a UAS over TLS (with a self-signed
// certificate made by the openssl CLI) that fills in Via received/rport, and a server that
// answers with garbage. Loopback 127.50.0.0/16 only (127.70.0.0/16 for the hardening tests' hostile servers).
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { frameStream, parseSipMessage, type SipMessage } from '../../src/sip/message.ts';

function assertLabAddress(address: string): void {
  if (!/^127\.(50|70)\.\d{1,3}\.\d{1,3}$/.test(address)) throw new Error(`lab address ${address} is outside 127.50.0.0/16 and 127.70.0.0/16`);
}

export interface Certificate {
  cert: string;
  key: string;
}

/** A self-signed certificate for `name` (and `ip`), valid for `days` days. */
export function selfSignedCertificate(name: string, ip: string, days: number): Certificate {
  const dir = mkdtempSync(join(tmpdir(), 'dialer-audit-cert-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', String(days), '-subj', `/CN=${name}`,
      '-addext', `subjectAltName=DNS:${name},IP:${ip}`,
    ], { stdio: 'ignore' });
    return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface LabServer {
  address: string;
  port: number;
  /** Requests (or datagrams) received so far. */
  received(): number;
  stop(): Promise<void>;
}

/** The response a UAS sends: Via copied with received/rport filled in (RFC 3581), To tagged. */
export function answerFor(request: SipMessage, status: number, reason: string, peer: { address: string; port: number }): string {
  const vias = request.headers.get('via') ?? [];
  const top = (vias[0] ?? '').replace(/;rport(?=;|$)/, `;rport=${peer.port}`) + `;received=${peer.address}`;
  const to = request.headers.get('to')?.[0] ?? '';
  return [
    `SIP/2.0 ${status} ${reason}`,
    ...[top, ...vias.slice(1)].map((v) => `Via: ${v}`),
    `From: ${request.headers.get('from')?.[0] ?? ''}`,
    `To: ${to}${/;tag=/.test(to) ? '' : ';tag=lab1'}`,
    `Call-ID: ${request.headers.get('call-id')?.[0] ?? ''}`,
    `CSeq: ${request.headers.get('cseq')?.[0] ?? ''}`,
    'Server: node-lab-uas',
    'Allow: INVITE, ACK, BYE, CANCEL, OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

export interface UasOptions {
  address: string;
  port: number;
  transport: 'udp' | 'tcp' | 'tls';
  certificate?: Certificate;
  status?: number;
  reason?: string;
  /** Wait this long before the final answer. */
  delayMs?: number;
  /** Send 100 Trying at once, before the (delayed) final answer. */
  provisional?: boolean;
}

/** A UAS over UDP, TCP or TLS answering every OPTIONS (UDP: every transmission, like a stateless proxy). */
export async function startNodeUas(o: UasOptions): Promise<LabServer> {
  assertLabAddress(o.address);
  let received = 0;
  if (o.transport === 'udp') {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (msg, rinfo) => {
      const parsed = parseSipMessage(msg);
      if (!parsed.ok || parsed.message.kind !== 'request') return;
      received++;
      const peer = { address: rinfo.address, port: rinfo.port };
      if (o.provisional) socket.send(answerFor(parsed.message, 100, 'Trying', peer), rinfo.port, rinfo.address);
      const final = answerFor(parsed.message, o.status ?? 200, o.reason ?? 'OK', peer);
      setTimeout(() => socket.send(final, rinfo.port, rinfo.address, () => undefined), o.delayMs ?? 0);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(o.port, o.address, () => resolve());
    });
    return { address: o.address, port: o.port, received: () => received, stop: () => new Promise<void>((r) => socket.close(() => r())) };
  }
  const sockets = new Set<net.Socket>();
  const onConnection = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const framing = frameStream(buffered);
      buffered = framing.rest;
      for (const raw of framing.messages) {
        const parsed = parseSipMessage(raw);
        if (!parsed.ok || parsed.message.kind !== 'request') continue;
        received++;
        const peer = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
        if (o.provisional) socket.write(answerFor(parsed.message, 100, 'Trying', peer));
        const reply = answerFor(parsed.message, o.status ?? 200, o.reason ?? 'OK', peer);
        setTimeout(() => socket.writable && socket.write(reply), o.delayMs ?? 0);
      }
    });
  };
  const server =
    o.transport === 'tls'
      ? tls.createServer({ cert: o.certificate?.cert, key: o.certificate?.key }, onConnection)
      : net.createServer(onConnection);
  return listenStream(server, sockets, o, () => received);
}

/** Listen, and on stop() drop every open connection so close() does not wait for clients. */
async function listenStream(server: net.Server, sockets: Set<net.Socket>, o: { address: string; port: number }, received: () => number): Promise<LabServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.address, () => resolve());
  });
  return {
    address: o.address,
    port: o.port,
    received,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** What the garbage server sends back to anything it receives. */
export const GARBAGE_REPLIES = {
  binary: Buffer.from([0x00, 0xff, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02]),
  http: Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'),
  /** Starts like SIP, then is not. */
  brokenSip: Buffer.from('SIP/2.0 200 OK\r\nVia SIP/2.0/UDP nowhere\r\n\x01\x02 garbage\r\n\r\n'),
} as const;

export interface GarbageOptions {
  address: string;
  port: number;
  transport: 'udp' | 'tcp';
  reply: keyof typeof GARBAGE_REPLIES;
}

/** A server that answers every datagram / connection with bytes that are not a SIP response. */
export async function startGarbageServer(o: GarbageOptions): Promise<LabServer> {
  assertLabAddress(o.address);
  let received = 0;
  const payload = GARBAGE_REPLIES[o.reply];
  if (o.transport === 'udp') {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (_msg, rinfo) => {
      received++;
      socket.send(payload, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(o.port, o.address, () => resolve());
    });
    return { address: o.address, port: o.port, received: () => received, stop: () => new Promise<void>((r) => socket.close(() => r())) };
  }
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.once('data', () => {
      received++;
      socket.write(payload);
    });
  });
  return listenStream(server, sockets, o, () => received);
}
