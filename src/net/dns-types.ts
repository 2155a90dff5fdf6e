// The DNS client's vocabulary: questions, replies, failures and the client's options, shared by the
// client (dns.ts), its transports and the wire code without importing one another.
import type { Packet } from 'dns-packet';
import type { ServerAddress } from '../address.ts';
import type { Limits } from './limit.ts';

export interface TlsOptions {
  /** A PEM file of a private CA that signed the server's certificate (trusted besides Node's own list). */
  caFile?: string;
  /** The name the certificate must hold, when the address is an IP address. */
  servername?: string;
}

export type RecordType = 'A' | 'AAAA' | 'CNAME' | 'NS' | 'SOA' | 'TXT' | 'SRV' | 'NAPTR' | 'MX' | 'PTR' | 'CAA' | 'DS' | 'DNSKEY' | 'RRSIG';

export interface DnsRecord {
  name: string;
  type: string;
  ttl: number;
  /** Normalised text: addresses canonical, names lower-case without the trailing dot. */
  value: string;
  /** Parsed fields for SOA, SRV, NAPTR, RRSIG, DS, DNSKEY. */
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
  transport: 'udp' | 'tcp' | 'tls' | 'https';
  rttMs: number;
  attempts: number;
  bytes: number;
}

/**
 * Why no answer: silence (`timeout`), nothing listening (`refused`; for DoH an HTTP error), no
 * route from this host (`unreachable`, not retried), bytes that are no valid reply (`malformed`),
 * a TLS handshake or certificate that fails (`tls`), or the run's budget ended (`aborted`).
 */
export type DnsFailureKind = 'timeout' | 'refused' | 'unreachable' | 'malformed' | 'tls' | 'aborted';

export interface DnsFailure {
  ok: false;
  kind: DnsFailureKind;
  detail: string;
  attempts: number;
  /** The server answered something else during this run (or a version.bind question): it is up. */
  serverAlive?: boolean;
  /** Not asked: the server's circuit breaker had opened after its earlier failures in this run. */
  notAsked?: boolean;
}

export type DnsResult = { ok: true; response: DnsResponse } | DnsFailure;

/** The header bits and EDNS options of a question (what encodeQuery writes besides the name and type). */
export interface QueryFlags {
  /** RD bit: true for resolvers, false for authoritative servers. */
  recursionDesired: boolean;
  /**
   * AD bit in the query (RFC 6840 §5.7): "I understand the AD bit" — what dig and glibc's trust-ad
   * send. pdns-recursor's default `process` mode validates only questions with AD or DO.
   */
  authenticatedData?: boolean;
  /** DO bit (RFC 3225): ask for DNSSEC records (RRSIGs). dnsmasq answers such questions past its cache. */
  dnssecOk?: boolean;
  /** CD bit (RFC 4035): ask a validating resolver to skip validation (a bogus zone then answers). */
  checkingDisabled?: boolean;
  /** EDNS Client Subnet (RFC 7871): ask the way a resolver whose clients sit in this network would. */
  clientSubnet?: ClientSubnet;
  /** CH only for the liveness question (version.bind); IN otherwise. */
  qclass?: 'IN' | 'CH';
}

export interface DnsQuery extends QueryFlags {
  server: ServerAddress;
  name: string;
  type: RecordType;
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

export interface DnsClient {
  /** `signal` is the run's: every query of one run passes the same one (the circuit breaker starts afresh with a new one). */
  query(q: DnsQuery, signal?: AbortSignal): Promise<DnsResult>;
}

export interface DnsClientOptions {
  timeoutMs: number;
  retries: number;
  ednsBufferSize: number;
  /** Politeness per server (address:port). */
  limitsFor(server: ServerAddress): Limits;
  /**
   * After this many questions' worth of attempts in a row failed (breakerAfter × (retries + 1)),
   * a server is not asked again until the next run (the next AbortSignal handed to query()).
   * 0: never. Default 3.
   */
  breakerAfter?: number;
  /** CA and name for DoT/DoH servers. */
  tlsFor?(server: ServerAddress): TlsOptions;
}

/** One attempt's outcome, as a transport reports it. */
export type AttemptResult =
  | { ok: true; packet: Packet; bytes: number }
  | { ok: false; kind: DnsFailureKind; detail: string };
