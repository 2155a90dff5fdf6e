// What sip-options' probes mean, in words: one endpoint's health from all its probes, the
// fragmentation black hole, DNS that disagrees or cannot be used, folded per carrier × transport.
// Pure: probe results in, findings out (checks/sip-options.ts sends the probes).
import type { CarrierConfig } from '../config-schema.ts';
import type { SipProbeResult } from '../net/sip.ts';
import type { DnsMismatch, Endpoint, Resolution } from './resolve.ts';
import { hostPort, parseCarrierUri, type SipTransport } from './uri.ts';
import { SIP_CHECK as ID, SIP_CODES as codes } from './codes.ts';
import { STATUS_NAMES, acceptableStatus, fragmentationVerdict, slowness, type FragmentationVerdict, type SizeOutcome, type StreamLarge } from './verdict.ts';
import type { Finding, Severity } from '../types.ts';
import { SEVERITY_RANK } from '../types.ts';

/** The check's parameters these verdicts read. */
export interface VerdictSettings {
  fragmentation: boolean;
  certWarnDays: number;
}

export const TRANSPORT_LABEL: Record<SipTransport, string> = { udp: 'UDP', tcp: 'TCP', tls: 'TLS' };

export interface ProbeRun {
  endpoint: Endpoint;
  padTo?: number;
  /** The largest size over TCP/TLS, for the fragmentation comparison. */
  large: boolean;
  result: SipProbeResult;
}

/** One thing wrong with one endpoint; folded per carrier × transport × code into findings. */
export interface Issue {
  code: string;
  severity: Severity;
  transport: SipTransport;
  /** What went wrong at this endpoint, naming it. */
  clause: string;
  firstStep: string;
  evidence: Record<string, unknown>;
}

export function endpointKey(e: Endpoint): string {
  return `${e.transport}|${e.address}|${e.port}`;
}

