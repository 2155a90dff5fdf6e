// Probing one STUN server the way a webphone would: resolve its name through every resolver and the
// zone (a name that resolves differently is STUN_DNS_MISMATCH, via the shared lookup), then a Binding
// request to every address over every transport. Shared by stun-binding and ice-policy; the sockets
// are behind the StunClient in src/net/stun.ts (tests pass a fake as ctx.stun).
import type { StunServerConfig } from '../config-schema.ts';
import { describeShape } from '../compare.ts';
import { disagreements, viewName, type NameView } from '../lookup.ts';
import { socketStunClient, type BindingOutcome, type StunClient, type TlsSettings } from '../net/stun.ts';
import type { CheckContext, CodeDoc, Finding, Severity } from '../types.ts';
import { humanDuration } from '../units.ts';
import { STUN_CODES, type StunCode } from './codes.ts';
import { canonicalIp } from '../address.ts';
import { formatTransportAddress, isIpLiteral } from './codec.ts';
import { formatIceUri, parseIceUri, withTransport, type IceUri, type StunTransport } from './uri.ts';
import { stunClientCommand, stunClientReading } from './reference-clients.ts';

/** The StunClient a check uses: ctx.stun when the caller passed one (tests), else real sockets. */
export function stunClientOf(ctx: CheckContext): StunClient {
  return ctx.stun ?? socketStunClient;
}

export interface ProbeSettings {
  /** Per request, ms (UDP retransmits within it). */
  timeout: number;
  /** First UDP retransmission timeout, ms. */
  rto: number;
  /** Answers slower than this (from the first transmission) are STUN_SLOW, ms. */
  slowAfter: number;
  recordTypes: ('A' | 'AAAA')[];
  maxAddresses: number;
  /** IP literal or host name whose addresses the mapped address must be one of. */
  expectMappedAddress?: string;
}

export interface ServerToProbe {
  uri: IceUri;
  transports: StunTransport[];
  tlsPort: number;
  tls: TlsSettings;
  /** What findings name as their target; default: the URI of the transport probed. */
  target?: string;
  /** Prefix for messages when the target is not the server itself (e.g. a dialer's ICE config). */
  context?: string;
}

/** A configured server as the probes need it; undefined for a URI the config schema would have rejected. */
export function serverToProbe(s: StunServerConfig): ServerToProbe | undefined {
  const parsed = parseIceUri(s.uri);
  if (!parsed.ok) return undefined;
  return {
    uri: parsed.uri,
    transports: s.transports ?? [parsed.uri.transport],
    tlsPort: s.tlsPort,
    tls: { servername: s.servername, insecure: s.insecureTls, caFile: s.caFile },
  };
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
  /** Who hands this address out: 'zone' and/or resolver names. */
  seenBy: string[];
}

function finding(check: string, target: string, code: StunCode, message: string, extra: Partial<Finding> = {}): Finding {
  const doc: CodeDoc = STUN_CODES[code];
  return { check, target, severity: doc.severity as Severity, code, message, firstStep: doc.firstStep, ...extra };
}

const typeFamily = (type: 'A' | 'AAAA'): 4 | 6 => (type === 'A' ? 4 : 6);

