// A scripted DnsClient for unit tests of checks: answers come from a table, not the network.
import { formatServerAddress } from '../../src/address.ts';
import type { DnsClient, DnsQuery, DnsRecord, DnsResult, ExtendedDnsError } from '../../src/net/dns.ts';

export type Script = (q: DnsQuery & { at: string }) => DnsResult | undefined;

export class FakeDns implements DnsClient {
  readonly asked: (DnsQuery & { at: string })[] = [];
  constructor(private readonly script: Script) {}
  async query(q: DnsQuery): Promise<DnsResult> {
    const at = formatServerAddress(q.server);
    this.asked.push({ ...q, at });
    return this.script({ ...q, at }) ?? { ok: false, kind: 'timeout', detail: 'timed out', attempts: 3 };
  }
}

export function answer(rcode: string, records: Partial<DnsRecord>[], opts: { aa?: boolean; authorities?: Partial<DnsRecord>[]; extendedErrors?: ExtendedDnsError[] } = {}): DnsResult {
  const full = (r: Partial<DnsRecord>): DnsRecord => ({ name: '', type: 'A', ttl: 300, value: '', ...r });
  return {
    ok: true,
    response: {
      rcode,
      authoritative: opts.aa ?? false,
      truncated: false,
      recursionAvailable: !opts.aa,
      authenticated: false,
      extendedErrors: opts.extendedErrors ?? [],
      answers: records.map(full),
      authorities: (opts.authorities ?? []).map(full),
      transport: 'udp',
      rttMs: 2,
      attempts: 1,
      bytes: 80,
    },
  };
}
