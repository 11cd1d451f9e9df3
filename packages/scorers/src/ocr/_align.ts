/**
 * Approximate substring matching of a question word (or phrase) against OCR text, at the
 * character level and across word boundaries: Sellers' algorithm (the local-alignment form of
 * edit distance where the word must be matched whole but may start and end anywhere in the
 * text), with costs that know how OCR goes wrong:
 *
 * - look-alike characters cost less to swap (I/1/l, O/0, U/V, M/N/W, S/5...), and so do
 *   one-for-two look-alikes (rn/m, vv/w, cl/d...);
 * - where the recogniser hesitated, its own probabilities lower the cost: a character it read
 *   with low confidence is cheap to replace, one among its runner-ups cheaper still, and a
 *   letter it nearly read in a gap ("dropped") is cheap to have missed;
 * - spaces and punctuation are ignored on both sides, so "WAITTIME" matches "wait time";
 * - numbers match only whole and exactly (up to look-alike letters such as O for 0): "25"
 *   is not "26" and not the "25" inside "2025".
 */
import type { OcrAlternative } from './_ctc.js';

/** One character of normalised OCR text as the matcher sees it. */
export interface AlignChar {
  /** Lowercase letter or digit (accents and case removed). */
  readonly char: string;
  /** Probability of this character, 0..1. */
  readonly p: number;
  /** Other characters it may be, with probabilities (normalised like `char`). */
  readonly alts?: ReadonlyMap<string, number>;
  /** Characters nearly read just before this one, with probabilities. */
  readonly dropped?: ReadonlyMap<string, number>;
  /** Index of the OCR character it came from, in the line's text. */
  readonly source: number;
  /** True when a space or punctuation (or the line start) comes right before it. */
  readonly wordStart: boolean;
}

/** A line of OCR text prepared for matching. */
export interface AlignText {
  readonly chars: readonly AlignChar[];
  /** Characters nearly read after the last one. */
  readonly droppedAfter?: ReadonlyMap<string, number>;
}

export interface Alignment {
  /** Total cost of the best alignment (0 = exact, high confidence). */
  readonly cost: number;
  /** 1 - cost / length of the query, at least 0. */
  readonly similarity: number;
  /** The matched span, as indices into `text.chars` (end exclusive). */
  readonly start: number;
  readonly end: number;
}

const pair = (a: string, b: string) => (a < b ? `${a}${b}` : `${b}${a}`);

/** Costs of swapping look-alike characters (symmetric; lowercase letters and digits). */
const LOOK_ALIKE: ReadonlyMap<string, number> = new Map(
  (
    [
      ['o', '0', 0.15],
      ['i', 'l', 0.2],
      ['i', '1', 0.2],
      ['l', '1', 0.2],
      ['i', 'j', 0.35],
      ['i', 't', 0.45],
      ['l', 't', 0.45],
      ['s', '5', 0.25],
      ['z', '2', 0.3],
      ['b', '8', 0.3],
      ['b', '6', 0.4],
      ['g', '9', 0.4],
      ['g', '6', 0.4],
      ['q', '9', 0.4],
      ['a', '4', 0.45],
      ['e', '3', 0.5],
      ['t', '7', 0.45],
      ['o', 'q', 0.35],
      ['o', 'd', 0.35],
      ['o', 'c', 0.4],
      ['o', 'u', 0.45],
      ['d', '0', 0.35],
      ['q', '0', 0.35],
      ['u', 'v', 0.25],
      ['v', 'y', 0.35],
      ['m', 'n', 0.3],
      ['n', 'h', 0.35],
      ['n', 'u', 0.45],
      ['m', 'w', 0.45],
      ['w', 'v', 0.4],
      ['c', 'e', 0.35],
      ['e', 'f', 0.4],
      ['f', 't', 0.4],
      ['p', 'r', 0.45],
      ['p', 'f', 0.45],
      ['b', 'h', 0.45],
      ['h', 'k', 0.45],
      ['k', 'x', 0.45],
      ['c', 'g', 0.4],
      ['g', 'q', 0.35],
      ['r', 'n', 0.45],
      ['a', 'o', 0.45],
      ['e', 'o', 0.5],
    ] as const
  ).map(([a, b, c]) => [pair(a, b), c]),
);

/** One character read as two (or two as one): query side first, then text side. */
const SPLITS: readonly (readonly [string, string, number])[] = [
  ['m', 'rn', 0.3],
  ['m', 'nn', 0.4],
  ['m', 'in', 0.7],
  ['m', 'ni', 0.7],
  ['w', 'vv', 0.3],
  ['w', 'uu', 0.45],
  ['d', 'cl', 0.4],
  ['u', 'ii', 0.45],
  ['h', 'li', 0.45],
  ['n', 'ri', 0.45],
  ['k', 'lc', 0.5],
];
const ONE_TO_TWO: ReadonlyMap<string, number> = new Map(SPLITS.map(([one, two, c]) => [`${one}>${two}`, c]));
const TWO_TO_ONE: ReadonlyMap<string, number> = new Map(SPLITS.map(([one, two, c]) => [`${two}>${one}`, c]));

