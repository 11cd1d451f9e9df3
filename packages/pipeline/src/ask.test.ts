import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tileImage } from '@semclip/tiling';
import type { TiledImage } from '@semclip/tiling';
import { select } from '@semclip/selector';
import { makeJpeg } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI, RecordedRequest } from '@semclip/test-kit/openai-upstream';
import { createOpenAIRunner } from '@semclip/vlm-runner/openai';
import { askWithSelection } from './_ask.js';
import { createPipeline } from './_pipeline.js';
import { imagePolicyFor } from './_policy.js';

let fake: FakeOpenAI;
let tiled: TiledImage;
const runner = () => createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', env: {}, retryBaseMs: 1 });

// Tile 5 (row 1, col 2) of the 3x3 grid is the only one scored high.
const scores = [0.1, 0.2, 0.1, 0.3, 0.2, 0.9, 0.1, 0.1, 0.2];

beforeAll(async () => {
  fake = await startFakeOpenAI();
  tiled = await tileImage(await makeJpeg({ width: 1800, height: 1200, pattern: 'quadrants' }), { grid: '3x3' });
});
afterAll(() => fake.close());
afterEach(() => {
  fake.setBehaviour({});
  fake.reset();
});

const sizes = (r: RecordedRequest) => r.images.map((i) => [i.width, i.height]);