/** Every address the name leads to, from the zone and from every resolver, plus STUN_DNS_MISMATCH findings. */
export async function resolveServerName(
  ctx: CheckContext,
  check: string,
  host: string,
  recordTypes: ('A' | 'AAAA')[],
  target: string,
): Promise<{ addresses: ResolvedAddress[]; findings: Finding[]; views: NameView[] }> {
  const literal = isIpLiteral(host);
  if (literal) return { addresses: [{ address: canonicalIp(host), family: literal, seenBy: ['literal'] }], findings: [], views: [] };
  const byAddress = new Map<string, ResolvedAddress>();
  const add = (address: string, family: 4 | 6, who: string) => {
    const key = canonicalIp(address);
    const entry = byAddress.get(key) ?? { address: key, family, seenBy: [] };
    if (!entry.seenBy.includes(who)) entry.seenBy.push(who);
    byAddress.set(key, entry);
  };
  const findings: Finding[] = [];
  const haveDns = ctx.config.resolvers.length > 0 || (ctx.config.authoritative?.length ?? 0) > 0;
  if (!haveDns) {
    // No resolver configured: the host's own resolver is all there is to ask.
    for (const type of recordTypes) {
      for (const a of await stunClientOf(ctx).resolveSystem(host, typeFamily(type))) add(a, typeFamily(type), 'system');
    }
    return { addresses: [...byAddress.values()], findings, views: [] };
  }
  const views = await Promise.all(recordTypes.map((type) => viewName(ctx, host, type)));
  for (const view of views) {
    const family = typeFamily(view.type as 'A' | 'AAAA');
    for (const o of view.authoritative) if (o.shape.status === 'data') o.shape.values.forEach((v) => add(v, family, 'zone'));
    for (const o of view.resolvers) if (o.shape.status === 'data') o.shape.values.forEach((v) => add(v, family, o.vantage.name));
    for (const { observation, comparison } of disagreements(view)) {
      const zone = view.zone.map(describeShape).join(' / ');
      const flush = observation.vantage.flushUrl;
      const shape = observation.shape;
      const remaining = shape.status === 'data' ? shape.ttl : shape.status === 'nxdomain' || shape.status === 'nodata' ? shape.negativeTtl : undefined;
      const wait = remaining === undefined ? 'wait for the remaining TTL' : `wait ${humanDuration(remaining)} until it expires`;
      findings.push(
        finding(check, target, 'STUN_DNS_MISMATCH', `${host} ${view.type} at ${observation.vantage.name}: ${comparison.reason}; webphones behind it reach a different STUN/TURN server`, {
          resolver: observation.vantage.name,
          firstStep: `Flush ${host} at ${observation.vantage.name}${flush ? ` (${flush})` : ''}, or ${wait}; then lower the TTL of ${host}.`,
          evidence: { name: host, type: view.type, resolverAnswer: describeShape(shape), zone, remainingTtl: remaining, flushUrl: flush },
        }),
      );
    }
  }
  if (byAddress.size === 0) {
    const seen = views.flatMap((v) => [...v.authoritative, ...v.resolvers].map((o) => `${o.vantage.name} ${v.type}: ${describeShape(o.shape)}`));
    findings.push(
      finding(check, target, 'STUN_NO_ADDRESS', `${host} resolves to no ${recordTypes.join('/')} address at any resolver or at the zone`, {
        firstStep: `Query ${host} directly (dig ${host} ${recordTypes[0]}); create the record or correct the name in the ICE configuration.`,
        evidence: { name: host, answers: seen.slice(0, 12) },
      }),
    );
  }
  return { addresses: [...byAddress.values()], findings, views };
}

/** The addresses `expectMappedAddress` stands for (an IP literal, or a name's addresses). */
async function expectedAddresses(ctx: CheckContext, check: string, spec: string, recordTypes: ('A' | 'AAAA')[]): Promise<Set<string>> {
  const literal = isIpLiteral(spec);
  if (literal) return new Set([canonicalIp(spec)]);
  const types = [...new Set<'A' | 'AAAA'>([...recordTypes, 'A'])];
  const { addresses } = await resolveServerName(ctx, check, spec, types, spec);
  // The zone's word is preferred: a resolver's stale copy is not what the host's record says.
  const zone = addresses.filter((a) => a.seenBy.includes('zone'));
  return new Set((zone.length ? zone : addresses).map((a) => a.address));
}

interface ProbeResult {
  address: ResolvedAddress;
  transport: StunTransport;
  port: number;
  outcome: BindingOutcome;
  /** False when another target's probe of the same server was reused (its measurements are recorded once). */
  fresh: boolean;
}

function failureCode(o: Extract<BindingOutcome, { ok: false }>): StunCode | undefined {
  switch (o.failure) {
    case 'timeout':
    case 'refused':
    case 'closed':
      return 'STUN_TIMEOUT';
    case 'tls':
      return 'STUN_TLS_FAILED';
    case 'error-response':
      return 'STUN_ERROR_RESPONSE';
    case 'bad-response':
      return 'STUN_BAD_RESPONSE';
    case 'aborted':
      return undefined;
  }
}

const ms = (n: number) => `${Math.round(n)} ms`;

