/**
 * `pack`: several regions in one image with their arrangement kept (RAP's layout). Cells about
 * the encoder's input size are scored; the best are pasted, at native resolution, in their
 * original row and column order into one image, which the VLM gets after the overview with a
 * note that the parts keep their arrangement. One VLM call; a relative-position question sees
 * both of its objects in one image at a resolution it can read.
 */
import { SemclipError, throwIfAborted } from '@semclip/core';
import type { PromptImage, RawImage, Size } from '@semclip/core';
import { packLayout } from '@semclip/selector';
import type { PackCell, PackPlacement } from '@semclip/selector';
import { tileImage } from '@semclip/tiling';
import { askPrepared, buildPromptImages, sentSize } from './_ask.js';
import type { AskResult, SentImage } from './_ask.js';
import type { Pipeline } from './_pipeline.js';
import { boxesSource, encoderSideOf } from './_zoom.js';
import type { ZoomInput } from './_zoom.js';

export interface PackOptions {
  /** Cells to keep. Default: the best cell of each object the question names (with a neighbour holding the rest of an object cut by a cell boundary), then more while they fit `budget` (and, for fixed-resolution families, at most two cells a side), at most 8. */
  readonly k?: number;
  /** Visual tokens for overview + packed image. Default 5 x 576 (LLaVA-NeXT's). */
  readonly budget?: number;
  /** Cell side in pixels. Default the encoder input (336 for LLaVA-1.5). */
  readonly cellSide?: number;
  /** Separator width in pixels. Default 4. */
  readonly separator?: number;
}

/** What `pack` kept and where it went. */
export interface PackedCell extends PackPlacement {
  /** The cell's score (the best over the question's target phrases when it has several). */
  readonly score: number;
  /** The target phrase it was kept for, if kept as a phrase's best cell. */
  readonly phrase?: string;
}

export interface PackResult {
  readonly strategy: 'pack';
  readonly answer: AskResult;
  readonly k: number;
  readonly cells: readonly PackedCell[];
  /** Size of the packed image (before the family's padding and encoding). */
  readonly size: Size;
  /** Grid the cells came from. */
  readonly grid: { readonly rows: number; readonly cols: number };
  readonly phrases: readonly string[];
  readonly calls: 1;
  readonly visualTokens: number;
}

/** Said before the question, so the model reads positions in the packed image as positions in the photo. */
export const PACK_NOTE =
  'The second image shows parts of the first image cut out and placed side by side with their original arrangement kept: left-right and top-bottom order are as in the first image.';

const SEPARATOR_COLOUR = [255, 255, 255] as const;

/**
 * The objects a question names, when it names several: quoted phrases (`the "EXIT" sign`), or
 * V*'s "Is the X on the left or right side of the Y?". Empty otherwise.
 *
 * @example
 * ```ts
 * targetPhrases('Is the cat on the left or right side of the dog?'); // ['cat', 'dog']
 * ```
 */
export function targetPhrases(question: string): string[] {
  const quoted = [...question.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string);
  if (quoted.length >= 2) return quoted;
  const m = /\bthe (.+?) (?:on|to) the (?:left|right) or (?:left|right)(?: side)? of the (.+?)\s*\?/i.exec(question);
  return m ? [m[1] as string, m[2] as string] : [];
}

/**
 * Pastes each crop at its placement, pixel for pixel (no resampling), on a canvas of `size`
 * filled with the separator colour. RGB.
 *
 * @example
 * ```ts
 * const image = composePack(size, [{ placement, image: await source.crop(placement.cell.box) }]);
 * ```
 */
export function composePack(size: Size, parts: ReadonlyArray<{ readonly placement: PackPlacement; readonly image: RawImage }>): RawImage {
  const data = new Uint8Array(size.width * size.height * 3);
  for (let i = 0; i < data.length; i += 3) {
    data[i] = SEPARATOR_COLOUR[0];
    data[i + 1] = SEPARATOR_COLOUR[1];
    data[i + 2] = SEPARATOR_COLOUR[2];
  }
  for (const { placement, image } of parts) {
    if (image.channels !== 3) throw new SemclipError('INTERNAL', `A pack cell has ${image.channels} channels, not 3.`);
    if (placement.x + image.width > size.width || placement.y + image.height > size.height) {
      throw new SemclipError('INTERNAL', 'A pack cell does not fit the packed image.');
    }
    for (let y = 0; y < image.height; y++) {
      const src = y * image.width * 3;
      data.set(image.data.subarray(src, src + image.width * 3), ((placement.y + y) * size.width + placement.x) * 3);
    }
  }
  return { data, width: size.width, height: size.height, channels: 3 };
}

