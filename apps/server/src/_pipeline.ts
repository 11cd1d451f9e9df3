import { throwIfAborted, SemclipError } from '@semclip/core';
import type { EncodedImage, PromptImage, PromptPlan, RelevanceScorer, Selection, TileScores, VlmRunner } from '@semclip/core';
import { createPipeline, imagePolicyFor, planFor } from '@semclip/pipeline';
import type { Pipeline, PipelineRun } from '@semclip/pipeline';
import { DEFAULT_AUTO_MAX_TILES, parseGrid, readImageInfo } from '@semclip/tiling';
import type { ImageInfo, TiledImage } from '@semclip/tiling';
import type { ResolvedServerConfig } from './_config.js';
import { responseTooLarge } from './_response.js';
import type { Metrics, Stage } from './_metrics.js';
import type { ModelPool } from './_models.js';
import { selectOptionsOf } from './_schemas.js';
import type { SelectionFields } from './_schemas.js';

/** What every route's SemClip work shares: the config, the models, the metrics, a signal and a timings record. */
export interface WorkContext {
  readonly config: ResolvedServerConfig;
  readonly pool: ModelPool;
  readonly metrics: Metrics;
  readonly signal: AbortSignal;
  readonly timings: Record<string, number>;
}

/** Times one stage into the request's timings and the stage histogram. */
export async function timed<T>(ctx: WorkContext, stage: Stage, fn: () => Promise<T> | T): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    const ms = performance.now() - started;
    ctx.timings[stage] = (ctx.timings[stage] ?? 0) + ms;
    ctx.metrics.stage(stage, ms);
  }
}

/** A trimmed, non-empty question within the length limit. */
export function checkQuestion(question: unknown, maxChars: number): string {
  const q = typeof question === 'string' ? question.trim() : '';
  if (!q) {
    throw new SemclipError('INVALID_QUESTION', 'The question is empty.', {
      expected: 'a question about the image, like "What is the wait time?"',
      details: { param: 'question' },
    });
  }
  if (q.length > maxChars) {
    throw new SemclipError('INVALID_QUESTION', `The question is ${q.length} characters long, over the ${maxChars}-character limit.`, {
      hint: 'Shorten it; the scorers read only its content words anyway',
      details: { param: 'question' },
    });
  }
  return q;
}

export interface SelectionRun {
  /** The request's pipeline: the server's defaults under the request's fields. */
  readonly pipeline: Pipeline;
  readonly tiled: TiledImage;
  readonly info: ImageInfo;
  readonly question: string;
  readonly scorer: string;
  readonly scores: TileScores | undefined;
  readonly selection: Selection | undefined;
  /** The scored run, as `pipeline.ask` and `pipeline.overlay` take it; undefined when tiles were not scored. */
  readonly run: PipelineRun | undefined;
}

export interface SelectionInput {
  readonly bytes: Uint8Array;
  readonly question: string;
  readonly options?: readonly string[] | undefined;
  readonly fields: SelectionFields;
  /**
   * The model the images go to, whose family counts the visual tokens (selection budgets, what
   * was sent). Default: the server's runner. The chat proxy passes the request's model.
   */
  readonly model?: string | undefined;
  /** Skip scoring and selection (baseline and all-tiles answers). */
  readonly scoreTiles?: boolean;
}

/** How the server encodes images for the VLM (and for returned crops). */
export function imageFormatOf(config: ResolvedServerConfig) {
  return { format: 'jpeg', quality: config.imageQuality, maxSide: config.imageMaxSide } as const;
}

/** Whose image policy counts tokens: the server's runner when it serves `model` (or no model is named), else the family the model id names. */
function tokenCounting(runner: VlmRunner | undefined, model: string | undefined) {
  if (runner && (model === undefined || model === runner.model)) return { runner };
  return model === undefined ? {} : { policy: imagePolicyFor(model) };
}

/**
 * One pipeline for one request: the pooled scorer, the server's grid, selection, limits and
 * encoding under the request's fields, and the VLM's model family for token accounting. Every
 * option is checked here, before the image is touched. Cheap: nothing is opened or loaded.
 */
export function requestPipeline(ctx: WorkContext, input: Pick<SelectionInput, 'fields' | 'model' | 'scoreTiles'>, scorer: RelevanceScorer): Pipeline {
  const { config, pool } = ctx;
  const { fields } = input;
  return createPipeline({
    scorer,
    grid: fields.grid ?? config.grid,
    ...(fields.overlap === undefined ? {} : { overlap: fields.overlap }),
    ...(fields.levels === undefined ? {} : { levels: fields.levels }),
    limits: limitsOf(config),
    select: selectOptionsOf(fields, { k: config.k, merge: config.merge }),
    ...tokenCounting(pool.runner, input.model),
    imageFormat: imageFormatOf(config),
    // Scorers that read pixels prove the image decodes while scoring; the pipeline decodes a
    // small overview only for those that do not (random). Unscored requests prove it on open.
    check: input.scoreTiles === false ? 'open' : 'score',
  });
}

