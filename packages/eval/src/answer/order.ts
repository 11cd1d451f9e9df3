/**
 * The order options are shown in. V* lists the correct option first in every file, so a run
 * shows each question's options shuffled (a seeded, per-item order) and reads the model's
 * letter against what it was shown; a prediction file may record the order it was shown too.
 */
import type { BenchmarkItem } from '@semclip/core';
import { mulberry32, optionLetter } from '@semclip/core';
import { itemLetters, makeItem } from '../data/_item.js';
import { stableHash } from '../run/shard.js';

/**
 * A uniformly random permutation of `0..n-1` (Fisher-Yates), seeded by a stable hash of `key`:
 * the same key gives the same order on every machine.
 *
 * @example
 * ```ts
 * shuffledOrder(4, '0\u0000vstar\u0000direct_attributes/sa_4690'); // e.g. [2, 0, 3, 1]
 * ```
 */
export function shuffledOrder(n: number, key: string): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const rand = mulberry32(stableHash(key));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

/**
 * The order `eval run` shows a V* question's options in: `shuffledOrder` keyed by the run's
 * seed and the item id (`${seed}\u0000vstar\u0000${itemId}`), the same for every method and
 * resume of the run. Entry k is the index, in the data file, of the option shown as letter k.
 *
 * @example
 * ```ts
 * vstarOptionOrder(0, 'direct_attributes/sa_4690', 4); // the same 4-permutation on every machine
 * ```
 */
export function vstarOptionOrder(seed: number, itemId: string, n: number): number[] {
  return shuffledOrder(n, `${seed}\u0000vstar\u0000${itemId}`);
}

/** True when `order` lists each of `0..n-1` once. */
export function isPermutation(order: readonly number[], n: number): boolean {
  if (order.length !== n) return false;
  const seen = new Set<number>();
  for (const i of order) {
    if (!Number.isInteger(i) || i < 0 || i >= n || seen.has(i)) return false;
    seen.add(i);
  }
  return true;
}

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

/**
 * The order of `shown` option texts as indices into `options` (texts compared with whitespace
 * squashed); `undefined` when `shown` is not a reordering of `options`.
 *
 * @example
 * ```ts
 * orderFromTexts(['red', 'blue', 'green'], ['green', 'red', 'blue']); // [2, 0, 1]
 * ```
 */
export function orderFromTexts(options: readonly string[], shown: readonly string[]): number[] | undefined {
  if (shown.length !== options.length) return undefined;
  const used = new Set<number>();
  const order: number[] = [];
  for (const text of shown) {
    const t = squash(text);
    const i = options.findIndex((o, k) => !used.has(k) && squash(o) === t);
    if (i < 0) return undefined;
    used.add(i);
    order.push(i);
  }
  return order;
}

/**
 * The item as shown in `order`: its options reordered and lettered A, B, C..., its answer the
 * letter the correct option got. Judge replies against this item, then map the letter back
 * with `fileLetter`.
 *
 * @example
 * ```ts
 * const shown = reorderItem(item, [2, 0, 1, 3]); // item.answer 'A' -> shown.answer 'B'
 * ```
 */
export function reorderItem(item: BenchmarkItem, order: readonly number[]): BenchmarkItem {
  const options = item.options ?? [];
  const letters = itemLetters(item);
  const answerIndex = item.answer === '' ? -1 : letters.indexOf(item.answer);
  const { optionLetters: _gap, ...metadata } = item.metadata;
  return makeItem({
    id: item.id,
    benchmark: item.benchmark,
    question: item.question,
    options: order.map((i) => options[i] as string),
    answer: answerIndex < 0 ? '' : optionLetter(order.indexOf(answerIndex)),
    ...(item.hint !== undefined ? { hint: item.hint } : {}),
    ...(item.category !== undefined ? { category: item.category } : {}),
    ...(item.targets ? { targets: item.targets } : {}),
    metadata: { ...metadata, optionOrder: [...order] },
    image: () => item.image(),
  });
}

/**
 * The data file's letter of the option shown as `letter` in `order`; `null` stays `null`, as
 * does a letter beyond the options.
 *
 * @example
 * ```ts
 * fileLetter(item, 'B', [2, 0, 1, 3]); // 'A': the second option shown is the file's first
 * ```
 */
export function fileLetter(item: BenchmarkItem, letter: string | null, order: readonly number[]): string | null {
  if (letter === null) return null;
  const k = letter.charCodeAt(0) - 65;
  const i = letter.length === 1 ? order[k] : undefined;
  return i === undefined ? null : (itemLetters(item)[i] ?? null);
}
