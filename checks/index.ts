// The explicit registry of check plugins: file name == check id (a unit test keeps the folder and this map in step).
import type { Check } from '../src/types.ts';
import { dnsConsistency } from './dns-consistency.ts';
import { icePolicy } from './ice-policy.ts';
import { sipOptions } from './sip-options.ts';
import { stunBinding } from './stun-binding.ts';
import { ttlPolicy } from './ttl-policy.ts';
import { turnAllocate } from './turn-allocate.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const checkRegistry: Record<string, Check<any, any>> = {
  [dnsConsistency.id]: dnsConsistency,
  [icePolicy.id]: icePolicy,
  [sipOptions.id]: sipOptions,
  [stunBinding.id]: stunBinding,
  [ttlPolicy.id]: ttlPolicy,
  [turnAllocate.id]: turnAllocate,
};
