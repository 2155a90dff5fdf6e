// DNS over HTTPS (RFC 8484): the query as an application/dns-message POST over one HTTP/2
// connection per server, the reply as the response body. The id is 0, as §4.1 recommends (the
// stream already pairs the answer with its question).
import http2 from 'node:http2';
import type { ServerAddress } from '../address.ts';
import type { AttemptResult, DnsQuery, TlsOptions } from './dns-types.ts';
import { buildQuery, judgeReply } from './dns-wire.ts';
import { socketFailure } from './dns-udp.ts';
import { tlsSettings } from './dns-stream.ts';

/** A DoH reply larger than this is not a DNS message (65,535 is the protocol's own limit). */
const MAX_BODY = 65_535;
const ERRNO = /^E[A-Z]+$/;

export class HttpsChannel {
  private session?: http2.ClientHttp2Session;
  private readonly authority: string;
  /** How to end each question still waiting (cancelPending). */
  private readonly waiting = new Set<(r: AttemptResult) => void>();

  constructor(private readonly server: ServerAddress, private readonly tlsOptions: TlsOptions = {}) {
    const host = server.family === 6 ? `[${server.host}]` : server.host;
    this.authority = `https://${host}:${server.port}`;
  }

  private open(): { session: http2.ClientHttp2Session } | { failure: AttemptResult } {
    if (this.session && !this.session.closed && !this.session.destroyed) return { session: this.session };
    const settings = tlsSettings(this.server, this.tlsOptions);
    if (!settings.ok) return { failure: settings.failure };
    const session = http2.connect(this.authority, { servername: settings.servername, ca: settings.ca });
    // Errors reach each request's own 'error'; without a listener here they would throw.
    session.on('error', () => {});
    session.on('close', () => {
      if (this.session === session) this.session = undefined;
    });
    session.on('goaway', () => {
      if (this.session === session) this.session = undefined;
    });
    session.unref();
    this.session = session;
    return { session };
  }

  private failureOf(failure: NodeJS.ErrnoException): AttemptResult {
    // A failed handshake reaches the request as a cancelled stream whose cause is the TLS error.
    const err = failure.code === 'ERR_HTTP2_STREAM_CANCEL' && failure.cause instanceof Error ? (failure.cause as NodeJS.ErrnoException) : failure;
    const code = err.code ?? '';
    if (ERRNO.test(code)) return socketFailure(err, 'HTTPS');
    if (code.startsWith('ERR_HTTP2')) return { ok: false, kind: 'timeout', detail: `HTTP/2: ${err.message} (${code})` };
    return { ok: false, kind: 'tls', detail: `TLS handshake failed with ${this.server.host}:${this.server.port}: ${err.message}${code ? ` (${code})` : ''}` };
  }

  exchange(q: DnsQuery, ednsBufferSize: number, timeoutMs: number, signal?: AbortSignal): Promise<AttemptResult> {
    if (signal?.aborted) return Promise.resolve({ ok: false, kind: 'aborted', detail: 'the run budget was spent' });
    return new Promise((resolve) => {
      let done = false;
      let request: http2.ClientHttp2Stream;
      const finish = (r: AttemptResult) => {
        if (done) return;
        done = true;
        this.waiting.delete(finish);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (request !== undefined && !request.closed) request.close(http2.constants.NGHTTP2_CANCEL);
        resolve(r);
      };
      const onAbort = () => finish({ ok: false, kind: 'aborted', detail: 'the run budget was spent' });
      const timer = setTimeout(() => finish({ ok: false, kind: 'timeout', detail: 'timed out over HTTPS' }), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.add(finish);
      const opened = this.open();
      if ('failure' in opened) return finish(opened.failure);
      try {
        request = opened.session.request({
          ':method': 'POST',
          ':path': this.server.path ?? '/dns-query',
          'content-type': 'application/dns-message',
          accept: 'application/dns-message',
        });
      } catch (err) {
        finish(this.failureOf(err as NodeJS.ErrnoException));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let status = 0;
      let type = '';
      request.on('response', (headers) => {
        status = Number(headers[':status']);
        type = String(headers['content-type'] ?? '');
      });
      request.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY) finish({ ok: false, kind: 'malformed', detail: `the DoH reply is larger than ${MAX_BODY} bytes` });
        else chunks.push(chunk);
      });
      request.on('end', () => {
        if (status !== 200) return finish({ ok: false, kind: 'refused', detail: `HTTP ${status} from ${this.authority}${this.server.path ?? ''}: the DoH server did not answer the question` });
        if (!type.toLowerCase().startsWith('application/dns-message')) return finish({ ok: false, kind: 'malformed', detail: `the DoH reply is ${type || 'without a content type'}, not application/dns-message` });
        const body = Buffer.concat(chunks);
        const verdict = judgeReply(body, 0, q);
        if (verdict.kind === 'reply') finish({ ok: true, packet: verdict.packet, bytes: body.length });
        else finish({ ok: false, kind: 'malformed', detail: verdict.kind === 'malformed' ? verdict.detail : `DoH reply: ${verdict.why}` });
      });
      request.on('error', (err: NodeJS.ErrnoException) => finish(this.failureOf(err)));
      // The session is unref'd: while a question waits, its timer keeps the process alive.
      request.on('close', () => finish({ ok: false, kind: 'timeout', detail: `the HTTP/2 stream closed before a reply (code ${request.rstCode})` }));
      request.end(buildQuery(0, q, ednsBufferSize));
    });
  }

  /** Every question still waiting ends now with `r`; the connection stays. */
  cancelPending(r: AttemptResult): void {
    for (const finish of [...this.waiting]) finish(r);
  }

  close(): void {
    this.session?.destroy();
    this.session = undefined;
  }
}
