import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tileImage } from '@semclip/tiling';
import type { TiledImage } from '@semclip/tiling';
import { select } from '@semclip/selector';
import { makeJpeg } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI, RecordedRequest } from '@semclip/test-kit/openai-upstream';
import { createOpenAIRunner } from '@semclip/vlm-runner/openai';
import { askWithSelection } from './_ask.js';
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
