import { existsSync } from 'node:fs';
import { createRandomScorer } from '@semclip/scorers/random';
import { select } from '@semclip/selector';
import { renderOverlay, tileImage } from '@semclip/tiling';
import sharp from 'sharp';
import { describeShared, sharedData } from '@semclip/test-kit/shared-data';
import { expect, it } from 'vitest';

// The library path the CLI's `select` runs: tile -> score -> select -> crop / overlay, on a real
// 4032x3024 photo. The random scorer checks plumbing and determinism only, not relevance.
const PHOTO = sharedData('images/queue_time.jpg');
const QUESTION = 'What is the wait time?';

describeShared('tile -> score -> select -> overlay on a real photo', () => {
  it('finds the photo in ../shared/data', () => {
    expect(existsSync(PHOTO)).toBe(true);
  });

  it('selects the top-2 tiles of a 3x3 grid, crops them and renders the overlay', async () => {
    const tiled = await tileImage(PHOTO, { grid: '3x3' });
    expect(tiled.size).toEqual({ width: 4032, height: 3024 });
    const scorer = createRandomScorer({ seed: 7 });
    const scored = await scorer.score({ question: QUESTION }, tiled);
    await scorer.dispose();
    expect(scored.scores).toHaveLength(9);

    const selection = select(scored, tiled.grid, { k: 2 });
    expect(selection.kind).toBe('regions');
    expect(selection.scores).toEqual(scored.scores);
    const top2 = selection.ranking.slice(0, 2).map((r) => r.index);
    expect(selection.regions.map((r) => r.tiles[0])).toEqual(top2);
    for (const region of selection.regions) {
      expect(region.box).toEqual(tiled.grid.tiles[region.tiles[0]!]!.box);
      // What a VLM runner would send: the region at native resolution, capped to 336 on the long side.
      const crop = await tiled.crop(region.box, { maxSide: 336 });
      expect([crop.width, crop.height, crop.channels]).toEqual([336, 252, 3]);
    }
    expect(selection.tokens).toMatchObject({ images: 3, used: 1728, allTiles: 5760 });

    const png = await renderOverlay(tiled, { scores: selection.scores, selected: selection.regions.flatMap((r) => r.tiles), title: QUESTION });
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(1600);
  });

  it('gives the same selection for the same seed, image and question', async () => {
    const run = async () => {
      const tiled = await tileImage(PHOTO, { grid: '2x2' });
      const scorer = createRandomScorer({ seed: 1 });
      const selection = select(await scorer.score({ question: QUESTION }, tiled), tiled.grid);
      await scorer.dispose();
      return selection;
    };
    expect(await run()).toEqual(await run());
  });

  it('merges all tiles of a grid into one full-image crop', async () => {
    const tiled = await tileImage(PHOTO, { grid: '2x2', overlap: 0.1 });
    const scorer = createRandomScorer({ seed: 3 });
    const selection = select(await scorer.score({ question: QUESTION }, tiled), tiled.grid, { k: 4, merge: true });
    expect(selection.regions).toHaveLength(1);
    expect(selection.regions[0]).toMatchObject({ tiles: [0, 1, 2, 3], box: { x: 0, y: 0, width: 4032, height: 3024 } });
  });

  it('selects among level-2 tiles of a pyramid without picking a parent and its child together', async () => {
    const tiled = await tileImage(PHOTO, { grid: '2x2', levels: 2 });
    expect(tiled.grid.tiles).toHaveLength(4 + 16);
    const scorer = createRandomScorer({ seed: 5 });
    const scored = await scorer.score({ question: QUESTION }, tiled);
    const level2 = select(scored, tiled.grid, { level: 2, k: 1 });
    const tile = tiled.grid.tiles[level2.regions[0]!.tiles[0]!]!;
    expect(tile.level).toBe(2);
    const parent = tiled.grid.tiles[tile.parent!]!;
    expect(tile.box.x).toBeGreaterThanOrEqual(parent.box.x);
    expect(tile.box.x + tile.box.width).toBeLessThanOrEqual(parent.box.x + parent.box.width);

    const any = select(scored, tiled.grid, { level: 'any', k: 4 });
    const picked = any.regions.map((r) => r.tiles[0]!);
    for (const i of picked) {
      const p = tiled.grid.tiles[i]!.parent;
      if (p !== undefined) expect(picked).not.toContain(p);
    }
  });
});
