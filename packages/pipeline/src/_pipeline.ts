import { SemclipError, throwIfAborted } from '@semclip/core';
import type {
  GridSpec,
  ImageInput,
  ImagePadding,
  PipelineStages,
  PromptImage,
  PromptPlan,
  RelevanceScorer,
  ScoreOptions,
  ScoreQuery,
  Selection,
  TileScores,
  TileSource,
  VlmRunner,
} from '@semclip/core';
import { DEFAULT_MARGIN, DEFAULT_THRESHOLD, defineSelectOptions, select as selectTiles } from '@semclip/selector';
import type { SelectOptions } from '@semclip/selector';
import { parseGrid, renderOverlay, tileImage } from '@semclip/tiling';
import type { ImageLimits, TiledImage } from '@semclip/tiling';
import { askWithSelection, buildPromptImages, resolveImageFormat, sentSize } from './_ask.js';
import type { AskMode, AskResult, ImageFormat, SentImage } from './_ask.js';
import { CLIP_MEAN_COLOUR, imagePolicyFor, paddingFor } from './_policy.js';
import type { ImagePolicy, ImagePolicyOptions, PaddingChoice } from './_policy.js';
import { checkScorerOptions, defaultScorerId, openScorer } from './_registry.js';
import type { CommonScorerOptions } from './_registry.js';

/** Stages a pipeline reports as it goes, for progress bars and logs. */
export type PipelineStage = 'open' | 'score' | 'select' | 'encode' | 'ask' | 'overlay';

export interface PipelineOptions {
  /**
   * The relevance scorer: an id from the registry (opened on first use, disposed with the
   * pipeline), a scorer object (the caller keeps and disposes it), or `false` for none
   * (baseline-only work). Default `defaultScorerId()` (`ocr`).
   */
  readonly scorer?: string | RelevanceScorer | false;
  /** Options for a scorer opened by id (checked when the pipeline is created). */
  readonly scorerOptions?: CommonScorerOptions & Readonly<Record<string, unknown>>;
  /** `RxC` or `auto`. Default `2x2`. */
  readonly grid?: string | GridSpec;
  /** Overlap between neighbouring tiles as a fraction of the tile (0 to 0.5). Default 0. */
  readonly overlap?: number;
  /** 2 adds a second level (each tile split again). Default 1. */
  readonly levels?: 1 | 2;
  /** Refuse images over these sizes before any pixel is decoded; `svg` sets how SVG input is treated (allowed, filters, render time). */
  readonly limits?: ImageLimits;
  /** Top-k (default k = 1) or adaptive selection, budget, merging. */
  readonly select?: SelectOptions;
  /** The VLM that answers: its model id picks the image policy, its `visualTokensPerImage` is the `fixed` fallback. */
  readonly runner?: Pick<VlmRunner, 'model' | 'visualTokensPerImage'>;
  /** The model family's token costs: a policy, or options for `imagePolicyFor` (family override...). */
  readonly policy?: ImagePolicy | ImagePolicyOptions;
  /**
   * Padding of every image sent (overview and crops): `auto` (default) as the model family's
   * own evaluation does (LLaVA-1.5: a square of the processor mean; others: none), `square`,
   * or `none`. Overrides the policy's.
   */
  readonly padding?: PaddingChoice;
  /** How prompt images are encoded. Default JPEG, quality 90, long side 1024. */
  readonly imageFormat?: ImageFormat;
  /**
   * When to prove the image decodes: `open` (default; a damaged file fails before any model
   * loads) or `score` (after scoring, and only if the scorer decoded nothing: saves a decode
   * for servers whose scorers read pixels anyway).
   */
  readonly check?: 'open' | 'score';
  readonly onStage?: (stage: PipelineStage, detail: string) => void;
}

/** Milliseconds per stage of one `run` (the scorer's own stages are in `scores.timings`). */
export interface PipelineTimings {
  open: number;
  score: number;
  select: number;
  total: number;
}

/** What `run` found: the tiled image, every tile's score and the selection. */
export interface PipelineRun {
  readonly source: TiledImage;
  readonly question: string;
  readonly scores: TileScores;
  readonly selection: Selection;
  readonly timings: PipelineTimings;
}

export interface RunInput {
  readonly image: ImageInput;
  readonly question: string;
  readonly options?: readonly string[];
  readonly signal?: AbortSignal;
}

