// Finding codes for what a resolver does beyond caching honestly: DNSSEC failures, TTL clamps,
// encrypted transports that fail, and a vantage that reaches nothing. dns-consistency raises them.
import type { CodeDoc } from '../types.ts';
import { VANTAGE_BLIND } from './blind-vantage.ts';

export const RESOLVER_BEHAVIOUR_CODES: Record<string, CodeDoc> = {
  DNS_DNSSEC_BOGUS: {
    severity: 'critical',
    meaning:
      "A validating resolver rejects the dialer's records as DNSSEC-bogus (expired signatures, a DS at the parent that matches no key): its users — and browsers or stub resolvers that ask with DNSSEC — cannot resolve the dialer at all. Known by the resolver's Extended DNS Error, by the same question answering with checking disabled (CD), or by the zone's own expired signatures.",
    firstStep:
      "Read the finding's reason: expired RRSIGs → re-sign the zone (check the signer or key rollover); DS mismatch → make the DS at the parent match the zone's key signing key, or remove it. dig +dnssec +cd @resolver NAME and delv @resolver NAME show the failing link.",
  },
  DNS_TTL_CLAMPED: {
    severity: 'info',
    meaning:
      "A resolver clamps TTLs: a floor (unbound cache-min-ttl, pdns-recursor minimum-ttl-override, dnsmasq min-cache-ttl) keeps answers longer than the zone says, a cap (dnsmasq max-ttl) hides how long it keeps them. One finding per resolver: its remaining TTLs are explained by the clamp (no DNS_TTL_STALE there), and stale answers there last up to the floor, or for an unknown time under a cap.",
    firstStep: 'Nothing to fix in the zone. After changing a record, flush it at that resolver instead of waiting for its TTL; if you run the resolver, reconsider the clamp.',
  },
  DNS_TLS_FAILED: {
    severity: 'warning',
    meaning:
      "A DNS-over-TLS or DNS-over-HTTPS resolver could not be used: the TLS handshake failed or its certificate does not verify for its name, or it cannot read `caFile`. Browsers in secure-DNS mode fail the same way (or fall back to another resolver).",
    firstStep: 'Run openssl s_client -connect HOST:PORT -servername NAME and read the certificate chain, names and dates; for a private CA set resolvers[].caFile, for an address set resolvers[].servername to the name on the certificate.',
  },
  VANTAGE_BLIND,
};
