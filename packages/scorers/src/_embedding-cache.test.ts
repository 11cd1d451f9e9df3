import { describe, expect, it } from 'vitest';
import { LruCache } from './_embedding-cache.js';

describe('LruCache', () => {
  it('evicts the least recently used entry beyond maxEntries', () => {
    const c = new LruCache<string, number>({ maxEntries: 2 });
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1); // a is now the most recent
    c.set('c', 3);
    expect(c.has('b')).toBe(false);
    expect(c.has('a')).toBe(true);
    expect(c.stats()).toMatchObject({ entries: 2, hits: 1, evictions: 1 });
  });

  it('keeps the byte total within maxBytes and refuses an entry larger than the bound', () => {
    const c = new LruCache<string, Float32Array>({ maxEntries: 100, maxBytes: 100 }, (v) => v.byteLength);
    c.set('a', new Float32Array(10)); // 40 bytes
    c.set('b', new Float32Array(10));
    c.set('c', new Float32Array(10)); // 120 > 100: a goes
    expect(c.stats()).toMatchObject({ entries: 2, bytes: 80 });
    c.set('huge', new Float32Array(100));
    expect(c.has('huge')).toBe(false);
    expect(c.stats().bytes).toBe(80);
  });

  it('replaces an existing key without double-counting bytes', () => {
    const c = new LruCache<string, Float32Array>({ maxEntries: 10 }, (v) => v.byteLength);
    c.set('a', new Float32Array(4));
    c.set('a', new Float32Array(8));
    expect(c.stats()).toMatchObject({ entries: 1, bytes: 32 });
  });

  it('stores nothing with maxEntries 0 and counts misses', () => {
    const c = new LruCache<string, number>({ maxEntries: 0 });
    c.set('a', 1);
    expect(c.get('a')).toBeUndefined();
    expect(c.stats()).toMatchObject({ entries: 0, misses: 1 });
  });

  it('clear() empties it and resets the counters', () => {
    const c = new LruCache<string, number>({ maxEntries: 3 });
    c.set('a', 1);
    c.get('a');
    c.clear();
    expect(c.stats()).toEqual({ entries: 0, bytes: 0, hits: 0, misses: 0, evictions: 0 });
  });
});
