// sip-options: every carrier on its own, over every transport, with small and large requests.
// In the Twilio incident (INC-979) UDP INVITEs of 1800 bytes vanished while 1460-byte ones passed,
// and monitoring that only tested routes with failover never noticed: customers did, 1 h 43 min
// of 408s later. This check says "UDP to twilio loses requests above 1472 bytes; TCP works".
import pLimit from 'p-limit';
import { z } from 'zod';
import type { CarrierConfig, Config } from '../src/config.ts';
import { positiveDuration as duration, wholeDays } from '../src/durations.ts';
import { defaultSipClient, type SipProbeResult } from '../src/net/sip.ts';
import { resolveCarrier, type DnsMismatch, type Endpoint, type Resolution } from '../src/sip/resolve.ts';
import { hostPort, parseCarrierUri, requestUriOf, type SipTransport } from '../src/sip/uri.ts';
import {
  STATUS_NAMES,
  acceptableStatus,
  destinationLabel,
  fragmentationVerdict,
  routeVerdicts,
  slowness,
  type FragmentationVerdict,
  type SizeOutcome,
  type StreamLarge,
} from '../src/sip/verdict.ts';
import type { AuditedTargets, Check, CheckContext, CodeDoc, Finding, Severity, Target } from '../src/types.ts';
import { SEVERITY_RANK } from '../src/types.ts';

const ID = 'sip-options';

const params = z.strictObject({
  /** Probe UDP with requests padded to each of `sizes`, and TCP/TLS with the largest. */
  fragmentation: z.boolean().default(true),
  /** Request sizes in bytes (UDP payload). 1472 = 1500 − 20 (IPv4) − 8 (UDP): the largest unfragmented one. */
  sizes: z
    .array(z.number().int().min(200).max(65000))
    .min(1)
    .default([500, 1300, 1472, 1600, 1800, 3000])
    .transform((s) => [...new Set(s)].sort((a, b) => a - b)),
  /** One transaction's budget (RFC 3261's Timer F is 32 s; a monitor cannot wait that long). */
  timeout: duration.default(8000),
  /** RFC 3261 T1 and T2: UDP retransmissions at T1, 2·T1, 4·T1 … capped at T2. */
  t1: duration.default(500),
  t2: duration.default(4000),
  /** Also resolve and probe AAAA addresses (off: most trunks are IPv4 and many hosts lack IPv6 routes). */
  ipv6: z.boolean().default(false),
  /** Probes in flight per carrier. */
  concurrency: z.number().int().positive().max(64).default(8),
  /** SIP_TLS_CERT_EXPIRING when a carrier's certificate expires within this many days. */
  certWarnDays: wholeDays.default(14),
});
type Params = z.output<typeof params>;

