// The DNS client: the only code that talks DNS on the wire (UDP first, TCP when truncated).
// A reply is believed only if it comes from the server we asked, carries our random id and
// echoes our question; anything else is ignored. It never throws for a bad server: every
// outcome is a DnsResult.
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';
import { formatServerAddress, type ServerAddress } from '../address.ts';
import { ServerLimiter, type Limits } from './limit.ts';

export type RecordType = 'A' | 'AAAA' | 'CNAME' | 'NS' | 'SOA' | 'TXT' | 'SRV' | 'NAPTR' | 'MX' | 'PTR' | 'CAA';

export interface DnsRecord {
  name: string;
  type: string;
  ttl: number;
  /** Normalised text: addresses canonical, names lower-case without the trailing dot. */
  value: string;
  /** Parsed fields for SOA, SRV, NAPTR. */
  fields?: Record<string, string | number>;
}

export interface DnsResponse {
  rcode: string;
  authoritative: boolean;
  truncated: boolean;
  recursionAvailable: boolean;
  /** AD: the resolver validated the answer with DNSSEC. */
  authenticated: boolean;
  /** Extended DNS Errors (RFC 8914) the server attached: why a SERVFAIL, a stale answer, a blocked name. */
  extendedErrors: ExtendedDnsError[];
  /** The ECS scope prefix length the server answered for (RFC 7871), when it echoed our client subnet. */
  clientSubnetScope?: number;
  answers: DnsRecord[];
  authorities: DnsRecord[];
  transport: 'udp' | 'tcp';
  rttMs: number;
  attempts: number;
  bytes: number;
}

export type DnsFailureKind = 'timeout' | 'refused' | 'malformed' | 'aborted';

export type DnsResult =
  | { ok: true; response: DnsResponse }
  | { ok: false; kind: DnsFailureKind; detail: string; attempts: number };

export interface DnsQuery {
  server: ServerAddress;
  name: string;
  type: RecordType;
  /** RD bit: true for resolvers, false for authoritative servers. */
  recursionDesired: boolean;
  /** DO bit (RFC 3225): ask for DNSSEC records; validating resolvers then validate the answer. */
  dnssecOk?: boolean;
  /** CD bit (RFC 4035): ask a validating resolver to skip validation (a bogus zone then answers). */
  checkingDisabled?: boolean;
  /** EDNS Client Subnet (RFC 7871): ask the way a resolver whose clients sit in this network would. */
  clientSubnet?: ClientSubnet;
}

export interface ClientSubnet {
  /** An address inside the network; bits past the prefix are zeroed on the wire. */
  address: string;
  prefixLength: number;
}

export interface ExtendedDnsError {
  /** RFC 8914 INFO-CODE, e.g. 6 (DNSSEC Bogus). */
  code: number;
  /** EXTRA-TEXT, the server's own words (may be empty). */
  text: string;
}

/** RFC 8914 §4 and the IANA registry: the INFO-CODE names people search for. */
const EDE_NAMES: Record<number, string> = {
  0: 'Other Error',
  1: 'Unsupported DNSKEY Algorithm',
  2: 'Unsupported DS Digest Type',
  3: 'Stale Answer',
  4: 'Forged Answer',
  5: 'DNSSEC Indeterminate',
  6: 'DNSSEC Bogus',
  7: 'Signature Expired',
  8: 'Signature Not Yet Valid',
  9: 'DNSKEY Missing',
  10: 'RRSIGs Missing',
  11: 'No Zone Key Bit Set',
  12: 'NSEC Missing',
  13: 'Cached Error',
  14: 'Not Ready',
  15: 'Blocked',
  16: 'Censored',
  17: 'Filtered',
  18: 'Prohibited',
  19: 'Stale NXDOMAIN Answer',
  20: 'Not Authoritative',
  21: 'Not Supported',
  22: 'No Reachable Authority',
  23: 'Network Error',
  24: 'Invalid Data',
  25: 'Signature Expired before Valid',
  26: 'Too Early',
  27: 'Unsupported NSEC3 Iterations Value',
  28: 'Unable to conform to policy',
  29: 'Synthesized',
  30: 'Invalid Query Type',
};

