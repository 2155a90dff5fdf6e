// The codes sip-options emits, with what each means and the first thing to do: the README's code
// table and every finding's default first step come from here.
import type { CodeDoc } from '../types.ts';

export const SIP_CHECK = 'sip-options';

export const SIP_CODES: Record<string, CodeDoc> = {
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
