// The config schema's sections and the Config type: validated with zod, unknown keys rejected.
// Secrets are src/config-secret.ts; alerting, state, reporters and the daemon src/config-reporting.ts.
// The checks and everything they use import their types from here; the registry of checks (and so
// each check's params) joins in src/config.ts, above checks/.
import { z } from 'zod';
import { parseNetwork, parseResolverAddress, parseServerAddress } from './address.ts';
import { evenWithOtherProblems, isRecord } from './config-problems.ts';
import { alertingSchema, daemonSchema, reportersSchema, severity, stateSchema } from './config-reporting.ts';
import { secret } from './config-secret.ts';
import { duration } from './durations.ts';
import { parseCarrierUri } from './sip/uri.ts';
import { parseIceUri } from './stun/uri.ts';

const dnsServerAddress = z.string().transform((text, ctx) => {
  const parsed = parseServerAddress(text.trim(), 53);
  if (!parsed) {
    ctx.addIssue({
      code: 'custom',
      message: `expected host[:port] with an IPv4 address or a [bracketed] IPv6 address, got "${text}"`,
    });
    return z.NEVER;
  }
  return parsed;
});

const network = z.string().transform((text, ctx) => {
  const parsed = parseNetwork(text);
  if (!parsed) {
    ctx.addIssue({ code: 'custom', message: `expected a network such as 198.51.100.0/24 or 2001:db8::/48, got "${text}"` });
    return z.NEVER;
  }
  return parsed;
});

/** A resolver: a plain address as above, or DNS over TLS / HTTPS as browsers use them. */
const resolverAddress = z.string().transform((text, ctx) => {
  const parsed = parseResolverAddress(text.trim());
  if (!parsed) {
    ctx.addIssue({
      code: 'custom',
      message: `expected host[:port] (IPv4 or [bracketed] IPv6), tls://host[:853] or https://host[:443]/dns-query, got "${text}"`,
    });
    return z.NEVER;
  }
  return parsed;
});

export const hostnamePattern = /^(?=.{1,253}\.?$)(?:(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\.)*(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\.?$/;
const hostname = z
  .string()
  .regex(hostnamePattern, 'expected a DNS name such as acme.dialer.example.com')
  .transform((n) => n.toLowerCase().replace(/\.$/, ''));



const resolverSchema = z.strictObject({
  name: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'expected a short name of letters, digits, _ . -'),
  address: resolverAddress,
  /** The resolver's cache-flush page; known for Google, Cloudflare and OpenDNS. */
  flushUrl: z.url().optional(),
  qps: z.number().positive().optional(),
  concurrency: z.number().int().positive().optional(),
  /**
   * The networks the resolver asks the authoritative servers from (its egress). The zone is then
   * asked with each as EDNS Client Subnet, so answers that depend on who asks (geo, latency, CIDR)
   * are compared with what the zone gives that resolver.
   */
  egress: z.array(network).min(1).optional(),
  /** DoT/DoH: a PEM file of a private CA that signed the resolver's certificate. */
  caFile: z.string().min(1).optional(),
  /** DoT/DoH: the name the certificate must hold when the address is an IP address. */
  servername: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected a DNS name').optional(),
});

const authoritativeSchema = z.strictObject({
  name: z.string().min(1).optional(),
  address: dnsServerAddress,
});

const globList = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));

const zoneTargetSchema = z
  .strictObject({
    zone: hostname.optional(),
    route53ZoneId: z.string().regex(/^(\/hostedzone\/)?Z[A-Z0-9]+$/, 'expected a Route 53 hosted zone id such as Z0123456789ABC').optional(),
    match: globList.default(['*']),
    exclude: globList.default([]),
    private: z.boolean().optional(),
  })
  .refine((z) => z.zone !== undefined || z.route53ZoneId !== undefined, {
    message: 'expected zone (the zone name) or route53ZoneId',
    ...evenWithOtherProblems,
  });

const dnsSchema = z.strictObject({
  /** One attempt's deadline. */
  timeout: duration.default(1500),
  retries: z.number().int().min(0).max(5).default(2),
  /** Polite defaults: far below Google's ~1500 qps per client. */
  qps: z.number().positive().default(100),
  concurrency: z.number().int().positive().max(1000).default(10),
  ednsBufferSize: z.number().int().min(512).max(4096).default(1232),
  /**
   * Ask resolvers as a DNSSEC-aware client (the AD bit, as dig and glibc's trust-ad do): pdns-recursor's
   * default mode validates only such questions. Not the DO bit: dnsmasq answers DO questions past its cache.
   */
  dnssec: z.boolean().default(true),
  /** After this many questions in a row got no answer, a server is not asked again this run; 0 = always ask. */
  breaker: z.number().int().min(0).max(100).default(3),
});