function secondsText(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s` : `${Math.round(ms)} ms`;
}

function statusText(status: number, reason: string): string {
  return `${status} ${reason || STATUS_NAMES[status] || ''}`.trim();
}

function probeEvidence(r: SipProbeResult, e: Endpoint): Record<string, unknown> {
  return {
    address: hostPort(r.address, r.port),
    host: e.host !== e.address ? e.host : undefined,
    foundVia: e.via,
    srvPriority: e.priority,
    outcome: r.outcome,
    status: r.response?.status,
    reason: r.response?.reason,
    rttMs: r.rttMs === undefined ? undefined : Math.round(r.rttMs),
    connectMs: r.connectMs === undefined ? undefined : Math.round(r.connectMs),
    server: r.response?.server,
    allow: r.response?.allow,
    retryAfter: r.response?.retryAfter,
    seenAs: r.response?.viaReceived || r.response?.viaRport ? `${r.response?.viaReceived ?? '?'}:${r.response?.viaRport ?? '?'}` : undefined,
    respondedFrom: r.respondedFrom,
    local: r.local,
    bytes: r.bytesSent,
    transmissions: r.sends,
    provisional: r.provisional,
    stage: r.stage,
    detail: r.detail,
    sample: r.sample,
    strays: r.strays,
    tls: r.tls,
  };
}

function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** Health of one endpoint from all its probes: the smallest answered request speaks for it. */
export function endpointIssues(carrier: CarrierConfig, runs: ProbeRun[], p: VerdictSettings, budgetMs: number): { works: boolean; issues: Issue[] } {
  const e = runs[0].endpoint;
  const T = TRANSPORT_LABEL[e.transport];
  // The finding's message already names carrier and transport; each clause names the address.
  const where = hostPort(e.address, e.port);
  const sorted = [...runs].sort((a, b) => a.result.bytesSent - b.result.bytesSent);
  const answered = sorted.filter((r) => r.result.outcome === 'answered');
  const issues: Issue[] = [];
  const issue = (code: string, clause: string, firstStep: string, r: SipProbeResult, severity = codes[code].severity) =>
    issues.push({ code, severity, transport: e.transport, clause, firstStep, evidence: compact(probeEvidence(r, e)) });

  if (answered.length === 0) {
    const base = sorted.find((r) => r.result.outcome !== 'aborted')?.result;
    if (!base) return { works: false, issues };
    if (base.outcome === 'timeout') {
      issue(
        'SIP_TIMEOUT',
        `${where}: no response to OPTIONS (${base.detail ?? `within ${secondsText(budgetMs)}`})`,
        e.transport === 'udp'
          ? `No SIP answer from ${carrier.name} over UDP at ${hostPort(e.address, e.port)}: check that this host's public address is allowed at ${carrier.name} and that UDP ${e.port} passes the firewall both ways; if other carriers answer, open a ticket with ${carrier.name} and route its destinations elsewhere meanwhile.`
          : `No SIP answer from ${carrier.name} over ${T} at ${hostPort(e.address, e.port)}${base.stage === 'connect' ? ' (the TCP handshake never completed: a firewall drops it)' : ''}: check the firewall and that ${T} is enabled for your account at ${carrier.name}.`,
        base,
      );
    } else if (base.outcome === 'unavailable') {
      const tlsProblem = base.stage === 'tls';
      issue(
        'SIP_TRANSPORT_UNAVAILABLE',
        `${where}: ${base.detail}`,
        tlsProblem
          ? `The TLS handshake with ${carrier.name} at ${hostPort(e.address, e.port)} failed (${base.detail}): check the certificate details in the evidence, the carrier's servername (config servername), and that your TLS client certificate, if required, is set up.`
          : `${base.detail} — confirm ${carrier.name}'s ${T} port (config ports.${e.transport} or SRV ${e.transport === 'udp' ? '_sip._udp' : e.transport === 'tcp' ? '_sip._tcp' : '_sips._tcp'}) and that ${T} is enabled for your account.`,
        base,
      );
    } else if (base.outcome === 'malformed') {
      issue(
        'SIP_MALFORMED_RESPONSE',
        `${where}: ${base.detail}`,
        `Something at ${hostPort(e.address, e.port)} answers ${T} in a language other than SIP: capture it (\`tcpdump -A host ${e.address} and port ${e.port}\`), check the port in the config and disable any SIP ALG on the path.`,
        base,
      );
    }
    return { works: false, issues };
  }

  const rep = answered[0].result;
  const status = rep.response!.status;
  let works = true;
  if (!acceptableStatus(status, carrier.accept)) {
    works = false;
    const is503 = status === 503;
    const serverFailure = status >= 500;
    issue(
      'SIP_ERROR_RESPONSE',
      `${where}: answers ${statusText(status, rep.response!.reason)}${is503 ? ' (overloaded, or refusing us)' : ''}${rep.response!.retryAfter ? `, Retry-After ${rep.response!.retryAfter}` : ''}`,
      is503
        ? `${carrier.name} answers 503 Service Unavailable over ${T}: fail its destinations over to another carrier, check ${carrier.name}'s status page, and ask them whether they are throttling or blocking this host.`
        : serverFailure
          ? `${carrier.name} answers ${statusText(status, rep.response!.reason)} over ${T}: fail its destinations over to another carrier and open a ticket with the status and time from this finding.`
          : `${carrier.name} answers ${statusText(status, rep.response!.reason)}, which is not in its accept list (${(carrier.accept ?? []).join(', ')}): check the carrier's account settings (allowed IPs, auth), or add the status to accept if it is expected.`,
      rep,
      serverFailure ? 'critical' : 'warning',
    );
  }
  const rtt = rep.rttMs ?? 0;
  const slow = slowness(rtt, carrier.warnAfter, carrier.criticalAfter);
  if (slow !== 'ok') {
    // Retransmissions without any provisional answer mean something was lost on the way.
    const lossy = rep.sends > 1 && !rep.provisional;
    issue(
      'SIP_SLOW',
      `${where}: answered in ${secondsText(rtt)} (warning at ${secondsText(carrier.warnAfter)}, critical at ${secondsText(carrier.criticalAfter)})${rep.sends > 1 ? ` after ${rep.sends - 1} retransmission${rep.sends > 2 ? 's' : ''}` : ''}${rep.provisional ? ` (${rep.provisional.join(', ')} first)` : ''}`,
      lossy
        ? `${carrier.name} answered over ${T} only after retransmissions: requests or answers are being lost on the way; send ${carrier.name} an mtr to ${rep.address} from this host.`
        : rep.provisional
          ? `${carrier.name} acknowledges at once (${rep.provisional.join(', ')}) but takes ${secondsText(rtt)} for the final answer over ${T}: its SIP server is busy or waits on something behind it; ask ${carrier.name}.`
          : `${carrier.name} takes ${secondsText(rtt)} to answer over ${T}: compare with other carriers from this host; if only ${carrier.name} is slow, send them an mtr to ${rep.address}.`,
      rep,
      slow,
    );
  }
  const tlsPeer = answered.map((r) => r.result.tls).find((t) => t?.daysLeft !== undefined);
  if (tlsPeer && tlsPeer.daysLeft !== undefined && tlsPeer.daysLeft < p.certWarnDays) {
    issue(
      'SIP_TLS_CERT_EXPIRING',
      `${where}: the certificate${tlsPeer.subject ? ` of ${tlsPeer.subject}` : ''} ${tlsPeer.daysLeft < 0 ? 'expired' : `expires in ${tlsPeer.daysLeft} days`} (${tlsPeer.validTo})`,
      `Tell ${carrier.name} their TLS certificate${tlsPeer.subject ? ` for ${tlsPeer.subject}` : ''} ${tlsPeer.daysLeft < 0 ? 'has expired' : `expires on ${tlsPeer.validTo?.slice(0, 10)}`}; plan a fallback to TCP for this trunk if it is not renewed in time.`,
      rep,
      tlsPeer.daysLeft < 0 ? 'critical' : 'warning',
    );
  }
  return { works, issues };
}