/** "DNSSEC Bogus (6): signature expired" — the way findings quote an Extended DNS Error. */
export function describeExtendedError(e: ExtendedDnsError): string {
  const name = EDE_NAMES[e.code] ?? 'Unknown Error';
  return `${name} (${e.code})${e.text ? `: ${e.text}` : ''}`;
}

export interface DnsClient {
  query(q: DnsQuery, signal?: AbortSignal): Promise<DnsResult>;
}

export interface DnsClientOptions {
  timeoutMs: number;
  retries: number;
  ednsBufferSize: number;
  /** Politeness per server (address:port). */
  limitsFor(server: ServerAddress): Limits;
}

export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Canonical IPv6 text (RFC 5952): lower case, longest zero run compressed. */
export function normalizeIPv6(address: string): string {
  if (!net.isIPv6(address)) return address.toLowerCase();
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hex groups first.
  const text = address.toLowerCase().replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a, b, c, d) =>
    `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`,
  );
  const [left, right] = text.includes('::') ? text.split('::') : [text, undefined];
  const l = left ? left.split(':') : [];
  const r = right ? right.split(':') : [];
  const zeros = right === undefined ? [] : new Array(8 - l.length - r.length).fill('0');
  const groups = [...l, ...zeros, ...r].map((g) => parseInt(g, 16).toString(16));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

function toRecord(a: Answer): DnsRecord | undefined {
  if (a.type === 'OPT') return undefined;
  const base = { name: normalizeName(a.name), type: a.type, ttl: (a as { ttl?: number }).ttl ?? 0 };
  const data = (a as { data?: unknown }).data;
  switch (a.type) {
    case 'A':
      return { ...base, value: String(data) };
    case 'AAAA':
      return { ...base, value: normalizeIPv6(String(data)) };
    case 'CNAME':
    case 'NS':
    case 'PTR':
    case 'DNAME':
      return { ...base, value: normalizeName(String(data)) };
    case 'SOA': {
      const s = data as { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };
      const fields = { ...s, mname: normalizeName(s.mname), rname: normalizeName(s.rname) };
      return { ...base, value: `${fields.mname} ${fields.rname} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`, fields };
    }
    case 'SRV': {
      const s = data as { priority: number; weight: number; port: number; target: string };
      const fields = { priority: s.priority, weight: s.weight, port: s.port, target: normalizeName(s.target) };
      return { ...base, value: `${s.priority} ${s.weight} ${s.port} ${fields.target}`, fields };
    }
    case 'NAPTR': {
      const n = data as { order: number; preference: number; flags: string; services: string; regexp: string; replacement: string };
      const fields = { ...n, flags: n.flags.toLowerCase(), replacement: normalizeName(n.replacement) };
      return { ...base, value: `${n.order} ${n.preference} "${fields.flags}" "${n.services}" "${n.regexp}" ${fields.replacement}`, fields };
    }
    case 'MX': {
      const m = data as { preference: number; exchange: string };
      return { ...base, value: `${m.preference} ${normalizeName(m.exchange)}` };
    }
    case 'TXT': {
      const parts = Array.isArray(data) ? data : [data];
      return { ...base, value: parts.map((p) => (Buffer.isBuffer(p) ? p.toString('utf8') : String(p))).join('') };
    }
    default:
      return { ...base, value: Buffer.isBuffer(data) ? data.toString('hex') : JSON.stringify(data) };
  }
}

const TYPE_CODES: Record<RecordType, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, NAPTR: 35, CAA: 257 };

/**
 * The query on the wire: header, one question (class IN) and an EDNS0 OPT record. Written by
 * hand because it is the same 30-odd bytes every time and dns-packet's general encoder was a
 * sixth of the client's CPU time; a unit test checks it against dns-packet's decoder.
 */
