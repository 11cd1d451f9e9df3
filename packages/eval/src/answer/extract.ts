import type { BenchmarkItem, BenchmarkName } from '@semclip/core';
import { optionLetters } from '@semclip/core';
import { itemLetters } from '../data/_item.js';

/**
 * POPE's yes/no as LLaVA's `eval_pope.py` reads it: keep the text before the first `.`,
 * drop commas, split on spaces; `No`, `no` or `not` among the words means `no`, anything
 * else (even an empty answer) means `yes`.
 *
 * @example
 * ```ts
 * parsePopeAnswer('Yes, there is a dog.'); // 'yes'
 * parsePopeAnswer('There is not a dog.');  // 'no'
 * ```
 */
export function parsePopeAnswer(text: string): 'yes' | 'no' {
  let t = text.trim();
  const dot = t.indexOf('.');
  if (dot !== -1) t = t.slice(0, dot);
  const words = t.replaceAll(',', '').split(' ');
  return words.includes('No') || words.includes('not') || words.includes('no') ? 'no' : 'yes';
}

const SQA_LETTERS = ['A', 'B', 'C', 'D', 'E'];

/**
 * ScienceQA's option letter as LLaVA-1.5's `eval_science_qa.py` parses it: the bare letter
 * (`B`), a leading `B. ...`, or exactly one `The answer is B.` in the text; a letter beyond
 * the question's choices, or anything else, is a failed parse (`null`, scored wrong).
 *
 * @example
 * ```ts
 * parseScienceQaAnswer('The answer is B.', 3); // 'B'
 * parseScienceQaAnswer('C. metaphor', 2);      // null: only A and B exist
 * ```
 */
export function parseScienceQaAnswer(text: string, choices: number): string | null {
  const t = text.trim();
  let answer: string | null = null;
  if (SQA_LETTERS.includes(t)) answer = t;
  else if (t.length >= 3 && SQA_LETTERS.includes(t[0] as string) && t.slice(1, 3) === '. ') answer = t[0] as string;
  else {
    const found = [...t.matchAll(/The answer is ([A-Z])./g)];
    if (found.length === 1) answer = (found[0] as RegExpMatchArray)[1] as string;
  }
  return answer !== null && SQA_LETTERS.slice(0, choices).includes(answer) ? answer : null;
}

/**
 * GQA's answer normalisation from LLaVA's `convert_gqa_for_eval.py`: trailing dots removed,
 * lower case. GQA's `eval.py` then needs an exact match with the ground truth.
 *
 * @example
 * ```ts
 * normalizeGqaAnswer('Woman.'); // 'woman'
 * ```
 */
export function normalizeGqaAnswer(text: string): string {
  return text.trim().replace(/\.+$/, '').toLowerCase();
}

const REJECTIONS = [
  "Sorry, I can't help with images of people yet.",
  "I can't process this file.",
  "I'm sorry, but without the image provided",
  'Cannot determine the answer',
];

/**
 * The option a free-form answer names, as VLMEvalKit's exact-matching stage (`can_infer`)
 * finds it: exactly one option letter standing alone among the words, else exactly one
 * option whose text the answer contains (case-insensitive). `null` when neither is
 * unambiguous, or the answer refuses (VLMEvalKit's `Z`). VLMEvalKit's LLM-judge fallback
 * is not run: unmatched answers are scored wrong. `letters` are the options' letters when
 * the file's letters have a gap (A, B, D); default A, B, C...
 *
 * @example
 * ```ts
 * inferOption('The answer is (B) red.', ['blue', 'red']); // 'B'
 * inferOption('It is red', ['blue', 'red']);              // 'B'
 * ```
 */
