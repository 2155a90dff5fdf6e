// The only code that opens SIP sockets: one OPTIONS transaction over UDP, TCP or TLS.
// It never throws for a bad carrier: refusals, TLS failures, silence and garbage are all
// outcomes in a SipProbeResult, so the check can turn them into findings.
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import {
  BRANCH_COOKIE,
  DEFAULT_T1_MS,
  DEFAULT_T2_MS,
  buildOptions,
  frameStream,
  matchesTransaction,
  nextRetransmitInterval,
  parseSipMessage,
  printable,
  summarizeResponse,
  type ResponseSummary,
  type SipMessage,
  type Transaction,
} from '../sip/message.ts';
import { hostPort, type SipTransport } from '../sip/uri.ts';
import { canonicalIp } from '../address.ts';
import { numericLookup, preparing, sendSoon, stampFirst, wireNow } from './wire-time.ts';

export const USER_AGENT = 'dialer-audit/0.1';

export interface SipProbe {
  transport: SipTransport;
  /** An IP address (IPv6 without brackets). */
  address: string;
  port: number;
  requestUri: string;
  fromUser: string;
  fromDomain?: string;
  /** Pad the request to this many bytes. */
  padTo?: number;
  /** The whole transaction (connect, handshake, retransmissions) must end within this. */
  timeoutMs: number;
  t1Ms?: number;
  t2Ms?: number;
  tls?: { servername?: string; insecure: boolean };
}

export interface TlsPeer {
  authorized: boolean;
  authorizationError?: string;
  subject?: string;
  issuer?: string;
  validTo?: string;
  daysLeft?: number;
  protocol?: string;
}

export type SipOutcome = 'answered' | 'timeout' | 'unavailable' | 'malformed' | 'aborted';

export interface SipProbeResult {
  outcome: SipOutcome;
  transport: SipTransport;
  address: string;
  port: number;
  /** Size of the request in bytes (the UDP payload). */
  bytesSent: number;
  /** How many times the request went out (UDP retransmissions + 1). */
  sends: number;
  /**
   * From handing the first transmission to the socket to reading the final response from it
   * (src/net/wire-time.ts): no lookup, limiter wait or parsing inside.
   */
  rttMs?: number;
  /** TCP/TLS: time to establish the connection (and handshake). */
  connectMs?: number;
  response?: ResponseSummary;
  /** Provisional (1xx) statuses seen before the final one. */
  provisional?: number[];
  /** Set when the final response came from another address than the one we sent to. */
  respondedFrom?: string;
  /** Our address:port as the socket saw it. */
  local?: string;
  /** Why it failed, in words (refusal, TLS error, garbage). */
  detail?: string;
  /** Where a connection-oriented probe stopped: connect, tls handshake, or waiting for the response. */
  stage?: 'connect' | 'tls' | 'response';
  /** The first bytes of an unparseable reply, printable. */
  sample?: string;
  /** Datagrams that parsed but belonged to no transaction of ours. */
  strays?: number;
  tls?: TlsPeer;
}

export interface SipClient {
  options(probe: SipProbe, signal?: AbortSignal): Promise<SipProbeResult>;
}

function newTransaction(): Transaction & { fromTag: string } {
  return {
    branch: `${BRANCH_COOKIE}${randomBytes(10).toString('hex')}`,
    callId: `${randomBytes(12).toString('hex')}@dialer-audit`,
    cseq: 1,
    method: 'OPTIONS',
    fromTag: randomBytes(6).toString('hex'),
  };
}

function requestFor(probe: SipProbe, t: ReturnType<typeof newTransaction>, local: { address: string; port: number }): Buffer {
  return Buffer.from(
    buildOptions({
      requestUri: probe.requestUri,
      transport: probe.transport,
      local,
      fromUser: probe.fromUser,
      fromDomain: probe.fromDomain,
      branch: t.branch,
      callId: t.callId,
      fromTag: t.fromTag,
      cseq: t.cseq,
      userAgent: USER_AGENT,
      padTo: probe.padTo,
    }),
    'utf8',
  );
}

/** The source address the kernel would use toward `address` (a connected UDP socket sends nothing). */
function localAddressToward(address: string, port: number, family: 4 | 6): Promise<string | { error: string }> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    s.on('error', (err: NodeJS.ErrnoException) => {
      s.close();
      resolve({ error: err.code ?? err.message });
    });
    s.connect(port, address, () => {
      const local = s.address().address;
      s.close();
      resolve(local);
    });
  });
}

