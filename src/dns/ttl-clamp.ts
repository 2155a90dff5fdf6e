// Resolvers that clamp TTLs, recognised from one question they cannot have cached: a name made up
// for the run (`_dialer-audit-<random>` under the dialer's parent) asked twice in a row. An honest
// cache hands out at most the zone's TTL and counts down; a floor (unbound cache-min-ttl,
// pdns-recursor minimum-ttl-override, dnsmasq min-cache-ttl) hands out more, at once or from the
// second ask; a cap that hides how long answers are kept (dnsmasq max-ttl) hands out less on the
// second ask than the first one just said.
import { humanDuration } from '../units.ts';

export interface ClampProbe {
  /** The TTL the zone gives the made-up name: min(SOA TTL, SOA MINIMUM) for NXDOMAIN, or a wildcard's TTL. */
  zoneTtl: number;
  /** The resolver's TTL for it, asked twice in a row. */
  first: number;
  second: number;
  /** Seconds between the two asks. */
  elapsedS: number;
}

export type Clamp =
  | { kind: 'floor'; ttl: number; zoneTtl: number }
  | { kind: 'cap'; ttl: number; zoneTtl: number };

/** TTLs are whole seconds and the two asks may straddle a second boundary. */
const SLACK_S = 1;

export function judgeClamp(p: ClampProbe): Clamp | undefined {
  const most = Math.max(p.first, p.second);
  if (most > p.zoneTtl + SLACK_S) return { kind: 'floor', ttl: most, zoneTtl: p.zoneTtl };
  if (p.second < p.first - p.elapsedS - SLACK_S) return { kind: 'cap', ttl: p.second, zoneTtl: p.zoneTtl };
  return undefined;
}

/** A remaining TTL above the zone's at a resolver with a floor is the floor at work, not an older TTL. */
export function explainedByFloor(clamp: Clamp | undefined): boolean {
  return clamp?.kind === 'floor';
}

/** The remaining TTL a capping resolver reports says nothing about when a stale answer there ends. */
export function hidesCacheLifetime(clamp: Clamp | undefined): boolean {
  return clamp?.kind === 'cap';
}

/** The once-per-resolver info finding's words. */
export function clampWording(resolver: string, c: Clamp): { message: string; firstStep: string } {
  if (c.kind === 'floor') {
    return {
      message: `${resolver} raises TTLs to at least ${c.ttl} s: asked twice about a name it cannot have cached, it handed out ${c.ttl} s where the zone says ${c.zoneTtl} s. The next stale answer there can last ${humanDuration(c.ttl)} whatever TTL the zone sets, and remaining TTLs above the zone's there are this floor, not an older TTL`,
      firstStep: `Nothing to fix in the zone. Expect a changed record to stay stale at ${resolver} for up to ${humanDuration(c.ttl)} (flush it there after a change); if you run this resolver, lower its floor (unbound cache-min-ttl, pdns-recursor minimum-ttl-override, dnsmasq min-cache-ttl).`,
    };
  }
  return {
    message: `${resolver} hands out at most ${c.ttl} s from its cache: asked twice about a name it cannot have cached, it said ${c.zoneTtl} s and then ${c.ttl} s. It may keep answers longer than it says, so the remaining TTL it reports does not bound how long a stale answer there lasts`,
    firstStep: `Nothing to fix in the zone. After a change, flush the record at ${resolver} rather than waiting for its TTL; if you run it, cap how long answers are kept instead (dnsmasq max-cache-ttl rather than max-ttl).`,
  };
}
