import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { corrupted, makeAnimatedGif, makeJpeg, makePng, pngHeaderOnly, truncated } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { b64, dataUrl, postJson, startTestServer } from './_test-helpers.js';
import type { TestServer } from './_test-helpers.js';

const MAX_BODY = 2 * 1024 * 1024;
let fake: FakeOpenAI;
let t: TestServer;
let jpeg: Uint8Array;
let small: Uint8Array;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  t = await startTestServer({
    upstream: fake.url,
    model: 'fake-vlm',
    limits: { maxBodyBytes: MAX_BODY, maxQuestionChars: 500, maxMessages: 64, maxParts: 128, maxImages: 4 },
  });
  jpeg = await makeJpeg({ width: 1024, height: 768, pattern: 'noise', seed: 3 });
  small = await makeJpeg({ width: 200, height: 150 });
});
afterAll(async () => {
  await t.close();
  await fake.close();
});

interface BadRequest {
  readonly name: string;
  readonly path: string;
  readonly init: () => Promise<RequestInit>;
  readonly status: number;
  readonly code: string;
}

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const select = (image: Uint8Array | string, extra: Record<string, unknown> = {}): RequestInit =>
  json({ image: typeof image === 'string' ? image : b64(image), question: 'What does the sign say?', ...extra });
const chat = (messages: unknown, extra: Record<string, unknown> = {}): RequestInit => json({ model: 'fake-vlm', messages, ...extra });
const imagePart = (bytes: Uint8Array) => ({ type: 'image_url', image_url: { url: dataUrl(bytes) } });

