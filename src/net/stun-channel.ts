// STUN channels and transactions: one socket to one server, inbound data as a queue the protocol
// code pulls from, and a request/response exchange over it with RFC 8489 retransmissions (UDP from
// RTO doubling, within the caller's budget). Over TCP/TLS, messages back to back, each one's length
// read from its header (RFC 8489 §6.2.2). The only code here that touches STUN/TURN sockets; the
// Binding and TURN probes in stun.ts speak through it. RTTs are wire times (wire-time.ts).
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { canonicalIp } from '../address.ts';
import { decodeMessage, formatTransportAddress, streamFrameLength, type StunMessage } from '../stun/codec.ts';
import type { StunTransport } from '../stun/uri.ts';
import { numericLookup, preparing, sendSoon, stampFirst, wireNow } from './wire-time.ts';

export interface StunEndpoint {
  /** An IP address (names are resolved by the caller, through every resolver). */
  host: string;
  port: number;
  family: 4 | 6;
}

export interface TlsSettings {
  /** SNI and the name the certificate must carry; default: the endpoint's address. */
  servername?: string;
  /** Accept any certificate (labs only). */
  insecure?: boolean;
  /** Extra CA certificates (PEM file), e.g. a lab's self-signed one. */
  caFile?: string;
}

export interface Budget {
  /** Per-request limit; connecting over TCP/TLS counts against it. */
  timeoutMs: number;
  /** First retransmission timeout over UDP; doubles after each retransmission. */
  rtoMs: number;
  /** Epoch ms after which nothing more may be sent (the run's deadline). */
  deadline: number;
  signal: AbortSignal;
}

export type ProbeFailure = 'timeout' | 'refused' | 'tls' | 'error-response' | 'bad-response' | 'closed' | 'aborted';

type Inbound =
  /** `at`: when the socket delivered it (wireNow), before any decoding. */
  | { kind: 'message'; bytes: Buffer; at: number }
  | { kind: 'foreign'; bytes: Buffer; from: string }
  | { kind: 'closed'; detail: string }
  | { kind: 'invalid-stream'; problem: string; sample: string };

type Pulled = Inbound | { kind: 'timeout' } | { kind: 'aborted' };

export const hex = (b: Buffer) => b.subarray(0, 32).toString('hex');

export class Channel {
  private readonly queue: Inbound[] = [];
  private wake: (() => void) | undefined;
  private ended: Inbound | undefined;

  constructor(
    readonly transport: StunTransport,
    readonly sendBytes: (b: Buffer) => void,
    readonly close: () => void,
  ) {}

  get reliable(): boolean {
    return this.transport !== 'udp';
  }

  push(item: Inbound): void {
    if (this.ended) return;
    if (item.kind === 'closed' || item.kind === 'invalid-stream') this.ended = item;
    else this.queue.push(item);
    this.wake?.();
  }

  /** The next inbound item, or timeout at `until` (performance.now() ms), or aborted. */
  async next(until: number, signal: AbortSignal): Promise<Pulled> {
    for (;;) {
      const item = this.queue.shift();
      if (item) return item;
      if (this.ended) return this.ended;
      if (signal.aborted) return { kind: 'aborted' };
      const wait = until - performance.now();
      if (wait <= 0) return { kind: 'timeout' };
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, wait);
        signal.addEventListener('abort', done, { once: true });
        this.wake = done;
      });
    }
  }
}

type Opened = { ok: true; channel: Channel; connectMs?: number } | { ok: false; failure: ProbeFailure; detail: string };

export function untilFrom(budget: Budget): number {
  const now = performance.now();
  return now + Math.max(0, Math.min(budget.timeoutMs, budget.deadline - Date.now()));
}

function openUdp(server: StunEndpoint): Promise<Opened> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket({ type: server.family === 6 ? 'udp6' : 'udp4', lookup: numericLookup });
    const serverIp = canonicalIp(server.host);
    const channel = new Channel(
      'udp',
      (b) =>
        socket.send(b, server.port, server.host, (err) => {
          if (err) channel.push({ kind: 'closed', detail: `send failed: ${(err as NodeJS.ErrnoException).code ?? err.message}` });
        }),
      () => {
        try {
          socket.close();
        } catch {
          // already closed
        }
      },
    );
    // Unconnected on purpose: the TURN relay test needs to see datagrams from addresses other than the server's.
    socket.on(
      'message',
      stampFirst((at, bytes: Buffer, rinfo: dgram.RemoteInfo) => {
        if (canonicalIp(rinfo.address) === serverIp && rinfo.port === server.port) channel.push({ kind: 'message', bytes, at });
        else channel.push({ kind: 'foreign', bytes, from: formatTransportAddress({ address: rinfo.address, port: rinfo.port }) });
      }),
    );
    let listening = false;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const detail = `socket error ${err.code ?? err.message}`;
      if (listening) return channel.push({ kind: 'closed', detail });
      channel.close();
      resolve({ ok: false, failure: 'closed', detail });
    });
    socket.once('listening', () => {
      listening = true;
      resolve({ ok: true, channel });
    });
    socket.bind(0);
  });
}

