// Pure verdicts of the sip-options check: is a response acceptable, is a trunk slow, is there a
// fragmentation black hole, which destinations hang on one carrier or on none that works.
import type { SipTransport } from './uri.ts';

/**
 * Whether a final response means "the trunk works". With an explicit `accept` list only those
 * codes do. By default any final response proves reachability (RFC 3261 §11.2: even 404, 405 or
 * 501 to an OPTIONS means a SIP server processed it), except server failures (5xx other than
 * 501 Not Implemented) and global failures (6xx).
 */
export function acceptableStatus(status: number, accept?: number[]): boolean {
  if (accept && accept.length > 0) return accept.includes(status);
  if (status >= 600) return false;
  if (status >= 500) return status === 501;
  return status >= 200;
}

export const STATUS_NAMES: Record<number, string> = {
  408: 'Request Timeout',
  480: 'Temporarily Unavailable',
  500: 'Server Internal Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  513: 'Message Too Large',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
};

export type Slowness = 'ok' | 'warning' | 'critical';

export function slowness(rttMs: number, warnAfterMs: number, criticalAfterMs: number): Slowness {
  if (rttMs >= criticalAfterMs) return 'critical';
  if (rttMs >= warnAfterMs) return 'warning';
  return 'ok';
}

// ---------------------------------------------------------------------------------------------
// Fragmentation

export interface SizeOutcome {
  /** Bytes of the request (the UDP payload). */
  size: number;
  /** A final response came back (any status: the request reached the SIP stack). */
  passed: boolean;
}

export interface StreamLarge {
  transport: Exclude<SipTransport, 'udp'>;
  size: number;
  /** The small request over this transport got a final response (the transport works at all). */
  basePassed: boolean;
  largePassed: boolean;
}

export type FragmentationVerdict =
  | { kind: 'ok' }
  /** Nothing answered at any size over UDP: reachability findings cover it. */
  | { kind: 'unreachable' }
  /** Losses do not grow with size (e.g. 1300 lost, 1600 answered): random loss, not a size limit. */
  | { kind: 'inconclusive'; lostSizes: number[]; passedSizes: number[] }
  /** Small UDP requests pass, large ones vanish. `stream` says how TCP/TLS did with the largest size. */
  | {
      kind: 'blackhole';
      largestPassed: number;
      smallestLost: number;
      lostSizes: number[];
      stream: { transport: StreamLarge['transport']; status: 'works' | 'down' } | { status: 'not-probed' };
    }
  /** Large requests are lost on every transport that works for small ones. */
  | {
      kind: 'large-lost';
      largestPassed?: number;
      smallestLost?: number;
      lostSizes: number[];
      transports: SipTransport[];
      streamLargest: number;
    };

/**
 * The verdict for one address: UDP size steps, plus the largest request over TCP/TLS when probed.
 * A black hole needs a clean threshold: every lost size is larger than every answered size.
 */
export function fragmentationVerdict(udp: SizeOutcome[], streams: StreamLarge[]): FragmentationVerdict {
  const usableStreams = streams.filter((s) => s.basePassed);
  const streamWorks = usableStreams.find((s) => s.largePassed);
  const streamLost = usableStreams.find((s) => !s.largePassed);
  if (udp.length === 0) {
    if (!streamWorks && streamLost) {
      return { kind: 'large-lost', lostSizes: [streamLost.size], transports: [streamLost.transport], streamLargest: streamLost.size };
    }
    return { kind: 'ok' };
  }
  const passed = udp.filter((u) => u.passed).map((u) => u.size).sort((a, b) => a - b);
  const lost = udp.filter((u) => !u.passed).map((u) => u.size).sort((a, b) => a - b);
  if (passed.length === 0) return { kind: 'unreachable' };
  if (lost.length === 0) {
    if (!streamWorks && streamLost) {
      return { kind: 'large-lost', lostSizes: [streamLost.size], transports: [streamLost.transport], streamLargest: streamLost.size };
    }
    return { kind: 'ok' };
  }
  const largestPassed = passed[passed.length - 1];
  const smallestLost = lost[0];
  if (smallestLost < largestPassed) return { kind: 'inconclusive', lostSizes: lost, passedSizes: passed };
  if (streamWorks) {
    return { kind: 'blackhole', largestPassed, smallestLost, lostSizes: lost, stream: { transport: streamWorks.transport, status: 'works' } };
  }
  if (streamLost) {
    return {
      kind: 'large-lost',
      largestPassed,
      smallestLost,
      lostSizes: lost,
      transports: ['udp', ...usableStreams.map((s) => s.transport)],
      streamLargest: streamLost.size,
    };
  }
  const downStream = streams[0];
  return {
    kind: 'blackhole',
    largestPassed,
    smallestLost,
    lostSizes: lost,
    stream: downStream ? { transport: downStream.transport, status: 'down' } : { status: 'not-probed' },
  };
}

// ---------------------------------------------------------------------------------------------
// Routes

export interface RouteCarrier {
  name: string;
  /** Regions where the carrier is enabled; empty means everywhere. */
  regions: string[];
}

export interface RouteDestination {
  name?: string;
  prefix: string;
  carriers: string[];
  /** Regions where the destination must be routable; default: wherever its carriers are enabled. */
  regions?: string[];
}

export type RouteVerdict =
  | { code: 'SIP_SINGLE_CARRIER_ROUTE'; destination: RouteDestination; region?: string; carrier: string }
  | {
      code: 'SIP_ROUTE_DOWN';
      destination: RouteDestination;
      region?: string;
      /** Carriers enabled for the destination in the region (all of them failed); empty when none is enabled. */
      carriers: string[];
    };

/**
 * Per destination and region: the carriers able to route it there. One carrier → a single point
 * of failure (the incident: only Twilio carried some destinations in EUC1). None that works → the
 * destination cannot be called from that region right now.
 */
export function routeVerdicts(destinations: RouteDestination[], carriers: RouteCarrier[], down: ReadonlySet<string>): RouteVerdict[] {
  const byName = new Map(carriers.map((c) => [c.name, c]));
  const out: RouteVerdict[] = [];
  for (const destination of destinations) {
    const own = [...new Set(destination.carriers)].map((n) => byName.get(n)).filter((c): c is RouteCarrier => c !== undefined);
    const regions = destination.regions?.length
      ? destination.regions
      : [...new Set(own.flatMap((c) => c.regions))].sort();
    // No regions anywhere: one verdict for the destination as a whole.
    const scopes: (string | undefined)[] = regions.length > 0 ? regions : [undefined];
    for (const region of scopes) {
      const enabled = own.filter((c) => region === undefined || c.regions.length === 0 || c.regions.includes(region)).map((c) => c.name);
      if (enabled.length === 0 || enabled.every((c) => down.has(c))) {
        out.push({ code: 'SIP_ROUTE_DOWN', destination, region, carriers: enabled });
      } else if (enabled.length === 1) {
        out.push({ code: 'SIP_SINGLE_CARRIER_ROUTE', destination, region, carrier: enabled[0] });
      }
    }
  }
  return out;
}

export function destinationLabel(d: Pick<RouteDestination, 'name' | 'prefix'>): string {
  return d.name ? `${d.prefix} (${d.name})` : d.prefix;
}
