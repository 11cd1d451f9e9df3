/**
 * The arithmetic of the VLM scorers, kept apart from any model so it is tested with known
 * answers: cosine similarity of embeddings, and P(Yes) from answer log-probabilities or text.
 */
import type { TopLogprob } from '../_choose.js';

/**
 * L2-normalised copy (a zero vector stays zero). Sums in float64.
 *
 * @example
 * ```ts
 * normalised([3, 4]); // Float32Array [0.6, 0.8]
 * ```
 */
export function normalised(v: ArrayLike<number>): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const inv = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  return Float32Array.from({ length: v.length }, (_, i) => v[i]! * inv);
}

/**
 * Cosine similarity in float64; 0 when either vector is zero.
 *
 * @example
 * ```ts
 * cosine([1, 0], [1, 1]); // 0.7071...
 * ```
 */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`cosine of vectors of length ${a.length} and ${b.length}`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

/** Spellings of the two answers the local runner scores; pooled, they are P(Yes) and P(No). */
export const YES_SPELLINGS = ['Yes', 'yes', 'YES', ' Yes', ' yes'] as const;
export const NO_SPELLINGS = ['No', 'no', 'NO', ' No', ' no'] as const;

/**
 * `yes`/`no` for a token that spells one ("Yes", " yes", "▁Yes", "YES.", "Ġno"), else undefined.
 *
 * @example
 * ```ts
 * yesNoToken('▁Yes'); // 'yes'
 * yesNoToken('Not'); // undefined
 * ```
 */
export function yesNoToken(token: string): 'yes' | 'no' | undefined {
  const core = token
    .replace(/^[\s▁Ġ"'*_`([]+/u, '')
    .replace(/[\s.,!:;)\]"'*_`]+$/u, '')
    .toLowerCase();
  return core === 'yes' || core === 'no' ? core : undefined;
}

function logSumExp(values: readonly number[]): number {
  if (values.length === 0) return -Infinity;
  const max = Math.max(...values);
  if (!Number.isFinite(max)) return max;
  return max + Math.log(values.reduce((acc, v) => acc + Math.exp(v - max), 0));
}

/**
 * P(Yes) / (P(Yes) + P(No)) from answer log-probabilities: every token that spells yes (or no)
 * adds its probability. A side with no token at all counts as probability 0 (an HTTP server's
 * top tokens leave out everything less likely); neither side gives `undefined`.
 *
 * @example
 * ```ts
 * yesProbability([{ token: 'Yes', logprob: Math.log(0.6) }, { token: ' yes', logprob: Math.log(0.1) }, { token: 'No', logprob: Math.log(0.1) }]);
 * // 0.875 = 0.7 / (0.7 + 0.1)
 * ```
 */
export function yesProbability(logprobs: readonly TopLogprob[] | undefined): number | undefined {
  if (!logprobs) return undefined;
  const yes: number[] = [];
  const no: number[] = [];
  for (const { token, logprob } of logprobs) {
    if (typeof logprob !== 'number' || Number.isNaN(logprob)) continue;
    const side = yesNoToken(token);
    if (side === 'yes') yes.push(logprob);
    else if (side === 'no') no.push(logprob);
  }
  if (yes.length === 0 && no.length === 0) return undefined;
  const ly = logSumExp(yes);
  const ln = logSumExp(no);
  if (ly === -Infinity && ln === -Infinity) return undefined;
  // sigmoid(ly - ln), written to stay finite for any difference.
  const d = ly - ln;
  return d >= 0 ? 1 / (1 + Math.exp(-d)) : Math.exp(d) / (1 + Math.exp(d));
}

/**
 * 1 for an answer that says yes, 0 for no, `undefined` when it says neither or both: the
 * leading word first ("Yes, the sign...", "**No**"), else a yes or no that is the only one in it.
 *
 * @example
 * ```ts
 * parseYesNo('Yes.'); // 1
 * parseYesNo('I think no'); // 0
 * parseYesNo('Maybe'); // undefined
 * ```
 */
export function parseYesNo(text: string): 0 | 1 | undefined {
  const lead = /^[\s"'*_`([]*(yes|no)\b/i.exec(text);
  if (lead) return lead[1]!.toLowerCase() === 'yes' ? 1 : 0;
  const words = new Set([...text.toLowerCase().matchAll(/\b(yes|no)\b/g)].map((m) => m[1]));
  if (words.size === 1) return words.has('yes') ? 1 : 0;
  return undefined;
}