export interface QueryFlags {
  recursionDesired: boolean;
  dnssecOk?: boolean;
  checkingDisabled?: boolean;
  clientSubnet?: ClientSubnet;
}

export function encodeQuery(id: number, name: string, type: RecordType, flags: QueryFlags | boolean, ednsBufferSize: number): Buffer {
  const f: QueryFlags = typeof flags === 'boolean' ? { recursionDesired: flags } : flags;
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  const qnameLength = labels.reduce((n, l) => n + 1 + Buffer.byteLength(l), 1);
  if (qnameLength > 255 || labels.some((l) => Buffer.byteLength(l) > 63)) throw new RangeError(`not a valid DNS name: ${name}`);
  const ecs = f.clientSubnet ? encodeClientSubnet(f.clientSubnet) : undefined;
  const optionsLength = ecs ? 4 + ecs.length : 0;
  // allocUnsafe draws from Node's shared pool (Buffer.alloc makes a new ArrayBuffer each time, which
  // the garbage collector pays for); every byte is written below.
  const buf = Buffer.allocUnsafe(12 + qnameLength + 4 + 11 + optionsLength);
  buf.writeUInt16BE(id, 0);
  buf.writeUInt16BE((f.recursionDesired ? 0x0100 : 0) | (f.checkingDisabled ? 0x0010 : 0), 2);
  buf.writeUInt16BE(1, 4); // QDCOUNT
  buf.writeUInt32BE(0, 6); // ANCOUNT, NSCOUNT
  buf.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  let at = 12;
  for (const label of labels) {
    const length = buf.write(label, at + 1, 'utf8');
    buf[at] = length;
    at += 1 + length;
  }
  buf[at++] = 0;
  buf.writeUInt16BE(TYPE_CODES[type], at);
  buf.writeUInt16BE(1, at + 2); // class IN
  at += 4;
  // OPT: root name, type 41, class = UDP payload size, TTL = extended rcode 0, version 0, flags (DO).
  buf[at] = 0;
  buf.writeUInt16BE(41, at + 1);
  buf.writeUInt16BE(ednsBufferSize, at + 3);
  buf.writeUInt16BE(0, at + 5);
  buf.writeUInt16BE(f.dnssecOk ? 0x8000 : 0, at + 7);
  buf.writeUInt16BE(optionsLength, at + 9);
  if (ecs) {
    buf.writeUInt16BE(8, at + 11); // OPTION-CODE: edns-client-subnet
    buf.writeUInt16BE(ecs.length, at + 13);
    ecs.copy(buf, at + 15);
  }
  return buf;
}

/** RFC 7871 §6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH 0, the address cut to the prefix. */
function encodeClientSubnet(subnet: ClientSubnet): Buffer {
  const v6 = net.isIPv6(subnet.address);
  if (!v6 && !net.isIPv4(subnet.address)) throw new RangeError(`not an IP address: ${subnet.address}`);
  const bits = v6 ? 128 : 32;
  if (!Number.isInteger(subnet.prefixLength) || subnet.prefixLength < 0 || subnet.prefixLength > bits) {
    throw new RangeError(`prefix length ${subnet.prefixLength} is out of range for ${subnet.address}`);
  }
  const full = v6 ? ipv6Bytes(subnet.address) : Buffer.from(subnet.address.split('.').map(Number));
  const keep = Math.ceil(subnet.prefixLength / 8);
  const address = Buffer.from(full.subarray(0, keep));
  // Bits past the prefix must be zero (RFC 7871 §6): a server may otherwise refuse the option.
  if (subnet.prefixLength % 8 !== 0) address[keep - 1] &= 0xff << (8 - (subnet.prefixLength % 8));
  const out = Buffer.alloc(4 + keep);
  out.writeUInt16BE(v6 ? 2 : 1, 0);
  out[2] = subnet.prefixLength;
  out[3] = 0;
  address.copy(out, 4);
  return out;
}