const codes: Record<string, CodeDoc> = {
  SIP_TIMEOUT: {
    severity: 'critical',
    meaning: 'The carrier did not answer an OPTIONS within the budget (UDP retransmitted per RFC 3261): calls through it end in 408 Request Timeout, as in INC-979.',
    firstStep: "Check that this host's public address is allowed at the carrier and that the firewall passes SIP to it; if other carriers answer, open a ticket with this one and route its destinations through another carrier meanwhile.",
  },
  SIP_ERROR_RESPONSE: {
    severity: 'critical',
    meaning: 'The carrier answered with a failure (503 Service Unavailable, another 5xx or 6xx, or a status outside the carrier\'s `accept` list): it is reachable but will not take calls.',
    firstStep: "Read the status and Retry-After in the finding; 503 means overloaded or refusing us: check the carrier's status page and fail its destinations over to another carrier.",
  },
  SIP_SLOW: {
    severity: 'warning',
    meaning: "The carrier answered, but later than the carrier's warnAfter (warning) or criticalAfter (critical) threshold: calls set up late or time out.",
    firstStep: 'Compare with the other carriers from the same host; if only this one is slow, send the carrier an mtr to the address in the finding.',
  },
  SIP_TRANSPORT_UNAVAILABLE: {
    severity: 'critical',
    meaning: 'The transport itself fails: the TCP connection is refused or closed, the TLS handshake fails or the certificate is not trusted.',
    firstStep: "Confirm the carrier's port for this transport (SRV _sip._tcp / _sips._tcp) and that it is enabled for your account; for TLS, read the certificate error in the finding.",
  },
  SIP_MALFORMED_RESPONSE: {
    severity: 'critical',
    meaning: "Something answered at the carrier's address, but not in SIP (or not to our request): a wrong port, another service, or a middlebox mangling SIP.",
    firstStep: 'Capture the exchange (`tcpdump -A host ADDRESS and port PORT`); disable any SIP ALG on the path and check the port in the config.',
  },
  SIP_DNS_MISMATCH: {
    severity: 'warning',
    meaning: "A resolver hands out different NAPTR/SRV/A records for the carrier's name than the carrier's zone: trunks using it may go to an old address. Carriers with geographic DNS can differ on purpose.",
    firstStep: 'Compare dig @resolver and dig +norec @authoritative for the name in the finding; if it is not geographic DNS, flush the name at that resolver.',
  },
  SIP_DNS_FAILURE: {
    severity: 'critical',
    meaning: "The carrier's name resolves to no address (RFC 3263 NAPTR → SRV → A): nothing can reach the trunk.",
    firstStep: "Run dig NAPTR/SRV/A for the carrier's host; if the carrier changed its hostname, update the trunk and this config.",
  },
  SIP_DNS_BAD_RECORD: {
    severity: 'warning',
    meaning: "A NAPTR or SRV record of the carrier's name cannot be used (port 0 with a real target, a target or replacement that is not a host name, numbers out of range): it was skipped. When no usable record is left, the carrier is also SIP_DNS_FAILURE.",
    firstStep: "Send the carrier the record quoted in the finding (dig SRV/NAPTR of the name); until they fix it, set the port in the config (carriers[].ports) or use host:port in the uri.",
  },
  SIP_FRAGMENTATION_BLACKHOLE: {
    severity: 'critical',
    meaning: 'Small UDP requests are answered, large ones (IP-fragmented) vanish while TCP carries the same size: INVITEs that grow with auth headers fail, as in INC-979.',
    firstStep: 'Move this trunk to TCP or TLS (RFC 3261 §18.1.1: a request over 1300 bytes, or within 200 bytes of the path MTU, MUST go over TCP); meanwhile keep INVITEs at or below the largest size that passed.',
  },
  SIP_LARGE_REQUEST_LOST: {
    severity: 'critical',
    meaning: 'Large requests are lost on every transport that carries small ones: not IP fragmentation but a size limit at the carrier (or a middlebox).',
    firstStep: 'Ask the carrier about a message size limit on their SBC; keep INVITEs at or below the largest size that passed (drop unneeded headers).',
  },
  SIP_TLS_CERT_EXPIRING: {
    severity: 'warning',
    meaning: "The carrier's TLS certificate expires soon (or has expired): SIP over TLS to it will fail from that moment.",
    firstStep: 'Tell the carrier the expiry date in the finding; plan a fallback to TCP for this trunk if they do not renew in time.',
  },
  SIP_SINGLE_CARRIER_ROUTE: {
    severity: 'warning',
    meaning: 'A destination is routable by one carrier only (in a region): if that carrier fails, calls there fail with no failover — the gap INC-979 fell into.',
    firstStep: 'Enable a second carrier for the destination in that region (the trunks_regions table); until then watch this carrier\'s findings closely.',
  },
  SIP_ROUTE_DOWN: {
    severity: 'critical',
    meaning: 'Every carrier able to route a destination (in a region) failed this run, or none is enabled there: calls to it cannot be placed.',
    firstStep: 'Enable another carrier for the destination in that region, or reroute the region\'s traffic to another region, now; then chase the failing carrier.',
  },
};

interface CarrierTarget extends Target {
  data: { carrier: CarrierConfig };
}


const TRANSPORT_LABEL: Record<SipTransport, string> = { udp: 'UDP', tcp: 'TCP', tls: 'TLS' };
/** Leave this much of the run budget for reporting when a probe would otherwise run into it. */
const DEADLINE_MARGIN_MS = 250;

interface ProbeRun {
  endpoint: Endpoint;
  padTo?: number;
  /** The largest size over TCP/TLS, for the fragmentation comparison. */
  large: boolean;
  result: SipProbeResult;
}

/** One thing wrong with one endpoint; folded per carrier × transport × code into findings. */
interface Issue {
  code: string;
  severity: Severity;
  transport: SipTransport;
  /** What went wrong at this endpoint, naming it. */
  clause: string;
  firstStep: string;
  evidence: Record<string, unknown>;
}