/** Resolve, probe every address × transport, record measurements, and say what is wrong. */
export async function probeStunServer(ctx: CheckContext, check: string, server: ServerToProbe, p: ProbeSettings): Promise<Finding[]> {
  const client = stunClientOf(ctx);
  const primaryTarget = server.target ?? formatIceUri(server.uri);
  const resolved = await resolveServerName(ctx, check, server.uri.host, p.recordTypes, primaryTarget);
  const findings = [...resolved.findings];
  const addresses = resolved.addresses.slice(0, p.maxAddresses);
  const budget = { timeoutMs: p.timeout, rtoMs: p.rto, deadline: ctx.deadline, signal: ctx.signal };

  const results: ProbeResult[] = await Promise.all(
    addresses.flatMap((address) =>
      server.transports.map(async (transport): Promise<ProbeResult> => {
        const u = withTransport(server.uri, transport, server.tlsPort);
        const endpoint = { host: address.address, port: u.port, family: address.family };
        const tlsSettings: TlsSettings = { ...server.tls, servername: server.tls.servername ?? (server.uri.hostKind === 'name' ? server.uri.host : undefined) };
        // One probe per server, address and transport per run, however many dialers' configs name it.
        const key = `stun-binding|${transport}|${formatTransportAddress({ address: endpoint.host, port: endpoint.port, family: endpoint.family })}|${tlsSettings.servername ?? ''}|${tlsSettings.insecure ? 1 : 0}|${tlsSettings.caFile ?? ''}`;
        let fresh = false;
        let pending = ctx.cache.get(key) as Promise<BindingOutcome> | undefined;
        if (!pending) {
          fresh = true;
          pending = client.binding(endpoint, transport, budget, tlsSettings);
          ctx.cache.set(key, pending);
        }
        return { address, transport, port: u.port, outcome: await pending, fresh };
      }),
    ),
  );

  const expected = p.expectMappedAddress ? await expectedAddresses(ctx, check, p.expectMappedAddress, p.recordTypes) : undefined;
  const grouped = new Map<string, { code: StunCode; transport: StunTransport; results: ProbeResult[] }>();
  const note = (code: StunCode, r: ProbeResult) => {
    const key = `${code}|${r.transport}`;
    const g = grouped.get(key) ?? { code, transport: r.transport, results: [] };
    g.results.push(r);
    grouped.set(key, g);
  };

  for (const r of results) {
    const u = withTransport(server.uri, r.transport, server.tlsPort);
    // Measurements belong to the server (not to a dialer whose config names it), recorded once per run.
    const target = formatIceUri(u);
    const labels = { transport: r.transport, address: formatTransportAddress({ address: r.address.address, port: r.port, family: r.address.family }) };
    const o = r.outcome;
    if (!o.ok && o.failure === 'aborted') continue;
    if (r.fresh) {
      ctx.measure({ metric: 'up', value: o.ok ? 1 : 0, target, labels });
      ctx.measure({ metric: 'retransmissions', value: o.retransmissions, target, labels });
      if (o.ok) ctx.measure({ metric: 'rtt_seconds', value: o.rttMs / 1000, target, labels });
    }
    if (o.ok) {
      if (o.elapsedMs > p.slowAfter) note('STUN_SLOW', r);
      if (expected && expected.size > 0 && !expected.has(canonicalIp(o.mapped.address)) && [...expected].some((e) => isIpLiteral(e) === o.mapped.family)) {
        note('STUN_MAPPED_ADDRESS_MISMATCH', r);
      }
    } else {
      const code = failureCode(o);
      if (code) note(code, r);
    }
  }

  for (const g of grouped.values()) findings.push(describeGroup(check, server, g.code, g.transport, g.results, p, expected));
  return findings;
}

