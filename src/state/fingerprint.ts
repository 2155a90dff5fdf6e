// A finding's identity across runs: the same problem at the same place has the same fingerprint,
// whatever its message says this time (messages carry counting-down TTLs, RTTs, times).
import { createHash } from 'node:crypto';
import type { Finding } from '../types.ts';

export type FingerprintParts = Pick<Finding, 'check' | 'target' | 'code' | 'resolver' | 'vantage'>;

/** 16 hex characters of SHA-256 over (check, target, code, resolver, vantage). */
export function fingerprint(f: FingerprintParts): string {
  const identity = JSON.stringify([f.check, f.target, f.code, f.resolver ?? null, f.vantage ?? null]);
  return createHash('sha256').update(identity).digest('hex').slice(0, 16);
}