function familyOf(address: string): 4 | 6 {
  return net.isIPv6(address) ? 6 : 4;
}

export class NodeSipClient implements SipClient {
  options(probe: SipProbe, signal?: AbortSignal): Promise<SipProbeResult> {
    if (probe.transport === 'udp') return udpOptions(probe, signal);
    return streamOptions(probe, signal);
  }
}

/** One OPTIONS over UDP with Timer E retransmissions until a final response or the budget. */
async function udpOptions(probe: SipProbe, signal?: AbortSignal): Promise<SipProbeResult> {
  const base = { transport: probe.transport, address: probe.address, port: probe.port };
  const family = familyOf(probe.address);
  if (signal?.aborted) return { ...base, outcome: 'aborted', bytesSent: 0, sends: 0 };
  const prepared = preparing();
  const localAddress = await localAddressToward(probe.address, probe.port, family);
  if (typeof localAddress !== 'string') {
    prepared();
    return { ...base, outcome: 'unavailable', bytesSent: 0, sends: 0, detail: `no route to ${probe.address} (${localAddress.error})`, stage: 'connect' };
  }
  const t1 = probe.t1Ms ?? DEFAULT_T1_MS;
  const t2 = probe.t2Ms ?? DEFAULT_T2_MS;
  const t = newTransaction();
  const destination = canonicalIp(probe.address);

  return new Promise((resolve) => {
    // Unconnected on purpose: a carrier may answer from another address of its cluster (the
    // response is matched by branch, Call-ID and CSeq instead), and a black hole must look like
    // silence, exactly as it does to the trunk, not like an ICMP error.
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', lookup: numericLookup });
    let request: Buffer = Buffer.alloc(0);
    let sends = 0;
    let firstSentAt = 0;
    let strays = 0;
    let sample: string | undefined;
    let garbageDetail: string | undefined;
    let provisional: number[] = [];
    let interval: number | undefined;
    let retransmitTimer: NodeJS.Timeout | undefined;
    let done = false;
    let local = '';

    const finish = (r: Omit<SipProbeResult, 'transport' | 'address' | 'port' | 'bytesSent' | 'sends'>) => {
      if (done) return;
      done = true;
      prepared();
      clearTimeout(deadline);
      clearTimeout(retransmitTimer);
      signal?.removeEventListener('abort', onAbort);
      socket.close();
      resolve({ ...base, bytesSent: request.length, sends, local, strays: strays || undefined, provisional: provisional.length ? provisional : undefined, ...r });
    };
    const onAbort = () => finish({ outcome: 'aborted', detail: 'the run budget was spent' });
    const deadline = setTimeout(() => {
      if (garbageDetail) finish({ outcome: 'malformed', detail: garbageDetail, sample });
      else finish({ outcome: 'timeout', detail: `no response to ${sends} transmission${sends === 1 ? '' : 's'} within ${probe.timeoutMs} ms` });
    }, probe.timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });

    const send = () => {
      if (done) return;
      if (sends === 0) firstSentAt = wireNow();
      sends++;
      socket.send(request, probe.port, probe.address, (err) => {
        if (err) finish({ outcome: 'unavailable', detail: `cannot send ${request.length} bytes: ${(err as NodeJS.ErrnoException).code ?? err.message}`, stage: 'connect' });
      });
      interval = nextRetransmitInterval(interval, provisional.length > 0, t1, t2);
      retransmitTimer = setTimeout(send, interval);
    };

    socket.on('error', (err: NodeJS.ErrnoException) => finish({ outcome: 'unavailable', detail: `UDP socket error ${err.code ?? err.message}`, stage: 'connect' }));
    socket.on('message', stampFirst((receivedAt, msg: Buffer, rinfo: dgram.RemoteInfo) => {
      if (done) return;
      const parsed = parseSipMessage(msg);
      if (!parsed.ok) {
        // Keep listening: the real answer may still come; garbage alone becomes 'malformed' at the deadline.
        garbageDetail ??= `${msg.length}-byte reply from ${hostPort(rinfo.address, rinfo.port)} is not SIP: ${parsed.error}`;
        sample ??= printable(msg.subarray(0, 120).toString('latin1'));
        return;
      }
      if (!matchesTransaction(parsed.message, t)) {
        strays++;
        return;
      }
      const response = summarizeResponse(parsed.message);
      if (response.status < 200) {
        if (!provisional.includes(response.status)) provisional = [...provisional, response.status];
        return;
      }
      const from = hostPort(rinfo.address, rinfo.port);
      const sameSource = canonicalIp(rinfo.address) === destination && rinfo.port === probe.port;
      finish({ outcome: 'answered', rttMs: receivedAt - firstSentAt, response, respondedFrom: sameSource ? undefined : from });
    }));
    socket.bind({ address: localAddress, port: 0 }, () => {
      if (done) return;
      const bound = socket.address();
      local = hostPort(bound.address, bound.port);
      request = requestFor(probe, t, { address: bound.address, port: bound.port });
      prepared();
      sendSoon(send);
    });
  });
}