/**
 * The image limits of the server: pixels, file size, and SVG: refused unless `allowSvg`, and then
 * rendered only when self-contained and without filters, within `svgMaxPixels` and `svgTimeoutMs`.
 */
function limitsOf(config: ResolvedServerConfig) {
  const { maxPixels, maxBodyBytes, svgMaxPixels, svgTimeoutMs } = config.limits;
  return {
    maxPixels,
    maxFileBytes: maxBodyBytes,
    svg: config.allowSvg
      ? { maxPixels: svgMaxPixels, timeoutMs: svgTimeoutMs, filters: false }
      : { allow: false, disabledHint: "Send it as PNG or JPEG; the server's operator can accept SVG with --allow-svg (SEMCLIP_ALLOW_SVG=1)" },
  };
}

/**
 * Refuses a grid that asks for more than `maxTiles` tiles (rows x cols, plus (rows x cols)^2 with
 * a second level; `auto` picks at most 9), before the image is read or a tile is laid out.
 */
export function checkTileCount(grid: string, levels: 1 | 2 | undefined, maxTiles: number): void {
  const spec = parseGrid(grid);
  const perLevel = spec === 'auto' ? DEFAULT_AUTO_MAX_TILES : spec.rows * spec.cols;
  const tiles = levels === 2 ? perLevel + perLevel * perLevel : perLevel;
  if (tiles <= maxTiles) return;
  const label = `${spec === 'auto' ? 'An auto grid' : `Grid ${spec.rows}x${spec.cols}`}${levels === 2 ? ' with 2 levels' : ''}`;
  const count = `${spec === 'auto' ? 'up to ' : ''}${tiles.toLocaleString('en-US')} tiles`;
  throw new SemclipError('INVALID_GRID', `${label} is ${count}, over this server's limit of ${maxTiles.toLocaleString('en-US')} tiles per request.`, {
    hint: `Use a coarser grid${levels === 2 ? ' or one level' : ''}; the server's operator can raise the limit with --max-tiles (SEMCLIP_MAX_TILES)`,
    details: { param: levels === 2 && perLevel <= maxTiles ? 'levels' : 'grid', tiles, maxTiles },
  });
}

/**
 * header -> open (tile) -> score -> select through the request's pipeline, each stage timed.
 * Every option is checked before the image is touched; the image's size is checked from its
 * header before any pixel is decoded; and the pixel data is proven whole (by the scorer's own
 * decode, or a small one), so a truncated or corrupt file is a 400 even when the scorer never
 * looks at pixels.
 */
export async function runSelection(ctx: WorkContext, input: SelectionInput): Promise<SelectionRun> {
  const { config, pool, signal } = ctx;
  const scorerId = input.fields.scorer ?? config.scorer;
  checkTileCount(input.fields.grid ?? config.grid, input.fields.levels, config.limits.maxTiles);
  const pipeline = requestPipeline(ctx, input, pool.scorer(scorerId));
  const info = await timed(ctx, 'decode', () => readImageInfo(input.bytes, limitsOf(config)));
  throwIfAborted(signal);
  const opening = performance.now();
  const tiled = await timed(ctx, 'tile', () => pipeline.open(input.bytes, { signal }));
  const base = { pipeline, tiled, info, question: input.question, scorer: scorerId };
  if (input.scoreTiles === false) return { ...base, scores: undefined, selection: undefined, run: undefined };

  const started = performance.now();
  const scores = await timed(ctx, 'score', () =>
    pipeline.score({ question: input.question, ...(input.options ? { options: input.options } : {}) }, tiled, { signal }),
  );
  const scored = performance.now();
  ctx.metrics.tilesScored.inc({ scorer: scorerId }, scores.scores.length);
  const hits = scores.meta?.cacheHits;
  if (typeof hits === 'number' && hits > 0) ctx.metrics.cacheHits.inc({ scorer: scorerId }, hits);
  const selection = await timed(ctx, 'select', () => pipeline.select(scores, tiled));
  const selected = performance.now();
  const run: PipelineRun = {
    source: tiled,
    question: input.question,
    scores,
    selection,
    timings: { open: started - opening, score: scored - started, select: selected - scored, total: selected - opening },
  };
  return { ...base, scores, selection, run };
}

export interface EncodedCrop {
  readonly tiles: readonly number[];
  readonly box: { x: number; y: number; width: number; height: number };
  readonly position: string;
  readonly score: number;
  readonly mime: string;
  readonly width: number;
  readonly height: number;
  /** Base64 of the encoded crop. */
  readonly data: string;
}