export interface PipelineAskInput {
  readonly runner: VlmRunner;
  /** A finished `run` (its selection is sent in `semclip` mode), or just an opened image for `baseline` / `all-tiles`. */
  readonly from: PipelineRun | { readonly source: TiledImage };
  readonly question: string;
  readonly options?: readonly string[];
  readonly instruction?: string;
  readonly maxTokens?: number;
  /** Default `semclip`. */
  readonly mode?: AskMode;
  /** Exactly what to send, instead of what the mode and the run's selection say. */
  readonly plan?: PromptPlan;
  readonly signal?: AbortSignal;
}

/** What an overlay is drawn from: a run, or an opened image with optional scores and selection. */
export interface OverlayInput {
  readonly source: TiledImage;
  readonly scores?: TileScores;
  readonly selection?: Selection;
  readonly question?: string;
}

/** The SemClip flow, configured once: satisfies `PipelineStages` from `@semclip/core`. */
export interface Pipeline extends PipelineStages {
  readonly policy: ImagePolicy;
  /** The padding every prompt image gets (the policy's, after `padding`). */
  readonly padding: ImagePadding;
  readonly grid: string | GridSpec;
  readonly imageFormat: Required<ImageFormat>;
  open(image: ImageInput, options?: { readonly signal?: AbortSignal }): Promise<TiledImage>;
  /** The images of a plan with what was sent (size, bytes, tokens). */
  buildImages(source: TileSource, plan: PromptPlan, options?: { readonly signal?: AbortSignal }): Promise<{ images: PromptImage[]; sent: SentImage[] }>;
  /** open -> score -> select, each stage timed. */
  run(input: RunInput): Promise<PipelineRun>;
  /** Builds the prompt images for the mode and asks the VLM; visual tokens by the model family. */
  ask(input: PipelineAskInput): Promise<AskResult>;
  /** Visual tokens a plan would cost, from the sizes its images are sent at (nothing is encoded). */
  planTokens(source: Pick<TileSource, 'size'>, plan: PromptPlan): number;
  /** The heat-map overlay (scores, selected tiles, the question as title) of a run or an opened image, as PNG bytes. */
  overlay(input: PipelineRun | OverlayInput, options?: { readonly maxSide?: number; readonly title?: string }): Promise<Uint8Array>;
  /** Releases the scorer if the pipeline opened it. */
  dispose(): Promise<void>;
}

function isScorer(value: unknown): value is RelevanceScorer {
  return (
    typeof value === 'object' && value !== null && typeof (value as RelevanceScorer).score === 'function' && typeof (value as RelevanceScorer).id === 'string'
  );
}

function isPolicy(value: unknown): value is ImagePolicy {
  return typeof value === 'object' && value !== null && typeof (value as ImagePolicy).tokensFor === 'function';
}

/** Selection options with every default filled in, as plain JSON (for results headers and reports). */
export type SelectionSetup =
  | {
      readonly mode: 'top-k';
      readonly k: number;
      readonly includeOverview: boolean;
      readonly merge: boolean;
      readonly level: number | 'any';
      readonly budget: number | null;
    }
  | {
      readonly mode: 'adaptive';
      readonly margin: number;
      readonly threshold: number;
      readonly maxTiles: number | null;
      readonly includeOverview: boolean;
      readonly merge: boolean;
      readonly level: number | 'any';
      readonly budget: number | null;
    };

/**
 * Checks selection options and fills in their defaults, so that `{ k: 1 }` and `{}` describe the
 * same selection (a resumed run compares these).
 *
 * @example
 * ```ts
 * describeSelectOptions({}); // { mode: 'top-k', k: 1, includeOverview: true, merge: false, level: 1, budget: null }
 * ```
 */
export function describeSelectOptions(options: SelectOptions = {}): SelectionSetup {
  defineSelectOptions(options);
  const common = {
    includeOverview: options.includeOverview !== false,
    merge: options.merge === true,
    level: options.level ?? 1,
    budget: options.budget ?? null,
  };
  if (options.mode === 'adaptive') {
    return {
      mode: 'adaptive',
      margin: options.margin ?? DEFAULT_MARGIN,
      threshold: options.threshold ?? DEFAULT_THRESHOLD,
      maxTiles: options.maxTiles ?? null,
      ...common,
    };
  }
  return { mode: 'top-k', k: options.k ?? 1, ...common };
}

