/**
 * Matching a question against the text OCR read in a tile, made to survive what OCR gets
 * wrong: each content word (and each pair of adjacent words run together, "WAITTIME") is
 * aligned at the character level with any span of each line, across word boundaries, with
 * look-alike and recogniser-confidence-aware costs (`_align.ts`); numbers match only whole;
 * and what the question asks for (a time, a price, a number) is looked for as such. A small
 * text-density prior breaks ties.
 */
import { alignNumber, alignWord, foldChars, prepareText } from './_align.js';
import type { AlignText, CharDetail } from './_align.js';
import type { OcrAlternative } from './_ctc.js';

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
  /** The line's confidence: every character's when `chars` is absent. */
  readonly confidence: number;
  /** The recogniser's detail per character of `text` (`OcrChar`): probabilities, runner-ups, dropped letters. */
  readonly chars?: readonly CharDetail[];
  /** Characters nearly read after the last one. */
  readonly droppedAfter?: readonly OcrAlternative[];
}

export interface MatchOptions {
  /**
   * The least similarity (1 - alignment cost / word length) a match of a long word may have;
   * short words must match more closely (a 2-letter word exactly, up to one look-alike).
   * Default 0.6.
   */
  readonly minSimilarity: number;
  /** Weight of the text-density prior, a tie-breaker. Default 0.01. */
  readonly densityWeight: number;
  /** Characters at which the density prior saturates. Default 200. */
  readonly densityChars: number;
}

/** What a question asks for, when it asks for a time, a price or a number. */
export type AnswerType = 'time' | 'price' | 'number';

export interface WordMatch {
  /** The question's (normalised) word. */
  readonly word: string;
  /** The text it matched, as OCR read it (the aligned span of the line). */
  readonly token: string;
  /** How closely, 0..1: 1 - alignment cost / word length (1 = read exactly and surely). */
  readonly similarity: number;
  /** Mean recogniser probability of the matched characters. */
  readonly confidence: number;
  /** Index of the line (in the tile's lines) the match is in. */
  readonly line: number;
  /** `word` on its own, `phrase` as part of adjacent question words run together, `number` a number matched whole. */
  readonly via: 'word' | 'phrase' | 'number';
  /** For `via: 'phrase'`: the words matched together, e.g. "wait time". */
  readonly phrase?: string;
}

/** Text of the kind the question asks for (a time, price or number) found in a tile. */
export interface TypeMatch {
  readonly type: AnswerType;
  /** The text, as read. */
  readonly token: string;
  /** 0..1: 1 for an unmistakable one ("25 MIN", "10:30", "$4.99"), less for a unit or a bare number. */
  readonly strength: number;
  readonly line: number;
}

export interface TileTextScore {
  readonly score: number;
  /** Mean over the question's words of their best match, with the answer-type evidence as half a word. */
  readonly relevance: number;
  readonly density: number;
  /** Characters read in the tile (spaces excluded). */
  readonly chars: number;
  /** The best match of each question word that matched something. */
  readonly matches: readonly WordMatch[];
  /** Evidence of the kind of answer the question asks for (at most one per type). */
  readonly types: readonly TypeMatch[];
}

