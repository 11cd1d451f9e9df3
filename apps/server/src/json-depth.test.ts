import { makeJpeg } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonDeeperThan } from './_body.js';
import { resolveServerConfig, serverConfigFromEnv } from './_config.js';
import { b64, dataUrl, postJson, startTestServer } from './_test-helpers.js';
import type { TestServer } from './_test-helpers.js';

let fake: FakeOpenAI;
let t: TestServer;
let jpeg: Uint8Array;

/** `[[[...]]]` nested `depth` levels: the 20 KB body of the hardening report at 10,000. */
const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  t = await startTestServer({ upstream: fake.url, model: 'fake-vlm' });
  jpeg = await makeJpeg({ width: 320, height: 240 });
});
afterAll(async () => {
  await t.close();
  await fake.close();
});

describe('deeply nested JSON bodies', () => {
  const deep = nested(10_000);

  it('/v1/chat/completions answers a body nested 10,000 deep with 400, not 500', async () => {
    // Passthrough with no model (the server adds it, re-serialising the body), with an image, and a bare array.
    const bodies = [
      `{"messages":[{"role":"user","content":"hi"}],"extra":${deep}}`,
      `{"model":"fake-vlm","messages":[{"role":"user","content":[{"type":"text","text":"What is it?"},{"type":"image_url","image_url":{"url":"${dataUrl(jpeg)}"}}]}],"extra":${deep}}`,
      deep,
    ];
    for (const body of bodies) {
      const res = await postJson(`${t.url}/v1/chat/completions`, body);
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { code: string; message: string; type: string } };
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', type: 'invalid_request_error' });
      expect(error.message).toContain('more than 64 levels deep');
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('/v1/select and /v1/answer answer it with the same 400', async () => {
    for (const path of ['/v1/select', '/v1/answer']) {
      const res = await postJson(`${t.url}${path}`, `{"image":"${b64(jpeg)}","question":"What is it?","extra":${deep}}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('more than 64 levels deep'),
      });
    }
  });

  it('accepts nesting up to the limit (forwarded untouched), and brackets inside strings do not count', async () => {
    fake.reset();
    const res = await postJson(`${t.url}/v1/chat/completions`, {
      model: 'fake-vlm',
      messages: [{ role: 'user', content: `quoted brackets "[[[[" and ${'['.repeat(500)}` }],
      metadata: JSON.parse(nested(62)),
    });
    expect(res.status).toBe(200);
    expect(fake.requests).toHaveLength(1);
  });

  it('an upstream reply nested too deep is a 502, not a 500', async () => {
    const deepReply: typeof fetch = async () =>
      new Response(`{"id":"x","object":"chat.completion","choices":[],"extra":${nested(5000)}}`, {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    const s = await startTestServer({ upstream: 'http://127.0.0.1:9/v1', model: 'fake-vlm', fetch: deepReply, warmup: false });
    try {
      const res = await postJson(`${s.url}/v1/chat/completions`, {
        model: 'fake-vlm',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is it?' },
              { type: 'image_url', image_url: { url: dataUrl(jpeg) } },
            ],
          },
        ],
      });
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UPSTREAM_BAD_RESPONSE');
    } finally {
      await s.close();
    }
  });

  it('the limit is limits.maxJsonDepth (SEMCLIP_MAX_JSON_DEPTH), default 64', () => {
    expect(resolveServerConfig({ scorer: 'random' }).limits.maxJsonDepth).toBe(64);
    expect(serverConfigFromEnv({ SEMCLIP_MAX_JSON_DEPTH: '128' }).limits?.maxJsonDepth).toBe(128);
  });
});

describe('jsonDeeperThan', () => {
  const over = (text: string, max: number) => jsonDeeperThan(Buffer.from(text), max);
  it('counts arrays and objects, not brackets in strings or after escaped quotes', () => {
    expect(over('{"a":[1,{"b":[]}]}', 4)).toBe(false);
    expect(over('{"a":[1,{"b":[]}]}', 3)).toBe(true);
    expect(over('{"a":"[[[[[[\\"[[[[","b":1}', 1)).toBe(false);
    expect(over('{"a":"\\\\","b":[[]]}', 2)).toBe(true);
    expect(over(nested(10_000), 64)).toBe(true);
    expect(over(nested(64), 64)).toBe(false);
  });
});
