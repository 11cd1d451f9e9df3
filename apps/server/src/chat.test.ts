import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { makeJpeg } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { chatCompletion, startRawUpstream } from '@semclip/test-kit/server-upstream';
import { dataUrl, postJson, startTestServer } from './_test-helpers.js';
import type { TestServer } from './_test-helpers.js';

let fake: FakeOpenAI;
let t: TestServer;
let client: OpenAI;
let photo: Uint8Array;

const describeImages = {
  respond: (r: { images: readonly { width: number; height: number }[] }) =>
    `${r.images.length} images: ${r.images.map((i) => `${i.width}x${i.height}`).join(', ')}`,
};

beforeAll(async () => {
  fake = await startFakeOpenAI({ models: ['fake-vlm', 'other-vlm'] });
  t = await startTestServer({ upstream: fake.url, model: 'fake-vlm', grid: '2x2' });
  client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  photo = await makeJpeg({ width: 2000, height: 1500, pattern: 'quadrants' });
});
afterAll(async () => {
  await t.close();
  await fake.close();
});
afterEach(() => {
  fake.setBehaviour({});
  fake.reset();
});

function imageMessage(question: string, url = dataUrl(photo)): OpenAI.Chat.Completions.ChatCompletionMessageParam[] {
  return [
    { role: 'system', content: 'You are a careful assistant.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: question },
        { type: 'image_url', image_url: { url, detail: 'high' } },
      ],
    },
  ];
}