const runSchema = z.strictObject({
  /** The whole run must finish within this (fits a 5-minute Lambda with room to report). */
  budget: duration.default(240_000),
  /**
   * Targets audited at once. A dialer target asks every server about every type at once (2 types ×
   * 4 servers = 8 queries), so 16 targets already keep the per-server limits busy; more only
   * raises memory (measured: 133 MB at 8, 157 MB at 32 for 2,000 dialers).
   */
  concurrency: z.number().int().positive().max(1000).default(16),
  failOn: severity.default('warning'),
  /** Where this run looks from (a region, a host); tags every finding. */
  vantage: z.string().min(1).optional(),
  /** Every per-target measurement as a JSON log line while the run goes (the report keeps aggregates). */
  measurements: z.boolean().default(false),
  /** Shards of a run on AWS (the Step Functions state machine); default: as many as the politeness bound needs. */
  shards: z.number().int().min(1).max(1000).optional(),
  /** Shards running at once; they share each server's qps, so a server never sees more than dns.qps. */
  shardConcurrency: z.number().int().min(1).max(40).default(1),
});

const awsSchema = z.strictObject({
  region: z.string().default('us-east-1'),
  endpoint: z.url().optional(),
  profile: z.string().optional(),
});

const fixSchema = z.strictObject({
  mode: z.enum(['off', 'plan', 'apply']).default('plan'),
  /** At most this many TTL changes within `window` (this run's plan plus what earlier runs applied). */
  maxChanges: z.number().int().positive().default(100),
  /** At most this share of a zone's record sets within `window` (zones of 10+ record sets), like octoDNS's 30 %. */
  maxPercent: z.number().positive().max(100).default(30),
  /** Globs of names the fixer must never touch. */
  protect: z.array(z.string()).default([]),
  /** Wait for Route 53 to report INSYNC within the run's budget. */
  waitForSync: z.boolean().default(true),
  /**
   * maxChanges and maxPercent count this run's plan together with what --fix applied within this
   * window (the fix journal in the alert state), so one-by-one --target runs cannot sidestep them.
   */
  window: duration.default(86_400_000),
});

const stunTransport = z.enum(['udp', 'tcp', 'tls']);

const stunServerSchema = z
  .strictObject({
    /** RFC 7064/7065: stun:host:port, stuns:, turn:host:port?transport=udp|tcp, turns:. */
    uri: z.string().superRefine((text, ctx) => {
      const parsed = parseIceUri(text);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.problem });
    }),
    /** Long-term TURN credentials (username + credential). */
    username: secret.optional(),
    credential: secret.optional(),
    /** Or a TURN REST shared secret (coturn use-auth-secret): username "expiry:restUser", password base64(HMAC-SHA1). */
    sharedSecret: secret.optional(),
    restUser: z.string().regex(/^[^:\s]+$/, 'expected a user name without ":" or spaces').default('dialer-audit'),
    /** How long REST credentials made from sharedSecret stay valid. */
    restTtl: duration.default(3_600_000),
    /** Probe over these transports; default: the URI's own. TLS to a stun:/turn: URI goes to tlsPort. */
    transports: z.array(stunTransport).min(1).optional(),
    tlsPort: z.number().int().min(1).max(65535).default(5349),
    /** TLS server name (SNI and certificate check) when the URI host is an address. */
    servername: z.string().optional(),
    /** Accept any certificate (labs only). */
    insecureTls: z.boolean().default(false),
    /** A PEM file of an extra CA to trust, e.g. a lab's self-signed certificate. */
    caFile: z.string().optional(),
  })
  .superRefine((s, ctx) => {
    if (s.sharedSecret && (s.username || s.credential)) {
      ctx.addIssue({ code: 'custom', path: ['sharedSecret'], message: 'use either username + credential (long-term) or sharedSecret (TURN REST), not both' });
    } else if (!!s.username !== !!s.credential) {
      ctx.addIssue({ code: 'custom', path: [s.username ? 'credential' : 'username'], message: 'username and credential go together' });
    }
    const parsed = typeof s.uri === 'string' ? parseIceUri(s.uri) : undefined;
    if (parsed?.ok && !parsed.uri.isTurn && (s.username || s.credential || s.sharedSecret)) {
      ctx.addIssue({ code: 'custom', path: ['uri'], message: 'credentials are for turn:/turns: servers; a STUN Binding needs none' });
    }
  }, evenWithOtherProblems);

const stunSchema = z.strictObject({
  servers: z.array(stunServerSchema).default([]),
  /** The ICE-server allow-list: host globs (*.example.net), optionally with :port. Empty: only deny rules apply. */
  allow: z.array(z.string().min(1)).default([]),
  /** Never allowed, even when `allow` matches. */
  deny: z.array(z.string().min(1)).default([]),
  /** Flag the public defaults WebRTC stacks ship with (Google's stun*.l.google.com:19302, the 2020 outage). */
  denyPublicDefaults: z.boolean().default(true),
});

const sipTransport = z.enum(['udp', 'tcp', 'tls']);

const sipPort = z.number().int().min(1).max(65535);