/** One OPTIONS over a fresh TCP or TLS connection; the connection is closed afterwards. */
function streamOptions(probe: SipProbe, signal?: AbortSignal): Promise<SipProbeResult> {
  const base = { transport: probe.transport, address: probe.address, port: probe.port };
  if (signal?.aborted) return Promise.resolve({ ...base, outcome: 'aborted', bytesSent: 0, sends: 0 });
  const t = newTransaction();
  const isTls = probe.transport === 'tls';
  const label = isTls ? 'TLS' : 'TCP';

  return new Promise((resolve) => {
    const started = performance.now();
    const prepared = preparing();
    let stage: 'connect' | 'tls' | 'response' = 'connect';
    let request: Buffer = Buffer.alloc(0);
    let sentAt = 0;
    let connectMs: number | undefined;
    let buffered: Buffer = Buffer.alloc(0);
    let provisional: number[] = [];
    let peer: TlsPeer | undefined;
    let local: string | undefined;
    let done = false;

    const socket: net.Socket = isTls
      ? tls.connect({
          host: probe.address,
          port: probe.port,
          // SNI only for names: RFC 6066 forbids addresses in server_name.
          servername: probe.tls?.servername && !net.isIP(probe.tls.servername) ? probe.tls.servername : undefined,
          // Verified by hand below, so the certificate is reported even when it is not trusted.
          rejectUnauthorized: false,
          checkServerIdentity: probe.tls?.servername ? undefined : () => undefined,
        })
      : net.connect({ host: probe.address, port: probe.port });

    const finish = (r: Omit<SipProbeResult, 'transport' | 'address' | 'port' | 'bytesSent' | 'sends'>) => {
      if (done) return;
      done = true;
      prepared();
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve({
        ...base,
        bytesSent: request.length,
        sends: request.length > 0 ? 1 : 0,
        connectMs,
        local,
        tls: peer,
        stage: r.outcome === 'answered' ? undefined : stage,
        provisional: provisional.length ? provisional : undefined,
        ...r,
      });
    };
    const onAbort = () => finish({ outcome: 'aborted', detail: 'the run budget was spent' });
    const deadline = setTimeout(() => {
      if (stage === 'tls') {
        // TCP works but TLS never completes: the port does not speak TLS, which is a transport failure.
        finish({ outcome: 'unavailable', detail: `TCP connected but the TLS handshake did not complete within ${probe.timeoutMs} ms (is TLS served on this port?)` });
        return;
      }
      const what = stage === 'connect' ? `the TCP handshake with ${hostPort(probe.address, probe.port)} did not complete` : 'no response';
      finish({ outcome: 'timeout', detail: `${what} within ${probe.timeoutMs} ms` });
    }, probe.timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });

    const sendRequest = () => {
      connectMs = performance.now() - started;
      local = socket.localAddress ? hostPort(socket.localAddress, socket.localPort ?? 0) : undefined;
      stage = 'response';
      request = requestFor(probe, t, { address: socket.localAddress ?? '0.0.0.0', port: socket.localPort ?? 0 });
      prepared();
      sendSoon(() => {
        if (done) return;
        sentAt = wireNow();
        socket.write(request);
      });
    };

    if (isTls) {
      const tlsSocket = socket as tls.TLSSocket;
      socket.on('connect', () => {
        stage = 'tls';
      });
      tlsSocket.on('secureConnect', () => {
        peer = describePeer(tlsSocket);
        if (!peer.authorized && !probe.tls?.insecure) {
          finish({ outcome: 'unavailable', detail: `the TLS certificate is not trusted: ${peer.authorizationError ?? 'unknown reason'}`, stage: 'tls' });
          return;
        }
        sendRequest();
      });
    } else {
      socket.on('connect', sendRequest);
    }

    socket.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (code === 'ETIMEDOUT') finish({ outcome: 'timeout', detail: `${label} ${code}` });
      else if (code === 'ECONNREFUSED') finish({ outcome: 'unavailable', detail: `connection refused: nothing listens on ${label} ${hostPort(probe.address, probe.port)}` });
      else if (stage === 'tls' || (isTls && stage === 'connect' && !code.startsWith('E'))) finish({ outcome: 'unavailable', detail: `TLS handshake failed: ${tlsReason(err)}`, stage: 'tls' });
      else finish({ outcome: 'unavailable', detail: `${label} ${code || err.message}` });
    });
    // After any data read before it (that is handled a turn later, see stampFirst).
    socket.on('close', () => setImmediate(() => {
      if (stage === 'response') finish({ outcome: 'unavailable', detail: `the carrier closed the ${label} connection without a final response` });
      else finish({ outcome: 'unavailable', detail: `the ${label} connection closed during the ${stage === 'tls' ? 'TLS handshake' : 'handshake'}`, stage: isTls && stage === 'connect' ? 'tls' : stage });
    }));
    socket.on('data', stampFirst((receivedAt, chunk: Buffer) => {
      if (done) return;
      buffered = Buffer.concat([buffered, chunk]);
      const framing = frameStream(buffered);
      buffered = framing.rest;
      for (const raw of framing.messages) {
        const parsed = parseSipMessage(raw);
        if (!parsed.ok) {
          finish({ outcome: 'malformed', detail: `the ${label} reply is not SIP: ${parsed.error}`, sample: printable(raw.subarray(0, 120).toString('latin1')) });
          return;
        }
        if (handle(parsed.message, receivedAt)) return;
      }
      if (framing.error) {
        finish({ outcome: 'malformed', detail: framing.error, sample: printable(framing.rest.subarray(0, 120).toString('latin1')) });
      }
    }));

    /** True when the transaction is over. */
    const handle = (m: SipMessage, receivedAt: number): boolean => {
      if (!matchesTransaction(m, t)) return false;
      const response = summarizeResponse(m);
      if (response.status < 200) {
        if (!provisional.includes(response.status)) provisional = [...provisional, response.status];
        return false;
      }
      finish({ outcome: 'answered', rttMs: receivedAt - sentAt, response });
      return true;
    };
  });
}

