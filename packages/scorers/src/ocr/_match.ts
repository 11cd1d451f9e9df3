/**
 * Matching a question's words against the text OCR read in a tile. Plain lexical matching,
 * made tolerant to what OCR gets wrong: case, accents, a wrong letter or two, words run
 * together ("WAITTIME"), and digits that must be exact ("25" is not "26").
 */

/**
 * A small English stop list: function words, question words and the boilerplate of VQA
 * prompts ("image", "picture", "option", "answer"...) that say nothing about where to look.
 */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'a an the is are was were be been being am do does did doing done have has had having ' +
    'of in on at to for from by with about as into onto over under up down out off than then ' +
    'and or but nor not no yes so if because while though also just only very too more most ' +
    'what which who whom whose where when why how whats wheres hows ' +
    'this that these those there here it its itself they them their theirs he him his she her hers ' +
    'we us our ours you your yours me my mine i ' +
    'can could would should will shall may might must ' +
    'any some all each every both either neither other another such same ' +
    'image images picture pictures photo photos shown show shows visible see seen depicted ' +
    'option options answer answers choice choices choose correct letter given following question ' +
    'please tell one kind type'
  ).split(' '),
);

export interface TextLine {
  readonly text: string;
  readonly confidence: number;
}

export interface MatchOptions {
  /** Minimum normalised Levenshtein similarity for a fuzzy word match. Default 0.75. */
  readonly fuzzyThreshold: number;
  /** Weight of the text-density prior. Default 0.05. */
  readonly densityWeight: number;
  /** Characters at which the density prior saturates. Default 200. */
  readonly densityChars: number;
}

export interface WordMatch {
  /** The question's (normalised) word. */
  readonly word: string;
  /** The tile token it matched. */
  readonly token: string;
  /** Similarity of the two, 0..1 (1 = identical after normalising). */
  readonly similarity: number;
  /** OCR confidence of the line the token came from. */
  readonly confidence: number;
}

export interface TileTextScore {
  readonly score: number;
  readonly relevance: number;
  readonly density: number;
  /** Characters read in the tile (spaces excluded). */
  readonly chars: number;
  readonly matches: readonly WordMatch[];
}

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const TOKEN = /\p{N}+(?:[.,:]\p{N}+)*|[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+|\p{L}+/gu;

/**
 * Lowercase, compatibility-decomposed (NFKD: full-width forms, ligatures), accents removed.
 *
 * @example
 * ```ts
 * normalizeText('Café ＷＡＩＴ'); // 'cafe wait'
 * ```
 */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase();
}

/** `1,000` -> `1000`, `007` -> `7`; decimals and times keep their separators. */
function normalizeNumber(token: string): string {
  const plain = /^\d{1,3}(,\d{3})+$/.test(token) ? token.replace(/,/g, '') : token;
  return /^\d+$/.test(plain) ? plain.replace(/^0+(?=\d)/, '') : plain;
}

function isNumeric(token: string): boolean {
  return /\p{N}/u.test(token);
}

/**
 * Splits normalised text into words: runs of letters, numbers (with inner `.`, `,` or `:`),
 * and overlapping character pairs of Chinese/Japanese/Korean runs (which have no spaces).
 *
 * @example
 * ```ts
 * tokenize('STAND-BY: 25MIN'); // ['stand', 'by', '25', 'min']
 * tokenize('等待时间');          // ['等待', '待时', '时间']
 * ```
 */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const match of normalizeText(text).matchAll(TOKEN)) {
    const token = match[0];
    if (CJK.test(token)) {
      const chars = [...token];
      if (chars.length === 1) out.push(token);
      for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i]! + chars[i + 1]!);
    } else {
      out.push(isNumeric(token) ? normalizeNumber(token) : token);
    }
  }
  return out;
}

/**
 * Tile-side tokens: the words of `tokenize`, plus each whitespace-separated chunk with its
 * punctuation removed, so "STAND-BY" also gives "standby" and "25MIN" gives "25min".
 */
function tileTokens(text: string): string[] {
  const tokens = tokenize(text);
  for (const chunk of normalizeText(text).split(/\s+/)) {
    const joined = chunk.replace(/[^\p{L}\p{N}]+/gu, '');
    if (joined.length >= 3 && !CJK.test(joined) && !tokens.includes(joined)) tokens.push(joined);
  }
  return tokens;
}

/** A word worth looking for: not a stop word, and not a lone Latin letter. */
function isContentWord(word: string): boolean {
  if (STOP_WORDS.has(word)) return false;
  if (isNumeric(word) || CJK.test(word)) return true;
  return word.length >= 2;
}

export interface ContentWords {
  readonly words: readonly string[];
  /** True when the text or the word list was cut to the caps. */
  readonly truncated: boolean;
}

