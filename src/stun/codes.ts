// The finding codes of STUN Binding probes (stun-binding, and ice-policy's probes of the servers it finds).
// A leaf module on purpose: checks spread these at load time, so they must not wait on an import cycle.
import type { CodeDoc } from '../types.ts';

export const STUN_CODES = {
  STUN_TIMEOUT: {
    severity: 'critical',
    meaning: 'A STUN server did not answer a Binding request within the budget (or refused the connection): webphones using it get no server-reflexive candidate and may have no audio behind NAT.',
    firstStep: 'From the same host, run `turnutils_stunclient -p PORT ADDRESS` (UDP only; over TCP or TLS, `turnutils_uclient -t -y -n 1 -p PORT ADDRESS`, with -S for TLS); check that the server process runs and that the firewall / security group allows the port and transport.',
  },
  STUN_ERROR_RESPONSE: {
    severity: 'critical',
    meaning: 'A STUN server answered a Binding request with an error response (ERROR-CODE in the evidence): it will not tell clients their public address.',
    firstStep: "Look up the code (e.g. 401: the server wants credentials for a plain Binding; 420: it does not understand the request) and read the server's log for the same moment.",
  },
  STUN_BAD_RESPONSE: {
    severity: 'critical',
    meaning: 'A STUN server sent something unusable: not STUN, a wrong transaction id, no XOR-MAPPED-ADDRESS, or a FINGERPRINT that does not match. Browsers discard such replies.',
    firstStep: 'Capture the exchange (`tcpdump -n -X host ADDRESS and port PORT`) and compare with `turnutils_stunclient -p PORT ADDRESS`; look for a middlebox rewriting UDP or a non-STUN service on that port.',
  },
  STUN_SLOW: {
    severity: 'warning',
    meaning: 'A STUN server answered, but only after the slowAfter threshold (often after retransmissions): ICE gathering and call setup wait for it.',
    firstStep: 'Compare the RTT with other vantage points (the evidence has RTT and retransmissions); packet loss on the path or an overloaded server is the usual cause.',
  },
  STUN_DNS_MISMATCH: {
    severity: 'critical',
    meaning: "A resolver hands out a different address for a STUN/TURN server name than the zone holds (the 2020 outage's stale cache): webphones behind that resolver use the wrong server.",
    firstStep: 'Flush the name at that resolver (its cache-flush page is in the evidence) or wait for the remaining TTL; lower the TTL of the STUN name.',
  },
  STUN_NO_ADDRESS: {
    severity: 'critical',
    meaning: 'The name of a STUN/TURN server resolves to no address anywhere (NXDOMAIN, no records, or no resolver answered): nothing could be probed.',
    firstStep: 'Check the name in the ICE configuration for typos and query it directly (dig +norec @authoritative NAME A); create the record or fix the configuration.',
  },
  STUN_TLS_FAILED: {
    severity: 'critical',
    meaning: 'The TLS handshake with a stuns:/turns: server failed (untrusted, expired or mismatched certificate, or no TLS on that port): browsers refuse it the same way.',
    firstStep: 'Run `openssl s_client -connect ADDRESS:PORT -servername NAME` and read the certificate chain and dates; renew or fix the certificate on the server.',
  },
  STUN_MAPPED_ADDRESS_MISMATCH: {
    severity: 'warning',
    meaning: "The public address the STUN server reports for this host differs from the host's own public DNS record: its SDP and its DNS point to different places (NAT or an elastic IP moved).",
    firstStep: "Compare the host's egress address (curl -4 ifconfig.co) with its A record; update the record or the NAT / elastic IP association, then Asterisk's external_media_address.",
  },
} satisfies Record<string, CodeDoc>;

export type StunCode = keyof typeof STUN_CODES;