export function base64(data: ArrayBufferView): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

/** A prompt image's encoded bytes (the pipeline encodes every image it builds). */
export function encodedOf(prompt: PromptImage): EncodedImage {
  const image = prompt.image;
  if (!('mime' in image)) throw new SemclipError('INTERNAL', 'The pipeline built a prompt image that is not encoded.');
  return image;
}

/** Crops encoded per batch, so a response over the size cap stops the encoding early. */
const CROP_BATCH = 8;

/**
 * The selected regions as the VLM gets them (the pipeline's prompt images: native resolution,
 * capped at the server's imageMaxSide, JPEG at its quality), base64. Encoded once per request:
 * `/v1/answer` sends these same bytes. Encoded a few at a time; once their base64 passes
 * `maxResponseBytes`, no more are encoded and the request is refused (`RESPONSE_TOO_LARGE`).
 */
export async function encodeCrops(ctx: WorkContext, run: SelectionRun): Promise<EncodedCrop[]> {
  if (!run.selection || run.selection.regions.length === 0) return [];
  const regions = planFor(run.tiled, 'semclip', run.selection).regions;
  const limit = ctx.config.limits.maxResponseBytes;
  const out: EncodedCrop[] = [];
  let bytes = 0;
  for (let start = 0; start < regions.length; start += CROP_BATCH) {
    const plan: PromptPlan = { overview: false, regions: regions.slice(start, start + CROP_BATCH) };
    const { images, sent } = await timed(ctx, 'encode', () => run.pipeline.buildImages(run.tiled, plan, { signal: ctx.signal }));
    for (const [i, region] of plan.regions.entries()) {
      const image = images[i];
      const info = sent[i];
      if (!image || !info) throw new SemclipError('INTERNAL', `The pipeline built ${images.length} images for ${plan.regions.length} regions.`);
      const data = base64(encodedOf(image).data);
      bytes += data.length;
      if (bytes > limit) {
        throw responseTooLarge(limit, `the ${regions.length} crops passed it after ${start + i + 1}`, 'Ask for fewer regions (k) or leave out return_crops');
      }
      out.push({
        tiles: region.tiles ?? [],
        box: region.box,
        position: info.position ?? '',
        score: region.score ?? 0,
        mime: info.mime,
        width: info.width,
        height: info.height,
        data,
      });
    }
  }
  return out;
}

/** The heat-map overlay PNG (grid, per-tile scores, selected tiles) as base64; the bare grid for unscored requests. */
export async function encodeOverlay(ctx: WorkContext, run: SelectionRun, title: string): Promise<{ mime: 'image/png'; data: string }> {
  const png = await timed(ctx, 'overlay', () => run.pipeline.overlay(run.run ?? { source: run.tiled }, { maxSide: 1280, title }));
  return { mime: 'image/png', data: base64(png) };
}

/**
 * Visual tokens by the model family: one level-1 tile as sent (`per_image`), the overview
 * alone (`baseline`), and the overview plus every level-1 tile (`all_tiles`).
 */
export function tokenAlternatives(run: SelectionRun): { per_image: number; baseline: number; all_tiles: number } {
  const regions = run.tiled.grid.tiles.filter((t) => t.level === 1).map((t) => ({ box: t.box }));
  const baseline = run.pipeline.planTokens(run.tiled, { overview: true, regions: [] });
  return {
    per_image: regions[0] ? run.pipeline.planTokens(run.tiled, { overview: false, regions: [regions[0]] }) : baseline,
    baseline,
    all_tiles: run.pipeline.planTokens(run.tiled, { overview: true, regions }),
  };
}

/** The grid as plain JSON. */
export function gridJson(tiled: TiledImage): Record<string, unknown> {
  const g = tiled.grid;
  return {
    rows: g.rows,
    cols: g.cols,
    levels: g.levels,
    overlap: g.overlap,
    key: tiled.gridKey,
    tiles: g.tiles.map((t) => ({
      index: t.index,
      row: t.row,
      col: t.col,
      level: t.level,
      ...(t.parent === undefined ? {} : { parent: t.parent }),
      box: t.box,
    })),
  };
}

/** Scorer meta made JSON-safe (typed arrays become their length; non-finite numbers null). */
export function jsonSafe(value: unknown, depth = 0): unknown {
  if (depth > 6) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return value.toString();
  if (ArrayBuffer.isView(value)) return `<${value.constructor.name} ${(value as Uint8Array).length}>`;
  if (Array.isArray(value)) return value.slice(0, 1000).map((v) => jsonSafe(v, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v, depth + 1)]));
  }
  return value;
}
