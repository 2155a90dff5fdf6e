// Plain DNS over UDP: a few connected sockets per server, shared by its queries.
import dgram from 'node:dgram';
import { randomFillSync } from 'node:crypto';
import type { ServerAddress } from '../address.ts';
import type { AttemptResult, DnsQuery } from './dns-types.ts';
import { canonicalIp } from '../address.ts';
import { buildQuery, judgeReply } from './dns-wire.ts';

/** Socket errors that mean this host has no way to the server: retrying cannot help. */
const UNREACHABLE = new Set(['ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'EADDRNOTAVAIL']);

/** The failure an errno stands for on a connected socket (UDP, TCP and TLS alike). */
export function socketFailure(err: NodeJS.ErrnoException, what: string): AttemptResult {
  const code = err.code ?? err.message;
  // On a connected socket an ICMP port-unreachable arrives as ECONNREFUSED: nothing listens.
  if (code === 'ECONNREFUSED') return { ok: false, kind: 'refused', detail: `${what}: port unreachable (ECONNREFUSED)` };
  if (UNREACHABLE.has(code)) return { ok: false, kind: 'unreachable', detail: `${what}: ${code === 'ENETUNREACH' || code === 'ENETDOWN' ? 'network' : 'host'} unreachable (${code}): this host has no route to the server` };
  return { ok: false, kind: 'timeout', detail: `${what}: socket error ${code}` };
}

/** One attempt waiting on a channel; its deadline is swept by the channel's single timer. */
class PendingQuery {
  /** Datagrams from the server on this socket that answered nothing we asked, while we waited. */
  garbage?: string;
  garbageCount = 0;
  onAbort?: () => void;

  constructor(
    readonly id: number,
    readonly q: DnsQuery,
    readonly deadline: number,
    readonly resolve: (r: AttemptResult) => void,
    readonly signal?: AbortSignal,
  ) {}

  expiredResult(): AttemptResult {
    if (!this.garbage) return { ok: false, kind: 'timeout', detail: 'timed out' };
    const n = this.garbageCount;
    return { ok: false, kind: 'malformed', detail: `no valid reply; ${n} datagram${n === 1 ? '' : 's'} from the server did not answer our query (${this.garbage})` };
  }
}

/**
 * Query ids come from the CSPRNG in batches: one randomFillSync per 4,096 ids instead of a
 * randomInt call per query, just as unpredictable.
 */
const ID_POOL = new Uint16Array(4096);
let idAt = ID_POOL.length;
function randomId(): number {
  if (idAt === ID_POOL.length) {
    randomFillSync(ID_POOL);
    idAt = 0;
  }
  return ID_POOL[idAt++];
}

/** After this many queries a socket is retired and a new one (new random port) takes its place. */
const QUERIES_PER_SOCKET = 128;

/**
 * A few connected UDP sockets per server, each on a kernel-chosen random port that is replaced
 * after QUERIES_PER_SOCKET queries. Sharing sockets avoids a bind/connect/close per query (the
 * cost that made one socket per query half as fast as c-ares); ids are random and unique per
 * socket, and every reply is still checked against id, question and source.
 */
export class UdpPool {
  private readonly channels: UdpChannel[] = [];
  private next = 0;
  /** `onLateReply`: a reply came after its attempt gave up — the server is alive, only slow. */
  constructor(private readonly server: ServerAddress, private readonly size: number, private readonly onLateReply: () => void) {}

  close(): void {
    for (const c of this.channels) c.close();
  }

  /**
   * A question with a deadline of its own (shorter than the others'), so on a socket of its own:
   * a channel's single timer relies on its attempts sharing one timeout.
   */
  exchangeAlone(q: DnsQuery, ednsBufferSize: number, timeoutMs: number): Promise<AttemptResult> {
    const channel = new UdpChannel(this.server, this.onLateReply);
    channel.retired = true;
    return channel.exchange(q, ednsBufferSize, timeoutMs);
  }

  /** Every attempt still waiting ends now with `r` (the server will not be asked again this run). */
  cancelPending(r: AttemptResult): void {
    for (const c of this.channels) c.failAll(r);
  }

  exchange(q: DnsQuery, ednsBufferSize: number, timeoutMs: number, signal?: AbortSignal): Promise<AttemptResult> {
    let channel = this.channels[this.next % this.size];
    if (!channel || channel.retired) {
      channel = new UdpChannel(this.server, this.onLateReply);
      this.channels[this.next % this.size] = channel;
    }
    this.next++;
    return channel.exchange(q, ednsBufferSize, timeoutMs, signal);
  }
}

class UdpChannel {
  private readonly socket: dgram.Socket;
  private readonly pending = new Map<number, PendingQuery>();
  /** Ids whose query gave up: a late reply to one of them is not garbage. */
  private readonly expired = new Set<number>();
  private readonly connected: Promise<Error | undefined>;
  private isConnected = false;
  private sweepTimer?: NodeJS.Timeout;
  private uses = 0;
  retired = false;
  private closed = false;

  private readonly canonicalHost: string;

  constructor(private readonly server: ServerAddress, private readonly onLateReply: () => void) {
    this.canonicalHost = canonicalIp(server.host);
    this.socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    // Idle sockets must not keep the process alive; pending queries hold their own timers.
    this.socket.unref();
    let connectFailed: ((err: Error) => void) | undefined;
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      connectFailed?.(err);
      const result = socketFailure(err, 'UDP');
      this.retired = true;
      for (const p of [...this.pending.values()]) this.finish(p, result);
      this.closeIfIdle();
    });
    // Port 0: the kernel picks a random ephemeral source port for this socket.
    this.connected = new Promise((resolve) => {
      connectFailed = resolve;
      this.socket.once('connect', () => {
        connectFailed = undefined;
        this.isConnected = true;
        resolve(undefined);
      });
      this.socket.connect(server.port, server.host);
    });
  }

  exchange(q: DnsQuery, ednsBufferSize: number, timeoutMs: number, signal?: AbortSignal): Promise<AttemptResult> {
    if (++this.uses >= QUERIES_PER_SOCKET) this.retired = true;
    let id = randomId();
    while (this.pending.has(id) || this.expired.has(id)) id = randomId();
    const result = new Promise<AttemptResult>((resolve) => {
      const pending = new PendingQuery(id, q, performance.now() + timeoutMs, resolve, signal);
      if (signal) {
        pending.onAbort = () => this.finish(pending, { ok: false, kind: 'aborted', detail: 'the run budget was spent' });
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.pending.set(id, pending);
      this.armSweep();
    });
    // No send callback: on a connected socket a failed send surfaces as the socket's 'error'.
    if (this.isConnected) this.socket.send(buildQuery(id, q, ednsBufferSize));
    else void this.connected.then((err) => err === undefined && this.pending.has(id) && !this.closed && this.socket.send(buildQuery(id, q, ednsBufferSize)));
    return result;
  }

  private finish(pending: PendingQuery, r: AttemptResult): void {
    if (this.pending.get(pending.id) !== pending) return;
    this.pending.delete(pending.id);
    if (!r.ok) this.expired.add(pending.id);
    if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
    // Nothing left to time out: the timer must not hold the process open.
    if (this.pending.size === 0 && this.sweepTimer) {
      clearTimeout(this.sweepTimer);
      this.sweepTimer = undefined;
    }
    pending.resolve(r);
    this.closeIfIdle();
  }

  /**
   * One timer per socket instead of one per query: attempts share a timeout, so the oldest
   * pending attempt (first in the Map's insertion order) always has the nearest deadline.
   */
  private armSweep(): void {
    if (this.sweepTimer || this.pending.size === 0) return;
    const oldest = this.pending.values().next().value as PendingQuery;
    this.sweepTimer = setTimeout(() => this.sweep(), Math.max(0, oldest.deadline - performance.now()));
  }

  private sweep(): void {
    this.sweepTimer = undefined;
    const now = performance.now();
    for (const pending of [...this.pending.values()]) {
      if (pending.deadline > now) break;
      this.finish(pending, pending.expiredResult());
    }
    this.armSweep();
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // A connected socket already drops other peers; the check stays in case the kernel does not.
    if (rinfo.port !== this.server.port || (rinfo.address !== this.server.host && canonicalIp(rinfo.address) !== this.canonicalHost)) return;
    const id = msg.length >= 2 ? msg.readUInt16BE(0) : -1;
    const pending = this.pending.get(id);
    if (!pending) {
      if (this.expired.has(id)) {
        this.onLateReply(); // a late reply to a query that already gave up
        return;
      }
      // From the server but for no query of ours: every query waiting here may be owed this reply.
      for (const p of this.pending.values()) {
        p.garbageCount++;
        p.garbage = msg.length < 2 ? `${msg.length}-byte datagram` : 'id does not match';
      }
      return;
    }
    const verdict = judgeReply(msg, id, pending.q);
    if (verdict.kind === 'reply') this.finish(pending, { ok: true, packet: verdict.packet, bytes: msg.length });
    else if (verdict.kind === 'malformed') this.finish(pending, { ok: false, kind: 'malformed', detail: verdict.detail });
    else {
      pending.garbageCount++;
      pending.garbage = verdict.why;
    }
  }

  failAll(r: AttemptResult): void {
    for (const p of [...this.pending.values()]) this.finish(p, r);
  }

  close(): void {
    this.retired = true;
    this.failAll({ ok: false, kind: 'aborted', detail: 'the client was closed' });
    this.closeIfIdle();
  }

  private closeIfIdle(): void {
    if (this.retired && !this.closed && this.pending.size === 0) {
      this.closed = true;
      clearTimeout(this.sweepTimer);
      this.sweepTimer = undefined;
      this.socket.close();
    }
  }
}
