import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../src/cache.ts';

describe('BoundedCache', () => {
  it('keeps at most its bound, forgetting the least recently used first', () => {
    // Prepare
    const cache = new BoundedCache<number>(2);
    cache.set('a', 1).set('b', 2);
    // Act: reading `a` makes `b` the oldest, so `c` evicts `b`.
    cache.get('a');
    cache.set('c', 3);
    // Assess
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toBe(1);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')).toBe(3);
  });
});