/** The cell grid: about `side` pixels per cell, boundaries on whole pixels, covering the image. */
export function packGrid(size: Size, side: number): { rows: number; cols: number; cells: PackCell[] } {
  const rows = Math.max(1, Math.round(size.height / side));
  const cols = Math.max(1, Math.round(size.width / side));
  const cells: PackCell[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const x0 = Math.round((c * size.width) / cols);
      const x1 = Math.round(((c + 1) * size.width) / cols);
      const y0 = Math.round((r * size.height) / rows);
      const y1 = Math.round(((r + 1) * size.height) / rows);
      cells.push({ row: r, col: c, box: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } });
    }
  }
  return { rows, cols, cells };
}

/**
 * Pastes `cells` of the source in their row/column order (`packLayout`, no resampling) and asks
 * the VLM with overview + packed image and `PACK_NOTE`. One call; `pack` and `zoom` (for the
 * regions it found per object) share it.
 */
export async function askPacked(
  pipeline: Pipeline,
  input: ZoomInput,
  cells: readonly PackCell[],
  o: { readonly separator: number; readonly started?: number },
): Promise<{ answer: AskResult; layout: { size: Size; placements: PackPlacement[] } }> {
  const started = o.started ?? performance.now();
  const { source } = input;
  const signalOpt = input.signal ? { signal: input.signal } : {};
  const layout = packLayout(cells, o.separator);
  throwIfAborted(input.signal);
  const crops = await Promise.all(layout.placements.map((p) => source.crop(p.cell.box)));
  const packed = composePack(
    layout.size,
    layout.placements.map((placement, i) => ({ placement, image: crops[i] as RawImage })),
  );
  const packedSource = await tileImage(packed, { grid: '1x1' });
  const policy = pipeline.policy;
  const overview = await pipeline.buildImages(source, { overview: true, regions: [] }, signalOpt);
  const packedImages = await buildPromptImages(packedSource, { overview: true, regions: [] }, { policy, imageFormat: pipeline.imageFormat, ...signalOpt });
  const images: PromptImage[] = [...overview.images, { role: 'region', image: (packedImages.images[0] as PromptImage).image }];
  const sent: SentImage[] = [...overview.sent, { ...(packedImages.sent[0] as SentImage), role: 'region' }];
  const answer = await askPrepared({
    runner: input.runner,
    images,
    sent,
    question: `${PACK_NOTE}\n${input.question}`,
    imageSize: source.size,
    mode: 'semclip',
    started,
    ...(input.options ? { options: input.options } : {}),
    ...(input.instruction === undefined ? {} : { instruction: input.instruction }),
    ...signalOpt,
  });
  return { answer, layout };
}

/**
 * Answers with the `pack` strategy: scores the cells (per target phrase when the question
 * names several objects, whose best cells are kept first), keeps the top K (`k`, or as many
 * as fit `budget`), packs them in their original order and asks once with overview + packed
 * image.
 *
 * @example
 * ```ts
 * const source = await pipeline.open('street.jpg');
 * const r = await packAsk(pipeline, { runner, source, question: 'Is the "EXIT" sign on the left or right side of the "TAXI" sign?', options: ['left', 'right'] });
 * r.cells.map((c) => [c.cell.row, c.cell.col]); // [[1, 2], [4, 6]]
 * ```
 */
