/**
 * Bounded least-recently-used caches for embeddings: text embeddings keyed by text, tile
 * embeddings keyed by (model, image content hash, grid, tile). A Map keeps insertion order, so
 * re-inserting on every hit makes its first key the least recently used.
 */
import { SemclipError } from '@semclip/core';
import type { TileSource } from '@semclip/core';

export interface LruLimits {
  /** Most entries kept. */
  readonly maxEntries: number;
  /** Most bytes kept (sum of `sizeOf` over entries); default unbounded. */
  readonly maxBytes?: number;
}

export interface LruStats {
  readonly entries: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
}

export class LruCache<K, V> {
  private readonly map = new Map<K, { value: V; bytes: number }>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  readonly maxEntries: number;
  readonly maxBytes: number;

  constructor(
    limits: LruLimits,
    private readonly sizeOf: (value: V) => number = () => 0,
  ) {
    this.maxEntries = Math.max(0, Math.floor(limits.maxEntries));
    this.maxBytes = limits.maxBytes ?? Number.POSITIVE_INFINITY;
  }

  get(key: K): V | undefined {
    const hit = this.map.get(key);
    if (!hit) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Stores `value`; an entry larger than `maxBytes` on its own is not stored. */
  set(key: K, value: V): void {
    const bytes = this.sizeOf(value);
    const old = this.map.get(key);
    if (old) {
      this.map.delete(key);
      this.bytes -= old.bytes;
    }
    if (this.maxEntries === 0 || bytes > this.maxBytes) return;
    this.map.set(key, { value, bytes });
    this.bytes += bytes;
    while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      const entry = this.map.get(oldest.value)!;
      this.map.delete(oldest.value);
      this.bytes -= entry.bytes;
      this.evictions += 1;
    }
  }

  /** Drops every entry and resets the hit/miss/eviction counters. */
  clear(): void {
    this.map.clear();
    this.bytes = 0;
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
  }

  get size(): number {
    return this.map.size;
  }

  stats(): LruStats {
    return { entries: this.map.size, bytes: this.bytes, hits: this.hits, misses: this.misses, evictions: this.evictions };
  }
}

/** What `TileEmbeddingCache.embed` gives: one vector per tile, in tile order. */
export interface CachedTileEmbeddings {
  readonly vectors: Float32Array[];
  /** Tiles found in the cache. */
  readonly cacheHits: number;
  /** Tiles passed to `encode`. */
  readonly encoded: number;
}

/**
 * Tile embeddings of one model in an LRU keyed by (model key, image content hash, grid, tile),
 * with the encodes in flight per image: a second call about an image whose tiles are being
 * encoded waits for that encode and then reads the cache, so concurrent questions about one
 * image encode its tiles once.
 *
 * @example
 * ```ts
 * const tiles = new TileEmbeddingCache({ maxEntries: 4096, maxBytes: 64 * 1024 * 1024 }, 'repo@rev:fp32');
 * const { vectors, cacheHits } = await tiles.embed(source, async (missing) => encodeInOneBatch(missing));
 * ```
 */
export class TileEmbeddingCache {
  private readonly lru: LruCache<string, Float32Array>;
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(
    limits: LruLimits,
    private readonly modelKey: string,
  ) {
    this.lru = new LruCache<string, Float32Array>(limits, (v) => v.byteLength + 96);
  }

  /**
   * One embedding per tile of `source.grid`: cached ones from the LRU, all others from a single
   * `encode(missing)` call, which returns one vector per missing tile index, in that order.
   */
  async embed(source: TileSource, encode: (missing: readonly number[]) => Promise<readonly Float32Array[]>): Promise<CachedTileEmbeddings> {
    const n = source.grid.tiles.length;
    const imageKey = `${this.modelKey}|${source.id}|${source.gridKey}`;
    const keyOf = (i: number) => `${imageKey}|${i}`;
    const inFlight = this.pending.get(imageKey);
    if (inFlight) await inFlight.catch(() => undefined);
    const vectors: (Float32Array | undefined)[] = Array.from({ length: n }, (_, i) => this.lru.get(keyOf(i)));
    const missing = vectors.flatMap((v, i) => (v === undefined ? [i] : []));
    if (missing.length === 0) return { vectors: vectors as Float32Array[], cacheHits: n, encoded: 0 };
    const work = (async () => {
      const fresh = await encode(missing);
      if (fresh.length !== missing.length) {
        throw new SemclipError('INTERNAL', `Encoding ${missing.length} tiles gave ${fresh.length} embeddings.`);
      }
      missing.forEach((tile, k) => {
        vectors[tile] = fresh[k]!;
        this.lru.set(keyOf(tile), fresh[k]!);
      });
    })();
    this.pending.set(imageKey, work);
    try {
      await work;
    } finally {
      if (this.pending.get(imageKey) === work) this.pending.delete(imageKey);
    }
    return { vectors: vectors as Float32Array[], cacheHits: n - missing.length, encoded: missing.length };
  }

  stats(): LruStats {
    return this.lru.stats();
  }

  /** Drops every entry and resets the counters (encodes in flight still finish and store theirs). */
  clear(): void {
    this.lru.clear();
  }
}
