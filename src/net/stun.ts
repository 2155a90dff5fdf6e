// The only code that opens STUN/TURN sockets: a Binding request over UDP, TCP or TLS, and a TURN
// allocation with a relay round trip. STUN over TCP/TLS is plain messages back to back, each one's
// length read from its header (RFC 8489 §6.2.2); no RFC 4571 framing. UDP retransmits from RTO
// (500 ms) doubling, but only within the caller's budget, never RFC 8489's 39.5 s.
// Nothing here throws for a bad server: every outcome is a value the checks turn into findings.
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { randomBytes } from 'node:crypto';
import {
  Method,
  canonicalIp,
  decodeMessage,
  formatTransportAddress,
  longTermKey,
  newTransactionId,
  streamFrameLength,
  type StunMessage,
  type TransportAddress,
} from '../stun/codec.ts';
import { turnRestCredentials } from '../stun/credentials.ts';
import {
  allocateRequest,
  bindingRequest,
  createPermissionRequest,
  judgeBindingResponse,
  judgeTurnResponse,
  readAllocation,
  readDataIndication,
  refreshRequest,
  sendIndication,
  type LongTermAuth,
} from '../stun/messages.ts';
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

/** Something that holds a secret and reveals it only here, at the socket edge. */
export interface Revealable {
  reveal(): string;
}

export type ProbeFailure = 'timeout' | 'refused' | 'tls' | 'error-response' | 'bad-response' | 'closed' | 'aborted';

export type BindingOutcome =
  | {
      ok: true;
      transport: StunTransport;
      mapped: TransportAddress;
      /** From handing the last (re)transmission to the socket to the socket delivering the response (src/net/wire-time.ts). */
      rttMs: number;
      /** From the first transmission to the response. */
      elapsedMs: number;
      retransmissions: number;
      connectMs?: number;
      fingerprint: 'valid' | 'absent';
      software?: string;
    }
  | {
      ok: false;
      transport: StunTransport;
      failure: ProbeFailure;
      detail: string;
      elapsedMs: number;
      retransmissions: number;
      errorCode?: number;
      /** The first bytes of an unusable reply, hex, for the bug report. */
      sample?: string;
    };

export type TurnCredentials =
  | { kind: 'long-term'; username: Revealable; password: Revealable }
  | { kind: 'rest'; sharedSecret: Revealable; user: string; ttlSeconds: number };

export interface TurnProbeRequest {
  server: StunEndpoint;
  transport: StunTransport;
  tls?: TlsSettings;
  credentials?: TurnCredentials;
  budget: Budget;
}

export type TurnStage = 'connect' | 'allocate' | 'permission' | 'relay';

export interface TurnProbeOutcome {
  transport: StunTransport;
  ok: boolean;
  failure?: { stage: TurnStage; kind: ProbeFailure | 'auth'; detail: string; errorCode?: number };
  realm?: string;
  /** The server allocated without asking for credentials: anyone can relay through it. */
  unauthenticated?: boolean;
  relayed?: TransportAddress;
  mapped?: TransportAddress;
  lifetime?: number;
  timings: { connectMs?: number; allocateMs?: number; permissionMs?: number; relayMs?: number };
  retransmissions: number;
  staleNonces: number;
  /** Refresh with LIFETIME 0 at the end; absent when nothing was allocated. */
  release?: { ok: boolean; detail: string };
}

export interface StunClient {
  binding(server: StunEndpoint, transport: StunTransport, budget: Budget, tls?: TlsSettings): Promise<BindingOutcome>;
  turn(req: TurnProbeRequest): Promise<TurnProbeOutcome>;
  /** The system resolver, used only when no resolver is configured. */
  resolveSystem(host: string, family: 4 | 6): Promise<string[]>;
}

// ---------------------------------------------------------------------------------------------
// Channels: one socket to one server, inbound data as a queue the protocol code pulls from.

type Inbound =
  /** `at`: when the socket delivered it (wireNow), before any decoding. */
  | { kind: 'message'; bytes: Buffer; at: number }
  | { kind: 'foreign'; bytes: Buffer; from: string }
  | { kind: 'closed'; detail: string }
  | { kind: 'invalid-stream'; problem: string; sample: string };

