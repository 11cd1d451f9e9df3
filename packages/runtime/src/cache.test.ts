import { describe, expect, it } from 'vitest';
import type { TileSource } from '@semclip/core';
import { LruCache, TileEmbeddingCache } from './_cache.js';

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

/** Just what the cache reads of a TileSource: content id, grid key and the tile count. */
function fakeSource(id: string, gridKey: string, tiles: number): TileSource {
  return { id, gridKey, grid: { tiles: Array.from({ length: tiles }, () => ({})) } } as unknown as TileSource;
}

describe('TileEmbeddingCache', () => {
  const vec = (i: number) => Float32Array.of(i, 1);

  it('encodes only the tiles it lacks, in one call, and returns all in tile order', async () => {
    const cache = new TileEmbeddingCache({ maxEntries: 100 }, 'm');
    const calls: number[][] = [];
    const encode = async (missing: readonly number[]) => {
      calls.push([...missing]);
      return missing.map(vec);
    };
    const first = await cache.embed(fakeSource('img', '2x2', 4), encode);
    expect(first).toMatchObject({ cacheHits: 0, encoded: 4 });
    expect(first.vectors.map((v) => v[0])).toEqual([0, 1, 2, 3]);
    const again = await cache.embed(fakeSource('img', '2x2', 4), encode);
    expect(again).toMatchObject({ cacheHits: 4, encoded: 0 });
    // Another grid of the same image and another image are other tiles.
    await cache.embed(fakeSource('img', '3x3', 9), encode);
    await cache.embed(fakeSource('other', '2x2', 4), encode);
    expect(calls).toEqual([
      [0, 1, 2, 3],
      [0, 1, 2, 3, 4, 5, 6, 7, 8],
      [0, 1, 2, 3],
    ]);
  });

  it('encodes an image once when two calls about it arrive together', async () => {
    const cache = new TileEmbeddingCache({ maxEntries: 100 }, 'm');
    let calls = 0;
    const encode = async (missing: readonly number[]) => {
      calls += 1;
      await new Promise((r) => setTimeout(r, 20));
      return missing.map(vec);
    };
    const [a, b] = await Promise.all([cache.embed(fakeSource('img', '2x2', 4), encode), cache.embed(fakeSource('img', '2x2', 4), encode)]);
    expect(calls).toBe(1);
    expect([a.encoded, b.encoded]).toEqual([4, 0]);
    expect(b.vectors).toEqual(a.vectors);
  });

  it('keys by model: the same image under another model key is encoded again', async () => {
    const a = new TileEmbeddingCache({ maxEntries: 100 }, 'model-a');
    const encode = async (missing: readonly number[]) => missing.map(vec);
    await a.embed(fakeSource('img', '1x2', 2), encode);
    expect(a.stats()).toMatchObject({ entries: 2, bytes: 2 * (8 + 96) });
    const b = new TileEmbeddingCache({ maxEntries: 100 }, 'model-b');
    expect(await b.embed(fakeSource('img', '1x2', 2), encode)).toMatchObject({ encoded: 2 });
  });

  it('rejects an encode that returns the wrong number of vectors and caches nothing from it; a later call retries', async () => {
    const cache = new TileEmbeddingCache({ maxEntries: 100 }, 'm');
    await expect(cache.embed(fakeSource('img', '2x2', 4), async () => [vec(0)])).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(cache.stats().entries).toBe(0);
    expect(await cache.embed(fakeSource('img', '2x2', 4), async (m) => m.map(vec))).toMatchObject({ encoded: 4 });
  });
});
