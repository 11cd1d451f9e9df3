import { makeJpeg } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServerConfig, serverConfigFromEnv } from './_config.js';
import { b64, dataUrl, postJson, startTestServer } from './_test-helpers.js';
import type { TestServer } from './_test-helpers.js';

let fake: FakeOpenAI;
let t: TestServer;
let jpeg: Uint8Array;

const question = 'What does the sign say?';
const chatBody = (semclip: Record<string, unknown>) => ({
  model: 'fake-vlm',
  messages: [
    {
      role: 'user',
      content: [
        { type: 'text', text: question },
        { type: 'image_url', image_url: { url: dataUrl(jpeg) } },
      ],
    },
  ],
  semclip,
});

beforeAll(async () => {
  fake = await startFakeOpenAI();
  t = await startTestServer({ upstream: fake.url, model: 'fake-vlm' });
  // The report's image: 1024x1024 JPEG.
  jpeg = await makeJpeg({ width: 1024, height: 1024, pattern: 'noise', seed: 5 });
});
afterAll(async () => {
  await t.close();
  await fake.close();
});

describe('tiles per request', () => {
  it('refuses {"grid":"32x32","levels":2} (1,049,600 tiles) with 400 INVALID_GRID naming the limit and --max-tiles', async () => {
    const res = await postJson(`${t.url}/v1/select`, { image: b64(jpeg), question, grid: '32x32', levels: 2 });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(text.length).toBeLessThan(1000);
    const { error } = JSON.parse(text) as { error: { code: string; message: string } };
    expect(error.code).toBe('INVALID_GRID');
    expect(error.message).toContain('1,049,600 tiles');
    expect(error.message).toContain('limit of 1,024 tiles');
    expect(error.message).toContain('--max-tiles');
  });

  it('refuses it in the chat route too (the semclip field), before the upstream is called', async () => {
    fake.reset();
    const res = await postJson(`${t.url}/v1/chat/completions`, chatBody({ grid: '32x32', levels: 2 }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string; type: string } }).error).toMatchObject({ code: 'INVALID_GRID', type: 'invalid_request_error' });
    expect(fake.requests).toHaveLength(0);
  });

  it('answers the largest grid within the default limit (32x32 = 1,024 tiles) with a bounded response and semclip field', async () => {
    const res = await postJson(`${t.url}/v1/select`, { image: b64(jpeg), question, grid: '32x32' });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect((JSON.parse(text) as { grid: { tiles: unknown[] } }).grid.tiles).toHaveLength(1024);
    // 1,024 tiles with boxes, scores and the ranking: a few hundred KB, not 150 MB.
    expect(text.length).toBeLessThan(1024 * 1024);

    const chat = await postJson(`${t.url}/v1/chat/completions`, chatBody({ grid: '32x32' }));
    expect(chat.status).toBe(200);
    const { semclip } = (await chat.json()) as { semclip: unknown };
    expect(JSON.stringify(semclip).length).toBeLessThan(512 * 1024);
  });

  it('limits.maxTiles is the cap: 4x4 passes a cap of 16, 5x5 and 2x2 with 2 levels (20 tiles) do not', async () => {
    const s = await startTestServer({ limits: { maxTiles: 16 }, warmup: false });
    try {
      expect((await postJson(`${s.url}/v1/select`, { image: b64(jpeg), question, grid: '4x4' })).status).toBe(200);
      for (const extra of [{ grid: '5x5' }, { grid: '2x2', levels: 2 }]) {
        const res = await postJson(`${s.url}/v1/select`, { image: b64(jpeg), question, ...extra });
        expect(res.status).toBe(400);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('INVALID_GRID');
      }
    } finally {
      await s.close();
    }
  });
});

describe('response size', () => {
  it('refuses crops past limits.maxResponseBytes with 400 RESPONSE_TOO_LARGE saying the limit and --max-response', async () => {
    const s = await startTestServer({ limits: { maxResponseBytes: 256 * 1024 }, warmup: false });
    try {
      // 16 noise crops of 256x256 px: ~1 MB of base64 JPEG.
      const res = await postJson(`${s.url}/v1/select`, { image: b64(jpeg), question, grid: '4x4', k: 16, return_crops: true });
      const text = await res.text();
      expect(res.status).toBe(400);
      const { error } = JSON.parse(text) as { error: { code: string; message: string } };
      expect(error.code).toBe('RESPONSE_TOO_LARGE');
      expect(error.message).toContain('256.0 KiB');
      expect(error.message).toContain('--max-response');
      expect(res.headers.get('x-semclip-error')).toBe('RESPONSE_TOO_LARGE');
      // A response within the cap is served as before.
      const ok = await postJson(`${s.url}/v1/select`, { image: b64(jpeg), question, grid: '4x4', k: 1, return_crops: true });
      expect(ok.status).toBe(200);
      expect((await ok.text()).length).toBeLessThan(256 * 1024);
    } finally {
      await s.close();
    }
  });

  it('holds whole responses (the overlay included) to the cap', async () => {
    const s = await startTestServer({ limits: { maxResponseBytes: 16 * 1024 }, warmup: false });
    try {
      const res = await postJson(`${s.url}/v1/select`, { image: b64(jpeg), question, return_overlay: true });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('RESPONSE_TOO_LARGE');
    } finally {
      await s.close();
    }
  });

  it('defaults: 1,024 tiles and 32 MiB; SEMCLIP_MAX_TILES and SEMCLIP_MAX_RESPONSE set them', () => {
    const { limits } = resolveServerConfig({ scorer: 'random' });
    expect(limits.maxTiles).toBe(1024);
    expect(limits.maxResponseBytes).toBe(32 * 1024 * 1024);
    expect(serverConfigFromEnv({ SEMCLIP_MAX_TILES: '4096', SEMCLIP_MAX_RESPONSE: '64MiB' }).limits).toEqual({
      maxTiles: 4096,
      maxResponseBytes: 64 * 1024 * 1024,
    });
  });
});