describe('askWithSelection', () => {
  it('semclip mode sends the overview then the selected tile at native resolution', async () => {
    // The answer is right only when the center-right tile is in the prompt.
    fake.setBehaviour({ respond: (r) => (r.images.some((i) => i.width === 600 && i.height === 400) ? '15 minutes' : 'unknown') });
    const selection = select(scores, tiled.grid, { k: 1 });
    const res = await askWithSelection({ runner: runner(), source: tiled, selection, question: 'What is the wait?', mode: 'semclip' });
    expect(res.kind).toBe('answer');
    if (res.kind !== 'answer') return;
    expect(res.text).toBe('15 minutes');
    expect(res.visualTokens).toBe(2 * 576);
    expect(res.images.map((i) => [i.role, i.position, i.tiles, i.width, i.height])).toEqual([
      ['overview', undefined, undefined, 1024, 683],
      ['region', 'center-right', [5], 600, 400],
    ]);
    expect(res.images[1]!.score).toBe(0.9);
    expect(sizes(fake.requests[0]!)).toEqual([
      [1024, 683],
      [600, 400],
    ]);
    expect(fake.requests[0]!.texts[0]).toBe('Image 2 is a zoomed-in view of the center-right region of image 1.\nWhat is the wait?');
    expect(res.timings.total).toBeGreaterThanOrEqual(res.timings.vlm);
  });

  it('baseline mode sends the overview only', async () => {
    const res = await askWithSelection({ runner: runner(), source: tiled, question: 'q?', mode: 'baseline', imageFormat: { maxSide: 336 } });
    expect(sizes(fake.requests[0]!)).toEqual([[336, 224]]);
    expect(res.visualTokens).toBe(576);
    expect(fake.requests[0]!.texts[0]).toBe('q?');
  });

  it('all-tiles mode sends the overview and all nine tiles in row-major order', async () => {
    const res = await askWithSelection({ runner: runner(), source: tiled, question: 'q?', mode: 'all-tiles' });
    expect(fake.requests[0]!.images).toHaveLength(10);
    expect(res.images.slice(1).map((i) => i.tiles![0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(res.visualTokens).toBe(10 * 576);
    expect(fake.requests[0]!.texts[0]).toContain('Image 10 is a zoomed-in view of the bottom-right region of image 1.');
  });

  it('sends only the overview for an overview-only selection', async () => {
    const selection = select(scores, tiled.grid, { k: 0 });
    expect(selection.kind).toBe('overview-only');
    await askWithSelection({ runner: runner(), source: tiled, selection, question: 'q?' });
    expect(fake.requests[0]!.images).toHaveLength(1);
  });

  it('sends regions only when the selection excludes the overview', async () => {
    const selection = select(scores, tiled.grid, { k: 2, includeOverview: false });
    await askWithSelection({ runner: runner(), source: tiled, selection, question: 'q?' });
    expect(sizes(fake.requests[0]!)).toEqual([
      [600, 400],
      [600, 400],
    ]);
  });

  it('uses choose for multiple choice and reports the option', async () => {
    fake.setBehaviour({ respond: () => 'B' });
    const selection = select(scores, tiled.grid, { k: 1 });
    const res = await askWithSelection({ runner: runner(), source: tiled, selection, question: 'Colour?', options: ['red', 'green'] });
    expect(res).toMatchObject({ kind: 'choice', index: 1, letter: 'B', option: 'green' });
    expect(fake.requests[0]!.texts[0]).toContain('A. red\nB. green');
  });

  it('needs a selection in semclip mode and rejects unknown modes', async () => {
    await expect(askWithSelection({ runner: runner(), source: tiled, question: 'q?', mode: 'semclip' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(askWithSelection({ runner: runner(), source: tiled, question: 'q?', mode: 'oracle' as never })).rejects.toMatchObject({
      code: 'UNKNOWN_METHOD',
    });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('visual tokens per model family', () => {
  it('counts each sent image by the family formula (Qwen2-VL: 28-px blocks of the sent size)', async () => {
    const selection = select(scores, tiled.grid, { k: 1 });
    const policy = imagePolicyFor('Qwen/Qwen2-VL-7B-Instruct');
    const res = await askWithSelection({ runner: runner(), source: tiled, selection, question: 'q?', policy });
    // overview 1024x683 -> smart resize 1036x672 = 37 x 24 blocks; tile 600x400 -> 588x392 = 21 x 14.
    expect(res.images.map((i) => i.tokens)).toEqual([37 * 24, 21 * 14]);
    expect(res.visualTokens).toBe(37 * 24 + 21 * 14);
  });

  it('defaults to the family the runner model names, else the runner fixed count', async () => {
    const res = await askWithSelection({ runner: runner(), source: tiled, question: 'q?', mode: 'baseline' });
    expect(res.visualTokens).toBe(576);
  });
});

describe('padding as the model family expects', () => {
  /** Mean colour of rows [y0, y1) of a recorded image, decoded. */
  const meanOfRows = async (data: Uint8Array, y0: number, y1: number) => {
    const img = await tileImage(data, { grid: '1x1' });
    const raw = await img.crop({ x: 0, y: y0, width: img.size.width, height: y1 - y0 });
    const sum = [0, 0, 0];
    for (let i = 0; i < raw.data.length; i++) sum[i % 3]! += raw.data[i]!;
    return sum.map((v) => Math.round(v / (raw.data.length / 3)));
  };
  const plan = () => ({ overview: true, regions: [{ box: tiled.grid.tiles[5]!.box, tiles: [5] }] });

  it('llava-1.5 gets the overview and the tile as squares, padded above and below with the processor mean', async () => {
    const selection = select(scores, tiled.grid, { k: 1 });
    const res = await askWithSelection({ runner: runner(), source: tiled, selection, question: 'q?', policy: imagePolicyFor('llava-hf/llava-1.5-7b-hf') });
    expect(sizes(fake.requests[0]!)).toEqual([
      [1024, 1024],
      [600, 600],
    ]);
    // 1024x683 pasted at (0, (1024 - 683) // 2 = 170); 600x400 at (0, 100).
    expect(res.images.map((i) => i.padded)).toEqual([
      { x: 0, y: 170, width: 1024, height: 683 },
      { x: 0, y: 100, width: 600, height: 400 },
    ]);
    const [overview, tile] = fake.requests[0]!.images;
    for (const [img, top, bottom] of [
      [overview!, 170, 1024 - 853],
      [tile!, 100, 100],
    ] as const) {
      // JPEG at quality 90 moves a flat colour by a unit or two at most (8 rows kept off the edge).
      const above = await meanOfRows(img.data!, 0, top - 8);
      const below = await meanOfRows(img.data!, img.height - bottom + 8, img.height);
      for (const got of [above, below]) got.forEach((c, i) => expect(Math.abs(c - [122, 116, 104][i]!)).toBeLessThanOrEqual(2));
    }
    expect(res.visualTokens).toBe(2 * 576);
  });

  it('qwen2-vl gets the images as cut, and a forced square pad is counted at the padded size', async () => {
    const qwen = createOpenAIRunner({ baseUrl: fake.url, model: 'Qwen/Qwen2-VL-7B-Instruct', env: {}, retryBaseMs: 1 });
    const pipeline = createPipeline({ scorer: false, runner: qwen });
    expect(pipeline.padding).toEqual({ mode: 'none' });
    await pipeline.ask({ runner: qwen, from: { source: tiled }, plan: plan(), question: 'q?' });
    expect(sizes(fake.requests[0]!)).toEqual([
      [1024, 683],
      [600, 400],
    ]);
    const padded = createPipeline({ scorer: false, runner: qwen, padding: 'square' });
    const res = await padded.ask({ runner: qwen, from: { source: tiled }, plan: plan(), question: 'q?' });
    expect(sizes(fake.requests[1]!)).toEqual([
      [1024, 1024],
      [600, 600],
    ]);
    // 1024x1024 is over 28*28*1280 pixels -> smart resize 980x980 = 35 x 35 blocks; 600x600 -> 588x588 = 21 x 21.
    expect(res.images.map((i) => i.tokens)).toEqual([35 * 35, 21 * 21]);
    expect(padded.planTokens(tiled, plan())).toBe(35 * 35 + 21 * 21);
  });
});
