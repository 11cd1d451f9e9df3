import { SemclipError, throwIfAborted } from '@semclip/core';
import type { Selection, TileScores } from '@semclip/core';
import { parseGrid, readImageInfo, renderOverlay, tileImage } from '@semclip/tiling';
import type { ImageInfo, TiledImage } from '@semclip/tiling';
import { defineSelectOptions, select } from '@semclip/selector';
import { describePosition } from '@semclip/vlm-runner';
import type { ResolvedServerConfig } from './_config.js';
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
  readonly tiled: TiledImage;
  readonly info: ImageInfo;
  readonly scorer: string;
  readonly scores: TileScores | undefined;
  readonly selection: Selection | undefined;
}

export interface SelectionInput {
  readonly bytes: Uint8Array;
  readonly question: string;
  readonly options?: readonly string[] | undefined;
  readonly fields: SelectionFields;
  /** The runner's visual tokens per image, for the selection's token accounting. */
  readonly tokensPerImage?: number | undefined;
  /** Skip scoring and selection (baseline and all-tiles answers). */
  readonly scoreTiles?: boolean;
}

/**
 * decode -> tile -> score -> select, each stage timed. Every option is checked before the image
 * is touched; the image's size is checked from its header before any pixel is decoded; and the
 * pixel data is proven whole (by the scorer's own decode, or a small one), so a truncated or
 * corrupt file is a 400 even when the scorer never looks at pixels.
 */
export async function runSelection(ctx: WorkContext, input: SelectionInput): Promise<SelectionRun> {
  const { config, pool, signal } = ctx;
  const scorerId = input.fields.scorer ?? config.scorer;
  const scorer = pool.scorer(scorerId);
  const grid = parseGrid(input.fields.grid ?? config.grid);
  const selectOptions = defineSelectOptions(selectOptionsOf(input.fields, { k: config.k, merge: config.merge }, input.tokensPerImage));
  const limits = { maxPixels: config.limits.maxPixels, maxFileBytes: config.limits.maxBodyBytes };
  const info = await timed(ctx, 'decode', () => readImageInfo(input.bytes, limits));
  throwIfAborted(signal);
  const tiled = await timed(ctx, 'tile', () =>
    tileImage(input.bytes, {
      grid,
      ...(input.fields.overlap === undefined ? {} : { overlap: input.fields.overlap }),
      ...(input.fields.levels === undefined ? {} : { levels: input.fields.levels }),
      ...limits,
    }),
  );
  throwIfAborted(signal);
  // Scorers that read pixels decode the image (and report damage) themselves; for those that do
  // not (random), a small decode proves the pixel data is whole before anything is returned.
  const checkPixels = async (): Promise<void> => {
    const s = tiled.decodeStats;
    if (s.full + s.scaled + s.resized === 0) await timed(ctx, 'decode', () => tiled.overview({ width: 32, height: 32 }));
  };
  if (input.scoreTiles === false) {
    await checkPixels();
    return { tiled, info, scorer: scorerId, scores: undefined, selection: undefined };
  }

  const scores = await timed(ctx, 'score', () => scorer.score({ question: input.question, ...(input.options ? { options: input.options } : {}) }, tiled, { signal }));
  throwIfAborted(signal);
  await checkPixels();
  ctx.metrics.tilesScored.inc({ scorer: scorerId }, scores.scores.length);
  const hits = scores.meta?.cacheHits;
  if (typeof hits === 'number' && hits > 0) ctx.metrics.cacheHits.inc({ scorer: scorerId }, hits);
  const selection = await timed(ctx, 'select', () => select(scores, tiled.grid, selectOptions));
  return { tiled, info, scorer: scorerId, scores, selection };
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

/** The selected regions as base64 JPEGs (native resolution, capped at the server's imageMaxSide). */
export async function encodeCrops(ctx: WorkContext, run: SelectionRun): Promise<EncodedCrop[]> {
  const regions = run.selection?.regions ?? [];
  return timed(ctx, 'encode', () =>
    Promise.all(
      regions.map(async (r) => {
        const enc = await run.tiled.encode(r.box, { format: 'jpeg', quality: ctx.config.imageQuality, maxSide: ctx.config.imageMaxSide });
        return {
          tiles: r.tiles,
          box: r.box,
          position: describePosition(r.box, run.tiled.size),
          score: r.score,
          mime: enc.mime,
          width: enc.width,
          height: enc.height,
          data: Buffer.from(enc.data.buffer, enc.data.byteOffset, enc.data.byteLength).toString('base64'),
        };
      }),
    ),
  );
}

/** The heat-map overlay PNG (grid, per-tile scores, selected tiles) as base64. */
export async function encodeOverlay(ctx: WorkContext, run: SelectionRun, title: string): Promise<{ mime: 'image/png'; data: string }> {
  const png = await timed(ctx, 'overlay', () =>
    renderOverlay(run.tiled, {
      ...(run.scores ? { scores: run.scores.scores } : {}),
      selected: (run.selection?.regions ?? []).flatMap((r) => r.tiles),
      title,
      maxSide: 1280,
    }),
  );
  return { mime: 'image/png', data: Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64') };
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
    tiles: g.tiles.map((t) => ({ index: t.index, row: t.row, col: t.col, level: t.level, ...(t.parent === undefined ? {} : { parent: t.parent }), box: t.box })),
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