type Pulled = Inbound | { kind: 'timeout' } | { kind: 'aborted' };

const hex = (b: Buffer) => b.subarray(0, 32).toString('hex');

class Channel {
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

function untilFrom(budget: Budget): number {
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

async function openChannel(server: StunEndpoint, transport: StunTransport, tlsSettings: TlsSettings | undefined, budget: Budget): Promise<Opened> {
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

interface TxOptions {
  until: number;
  rtoMs: number;
  signal: AbortSignal;
  /** Messages that are not the answer (Data indications, datagrams from the relay). */
  onOther?: (m: StunMessage | undefined, bytes: Buffer) => void;
  /** Keep retransmitting the request until the answer arrives (also over TCP: for indications through a relay). */
  resendOverStreams?: boolean;
}

async function transact(ch: Channel, request: Buffer, transactionId: Buffer | undefined, o: TxOptions): Promise<TxResult> {
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

// ---------------------------------------------------------------------------------------------
// Binding.

export async function stunBinding(server: StunEndpoint, transport: StunTransport, budget: Budget, tlsSettings?: TlsSettings): Promise<BindingOutcome> {
  const started = performance.now();
  const until = untilFrom(budget);
  const opened = await openChannel(server, transport, tlsSettings, budget);
  if (!opened.ok) return { ok: false, transport, failure: opened.failure, detail: opened.detail, elapsedMs: performance.now() - started, retransmissions: 0 };
  const { channel } = opened;
  try {
    const transactionId = newTransactionId();
    const tx = await transact(channel, bindingRequest(transactionId), transactionId, { until, rtoMs: budget.rtoMs, signal: budget.signal });
    if (tx.kind !== 'response') {
      return { ok: false, transport, failure: tx.kind, detail: tx.detail, elapsedMs: tx.elapsedMs, retransmissions: tx.retransmissions, sample: tx.sample };
    }
    const verdict = judgeBindingResponse(tx.message);
    const timing = { elapsedMs: tx.elapsedMs, retransmissions: tx.retransmissions };
    if (!verdict.ok) {
      if (verdict.kind === 'error-response') return { ok: false, transport, failure: 'error-response', detail: verdict.detail, errorCode: verdict.code, ...timing };
      return { ok: false, transport, failure: 'bad-response', detail: verdict.problem, sample: hex(tx.message.raw), ...timing };
    }
    return { ok: true, transport, mapped: verdict.mapped, rttMs: tx.rttMs, connectMs: opened.connectMs, fingerprint: verdict.fingerprint, software: verdict.software, ...timing };
  } finally {
    channel.close();
  }
}

// ---------------------------------------------------------------------------------------------
// TURN: Allocate (401 → REALM/NONCE → MESSAGE-INTEGRITY, 438 → new nonce), CreatePermission for our
// own relayed address, a Send indication to ourselves through the relay and the Data indication
// back, then Refresh with LIFETIME 0. Relaying to our own relayed address needs no inbound path
// through any NAT in front of the auditor, so it works wherever the auditor runs.

const MAX_STALE_NONCES = 2;
const RELEASE_TIMEOUT_MS = 2000;

interface TurnSession {
  channel: Channel;
  auth?: LongTermAuth;
  outcome: TurnProbeOutcome;
}

/** Username and key for a challenge; the secrets are revealed here and nowhere else. */
function authFor(credentials: TurnCredentials, realm: string, nonce: string): LongTermAuth {
  if (credentials.kind === 'long-term') {
    const username = credentials.username.reveal();
    return { username, realm, nonce, key: longTermKey(username, realm, credentials.password.reveal()) };
  }
  const rest = turnRestCredentials(credentials.sharedSecret.reveal(), credentials.user, credentials.ttlSeconds, Date.now());
  return { username: rest.username, realm, nonce, key: longTermKey(rest.username, realm, rest.password) };
}

type Signed = { ok: true; message: StunMessage; rttMs: number } | { ok: false; kind: ProbeFailure | 'auth'; detail: string; errorCode?: number };

/** One authenticated request, retried with the fresh nonce when the server says 438 Stale Nonce. */
async function signedRequest(
  s: TurnSession,
  method: number,
  build: (tid: Buffer, auth?: LongTermAuth) => Buffer,
  until: number,
  budget: Pick<Budget, 'rtoMs' | 'signal'>,
  onOther?: TxOptions['onOther'],
): Promise<Signed> {
  for (let attempt = 0; ; attempt++) {
    const tid = newTransactionId();
    const tx = await transact(s.channel, build(tid, s.auth), tid, { until, rtoMs: budget.rtoMs, signal: budget.signal, onOther });
    s.outcome.retransmissions += tx.retransmissions;
    if (tx.kind !== 'response') return { ok: false, kind: tx.kind, detail: tx.detail };
    const verdict = judgeTurnResponse(tx.message, method, s.auth?.key);
    switch (verdict.kind) {
      case 'success':
        return { ok: true, message: tx.message, rttMs: tx.rttMs };
      case 'stale-nonce':
        if (!s.auth || attempt >= MAX_STALE_NONCES) return { ok: false, kind: 'error-response', detail: '438 Stale Nonce again after a fresh nonce', errorCode: 438 };
        s.auth = { ...s.auth, nonce: verdict.nonce, realm: verdict.realm ?? s.auth.realm };
        s.outcome.staleNonces++;
        continue;
      case 'challenge':
        return { ok: false, kind: 'auth', detail: `${verdict.code} without credentials to answer it`, errorCode: verdict.code };
      case 'error':
        if (verdict.code === 401 || verdict.code === 441) {
          return { ok: false, kind: 'auth', detail: `the server rejected the credentials: ${verdict.code} ${verdict.reason}`.trim(), errorCode: verdict.code };
        }
        return { ok: false, kind: 'error-response', detail: `${verdict.code} ${verdict.reason}`.trim(), errorCode: verdict.code };
      case 'bad':
        return { ok: false, kind: 'bad-response', detail: verdict.problem };
    }
  }
}

export async function turnProbe(req: TurnProbeRequest): Promise<TurnProbeOutcome> {
  const outcome: TurnProbeOutcome = { transport: req.transport, ok: false, timings: {}, retransmissions: 0, staleNonces: 0 };
  const fail = (stage: TurnStage, kind: ProbeFailure | 'auth', detail: string, errorCode?: number) => {
    outcome.failure = { stage, kind, detail, errorCode };
    return outcome;
  };
  const { budget } = req;
  const opened = await openChannel(req.server, req.transport, req.tls, budget);
  if (!opened.ok) return fail('connect', opened.failure, opened.detail);
  outcome.timings.connectMs = opened.connectMs;
  const s: TurnSession = { channel: opened.channel, outcome };
  try {
    // 1. Allocate without credentials: the server answers 401 with its REALM and a NONCE.
    const firstTid = newTransactionId();
    const first = await transact(s.channel, allocateRequest(firstTid), firstTid, { until: untilFrom(budget), rtoMs: budget.rtoMs, signal: budget.signal });
    outcome.retransmissions += first.retransmissions;
    if (first.kind !== 'response') return fail('allocate', first.kind, first.detail);
    let allocation: StunMessage;
    let allocateRtt = first.rttMs;
    const challenge = judgeTurnResponse(first.message, Method.ALLOCATE);
    if (challenge.kind === 'success') {
      outcome.unauthenticated = true;
      allocation = first.message;
    } else if (challenge.kind === 'challenge') {
      outcome.realm = challenge.realm;
      if (!req.credentials) return fail('allocate', 'auth', `the server asks for credentials (realm "${challenge.realm}") and none are configured`, 401);
      s.auth = authFor(req.credentials, challenge.realm, challenge.nonce);
      // 2. Allocate again, signed with the long-term key.
      const signed = await signedRequest(s, Method.ALLOCATE, (tid, auth) => allocateRequest(tid, auth), untilFrom(budget), budget);
      if (!signed.ok) return fail('allocate', signed.kind, signed.detail, signed.errorCode);
      allocation = signed.message;
      allocateRtt = signed.rttMs;
    } else if (challenge.kind === 'error') {
      return fail('allocate', 'error-response', `${challenge.code} ${challenge.reason}`.trim(), challenge.code);
    } else if (challenge.kind === 'stale-nonce') {
      return fail('allocate', 'bad-response', '438 Stale Nonce to a request that carried no nonce', 438);
    } else {
      return fail('allocate', 'bad-response', challenge.problem);
    }
    outcome.timings.allocateMs = allocateRtt;
    const alloc = readAllocation(allocation);
    if (!alloc.ok) return fail('allocate', 'bad-response', alloc.problem);
    outcome.relayed = alloc.relayed;
    outcome.mapped = alloc.mapped;
    outcome.lifetime = alloc.lifetime;

    // 3. Permission for our own relayed address, so the relay accepts what it sends itself.
    const relayed = alloc.relayed;
    const permission = await signedRequest(s, Method.CREATE_PERMISSION, (tid, auth) => createPermissionRequest(tid, relayed, auth), untilFrom(budget), budget);
    if (!permission.ok) return fail('permission', permission.kind, permission.detail, permission.errorCode);
    outcome.timings.permissionMs = permission.rttMs;

    // 4. The round trip: Send indication to the relayed address, Data indication back with the same bytes.
    const payload = Buffer.concat([Buffer.from('dialer-audit relay probe '), randomBytes(12)]);
    let echoed = false;
    const relayTid = newTransactionId();
    const relayStarted = performance.now();
    const relayUntil = untilFrom(budget);
    const sendInd = sendIndication(relayTid, relayed, payload);
    // An indication gets no response: transact() with no id waits for the Data indication via onOther
    // and resends the Send indication on RTO, over TCP too (the relay's own UDP hop may drop it).
    const watcher = new AbortController();
    const onBudgetAbort = () => watcher.abort();
    budget.signal.addEventListener('abort', onBudgetAbort, { once: true });
    const relayTx = await transact(s.channel, sendInd, undefined, {
      until: relayUntil,
      rtoMs: budget.rtoMs,
      signal: watcher.signal,
      resendOverStreams: true,
      onOther: (m) => {
        const data = m ? readDataIndication(m) : undefined;
        if (data && data.data.equals(payload)) {
          echoed = true;
          watcher.abort();
        }
      },
    });
    budget.signal.removeEventListener('abort', onBudgetAbort);
    outcome.retransmissions += relayTx.retransmissions;
    if (!echoed) {
      if (relayTx.kind === 'aborted' || relayTx.kind === 'timeout' || relayTx.kind === 'response') {
        return fail('relay', budget.signal.aborted ? 'aborted' : 'timeout', `the relay did not deliver our data back within ${Math.round(performance.now() - relayStarted)} ms (sent ${relayTx.retransmissions + 1} time${relayTx.retransmissions ? 's' : ''} from ${formatTransportAddress(relayed)} to itself)`);
      }
      return fail('relay', relayTx.kind, relayTx.detail);
    }
    outcome.timings.relayMs = performance.now() - relayStarted;
    outcome.ok = true;
    return outcome;
  } finally {
    if (outcome.relayed) outcome.release = await release(s, budget);
    s.channel.close();
  }
}

/** Refresh with LIFETIME 0, even when the run's budget is spent: a leftover allocation holds a relay port. */
async function release(s: TurnSession, budget: Budget): Promise<{ ok: boolean; detail: string }> {
  const until = performance.now() + Math.min(RELEASE_TIMEOUT_MS, Math.max(budget.timeoutMs, 500));
  const r = await signedRequest(s, Method.REFRESH, (tid, auth) => refreshRequest(tid, 0, auth), until, { rtoMs: budget.rtoMs, signal: new AbortController().signal });
  if (r.ok) return { ok: true, detail: 'released (Refresh with LIFETIME 0)' };
  // 437 Allocation Mismatch: the allocation is already gone.
  if (r.errorCode === 437) return { ok: true, detail: 'already gone (437 Allocation Mismatch)' };
  return { ok: false, detail: `Refresh with LIFETIME 0 failed: ${r.detail}; the allocation lives until its lifetime ends` };
}

export const socketStunClient: StunClient = {
  binding: stunBinding,
  turn: turnProbe,
  async resolveSystem(host, family) {
    try {
      const found = await lookup(host, { all: true, family });
      return [...new Set(found.map((a) => canonicalIp(a.address)))];
    } catch {
      return [];
    }
  },
};