/**
 * Configures the SemClip flow once: the scorer (from the one registry), the grid, the
 * selection, the VLM's image policy and the image encoding. Every option is checked here,
 * before an image is read or a model loads. Commands, server routes, the eval engine and the
 * labeller all go through a pipeline rather than composing the steps themselves.
 *
 * @example
 * ```ts
 * import { createPipeline } from '@semclip/pipeline';
 * import { createRunner } from '@semclip/vlm-runner';
 *
 * const runner = await createRunner('openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf');
 * const pipeline = createPipeline({ scorer: 'clip', grid: '3x3', select: { k: 1 }, runner });
 * const run = await pipeline.run({ image: 'photo.jpg', question: 'What is the wait time?' });
 * console.log(run.selection.reason);
 * const answer = await pipeline.ask({ runner, from: run, question: 'What is the wait time?' });
 * if (answer.kind === 'answer') console.log(answer.text, answer.visualTokens); // ... 1152
 * await pipeline.dispose();
 * ```
 */
export function createPipeline(options: PipelineOptions = {}): Pipeline {
  const grid = options.grid ?? '2x2';
  // Everything a caller can get wrong fails here, before any image or model work.
  parseGrid(grid);
  const selectOptions = defineSelectOptions(options.select ?? {});
  const imageFormat = resolveImageFormat(options.imageFormat);
  const check = options.check ?? 'open';
  if (check !== 'open' && check !== 'score') {
    throw new SemclipError('INVALID_ARGUMENT', `check "${String(check)}" is not known.`, { expected: '"open" or "score"' });
  }
  const basePolicy = isPolicy(options.policy)
    ? options.policy
    : imagePolicyFor(options.runner?.model, {
        ...(options.runner ? { tokensPerImage: options.runner.visualTokensPerImage } : {}),
        ...(options.policy ?? {}),
      });
  const padding: ImagePadding =
    options.padding === undefined
      ? (basePolicy.padding ?? { mode: 'none' })
      : paddingFor(
          basePolicy.family,
          options.padding,
          (isPolicy(options.policy) ? undefined : options.policy?.padColour) ??
            (basePolicy.padding?.mode === 'pad-square' ? basePolicy.padding.colour : CLIP_MEAN_COLOUR),
        );
  const policy: ImagePolicy =
    basePolicy.padding === padding
      ? basePolicy
      : { family: basePolicy.family, description: basePolicy.description, tokensFor: (w, h) => basePolicy.tokensFor(w, h), padding };
  const scorerChoice = options.scorer === undefined ? defaultScorerId() : options.scorer;
  let scorerId: string | undefined;
  let given: RelevanceScorer | undefined;
  if (typeof scorerChoice === 'string') {
    checkScorerOptions(scorerChoice, options.scorerOptions ?? {});
    scorerId = scorerChoice;
  } else if (scorerChoice !== false) {
    if (!isScorer(scorerChoice)) {
      throw new SemclipError('INVALID_ARGUMENT', 'The scorer is neither a registered id nor a RelevanceScorer.', {
        expected: 'an id like "ocr" or "clip", a scorer object with id and score(), or false',
      });
    }
    given = scorerChoice;
    scorerId = scorerChoice.id;
  }
  let opened: Promise<RelevanceScorer> | undefined;
  let disposed = false;
  const stage = (s: PipelineStage, detail: string) => options.onStage?.(s, detail);

  const getScorer = (): Promise<RelevanceScorer> => {
    if (disposed) return Promise.reject(new SemclipError('INVALID_ARGUMENT', 'The pipeline was disposed.', { hint: 'Create a new pipeline' }));
    if (given) return Promise.resolve(given);
    if (scorerId === undefined) {
      return Promise.reject(
        new SemclipError('INVALID_ARGUMENT', 'This pipeline has no scorer, so it cannot score tiles.', {
          hint: 'Create it with scorer: "ocr" (or another id)',
        }),
      );
    }
    if (!opened) {
      opened = openScorer(scorerId, options.scorerOptions ?? {});
      // A scorer that failed to open is not kept: the next call tries again.
      opened.catch(() => {
        opened = undefined;
      });
    }
    return opened;
  };

  const proveDecodes = async (tiled: TiledImage): Promise<void> => {
    const s = tiled.decodeStats;
    // Pixels decode lazily; a scorer that never reads them (random) would let a truncated
    // file through, so a tiny overview forces the decode when nothing has decoded yet.
    if (s.full + s.scaled + s.resized === 0) await tiled.overview({ width: 32, height: 32 });
  };

  const open = async (image: ImageInput, o: { readonly signal?: AbortSignal } = {}): Promise<TiledImage> => {
    throwIfAborted(o.signal);
    stage('open', 'reading image');
    const tiled = await tileImage(image, {
      grid,
      ...(options.overlap === undefined ? {} : { overlap: options.overlap }),
      ...(options.levels === undefined ? {} : { levels: options.levels }),
      ...(options.limits ?? {}),
      // Stops an SVG render in its tracks (other formats are bounded by the pixel limits).
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (check === 'open') await proveDecodes(tiled);
    throwIfAborted(o.signal);
    return tiled;
  };

  const score = async (query: ScoreQuery, source: TileSource, o: ScoreOptions = {}): Promise<TileScores> => {
    const scorer = await getScorer();
    stage('score', `scoring (${scorer.id}, ${source.grid.tiles.length} tiles)`);
    const scores = await scorer.score(query, source, o);
    throwIfAborted(o.signal);
    if (check === 'score' && 'decodeStats' in source) await proveDecodes(source as TiledImage);
    return scores;
  };

  const tokensPerTile = (source: TileSource): number => {
    const tile = source.grid.tiles.find((t) => t.level === 1) ?? source.grid.tiles[0];
    if (!tile) return policy.tokensFor(1, 1);
    const s = sentSize(tile.box.width, tile.box.height, imageFormat.maxSide, padding);
    return policy.tokensFor(s.width, s.height);
  };

  const select = (scores: TileScores, source: TileSource): Selection => {
    stage('select', 'selecting');
    // Budgets count what the model really spends on a tile of this grid (its family's formula).
    const overview = sentSize(source.size.width, source.size.height, imageFormat.maxSide, padding);
    return selectTiles(scores, source.grid, {
      ...selectOptions,
      tokensPerImage: options.select?.tokensPerImage ?? tokensPerTile(source),
      overviewTokens: options.select?.overviewTokens ?? options.select?.tokensPerImage ?? policy.tokensFor(overview.width, overview.height),
    });
  };

  const buildImages = (source: TileSource, plan: PromptPlan, o: { readonly signal?: AbortSignal } = {}) =>
    buildPromptImages(source, plan, { policy, imageFormat, ...(o.signal ? { signal: o.signal } : {}) });

  const pipeline: Pipeline = {
    policy,
    padding,
    grid,
    imageFormat,
    get scorerId() {
      return scorerId;
    },
    scorer: getScorer,
    open,
    score,
    select,
    buildImages,
    async promptImages(source, plan, o) {
      return (await buildImages(source, plan, o)).images;
    },
    visualTokens(images) {
      return images.reduce((sum, s) => sum + policy.tokensFor(s.width, s.height), 0);
    },
    planTokens(source, plan) {
      const boxes = [...(plan.overview ? [source.size] : []), ...plan.regions.map((r) => r.box)];
      return boxes.reduce((sum, b) => {
        const s = sentSize(b.width, b.height, imageFormat.maxSide, padding);
        return sum + policy.tokensFor(s.width, s.height);
      }, 0);
    },
    async run(input) {
      const t0 = performance.now();
      const source = await open(input.image, input.signal ? { signal: input.signal } : {});
      const t1 = performance.now();
      const scores = await score(
        { question: input.question, ...(input.options ? { options: input.options } : {}) },
        source,
        input.signal ? { signal: input.signal } : {},
      );
      const t2 = performance.now();
      const selection = select(scores, source);
      const t3 = performance.now();
      return { source, question: input.question, scores, selection, timings: { open: t1 - t0, score: t2 - t1, select: t3 - t2, total: t3 - t0 } };
    },
    async ask(input) {
      const mode = input.mode ?? 'semclip';
      stage('ask', `asking ${input.runner.model}`);
      return askWithSelection({
        runner: input.runner,
        source: input.from.source,
        ...('selection' in input.from ? { selection: input.from.selection } : {}),
        ...(input.plan ? { plan: input.plan } : {}),
        question: input.question,
        ...(input.options ? { options: input.options } : {}),
        ...(input.instruction === undefined ? {} : { instruction: input.instruction }),
        ...(input.maxTokens === undefined ? {} : { maxTokens: input.maxTokens }),
        mode,
        policy,
        imageFormat,
        ...(input.signal ? { signal: input.signal } : {}),
      });
    },
    async overlay(input, o = {}) {
      stage('overlay', 'drawing overlay');
      const scores = input.selection?.scores ?? input.scores?.scores;
      const selected = (input.selection?.regions ?? []).flatMap((r) => r.tiles);
      const title = o.title ?? input.question;
      return renderOverlay(input.source, { ...(scores ? { scores } : {}), selected, maxSide: o.maxSide ?? 1600, ...(title === undefined ? {} : { title }) });
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      const p = opened;
      opened = undefined;
      if (p) await (await p.catch(() => undefined))?.dispose();
    },
  };
  return pipeline;
}