function corpus(): BadRequest[] {
  return [
    { name: 'truncated JPEG', path: '/v1/select', init: async () => select(truncated(jpeg, 0.5)), status: 400, code: 'IMAGE_TRUNCATED' },
    { name: 'corrupt JPEG data', path: '/v1/select', init: async () => select(corrupted(jpeg, 0.3, 8192)), status: 400, code: 'IMAGE_CORRUPT' },
    {
      name: '30000x30000 PNG header (never decoded)',
      path: '/v1/select',
      init: async () => select(pngHeaderOnly(30000, 30000)),
      status: 413,
      code: 'IMAGE_TOO_LARGE',
    },
    { name: '0x0 PNG header', path: '/v1/select', init: async () => select(pngHeaderOnly(0, 0)), status: 400, code: 'IMAGE_EMPTY' },
    {
      name: 'random bytes',
      path: '/v1/select',
      init: async () => select(new Uint8Array(4096).map((_, i) => (i * 7919) % 251)),
      status: 415,
      code: 'IMAGE_UNSUPPORTED',
    },
    {
      name: 'text as an image',
      path: '/v1/select',
      init: async () => select(new TextEncoder().encode('<html>not an image</html>')),
      status: 415,
      code: 'IMAGE_UNSUPPORTED',
    },
    { name: 'animated GIF', path: '/v1/select', init: async () => select(await makeAnimatedGif({ frames: 3 })), status: 400, code: 'IMAGE_ANIMATED' },
    { name: 'empty image string', path: '/v1/select', init: async () => select(''), status: 400, code: 'INVALID_ARGUMENT' },
    {
      name: 'question over the limit',
      path: '/v1/select',
      init: async () => json({ image: b64(jpeg), question: 'why '.repeat(200) }),
      status: 400,
      code: 'INVALID_QUESTION',
    },
    {
      name: 'wrong content type',
      path: '/v1/select',
      init: async () => ({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'no content type',
      path: '/v1/select',
      init: async () => ({ method: 'POST', body: new Uint8Array([1, 2, 3]) }),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    { name: 'malformed JSON', path: '/v1/select', init: async () => json('{"image": "AAAA", "question": '), status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'JSON that is an array', path: '/v1/select', init: async () => json('[1,2,3]'), status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'JSON null', path: '/v1/select', init: async () => json('null'), status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'empty body', path: '/v1/select', init: async () => json(''), status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'number as question', path: '/v1/select', init: async () => json({ image: b64(jpeg), question: 42 }), status: 400, code: 'INVALID_ARGUMENT' },
    {
      name: 'oversized body with Content-Length',
      path: '/v1/select',
      init: async () => select(new Uint8Array(MAX_BODY + 1024)),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    },
    {
      name: 'multipart without an image',
      path: '/v1/select',
      init: async () => {
        const f = new FormData();
        f.append('question', 'q');
        return { method: 'POST', body: f };
      },
      status: 400,
      code: 'INVALID_ARGUMENT',
    },
    {
      name: 'multipart with a broken boundary',
      path: '/v1/select',
      init: async () => ({ method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=xyz' }, body: '--abc\r\nnonsense' }),
      status: 400,
      code: 'INVALID_ARGUMENT',
    },
    {
      name: 'multipart with a truncated image file',
      path: '/v1/select',
      init: async () => {
        const f = new FormData();
        f.append('image', new Blob([truncated(jpeg, 0.3)]), 'cut.jpg');
        f.append('question', 'q');
        return { method: 'POST', body: f };
      },
      status: 400,
      code: 'IMAGE_TRUNCATED',
    },
    {
      name: 'chat: 10,000-part message',
      path: '/v1/chat/completions',
      init: async () => chat([{ role: 'user', content: Array.from({ length: 10_000 }, () => ({ type: 'text', text: 'x' })) }]),
      status: 400,
      code: 'INVALID_ARGUMENT',
    },
    {
      name: 'chat: 10,000 messages',
      path: '/v1/chat/completions',
      init: async () => chat(Array.from({ length: 10_000 }, () => ({ role: 'user', content: 'x' }))),
      status: 400,
      code: 'INVALID_ARGUMENT',
    },
    {
      name: 'chat: too many images',
      path: '/v1/chat/completions',
      init: async () =>
        chat([{ role: 'user', content: Array.from({ length: 5 }, () => ({ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } })) }]),
      status: 400,
      code: 'INVALID_ARGUMENT',
    },
    {
      name: 'chat: two images in the last turn',
      path: '/v1/chat/completions',
      init: async () => chat([{ role: 'user', content: [{ type: 'text', text: 'q' }, imagePart(small), imagePart(small)] }]),
      status: 400,
      code: 'INVALID_ARGUMENT',
    },
    { name: 'chat: messages not an array', path: '/v1/chat/completions', init: async () => chat('hello'), status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'chat: no messages', path: '/v1/chat/completions', init: async () => chat([]), status: 400, code: 'INVALID_ARGUMENT' },
    {
      name: 'chat: content a number',
      path: '/v1/chat/completions',
      init: async () => chat([{ role: 'user', content: 5 }]),
      status: 400,
      code: 'INVALID_ARGUMENT',
    },
    {
      name: 'chat: part without type',
      path: '/v1/chat/completions',
      init: async () => chat([{ role: 'user', content: [{ text: 'x' }] }]),
      status: 400,
      code: 'INVALID_ARGUMENT',
    },
    {
      name: 'chat: image part without url',
      path: '/v1/chat/completions',
      init: async () => chat([{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }]),
      status: 400,
      code: 'INVALID_ARGUMENT',
    },
    {
      name: 'chat: truncated image',
      path: '/v1/chat/completions',
      init: async () => chat([{ role: 'user', content: [{ type: 'text', text: 'q' }, imagePart(truncated(jpeg, 0.4))] }]),
      status: 400,
      code: 'IMAGE_TRUNCATED',
    },
    {
      name: 'chat: huge image header',
      path: '/v1/chat/completions',
      init: async () => chat([{ role: 'user', content: [{ type: 'text', text: 'q' }, imagePart(pngHeaderOnly(40000, 40000))] }]),
      status: 413,
      code: 'IMAGE_TOO_LARGE',
    },
    {
      name: 'chat: data URL that is not base64',
      path: '/v1/chat/completions',
      init: async () =>
        chat([
          {
            role: 'user',
            content: [
              { type: 'text', text: 'q' },
              { type: 'image_url', image_url: { url: 'data:image/png,%89PNG' } },
            ],
          },
        ]),
      status: 400,
      code: 'INVALID_ARGUMENT',
    },
    {
      name: 'chat: bad semclip options',
      path: '/v1/chat/completions',
      init: async () => chat([{ role: 'user', content: 'hi' }], { semclip: { k: -1 } }),
      status: 400,
      code: 'INVALID_ARGUMENT',
    },
    { name: 'chat: malformed JSON', path: '/v1/chat/completions', init: async () => json('{"messages": [}'), status: 400, code: 'INVALID_ARGUMENT' },
    {
      name: 'chat: wrong content type',
      path: '/v1/chat/completions',
      init: async () => ({ method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<x/>' }),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'chat: oversized body',
      path: '/v1/chat/completions',
      init: async () => chat([{ role: 'user', content: 'x'.repeat(MAX_BODY) }]),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    },
  ];
}

async function send(bad: BadRequest): Promise<{ status: number; code: string | undefined }> {
  const res = await fetch(`${t.url}${bad.path}`, await bad.init());
  const body = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
  return { status: res.status, code: body?.error?.code };
}

describe('bad inputs', () => {
  it.each(corpus().map((c) => [c.name, c] as const))('%s -> a clear 4xx', async (_name, bad) => {
    const got = await send(bad);
    expect(got).toEqual({ status: bad.status, code: bad.code });
  });

  it('stops reading an oversized chunked body (no Content-Length) and answers 413', async () => {
    const { status, body, sent } = await new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
      let sent = 0;
      const req = request(`${t.url}/v1/select`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sent }));
      });
      req.on('error', () => undefined); // the server closes the connection once it has answered
      const chunk = Buffer.alloc(64 * 1024, 65);
      const pump = (): void => {
        // Bounded: 16x the limit at most, whatever the server does.
        while (sent < MAX_BODY * 16 && !req.destroyed) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
      setTimeout(() => reject(new Error('no answer')), 20_000).unref();
    });
    expect(status).toBe(413);
    expect(JSON.parse(body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(sent).toBeLessThan(MAX_BODY * 16);
  });

  it('refuses a 10,000-part message fast, before any image work', async () => {
    const bad = corpus().find((c) => c.name === 'chat: 10,000-part message') as BadRequest;
    const init = await bad.init();
    const started = performance.now();
    const res = await fetch(`${t.url}${bad.path}`, init);
    expect(res.status).toBe(400);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(fake.requests).toHaveLength(0);
  });

  it('survives the whole corpus three times with no 5xx, and the heap returns to its baseline', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'vitest runs this file with --expose-gc').toBeTypeOf('function');
    const collect = async () => {
      for (let i = 0; i < 3; i++) {
        gc?.();
        await new Promise((r) => setTimeout(r, 20));
      }
      return process.memoryUsage().heapUsed;
    };
    const cases = corpus();
    await Promise.all(cases.map(send)); // warm every code path once
    const baseline = await collect();
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(cases.map(send));
      for (const r of results) expect(r.status).toBeGreaterThanOrEqual(400), expect(r.status).toBeLessThan(500);
    }
    const after = await collect();
    // Each round moves ~30 MB through the server; a leak of even one body per request would show.
    expect(after - baseline).toBeLessThan(16 * 1024 * 1024);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    expect((await postJson(`${t.url}/v1/select`, { image: b64(jpeg), question: 'fine?' })).status).toBe(200);
  });
});

