// The explicit registry of check plugins: file name == check id (a unit test keeps the folder and this map in step).
import type { Check } from '../src/types.ts';
import { dnsConsistency } from './dns-consistency.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const checkRegistry: Record<string, Check<any, any>> = {
  [dnsConsistency.id]: dnsConsistency,
};
