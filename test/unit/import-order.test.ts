// A check module imported before anything else must load: checks never import the config schema
// at run time (it imports the registry, which imports the checks).
import { dnsConsistency } from '../../checks/dns-consistency.ts';
import { describe, expect, it } from 'vitest';

describe('import order', () => {
  it('a check can be the first module imported', () => {
    expect(dnsConsistency.id).toBe('dns-consistency');
  });
});