function ipv6Bytes(address: string): Buffer {
  const groups = normalizeIPv6(address).split('::');
  const left = groups[0] ? groups[0].split(':') : [];
  const right = groups.length > 1 && groups[1] ? groups[1].split(':') : [];
  const all = groups.length > 1 ? [...left, ...new Array(8 - left.length - right.length).fill('0'), ...right] : left;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function buildQuery(id: number, q: DnsQuery, ednsBufferSize: number): Buffer {
  return encodeQuery(id, q.name, q.type, q, ednsBufferSize);
}

type Verdict =
  | { kind: 'ignore'; why: string }
  | { kind: 'malformed'; detail: string }
  | { kind: 'reply'; packet: Packet };

/** Decide whether a datagram/stream message is the reply to our query. */
export function judgeReply(buf: Buffer, id: number, q: DnsQuery): Verdict {
  if (buf.length < 2) return { kind: 'ignore', why: `${buf.length}-byte datagram` };
  if (buf.readUInt16BE(0) !== id) return { kind: 'ignore', why: 'id does not match' };
  let packet: Packet;
  try {
    packet = dnsPacket.decode(buf);
  } catch (err) {
    return { kind: 'malformed', detail: `undecodable ${buf.length}-byte reply: ${(err as Error).message}` };
  }
  if (packet.type !== 'response') return { kind: 'ignore', why: 'not a response' };
  const question = packet.questions?.[0];
  if (!question || normalizeName(question.name) !== normalizeName(q.name) || question.type !== q.type) {
    return { kind: 'ignore', why: 'question does not match' };
  }
  return { kind: 'reply', packet };
}

interface DecodedOption {
  code: number;
  data?: Buffer;
  scopePrefixLength?: number;
}

/** EDE options and the ECS scope from the reply's OPT record (a reply without EDNS has neither). */
export function ednsOptionsOf(packet: Packet): { extendedErrors: ExtendedDnsError[]; clientSubnetScope?: number } {
  const opt = (packet.additionals ?? []).find((a) => a.type === 'OPT') as { options?: DecodedOption[] } | undefined;
  const extendedErrors: ExtendedDnsError[] = [];
  let clientSubnetScope: number | undefined;
  for (const o of opt?.options ?? []) {
    if (o.code === 15 && o.data && o.data.length >= 2) {
      // EXTRA-TEXT is UTF-8 "for human consumption": kept as data, cut short.
      extendedErrors.push({ code: o.data.readUInt16BE(0), text: o.data.subarray(2, 2 + 200).toString('utf8').replace(/\0+$/, '') });
    } else if (o.code === 8 && typeof o.scopePrefixLength === 'number') {
      clientSubnetScope = o.scopePrefixLength;
    }
  }
  return { extendedErrors, clientSubnetScope };
}

function toResponse(packet: Packet, transport: 'udp' | 'tcp', rttMs: number, attempts: number, bytes: number): DnsResponse {
  const flags = packet.flags ?? 0;
  return {
    rcode: (packet as { rcode?: string }).rcode ?? 'NOERROR',
    authoritative: (flags & dnsPacket.AUTHORITATIVE_ANSWER) !== 0,
    truncated: (flags & dnsPacket.TRUNCATED_RESPONSE) !== 0,
    recursionAvailable: (flags & dnsPacket.RECURSION_AVAILABLE) !== 0,
    authenticated: (flags & dnsPacket.AUTHENTIC_DATA) !== 0,
    ...ednsOptionsOf(packet),
    answers: (packet.answers ?? []).map(toRecord).filter((r): r is DnsRecord => r !== undefined),
    authorities: (packet.authorities ?? []).map(toRecord).filter((r): r is DnsRecord => r !== undefined),
    transport,
    rttMs,
    attempts,
    bytes,
  };
}

type AttemptResult =
  | { ok: true; packet: Packet; bytes: number }
  | { ok: false; kind: DnsFailureKind; detail: string };

/** Per-server politeness and sockets; looked up once per query, so kept cheap. */
interface ServerState {
  limiter: ServerLimiter;
  pool: UdpPool;
}

export class UdpTcpDnsClient implements DnsClient {
  private readonly servers = new Map<string, ServerState>();
  /** The config hands the same address object to every query of a server: no key to build. */
  private byObject = new WeakMap<ServerAddress, ServerState>();

  constructor(private readonly options: DnsClientOptions) {}

  private serverState(server: ServerAddress): ServerState {
    let state = this.byObject.get(server);
    if (state) return state;
    const key = formatServerAddress(server);
    state = this.servers.get(key);
    if (!state) {
      const limits = this.options.limitsFor(server);
      state = { limiter: new ServerLimiter(limits), pool: new UdpPool(server, Math.min(8, Math.max(1, Math.ceil(limits.concurrency / 8)))) };
      this.servers.set(key, state);
    }
    this.byObject.set(server, state);
    return state;
  }

  /** Closes the pooled sockets (a daemon between runs, tests); later queries open new ones. */
  close(): void {
    for (const state of this.servers.values()) state.pool.close();
    this.servers.clear();
    this.byObject = new WeakMap();
  }

  async query(q: DnsQuery, signal?: AbortSignal): Promise<DnsResult> {
    const state = this.serverState(q.server);
    const release = await state.limiter.acquire(signal);
    if (!release) return { ok: false, kind: 'aborted', detail: 'the run budget was spent before the query was sent', attempts: 0 };
    try {
      return await this.queryWithRetries(state.pool, q, signal);
    } finally {
      release();
    }
  }

  private async queryWithRetries(pool: UdpPool, q: DnsQuery, signal?: AbortSignal): Promise<DnsResult> {
    const started = performance.now();
    // Built only when an attempt fails: the common case allocates nothing here.
    let failures: string[] | undefined;
    let malformed: string | undefined;
    let refused = 0;
    const maxAttempts = this.options.retries + 1;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (signal?.aborted) return { ok: false, kind: 'aborted', detail: 'the run budget was spent', attempts: attempt - 1 };
      const udp = await pool.exchange(q, this.options.ednsBufferSize, this.options.timeoutMs, signal);
      if (udp.ok) {
        const tc = ((udp.packet.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0;
        if (!tc) return { ok: true, response: toResponse(udp.packet, 'udp', performance.now() - started, attempt, udp.bytes) };
        // Truncated: the full answer only comes over TCP.
        const tcpId = randomInt(0, 65536);
        const tcp = await tcpAttempt(q, tcpId, buildQuery(tcpId, q, this.options.ednsBufferSize), this.options.timeoutMs, signal);
        if (tcp.ok) return { ok: true, response: toResponse(tcp.packet, 'tcp', performance.now() - started, attempt, tcp.bytes) };
        (failures ??= []).push(`tcp after truncation: ${tcp.detail}`);
        if (tcp.kind === 'malformed') malformed = tcp.detail;
        continue;
      }
      if (udp.kind === 'aborted') return { ok: false, kind: 'aborted', detail: udp.detail, attempts: attempt };
      if (udp.kind === 'malformed') malformed = udp.detail;
      if (udp.kind === 'refused') refused++;
      (failures ??= []).push(udp.detail);
    }
    if (malformed) return { ok: false, kind: 'malformed', detail: malformed, attempts: maxAttempts };
    if (refused === maxAttempts) {
      return { ok: false, kind: 'refused', detail: `nothing listens at ${formatServerAddress(q.server)} (port unreachable)`, attempts: maxAttempts };
    }
    return { ok: false, kind: 'timeout', detail: `no answer after ${maxAttempts} attempts of ${this.options.timeoutMs} ms (${[...new Set(failures)].join('; ')})`, attempts: maxAttempts };
  }
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

/** After this many queries a socket is retired and a new one (new random port) takes its place. */
const QUERIES_PER_SOCKET = 128;

/**
 * A few connected UDP sockets per server, each on a kernel-chosen random port that is replaced
 * after QUERIES_PER_SOCKET queries. Sharing sockets avoids a bind/connect/close per query (the
 * cost that made one socket per query half as fast as c-ares); ids are random and unique per
 * socket, and every reply is still checked against id, question and source.
 */
class UdpPool {
  private readonly channels: UdpChannel[] = [];
  private next = 0;
  constructor(private readonly server: ServerAddress, private readonly size: number) {}

  close(): void {
    for (const c of this.channels) c.close();
  }

  exchange(q: DnsQuery, ednsBufferSize: number, timeoutMs: number, signal?: AbortSignal): Promise<AttemptResult> {
    let channel = this.channels[this.next % this.size];
    if (!channel || channel.retired) {
      channel = new UdpChannel(this.server);
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

  constructor(private readonly server: ServerAddress) {
    this.canonicalHost = normalizeIPv6(server.host);
    this.socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    // Idle sockets must not keep the process alive; pending queries hold their own timers.
    this.socket.unref();
    let connectFailed: ((err: Error) => void) | undefined;
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      connectFailed?.(err);
      // On a connected socket an ICMP port-unreachable arrives as ECONNREFUSED: nothing listens.
      const result: AttemptResult =
        err.code === 'ECONNREFUSED' ? { ok: false, kind: 'refused', detail: 'port unreachable' } : { ok: false, kind: 'timeout', detail: `socket error ${err.code ?? err.message}` };
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
    let id = randomInt(0, 65536);
    while (this.pending.has(id) || this.expired.has(id)) id = randomInt(0, 65536);
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
    const send = () => {
      if (this.pending.has(id) && !this.closed) this.socket.send(buildQuery(id, q, ednsBufferSize));
    };
    if (this.isConnected) send();
    else void this.connected.then((err) => err === undefined && send());
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
    if (rinfo.port !== this.server.port || (rinfo.address !== this.server.host && normalizeIPv6(rinfo.address) !== this.canonicalHost)) return;
    const id = msg.length >= 2 ? msg.readUInt16BE(0) : -1;
    const pending = this.pending.get(id);
    if (!pending) {
      if (this.expired.has(id)) return; // a late reply to a query that already gave up
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

  close(): void {
    this.retired = true;
    for (const p of [...this.pending.values()]) this.finish(p, { ok: false, kind: 'aborted', detail: 'the client was closed' });
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

function tcpAttempt(q: DnsQuery, id: number, query: Buffer, timeoutMs: number, signal?: AbortSignal): Promise<AttemptResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: q.server.host, port: q.server.port });
    let buffered = Buffer.alloc(0);
    let done = false;
    const finish = (r: AttemptResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(r);
    };
    const onAbort = () => finish({ ok: false, kind: 'aborted', detail: 'the run budget was spent' });
    const timer = setTimeout(() => finish({ ok: false, kind: 'timeout', detail: 'timed out over TCP' }), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => {
      const framed = Buffer.alloc(query.length + 2);
      framed.writeUInt16BE(query.length, 0);
      query.copy(framed, 2);
      socket.write(framed);
    });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      finish({ ok: false, kind: err.code === 'ECONNREFUSED' ? 'refused' : 'timeout', detail: `TCP ${err.code ?? err.message}` }),
    );
    socket.on('end', () => finish({ ok: false, kind: 'malformed', detail: `TCP connection closed after ${buffered.length} bytes without a full reply` }));
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < length + 2) return;
        const message = buffered.subarray(2, length + 2);
        buffered = buffered.subarray(length + 2);
        const verdict = judgeReply(message, id, q);
        if (verdict.kind === 'malformed') return finish({ ok: false, kind: 'malformed', detail: verdict.detail });
        if (verdict.kind === 'reply') return finish({ ok: true, packet: verdict.packet, bytes: message.length });
      }
    });
  });
}
