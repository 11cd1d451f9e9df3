import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEMO_QUESTION, DEMO_SIGN_BOX, DEMO_SIZE } from './_demo.js';
import { renderDemoImage } from './_demo-image.js';
import { semclip, tempDir } from './_cli-harness.js';

async function meanLuma(image: Buffer | string, box: { x: number; y: number; width: number; height: number }): Promise<number> {
  const { data } = await sharp(image)
    .extract({ left: box.x, top: box.y, width: box.width, height: box.height })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return data.reduce((a, b) => a + b, 0) / data.length;
}

describe('demo image', () => {
  it('is a deterministic 3000x2000 JPEG', async () => {
    const [a, b] = await Promise.all([renderDemoImage(), renderDemoImage()]);
    expect(a.equals(b)).toBe(true);
    const meta = await sharp(a).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', DEMO_SIZE.width, DEMO_SIZE.height]);
  });

  it('has the dark sign where DEMO_SIGN_BOX says, on a light wall, inside the top-right tile of 2x2 and 3x3 grids', async () => {
    const img = await renderDemoImage();
    const inner = { x: DEMO_SIGN_BOX.x + 20, y: DEMO_SIGN_BOX.y + 20, width: DEMO_SIGN_BOX.width - 40, height: DEMO_SIGN_BOX.height - 40 };
    const wall = { x: DEMO_SIGN_BOX.x, y: DEMO_SIGN_BOX.y + DEMO_SIGN_BOX.height + 40, width: DEMO_SIGN_BOX.width, height: 100 };
    expect(await meanLuma(img, inner)).toBeLessThan(110);
    expect(await meanLuma(img, wall)).toBeGreaterThan(180);
    expect(DEMO_SIGN_BOX.x).toBeGreaterThanOrEqual(2000);
    expect(DEMO_SIGN_BOX.y + DEMO_SIGN_BOX.height).toBeLessThanOrEqual(666);
  });
});

describe('semclip demo', () => {
  it('writes the image and overlay.png and selects with the default scorer', async () => {
    const out = join(await tempDir(), 'demo');
    const res = await semclip(['demo', '--out', out, '--json']);
    expect(res.code, res.stderr).toBe(0);
    const json = JSON.parse(res.stdout) as {
      question: string;
      kind: string;
      regions: Array<{ tiles: number[] }>;
      scorer: { id: string };
      overlay: string;
      image: { path: string; width: number };
    };
    expect(json.question).toBe(DEMO_QUESTION);
    expect(json.image).toMatchObject({ path: join(out, 'waiting-room.jpg'), width: 3000 });
    expect(json.overlay).toBe(join(out, 'overlay.png'));
    expect(json.kind).toBe('regions');
    expect(json.regions).toHaveLength(1);
    // A scorer that reads text must find the sign, which lies in tile 1 (top-right) of the 2x2 grid.
    if (json.scorer.id === 'ocr') expect(json.regions[0]!.tiles).toEqual([1]);
    const overlay = await readFile(json.overlay);
    expect((await sharp(overlay).metadata()).format).toBe('png');
    expect((await readFile(json.image.path)).equals(await renderDemoImage())).toBe(true);
  }, 180_000); // the default scorer is OCR once registered: a few seconds of CPU, far more on a busy machine

  it('prints a human report', async () => {
    const out = join(await tempDir(), 'demo-human');
    const res = await semclip(['demo', '--out', out, '--scorer', 'random', '--seed', '3']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^Generated .*waiting-room\.jpg: a 3000x2000 waiting room/m);
    expect(res.stdout).toMatch(/^Question {2}What is the wait time\?$/m);
    expect(res.stdout).toMatch(/^Overlay {3}.*overlay\.png$/m);
    expect(res.stdout).toContain('random scorer');
  });
});
