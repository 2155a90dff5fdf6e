// DNS over a byte stream, each message framed by a 2-byte length (RFC 1035 §4.2.2, RFC 7858):
// plain TCP (one connection per question, when a UDP reply was truncated) and DNS over TLS (one
// connection per server, kept open and shared by its questions, as RFC 7858 §3.4 asks).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { randomInt } from 'node:crypto';
import type { ServerAddress } from '../address.ts';
import type { AttemptResult, DnsQuery, TlsOptions } from './dns-types.ts';
import { buildQuery, judgeReply } from './dns-wire.ts';
import { socketFailure } from './dns-udp.ts';

/** The CAs to trust and the name to verify; read at each connection, so a renewed CA file is picked up. */
export function tlsSettings(server: ServerAddress, options: TlsOptions): { ok: true; ca?: string[]; servername?: string } | { ok: false; failure: AttemptResult } {
  let ca: string[] | undefined;
  try {
    ca = options.caFile ? [...tls.rootCertificates, readFileSync(options.caFile, 'utf8')] : undefined;
  } catch (err) {
    return { ok: false, failure: { ok: false, kind: 'tls', detail: `cannot read the CA file ${options.caFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` } };
  }
  return { ok: true, ca, servername: options.servername ?? (net.isIP(server.host) ? undefined : server.host) };
}

interface Waiting {
  q: DnsQuery;
  resolve: (r: AttemptResult) => void;
  timer: NodeJS.Timeout;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** Socket errors: the rest are TLS (handshake, certificate) errors. */
const ERRNO = /^E[A-Z]+$/;

/** One stream connection carrying several questions, matched to their replies by id. */
export class StreamChannel {
  private socket?: net.Socket;
  private ready?: Promise<AttemptResult | undefined>;
  private readonly waiting = new Map<number, Waiting>();
  private buffered: Buffer = Buffer.alloc(0);
  private broken?: AttemptResult;

  constructor(
    private readonly server: ServerAddress,
    private readonly kind: 'TCP' | 'TLS',
    private readonly tlsOptions: TlsOptions = {},
  ) {}

  private connect(): Promise<AttemptResult | undefined> {
    this.broken = undefined;
    this.buffered = Buffer.alloc(0);
    const { host, port } = this.server;
    let socket: net.Socket;
    if (this.kind === 'TLS') {
      const settings = tlsSettings(this.server, this.tlsOptions);
      if (!settings.ok) return Promise.resolve(settings.failure);
      socket = tls.connect({ host, port, servername: settings.servername, ca: settings.ca, ALPNProtocols: ['dot'] });
    } else {
      socket = net.connect({ host, port });
    }
    this.socket = socket;
    socket.setNoDelay(true);
    let established = false;
    const ready = new Promise<AttemptResult | undefined>((resolve) => {
      socket.once(this.kind === 'TLS' ? 'secureConnect' : 'connect', () => {
        established = true;
        resolve(undefined);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(this.failureOf(err, established)));
      socket.once('close', () => resolve({ ok: false, kind: 'timeout', detail: `${this.kind} connection closed before it was ready` }));
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(this.failureOf(err, established)));
    socket.on('close', () => {
      const partial = this.buffered.length;
      this.fail(
        partial > 0
          ? { ok: false, kind: 'malformed', detail: `${this.kind} connection closed after ${partial} bytes without a full reply` }
          : { ok: false, kind: 'timeout', detail: `${this.kind} connection closed before the reply` },
      );
      if (this.socket === socket) {
        this.socket = undefined;
        this.ready = undefined;
      }
    });
    return ready;
  }

  private failureOf(err: NodeJS.ErrnoException, established: boolean): AttemptResult {
    const code = err.code ?? '';
    if (this.kind === 'TLS' && !ERRNO.test(code)) {
      return { ok: false, kind: 'tls', detail: `TLS ${established ? 'error' : 'handshake failed'} with ${this.server.host}:${this.server.port}: ${err.message}${code ? ` (${code})` : ''}` };
    }
    return socketFailure(err, this.kind);
  }

  async exchange(q: DnsQuery, ednsBufferSize: number, timeoutMs: number, signal?: AbortSignal): Promise<AttemptResult> {
    if (signal?.aborted) return { ok: false, kind: 'aborted', detail: 'the run budget was spent' };
    let id = randomInt(0, 65536);
    while (this.waiting.has(id)) id = randomInt(0, 65536);
    const result = new Promise<AttemptResult>((resolve) => {
      const w: Waiting = { q, resolve, signal, timer: setTimeout(() => this.settle(id, { ok: false, kind: 'timeout', detail: `timed out over ${this.kind}` }), timeoutMs) };
      if (signal) {
        w.onAbort = () => this.settle(id, { ok: false, kind: 'aborted', detail: 'the run budget was spent' });
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiting.set(id, w);
    });
    this.ready ??= this.connect();
    const failed = await this.ready;
    if (failed) {
      this.ready = undefined;
      this.settle(id, failed);
    } else if (this.waiting.has(id)) {
      const message = buildQuery(id, q, ednsBufferSize);
      const framed = Buffer.allocUnsafe(message.length + 2);
      framed.writeUInt16BE(message.length, 0);
      message.copy(framed, 2);
      this.socket?.write(framed);
    }
    return result;
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 2) {
      const length = this.buffered.readUInt16BE(0);
      if (this.buffered.length < length + 2) return;
      const message = this.buffered.subarray(2, length + 2);
      this.buffered = this.buffered.subarray(length + 2);
      const id = message.length >= 2 ? message.readUInt16BE(0) : -1;
      const w = this.waiting.get(id);
      if (!w) {
        // Bytes that answer nothing we asked: every question waiting on this connection is owed a reply.
        for (const other of [...this.waiting.keys()]) this.settle(other, { ok: false, kind: 'malformed', detail: `the server sent a ${message.length}-byte ${this.kind} message that answers no question of ours` });
        continue;
      }
      const verdict = judgeReply(message, id, w.q);
      if (verdict.kind === 'reply') this.settle(id, { ok: true, packet: verdict.packet, bytes: message.length });
      else this.settle(id, { ok: false, kind: 'malformed', detail: verdict.kind === 'malformed' ? verdict.detail : `${this.kind} reply: ${verdict.why}` });
    }
  }

  private settle(id: number, r: AttemptResult): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
    w.resolve(r);
    // An idle connection must not keep the process alive.
    if (this.waiting.size === 0) this.socket?.unref();
    else this.socket?.ref();
  }

  private fail(r: AttemptResult): void {
    this.broken ??= r;
    for (const id of [...this.waiting.keys()]) this.settle(id, this.broken);
  }

  /** Every question still waiting ends now with `r`; the connection stays. */
  cancelPending(r: AttemptResult): void {
    for (const id of [...this.waiting.keys()]) this.settle(id, r);
  }

  close(): void {
    this.fail({ ok: false, kind: 'aborted', detail: 'the client was closed' });
    this.socket?.destroy();
    this.socket = undefined;
    this.ready = undefined;
  }
}

/** One question over a fresh TCP connection (after a truncated UDP reply). */
export async function tcpExchange(server: ServerAddress, q: DnsQuery, ednsBufferSize: number, timeoutMs: number, signal?: AbortSignal): Promise<AttemptResult> {
  const channel = new StreamChannel(server, 'TCP');
  try {
    return await channel.exchange(q, ednsBufferSize, timeoutMs, signal);
  } finally {
    channel.close();
  }
}
