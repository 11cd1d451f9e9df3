/**
 * Score given to an option whose letter the model did not produce (letter mode) or that is
 * not among the top log-probabilities (logprobs mode). Finite so results survive JSON; far
 * below any real log-probability.
 */
export const UNSEEN_SCORE = -1e4;

export interface TopLogprob {
  readonly token: string;
  readonly logprob: number;
}

/** The letter a token stands for: "A", " A", "▁A", "(A", "A." and "A)" all mean A; "a" does not. */
export function tokenLetter(token: string): string | undefined {
  const core = token.replace(/^[\s▁Ġ([]+/u, '').replace(/[\s.):\],]+$/u, '');
  return /^[A-Z]$/.test(core) ? core : undefined;
}

function logSumExp(values: readonly number[]): number {
  const max = Math.max(...values);
  if (!Number.isFinite(max)) return max;
  return max + Math.log(values.reduce((acc, v) => acc + Math.exp(v - max), 0));
}

/**
 * Per-option scores from the first generated token's top log-probabilities: tokens that
 * spell the same letter ("A", " A") are pooled (their probabilities add). Returns undefined
 * when no option letter is among them.
 *
 * @example
 * ```ts
 * scoresFromLogprobs([{ token: 'B', logprob: -0.2 }, { token: ' B', logprob: -2 }, { token: 'A', logprob: -1.9 }], ['A', 'B', 'C']);
 * // [-1.9, -0.05, UNSEEN_SCORE]
 * ```
 */
export function scoresFromLogprobs(top: readonly TopLogprob[], letters: readonly string[]): number[] | undefined {
  const byLetter = new Map<string, number[]>();
  for (const { token, logprob } of top) {
    const letter = tokenLetter(token);
    if (letter === undefined || !Number.isFinite(logprob)) continue;
    const list = byLetter.get(letter) ?? [];
    list.push(logprob);
    byLetter.set(letter, list);
  }
  if (!letters.some((l) => byLetter.has(l))) return undefined;
  return letters.map((l) => {
    const list = byLetter.get(l);
    return list ? logSumExp(list) : UNSEEN_SCORE;
  });
}

/** Index of the highest score; ties go to the earlier option. */
export function argmax(scores: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if ((scores[i] as number) > (scores[best] as number)) best = i;
  return best;
}

function normalise(text: string): string {
  return text
    .toLowerCase()
    .replace(/[\s]+/g, ' ')
    .replace(/^[\s"'`*]+|[\s"'`*.!]+$/g, '');
}

/**
 * Reads the chosen option from a generated answer, most specific rule first: the whole
 * answer is an option's text; the answer starts with a letter ("B", "B.", "(B) red");
 * "the answer is B"; exactly one "(B)" in the text; exactly one option's text in the text.
 * Returns undefined when none applies, so a model that did not follow the format is not
 * silently scored as a pick.
 *
 * @example
 * ```ts
 * parseChoice('The answer is C.', ['A', 'B', 'C'], ['red', 'green', 'blue']); // 2
 * parseChoice('green', ['A', 'B', 'C'], ['red', 'green', 'blue']); // 1
 * parseChoice('I cannot tell', ['A', 'B'], ['yes', 'no']); // undefined
 * ```
 */
export function parseChoice(text: string, letters: readonly string[], options: readonly string[]): number | undefined {
  const t = text.trim().replace(/^[*_`"']+/, '');
  const norm = normalise(t);
  const exact = options.findIndex((o) => normalise(o) === norm);
  if (exact >= 0) return exact;
  const valid = (letter: string | undefined): number | undefined => {
    if (letter === undefined) return undefined;
    const i = letters.indexOf(letter);
    return i >= 0 ? i : undefined;
  };
  const lead = /^\(?([A-Z])(?:$|[).:,\]*_`"']|\s*$)/.exec(t);
  if (lead) {
    const i = valid(lead[1]);
    if (i !== undefined) return i;
  }
  const stated = /\b(?:answer|option|choice)(?:\s+is)?\s*[:：]?\s*\(?([A-Z])\b(?![a-z])/i.exec(t);
  if (stated && /[A-Z]/.test(stated[1] as string)) {
    const i = valid(stated[1]);
    if (i !== undefined) return i;
  }
  const bracketed = new Set([...t.matchAll(/\(([A-Z])\)/g)].map((m) => m[1] as string).filter((l) => letters.includes(l)));
  if (bracketed.size === 1) return valid([...bracketed][0]);
  const mentioned = options
    .map((o, i) => ({ i, o: normalise(o) }))
    .filter(({ o }) => o.length > 0 && new RegExp(`(^|[^a-z0-9])${o.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^a-z0-9])`).test(norm));
  if (mentioned.length === 1) return (mentioned[0] as { i: number }).i;
  return undefined;
}