/** The cost of swapping two characters for their looks alone: 0 if equal, 1 if unrelated. */
export function lookAlikeCost(a: string, b: string): number {
  if (a === b) return 0;
  return LOOK_ALIKE.get(pair(a, b)) ?? 1;
}

/** What an exact character costs: a little when the recogniser was unsure of it. */
const SURE_WEIGHT = 0.3;

function substitution(q: string, t: AlignChar): number {
  if (q === t.char) return SURE_WEIGHT * (1 - t.p);
  // A character read with low confidence is cheaper to replace; one the recogniser ranked
  // among its runner-ups cheaper still.
  const looks = lookAlikeCost(q, t.char) * (0.5 + 0.5 * t.p);
  const alt = t.alts?.get(q) ?? 0;
  return Math.min(looks, 1 - Math.min(0.9, 1.5 * alt));
}

/** The query character is missing from the text, at the gap before text position `j`. */
function deletion(q: string, previousQ: string | undefined, text: AlignText, j: number): number {
  const gap = j < text.chars.length ? text.chars[j]!.dropped : text.droppedAfter;
  const nearly = gap?.get(q) ?? 0;
  // CTC merges a doubled letter unless a blank separates the two: "COFFEE" often reads "COFEE".
  const doubled = previousQ === q ? 0.5 : 1;
  return Math.min(doubled, 1 - Math.min(0.9, 1.5 * nearly));
}

/** An extra text character inside the matched span: a low-confidence one is likely noise. */
function insertion(t: AlignChar): number {
  return 0.6 + 0.4 * t.p;
}

/**
 * The best alignment of the whole `query` (normalised letters and digits) with any span of
 * `text`, by dynamic programming over (query prefix, text position): O(query x text).
 *
 * @example
 * ```ts
 * alignWord('waittime', prepareText('WAITTIME', 0.9)).similarity; // ~0.97: run together
 * alignWord('minutes', prepareText('MINVTES', 0.7)).similarity;  // ~0.94: U read as V
 * ```
 */
export function alignWord(query: string, text: AlignText): Alignment {
  const q = [...query];
  const t = text.chars;
  const m = q.length;
  const n = t.length;
  const none: Alignment = { cost: Number.POSITIVE_INFINITY, similarity: 0, start: 0, end: 0 };
  if (m === 0 || n === 0) return none;
  // D[i][j]: best cost of aligning q[0..i) with a span of t ending at j; S: where that span starts.
  const D: Float64Array[] = Array.from({ length: m + 1 }, () => new Float64Array(n + 1).fill(Number.POSITIVE_INFINITY));
  const S: Int32Array[] = Array.from({ length: m + 1 }, () => new Int32Array(n + 1));
  for (let j = 0; j <= n; j++) {
    D[0]![j] = 0;
    S[0]![j] = j;
  }
  for (let i = 1; i <= m; i++) {
    const qi = q[i - 1]!;
    const row = D[i]!;
    const prev = D[i - 1]!;
    const srow = S[i]!;
    const sprev = S[i - 1]!;
    for (let j = 0; j <= n; j++) {
      // The query character missing from the text (deleted).
      let best = prev[j]! + deletion(qi, q[i - 2], text, j);
      let start = sprev[j]!;
      if (j > 0) {
        const tj = t[j - 1]!;
        const sub = prev[j - 1]! + substitution(qi, tj);
        if (sub < best) {
          best = sub;
          start = sprev[j - 1]!;
        }
        // An extra text character inside the span (only after the span has started).
        if (i > 0) {
          const ins = row[j - 1]! + insertion(tj);
          if (ins < best) {
            best = ins;
            start = srow[j - 1]!;
          }
        }
        // One query character read as two ("m" as "rn").
        if (j > 1) {
          const c = ONE_TO_TWO.get(`${qi}>${t[j - 2]!.char}${tj.char}`);
          if (c !== undefined) {
            const v = prev[j - 2]! + c * (0.5 + 0.25 * (t[j - 2]!.p + tj.p));
            if (v < best) {
              best = v;
              start = sprev[j - 2]!;
            }
          }
        }
        // Two query characters read as one ("rn" as "m").
        if (i > 1) {
          const c = TWO_TO_ONE.get(`${q[i - 2]}${qi}>${tj.char}`);
          if (c !== undefined) {
            const v = D[i - 2]![j - 1]! + c * (0.5 + 0.5 * tj.p);
            if (v < best) {
              best = v;
              start = S[i - 2]![j - 1]!;
            }
          }
        }
      }
      row[j] = best;
      srow[j] = start;
    }
  }
  let end = 0;
  for (let j = 1; j <= n; j++) if (D[m]![j]! < D[m]![end]!) end = j;
  const cost = D[m]![end]!;
  const start = S[m]![end]!;
  if (end <= start) return none;
  return { cost, similarity: Math.max(0, 1 - cost / m), start, end };
}

