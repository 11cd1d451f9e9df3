import type { Box, ImageInput, Size } from './_image.js';
import type { PromptImage } from './_runner.js';
import type { RelevanceScorer, ScoreOptions, ScoreQuery, TileScores } from './_scorer.js';
import type { Selection } from './_selection.js';
import type { TileSource } from './_tiles.js';

/** What a prompt shows the VLM: the overview or not, then regions of the image in order. */
export interface PromptPlan {
  readonly overview: boolean;
  readonly regions: readonly PlannedRegion[];
}

/** One region of a prompt: its box, and for reports the tiles it covers and their best score. */
export interface PlannedRegion {
  readonly box: Box;
  readonly tiles?: readonly number[];
  readonly score?: number;
}

/**
 * How prompt images are shaped before they are encoded for the VLM: `pad-square` pads each
 * image (overview and crops) to a square of `colour` (RGB 0-255), as LLaVA-1.5's own
 * evaluation does with its image processor's mean colour; `none` sends them as cut.
 */
export type ImagePadding = { readonly mode: 'none' } | { readonly mode: 'pad-square'; readonly colour: readonly [number, number, number] };

/**
 * The SemClip flow's stages as one object (`createPipeline` in `@semclip/pipeline` makes one),
 * so that a run over many items (`@semclip/eval`'s engine, the trainer's labeller) can use the
 * flow without depending on the image and model packages: it is handed the stages.
 */
export interface PipelineStages {
  /** The scorer the pipeline opened; `undefined` when it has none (baseline-only runs). */
  readonly scorerId: string | undefined;
  /** The scorer, opened on first call; INVALID_ARGUMENT when the pipeline has none. */
  scorer(): Promise<RelevanceScorer>;
  /** How prompt images are encoded (answers depend on it, so long runs record it). */
  readonly imageFormat: { readonly format: 'jpeg' | 'png' | 'webp'; readonly quality: number; readonly maxSide: number };
  /** How prompt images are padded before encoding (answers depend on it, so long runs record it); absent means none. */
  readonly padding?: ImagePadding;
  /** Reads and tiles an image, and proves its pixel data decodes (a damaged file fails here). */
  open(image: ImageInput, options?: { readonly signal?: AbortSignal }): Promise<TileSource>;
  /** Scores every tile against the question; INVALID_ARGUMENT when the pipeline has no scorer. */
  score(query: ScoreQuery, source: TileSource, options?: ScoreOptions): Promise<TileScores>;
  /** The regions to send, under the pipeline's selection options and the model's token costs. */
  select(scores: TileScores, source: TileSource): Selection;
  /** The images of a plan, encoded as the model family gets them (each box encoded once per source). */
  promptImages(source: TileSource, plan: PromptPlan, options?: { readonly signal?: AbortSignal }): Promise<PromptImage[]>;
  /** Visual tokens the VLM spends on images of these sizes (the model family's formula). */
  visualTokens(images: readonly Size[]): number;
}