const carrierSchema = z
  .strictObject({
    name: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'expected a short name of letters, digits, _ . -'),
    /** `sip:host`, `sips:host`, `sip:host:port`, or `host:port` / `[v6]:port`; without a port the host is resolved per RFC 3263. */
    uri: z.string().min(1).refine((u) => parseCarrierUri(u) !== undefined, {
      message: 'expected a SIP URI such as sip:example.pstn.twilio.com, or host:port such as 127.0.0.1:5060',
    }),
    transports: z
      .array(sipTransport)
      .min(1)
      .default(['udp'])
      .refine((t) => !Array.isArray(t) || new Set(t).size === t.length, { message: 'each transport once', when: (p) => Array.isArray(p.value) }),
    /** Regions where this carrier is enabled (the trunks_regions table); empty means everywhere. */
    regions: z.array(z.string().min(1)).default([]),
    /** Ports per transport when they differ from the URI's (e.g. TLS on 5061 next to UDP/TCP on 5060). */
    ports: z.strictObject({ udp: sipPort.optional(), tcp: sipPort.optional(), tls: sipPort.optional() }).optional(),
    /** Final responses that mean "reachable"; by default any final response does, except 5xx (but 501) and 6xx. */
    accept: z.array(z.number().int().min(200).max(699)).optional(),
    warnAfter: duration.default(1000),
    criticalAfter: duration.default(5000),
    /** Identity in From and Contact: sip:fromUser@fromDomain (fromDomain defaults to our address). */
    fromUser: z.string().regex(/^[A-Za-z0-9_.!~*'()&=+$,;?/%-]+$/, 'expected the user part of a SIP URI').default('dialer-audit'),
    fromDomain: z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, 'expected a domain or an address').optional(),
    /** TLS: the name to verify the certificate against (default: the URI host when it is a name). */
    servername: z.string().optional(),
    /** TLS: accept a certificate that does not verify (labs only). */
    insecureTls: z.boolean().default(false),
  })
  .refine((c) => typeof c.criticalAfter !== 'number' || typeof c.warnAfter !== 'number' || c.criticalAfter >= c.warnAfter, {
    message: 'criticalAfter must not be shorter than warnAfter',
    path: ['criticalAfter'],
    ...evenWithOtherProblems,
  });

const destinationSchema = z.strictObject({
  name: z.string().optional(),
  /** The dialled prefix, e.g. "+44" or "+1-800". */
  prefix: z.string().min(1),
  /** Carriers able to route it; one only is a SIP_SINGLE_CARRIER_ROUTE. */
  carriers: z.array(z.string()).min(1),
  /** Regions where it must be routable; default: wherever its carriers are enabled. */
  regions: z.array(z.string().min(1)).optional(),
});

/** Every key but the checks' own params, which src/config.ts validates with the check registry. */
export const baseConfigSchema = z
  .strictObject({
    resolvers: z.array(resolverSchema).default([]),
    authoritative: z.array(authoritativeSchema).optional(),
    targets: z
      .strictObject({
        dialers: z.array(hostname).default([]),
        /** A text file of dialer names, one per line (`#` comments), relative to the config file: for large fleets. */
        dialersFile: z.string().min(1).optional(),
        zones: z.array(zoneTargetSchema).default([]),
      })
      .default({ dialers: [], zones: [] }),
    checks: z.record(z.string(), z.unknown()).default({}),
    dns: dnsSchema.default(dnsSchema.parse({})),
    run: runSchema.default(runSchema.parse({})),
    aws: awsSchema.optional(),
    fix: fixSchema.default(fixSchema.parse({})),
    stun: stunSchema.optional(),
    carriers: z.array(carrierSchema).default([]),
    destinations: z.array(destinationSchema).default([]),
    alerting: alertingSchema.default(alertingSchema.parse({})),
    state: stateSchema.optional(),
    reporters: reportersSchema.optional(),
    daemon: daemonSchema.optional(),
  })
  .superRefine((cfg, ctx) => {
    // Runs even when other keys are wrong (evenWithOtherProblems): every list is checked for its type first.
    const list = (value: unknown): Record<string, unknown>[] => (Array.isArray(value) ? value.map((v) => (isRecord(v) ? v : {})) : []);
    const seen = new Set<unknown>();
    list(cfg.resolvers).forEach((r, i) => {
      if (typeof r.name !== 'string') return;
      if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: ['resolvers', i, 'name'], message: `duplicate resolver name "${r.name}"` });
      seen.add(r.name);
    });
    const carrierNames = new Set(list(cfg.carriers).map((c) => c.name));
    list(cfg.destinations).forEach((d, i) => {
      if (!Array.isArray(d.carriers)) return;
      d.carriers.forEach((c: unknown, j) => {
        if (typeof c === 'string' && !carrierNames.has(c)) ctx.addIssue({ code: 'custom', path: ['destinations', i, 'carriers', j], message: `unknown carrier "${c}"` });
      });
    });
    if (isRecord(cfg.checks) && cfg.checks['dns-consistency'] !== undefined && Array.isArray(cfg.resolvers) && cfg.resolvers.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['resolvers'], message: 'dns-consistency needs at least one resolver' });
    }
  }, evenWithOtherProblems);

export type Config = z.output<typeof baseConfigSchema>;
export type ResolverConfig = Config['resolvers'][number];
export type CarrierConfig = Config['carriers'][number];
export type StunServerConfig = NonNullable<Config['stun']>['servers'][number];

export { Secret, SSM_SECRET_PATTERN, type ParseOptions } from './config-secret.ts';