/**
 * A number matched whole: digits must be equal (a look-alike letter may stand for a digit:
 * "2S" for "25", "O" for "0"), the span starts and ends at a number's edges (not inside
 * "2025"), separators (":", ".", ",") are ignored. Returns the best alignment or none.
 *
 * @example
 * ```ts
 * alignNumber('25', prepareText('WAIT 25 MIN', 0.9)).similarity; // ~0.97
 * alignNumber('25', prepareText('2025', 0.9)).similarity;        // 0
 * ```
 */
export function alignNumber(digits: string, text: AlignText): Alignment {
  const q = [...digits];
  const t = text.chars;
  let best: Alignment = { cost: Number.POSITIVE_INFINITY, similarity: 0, start: 0, end: 0 };
  const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  for (let s = 0; s + q.length <= t.length; s++) {
    // Must not continue a number that started before.
    if (!t[s]!.wordStart && isDigit(t[s - 1]?.char)) continue;
    const after = t[s + q.length];
    if (after && !after.wordStart && isDigit(after.char)) continue;
    let cost = 0;
    for (let k = 0; k < q.length && cost < 1; k++) {
      const c = t[s + k]!;
      if (c.char === q[k]) cost += SURE_WEIGHT * (1 - c.p);
      else if (isDigit(c.char)) cost = Number.POSITIVE_INFINITY;
      else cost += lookAlikeCost(q[k]!, c.char);
    }
    if (cost < best.cost) best = { cost, similarity: Math.max(0, 1 - cost / q.length), start: s, end: s + q.length };
  }
  return best;
}

/** Lowercase, compatibility-decomposed, without accents. */
export function foldChars(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase();
}

const WORD_CHAR = /[\p{L}\p{N}]/u;

function foldMap(candidates: readonly OcrAlternative[] | undefined, exclude?: string): Map<string, number> | undefined {
  if (!candidates || candidates.length === 0) return undefined;
  const out = new Map<string, number>();
  for (const [c, p] of candidates) {
    const f = foldChars(c);
    if (f.length !== 1 || !WORD_CHAR.test(f) || f === exclude) continue;
    out.set(f, (out.get(f) ?? 0) + p);
  }
  return out.size > 0 ? out : undefined;
}

/** Per-character detail from the recogniser (see `OcrChar`). */
export interface CharDetail {
  readonly char: string;
  readonly confidence: number;
  readonly alternatives?: readonly OcrAlternative[];
  readonly dropped?: readonly OcrAlternative[];
}

/**
 * Prepares one OCR line for matching: folded to lowercase letters and digits, spaces and
 * punctuation dropped (remembered as word starts). With `chars` (the recogniser's detail, one
 * per character of `text`), each character keeps its own probability, runner-ups and dropped
 * neighbours, case variants added together; without, every character gets `confidence`.
 */
export function prepareText(text: string, confidence: number, chars?: readonly CharDetail[], droppedAfter?: readonly OcrAlternative[]): AlignText {
  const out: AlignChar[] = [];
  const units = [...text];
  const detail = chars && chars.length === units.length ? chars : undefined;
  let boundary = true;
  let pendingDrop: Map<string, number> | undefined;
  units.forEach((unit, k) => {
    const d = detail?.[k];
    const folded = [...foldChars(unit)].filter((c) => WORD_CHAR.test(c));
    if (folded.length === 0) {
      boundary = true;
      // A dropped letter before a space still belongs to the gap the matcher sees next.
      const drop = foldMap(d?.dropped);
      if (drop) pendingDrop = drop;
      return;
    }
    folded.forEach((c, f) => {
      let p = d ? d.confidence : confidence;
      const alts = f === 0 ? foldMap(d?.alternatives, c) : undefined;
      // Case variants of the same letter are the same character here.
      if (d?.alternatives) for (const [a, ap] of d.alternatives) if (foldChars(a) === c) p += ap;
      const dropped = f === 0 ? (foldMap(d?.dropped) ?? pendingDrop) : undefined;
      out.push({
        char: c,
        p: Math.min(1, p),
        ...(alts ? { alts } : {}),
        ...(dropped ? { dropped } : {}),
        source: k,
        wordStart: boundary && f === 0,
      });
      pendingDrop = undefined;
    });
    boundary = false;
  });
  const after = foldMap(droppedAfter) ?? pendingDrop;
  return after ? { chars: out, droppedAfter: after } : { chars: out };
}
