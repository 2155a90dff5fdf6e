import { describe, expect, it } from 'vitest';
import { RunCache } from '../../src/cache.ts';

describe('RunCache', () => {
  it('drops a name’s answers when the name is done, but keeps what a later name touched', () => {
    // Prepare: a.test asks a zone-wide question and its own; b.test reuses the zone-wide answer.
    const cache = new RunCache<number>(100);
    const a = cache.for('a.test');
    const b = cache.for('b.test');
    a.set('ns|zone', 1);
    a.set('A|a.test', 2);
    expect(b.get('ns|zone')).toBe(1);
    // Act
    cache.done('a.test');
    // Assess
    expect(b.get('A|a.test')).toBeUndefined();
    expect(b.get('ns|zone')).toBe(1);
    cache.done('b.test');
    expect(cache.size).toBe(0);
  });

  it('keeps at most its bound, forgetting the least recently used first', () => {
    // Prepare
    const cache = new RunCache<number>(2);
    const view = cache.for('x.test');
    view.set('a', 1);
    view.set('b', 2);
    // Act: reading `a` makes `b` the oldest, so `c` evicts `b`.
    view.get('a');
    view.set('c', 3);
    // Assess
    expect(cache.size).toBe(2);
    expect(view.get('a')).toBe(1);
    expect(view.get('b')).toBeUndefined();
    expect(view.get('c')).toBe(3);
    cache.done('x.test');
    expect(cache.size).toBe(0);
  });
});