/** The fragmentation verdict for every address that was probed with size steps. */
export function fragmentationIssues(carrier: CarrierConfig, runs: ProbeRun[], p: VerdictSettings): Issue[] {
  if (!p.fragmentation) return [];
  const issues: Issue[] = [];
  const live = runs.filter((r) => r.result.outcome !== 'aborted');
  const streamLarge = (list: ProbeRun[]): StreamLarge[] => {
    const byEndpoint = new Map<string, ProbeRun[]>();
    for (const r of list.filter((x) => x.endpoint.transport !== 'udp')) byEndpoint.set(endpointKey(r.endpoint), [...(byEndpoint.get(endpointKey(r.endpoint)) ?? []), r]);
    const out: StreamLarge[] = [];
    for (const group of byEndpoint.values()) {
      const base = group.find((r) => !r.large);
      const large = group.find((r) => r.large);
      if (!base || !large) continue;
      out.push({
        transport: group[0].endpoint.transport as StreamLarge['transport'],
        size: large.result.bytesSent,
        basePassed: base.result.outcome === 'answered',
        largePassed: large.result.outcome === 'answered',
      });
    }
    return out;
  };
  const carrierStreams = streamLarge(live);
  const addresses = [...new Set(live.map((r) => r.endpoint.address))];
  for (const address of addresses) {
    const here = live.filter((r) => r.endpoint.address === address);
    const udpRuns = here.filter((r) => r.endpoint.transport === 'udp');
    const udp: SizeOutcome[] = udpRuns.map((r) => ({ size: r.result.bytesSent, passed: r.result.outcome === 'answered' }));
    const localStreams = streamLarge(here);
    // Black hole at an address with no TCP endpoint of its own (SRV may split transports): judge TCP carrier-wide.
    const streams = localStreams.length > 0 || udp.length === 0 ? localStreams : carrierStreams;
    const verdict = fragmentationVerdict(udp, streams);
    const issue = describeFragmentation(carrier, address, udpRuns, verdict);
    if (issue) issues.push(issue);
  }
  return issues;
}

