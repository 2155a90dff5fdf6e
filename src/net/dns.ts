// The DNS client: the only code that talks DNS on the wire — plain DNS (UDP first, TCP when
// truncated), DNS over TLS and DNS over HTTPS. A reply is believed only if it comes from the
// server we asked, carries our random id, echoes our question and is well formed; anything else
// is ignored or reported as malformed. It never throws for a bad server: every outcome is a
// DnsResult. A server that keeps failing is not asked again within a run (the circuit breaker),
// so a vantage that can reach nothing finishes in seconds instead of spending the run's budget.
//
// The wire format lives in dns-wire.ts (encode, validate) and dns-records.ts (decode), the
// transports in dns-udp.ts, dns-stream.ts (TCP, TLS) and dns-https.ts.
import dnsPacket from 'dns-packet';
import { formatServerAddress, type ServerAddress } from '../address.ts';
import { ServerLimiter } from './limit.ts';
import { HttpsChannel } from './dns-https.ts';
import { StreamChannel, tcpExchange } from './dns-stream.ts';
import type { AttemptResult, DnsClient, DnsClientOptions, DnsFailure, DnsFailureKind, DnsQuery, DnsResult } from './dns-types.ts';
import { UdpPool } from './dns-udp.ts';
import { toResponse } from './dns-records.ts';

export { buildQuery, encodeQuery, judgeReply, normalizeName, validateMessage } from './dns-wire.ts';
export { describeExtendedError, ednsOptionsOf, keyTag } from './dns-records.ts';
export type { Verdict } from './dns-wire.ts';
export type * from './dns-types.ts';

interface Transport {
  exchange(q: DnsQuery, ednsBufferSize: number, timeoutMs: number, signal?: AbortSignal): Promise<AttemptResult>;
  /** A question with a shorter deadline than the rest (UDP gives it a socket of its own). */
  exchangeAlone?(q: DnsQuery, ednsBufferSize: number, timeoutMs: number): Promise<AttemptResult>;
  /** End every attempt still waiting with `r`. */
  cancelPending(r: AttemptResult): void;
  close(): void;
}

/** The question that proves a server is up whatever its upstream does: resolvers answer it themselves. */
const LIVENESS: Omit<DnsQuery, 'server'> = { name: 'version.bind', type: 'TXT', qclass: 'CH', recursionDesired: false };

/** A run is identified by the AbortSignal its queries carry; this stands for "no run yet". */
const NO_RUN = Symbol('no run');

/**
 * Per-server politeness, transport and circuit breaker; looked up once per query, so kept cheap.
 * The breaker costs the common path two comparisons and no allocation.
 */
class ServerState {
  run: unknown = NO_RUN;
  /** Attempts in a row that got nothing back (no reply of any kind in between). */
  failedAttempts = 0;
  /** Anything came back from this server in this run (a reply, a late reply, malformed bytes). */
  answered = false;
  /**
   * The version.bind question: asked when the server has answered nothing half a timeout into the
   * run, or at its first failure — so the answer is in before the breaker would wait for it.
   */
  liveness?: Promise<boolean>;
  /** Set once the breaker has tripped: settles when it is open. */
  tripping?: Promise<void>;
  open?: { kind: DnsFailureKind; detail: string; alive: boolean };

  constructor(
    readonly server: ServerAddress,
    readonly limiter: ServerLimiter,
    readonly transport: Transport,
  ) {}

  newRun(run: unknown): void {
    this.run = run;
    this.failedAttempts = 0;
    this.answered = false;
    this.liveness = undefined;
    this.tripping = undefined;
    this.open = undefined;
  }

  notAsked(): DnsFailure {
    const open = this.open!;
    return { ok: false, kind: open.kind, detail: open.detail, attempts: 0, serverAlive: open.alive || undefined, notAsked: true };
  }
}

