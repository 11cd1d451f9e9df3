import type { BenchmarkItem } from '@semclip/core';
import { optionLetter } from '@semclip/core';
import { itemLetters, makeItem } from './_item.js';
import { CIRCULAR_STRIDE } from './tsv.js';

/**
 * The circular group an item belongs to: MMBench's `index mod 1e6`, else the item's own id.
 *
 * @example
 * ```ts
 * circularGroupOf(item); // '2' for MMBench rows 2, 1000002, 2000002...
 * ```
 */
export function circularGroupOf(item: BenchmarkItem): string {
  const g = item.metadata.circularGroup;
  return typeof g === 'string' ? g : item.id;
}

/**
 * Adds CircularEval variants: each multiple-choice item followed by its options rotated one
 * step at a time, as LLaVA's `model_vqa_mmbench.py --all-rounds` does (round k shows
 * options k, k+1, ... under the letters A, B, ...; the answer letter moves with them).
 * Round k of an MMBench or MMStar row gets id `index + k * 1,000,000`, VLMEvalKit's
 * numbering; other items get `<id>@<k>`. Groups that already have variants in the data are
 * left as they are.
 *
 * @example
 * ```ts
 * const { items } = await loadMmbench('MMBench_DEV_EN.tsv');
 * const all = expandCircular(items); // 4 rows per 4-option question
 * ```
 */
export function expandCircular(items: readonly BenchmarkItem[]): BenchmarkItem[] {
  const groupsWithVariants = new Set(items.filter((i) => typeof i.metadata.circularRound === 'number' && i.metadata.circularRound > 0).map(circularGroupOf));
  const out: BenchmarkItem[] = [];
  for (const item of items) {
    const options = item.options;
    if (!options || options.length < 2 || groupsWithVariants.has(circularGroupOf(item))) {
      out.push(item);
      continue;
    }
    const n = options.length;
    const answerIndex = item.answer === '' ? -1 : itemLetters(item).indexOf(item.answer);
    // Rotations are lettered A, B, C...; a gap in the file's letters (A, B, D) stays on round 0 only.
    const { optionLetters: _gap, ...rotatedMeta } = item.metadata;
    const numeric = typeof item.metadata.index === 'number' && item.metadata.index < CIRCULAR_STRIDE ? item.metadata.index : undefined;
    for (let k = 0; k < n; k++) {
      if (k === 0) {
        out.push(makeItem({ ...itemInit(item), metadata: { ...item.metadata, circularGroup: circularGroupOf(item), circularRound: 0 } }));
        continue;
      }
      const rotated = [...options.slice(k), ...options.slice(0, k)];
      const id = numeric !== undefined ? String(numeric + k * CIRCULAR_STRIDE) : `${item.id}@${k}`;
      out.push(
        makeItem({
          ...itemInit(item),
          id,
          options: rotated,
          answer: answerIndex < 0 ? '' : optionLetter((answerIndex - k + n) % n),
          metadata: {
            ...rotatedMeta,
            ...(numeric !== undefined ? { index: numeric + k * CIRCULAR_STRIDE } : {}),
            circularGroup: circularGroupOf(item),
            circularRound: k,
          },
        }),
      );
    }
  }
  return out;
}

function itemInit(item: BenchmarkItem) {
  return {
    id: item.id,
    benchmark: item.benchmark,
    question: item.question,
    ...(item.options ? { options: item.options } : {}),
    answer: item.answer,
    ...(item.hint !== undefined ? { hint: item.hint } : {}),
    ...(item.category !== undefined ? { category: item.category } : {}),
    ...(item.targets ? { targets: item.targets } : {}),
    image: () => item.image(),
  };
}