/** What is looked for in the tiles: the content words, which pairs of them are adjacent, what kind of answer. */
export interface QueryTerms {
  readonly words: readonly string[];
  /** Pairs of indices into `words` that stand next to each other in a text (matched run together too). */
  readonly phrases: readonly (readonly [number, number])[];
  readonly expects: readonly AnswerType[];
  /** True when the text or the word list was cut to the caps. */
  readonly truncated: boolean;
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

const TIME_QUESTION = /\b(what time|when|hours?|open|opens|opening|close[sd]?|closing|schedule|minutes?|wait|waiting|how long|duration|until|days?|date)\b/;
const PRICE_QUESTION = /\b(price|prices|priced|cost|costs|how much|pay|fee|fees|fare|fares|dollars?|euros?|cents|charge)\b|[$€£¥]/;
const NUMBER_QUESTION =
  /\b(how many|number|numbers|which (platform|gate|room|lane|floor|bus|line|track|carousel|seat|door|terminal|route|level)|what (platform|gate|room|lane|floor|bus|line|track|terminal|route|level)|speed|limit|year|age|phone|code|password|pin|score|temperature)\b/;

/**
 * The kinds of answer a question asks for: a time ("What is the wait time?", "When does it
 * open?"), a price ("How much is admission?") or a number ("Which platform...?").
 *
 * @example
 * ```ts
 * expectedAnswers('What is the wait time?'); // ['time']
 * expectedAnswers('How much is the bread?'); // ['price']
 * ```
 */
export function expectedAnswers(question: string): AnswerType[] {
  const q = normalizeText(question);
  const out: AnswerType[] = [];
  if (TIME_QUESTION.test(q)) out.push('time');
  if (PRICE_QUESTION.test(q)) out.push('price');
  if (NUMBER_QUESTION.test(q)) out.push('number');
  return out;
}

/**
 * The content words of a question and its options (as `contentWords`), which of them are
 * adjacent in the same text (for "wait time" read as "WAITTIME"), and what kind of answer the
 * question asks for.
 *
 * @example
 * ```ts
 * queryTerms(['What is the wait time?'], 32, 4000);
 * // { words: ['wait', 'time'], phrases: [[0, 1]], expects: ['time'], truncated: false }
 * ```
 */
export function queryTerms(texts: readonly string[], maxWords: number, maxChars: number): QueryTerms {
  const { words, truncated } = contentWords(texts, maxWords, maxChars);
  const index = new Map(words.map((w, i) => [w, i]));
  const phrases: [number, number][] = [];
  const seen = new Set<string>();
  for (const text of texts) {
    const tokens = tokenize(text.length > maxChars ? text.slice(0, maxChars) : text);
    for (let k = 0; k + 1 < tokens.length; k++) {
      const a = index.get(tokens[k]!);
      const b = index.get(tokens[k + 1]!);
      if (a === undefined || b === undefined || a === b) continue;
      if (!isWordy(tokens[k]!) || !isWordy(tokens[k + 1]!)) continue;
      const key = `${a},${b}`;
      if (!seen.has(key)) {
        seen.add(key);
        phrases.push([a, b]);
      }
    }
  }
  return { words, phrases, expects: texts.length > 0 ? expectedAnswers(texts[0]!) : [], truncated };
}

/** Latin-like letters only: what fuzzy alignment applies to. */
function isWordy(word: string): boolean {
  return /^\p{L}+$/u.test(word) && !CJK.test(word);
}

/** Most cost a match of a word of `length` characters may have. */
function allowedCost(length: number, minSimilarity: number): number {
  const table = [0, 0.3, 0.3, 0.5, 1.05, 1.5, 2, 2.5];
  return Math.min(table[length] ?? Number.POSITIVE_INFINITY, (1 - minSimilarity) * length);
}

/**
 * How well a question word occurs in a text, 0..1: the similarity of its best approximate
 * match anywhere in the text (1 - cost / length, see `_align.ts`), across spaces and
 * punctuation, when within what a word that long may cost; or, for a whole OCR word of 3+
 * letters that begins or ends it (an abbreviation, a word cut at the tile's edge),
 * 0.5 + 0.5 x its share of the word; else 0. Numbers match only whole
 * and exactly (up to look-alike letters), Chinese/Japanese/Korean pairs only exactly.
 *
 * @example
 * ```ts
 * wordSimilarity('minutes', 'MINVTES');     // ~0.96: U read as V (look-alikes)
 * wordSimilarity('waittime', 'WTTIPE', 0.7); // ~0.6: two letters lost, one misread
 * wordSimilarity('25', 'WAIT 2025');        // 0: not a whole number
 * ```
 */
export function wordSimilarity(word: string, text: string, confidence = 1, minSimilarity = 0.6): number {
  const w = normalizeText(word);
  return matchIn(w, prepareText(text, confidence), foldChars(text), confidence, minSimilarity)?.similarity ?? 0;
}

interface Found {
  readonly similarity: number;
  readonly start: number;
  readonly end: number;
  readonly via: 'word' | 'number';
}

const NUMBERISH = /^\p{N}[\p{N}.,:]*$/u;

function matchIn(word: string, text: AlignText, folded: string, confidence: number, minSimilarity: number): Found | undefined {
  if (NUMBERISH.test(word)) {
    const digits = word.replace(/[.,:]/g, '');
    const a = alignNumber(digits, text);
    return a.cost <= allowedCost(Math.min(digits.length, 3), minSimilarity)
      ? { similarity: a.similarity, start: a.start, end: a.end, via: 'number' }
      : undefined;
  }
  if (!isWordy(word)) {
    // CJK pairs (and anything else unusual): exact occurrence only.
    return folded.includes(word) ? { similarity: 1 - 0.3 * (1 - confidence), start: 0, end: text.chars.length, via: 'word' } : undefined;
  }
  const a = alignWord(word, text);
  const aligned: Found | undefined =
    a.cost <= allowedCost([...word].length, minSimilarity) ? { similarity: a.similarity, start: a.start, end: a.end, via: 'word' } : undefined;
  const cut = truncated(word, text);
  return cut && cut.similarity > (aligned?.similarity ?? 0) ? cut : aligned;
}

/**
 * A whole OCR word of 3+ characters that begins or ends the question word: an abbreviation
 * ("MIN" for minutes) or a word cut by the tile's edge ("BRU" for brute). Similarity
 * 0.5 + 0.5 x its share of the word, less a little where the recogniser was unsure.
 */
function truncated(word: string, text: AlignText): Found | undefined {
  const q = [...word];
  const t = text.chars;
  let best: Found | undefined;
  for (let s = 0; s < t.length; s++) {
    if (!t[s]!.wordStart) continue;
    let e = s + 1;
    while (e < t.length && !t[e]!.wordStart) e++;
    const n = e - s;
    if (n < 3 || n >= q.length) continue;
    const piece = t
      .slice(s, e)
      .map((c) => c.char)
      .join('');
    if (!word.startsWith(piece) && !word.endsWith(piece)) continue;
    const unsure = t.slice(s, e).reduce((sum, c) => sum + (1 - c.p), 0) / n;
    const similarity = (0.5 + (0.5 * n) / q.length) * (1 - 0.3 * unsure);
    if (!best || similarity > best.similarity) best = { similarity, start: s, end: e, via: 'word' };
  }
  return best;
}

interface PreparedLine {
  readonly line: TextLine;
  readonly text: AlignText;
  readonly folded: string;
}

/** The OCR text of a matched span, as read. */
function spanText(p: PreparedLine, start: number, end: number): string {
  const chars = p.text.chars;
  if (start >= end || chars.length === 0) return p.line.text.trim();
  const units = [...p.line.text];
  return units
    .slice(chars[start]!.source, chars[end - 1]!.source + 1)
    .join('')
    .trim();
}

function spanConfidence(p: PreparedLine, start: number, end: number): number {
  const span = p.text.chars.slice(start, end);
  return span.length === 0 ? p.line.confidence : span.reduce((n, c) => n + c.p, 0) / span.length;
}

const UNIT_WORDS = ['minutes', 'minute', 'hours', 'seconds'];
/** A unit word read on its own ("MINVTES") counts from this similarity: in a long line, a 40 % miss is found anywhere. */
const UNIT_SIMILARITY = 0.75;

/** Evidence in one line of the kinds of answer asked for. */
function typeEvidence(expects: readonly AnswerType[], p: PreparedLine, line: number, minSimilarity: number): TypeMatch[] {
  const out: TypeMatch[] = [];
  const raw = p.line.text;
  const t = normalizeText(raw);
  const hit = (type: AnswerType, strength: number, token: string) => out.push({ type, strength, token: token.trim(), line });
  for (const type of expects) {
    if (type === 'time') {
      const clock = /\d{1,2}\s*[:.h]\s*\d{2}|\d{1,2}\s*(?:am|pm|a\.m|p\.m)\b/.exec(t);
      const withUnit = /\d+\s*(?:min|mins|minutes?|hrs?|hours?|sec|secs|seconds?)(?![a-z])/.exec(t);
      const days = /\b(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day)?s?\b|\b\d{1,2}\s*-\s*\d{1,2}\b/.exec(t);
      if (clock || withUnit) hit(type, 1, (clock ?? withUnit)![0]);
      else {
        let best = 0;
        let span = '';
        for (const unit of UNIT_WORDS) {
          const a = alignWord(unit, p.text);
          if (a.cost <= allowedCost(unit.length, minSimilarity) && a.similarity >= UNIT_SIMILARITY && a.similarity > best) {
            best = a.similarity;
            span = spanText(p, a.start, a.end);
          }
        }
        if (/\b(?:min|mins|hrs?)\b/.test(t) && best < 0.9) {
          best = 0.9;
          span = /\b(?:min|mins|hrs?)\b/.exec(t)![0];
        }
        if (best > 0) hit(type, 0.6 * best, span);
        else if (days) hit(type, 0.6, days[0]);
      }
    } else if (type === 'price') {
      const money = /[$€£¥]\s*\d|\d\s*[$€£¥]/.exec(raw);
      const decimal = /\b\d+[.,]\d{2}\b/.exec(t);
      if (money) hit(type, 1, money[0]);
      else if (decimal) hit(type, 0.7, decimal[0]);
    } else {
      const number = /\d+/.exec(t);
      if (number) hit(type, 0.8, number[0]);
    }
  }
  return out;
}

/** Weight of the answer-type evidence, in question words. */
const TYPE_WEIGHT = 0.5;

/**
 * Scores one tile's text against the question: each content word takes its best match over
 * the tile's lines (`wordSimilarity`; a pair of adjacent words may match run together, and
 * then both take that phrase's similarity when it is higher); the relevance is the mean over
 * the words, with the best evidence of the kind of answer asked for counting as half a word;
 * the score adds `densityWeight * min(1, chars / densityChars)`, a tie-breaker. A tile with no
 * text scores exactly 0; with no content words, only the density counts.
 *
 * @example
 * ```ts
 * const terms = queryTerms(['What is the wait time?'], 32, 4000);
 * const r = scoreTileText(terms, [{ text: 'WTTIPE', confidence: 0.64 }, { text: 'MINVTES', confidence: 0.7 }],
 *   { minSimilarity: 0.6, densityWeight: 0.01, densityChars: 200 });
 * // r.matches: wait and time in "WTTIPE" (as the phrase "wait time"); r.types: "MINVTES", a time unit
 * ```
 */
export function scoreTileText(terms: QueryTerms | readonly string[], lines: readonly TextLine[], options: MatchOptions): TileTextScore {
  const query: QueryTerms = Array.isArray(terms) ? { words: terms as readonly string[], phrases: [], expects: [], truncated: false } : (terms as QueryTerms);
  let chars = 0;
  const prepared: PreparedLine[] = [];
  for (const line of lines) {
    chars += line.text.replace(/\s+/g, '').length;
    prepared.push({ line, text: prepareText(line.text, line.confidence, line.chars, line.droppedAfter), folded: foldChars(line.text) });
  }
  if (chars === 0) return { score: 0, relevance: 0, density: 0, chars: 0, matches: [], types: [] };
  const density = options.densityWeight * Math.min(1, chars / options.densityChars);

  const best: (WordMatch | undefined)[] = query.words.map((word) => {
    let found: WordMatch | undefined;
    prepared.forEach((p, i) => {
      const f = matchIn(word, p.text, p.folded, p.line.confidence, options.minSimilarity);
      if (f && (!found || f.similarity > found.similarity)) {
        found = { word, token: spanText(p, f.start, f.end), similarity: f.similarity, confidence: spanConfidence(p, f.start, f.end), line: i, via: f.via };
      }
    });
    return found;
  });
  for (const [a, b] of query.phrases) {
    const wa = query.words[a]!;
    const wb = query.words[b]!;
    const phrase = wa + wb;
    prepared.forEach((p, i) => {
      const al = alignWord(phrase, p.text);
      if (al.cost > allowedCost([...phrase].length, options.minSimilarity)) return;
      for (const [k, word] of [
        [a, wa],
        [b, wb],
      ] as const) {
        if ((best[k]?.similarity ?? 0) >= al.similarity) continue;
        best[k] = {
          word,
          token: spanText(p, al.start, al.end),
          similarity: al.similarity,
          confidence: spanConfidence(p, al.start, al.end),
          line: i,
          via: 'phrase',
          phrase: `${wa} ${wb}`,
        };
      }
    });
  }
  const types: TypeMatch[] = [];
  for (const type of query.expects) {
    let top: TypeMatch | undefined;
    prepared.forEach((p, i) => {
      for (const m of typeEvidence([type], p, i, options.minSimilarity)) if (!top || m.strength > top.strength) top = m;
    });
    if (top) types.push(top);
  }
  const matches = best.filter((m): m is WordMatch => m !== undefined);
  const wordSum = matches.reduce((n, m) => n + m.similarity, 0);
  const typeScore = types.reduce((n, t) => Math.max(n, t.strength), 0);
  const denominator = query.words.length + (query.expects.length > 0 ? TYPE_WEIGHT : 0);
  const relevance = denominator === 0 ? 0 : (wordSum + TYPE_WEIGHT * typeScore) / denominator;
  return { score: relevance + density, relevance, density, chars, matches, types };
}