const TLS_ERROR = /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|HOSTNAME_MISMATCH|ERR_OSSL)/;

function openStream(server: StunEndpoint, transport: 'tcp' | 'tls', tlsSettings: TlsSettings | undefined, budget: Budget): Promise<Opened> {
  return new Promise((resolve) => {
    const started = performance.now();
    let socket: net.Socket;
    if (transport === 'tls') {
      const servername = tlsSettings?.servername;
      let ca: string | undefined;
      try {
        ca = tlsSettings?.caFile ? readFileSync(tlsSettings.caFile, 'utf8') : undefined;
      } catch (err) {
        resolve({ ok: false, failure: 'tls', detail: `cannot read the CA file ${tlsSettings?.caFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
        return;
      }
      socket = tls.connect({
        host: server.host,
        port: server.port,
        // SNI only carries names; with an address the certificate must name the address itself.
        servername: servername && net.isIP(servername) === 0 ? servername : undefined,
        checkServerIdentity: (_host, cert) => tls.checkServerIdentity(servername ?? server.host, cert),
        rejectUnauthorized: !tlsSettings?.insecure,
        ca: ca ? [...tls.rootCertificates, ca] : undefined,
      });
    } else {
      socket = net.connect({ host: server.host, port: server.port });
    }
    socket.setNoDelay(true);
    let tcpUp = false;
    let settled = false;
    let buffered: Buffer = Buffer.alloc(0);
    const channel = new Channel(transport, (b) => socket.write(b), () => {
      // end() lets TLS say close_notify; destroy() follows in case the server never closes its side.
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    });
    const settle = (r: Opened) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      budget.signal.removeEventListener('abort', onAbort);
      if (!r.ok) socket.destroy();
      resolve(r);
    };
    const onAbort = () => settle({ ok: false, failure: 'aborted', detail: 'the run budget was spent' });
    const timer = setTimeout(
      () => settle({ ok: false, failure: 'timeout', detail: tcpUp ? `no TLS handshake within ${Math.round(performance.now() - started)} ms` : `no TCP connection within ${Math.round(performance.now() - started)} ms` }),
      Math.max(0, untilFrom(budget) - performance.now()),
    );
    budget.signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      tcpUp = true;
      if (transport === 'tcp') settle({ ok: true, channel, connectMs: performance.now() - started });
    });
    if (transport === 'tls') socket.once('secureConnect', () => settle({ ok: true, channel, connectMs: performance.now() - started }));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (!settled) {
        if (code === 'ECONNREFUSED') settle({ ok: false, failure: 'refused', detail: `connection refused: nothing listens on ${transport} ${formatTransportAddress({ address: server.host, port: server.port })}` });
        else if (transport === 'tls' && (tcpUp || TLS_ERROR.test(code))) settle({ ok: false, failure: 'tls', detail: `TLS handshake failed: ${code ? `${code}: ` : ''}${err.message}` });
        else settle({ ok: false, failure: 'closed', detail: `${transport} connection failed: ${code || err.message}` });
        return;
      }
      channel.push({ kind: 'closed', detail: `the connection failed: ${code || err.message}` });
    });
    socket.on('close', () => {
      if (!settled) settle({ ok: false, failure: transport === 'tls' && tcpUp ? 'tls' : 'closed', detail: tcpUp ? 'the server closed the connection during the handshake' : 'the connection closed before it was established' });
      // After any data read before it (that is handled a turn later, see stampFirst).
      setImmediate(() => channel.push({ kind: 'closed', detail: 'the server closed the connection' }));
    });
    socket.on('data', stampFirst((at, chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      for (;;) {
        const frame = streamFrameLength(buffered);
        if (!frame) return;
        if ('problem' in frame) {
          channel.push({ kind: 'invalid-stream', problem: frame.problem, sample: hex(buffered) });
          socket.destroy();
          return;
        }
        if (buffered.length < frame.length) return;
        const bytes = buffered.subarray(0, frame.length);
        buffered = buffered.subarray(frame.length);
        // ChannelData frames (first bits 01) are not used by this client; only STUN messages matter.
        if ((bytes[0] & 0xc0) === 0) channel.push({ kind: 'message', bytes, at });
      }
    }));
  });
}

export async function openChannel(server: StunEndpoint, transport: StunTransport, tlsSettings: TlsSettings | undefined, budget: Budget): Promise<Opened> {
  if (budget.signal.aborted) return { ok: false, failure: 'aborted', detail: 'the run budget was spent' };
  const prepared = preparing();
  try {
    return await (transport === 'udp' ? openUdp(server) : openStream(server, transport, tlsSettings, budget));
  } finally {
    prepared();
  }
}

// ---------------------------------------------------------------------------------------------
// Transactions.

type TxResult =
  | { kind: 'response'; message: StunMessage; rttMs: number; elapsedMs: number; retransmissions: number }
  | { kind: ProbeFailure; detail: string; elapsedMs: number; retransmissions: number; sample?: string };

export interface TxOptions {
  until: number;
  rtoMs: number;
  signal: AbortSignal;
  /** Messages that are not the answer (Data indications, datagrams from the relay). */
  onOther?: (m: StunMessage | undefined, bytes: Buffer) => void;
  /** Keep retransmitting the request until the answer arrives (also over TCP: for indications through a relay). */
  resendOverStreams?: boolean;
}

export async function transact(ch: Channel, request: Buffer, transactionId: Buffer | undefined, o: TxOptions): Promise<TxResult> {
  // Sent once the work queued in this turn is done (see wire-time.ts), stamped as it is handed over.
  await new Promise<void>((resolve) => sendSoon(resolve));
  const started = wireNow();
  let lastSent = started;
  let retransmissions = 0;
  let rto = o.rtoMs;
  // Over UDP the server's unusable replies are noted, not believed: a later datagram may still be the answer.
  const unusable: { problem: string; sample: string }[] = [];
  ch.sendBytes(request);
  let nextSend = ch.reliable && !o.resendOverStreams ? Infinity : started + rto;
  const elapsed = () => performance.now() - started;
  for (;;) {
    const ev = await ch.next(Math.min(nextSend, o.until), o.signal);
    switch (ev.kind) {
      case 'aborted':
        return { kind: 'aborted', detail: 'the run budget was spent', elapsedMs: elapsed(), retransmissions };
      case 'timeout': {
        const now = performance.now();
        if (now >= o.until - 1) {
          if (unusable.length > 0) {
            return {
              kind: 'bad-response',
              detail: `no usable answer in ${Math.round(elapsed())} ms; the server sent ${unusable.length} unusable message${unusable.length === 1 ? '' : 's'}: ${unusable[0].problem}`,
              sample: unusable[0].sample,
              elapsedMs: elapsed(),
              retransmissions,
            };
          }
          return { kind: 'timeout', detail: `no answer in ${Math.round(elapsed())} ms (${retransmissions} retransmission${retransmissions === 1 ? '' : 's'})`, elapsedMs: elapsed(), retransmissions };
        }
        lastSent = wireNow();
        ch.sendBytes(request);
        retransmissions++;
        rto *= 2;
        nextSend = now + rto;
        continue;
      }
      case 'closed':
        return { kind: 'closed', detail: ev.detail, elapsedMs: elapsed(), retransmissions };
      case 'invalid-stream':
        return { kind: 'bad-response', detail: ev.problem, sample: ev.sample, elapsedMs: elapsed(), retransmissions };
      case 'foreign':
        o.onOther?.(undefined, ev.bytes);
        continue;
      case 'message': {
        const decoded = decodeMessage(ev.bytes);
        if (!decoded.ok) {
          if (ch.reliable) return { kind: 'bad-response', detail: `undecodable reply: ${decoded.problem}`, sample: hex(ev.bytes), elapsedMs: elapsed(), retransmissions };
          unusable.push({ problem: `undecodable (${decoded.problem})`, sample: hex(ev.bytes) });
          continue;
        }
        const m = decoded.message;
        if (m.cls === 'indication') {
          o.onOther?.(m, ev.bytes);
          continue;
        }
        if (!transactionId || !m.transactionId.equals(transactionId)) {
          const problem = 'a response carrying a transaction id we never sent';
          if (ch.reliable) return { kind: 'bad-response', detail: problem, sample: hex(ev.bytes), elapsedMs: elapsed(), retransmissions };
          unusable.push({ problem, sample: hex(ev.bytes) });
          continue;
        }
        if (m.cls === 'request') {
          return { kind: 'bad-response', detail: 'the server sent our own request back (a reflector, not a STUN server)', sample: hex(ev.bytes), elapsedMs: elapsed(), retransmissions };
        }
        // The socket's delivery time, not now: decoding and this loop's turn are not the server's.
        return { kind: 'response', message: m, rttMs: ev.at - lastSent, elapsedMs: ev.at - started, retransmissions };
      }
    }
  }
}

