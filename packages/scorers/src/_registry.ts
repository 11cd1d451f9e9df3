import { SemclipError } from '@semclip/core';
import type { RelevanceScorer } from '@semclip/core';
import type { Device, Warn } from '@semclip/runtime';

/** Options every scorer understands; families ignore what does not apply to them. */
export interface ScorerOptions {
  /** `cpu`, `cuda` (fails clearly without the CUDA provider) or `auto` (default: CUDA if installed, else CPU, said once). */
  readonly device?: Device;
  /** Model manifest id for model-backed scorers; each family has a default. */
  readonly model?: string;
  /** Seed for the random scorer. */
  readonly seed?: number;
  /** Model cache directory (default: SEMCLIP_CACHE_DIR or the user cache). */
  readonly cacheDir?: string;
  /** Never touch the network (also SEMCLIP_OFFLINE=1). */
  readonly offline?: boolean;
  /** Receives one-line notices (device fallback, truncated questions). Default: process.emitWarning. */
  readonly warn?: Warn;
  /** Family-specific options pass through untouched. */
  readonly [option: string]: unknown;
}

export interface ScorerEntry {
  readonly id: string;
  readonly description: string;
  /** True when the scorer needs a model download (`semclip models pull`) before use. */
  readonly needsDownload: boolean;
  readonly defaultModel?: string;
  create(options: ScorerOptions): Promise<RelevanceScorer>;
}

/**
 * The one table of scorer families. Each entry imports its family lazily, so creating a
 * `random` scorer never loads ONNX Runtime, and `clip` never loads the OCR engine.
 */
export const SCORERS = {
  random: {
    id: 'random',
    description: 'Seeded uniform random scores (the random sub-image ablation).',
    needsDownload: false,
    async create(options) {
      const { createRandomScorer } = await import('./random/index.js');
      return createRandomScorer(options.seed === undefined ? {} : { seed: options.seed });
    },
  },
  ocr: {
    id: 'ocr',
    description: 'Text read in each tile by PaddleOCR (PP-OCRv4, bundled), matched against the question words. Offline default.',
    needsDownload: false,
    async create(options) {
      const { createOcrScorer } = await import('./ocr/index.js');
      // Family options (maxSide, models, fuzzyThreshold...) pass through; `model`, `seed`, `cacheDir` do not apply.
      return createOcrScorer(options as import('./ocr/index.js').OcrScorerOptions);
    },
  },
  clip: {
    id: 'clip',
    description: 'Cosine similarity of each tile to the question in OpenAI CLIP (ViT-B/32 by default; clip-vit-large-patch14 is the paper backbone).',
    needsDownload: true,
    defaultModel: 'clip-vit-base-patch32',
    async create(options) {
      const { createClipScorer } = await import('./clip/index.js');
      // Family options (modelPath, dtype, template, choices, autoPull, hub...) pass through.
      return createClipScorer(options as import('./clip/index.js').ClipScorerOptions);
    },
  },
  siglip: {
    id: 'siglip',
    description: 'SigLIP pair probability sigmoid(scale * cosine + bias) of each tile and the question (base patch16 224).',
    needsDownload: true,
    defaultModel: 'siglip-base-patch16-224',
    async create(options) {
      const { createSiglipScorer } = await import('./siglip/index.js');
      return createSiglipScorer(options as import('./siglip/index.js').SiglipScorerOptions);
    },
  },
  distant: {
    id: 'distant',
    description:
      'A relevance head trained by distant supervision (semclip label + semclip train) over frozen CLIP/SigLIP embeddings; --model names the trained head.',
    needsDownload: true,
    async create(options) {
      const { createDistantScorer } = await import('./distant/index.js');
      // `model` names the head (a folder under <cache>/heads or a path); modelPath swaps the base towers.
      return createDistantScorer(options as import('./distant/index.js').DistantScorerOptions);
    },
  },
} as const satisfies Record<string, ScorerEntry>;

export type ScorerId = keyof typeof SCORERS;

/** Every registered scorer, in table order. */
export function listScorers(): readonly ScorerEntry[] {
  return Object.values(SCORERS);
}

/** Looks a scorer up by id; UNKNOWN_SCORER lists the valid ids. */
export function getScorerEntry(id: string): ScorerEntry {
  const entry = (SCORERS as Record<string, ScorerEntry>)[id];
  if (!entry || !Object.hasOwn(SCORERS, id)) {
    throw new SemclipError('UNKNOWN_SCORER', `There is no scorer called "${id}".`, {
      expected: `one of ${Object.keys(SCORERS).join(', ')}`,
      details: { valid: Object.keys(SCORERS) },
    });
  }
  return entry;
}

/**
 * Creates a scorer by id.
 *
 * @example
 * ```ts
 * import { createScorer } from '@semclip/scorers';
 * import { tileImage } from '@semclip/tiling';
 *
 * const scorer = await createScorer('random', { seed: 1 });
 * const tiled = await tileImage('photo.jpg', { grid: '2x2' });
 * const { scores } = await scorer.score({ question: 'What does the sign say?' }, tiled);
 * await scorer.dispose();
 * ```
 */
export async function createScorer(id: string, options: ScorerOptions = {}): Promise<RelevanceScorer> {
  return getScorerEntry(id).create(options);
}