export class UdpTcpDnsClient implements DnsClient {
  private readonly servers = new Map<string, ServerState>();
  /** The config hands the same address object to every query of a server: no key to build. */
  private byObject = new WeakMap<ServerAddress, ServerState>();
  private readonly breakerAttempts: number;

  constructor(private readonly options: DnsClientOptions) {
    const after = options.breakerAfter ?? 3;
    this.breakerAttempts = after > 0 ? after * (options.retries + 1) : Infinity;
  }

  private serverState(server: ServerAddress): ServerState {
    let state = this.byObject.get(server);
    if (state) return state;
    const key = formatServerAddress(server);
    state = this.servers.get(key);
    if (!state) {
      const limits = this.options.limitsFor(server);
      const tlsOptions = this.options.tlsFor?.(server);
      const onLateReply = () => {
        state!.answered = true;
        state!.failedAttempts = 0;
      };
      const transport: Transport =
        server.transport === 'tls'
          ? new StreamChannel(server, 'TLS', tlsOptions)
          : server.transport === 'https'
            ? new HttpsChannel(server, tlsOptions)
            : new UdpPool(server, Math.min(8, Math.max(1, Math.ceil(limits.concurrency / 8))), onLateReply);
      state = new ServerState(server, new ServerLimiter(limits), transport);
      this.servers.set(key, state);
    }
    this.byObject.set(server, state);
    return state;
  }

  /** Closes the pooled sockets and connections (a daemon between runs, tests); later queries open new ones. */
  close(): void {
    for (const state of this.servers.values()) state.transport.close();
    this.servers.clear();
    this.byObject = new WeakMap();
  }

  async query(q: DnsQuery, signal?: AbortSignal): Promise<DnsResult> {
    const state = this.serverState(q.server);
    if (state.run !== signal) {
      state.newRun(signal);
      this.watchRun(state, signal);
    }
    if (state.open) return state.notAsked();
    const release = (signal?.aborted ? undefined : state.limiter.tryAcquire()) ?? (await state.limiter.acquire(signal));
    if (!release) {
      if (state.open) return state.notAsked();
      return { ok: false, kind: 'aborted', detail: 'the run budget was spent before the query was sent', attempts: 0 };
    }
    try {
      if (state.open) return state.notAsked();
      return await this.queryWithRetries(state, q, signal);
    } finally {
      release();
    }
  }

  private async queryWithRetries(state: ServerState, q: DnsQuery, signal?: AbortSignal): Promise<DnsResult> {
    const started = performance.now();
    const transportName = q.server.transport ?? 'udp';
    // Built only when an attempt fails: the common case allocates nothing here.
    let failures: string[] | undefined;
    let malformed: string | undefined;
    let refused = 0;
    const maxAttempts = this.options.retries + 1;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (signal?.aborted) return { ok: false, kind: 'aborted', detail: 'the run budget was spent', attempts: attempt - 1 };
      const r = await state.transport.exchange(q, this.options.ednsBufferSize, this.options.timeoutMs, signal);
      if (r.ok) {
        this.answered(state);
        const tc = ((r.packet.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0;
        if (!tc || transportName !== 'udp') return { ok: true, response: toResponse(r.packet, transportName, performance.now() - started, attempt, r.bytes) };
        // Truncated: the full answer only comes over TCP.
        const tcp = await tcpExchange(q.server, q, this.options.ednsBufferSize, this.options.timeoutMs, signal);
        if (tcp.ok) return { ok: true, response: toResponse(tcp.packet, 'tcp', performance.now() - started, attempt, tcp.bytes) };
        (failures ??= []).push(`tcp after truncation: ${tcp.detail}`);
        if (tcp.kind === 'malformed') malformed = tcp.detail;
        continue;
      }
      if (r.kind === 'aborted') return { ok: false, kind: 'aborted', detail: r.detail, attempts: attempt };
      if (state.open) return state.notAsked();
      if (r.kind === 'malformed') {
        // Bytes came back: the server is there, it just says nothing we can believe.
        this.answered(state);
        malformed = r.detail;
      } else {
        if (r.kind === 'unreachable' || r.kind === 'tls') {
          // No route, or a certificate that does not verify: asking again cannot help this run.
          this.trip(state, r.kind, r.detail);
          return { ok: false, kind: r.kind, detail: r.detail, attempts: attempt, serverAlive: state.answered || undefined };
        }
        if (r.kind === 'refused') refused++;
        this.failed(state, r.kind, r.detail);
        // Let the other questions that failed at the same moment count theirs before retrying.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (state.tripping) {
          await state.tripping;
          return state.notAsked();
        }
      }
      (failures ??= []).push(r.detail);
    }
    const serverAlive = state.answered || undefined;
    if (malformed) return { ok: false, kind: 'malformed', detail: malformed, attempts: maxAttempts, serverAlive };
    if (refused === maxAttempts) {
      const what = transportName === 'https' ? failures![0] : `nothing listens at ${formatServerAddress(q.server)} (port unreachable)`;
      return { ok: false, kind: 'refused', detail: what, attempts: maxAttempts, serverAlive };
    }
    return { ok: false, kind: 'timeout', detail: `no answer after ${maxAttempts} attempts of ${this.options.timeoutMs} ms (${[...new Set(failures)].join('; ')})`, attempts: maxAttempts, serverAlive };
  }

