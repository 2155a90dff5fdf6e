// STUN/TURN probes: a Binding request over UDP, TCP or TLS, and a TURN allocation with a relay
// round trip, spoken through the channels of stun-channel.ts (the sockets, framing, retransmission
// from RTO (500 ms) doubling within the caller's budget, never RFC 8489's 39.5 s).
// Nothing here throws for a bad server: every outcome is a value the checks turn into findings.
import { lookup } from 'node:dns/promises';
import { canonicalIp } from '../address.ts';
import { randomBytes } from 'node:crypto';
import {
  Method,
  formatTransportAddress,
  longTermKey,
  newTransactionId,
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
import { hex, openChannel, transact, untilFrom, type Budget, type Channel, type ProbeFailure, type StunEndpoint, type TlsSettings, type TxOptions } from './stun-channel.ts';

export type { Budget, ProbeFailure, StunEndpoint, TlsSettings } from './stun-channel.ts';

/** Something that holds a secret and reveals it only here, at the socket edge. */
export interface Revealable {
  reveal(): string;
}


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
