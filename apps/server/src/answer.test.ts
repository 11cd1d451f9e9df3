import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeJpeg } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { b64, postJson, startTestServer } from './_test-helpers.js';
import type { TestServer } from './_test-helpers.js';

let fake: FakeOpenAI;
let t: TestServer;
let photo: Uint8Array;

beforeAll(async () => {
  fake = await startFakeOpenAI({ behaviour: { respond: (r) => `${r.images.length} images: ${r.images.map((i) => `${i.width}x${i.height}`).join(', ')}` } });
  t = await startTestServer({ vlm: `openai:${fake.url}#fake-vlm` });
  photo = await makeJpeg({ width: 1600, height: 1200, pattern: 'quadrants' });
});
afterAll(async () => {
  await t.close();
  await fake.close();
});
afterEach(() => fake.reset());

describe('POST /v1/answer', () => {
  it('asks the runner with the overview and the selected crop, and reports what was sent', async () => {
    const res = await postJson(`${t.url}/v1/answer`, { image: b64(photo), question: 'What colour is the top-left?', max_tokens: 20, return_overlay: true });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body.kind).toBe('answer');
    expect(body.answer).toBe('2 images: 1024x768, 800x600');
    expect(body.model).toBe('fake-vlm');
    expect(body.images.map((i: { role: string }) => i.role)).toEqual(['overview', 'region']);
    expect(body.images[1].box).toEqual(body.selection.regions[0].box);
    expect(body.visual_tokens).toBe(1152);
    expect(body.tokens).toEqual({ visual: 1152, per_image: 576, baseline: 576, all_tiles: 2880 });
    expect(body.overlay.mime).toBe('image/png');
    for (const stage of ['decode', 'tile', 'score', 'select', 'encode', 'upstream', 'total']) expect(body.timings[stage]).toBeGreaterThanOrEqual(0);
    expect(fake.requests[0]?.body?.max_tokens).toBe(20);
  });

  it('returns the crops the runner was sent (the pipeline encodes each once)', async () => {
    const res = await postJson(`${t.url}/v1/answer`, { image: b64(photo), question: 'What colour is the top-left?', k: 2, return_crops: true });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body.crops).toHaveLength(2);
    const sent = fake.requests[0]!.images.slice(1);
    expect(body.crops.map((c: { data: string }) => c.data)).toEqual(sent.map((i) => Buffer.from(i.data!).toString('base64')));
    expect(body.crops.map((c: { box: unknown }) => c.box)).toEqual(body.images.slice(1).map((i: { box: unknown }) => i.box));
  });

  it('answers multiple choice through the runner (logprobs)', async () => {
    fake.setBehaviour({ respond: () => 'B' });
    try {
      const res = await postJson(`${t.url}/v1/answer`, { image: b64(photo), question: 'Which colour is top-right?', options: ['red', 'green', 'blue'] });
      const body = (await res.json()) as Record<string, any>;
      expect(body.kind).toBe('choice');
      expect(body.choice).toMatchObject({ index: 1, letter: 'B', option: 'green', method: 'logprobs' });
    } finally {
      fake.setBehaviour({ respond: (r) => `${r.images.length} images` });
    }
  });

  it('baseline mode sends the overview only and selects nothing', async () => {
    const res = await postJson(`${t.url}/v1/answer`, { image: b64(photo), question: 'q', mode: 'baseline' });
    const body = (await res.json()) as Record<string, any>;
    expect(body.selection).toBeNull();
    expect(body.images).toHaveLength(1);
    expect(fake.requests[0]?.images).toHaveLength(1);
  });

  it("maps runner failures to 502 with the runner's message", async () => {
    fake.script({ failStatus: 500 }, { failStatus: 500 }, { failStatus: 500 }, { failStatus: 500 });
    const s = await startTestServer({ vlm: `openai:${fake.url}#fake-vlm` });
    try {
      // The runner retries 5xx (3 retries, backoff from 500 ms): bounded, but not instant.
      const res = await postJson(`${s.url}/v1/answer`, { image: b64(photo), question: 'q' });
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UPSTREAM_ERROR');
    } finally {
      await s.close();
    }
  }, 30_000);
});