describe('auth', () => {
  const KEY = 'sk-semclip-test-0123456789abcdef';
  const UPSTREAM_KEY = 'sk-upstream-secret-fedcba9876543210';
  let a: TestServer;
  beforeAll(async () => {
    a = await startTestServer({ apiKey: KEY, upstream: fake.url, model: 'fake-vlm', upstreamApiKey: UPSTREAM_KEY });
  });
  afterAll(() => a.close());

  it.each([
    ['no key', {}, 401],
    ['a wrong key', { authorization: 'Bearer sk-wrong' }, 401],
    ['a key of the right length but wrong', { authorization: `Bearer ${KEY.slice(0, -1)}X` }, 401],
    ['the key', { authorization: `Bearer ${KEY}` }, 200],
    ['the key in x-api-key', { 'x-api-key': KEY }, 200],
  ] as const)('/v1/select with %s', async (_name, headers, status) => {
    const res = await postJson(`${a.url}/v1/select`, { image: b64(jpeg), question: 'q' }, headers);
    expect(res.status).toBe(status);
    if (status === 401) {
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    }
  });

  it('keeps the probes and the page open, and /metrics closed', async () => {
    expect((await fetch(`${a.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${a.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${a.url}/`)).status).toBe(200);
    expect((await fetch(`${a.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${a.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
  });

  it('answers the OpenAI client with an AuthenticationError, and sends the upstream its own key only', async () => {
    const wrong = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: 'sk-nope', maxRetries: 0 });
    await expect(wrong.chat.completions.create({ model: 'fake-vlm', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    fake.reset();
    const right = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const res = await right.chat.completions.create({
      model: 'fake-vlm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'q' },
            { type: 'image_url', image_url: { url: dataUrl(jpeg) } },
          ],
        },
      ],
    });
    expect(res.choices[0]?.message.content).toBe('fake answer');
    expect(fake.requests[0]?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });

  it('never writes either key to the logs', async () => {
    await postJson(`${a.url}/v1/chat/completions`, { model: 'fake-vlm', messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${KEY}` });
    await postJson(`${a.url}/v1/select`, { image: 'AAAA', question: 'q' }, { authorization: `Bearer ${KEY}x` });
    const text = JSON.stringify(a.logs);
    expect(a.logs.length).toBeGreaterThan(5);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(UPSTREAM_KEY);
    expect(text).not.toContain('sk-');
  });
});

describe('config', () => {
  it('refuses a short API key', async () => {
    await expect(startTestServer({ apiKey: 'short' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('refuses a default scorer that is not loaded', async () => {
    await expect(startTestServer({ scorer: 'ocr', scorers: ['random'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('answers large images within the pixel limit', async () => {
    const png = await makePng({ width: 3000, height: 2000 });
    const res = await postJson(`${t.url}/v1/select`, { image: b64(png), question: 'q', return_overlay: true });
    expect(res.status).toBe(200);
  });
});
