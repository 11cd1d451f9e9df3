import type { BenchmarkItem } from '@semclip/core';
import { itemLetters } from '../data/_item.js';

/** LLaVA's instruction for short open answers (POPE, GQA). */
export const SHORT_ANSWER_INSTRUCTION = 'Answer the question using a single word or phrase.';

/** LLaVA's instruction for multiple choice (`--single-pred-prompt`). */
export const MULTIPLE_CHOICE_INSTRUCTION = "Answer with the option's letter from the given choices directly.";

/** What a VLM is asked: the question (with hint and options) and the answer instruction. */
export interface PromptParts {
  /** Hint, question and `A. ...` option lines, joined by newlines. */
  readonly question: string;
  /** The answer-format instruction, sent after the question on its own line. */
  readonly instruction: string;
  /** Hint and question without the option lines (multiple choice); `question` otherwise. */
  readonly stem: string;
  /** `question + "\n" + instruction`: the text LLaVA's evaluation scripts send. */
  readonly text: string;
  /** Option letters in order (`A`, `B`...), for multiple choice. */
  readonly letters?: readonly string[];
}

/**
 * Builds the prompt for an item the way LLaVA-1.5's evaluation scripts do:
 * - POPE and GQA: the question, then "Answer the question using a single word or phrase."
 * - ScienceQA: `Context: <hint>` (when there is one), the question, `A. ...` options, then
 *   "Answer with the option's letter from the given choices directly."
 * - MMBench and MMStar: the hint (when there is one) on its own line, the question, options,
 *   the same instruction (`model_vqa_mmbench.py`).
 * - V* and SEED-Bench: the question, options, the same instruction.
 *
 * @example
 * ```ts
 * const { question, instruction } = benchmarkPrompt(item);
 * const reply = await runner.answer({ images, question, instruction });
 * ```
 */
export function benchmarkPrompt(item: BenchmarkItem): PromptParts {
  const options = item.options;
  if (!options || options.length === 0) {
    return { question: item.question, stem: item.question, instruction: SHORT_ANSWER_INSTRUCTION, text: `${item.question}\n${SHORT_ANSWER_INSTRUCTION}` };
  }
  const letters = itemLetters(item);
  let stem = item.question;
  if (item.hint && item.hint.trim() !== '') {
    stem = item.benchmark === 'scienceqa' ? `Context: ${item.hint}\n${stem}` : `${item.hint}\n${stem}`;
  }
  const question = `${stem}\n${options.map((o, i) => `${letters[i]}. ${o}`).join('\n')}`;
  return { question, stem, instruction: MULTIPLE_CHOICE_INSTRUCTION, text: `${question}\n${MULTIPLE_CHOICE_INSTRUCTION}`, letters };
}
