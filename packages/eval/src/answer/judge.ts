import type { BenchmarkItem, BenchmarkName } from '@semclip/core';
import { itemLetters } from '../data/_item.js';
import { circularGroupOf } from '../data/circular.js';
import { extractAnswer } from './extract.js';

/** One item, answered or not, checked against its ground truth: what metrics are made of. */
export interface Judgement {
  readonly id: string;
  readonly benchmark: BenchmarkName;
  /** The ground truth (option letter, `yes`/`no`, or GQA's answer). */
  readonly answer: string;
  /** The answer read from the reply; `null` when it names nothing or there was no reply. */
  readonly predicted: string | null;
  readonly correct: boolean;
  /** True when there was no reply for this item (it counts as wrong). */
  readonly missing: boolean;
  readonly category?: string;
  /** CircularEval group (MMBench: index mod 1,000,000); absent for single-pass items. */
  readonly group?: string;
  /** ScienceQA: whether the question has an image (SQA-IMG). */
  readonly hasImage?: boolean;
  /** The reply as the model wrote it, when it was text. */
  readonly reply?: string;
}

/** A model's reply: free text, or the index of the chosen option (likelihood ranking). */
export type Reply = string | { readonly index: number };

/**
 * Checks one reply against an item: extracts the answer with the benchmark's convention
 * (`extractAnswer`) and compares it with the ground truth. No reply (`undefined`) is a
 * missing answer and counts as wrong.
 *
 * @example
 * ```ts
 * const j = judge(item, 'Yes, there is a dog.');
 * if (!j.correct) console.log(j.id, j.predicted, '!=', j.answer);
 * ```
 */
export function judge(item: BenchmarkItem, reply: Reply | undefined): Judgement {
  let predicted: string | null = null;
  if (typeof reply === 'string') predicted = extractAnswer(item.benchmark, reply, item);
  else if (reply !== undefined) {
    const letters = itemLetters(item);
    predicted = Number.isInteger(reply.index) && reply.index >= 0 && reply.index < letters.length ? (letters[reply.index] as string) : null;
  }
  const group = item.metadata.circularGroup !== undefined ? circularGroupOf(item) : undefined;
  const hasImage = item.metadata.hasImage;
  return {
    id: item.id,
    benchmark: item.benchmark,
    answer: item.answer,
    predicted,
    correct: predicted !== null && item.answer !== '' && predicted === item.answer,
    missing: reply === undefined,
    ...(item.category !== undefined ? { category: item.category } : {}),
    ...(group !== undefined ? { group } : {}),
    ...(typeof hasImage === 'boolean' ? { hasImage } : {}),
    ...(typeof reply === 'string' ? { reply } : {}),
  };
}