describe('POST /v1/chat/completions through the official openai client', () => {
  it('sends the upstream the overview plus the selected crop, and returns the selection under semclip', async () => {
    fake.setBehaviour(describeImages);
    const res = await client.chat.completions.create({
      model: 'fake-vlm',
      messages: imageMessage('What colour is the bottom-left corner?'),
      temperature: 0.2,
      max_tokens: 32,
    });
    expect(res.choices[0]?.message.content).toBe('2 images: 1024x768, 1000x750');
    const semclip = (res as unknown as { semclip: Record<string, any> }).semclip;
    expect(semclip.applied).toBe(true);
    expect(semclip.scorer).toBe('random');
    expect(semclip.selection.kind).toBe('regions');
    expect(semclip.sent.map((s: { role: string }) => s.role)).toEqual(['overview', 'region']);
    expect(semclip.sent[1].box).toEqual(semclip.selection.regions[0].box);
    expect(semclip.timings.score).toBeGreaterThanOrEqual(0);
    expect(semclip.timings.upstream).toBeGreaterThan(0);

    const up = fake.requests[0]!;
    expect(up.images.map((i) => [i.width, i.height])).toEqual([
      [1024, 768],
      [1000, 750],
    ]);
    // The rest of the request is the client's: system message, sampling fields, model.
    expect(up.body).toMatchObject({ model: 'fake-vlm', temperature: 0.2, max_tokens: 32 });
    const messages = up.body?.messages as Array<{ role: string; content: any }>;
    expect(messages[0]).toEqual({ role: 'system', content: 'You are a careful assistant.' });
    const parts = messages[1]!.content as Array<{ type: string; text?: string; image_url?: { detail?: string } }>;
    expect(parts.map((p) => p.type)).toEqual(['image_url', 'image_url', 'text']);
    expect(parts[0]?.image_url?.detail).toBe('high');
    const position = semclip.sent[1].position as string;
    expect(parts[2]?.text).toBe(`Image 2 is a zoomed-in view of the ${position} region of image 1.\nWhat colour is the bottom-left corner?`);
    expect(up.body).not.toHaveProperty('semclip');
  });

  it('streams: chunks pass through in order, then a semclip chunk before [DONE]', async () => {
    fake.setBehaviour({ respond: () => 'The corner is blue.' });
    const stream = await client.chat.completions.create({ model: 'fake-vlm', messages: imageMessage('Which corner is blue?'), stream: true });
    const chunks: Array<Record<string, any>> = [];
    for await (const chunk of stream) chunks.push(chunk as unknown as Record<string, any>);
    const text = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
    expect(text).toBe('The corner is blue.');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.semclip.applied).toBe(true);
    expect(last.semclip.selection.regions).toHaveLength(1);
    expect(chunks.filter((c) => c.semclip)).toHaveLength(1);
    expect(fake.requests[0]?.body?.stream).toBe(true);
    expect(fake.requests[0]?.images).toHaveLength(2);
  });

  it('honours per-request semclip options (k, merge) and strips the field before forwarding', async () => {
    fake.setBehaviour(describeImages);
    const res = await postJson(`${t.url}/v1/chat/completions`, {
      model: 'fake-vlm',
      messages: imageMessage('Everything on the left?'),
      semclip: { k: 2, grid: '1x2', merge: true },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { semclip: Record<string, any> };
    expect(body.semclip.grid).toMatchObject({ rows: 1, cols: 2 });
    expect(body.semclip.selection.regions).toHaveLength(1);
    expect(body.semclip.selection.regions[0].box).toEqual({ x: 0, y: 0, width: 2000, height: 1500 });
    expect(fake.requests[0]?.body).not.toHaveProperty('semclip');
  });

  it('lists the upstream models at GET /v1/models', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['fake-vlm', 'other-vlm']);
  });

  it('refuses remote image URLs unless enabled, in the OpenAI error shape', async () => {
    const err = await client.chat.completions.create({ model: 'fake-vlm', messages: imageMessage('q', 'http://127.0.0.1:9/cat.jpg') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.type).toBe('invalid_request_error');
    expect(e.message).toMatch(/Remote image URLs are disabled/);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('request validation (the chat body schema)', () => {
  it.each([
    [{ messages: [{ role: 'user', content: 5 }] }, 'messages.0.content', /must be a string, an array of content parts or null/],
    [{ messages: [{ content: 'hi' }] }, 'messages.0.role', /Required/],
    [{ messages: [{ role: 'user', content: [{ text: 'x' }] }] }, 'messages.0.content.0', /must be an object with a string "type"/],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, 'messages.0.content.0.image_url.url', /Required/],
    [{ messages: [{ role: 'user', content: [{ type: 'text', text: 5 }] }] }, 'messages.0.content.0.text', /Expected string/],
    [{ messages: [{ role: 'user', content: 'hi' }], semclip: { k: -1 } }, 'semclip.k', /greater than or equal to 0/],
    [{ messages: [{ role: 'user', content: 'hi' }], semclip: { gird: '3x3' } }, 'semclip.gird', /"semclip": unknown field "gird"/],
    [{ messages: [{ role: 'user', content: 'hi' }], model: 5 }, 'model', /Expected string/],
  ])('%j is a 400 naming %s', async (body, param, message) => {
    const res = await postJson(`${t.url}/v1/chat/completions`, { model: 'fake-vlm', ...body });
    expect(res.status).toBe(400);
    const err = ((await res.json()) as { error: { code: string; param: string | null; message: string } }).error;
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', param });
    expect(err.message).toMatch(message);
    expect(fake.requests).toHaveLength(0);
  });

  it('forwards part types SemClip does not read, and extra fields, as they are', async () => {
    fake.setBehaviour(describeImages);
    const messages = [
      {
        role: 'user',
        content: [
          { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
          { type: 'text', text: 'Which corner is red?' },
          { type: 'image_url', image_url: { url: dataUrl(photo) } },
        ],
      },
    ];
    const res = await postJson(`${t.url}/v1/chat/completions`, { model: 'fake-vlm', messages, x_vendor: { a: 1 } });
    expect(res.status).toBe(200);
    const up = fake.requests[0]!;
    expect(up.body).toMatchObject({ x_vendor: { a: 1 } });
    const parts = (up.body!.messages as Array<{ content: Array<{ type: string }> }>)[0]!.content;
    expect(parts.map((p) => p.type)).toEqual(['input_audio', 'image_url', 'image_url', 'text']);
    expect(parts[0]).toEqual(messages[0]!.content[0]);
  });
});

describe('passthrough', () => {
  it('forwards requests without an image byte for byte, and their answers untouched', async () => {
    const up = await startRawUpstream((_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...chatCompletion('plain answer'), extra: { kept: true } }));
    });
    const s = await startTestServer({ upstream: up.url });
    try {
      // Odd spacing and key order: only a byte-exact relay keeps them.
      const raw = '{"model":"m1",  "messages":[{"role":"user","content":"Hello there"}], "temperature":0.5,"x_vendor":{"a":1}}';
      const res = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-semclip')).toBe('passthrough');
      expect(await res.json()).toEqual({ ...chatCompletion('plain answer'), extra: { kept: true } });
      expect(up.requests[0]?.raw.toString('utf8')).toBe(raw);
      // An image with semclip: false also goes through as sent (minus the field).
      const withImage = { model: 'm1', messages: imageMessage('q'), semclip: false };
      const res2 = await postJson(`${s.url}/v1/chat/completions`, withImage);
      expect(res2.status).toBe(200);
      const forwarded = up.requests[1]?.json as Record<string, any>;
      expect(forwarded).not.toHaveProperty('semclip');
      expect(forwarded.messages[1].content[1].image_url.url).toBe(dataUrl(photo));
    } finally {
      await s.close();
      await up.close();
    }
  });

  it('fills in the default model when the request names none', async () => {
    fake.setBehaviour({ respond: () => 'ok' });
    const res = await postJson(`${t.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    expect(fake.requests[0]?.body?.model).toBe('fake-vlm');
  });
});

describe('composite mode', () => {
  it('sends one image with the overview and the crop side by side, to a single-image upstream', async () => {
    const single = await startFakeOpenAI({ behaviour: { singleImage: true, ...describeImages } });
    const s = await startTestServer({ upstream: single.url, model: 'fake-vlm', composite: true });
    try {
      const c = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const res = await c.chat.completions.create({ model: 'fake-vlm', messages: imageMessage('Top-right colour?') });
      expect(res.choices[0]?.message.content).toMatch(/^1 images: \d+x\d+$/);
      const semclip = (res as unknown as { semclip: Record<string, any> }).semclip;
      expect(semclip.composite).toBe(true);
      expect(semclip.sent[0].role).toBe('composite');
      const img = single.requests[0]!.images[0]!;
      // Overview (4:3) and crop (4:3) at the same height, side by side with an 8 px line.
      expect(img.width).toBe(Math.round((4 / 3) * img.height) * 2 + 8);
      expect(single.requests[0]!.texts.at(-1)).toMatch(
        /^The left part of the image is the whole picture; the right part shows its \S+ region zoomed in\.\nTop-right colour\?$/,
      );
    } finally {
      await s.close();
      await single.close();
    }
  });
});
