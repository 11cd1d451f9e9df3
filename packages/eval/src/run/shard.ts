import type { BenchmarkItem } from '@semclip/core';
import { SemclipError } from '@semclip/core';

/** One of `count` disjoint parts of a benchmark; `index` is 1-based (`2/4` = the second of four). */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/**
 * FNV-1a (32-bit) of a string's UTF-16 code units, finished with a murmur3 mix so nearby
 * ids spread evenly. Stable across machines and Node versions: shards and random tiles
 * depend on it.
 *
 * @example
 * ```ts
 * stableHash('semclip'); // 1215954098
 * ```
 */
export function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Parses `i/n` (1-based: `1/4` ... `4/4`), as `--shard` takes it.
 *
 * @example
 * ```ts
 * parseShard('2/4'); // { index: 2, count: 4 }
 * ```
 */
export function parseShard(spec: string | Shard): Shard {
  let index: number;
  let count: number;
  if (typeof spec === 'string') {
    const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(spec);
    index = m ? Number(m[1]) : Number.NaN;
    count = m ? Number(m[2]) : Number.NaN;
  } else {
    index = spec.index;
    count = spec.count;
  }
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw new SemclipError('INVALID_ARGUMENT', `Shard ${JSON.stringify(typeof spec === 'string' ? spec : `${spec.index}/${spec.count}`)} is not valid.`, {
      expected: 'i/n with 1 <= i <= n, like 1/4 (the first of four shards)',
      hint: 'Run each of 1/n ... n/n once (on any machines), then merge the files with semclip eval report',
    });
  }
  return { index, count };
}

/**
 * The shard (1-based) an item id falls in: a stable hash of the id, so every machine agrees.
 *
 * @example
 * ```ts
 * shardOf('direct_attributes/sa_4690', 4); // 1..4
 * ```
 */
export function shardOf(itemId: string, count: number): number {
  return (stableHash(itemId) % count) + 1;
}

/**
 * The items a run covers: the first `limit` (in data order), then those of `shard`. The
 * shards of one limit are disjoint and together give exactly the limited set.
 *
 * @example
 * ```ts
 * const mine = selectItems(dataset.items, { limit: 1000, shard: parseShard('3/8') });
 * ```
 */
export function selectItems(items: readonly BenchmarkItem[], options: { readonly limit?: number; readonly shard?: Shard | string } = {}): BenchmarkItem[] {
  let out = [...items];
  if (options.limit !== undefined) {
    if (!Number.isSafeInteger(options.limit) || options.limit < 1) {
      throw new SemclipError('INVALID_ARGUMENT', `Limit ${String(options.limit)} is not valid.`, { expected: 'a whole number of items, at least 1' });
    }
    out = out.slice(0, options.limit);
  }
  if (options.shard !== undefined) {
    const shard = parseShard(options.shard);
    out = out.filter((item) => shardOf(item.id, shard.count) === shard.index);
  }
  return out;
}
