/**
 * tile -> score -> select -> overlay: the one code path behind `semclip select` and
 * `semclip demo`. Heavy packages are imported here, lazily, so `--help` never loads them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { throwIfAborted } from '@semclip/core';
import type { RelevanceScorer, Selection } from '@semclip/core';
import type { SelectOptions } from '@semclip/selector';
import { createProgress } from './_output.js';

export interface PipelineInput {
  /** A file path (or encoded bytes). */
  readonly image: string | Uint8Array;
  readonly question: string;
  /** Scorer id; default `defaultScorerId()`. */
  readonly scorer?: string;
  readonly model?: string;
  readonly seed?: number;
  readonly device?: 'cpu' | 'cuda' | 'auto';
  readonly grid: string;
  readonly overlap: number;
  readonly levels: 1 | 2;
  readonly select: SelectOptions;
  /** Where to write the heat-map overlay PNG; none when omitted. */
  readonly overlay?: string;
  readonly progress: boolean;
  readonly signal: AbortSignal;
  /** One-line notices (device fallback...). */
  readonly warn: (message: string) => void;
  /**
   * Opens a scorer that is not in @semclip/scorers' table (the VLM scorers): `scorer` is then
   * only its label, and `close` releases whatever `open` created (the scoring VLM too).
   */
  readonly openScorer?: () => Promise<{ readonly scorer: RelevanceScorer; close(): Promise<void> }>;
}

export interface PipelineResult {
  readonly image: { readonly path: string | null; readonly width: number; readonly height: number; readonly format: string; readonly id: string };
  readonly grid: {
    readonly rows: number;
    readonly cols: number;
    readonly levels: number;
    readonly overlap: number;
    readonly key: string;
    readonly tiles: ReadonlyArray<{ index: number; row: number; col: number; level: number; parent?: number; box: { x: number; y: number; width: number; height: number } }>;
  };
  readonly question: string;
  readonly scorer: { readonly id: string; readonly meta: Readonly<Record<string, unknown>> };
  readonly selection: Selection;
  readonly overlay: string | null;
  /** Milliseconds per stage: tile (read + decode check), score (+ the scorer's own stages), select, overlay, total. */
  readonly timings: Readonly<Record<string, number>>;
}

/** The default scorer: `ocr` once it is registered (reads the text in each tile), else `random`. */
export async function defaultScorerId(): Promise<string> {
  const { listScorers } = await import('@semclip/scorers');
  const ids = listScorers().map((s) => s.id);
  return ids.includes('ocr') ? 'ocr' : 'random';
}

export async function runPipeline(input: PipelineInput): Promise<PipelineResult> {
  const [{ tileImage, renderOverlay }, { createScorer, getScorerEntry }, { select, defineSelectOptions }] = await Promise.all([
    import('@semclip/tiling'),
    import('@semclip/scorers'),
    import('@semclip/selector'),
  ]);
  // Bad selection flags fail before any image work.
  defineSelectOptions(input.select);
  const scorerId = input.scorer ?? (await defaultScorerId());
  // An unknown scorer fails before the image is read (UNKNOWN_SCORER lists the valid ids).
  if (!input.openScorer) getScorerEntry(scorerId);
  const steps = input.overlay ? 4 : 3;
  const bar = createProgress('semclip', steps, { enabled: input.progress });
  const t0 = performance.now();
  let opened: { readonly scorer: RelevanceScorer; close(): Promise<void> } | undefined;
  try {
    bar.update(0, 'reading image');
    const tiled = await tileImage(input.image, { grid: input.grid, overlap: input.overlap, levels: input.levels });
    // Pixels decode lazily, and a scorer that never reads them (random) would let a truncated
    // file through; a tiny overview forces the decode so damaged files fail here, clearly.
    await tiled.overview({ width: 32, height: 32 });
    const t1 = performance.now();
    throwIfAborted(input.signal);

    bar.update(1, `scoring (${scorerId}, ${tiled.grid.tiles.length} tiles)`);
    if (input.openScorer) {
      opened = await input.openScorer();
    } else {
      const own = await createScorer(scorerId, {
        ...(input.model === undefined ? {} : { model: input.model }),
        ...(input.seed === undefined ? {} : { seed: input.seed }),
        ...(input.device === undefined ? {} : { device: input.device }),
        warn: input.warn,
      });
      opened = { scorer: own, close: async () => own.dispose() };
    }
    const scored = await opened.scorer.score({ question: input.question }, tiled, { signal: input.signal });
    const t2 = performance.now();
    throwIfAborted(input.signal);

    bar.update(2, 'selecting');
    const selection = select(scored, tiled.grid, input.select);
    const t3 = performance.now();

    let overlay: string | null = null;
    if (input.overlay) {
      bar.update(3, 'drawing overlay');
      const selected = selection.regions.flatMap((r) => r.tiles);
      const png = await renderOverlay(tiled, { scores: selection.scores, selected, maxSide: 1600, title: input.question });
      await mkdir(dirname(input.overlay), { recursive: true });
      await writeFile(input.overlay, png);
      overlay = input.overlay;
    }
    const t4 = performance.now();
    bar.update(steps, 'done');

    return {
      image: { path: typeof input.image === 'string' ? input.image : null, width: tiled.size.width, height: tiled.size.height, format: tiled.format, id: tiled.id },
      grid: {
        rows: tiled.grid.rows,
        cols: tiled.grid.cols,
        levels: tiled.grid.levels,
        overlap: tiled.grid.overlap,
        key: tiled.gridKey,
        tiles: tiled.grid.tiles.map((t) => ({ index: t.index, row: t.row, col: t.col, level: t.level, ...(t.parent === undefined ? {} : { parent: t.parent }), box: { ...t.box } })),
      },
      question: input.question,
      scorer: { id: scored.scorer, meta: { ...(scored.meta ?? {}), timings: scored.timings } },
      selection,
      overlay,
      timings: { tile: t1 - t0, score: t2 - t1, select: t3 - t2, overlay: t4 - t3, total: t4 - t0 },
    };
  } finally {
    bar.done();
    await opened?.close();
  }
}
