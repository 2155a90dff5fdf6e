// A vantage that can reach none of its resolvers (or none of the zone's authoritative servers) is
// one finding about this host, not a failure per dialer and server: nothing could be compared, and
// the servers are most likely fine — this host's path to them is not.
import type { CodeDoc, Finding } from '../types.ts';

export const VANTAGE_BLIND: CodeDoc = {
  severity: 'critical',
  meaning:
    'This host (the vantage the audit runs from) got no answer from any configured resolver, or from any of the zone\'s authoritative servers: nothing could be compared, so the run says nothing about the fleet. Usually this host\'s own network path to DNS is blocked, not the servers.',
  firstStep:
    'From this host, run dig @RESOLVER example.com (and +tcp); check its firewall, security group / network ACL and VPC DNS settings for outbound UDP and TCP 53 (853 for DoT, 443 for DoH). If other vantages see the resolvers, only this host is cut off.',
};

/**
 * Failures that say "could not reach it" (as opposed to an answer we did not like). A TLS failure
 * reached the server: its certificate is a finding of its own (DNS_TLS_FAILED).
 */
const TRANSPORT_KINDS = new Set(['timeout', 'refused', 'unreachable']);

export interface BlindInput {
  /** Every finding of the dns-consistency check this run. */
  findings: Finding[];
  /** The configured resolvers' names. */
  resolvers: string[];
  /** The configured authoritative servers' names; undefined when they are found through DNS (then only the resolvers can make the vantage blind). */
  authoritative?: string[];
  /** Questions each server was asked this run (targets × record types). */
  perServer: number;
  /** Where this run looks from (run.vantage), for the finding's target. */
  vantage?: string;
}

/** The servers among `names` whose every question failed to reach them, with the errors seen. */
function unreachable(findings: Finding[], codes: Set<string>, perServer: number): Map<string, Finding[]> {
  const byServer = new Map<string, Finding[]>();
  for (const f of findings) {
    if (!codes.has(f.code) || !f.resolver || !TRANSPORT_KINDS.has(String(f.evidence?.kind))) continue;
    const group = byServer.get(f.resolver);
    if (group) group.push(f);
    else byServer.set(f.resolver, [f]);
  }
  for (const [server, group] of byServer) if (group.length < perServer) byServer.delete(server);
  return byServer;
}

function errorsOf(byServer: Map<string, Finding[]>): Record<string, string[]> {
  return Object.fromEntries(
    [...byServer].map(([server, group]) => {
      const address = group[0].evidence?.server;
      const details = [...new Set(group.map((f) => String(f.evidence?.detail ?? '')))].filter(Boolean).slice(0, 3);
      return [`${server}${address ? ` (${address})` : ''}`, details];
    }),
  );
}

/**
 * When every resolver, or every authoritative server, failed every question for want of an answer,
 * their per-server findings (and the zone lookups that went through them) become one critical
 * VANTAGE_BLIND. Otherwise the findings are returned as they are.
 */
export function foldBlindVantage(input: BlindInput): Finding[] {
  const { findings, perServer } = input;
  if (perServer === 0) return findings;
  const deadResolvers = unreachable(findings, new Set(['DNS_TIMEOUT']), perServer);
  const resolversBlind = input.resolvers.length > 0 && input.resolvers.every((r) => deadResolvers.has(r));
  const deadAuth = unreachable(findings, new Set(['DNS_AUTH_UNREACHABLE']), perServer);
  deadAuth.delete('authoritative');
  // Servers found through DNS that answered leave no finding, so only a configured list can be known to be all dead.
  const authBlind = (input.authoritative?.length ?? 0) > 0 && input.authoritative!.every((a) => deadAuth.has(a));
  if (!resolversBlind && !authBlind) return findings;

  const dropped = new Set<Finding>();
  const parts: string[] = [];
  const errors: Record<string, string[]> = {};
  if (resolversBlind) {
    for (const group of deadResolvers.values()) for (const f of group) dropped.add(f);
    // The zone's servers are found through the first resolver: those lookups failed for the same reason.
    for (const f of findings) if (f.code === 'DNS_AUTH_NOT_FOUND' || (f.code === 'DNS_AUTH_UNREACHABLE' && f.resolver === 'authoritative')) dropped.add(f);
    parts.push(`none of its ${input.resolvers.length} resolver${input.resolvers.length === 1 ? '' : 's'}`);
    Object.assign(errors, errorsOf(deadResolvers));
  }
  if (authBlind) {
    for (const group of deadAuth.values()) for (const f of group) dropped.add(f);
    parts.push(`none of the zone's ${deadAuth.size} authoritative server${deadAuth.size === 1 ? '' : 's'}`);
    Object.assign(errors, errorsOf(deadAuth));
  }
  const samples = Object.entries(errors)
    .slice(0, 4)
    .map(([server, details]) => `${server}: ${details[0] ?? 'no answer'}`);
  const where = input.vantage ? `this vantage (${input.vantage})` : 'this host';
  const blind: Finding = {
    check: 'dns-consistency',
    target: input.vantage ?? 'vantage',
    severity: VANTAGE_BLIND.severity,
    code: 'VANTAGE_BLIND',
    message: `${where} can reach ${parts.join(' and ')}: every question went unanswered, so nothing was compared (${samples.join('; ')})`,
    firstStep: VANTAGE_BLIND.firstStep,
    evidence: {
      resolversBlind,
      authoritativeBlind: authBlind,
      errors,
      questionsPerServer: perServer,
    },
  };
  return [blind, ...findings.filter((f) => !dropped.has(f))];
}