  /** One timer per server and run (not per query): no reply at all half a timeout in → ask version.bind. */
  private watchRun(state: ServerState, run: unknown): void {
    if (this.breakerAttempts === Infinity) return;
    setTimeout(() => {
      if (state.run === run && !state.answered) state.liveness ??= this.alive(state);
    }, this.options.timeoutMs / 2).unref();
  }

  private answered(state: ServerState): void {
    state.answered = true;
    state.failedAttempts = 0;
  }

  private failed(state: ServerState, kind: DnsFailureKind, detail: string): void {
    state.failedAttempts++;
    if (kind === 'timeout' && !state.answered && this.breakerAttempts !== Infinity) state.liveness ??= this.alive(state);
    if (state.failedAttempts >= this.breakerAttempts) this.trip(state, kind, detail);
  }

  /**
   * Stop asking this server for the rest of the run. When it has answered nothing, its
   * version.bind answer (see `liveness`) tells "up but silent for these names" (its path to the
   * zone is down) from "not there at all".
   */
  private trip(state: ServerState, kind: DnsFailureKind, detail: string): void {
    if (state.tripping || this.breakerAttempts === Infinity) return;
    const run = state.run;
    const attempts = state.failedAttempts;
    const why = kind === 'timeout' || kind === 'refused' ? `${attempts} attempts in a row got no answer (last: ${detail})` : detail;
    state.tripping = (async () => {
      const alive = state.answered || (kind === 'timeout' && (await (state.liveness ?? this.alive(state))));
      if (state.run !== run) return;
      state.open = {
        kind,
        alive,
        detail: `not asked: ${why}${alive ? '; it answers other questions, so it is up but silent for these' : ''}`,
      };
      // Nothing waits any longer for this server: not the questions in line, not the attempts in flight.
      state.limiter.cancelWaiting();
      state.transport.cancelPending({ ok: false, kind, detail: state.open.detail });
    })();
  }

  /** The server answers version.bind itself, whatever its upstream does: any reply means it is up. */
  private async alive(state: ServerState): Promise<boolean> {
    const q: DnsQuery = { ...LIVENESS, server: state.server };
    const timeoutMs = Math.max(50, this.options.timeoutMs / 3);
    const r = await (state.transport.exchangeAlone ?? state.transport.exchange).call(state.transport, q, this.options.ednsBufferSize, timeoutMs);
    const up = r.ok || r.kind === 'malformed';
    if (up) state.answered = true;
    return up;
  }
}
