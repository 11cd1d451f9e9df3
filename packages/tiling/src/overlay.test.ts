import { describe, expect, it } from 'vitest';
import { makeRaw } from '@semclip/test-kit/images';
import { itShared, sharedData } from '@semclip/test-kit/shared-data';
import sharp from 'sharp';
import { renderOverlay, tileImage } from './index.js';
import { scoreLabels } from './_overlay.js';

const QUEUE_TIME = sharedData('images/queue_time.jpg');
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

async function rgbAt(png: Uint8Array, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const o = (y * info.width + x) * info.channels;
  return Array.from(data.subarray(o, o + 3));
}

describe('renderOverlay', () => {
  it('renders a valid PNG of the image size when small enough, with no header by default', async () => {
    const image = await tileImage(makeRaw({ width: 400, height: 300, pattern: 'gradient' }), { grid: '2x2' });
    const png = await renderOverlay(image);
    expect(Array.from(png.subarray(0, 8))).toEqual(PNG_SIGNATURE);
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 400, 300]);
  });

  it('downscales to maxSide and adds a header band for a title and scores', async () => {
    const image = await tileImage(makeRaw({ width: 3000, height: 1500, pattern: 'gradient' }), { grid: '2x2' });
    const png = await renderOverlay(image, { maxSide: 800, title: 'Where is the flag?', scores: [0.1, 0.9, 0.3, 0.2], selected: [1] });
    const meta = await sharp(png).metadata();
    expect(meta.width).toBe(800);
    expect(meta.height!).toBeGreaterThan(400); // 400 of picture + the header
    const header = meta.height! - 400;
    expect(await rgbAt(png, 2, 2)).toEqual([21, 23, 31]); // header background
    // The selected tile (top-right) is outlined in cyan near its right edge.
    const [r, g, b] = await rgbAt(png, 797, header + 100);
    expect(r).toBeLessThan(80);
    expect(g).toBeGreaterThan(180);
    expect(b).toBeGreaterThan(180);
  });

  it('puts a caption (the title after a newline) under the title in a taller header band', async () => {
    const image = await tileImage(makeRaw({ width: 800, height: 400, pattern: 'gradient' }), { grid: '2x2' });
    const plain = await sharp(await renderOverlay(image, { title: 'What is the wait time?' })).metadata();
    const captioned = await sharp(await renderOverlay(image, { title: 'What is the wait time?\nTile 3 matched "wait" in "WAIT"' })).metadata();
    expect(captioned.height! - 400).toBeGreaterThan(plain.height! - 400);
  });

  it.each([
    [
      [0.0177, 0.0147, 0, 0.00025],
      ['0.0177', '0.0147', '0', '0.0003'],
    ],
    [
      [0.677, 0.495, 0.00005],
      ['0.677', '0.495', '0.000'],
    ],
    [
      [5.3, 0.1],
      ['5.30', '0.10'],
    ],
    [
      [530, 12.5],
      ['530', '13'],
    ],
    [
      [0, 0],
      ['0', '0'],
    ],
  ])('labels scores %j with 3 significant digits for the largest: %j', (values, labels) => {
    expect(scoreLabels(values)).toEqual(labels);
  });

  it('draws a soft cyan glow around the selected tile that fades with distance', async () => {
    // 800x400 grey, no header: unit 11 px, outline 4.4 px wide on the tile's inner edge (x 400-404).
    const image = await tileImage(makeRaw({ width: 800, height: 400, pattern: 'solid', color: [128, 128, 128] }), { grid: '1x2' });
    const png = await renderOverlay(image, { selected: [1] });
    const cyanness = async (x: number) => {
      const [r, , b] = await rgbAt(png, x, 200);
      return b! - r!;
    };
    const near = await cyanness(407);
    const mid = await cyanness(410);
    expect(near).toBeGreaterThan(40);
    expect(mid).toBeGreaterThan(5);
    expect(mid).toBeLessThan(near);
    expect(await cyanness(420)).toBe(0);
    expect(await cyanness(200)).toBe(0); // the other tile, away from the grid line
  });

  itShared('decodes the picture of a large JPEG at reduced scale (no full-resolution decode)', async () => {
    const image = await tileImage(QUEUE_TIME, { grid: '3x3' });
    const png = await renderOverlay(image, { scores: image.grid.tiles.map((t) => t.index / 8), selected: [4], title: 'q' });
    expect((await sharp(png).metadata()).width).toBe(1600);
    expect(image.decodeStats).toEqual({ full: 0, scaled: 1, resized: 0 });
  });

  it('dims low-scoring tiles more than high-scoring ones', async () => {
    const image = await tileImage(makeRaw({ width: 400, height: 200, pattern: 'solid', color: [200, 200, 200] }), { grid: '1x2' });
    const png = await renderOverlay(image, { scores: [0, 1] });
    const meta = await sharp(png).metadata();
    const header = meta.height! - 200;
    const low = await rgbAt(png, 20, header + 180);
    const high = await rgbAt(png, 380, header + 180);
    expect(low.reduce((a, b) => a + b)).toBeLessThan(high.reduce((a, b) => a + b) - 100);
  });

  it('draws level-2 grids too', async () => {
    const image = await tileImage(makeRaw({ width: 600, height: 600 }), { grid: '2x2', levels: 2 });
    const png = await renderOverlay(image, { scores: image.grid.tiles.map((t) => t.index / 20), selected: [0, 7] });
    expect((await sharp(png).metadata()).width).toBe(600);
  });

  it.each([[{ scores: [1, 2, 3] }], [{ scores: [1, 2, Number.NaN, 4] }], [{ selected: [4] }], [{ maxSide: 0 }]])('rejects %j', async (bad) => {
    const image = await tileImage(makeRaw({ width: 100, height: 100 }), { grid: '2x2' });
    await expect(renderOverlay(image, bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
