/**
 * The server pads prompt images as the model family expects (the pipeline does it, by the
 * model id): LLaVA-1.5 gets squares of the processor mean (122, 116, 104), the way its own
 * evaluation pads (expand2square); dynamic-resolution families such as Qwen2-VL get the
 * images as cut.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tileImage } from '@semclip/tiling';
import { makeJpeg } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI, RecordedImage } from '@semclip/test-kit/openai-upstream';
import { b64, dataUrl, postJson, startTestServer } from './_test-helpers.js';
import type { TestServer } from './_test-helpers.js';

const LLAVA = 'llava-hf/llava-1.5-7b-hf';
const QWEN = 'Qwen/Qwen2-VL-7B-Instruct';

let fake: FakeOpenAI;
let proxy: TestServer;
let photo: Uint8Array;

beforeAll(async () => {
  fake = await startFakeOpenAI({ models: [LLAVA, QWEN] });
  proxy = await startTestServer({ upstream: fake.url, model: LLAVA, grid: '2x2' });
  photo = await makeJpeg({ width: 1600, height: 1200, pattern: 'quadrants' });
});
afterAll(async () => {
  await proxy?.close();
  await fake?.close();
});
afterEach(() => fake.reset());

const sizes = (images: readonly RecordedImage[]) => images.map((i) => [i.width, i.height]);

/** Mean RGB of one row of a sent image (decoded), to read the padding colour. */
async function rowMean(image: RecordedImage, y: number): Promise<number[]> {
  const tiled = await tileImage(image.data!, { grid: '1x1' });
  const row = await tiled.crop({ x: 0, y, width: image.width, height: 1 });
  const sum = [0, 0, 0];
  row.data.forEach((v, i) => {
    sum[i % 3]! += v;
  });
  return sum.map((v) => v / image.width);
}

/** The first and last rows of a wide image padded to a square are the mean colour (JPEG: a unit or two off). */
async function expectPaddedRows(image: RecordedImage): Promise<void> {
  for (const y of [0, image.height - 1]) {
    (await rowMean(image, y)).forEach((c, i) => expect(Math.abs(c - [122, 116, 104][i]!)).toBeLessThan(3));
  }
}

const chat = (model: string, extra: Record<string, unknown> = {}) =>
  postJson(`${proxy.url}/v1/chat/completions`, {
    model,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What colour is the top-left corner?' },
          { type: 'image_url', image_url: { url: dataUrl(photo) } },
        ],
      },
    ],
    ...extra,
  });

describe('padding per model family in the server', () => {
  it('the chat proxy sends a llava-1.5 model squares padded with the mean colour, and a qwen2-vl model the images as cut', async () => {
    const res = await chat(LLAVA);
    expect(res.status).toBe(200);
    const llava = fake.requests[0]!.images;
    expect(sizes(llava)).toEqual([
      [1024, 1024],
      [800, 800],
    ]);
    for (const im of llava) await expectPaddedRows(im);
    const body = (await res.json()) as { semclip: { sent: Array<{ width: number; height: number; padded?: unknown }> } };
    expect(body.semclip.sent.map((s) => [s.width, s.height])).toEqual([
      [1024, 1024],
      [800, 800],
    ]);

    fake.reset();
    expect((await chat(QWEN)).status).toBe(200);
    expect(sizes(fake.requests[0]!.images)).toEqual([
      [1024, 768],
      [800, 600],
    ]);
  });

  it('/v1/answer pads for the runner it answers with when that is a llava-1.5 model', async () => {
    const t = await startTestServer({ vlm: `openai:${fake.url}#${LLAVA}` });
    try {
      const res = await postJson(`${t.url}/v1/answer`, { image: b64(photo), question: 'What colour is the top-left?' });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, any>;
      expect(body.images.map((i: { width: number; height: number }) => [i.width, i.height])).toEqual([
        [1024, 1024],
        [800, 800],
      ]);
      expect(body.visual_tokens).toBe(1152);
      for (const im of fake.requests[0]!.images) await expectPaddedRows(im);
    } finally {
      await t.close();
    }
  });
});
