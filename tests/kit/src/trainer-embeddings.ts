/**
 * Synthetic frozen embeddings with a planted relevance signal, for trainer tests and benchmarks.
 *
 * Each item has a random unit question embedding t and `tiles` tile embeddings. Positive tiles are
 * normalize(R t + noise), where R is a hidden random signed permutation (an orthogonal map the
 * base model's plain cosine knows nothing about: cos(t, R t) is about 0); negatives are random
 * unit vectors. So the untrained (identity) head ranks tiles at chance, and a head that learns
 * W_t ~ R (or W_v ~ R^T) finds the positives.
 */
import { prng } from './onnx-graph.js';

export interface PlantedItem {
  readonly id: string;
  readonly text: Float32Array;
  readonly tiles: readonly Float32Array[];
  readonly positives: readonly number[];
  readonly negatives: readonly number[];
}

export interface PlantedSet {
  readonly dim: number;
  readonly items: readonly PlantedItem[];
  /** The hidden map: positives are near `perm`/`sign` applied to t (R t)[i] = sign[i] * t[perm[i]]. */
  readonly perm: readonly number[];
  readonly sign: readonly number[];
}

export interface PlantedOptions {
  readonly items?: number;
  readonly dim?: number;
  readonly tiles?: number;
  /** Most positives per item (1..tiles-1); each item draws 1..maxPositives. Default 1. */
  readonly maxPositives?: number;
  /** Norm of the noise added to R t before normalising. Default 0.5. */
  readonly noise?: number;
  readonly seed?: number;
}

function gaussian(next: () => number): number {
  const u = Math.max(next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
}

function unitRandom(dim: number, next: () => number): Float64Array {
  const v = new Float64Array(dim);
  let n = 0;
  for (let i = 0; i < dim; i++) {
    v[i] = gaussian(next);
    n += v[i]! * v[i]!;
  }
  n = Math.sqrt(n);
  for (let i = 0; i < dim; i++) v[i]! /= n;
  return v;
}

function toUnitF32(v: Float64Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  return Float32Array.from(v, (x) => x / n);
}

/**
 * Items with a planted relevance signal (see the module comment).
 *
 * @example
 * ```ts
 * const set = makePlantedSet({ items: 400, dim: 32, tiles: 4, seed: 1 });
 * const result = await trainHead(set, { lr: 3e-3, epochs: 20 });
 * ```
 */
export function makePlantedSet(options: PlantedOptions = {}): PlantedSet {
  const dim = options.dim ?? 32;
  const tiles = options.tiles ?? 4;
  const count = options.items ?? 200;
  const maxPos = Math.min(Math.max(1, options.maxPositives ?? 1), tiles - 1);
  const noise = options.noise ?? 0.5;
  const next = prng(options.seed ?? 1);
  const perm = Array.from({ length: dim }, (_, i) => i);
  for (let i = dim - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  const sign = Array.from({ length: dim }, () => (next() < 0.5 ? -1 : 1));
  const items: PlantedItem[] = [];
  for (let n = 0; n < count; n++) {
    const t = unitRandom(dim, next);
    const npos = 1 + Math.floor(next() * maxPos);
    const order = Array.from({ length: tiles }, (_, i) => i);
    for (let i = tiles - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const positives = order.slice(0, npos).sort((a, b) => a - b);
    const negatives = order.slice(npos).sort((a, b) => a - b);
    const vecs: Float32Array[] = [];
    for (let j = 0; j < tiles; j++) {
      if (positives.includes(j)) {
        const g = unitRandom(dim, next);
        const v = new Float64Array(dim);
        for (let i = 0; i < dim; i++) v[i] = sign[i]! * t[perm[i]!]! + noise * g[i]!;
        vecs.push(toUnitF32(v));
      } else vecs.push(toUnitF32(unitRandom(dim, next)));
    }
    items.push({ id: `item-${n}`, text: toUnitF32(t), tiles: vecs, positives, negatives });
  }
  return { dim, items, perm, sign };
}