function endpointKey(e: Endpoint): string {
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
function endpointIssues(carrier: CarrierConfig, runs: ProbeRun[], p: Params, budgetMs: number): { works: boolean; issues: Issue[] } {
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
function fragmentationIssues(carrier: CarrierConfig, runs: ProbeRun[], p: Params): Issue[] {
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

function mismatchFindings(carrier: CarrierConfig, mismatches: DnsMismatch[], works: boolean): Finding[] {
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
function foldIssues(carrier: CarrierConfig, issues: Issue[], endpointsPerTransport: Map<SipTransport, number>, works: boolean): Finding[] {
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

/** Probes to send to one endpoint: UDP at every size step, TCP/TLS plain and at the largest step. */
function planFor(endpoint: Endpoint, p: Params): { padTo?: number; large: boolean }[] {
  if (!p.fragmentation) return [{ large: false }];
  if (endpoint.transport === 'udp') return p.sizes.map((size) => ({ padTo: size, large: false }));
  return [{ padTo: p.sizes[0], large: false }, { padTo: p.sizes[p.sizes.length - 1], large: true }];
}

function recordMeasurements(ctx: CheckContext, carrier: CarrierConfig, run: ProbeRun): void {
  const r = run.result;
  if (r.outcome === 'aborted') return;
  const labels = { carrier: carrier.name, transport: r.transport, size: String(r.bytesSent), address: hostPort(r.address, r.port) };
  const ok = r.outcome === 'answered' && acceptableStatus(r.response!.status, carrier.accept);
  ctx.measure({ metric: 'up', value: ok ? 1 : 0, labels });
  ctx.measure({ metric: 'timeouts', value: r.outcome === 'timeout' ? 1 : 0, labels });
  if (r.outcome === 'answered' && r.rttMs !== undefined) ctx.measure({ metric: 'rtt_seconds', value: r.rttMs / 1000, labels });
  if (r.transport === 'udp') ctx.measure({ metric: 'retransmissions', value: Math.max(0, r.sends - 1), labels });
}

function unusableRecordsFinding(carrier: CarrierConfig, resolution: Resolution): Finding | undefined {
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

function dnsFailureFinding(carrier: CarrierConfig, resolution: Resolution): Finding | undefined {
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

export const sipOptions: Check<Params, CarrierTarget> = {
  id: ID,
  description: 'Sends SIP OPTIONS to every carrier over each transport (RFC 3263 resolution, RFC 3261 retransmission), finds fragmentation black holes with size steps, and flags destinations that hang on one carrier.',
  params,
  codes,
  targets(_inventory, _p, config) {
    return config.carriers.map((carrier) => ({ name: carrier.name, data: { carrier } }));
  },
  async run(target, p, ctx) {
    const carrier = target.data.carrier;
    const uri = parseCarrierUri(carrier.uri);
    if (!uri) throw new Error(`carrier ${carrier.name}: unusable uri ${carrier.uri}`); // the config schema rejects these first
    const sip = ctx.sip ?? defaultSipClient;

    const resolution = await resolveCarrier(ctx, uri, { transports: carrier.transports, ports: carrier.ports, ipv6: p.ipv6 });
    const requestUri = requestUriOf(uri);
    const servername = carrier.servername ?? (uri.hostKind === 'name' ? uri.host : undefined);

    const limit = pLimit(p.concurrency);
    const runs: ProbeRun[] = await Promise.all(
      resolution.endpoints.flatMap((endpoint) =>
        planFor(endpoint, p).map(({ padTo, large }) =>
          limit(async (): Promise<ProbeRun> => {
            // Each probe gets the check's budget, cut short by the run's deadline.
            const timeoutMs = Math.min(p.timeout, ctx.deadline - ctx.now() - DEADLINE_MARGIN_MS);
            const result: SipProbeResult =
              timeoutMs < 50 || ctx.signal.aborted
                ? { outcome: 'aborted', transport: endpoint.transport, address: endpoint.address, port: endpoint.port, bytesSent: 0, sends: 0 }
                : await sip.options(
                    {
                      transport: endpoint.transport,
                      address: endpoint.address,
                      port: endpoint.port,
                      requestUri,
                      fromUser: carrier.fromUser,
                      fromDomain: carrier.fromDomain,
                      padTo,
                      timeoutMs,
                      t1Ms: p.t1,
                      t2Ms: p.t2,
                      tls: endpoint.transport === 'tls' ? { servername, insecure: carrier.insecureTls } : undefined,
                    },
                    ctx.signal,
                  );
            const run = { endpoint, padTo, large, result };
            recordMeasurements(ctx, carrier, run);
            return run;
          }),
        ),
      ),
    );

    const byEndpoint = new Map<string, ProbeRun[]>();
    for (const r of runs) byEndpoint.set(endpointKey(r.endpoint), [...(byEndpoint.get(endpointKey(r.endpoint)) ?? []), r]);
    const issues: Issue[] = [];
    let works = false;
    for (const group of byEndpoint.values()) {
      const verdict = endpointIssues(carrier, group, p, p.timeout);
      works ||= verdict.works;
      issues.push(...verdict.issues);
    }
    issues.push(...fragmentationIssues(carrier, runs, p));

    const endpointsPerTransport = new Map<SipTransport, number>();
    for (const e of resolution.endpoints) endpointsPerTransport.set(e.transport, (endpointsPerTransport.get(e.transport) ?? 0) + 1);
    const findings = foldIssues(carrier, issues, endpointsPerTransport, works);
    findings.push(...mismatchFindings(carrier, resolution.mismatches, works));
    const dnsFailure = dnsFailureFinding(carrier, resolution);
    if (dnsFailure) findings.push(dnsFailure);
    const unusable = unusableRecordsFinding(carrier, resolution);
    if (unusable) findings.push(unusable);
    ctx.log.debug('sip-options probed', { carrier: carrier.name, endpoints: resolution.endpoints.length, probes: runs.length, works });
    return findings;
  },
  aggregate(findings, targets, _p, config) {
    return [...findings, ...routeFindings(findings, targets, config)];
  },
};

/** Which carriers failed this run: one of their findings says no endpoint gave an acceptable answer. */
export function carriersDown(findings: Finding[]): Set<string> {
  const down = new Set<string>();
  for (const f of findings) {
    if (f.check === ID && f.evidence?.carrierWorks === false && typeof f.evidence.carrier === 'string') down.add(f.evidence.carrier);
  }
  return down;
}

function routeFindings(findings: Finding[], targets: AuditedTargets, config: Config): Finding[] {
  const down = carriersDown(findings);
  const probed = new Set(config.carriers.map((c) => c.name).filter((name) => targets.includes(name)));
  return routeVerdicts(config.destinations, config.carriers, down).map((v): Finding => {
    const where = v.region ? ` in ${v.region}` : '';
    const label = destinationLabel(v.destination);
    const target = `route ${label}${where}`;
    if (v.code === 'SIP_SINGLE_CARRIER_ROUTE') {
      return {
        check: ID,
        target,
        severity: codes.SIP_SINGLE_CARRIER_ROUTE.severity,
        code: v.code,
        message: `${label}${where} is routable by ${v.carrier} only: if ${v.carrier} fails, these calls fail with no failover`,
        firstStep: `Enable a second carrier for ${label}${where} (the trunks_regions table); until then treat every ${v.carrier} finding as an outage of ${label}.`,
        evidence: { prefix: v.destination.prefix, destination: v.destination.name, region: v.region, carrier: v.carrier, carrierProbed: probed.has(v.carrier) },
      };
    }
    const none = v.carriers.length === 0;
    return {
      check: ID,
      target,
      severity: codes.SIP_ROUTE_DOWN.severity,
      code: v.code,
      message: none
        ? `${label}${where}: no carrier able to route it is enabled there (${v.destination.carriers.join(', ')} are not)`
        : `calls to ${label}${where} cannot be placed: every carrier able to route them failed this run (${v.carriers.join(', ')})`,
      firstStep: none
        ? `Enable one of ${v.destination.carriers.join(', ')} for ${v.region ?? 'this region'}, or remove ${v.region ?? 'the region'} from this destination's regions.`
        : `Enable another carrier for ${label}${where} or reroute the region's traffic to another region now; then chase ${v.carriers.join(', ')} (see their findings).`,
      evidence: { prefix: v.destination.prefix, destination: v.destination.name, region: v.region, carriers: v.carriers, allCarriers: v.destination.carriers },
    };
  });
}
