/**
 * A bounded least-recently-used cache for embeddings, the same design as @semclip/scorers'
 * embedding cache (packages never import each other's internals, and this one must not pull the
 * CLIP/OCR stack in): a Map keeps insertion order, so re-inserting on every hit makes its first
 * key the least recently used.
 */

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
