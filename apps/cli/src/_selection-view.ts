import type { Selection } from '@semclip/core';
import type { PipelineRun } from '@semclip/pipeline';
import { fmtMs, fmtNumber, print, printTable } from './_output.js';

/** What `select` and `demo` report of a pipeline run. */
export interface SelectionReport {
  readonly image: { readonly path: string | null; readonly width: number; readonly height: number; readonly format: string; readonly id: string };
  readonly grid: {
    readonly rows: number;
    readonly cols: number;
    readonly levels: number;
    readonly overlap: number;
    readonly key: string;
    readonly tiles: ReadonlyArray<{
      index: number;
      row: number;
      col: number;
      level: number;
      parent?: number;
      box: { x: number; y: number; width: number; height: number };
    }>;
  };
  readonly question: string;
  readonly scorer: { readonly id: string; readonly meta: Readonly<Record<string, unknown>> };
  readonly selection: Selection;
  readonly overlay: string | null;
  /** Milliseconds per stage: tile (read + decode check), score (+ the scorer's own stages), select, overlay, total. */
  readonly timings: Readonly<Record<string, number>>;
}

/** The report of a `pipeline.run`, with the image path as given and the overlay written (if any). */
export function selectionReport(
  run: PipelineRun,
  extra: { readonly imagePath: string | null; readonly overlay: string | null; readonly overlayMs: number },
): SelectionReport {
  const { source: tiled, scores, timings } = run;
  return {
    image: { path: extra.imagePath, width: tiled.size.width, height: tiled.size.height, format: tiled.format, id: tiled.id },
    grid: {
      rows: tiled.grid.rows,
      cols: tiled.grid.cols,
      levels: tiled.grid.levels,
      overlap: tiled.grid.overlap,
      key: tiled.gridKey,
      tiles: tiled.grid.tiles.map((t) => ({
        index: t.index,
        row: t.row,
        col: t.col,
        level: t.level,
        ...(t.parent === undefined ? {} : { parent: t.parent }),
        box: { ...t.box },
      })),
    },
    question: run.question,
    scorer: { id: scores.scorer, meta: { ...(scores.meta ?? {}), timings: scores.timings } },
    selection: run.selection,
    overlay: extra.overlay,
    timings: { tile: timings.open, score: timings.score, select: timings.select, overlay: extra.overlayMs, total: timings.total + extra.overlayMs },
  };
}

/**
 * The `--json` document of `select` and `demo`: the `Selection` itself at the top level
 * (kind, regions, scores, ranking, strategy, tokens, reason, includeOverview) plus image,
 * grid, question, scorer, overlay and timings.
 */
export function selectionJson(result: SelectionReport): Record<string, unknown> {
  return {
    ...result.selection,
    image: result.image,
    grid: result.grid,
    question: result.question,
    scorer: result.scorer,
    overlay: result.overlay,
    timings: result.timings,
  };
}

function boxText(b: { x: number; y: number; width: number; height: number }): string {
  return `${b.x},${b.y} ${b.width}x${b.height}`;
}

/** The scorer's own one-sentence account of its ranking (the OCR scorer's `meta.summary`), if it gives one. */
export function scorerSummary(result: Pick<SelectionReport, 'scorer'>): string | undefined {
  const summary = result.scorer.meta.summary;
  return typeof summary === 'string' && summary !== '' ? summary : undefined;
}

interface ReadLine {
  readonly text: string;
}
interface ReadMatch {
  readonly word: string;
  readonly token: string;
  readonly similarity: number;
}