function describeFragmentation(carrier: CarrierConfig, address: string, udpRuns: ProbeRun[], v: FragmentationVerdict): Issue | undefined {
  const udpPort = udpRuns[0]?.endpoint.port;
  const at = udpPort ? hostPort(address, udpPort) : address;
  const sizes = udpRuns.map((r) => ({ bytes: r.result.bytesSent, outcome: r.result.outcome, status: r.result.response?.status })).sort((a, b) => a.bytes - b.bytes);
  if (v.kind === 'blackhole') {
    const streamText =
      v.stream.status === 'works'
        ? `${TRANSPORT_LABEL[v.stream.transport]} carries the same size`
        : v.stream.status === 'down'
          ? `${TRANSPORT_LABEL[v.stream.transport]} does not work at all there`
          : 'TCP was not probed';
    const firstStep =
      v.stream.status === 'works'
        ? `UDP to ${carrier.name} loses requests above ${v.largestPassed} bytes; ${TRANSPORT_LABEL[v.stream.transport]} works — move the trunk to ${TRANSPORT_LABEL[v.stream.transport]} (RFC 3261 §18.1.1: requests over 1300 bytes MUST go over TCP); until then keep INVITEs at or below ${v.largestPassed} bytes.`
        : v.stream.status === 'down'
          ? `UDP to ${carrier.name} loses requests above ${v.largestPassed} bytes and ${TRANSPORT_LABEL[v.stream.transport]} does not work there: ask ${carrier.name} to enable TCP/TLS for your account, and keep INVITEs at or below ${v.largestPassed} bytes meanwhile (RFC 3261 §18.1.1).`
          : `UDP to ${carrier.name} loses requests above ${v.largestPassed} bytes: add tcp to this carrier's transports to confirm TCP carries them, then move the trunk to TCP (RFC 3261 §18.1.1: requests over 1300 bytes MUST go over TCP).`;
    return {
      code: 'SIP_FRAGMENTATION_BLACKHOLE',
      severity: 'critical',
      transport: 'udp',
      clause: `${at} loses requests above ${v.largestPassed} bytes (${v.lostSizes.join(', ')} lost, up to ${v.largestPassed} answered); ${streamText}`,
      firstStep,
      evidence: { address: at, largestPassed: v.largestPassed, smallestLost: v.smallestLost, lostSizes: v.lostSizes, stream: v.stream, sizes, rfc: 'RFC 3261 §18.1.1' },
    };
  }
  if (v.kind === 'large-lost') {
    const transports = v.transports.map((t) => TRANSPORT_LABEL[t]).join(' and ');
    const limit = v.largestPassed ? `above ${v.largestPassed} bytes` : `of ${v.streamLargest} bytes`;
    return {
      code: 'SIP_LARGE_REQUEST_LOST',
      severity: 'critical',
      transport: v.transports[0],
      clause: `${address} loses requests ${limit} over ${transports} alike (${v.lostSizes.join(', ')} bytes lost)`,
      firstStep: `${carrier.name} loses requests ${limit} on ${transports} alike, so it is not IP fragmentation: ask ${carrier.name} about a message size limit on their SBC and keep INVITEs ${v.largestPassed ? `at or below ${v.largestPassed} bytes` : 'small'} meanwhile.`,
      evidence: { address: at, largestPassed: v.largestPassed, smallestLost: v.smallestLost, lostSizes: v.lostSizes, transports: v.transports, sizes },
    };
  }
  return undefined;
}

