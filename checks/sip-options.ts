// sip-options: every carrier on its own, over every transport, with small and large requests.
// In the Twilio incident (INC-979) UDP INVITEs of 1800 bytes vanished while 1460-byte ones passed,
// and monitoring that only tested routes with failover never noticed: customers did, 1 h 43 min
// of 408s later. This check says "UDP to twilio loses requests above 1472 bytes; TCP works".
import pLimit from 'p-limit';
import { z } from 'zod';
import type { CarrierConfig, Config } from '../src/config-schema.ts';
import { positiveDuration as duration, wholeDays } from '../src/durations.ts';
import { defaultSipClient, type SipProbeResult } from '../src/net/sip.ts';
import { SIP_CHECK as ID, SIP_CODES as codes } from '../src/sip/codes.ts';
import {
  dnsFailureFinding,
  endpointIssues,
  endpointKey,
  foldIssues,
  fragmentationIssues,
  mismatchFindings,
  unusableRecordsFinding,
  type Issue,
  type ProbeRun,
} from '../src/sip/findings.ts';
import { resolveCarrier, type Endpoint } from '../src/sip/resolve.ts';
import { hostPort, parseCarrierUri, requestUriOf, type SipTransport } from '../src/sip/uri.ts';
import { acceptableStatus, destinationLabel, routeVerdicts } from '../src/sip/verdict.ts';
import type { AuditedTargets, Check, CheckContext, Finding, Target } from '../src/types.ts';

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

interface CarrierTarget extends Target {
  data: { carrier: CarrierConfig };
}

/** Leave this much of the run budget for reporting when a probe would otherwise run into it. */
const DEADLINE_MARGIN_MS = 250;

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
