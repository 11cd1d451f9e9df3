import { SemclipError } from '@semclip/core';

/** Visual tokens LLaVA-1.5 spends on one 336x336 image (24x24 patches). */
export const DEFAULT_TOKENS_PER_IMAGE = 576;
/** Adaptive mode: keep tiles scoring within this much of the best one. */
export const DEFAULT_MARGIN = 0.1;
/** Adaptive mode: never keep a tile scoring below this. */
export const DEFAULT_THRESHOLD = 0;

/** Options shared by both strategies. */
export interface CommonSelectOptions {
  /**
   * Visual-token budget for the whole prompt (overview + regions). `null`/omitted = no
   * budget. Each image costs `tokensPerImage`; the number of regions is capped to what fits.
   */
  readonly budget?: number | null;
  /** What one region costs the VLM (the runner's `visualTokensPerImage`). Default 576. */
  readonly tokensPerImage?: number;
  /**
   * What the overview costs, where the model's cost depends on the image size (Qwen2-VL,
   * LLaVA-NeXT: `@semclip/pipeline` fills it in). Default `tokensPerImage`.
   */
  readonly overviewTokens?: number;
  /** Send the overview (the whole image downscaled) first. Default `true`. */
  readonly includeOverview?: boolean;
  /**
   * Merge selected tiles that form a full rectangle of 4-connected tiles of the same level
   * into one crop (one image instead of several). Default `false`. See the README for the rule.
   */
  readonly merge?: boolean;
  /**
   * Which tiles compete: a grid level (default 1, the grid itself), or `'any'` to rank tiles
   * of every level together, skipping a tile whose ancestor or descendant is already selected.
   */
  readonly level?: number | 'any';
}

/** Keep the `k` best tiles (default 1: the SemClip setting). */
export interface TopKSelectOptions extends CommonSelectOptions {
  readonly mode?: 'top-k';
  /** Tiles to keep; 0 = overview only; more than there are tiles = all of them. Default 1. */
  readonly k?: number;
}

/**
 * Keep every tile whose score is at least `best - margin` and at least `threshold`, best
 * first, up to `maxTiles`. No tile passing = overview only.
 */
export interface AdaptiveSelectOptions extends CommonSelectOptions {
  readonly mode: 'adaptive';
  /** In score units; default 0.1. */
  readonly margin?: number;
  /** In score units; default 0. */
  readonly threshold?: number;
  /** Cap on tiles kept; default every tile of the level. */
  readonly maxTiles?: number;
}

export type SelectOptions = TopKSelectOptions | AdaptiveSelectOptions;

/** Options with every default filled in. */
export interface ResolvedSelectOptions {
  readonly mode: 'top-k' | 'adaptive';
  readonly k: number;
  readonly margin: number;
  readonly threshold: number;
  readonly maxTiles: number | null;
  readonly budget: number | null;
  readonly tokensPerImage: number;
  readonly overviewTokens: number;
  readonly includeOverview: boolean;
  readonly merge: boolean;
  readonly level: number | 'any';
}

function invalid(message: string, expected: string, hint?: string): SemclipError {
  return new SemclipError('INVALID_ARGUMENT', message, hint === undefined ? { expected } : { expected, hint });
}

function checkInteger(name: string, value: unknown, min: number, expected: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalid(`${name} must be an integer of at least ${min}, got ${JSON.stringify(value) ?? String(value)}.`, expected);
  }
  return value;
}

function checkFinite(name: string, value: unknown, expected: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalid(`${name} must be a finite number, got ${JSON.stringify(value) ?? String(value)}.`, expected);
  }
  return value;
}

