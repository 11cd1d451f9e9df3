import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { defineCommand } from 'citty';
import { SemclipError } from '@semclip/core';
import { commonArgs, gridArgs, gridOptions, intArg } from '../_args.js';
import { createProgress, fmtMs, print, printJson, printTable, progressEnabled } from '../_output.js';

export default defineCommand({
  meta: {
    name: 'tiles',
    description: 'Split an image into a grid of tiles: print the boxes, write the tiles and an overlay of the grid.',
  },
  args: {
    image: { type: 'positional', description: 'Image file (JPEG, PNG, WebP, TIFF, GIF, AVIF...)', required: true },
    ...gridArgs,
    size: {
      type: 'string',
      description: 'Write each tile (and the overview) resized to NxN pixels, as an encoder sees it (default: native resolution)',
      valueHint: 'N',
    },
    out: { type: 'string', description: 'Write overview + tiles as PNG files into this folder', valueHint: 'DIR' },
    overlay: { type: 'string', description: 'Write a PNG of the image with the grid drawn on it', valueHint: 'FILE' },
    ...commonArgs,
  },
  async run({ args }) {
    const { tileImage, renderOverlay } = await import('@semclip/tiling');
    const { overlap, levels } = gridOptions(args);
    const size = intArg('size', args.size, 1, 16384);
    if (size !== undefined && !args.out) {
      throw new SemclipError('INVALID_ARGUMENT', '--size only applies when tiles are written.', { hint: 'Add --out DIR, or drop --size' });
    }
    const started = performance.now();
    const tiled = await tileImage(args.image, { grid: args.grid, overlap, levels });
    // Decode now so a damaged file fails even when nothing is written.
    await tiled.overview({ width: 32, height: 32 });

    const steps = (args.out ? 1 : 0) + (args.overlay ? 1 : 0);
    const bar = createProgress('tiles', steps, { enabled: progressEnabled(args) && steps > 0 });
    let files: string[] = [];
    try {
      if (args.out) {
        bar.update(0, 'writing tiles');
        files = await tiled.writeTiles(args.out, size === undefined ? {} : { size: { width: size, height: size } });
        bar.tick();
      }
      if (args.overlay) {
        bar.update(args.out ? 1 : 0, 'drawing overlay');
        const png = await renderOverlay(tiled, { title: `${tiled.grid.rows}x${tiled.grid.cols} grid` });
        await mkdir(dirname(args.overlay), { recursive: true });
        await writeFile(args.overlay, png);
        bar.tick();
      }
    } finally {
      bar.done();
    }
    // writeTiles returns [overview, ...tiles in grid order].
    const tileFiles = files.slice(1);
    const tiles = tiled.grid.tiles.map((t) => ({
      index: t.index,
      row: t.row,
      col: t.col,
      level: t.level,
      ...(t.parent === undefined ? {} : { parent: t.parent }),
      box: { x: t.box.x, y: t.box.y, width: t.box.width, height: t.box.height },
      ...(tileFiles[t.index] === undefined ? {} : { file: tileFiles[t.index] }),
    }));

    if (args.json) {
      printJson({
        image: { path: args.image, width: tiled.size.width, height: tiled.size.height, format: tiled.format },
        grid: { rows: tiled.grid.rows, cols: tiled.grid.cols, levels: tiled.grid.levels, overlap: tiled.grid.overlap, key: tiled.gridKey },
        tiles,
        ...(files[0] === undefined ? {} : { overview: files[0] }),
        overlay: args.overlay ?? null,
      });
      return;
    }
    print(
      `${args.image}: ${tiled.size.width}x${tiled.size.height} ${tiled.format}, grid ${tiled.grid.rows}x${tiled.grid.cols}${levels > 1 ? ` x ${levels} levels` : ''}${overlap > 0 ? `, overlap ${overlap}` : ''}, ${tiles.length} tiles`,
    );
    print();
    printTable(
      [
        { header: 'tile', value: (t: (typeof tiles)[number]) => t.index },
        ...(levels > 1 ? [{ header: 'level', value: (t: (typeof tiles)[number]) => t.level }] : []),
        { header: 'row', value: (t) => t.row },
        { header: 'col', value: (t) => t.col },
        { header: 'x', value: (t) => t.box.x },
        { header: 'y', value: (t) => t.box.y },
        { header: 'width', value: (t) => t.box.width },
        { header: 'height', value: (t) => t.box.height },
        ...(files.length > 0 ? [{ header: 'file', value: (t: (typeof tiles)[number]) => t.file ?? '' }] : []),
      ],
      tiles,
    );
    if (files.length > 0) print(`\nWrote ${files.length} files (overview + ${tileFiles.length} tiles${size ? ` at ${size}x${size}` : ''}) to ${args.out}`);
    if (args.overlay) print(`${files.length > 0 ? '' : '\n'}Overlay: ${args.overlay}`);
    print(`Done in ${fmtMs(performance.now() - started)}.`);
  },
});