export function inferOption(text: string, options: readonly string[], letters: readonly string[] = optionLetters(options.length)): string | null {
  if (text.includes('Failed to obtain answer via API')) return null;
  if (REJECTIONS.some((r) => text.includes(r))) return null;
  let mod = text;
  for (const c of '.()[],:;!*#{}') mod = mod.replaceAll(c, ' ');
  const words = mod.split(/\s+/).filter((w) => w !== '');
  const named = letters.filter((l) => words.includes(l));
  if (named.length === 1) return named[0] as string;
  if (named.length === 0 && words.includes('Z')) return null;
  const lower = text.toLowerCase();
  const matches = letters.filter((_, i) => lower.includes((options[i] as string).toLowerCase()));
  return matches.length === 1 ? (matches[0] as string) : null;
}

/**
 * SEED-Bench's check from LLaVA's `convert_seed_for_submission.py`: the reply must be the
 * option letter itself (surrounding whitespace aside). `choices`: how many options (letters
 * A, B...), or the letters themselves.
 *
 * @example
 * ```ts
 * parseSeedBenchAnswer('B', 4);  // 'B'
 * parseSeedBenchAnswer('B.', 4); // null
 * ```
 */
export function parseSeedBenchAnswer(text: string, choices: number | readonly string[]): string | null {
  const letters = typeof choices === 'number' ? optionLetters(choices) : choices;
  const t = text.trim();
  return t.length === 1 && letters.includes(t) ? t : null;
}

/**
 * MMStar's letter as its own evaluation reads it (`eval/vlmeval/evaluate/mmstar.py` in the
 * MMStar repository): the reply lower-cased and trimmed, then its first character, or the
 * character after a leading `(`, `option ` or `the answer is `. Nothing else is read: "Answer: B"
 * gives `A` (its first letter), as in MMStar's script. `null` when that character is none of
 * the item's letters (scored wrong, as MMStar's comparison would).
 *
 * @example
 * ```ts
 * parseMmstarAnswer('B: neither', ['A', 'B', 'C', 'D']);      // 'B'
 * parseMmstarAnswer('(c) a cat', ['A', 'B', 'C', 'D']);       // 'C'
 * parseMmstarAnswer('The answer is D', ['A', 'B', 'C', 'D']); // 'D'
 * ```
 */
export function parseMmstarAnswer(text: string, letters: readonly string[]): string | null {
  const p = text.toLowerCase().trim().replaceAll('\n', ' ');
  let c: string | undefined;
  if (p.startsWith('(')) c = p[1];
  else if (p.startsWith('option ')) c = p[7];
  else if (p.startsWith('the answer is ')) c = p[14];
  else c = p[0];
  const letter = c?.toUpperCase();
  return letter !== undefined && letters.includes(letter) ? letter : null;
}

/**
 * Reads the answer out of a model's reply by the benchmark's own convention: `yes`/`no`
 * for POPE, the normalised phrase for GQA, an option letter for the multiple-choice
 * benchmarks (MMStar: its own first-character rule, `parseMmstarAnswer`); `null` when the
 * reply names no option.
 *
 * @example
 * ```ts
 * extractAnswer('pope', 'No', item);                  // 'no'
 * extractAnswer('scienceqa', 'The answer is B.', item); // 'B'
 * extractAnswer('mmbench', 'B. A red car', item);     // 'B'
 * ```
 */
export function extractAnswer(
  benchmark: BenchmarkName,
  text: string,
  item: Pick<BenchmarkItem, 'options'> & { readonly metadata?: BenchmarkItem['metadata'] },
): string | null {
  const options = item.options ?? [];
  const letters = itemLetters(item);
  switch (benchmark) {
    case 'pope':
      return parsePopeAnswer(text);
    case 'gqa':
      return normalizeGqaAnswer(text);
    case 'scienceqa':
      return parseScienceQaAnswer(text, options.length);
    case 'seedbench':
      return parseSeedBenchAnswer(text, letters);
    case 'mmstar':
      return parseMmstarAnswer(text, letters);
    case 'vstar':
    case 'mmbench':
      return inferOption(text, options, letters);
  }
}