/** One finding per code and transport: a name with three dead addresses is one problem, not three. */
function describeGroup(
  check: string,
  server: ServerToProbe,
  code: StunCode,
  transport: StunTransport,
  results: ProbeResult[],
  p: ProbeSettings,
  expected: Set<string> | undefined,
): Finding {
  const u = withTransport(server.uri, transport, server.tlsPort);
  const uriText = formatIceUri(u);
  const target = server.target ?? uriText;
  const where = results.map((r) => formatTransportAddress({ address: r.address.address, port: r.port, family: r.address.family }));
  const whereText = server.uri.hostKind === 'name' ? ` at ${where.join(', ')}` : '';
  const prefix = server.context ? `${server.context}: ` : '';
  const first = results[0];
  const o = first.outcome;
  const perAddress = results.map((r) => {
    const x = r.outcome;
    return {
      address: formatTransportAddress({ address: r.address.address, port: r.port, family: r.address.family }),
      seenBy: r.address.seenBy,
      ...(x.ok
        ? { rttMs: Math.round(x.rttMs * 10) / 10, elapsedMs: Math.round(x.elapsedMs), retransmissions: x.retransmissions, mapped: formatTransportAddress(x.mapped), software: x.software }
        : { failure: x.failure, detail: x.detail, elapsedMs: Math.round(x.elapsedMs), retransmissions: x.retransmissions, errorCode: x.errorCode, sample: x.sample }),
    };
  });
  const evidence: Record<string, unknown> = { server: uriText, transport, addresses: perAddress };
  const addr = where[0];
  const [host, port] = [first.address.address, first.port];
  const tryIt = stunClientCommand(transport, host, port);
  switch (code) {
    case 'STUN_TIMEOUT': {
      const detail = o.ok ? '' : o.detail;
      return finding(check, target, code, `${prefix}${uriText} did not answer a Binding request over ${transport.toUpperCase()}${whereText}: ${detail}`, {
        firstStep:
          !o.ok && o.failure === 'refused'
            ? `Nothing listens on ${transport} ${addr}: start the STUN server or open ${transport}/${port} on it, or remove ${uriText} from the ICE configuration.`
            : `From this host run \`${tryIt}\`${stunClientReading(transport)}; if it also times out, check that the server runs and that ${transport}/${port} is open in its firewall / security group.`,
        evidence: { ...evidence, timeoutMs: p.timeout },
      });
    }
    case 'STUN_ERROR_RESPONSE': {
      const codeNum = o.ok ? undefined : o.errorCode;
      return finding(check, target, code, `${prefix}${uriText} answered the Binding request over ${transport.toUpperCase()} with error ${o.ok ? '' : o.detail}${whereText}`, {
        firstStep:
          codeNum === 401
            ? `${uriText} wants credentials for a plain Binding: webphones do not send any. Allow unauthenticated Binding on the server (coturn: no \`no-stun\`, no \`secure-stun\`) or use another STUN server.`
            : `Read the server's log at the time of this run for the ${codeNum ?? 'error'} it sent; ${codeNum === 420 ? 'it did not understand an attribute of a plain Binding: upgrade the server.' : `compare with \`${tryIt}\`.`}`,
        evidence: { ...evidence, errorCode: codeNum },
      });
    }
    case 'STUN_BAD_RESPONSE':
      return finding(check, target, code, `${prefix}${uriText} sent an unusable answer over ${transport.toUpperCase()}${whereText}: ${o.ok ? '' : o.detail}`, {
        firstStep: `Capture it: \`tcpdump -n -X ${transport === 'udp' ? 'udp' : 'tcp'} and host ${host} and port ${port}\` while running \`${tryIt}\`; if the bytes are not STUN, something else answers on that port.`,
        evidence: { ...evidence, problem: o.ok ? undefined : o.detail },
      });
    case 'STUN_TLS_FAILED':
      return finding(check, target, code, `${prefix}${uriText}: ${o.ok ? '' : o.detail}${whereText}`, {
        firstStep: `Run \`openssl s_client -connect ${addr}${server.uri.hostKind === 'name' ? ` -servername ${server.uri.host}` : ''}\` and read the chain and dates; renew or fix the certificate (browsers refuse it the same way).`,
        evidence,
      });
    case 'STUN_SLOW': {
      const slowest = results.reduce((a, b) => ((a.outcome.ok ? a.outcome.elapsedMs : 0) >= (b.outcome.ok ? b.outcome.elapsedMs : 0) ? a : b));
      const so = slowest.outcome.ok ? slowest.outcome : undefined;
      return finding(check, target, code, `${prefix}${uriText} answered over ${transport.toUpperCase()} only after ${ms(so?.elapsedMs ?? 0)}${so?.retransmissions ? ` and ${so.retransmissions} retransmission${so.retransmissions === 1 ? '' : 's'}` : ''} (slowAfter ${ms(p.slowAfter)})${whereText}`, {
        firstStep: so?.retransmissions
          ? `Requests were lost on the way to ${addr}: check packet loss with \`mtr -u -P ${port} ${host}\` and the server's load.`
          : `Check the server's load and the path to ${addr} (\`mtr ${host}\`); compare with another vantage point before moving servers.`,
        evidence: { ...evidence, slowAfterMs: p.slowAfter },
      });
    }
    case 'STUN_MAPPED_ADDRESS_MISMATCH': {
      const mapped = results.map((r) => (r.outcome.ok ? r.outcome.mapped.address : '')).filter(Boolean);
      const exp = [...(expected ?? [])];
      const expectedText = isIpLiteral(p.expectMappedAddress ?? '') ? `expected ${exp.join(', ')}` : `but ${p.expectMappedAddress} has ${exp.join(', ')}`;
      return finding(check, target, code, `${prefix}${uriText} sees this host as ${[...new Set(mapped)].join(', ')}, ${expectedText}`, {
        firstStep: `Point ${p.expectMappedAddress} at ${mapped[0]} or fix the NAT / elastic IP so the host leaves from ${exp[0]}; then check external_media_address in pjsip.conf.`,
        evidence: { ...evidence, mapped: [...new Set(mapped)], expected: exp },
      });
    }
    case 'STUN_DNS_MISMATCH':
    case 'STUN_NO_ADDRESS':
      // Raised by resolveServerName, never from a probe.
      return finding(check, target, code, `${prefix}${uriText}`, { evidence });
  }
}