/** OpenSSL's reason ("wrong version number") without its file and line noise. */
function tlsReason(err: NodeJS.ErrnoException & { reason?: string }): string {
  const reason = err.reason ?? err.message.split('\n')[0].replace(/^.*:error:[^:]*:[^:]*:[^:]*:/, '').replace(/:[^:]*\.c:\d+:?$/, '');
  return err.code ? `${reason} (${err.code})` : reason;
}

function describePeer(s: tls.TLSSocket): TlsPeer {
  const cert = s.getPeerCertificate();
  const validTo = cert?.valid_to ? new Date(cert.valid_to) : undefined;
  const name = (x: unknown): string | undefined => {
    if (!x || typeof x !== 'object') return undefined;
    const o = x as Record<string, string | string[]>;
    const cn = o.CN ?? o.O;
    return Array.isArray(cn) ? cn.join(', ') : cn;
  };
  return {
    authorized: s.authorized,
    authorizationError: s.authorizationError ? String(s.authorizationError) : undefined,
    subject: name(cert?.subject),
    issuer: name(cert?.issuer),
    validTo: validTo && !Number.isNaN(validTo.getTime()) ? validTo.toISOString() : undefined,
    daysLeft: validTo && !Number.isNaN(validTo.getTime()) ? Math.floor((validTo.getTime() - Date.now()) / 86_400_000) : undefined,
    protocol: s.getProtocol() ?? undefined,
  };
}

/** The operating system's resolver, used only when the config lists no resolvers to ask. */
export async function systemLookup(name: string): Promise<{ ok: true; addresses: string[] } | { ok: false; detail: string }> {
  try {
    const found = await lookup(name, { all: true });
    return { ok: true, addresses: found.map((a) => (a.family === 6 ? canonicalIp(a.address) : a.address)) };
  } catch (err) {
    return { ok: false, detail: `${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
}

export const defaultSipClient: SipClient = new NodeSipClient();