export async function packAsk(
  pipeline: Pipeline,
  // The same request as zoom's, so callers switch strategies without reshaping it.
  input: ZoomInput,
  options: PackOptions = {},
): Promise<PackResult> {
  const started = performance.now();
  const encoderSide = encoderSideOf(pipeline.policy.family);
  const side = options.cellSide ?? encoderSide;
  const budget = options.budget ?? 5 * 576;
  const separator = options.separator ?? 4;
  if (options.k !== undefined && !(Number.isInteger(options.k) && options.k >= 1)) {
    throw new SemclipError('INVALID_ARGUMENT', `Pack k = ${String(options.k)} is not a positive integer.`, {
      expected: 'an integer >= 1',
      details: { option: 'k' },
    });
  }
  if (!(Number.isFinite(budget) && budget >= 1))
    throw new SemclipError('INVALID_ARGUMENT', `Pack budget ${String(budget)} is not positive.`, { details: { option: 'budget' } });
  if (!(Number.isInteger(side) && side >= 16))
    throw new SemclipError('INVALID_ARGUMENT', `Pack cellSide ${String(side)} is too small.`, { expected: 'an integer >= 16' });
  const { source } = input;
  const grid = packGrid(source.size, side);
  // Candidates: the grid's cells (rows and columns 2r, 2c) and cells shifted by half a cell
  // (2r + 1, 2c + 1), so an object cut by a grid boundary lies whole in one of them; the
  // doubled indices keep every candidate's row and column order that of its position.
  const cells: PackCell[] = grid.cells.map((c) => ({ row: 2 * c.row, col: 2 * c.col, box: c.box }));
  for (const c of grid.cells) {
    if (c.row === grid.rows - 1 || c.col === grid.cols - 1) continue;
    const x = c.box.x + Math.round(c.box.width / 2);
    const y = c.box.y + Math.round(c.box.height / 2);
    cells.push({
      row: 2 * c.row + 1,
      col: 2 * c.col + 1,
      box: { x, y, width: Math.min(c.box.width, source.size.width - x), height: Math.min(c.box.height, source.size.height - y) },
    });
  }
  const baseCount = grid.cells.length;
  const view = boxesSource(
    source,
    cells.map((c) => c.box),
    `pack:${grid.rows}x${grid.cols}+half`,
  );
  const signalOpt = input.signal ? { signal: input.signal } : {};
  const hasScorer = pipeline.scorerId !== undefined;
  const scoreFor = async (question: string): Promise<number[]> =>
    hasScorer ? [...(await pipeline.score({ question, ...(input.options ? { options: input.options } : {}) }, view, signalOpt)).scores] : cells.map(() => 0);
  const phrases = targetPhrases(input.question);
  const overall = await scoreFor(input.question);
  const perPhrase = await Promise.all(phrases.map((p) => scoreFor(p)));
  // Order of keeping: each phrase's best candidate first (none for a phrase no cell scores),
  // then the grid's cells by their best score, leaving out those a kept candidate overlaps.
  const best = cells.map((_, i) => Math.max(overall[i] ?? 0, ...perPhrase.map((s) => s[i] ?? 0)));
  const order: Array<{ index: number; phrase?: string }> = [];
  perPhrase.forEach((scores, p) => {
    const top = Math.max(...scores);
    const i = scores.indexOf(top);
    if (top > 0 && !order.some((o) => o.index === i)) order.push({ index: i, phrase: phrases[p] as string });
  });
  const overlapsKept = (i: number) =>
    order.some((o) => {
      const a = (cells[o.index] as PackCell).box;
      const b = (cells[i] as PackCell).box;
      return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
    });
  for (const i of cells
    .slice(0, baseCount)
    .map((_, i) => i)
    .sort((a, b) => (best[b] as number) - (best[a] as number))) {
    if (!overlapsKept(i)) order.push({ index: i });
  }
  const overviewSize = sentSize(source.size.width, source.size.height, pipeline.imageFormat.maxSide, pipeline.padding);
  const overviewTokens = pipeline.policy.tokensFor(overviewSize.width, overviewSize.height);
  // Fixed-resolution families shrink the packed image to the encoder input: past two cells a
  // side, the cells lose the detail they were kept for.
  const fixedResolution = pipeline.policy.family === 'llava-1.5' || pipeline.policy.family === 'fixed';
  const fits = (cells: readonly PackCell[]): boolean => {
    if (fixedResolution && (new Set(cells.map((c) => c.row)).size > 2 || new Set(cells.map((c) => c.col)).size > 2)) return false;
    const { size } = packLayout(cells, separator);
    const s = sentSize(size.width, size.height, pipeline.imageFormat.maxSide, pipeline.padding);
    return overviewTokens + pipeline.policy.tokensFor(s.width, s.height) <= budget;
  };
  let kept: typeof order = [];
  if (options.k !== undefined) kept = order.slice(0, Math.min(options.k, order.length));
  else {
    // Each named object's best cell is kept whatever it costs; more cells while they fit.
    kept = order.filter((o) => o.phrase !== undefined);
    for (const o of order.slice(kept.length, 8)) {
      const next = [...kept, o];
      if (kept.length > 0 && !fits(next.map((n) => cells[n.index] as PackCell))) continue;
      kept = next;
    }
  }
  const { answer, layout } = await askPacked(
    pipeline,
    input,
    kept.map((k) => cells[k.index] as PackCell),
    { separator, started },
  );
  const keptCells: PackedCell[] = layout.placements.map((p, i) => {
    const k = kept[i] as { index: number; phrase?: string };
    return { ...p, score: best[k.index] as number, ...(k.phrase === undefined ? {} : { phrase: k.phrase }) };
  });
  return {
    strategy: 'pack',
    answer,
    k: kept.length,
    cells: keptCells,
    size: layout.size,
    grid: { rows: grid.rows, cols: grid.cols },
    phrases,
    calls: 1,
    visualTokens: answer.visualTokens,
  };
}