export function mismatchFindings(carrier: CarrierConfig, mismatches: DnsMismatch[], works: boolean): Finding[] {
  const byResolver = new Map<string, DnsMismatch[]>();
  for (const m of mismatches) byResolver.set(m.resolver, [...(byResolver.get(m.resolver) ?? []), m]);
  return [...byResolver.entries()].map(([resolver, list]) => {
    const first = list[0];
    const more = list.length > 1 ? ` (and ${list.length - 1} more name${list.length > 2 ? 's' : ''})` : '';
    return {
      check: ID,
      target: carrier.name,
      severity: codes.SIP_DNS_MISMATCH.severity,
      code: 'SIP_DNS_MISMATCH',
      resolver,
      message: `${carrier.name}: ${first.name} ${first.type} at ${resolver}: ${first.reason}${more}`,
      firstStep: `Compare \`dig @${first.server.replace(/:53$/, '')} ${first.name} ${first.type}\` with the carrier's authoritative answer; unless ${carrier.name} uses geographic DNS, flush ${first.name} at ${resolver}${first.flushUrl ? ` (${first.flushUrl})` : ''} so trunks stop using ${first.resolverAnswer}.`,
      evidence: {
        carrier: carrier.name,
        carrierWorks: works,
        server: first.server,
        flushUrl: first.flushUrl,
        names: list.map((m) => ({ name: m.name, type: m.type, resolverAnswer: m.resolverAnswer, zoneAnswer: m.zoneAnswer, kind: m.kind })),
      },
    };
  });
}

/** Fold issues per transport × code into one finding each, so alert state keys stay stable. */
export function foldIssues(carrier: CarrierConfig, issues: Issue[], endpointsPerTransport: Map<SipTransport, number>, works: boolean): Finding[] {
  const groups = new Map<string, Issue[]>();
  for (const i of issues) groups.set(`${i.transport}|${i.code}`, [...(groups.get(`${i.transport}|${i.code}`) ?? []), i]);
  const out: Finding[] = [];
  for (const group of groups.values()) {
    const first = group[0];
    const T = TRANSPORT_LABEL[first.transport];
    const total = endpointsPerTransport.get(first.transport) ?? group.length;
    const severity = group.reduce<Severity>((s, i) => (SEVERITY_RANK[i.severity] > SEVERITY_RANK[s] ? i.severity : s), 'info');
    const share = total > 1 ? ` (${group.length} of ${total} addresses)` : '';
    out.push({
      check: ID,
      target: `${carrier.name}/${first.transport}`,
      severity,
      code: first.code,
      message: `${carrier.name} over ${T}${share}: ${group.map((i) => i.clause).join('; ')}`,
      firstStep: first.firstStep,
      evidence: {
        carrier: carrier.name,
        transport: first.transport,
        carrierWorks: works,
        ...(group.length === 1 ? first.evidence : { endpoints: group.map((i) => i.evidence) }),
      },
    });
  }
  return out;
}

export function unusableRecordsFinding(carrier: CarrierConfig, resolution: Resolution): Finding | undefined {
  const bad = resolution.unusable;
  if (bad.length === 0) return undefined;
  const first = bad[0];
  return {
    check: ID,
    target: carrier.name,
    severity: codes.SIP_DNS_BAD_RECORD.severity,
    code: 'SIP_DNS_BAD_RECORD',
    message: `${carrier.name}: ${bad.map((b) => `${b.name} ${b.type} "${b.record}" is skipped: ${b.reason}`).join('; ')}`,
    firstStep: `Ask ${carrier.name} to fix ${first.name} ${first.type} (dig ${first.type} ${first.name}); until then set carriers[].ports in the config or give the uri as host:port.`,
    evidence: { carrier: carrier.name, records: bad },
  };
}

export function dnsFailureFinding(carrier: CarrierConfig, resolution: Resolution): Finding | undefined {
  if (resolution.failures.length === 0) return undefined;
  const transports = resolution.failures.map((f) => f.transport);
  const all = resolution.endpoints.length === 0;
  return {
    check: ID,
    target: carrier.name,
    severity: all ? 'critical' : 'warning',
    code: 'SIP_DNS_FAILURE',
    message: `${carrier.name}: no address for ${transports.map((t) => TRANSPORT_LABEL[t]).join(', ')}: ${[...new Set(resolution.failures.map((f) => f.detail))].join('; ')}`,
    firstStep: `Run dig NAPTR, SRV and A for ${parseCarrierUri(carrier.uri)?.host ?? carrier.uri}; if ${carrier.name} changed its hostname, update the trunk and the uri in this config.`,
    evidence: { carrier: carrier.name, carrierWorks: !all, failures: resolution.failures, lookups: resolution.trace },
  };
}