/**
 * The distinct content words of a question and its options, in order of appearance, at
 * most `maxWords` of them, reading at most `maxChars` characters of each text.
 *
 * @example
 * ```ts
 * contentWords(['What is the wait time?', '10 minutes'], 32, 4000);
 * // { words: ['wait', 'time', '10', 'minutes'], truncated: false }
 * ```
 */
export function contentWords(texts: readonly string[], maxWords: number, maxChars: number): ContentWords {
  const seen = new Set<string>();
  let truncated = false;
  for (const text of texts) {
    let part = text;
    if (part.length > maxChars) {
      part = part.slice(0, maxChars);
      truncated = true;
    }
    for (const word of tokenize(part)) {
      if (!isContentWord(word) || seen.has(word)) continue;
      if (seen.size >= maxWords) return { words: [...seen], truncated: true };
      seen.add(word);
    }
  }
  return { words: [...seen], truncated };
}

/** Edit distance (insert, delete, substitute; cost 1 each) between two strings of code points. */
export function levenshtein(a: string, b: string): number {
  const s = [...a];
  const t = [...b];
  if (s.length === 0) return t.length;
  if (t.length === 0) return s.length;
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  let cur = new Array<number>(t.length + 1);
  for (let i = 1; i <= s.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[t.length]!;
}

/**
 * How well a tile token matches a question word, 0 (no match) to 1 (identical):
 * - numbers and CJK pairs match only exactly;
 * - otherwise the normalised Levenshtein similarity `1 - distance / longer length`, when
 *   both have at least 3 characters and it reaches `threshold`;
 * - or, when one contains the other and the shorter has at least 3 characters (OCR often
 *   drops spaces: "waittime"), `0.5 + 0.5 * shorter / longer`.
 *
 * @example
 * ```ts
 * wordSimilarity('minutes', 'minvtes', 0.75); // 0.857 (one letter misread)
 * wordSimilarity('wait', 'waittime', 0.75);   // 0.75 (run together)
 * wordSimilarity('25', '26', 0.75);           // 0 (numbers match exactly or not at all)
 * ```
 */
export function wordSimilarity(word: string, token: string, threshold: number): number {
  if (word === token) return 1;
  if (isNumeric(word) || isNumeric(token) || CJK.test(word) || CJK.test(token)) return 0;
  const lw = [...word].length;
  const lt = [...token].length;
  const shorter = Math.min(lw, lt);
  const longer = Math.max(lw, lt);
  if (shorter < 3) return 0;
  let best = 0;
  if (longer - shorter <= longer * (1 - threshold) + 1e-9) {
    const sim = 1 - levenshtein(word, token) / longer;
    if (sim >= threshold) best = sim;
  }
  if (lw < lt ? token.includes(word) : word.includes(token)) {
    best = Math.max(best, 0.5 + (0.5 * shorter) / longer);
  }
  return best;
}

/**
 * Scores one tile: the mean over question words of the best (similarity x line
 * confidence) among the tile's tokens, plus `densityWeight * min(1, chars / densityChars)`.
 * A tile with no text scores exactly 0; with no question words, only the density counts.
 *
 * @example
 * ```ts
 * const r = scoreTileText(['wait', 'time'], [{ text: 'WAIT TIME 25 MIN', confidence: 0.9 }],
 *   { fuzzyThreshold: 0.75, densityWeight: 0.05, densityChars: 200 });
 * // r.score = 0.9 + 0.05 * 13 / 200
 * ```
 */
export function scoreTileText(words: readonly string[], lines: readonly TextLine[], options: MatchOptions): TileTextScore {
  let chars = 0;
  const tokens: { token: string; confidence: number }[] = [];
  for (const line of lines) {
    chars += line.text.replace(/\s+/g, '').length;
    for (const token of tileTokens(line.text)) tokens.push({ token, confidence: line.confidence });
  }
  if (chars === 0) return { score: 0, relevance: 0, density: 0, chars: 0, matches: [] };
  const density = options.densityWeight * Math.min(1, chars / options.densityChars);
  const matches: WordMatch[] = [];
  let total = 0;
  for (const word of words) {
    let best: WordMatch | undefined;
    let bestValue = 0;
    for (const { token, confidence } of tokens) {
      const similarity = wordSimilarity(word, token, options.fuzzyThreshold);
      const value = similarity * confidence;
      if (value > bestValue) {
        bestValue = value;
        best = { word, token, similarity, confidence };
      }
    }
    if (best) {
      matches.push(best);
      total += bestValue;
    }
  }
  const relevance = words.length === 0 ? 0 : total / words.length;
  return { score: relevance + density, relevance, density, chars, matches };
}
