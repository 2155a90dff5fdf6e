// Builds the DNS client from the config: per-server limits, CA and TLS name come from the resolver entry or `dns`.
import type { Config } from '../config-schema.ts';
import { formatServerAddress } from '../address.ts';
import { UdpTcpDnsClient } from './dns.ts';

export function dnsClientFromConfig(config: Config): UdpTcpDnsClient {
  const perServer = new Map(config.resolvers.map((r) => [formatServerAddress(r.address), r]));
  return new UdpTcpDnsClient({
    timeoutMs: config.dns.timeout,
    retries: config.dns.retries,
    ednsBufferSize: config.dns.ednsBufferSize,
    breakerAfter: config.dns.breaker,
    limitsFor(server) {
      const r = perServer.get(formatServerAddress(server));
      return { qps: r?.qps ?? config.dns.qps, concurrency: r?.concurrency ?? config.dns.concurrency };
    },
    tlsFor(server) {
      const r = perServer.get(formatServerAddress(server));
      return { caFile: r?.caFile, servername: r?.servername };
    },
  });
}