/** `--verbose`: what a text-reading scorer read in each tile and which question words matched there. */
function printReads(result: SelectionReport): void {
  const texts = result.scorer.meta.texts;
  if (!Array.isArray(texts)) return;
  const matches = Array.isArray(result.scorer.meta.matches) ? (result.scorer.meta.matches as ReadMatch[][]) : [];
  let first = true;
  (texts as ReadLine[][]).forEach((lines, i) => {
    if (!Array.isArray(lines) || lines.length === 0) return;
    const read = lines.map((l) => JSON.stringify(l.text)).join(' ');
    const matched = (matches[i] ?? []).map((m) => `${m.word} ~ ${JSON.stringify(m.token)} (${m.similarity.toFixed(2)})`).join(', ');
    print(`${first ? 'Read      ' : '          '}tile ${i}: ${read}${matched ? `; matched ${matched}` : ''}`);
    first = false;
  });
  if (first) print('Read      no text in any tile');
}

/** The human report: header, ranked tiles, the selection, tokens, reason (with the scorer's own account), overlay, timings. */
export function printSelection(result: SelectionReport, options: { readonly verbose?: boolean } = {}): void {
  const { selection: s, grid } = result;
  const seed = result.scorer.meta.seed;
  const multiLevel = grid.levels > 1;
  print(`Image     ${result.image.path ?? '(bytes)'} (${result.image.width}x${result.image.height} ${result.image.format})`);
  print(`Question  ${result.question}`);
  print(`Scorer    ${result.scorer.id}${typeof seed === 'number' ? ` (seed ${seed})` : ''}`);
  print(
    `Grid      ${grid.rows}x${grid.cols}${multiLevel ? ` x ${grid.levels} levels` : ''}${grid.overlap > 0 ? `, overlap ${grid.overlap}` : ''}, ${grid.tiles.length} tiles`,
  );
  print();

  const regionOf = new Map<number, number>();
  s.regions.forEach((r, i) => {
    for (const t of r.tiles) regionOf.set(t, i + 1);
  });
  printTable(
    [
      { header: 'rank', value: (r: (typeof s.ranking)[number]) => r.rank },
      { header: 'tile', value: (r) => r.index },
      ...(multiLevel ? [{ header: 'level', value: (r: (typeof s.ranking)[number]) => grid.tiles[r.index]?.level ?? '' }] : []),
      { header: 'row', value: (r) => grid.tiles[r.index]?.row ?? '' },
      { header: 'col', value: (r) => grid.tiles[r.index]?.col ?? '' },
      { header: 'score', value: (r) => fmtNumber(r.score), align: 'right' },
      { header: 'box (x,y wxh)', value: (r) => (grid.tiles[r.index] ? boxText(grid.tiles[r.index]!.box) : '') },
      { header: 'selected', value: (r) => (regionOf.has(r.index) ? `region ${regionOf.get(r.index)}` : '') },
    ],
    s.ranking,
  );
  print();
  if (s.kind === 'overview-only') {
    print('Selected  overview only');
  } else {
    s.regions.forEach((r, i) => {
      const label = i === 0 ? 'Selected  ' : '          ';
      print(`${label}region ${i + 1}: tile${r.tiles.length > 1 ? 's' : ''} ${r.tiles.join('+')}, box ${boxText(r.box)}, score ${fmtNumber(r.score)}`);
    });
  }
  const t = s.tokens;
  print(
    `Tokens    ${t.used} = ${t.images} image${t.images === 1 ? '' : 's'} x ${t.perImage}${t.budget === null ? '' : ` (budget ${t.budget})`}; overview only ${t.baseline}, all tiles ${t.allTiles}`,
  );
  print(`Reason    ${s.reason}`);
  const summary = scorerSummary(result);
  if (summary) print(`          ${summary}`);
  if (options.verbose) printReads(result);
  if (result.overlay) print(`Overlay   ${result.overlay}`);
  const tm = result.timings;
  print(
    `Time      ${fmtMs(tm.total ?? 0)} (read ${fmtMs(tm.tile ?? 0)}, score ${fmtMs(tm.score ?? 0)}, select ${fmtMs(tm.select ?? 0)}${result.overlay ? `, overlay ${fmtMs(tm.overlay ?? 0)}` : ''})`,
  );
}
