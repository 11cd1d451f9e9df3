import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeJpeg } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI, RecordedRequest } from '@semclip/test-kit/openai-upstream';
import { b64, dataUrl, postJson, startTestServer } from './_test-helpers.js';
import type { TestServer } from './_test-helpers.js';

/**
 * The fake upstream answers the vlm-yesno scorer's per-tile question by the tile's width: a
 * 1000x600 image on a 1x3 grid has tiles 333, 333 and 334 px wide, and only the 334-px one
 * (tile 2) holds the answer. Its top logprobs say Yes at 0.9; the others, at 0.2.
 */
const YES: Record<number, number> = { 333: 0.2, 334: 0.9 };
const isYesNo = (r: RecordedRequest) => r.texts.some((t) => t.includes('Answer Yes or No'));
const pYes = (r: RecordedRequest) => YES[r.images[0]?.width ?? 0] ?? 0.5;

let fake: FakeOpenAI;
let t: TestServer;
let photo: Uint8Array;

beforeAll(async () => {
  fake = await startFakeOpenAI({
    behaviour: {
      respond: (r) => (isYesNo(r) ? (pYes(r) > 0.5 ? 'Yes' : 'No') : `${r.images.length} images: ${r.images.map((i) => `${i.width}x${i.height}`).join(', ')}`),
      topLogprobs: (r) => [
        { token: 'Yes', logprob: Math.log(pYes(r)) },
        { token: 'No', logprob: Math.log(1 - pYes(r)) },
      ],
    },
  });
  t = await startTestServer({ scorer: 'vlm-yesno', upstream: fake.url, model: 'fake-vlm', grid: '1x3' });
  photo = await makeJpeg({ width: 1000, height: 600, pattern: 'quadrants' });
});
afterAll(async () => {
  await t.close();
  await fake.close();
});
afterEach(() => fake.reset());

describe('a server with scorer vlm-yesno (the upstream scores the tiles)', () => {
  it('loads it from the pipeline registry with the upstream runner, and does not warm it up against the upstream', async () => {
    const info = (await (await fetch(`${t.url}/v1/info`)).json()) as Record<string, any>;
    expect(info).toMatchObject({ scorers: ['vlm-yesno'], scorer: 'vlm-yesno', answer: { model: 'fake-vlm' } });
    expect(fake.requests).toHaveLength(0);
  });

  it('POST /v1/select: the scores are the fake upstream P(Yes) per tile, and the Yes tile is selected', async () => {
    const res = await postJson(`${t.url}/v1/select`, { image: b64(photo), question: 'Where is the yellow?', return_crops: true });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body.grid.tiles.map((tile: { box: { width: number } }) => tile.box.width)).toEqual([333, 333, 334]);
    expect(body.scores).toHaveLength(3);
    body.scores.forEach((s: number, i: number) => expect(s).toBeCloseTo(i === 2 ? 0.9 : 0.2, 6));
    expect(body.selection.regions[0].tiles).toEqual([2]);
    expect(body.scorer).toMatchObject({
      id: 'vlm-yesno',
      meta: { model: 'fake-vlm', method: 'logprobs', methods: ['logprobs', 'logprobs', 'logprobs'], answers: ['No', 'No', 'Yes'] },
    });
    expect(body.crops).toHaveLength(1);
    expect(body.crops[0]).toMatchObject({ tiles: [2], width: 334, height: 600, mime: 'image/jpeg' });
    // One yes/no question per tile, each with the tile alone, asking for logprobs.
    expect(fake.requests).toHaveLength(3);
    for (const r of fake.requests) {
      expect(isYesNo(r)).toBe(true);
      expect(r.images).toHaveLength(1);
      expect(r.texts.at(-1)).toContain('Where is the yellow?');
      expect(r.body).toMatchObject({ model: 'fake-vlm', logprobs: true });
    }
  });

  it('POST /v1/chat/completions: scores with the upstream, then sends it the overview and the Yes tile', async () => {
    const res = await postJson(`${t.url}/v1/chat/completions`, {
      model: 'fake-vlm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is on the right?' },
            { type: 'image_url', image_url: { url: dataUrl(photo) } },
          ],
        },
      ],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }>; semclip: Record<string, any> };
    expect(body.choices[0]?.message.content).toBe('2 images: 1000x600, 334x600');
    expect(body.semclip).toMatchObject({ applied: true, scorer: 'vlm-yesno', visual_tokens: 1152 });
    expect(body.semclip.selection.regions[0].tiles).toEqual([2]);
    expect(body.semclip.sent.map((s: { role: string; tokens: number }) => [s.role, s.tokens])).toEqual([
      ['overview', 576],
      ['region', 576],
    ]);
    // Three scoring calls, then the chat itself with the client's question.
    expect(fake.requests.filter(isYesNo)).toHaveLength(3);
    const chat = fake.requests.filter((r) => !isYesNo(r));
    expect(chat).toHaveLength(1);
    expect(chat[0]?.texts.at(-1)).toMatch(/What is on the right\?$/);
  });

  it('POST /v1/answer scores with the same runner that answers', async () => {
    const res = await postJson(`${t.url}/v1/answer`, { image: b64(photo), question: 'What is on the right?' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body.answer).toBe('2 images: 1000x600, 334x600');
    expect(body.scorer.id).toBe('vlm-yesno');
    expect(body.tokens).toEqual({ visual: 1152, per_image: 576, baseline: 576, all_tiles: 2304 });
    expect(fake.requests).toHaveLength(4);
  });
});

describe('VLM scorers at startup', () => {
  it('vlm-embed with an openai upstream: INVALID_ARGUMENT saying it needs a local VLM', async () => {
    const err = await startTestServer({ scorer: 'vlm-embed', upstream: fake.url, model: 'fake-vlm' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', details: { scorer: 'vlm-embed', runner: 'openai' } });
    expect((err as Error).message).toMatch(/vlm-embed scorer needs a local VLM/);
    expect((err as { hint?: string }).hint).toMatch(/--vlm local:<model-id>.*vlm-yesno/);
  });

  it('vlm-yesno on a server without a VLM: INVALID_ARGUMENT naming the flags', async () => {
    const err = await startTestServer({ scorer: 'vlm-yesno', upstream: fake.url }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((err as Error).message).toMatch(/vlm-yesno scorer scores with the server's VLM, and this server has none/);
    expect((err as { hint?: string }).hint).toMatch(/--upstream and --model/);
  });

  it('a scorer id the registry does not know: UNKNOWN_SCORER listing the registered ones', async () => {
    const err = await startTestServer({ scorer: 'random', scorers: ['random', 'nope'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNKNOWN_SCORER', details: { option: 'scorers' } });
    expect((err as { expected?: string }).expected).toMatch(/random, ocr, clip, siglip, distant, vlm-embed, vlm-yesno/);
  });

  it('a model for a scorer that takes none is refused by the registry', async () => {
    await expect(startTestServer({ scorer: 'random', scorerOptions: { model: 'clip-vit-base-patch32' } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { scorer: 'random', option: 'model' },
    });
  });

  it('random and vlm-yesno load side by side: each family gets only the shared options it reads', async () => {
    const s = await startTestServer({ scorer: 'random', scorers: ['random', 'vlm-yesno'], vlm: `openai:${fake.url}#fake-vlm`, scorerOptions: { seed: 3 } });
    try {
      const info = (await (await fetch(`${s.url}/v1/info`)).json()) as Record<string, any>;
      expect(info.scorers).toEqual(['random', 'vlm-yesno']);
    } finally {
      await s.close();
    }
  });
});