/** Validates options and fills defaults. Throws `INVALID_ARGUMENT` naming the bad option. */
export function resolveSelectOptions(options: SelectOptions = {}): ResolvedSelectOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalid('Selection options must be an object.', 'something like { k: 1 } or { mode: "adaptive", margin: 0.1 }');
  }
  const mode = options.mode ?? 'top-k';
  if (mode !== 'top-k' && mode !== 'adaptive') {
    throw invalid(`Unknown selection mode ${JSON.stringify(mode)}.`, '"top-k" or "adaptive"');
  }
  const o = options as Partial<TopKSelectOptions & Omit<AdaptiveSelectOptions, 'mode'>>;
  if (mode === 'adaptive' && o.k !== undefined) {
    throw invalid(
      'k applies to top-k selection only; adaptive mode decides the count itself.',
      'either k (top-k) or margin/threshold/maxTiles (adaptive)',
      'Use maxTiles to cap adaptive selection',
    );
  }
  if (mode === 'top-k' && (o.margin !== undefined || o.threshold !== undefined || o.maxTiles !== undefined)) {
    throw invalid(
      'margin, threshold and maxTiles apply to adaptive selection only.',
      'mode: "adaptive" together with margin/threshold/maxTiles',
      'Add mode: "adaptive" (CLI: --adaptive)',
    );
  }
  const k = o.k === undefined ? 1 : checkInteger('k', o.k, 0, 'a whole number of tiles, like 1 or 2 (0 = overview only)');
  const margin = o.margin === undefined ? DEFAULT_MARGIN : checkFinite('margin', o.margin, 'a non-negative number in score units, like 0.1');
  if (margin < 0) throw invalid(`margin must not be negative, got ${margin}.`, 'a non-negative number in score units, like 0.1');
  const threshold = o.threshold === undefined ? DEFAULT_THRESHOLD : checkFinite('threshold', o.threshold, 'a number in score units, like 0.2');
  const maxTiles = o.maxTiles === undefined ? null : checkInteger('maxTiles', o.maxTiles, 0, 'a whole number of tiles, like 3');
  const tokensPerImage =
    options.tokensPerImage === undefined
      ? DEFAULT_TOKENS_PER_IMAGE
      : checkInteger('tokensPerImage', options.tokensPerImage, 1, "the runner's visual tokens per image, like 576");
  const overviewTokens =
    options.overviewTokens === undefined
      ? tokensPerImage
      : checkInteger('overviewTokens', options.overviewTokens, 1, 'what the overview costs in visual tokens, like 576');
  const budget =
    options.budget === undefined || options.budget === null ? null : checkInteger('budget', options.budget, 0, 'a whole number of visual tokens, like 1152');
  const includeOverview = options.includeOverview ?? true;
  if (typeof includeOverview !== 'boolean') throw invalid('includeOverview must be true or false.', 'a boolean');
  const merge = options.merge ?? false;
  if (typeof merge !== 'boolean') throw invalid('merge must be true or false.', 'a boolean');
  const level = options.level ?? 1;
  if (level !== 'any') checkInteger('level', level, 1, 'a grid level like 1 or 2, or "any"');
  if (!includeOverview && mode === 'top-k' && k === 0) {
    throw invalid('k is 0 and the overview is excluded, so the VLM would see no image at all.', 'k of at least 1 when includeOverview is false');
  }
  if (!includeOverview && mode === 'adaptive' && maxTiles === 0) {
    throw invalid('maxTiles is 0 and the overview is excluded, so the VLM would see no image at all.', 'maxTiles of at least 1 when includeOverview is false');
  }
  if (budget !== null) {
    const minimum = includeOverview ? overviewTokens : tokensPerImage;
    if (budget < minimum) {
      throw new SemclipError(
        'BUDGET_EXCEEDED',
        includeOverview
          ? `A budget of ${budget} visual tokens cannot pay even for the overview, which costs ${overviewTokens}.`
          : `A budget of ${budget} visual tokens cannot pay for a single region, which costs ${tokensPerImage}.`,
        {
          expected: `a budget of at least ${minimum} tokens (${tokensPerImage} per region${includeOverview && overviewTokens !== tokensPerImage ? `, ${overviewTokens} for the overview` : ''})`,
          hint: `Raise the budget to ${(includeOverview ? overviewTokens : 0) + tokensPerImage} for ${includeOverview ? 'the overview plus ' : ''}one region`,
          details: { budget, tokensPerImage, overviewTokens, minimum },
        },
      );
    }
  }
  return { mode, k, margin, threshold, maxTiles, budget, tokensPerImage, overviewTokens, includeOverview, merge, level };
}

/**
 * Checks selection options once, up front (e.g. when a CLI or server parses them), and
 * returns them unchanged with their literal type. `select()` validates again, so using
 * this is optional.
 *
 * @example
 * ```ts
 * import { defineSelectOptions, select } from '@semclip/selector';
 *
 * const adaptive = defineSelectOptions({ mode: 'adaptive', margin: 0.05, threshold: 0.2, budget: 2304 });
 * const selection = select(scores, grid, adaptive);
 * ```
 */
export function defineSelectOptions<const T extends SelectOptions>(options: T): T {
  resolveSelectOptions(options);
  return options;
}
