import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import sharp from 'sharp';
import { makeRaw } from './images.js';
import { headerSize, startFakeOpenAI } from './openai-upstream.js';
import type { FakeOpenAI } from './openai-upstream.js';

describe('headerSize', () => {
  it.each([
    [37, 23],
    [333, 201],
    [1, 1],
  ])('reads %ix%i from JPEG, progressive JPEG, PNG, GIF and every WebP flavour', async (w, h) => {
    const raw = makeRaw({ width: w, height: h, pattern: 'noise' });
    const img = () => sharp(raw.data, { raw: { width: w, height: h, channels: 3 } });
    const cases = [
      ['jpeg', await img().jpeg().toBuffer()],
      ['jpeg', await img().jpeg({ progressive: true }).toBuffer()],
      ['png', await img().png().toBuffer()],
      ['gif', await img().gif().toBuffer()],
      ['webp', await img().webp().toBuffer()],
      ['webp', await img().webp({ lossless: true }).toBuffer()],
      ['webp', await img().ensureAlpha(0.5).webp().toBuffer()],
    ] as const;
    for (const [format, buf] of cases) expect([format, headerSize(new Uint8Array(buf))]).toEqual([format, { format, width: w, height: h }]);
  });

  it('returns undefined for other bytes', () => {
    expect(headerSize(new Uint8Array([1, 2, 3, 4]))).toBeUndefined();
  });
});

describe('startFakeOpenAI', () => {
  let fake: FakeOpenAI;
  const png = async (w: number, h: number) =>
    `data:image/png;base64,${(
      await sharp({ create: { width: w, height: h, channels: 3, background: '#888' } })
        .png()
        .toBuffer()
    ).toString('base64')}`;
  const post = (body: unknown) =>
    fetch(`${fake.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const chat = async (images: string[], extra: Record<string, unknown> = {}) => ({
    model: 'fake-vlm',
    messages: [{ role: 'user', content: [...images.map((url) => ({ type: 'image_url', image_url: { url } })), { type: 'text', text: 'q?' }] }],
    ...extra,
  });

  beforeAll(async () => {
    fake = await startFakeOpenAI();
  });
  afterAll(() => fake.close());
  afterEach(() => {
    fake.setBehaviour({});
    fake.reset();
  });

  it('records images in order with their sizes, and the texts', async () => {
    fake.setBehaviour({ respond: (r) => `${r.images.length} images` });
    const res = await post(await chat([await png(30, 20), await png(7, 9)]));
    const json = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    expect(json.choices[0]!.message.content).toBe('2 images');
    expect(fake.requests[0]!.images.map((i) => [i.mime, i.format, i.width, i.height])).toEqual([
      ['image/png', 'png', 30, 20],
      ['image/png', 'png', 7, 9],
    ]);
    expect(fake.requests[0]!.texts).toEqual(['q?']);
  });

  it('plays scripted behaviours first, then the default', async () => {
    fake.script({ failStatus: 429, retryAfter: 2 }, { failStatus: 500 });
    const a = await post(await chat([]));
    const b = await post(await chat([]));
    const c = await post(await chat([]));
    expect([a.status, b.status, c.status]).toEqual([429, 500, 200]);
    expect(a.headers.get('retry-after')).toBe('2');
    expect(fake.requests.map((r) => r.status)).toEqual([429, 500, 200]);
  });

  it('streams SSE chunks that add up to the answer', async () => {
    fake.setBehaviour({ respond: () => 'fifteen minutes exactly' });
    const res = await post(await chat([], { stream: true }));
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = (await res.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const deltas = events
      .slice(0, -1)
      .map((e) => JSON.parse(e.slice('data: '.length)) as { choices: Array<{ delta: { content?: string }; finish_reason: string | null }> });
    expect(deltas.map((d) => d.choices[0]!.delta.content ?? '').join('')).toBe('fifteen minutes exactly');
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('honours, rejects or ignores logprobs', async () => {
    fake.setBehaviour({ respond: () => 'B' });
    const lp = (await (await post(await chat([], { logprobs: true, top_logprobs: 3 }))).json()) as {
      choices: Array<{ logprobs: { content: Array<{ top_logprobs: unknown[] }> } }>;
    };
    expect(lp.choices[0]!.logprobs.content[0]!.top_logprobs).toHaveLength(3);
    fake.setBehaviour({ logprobs: 'reject' });
    expect((await post(await chat([], { logprobs: true }))).status).toBe(400);
    fake.setBehaviour({ logprobs: 'ignore' });
    const ignored = (await (await post(await chat([], { logprobs: true }))).json()) as { choices: Array<{ logprobs: unknown }> };
    expect(ignored.choices[0]!.logprobs).toBeNull();
  });

  it('answers 400 to two images when single-image, and to a body that is not JSON', async () => {
    fake.setBehaviour({ singleImage: true });
    expect((await post(await chat([await png(4, 4), await png(4, 4)]))).status).toBe(400);
    expect((await post(await chat([await png(4, 4)]))).status).toBe(200);
    const bad = await fetch(`${fake.url}/chat/completions`, { method: 'POST', body: '{nope' });
    expect(bad.status).toBe(400);
  });

  it('lists models and 404s unknown routes', async () => {
    expect(((await (await fetch(`${fake.url}/models`)).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id)).toEqual(['fake-vlm']);
    expect((await fetch(`${fake.url}/embeddings`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('takes latencyMs from arrival and tracks requests in flight', async () => {
    fake.setBehaviour({ latencyMs: 150 });
    const t0 = performance.now();
    await Promise.all([post(await chat([])), post(await chat([])), post(await chat([]))]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(fake.maxInFlight).toBe(3);
    await vi.waitFor(() => expect(fake.inFlight).toBe(0));
  });
});
