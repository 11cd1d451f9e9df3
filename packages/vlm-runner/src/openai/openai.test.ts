import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PromptImage } from '@semclip/core';
import { isSemclipError } from '@semclip/core';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { makeJpeg, makeRaw } from '@semclip/test-kit/images';
import { createOpenAIRunner } from './index.js';
import type { OpenAIRunnerOptions } from './index.js';

let fake: FakeOpenAI;
let overview: PromptImage;
let crop: PromptImage;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  overview = { role: 'overview', image: { mime: 'image/jpeg', data: await makeJpeg({ width: 800, height: 600 }), width: 800, height: 600 } };
  crop = { role: 'region', image: makeRaw({ width: 300, height: 200, pattern: 'quadrants' }), box: { x: 1500, y: 0, width: 500, height: 400 } };
});
afterAll(async () => {
  await fake.close();
});
afterEach(() => {
  fake.setBehaviour({});
  fake.reset();
});

function runner(options: Partial<OpenAIRunnerOptions> = {}) {
  return createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', retryBaseMs: 5, retryMaxMs: 200, env: {}, ...options });
}

async function caught(promise: Promise<unknown>): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

const imageSize = { width: 2000, height: 1500 };

describe('openai runner: what is sent', () => {
  it('sends the overview first, then the crop, as JPEG data URLs, with the zoom instruction', async () => {
    fake.setBehaviour({ respond: () => '  Ten minutes.  ' });
    const r = runner();
    // Regions given before the overview are reordered: the overview always comes first.
    const res = await r.answer({ images: [crop, overview], question: 'What is the wait time?', instruction: 'Answer briefly.', imageSize, maxTokens: 7 });
    expect(res.text).toBe('Ten minutes.');
    expect(res.usage.visual).toBe(2 * 576);
    expect(res.usage.prompt).toBe(10 + 2 * 576);
    const req = fake.requests[0]!;
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.images.map((i) => [i.mime, i.format, i.width, i.height])).toEqual([
      ['image/jpeg', 'jpeg', 800, 600],
      ['image/jpeg', 'jpeg', 300, 200],
    ]);
    expect(req.texts).toEqual(['Image 2 is a zoomed-in view of the top-right region of image 1.\nWhat is the wait time?\nAnswer briefly.']);
    expect(req.body).toMatchObject({ model: 'fake-vlm', temperature: 0, max_tokens: 7 });
    expect(req.body).not.toHaveProperty('logprobs');
    // Images precede the text in the one user message.
    const content = (req.body!.messages as Array<{ content: Array<{ type: string }> }>)[0]!.content;
    expect(content.map((c) => c.type)).toEqual(['image_url', 'image_url', 'text']);
  });

  it('passes an already-encoded JPEG within maxSide through byte for byte', async () => {
    const r = runner();
    await r.answer({ images: [overview], question: 'q?' });
    const sent = fake.requests[0]!.images[0]!;
    expect(Buffer.from(sent.data!).equals(Buffer.from((overview.image as { data: Uint8Array }).data))).toBe(true);
  });

  it.each([
    ['jpeg', 'image/jpeg', 400, 300],
    ['png', 'image/png', 400, 300],
    ['webp', 'image/webp', 400, 300],
  ] as const)('downscales to maxSide and encodes as %s', async (format, mime, w, h) => {
    const r = runner({ image: { format, maxSide: 400, quality: 80 } });
    await r.answer({ images: [overview], question: 'q?' });
    const sent = fake.requests[0]!.images[0]!;
    expect([sent.mime, sent.format === 'heif' ? 'webp' : sent.format, sent.width, sent.height]).toEqual([mime, format, w, h]);
  });

  it('sends the API key as a bearer token, read from the named environment variable', async () => {
    const r = runner({ apiKeyEnv: 'MY_KEY', env: { MY_KEY: 'sk-test-secret-123456' } });
    await r.answer({ images: [overview], question: 'q?' });
    expect(fake.requests[0]!.headers.authorization).toBe('Bearer sk-test-secret-123456');
  });

  it('sends no authorization header when OPENAI_API_KEY is unset', async () => {
    await runner().answer({ images: [overview], question: 'q?' });
    expect(fake.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('rejects an explicitly named key variable that is not set', () => {
    expect(() => runner({ apiKeyEnv: 'MISSING_KEY' })).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('MISSING_KEY') }),
    );
  });
});

describe('openai runner: composite mode', () => {
  it('packs overview and crop side by side into one image of the same height with a separator', async () => {
    fake.setBehaviour({ singleImage: true });
    const r = runner({ imageMode: 'composite', compositeSeparator: 6, image: { maxSide: 2048 } });
    expect(r.capabilities).toMatchObject({ multiImage: false, maxImages: 1 });
    const res = await r.answer({ images: [overview, crop], question: 'What is the wait time?', imageSize });
    const req = fake.requests[0]!;
    expect(req.status).toBe(200);
    expect(req.images).toHaveLength(1);
    // Both parts scaled to the overview's height 600: 800 + 300 * 600 / 200 = 900, plus 6 px separator.
    expect([req.images[0]!.width, req.images[0]!.height]).toEqual([800 + 900 + 6, 600]);
    expect(req.texts[0]).toBe('The left part of the image is the whole picture; the right part shows its top-right region zoomed in.\nWhat is the wait time?');
    expect(res.usage.visual).toBe(576);
  });

  it('keeps the composite within maxSide by lowering the common height', async () => {
    const r = runner({ imageMode: 'composite', image: { maxSide: 1000 } });
    await r.answer({ images: [overview, crop], question: 'q?' });
    const { width, height } = fake.requests[0]!.images[0]!;
    expect(width).toBeLessThanOrEqual(1000);
    // aspect sum 800/600 + 300/200 = 2.8333; height = floor((1000 - 8) / 2.8333) = 350
    expect(height).toBe(350);
    expect(width).toBe(Math.round((800 / 600) * 350) + Math.round(1.5 * 350) + 8);
  });

  it('fails clearly, with a composite hint, when a one-image server gets two images', async () => {
    fake.setBehaviour({ singleImage: true });
    const err = await caught(runner().answer({ images: [overview, crop], question: 'q?' }));
    expect(err).toMatchObject({ code: 'UPSTREAM_ERROR', details: { status: 400 } });
    expect(err.message).toContain('only one image');
    expect(err.message).toContain('composite');
    expect(fake.requests).toHaveLength(1);
  });
});

describe('openai runner: retries and errors', () => {
  it.each([
    [429, 'Retry-After honoured'],
    [500, 'server error'],
    [503, 'unavailable'],
  ])('retries a %i then succeeds (%s)', async (status) => {
    fake.script({ failStatus: status, retryAfter: 0 });
    fake.setBehaviour({ respond: () => 'ok' });
    const retries: unknown[] = [];
    const res = await runner({ onRetry: (i) => retries.push(i) }).answer({ images: [overview], question: 'q?' });
    expect(res.text).toBe('ok');
    expect(fake.requests.map((r) => r.status)).toEqual([status, 200]);
    expect(retries).toEqual([expect.objectContaining({ attempt: 1, reason: String(status) })]);
  });

  it('waits at least Retry-After seconds before retrying a 429', async () => {
    fake.script({ failStatus: 429, retryAfter: 1 });
    const t0 = performance.now();
    await runner({ retryBaseMs: 1, retryMaxMs: 5000 }).answer({ images: [overview], question: 'q?' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(950);
    expect(fake.requests).toHaveLength(2);
  });

  it('gives up with UPSTREAM_RATE_LIMITED after the configured retries', async () => {
    fake.setBehaviour({ failStatus: 429, retryAfter: 0, failMessage: 'slow down' });
    const err = await caught(runner({ retries: 2 }).answer({ images: [overview], question: 'q?' }));
    expect(err).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', details: { status: 429, upstreamMessage: 'slow down' } });
    expect(err.message).toContain('3 attempts');
    expect(fake.requests).toHaveLength(3);
  });

  it('fails at once when Retry-After is longer than it is willing to wait', async () => {
    fake.setBehaviour({ failStatus: 429, retryAfter: 3600 });
    const err = await caught(runner({ retryMaxMs: 1000 }).answer({ images: [overview], question: 'q?' }));
    expect(err).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', details: { retryAfterMs: 3_600_000 } });
    expect(fake.requests).toHaveLength(1);
  });

  it('gives up on a persistent 500 with UPSTREAM_ERROR carrying the status and message', async () => {
    fake.setBehaviour({ failStatus: 500, failMessage: 'CUDA out of memory' });
    const err = await caught(runner({ retries: 1 }).answer({ images: [overview], question: 'q?' }));
    expect(err).toMatchObject({ code: 'UPSTREAM_ERROR', details: { status: 500, upstreamMessage: 'CUDA out of memory' } });
    expect(err.message).toContain('500');
    expect(err.message).toContain('CUDA out of memory');
    expect(fake.requests).toHaveLength(2);
  });

  it.each([400, 401, 404, 422])('does not retry a %i', async (status) => {
    fake.setBehaviour({ failStatus: status, failMessage: `bad ${status}` });
    const err = await caught(runner().answer({ images: [overview], question: 'q?' }));
    expect(err).toMatchObject({ code: 'UPSTREAM_ERROR', details: { status, upstreamMessage: `bad ${status}` } });
    expect(fake.requests).toHaveLength(1);
  });

  it('times out with UPSTREAM_TIMEOUT and does not retry by default', async () => {
    fake.setBehaviour({ latencyMs: 2000 });
    const t0 = performance.now();
    const err = await caught(runner({ timeoutMs: 150 }).answer({ images: [overview], question: 'q?' }));
    expect(err.code).toBe('UPSTREAM_TIMEOUT');
    expect(err.message).toContain('150 ms');
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(fake.requests).toHaveLength(1);
  });

  it('retries timeouts when asked to', async () => {
    fake.script({ latencyMs: 2000 });
    const res = await runner({ timeoutMs: 300, retryOnTimeout: true }).answer({ images: [overview], question: 'q?' });
    expect(res.text).toBe('fake answer');
    expect(fake.requests).toHaveLength(2);
  });

  it('retries a dropped connection, then succeeds', async () => {
    fake.script({ drop: true });
    const res = await runner().answer({ images: [overview], question: 'q?' });
    expect(res.text).toBe('fake answer');
    expect(fake.requests.map((r) => r.status)).toEqual(['dropped', 200]);
  });

  it('reports a connection that keeps dropping as UPSTREAM_ERROR after the retries', async () => {
    fake.setBehaviour({ drop: true });
    const err = await caught(runner({ retries: 2 }).answer({ images: [overview], question: 'q?' }));
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.message).toMatch(/connection .*broke/);
    expect(fake.requests).toHaveLength(3);
  });

  it('reports a refused connection at once, with a hint', async () => {
    const closed = await startFakeOpenAI();
    const url = closed.url;
    await closed.close();
    const err = await caught(createOpenAIRunner({ baseUrl: url, model: 'm', env: {}, retryBaseMs: 1 }).answer({ images: [overview], question: 'q?' }));
    expect(err).toMatchObject({ code: 'UPSTREAM_ERROR', details: { code: 'ECONNREFUSED' } });
    expect(err.message).toContain('Is the server running');
  });

  it('reports a request fetch refuses outright (a blocked port) with its reason, without retrying', async () => {
    const retries: unknown[] = [];
    const err = await caught(
      createOpenAIRunner({ baseUrl: 'http://127.0.0.1:9/v1', model: 'm', env: {}, onRetry: (i) => retries.push(i) }).answer({
        images: [overview],
        question: 'q?',
      }),
    );
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.message).toContain('bad port');
    expect(retries).toEqual([]);
  });

  it('turns malformed JSON into UPSTREAM_BAD_RESPONSE', async () => {
    fake.setBehaviour({ malformed: true });
    const err = await caught(runner().answer({ images: [overview], question: 'q?' }));
    expect(err.code).toBe('UPSTREAM_BAD_RESPONSE');
    expect(err.message).toContain('not JSON');
    expect(fake.requests).toHaveLength(1);
  });

  it('turns a response without choices into UPSTREAM_BAD_RESPONSE', async () => {
    fake.setBehaviour({ noChoices: true });
    const err = await caught(runner().answer({ images: [overview], question: 'q?' }));
    expect(err.code).toBe('UPSTREAM_BAD_RESPONSE');
    expect(err.message).toContain('without choices');
  });

  it('never puts the API key in an error, even when the server echoes it', async () => {
    const key = 'sk-live-7f3a9c2e11b04d5e8a6b';
    fake.setBehaviour({ failStatus: 401, failMessage: `Incorrect API key provided: ${key}. You can find your API key at ...` });
    const err = await caught(runner({ apiKeyEnv: 'SEMCLIP_TEST_KEY', env: { SEMCLIP_TEST_KEY: key } }).answer({ images: [overview], question: 'q?' }));
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${key}`);
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.message).toContain('Incorrect API key provided');
    const everything = [err.message, JSON.stringify((err as unknown as { toJSON(): unknown }).toJSON()), String(err.stack), JSON.stringify(err.details)].join(
      '\n',
    );
    expect(everything).not.toContain(key);
    expect(everything).not.toContain('7f3a9c2e11b04d5e8a6b');
  });

  it('never puts the API key in a bad-response error', async () => {
    const key = 'sk-other-key-aaaaaaaaaaaa';
    fake.setBehaviour({ respond: () => key, noChoices: true });
    const err = await caught(runner({ apiKeyEnv: 'K', env: { K: key } }).answer({ images: [overview], question: `echo ${key}` }));
    expect(err.message).not.toContain(key);
  });
});

describe('openai runner: choose', () => {
  const options = ['red', 'green', 'blue'];

  it('picks the option by top logprobs over the letters, pooling "B" and " B"', async () => {
    fake.setBehaviour({
      respond: () => 'A',
      topLogprobs: () => [
        { token: 'A', logprob: Math.log(0.4) },
        { token: 'B', logprob: Math.log(0.35) },
        { token: ' B', logprob: Math.log(0.2) },
        { token: 'The', logprob: Math.log(0.05) },
      ],
    });
    const r = runner();
    const choice = await r.choose({ images: [overview], question: 'Which colour?', options });
    expect(choice.method).toBe('logprobs');
    expect(choice.index).toBe(1);
    expect(choice.scores[0]).toBeCloseTo(Math.log(0.4), 6);
    expect(choice.scores[1]).toBeCloseTo(Math.log(0.55), 6);
    expect(choice.scores[2]).toBeLessThan(-100);
    expect(r.logprobsSupported).toBe(true);
    const req = fake.requests[0]!;
    expect(req.body).toMatchObject({ logprobs: true, top_logprobs: 20, max_tokens: 1, temperature: 0 });
    expect(req.texts[0]).toBe("Which colour?\nA. red\nB. green\nC. blue\nAnswer with the option's letter from the given choices directly.");
  });

  it('uses the caller instruction instead of the default letter instruction', async () => {
    fake.setBehaviour({ respond: () => 'C' });
    await runner().choose({ images: [overview], question: 'Which?', options, instruction: 'Reply with A, B or C.' });
    expect(fake.requests[0]!.texts[0]).toBe('Which?\nA. red\nB. green\nC. blue\nReply with A, B or C.');
  });

  it('falls back to parsing a letter when the server rejects logprobs, and remembers', async () => {
    fake.setBehaviour({ logprobs: 'reject', respond: () => 'The answer is C.' });
    const r = runner();
    const first = await r.choose({ images: [overview], question: 'Which?', options });
    expect(first).toMatchObject({ method: 'letter', index: 2, text: 'The answer is C.' });
    expect(first.scores[2]).toBe(0);
    expect(first.scores[0]).toBeLessThan(-100);
    expect(fake.requests.map((q) => [q.body!.logprobs ?? null, q.status])).toEqual([
      [true, 400],
      [null, 200],
    ]);
    expect(r.logprobsSupported).toBe(false);
    expect(r.capabilities.logprobs).toBe(false);
    fake.reset();
    await r.choose({ images: [overview], question: 'Which?', options });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.body).not.toHaveProperty('logprobs');
  });

  it('uses the single generated token when the server ignores logprobs', async () => {
    fake.setBehaviour({ logprobs: 'ignore', respond: () => 'B' });
    const r = runner();
    const choice = await r.choose({ images: [overview], question: 'Which?', options });
    expect(choice).toMatchObject({ method: 'letter', index: 1 });
    expect(fake.requests).toHaveLength(1);
    expect(r.logprobsSupported).toBe(false);
  });

  it('never asks for logprobs with logprobs: false', async () => {
    fake.setBehaviour({ respond: () => '(A) red' });
    const choice = await runner({ logprobs: false }).choose({ images: [overview], question: 'Which?', options });
    expect(choice).toMatchObject({ method: 'letter', index: 0 });
    expect(fake.requests[0]!.body).not.toHaveProperty('logprobs');
    expect(fake.requests[0]!.body!.max_tokens).toBe(16);
  });

  it('fails with UNSUPPORTED_CAPABILITY when logprobs are required and the server ignores them', async () => {
    fake.setBehaviour({ logprobs: 'ignore', respond: () => 'B' });
    const err = await caught(runner({ logprobs: true }).choose({ images: [overview], question: 'Which?', options }));
    expect(err.code).toBe('UNSUPPORTED_CAPABILITY');
  });

  it('fails with MODEL_OUTPUT_INVALID when the answer names no option', async () => {
    fake.setBehaviour({ logprobs: 'ignore', respond: () => 'I cannot tell from this picture' });
    const err = await caught(runner().choose({ images: [overview], question: 'Which?', options }));
    expect(err.code).toBe('MODEL_OUTPUT_INVALID');
    expect(fake.requests).toHaveLength(2);
  });

  it('re-asks without logprobs when no option letter is among the top tokens', async () => {
    fake.setBehaviour({
      respond: (req) => (req.body!.max_tokens === 1 ? 'Looking' : 'green'),
      topLogprobs: () => [{ token: 'Looking', logprob: -0.1 }],
    });
    const choice = await runner().choose({ images: [overview], question: 'Which?', options });
    expect(choice).toMatchObject({ method: 'letter', index: 1 });
    expect(fake.requests).toHaveLength(2);
  });

  it('rejects fewer than two options', async () => {
    const err = await caught(runner().choose({ images: [overview], question: 'Which?', options: ['only'] }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('openai runner: concurrency, abort, dispose', () => {
  it('never has more requests in flight than its concurrency', async () => {
    fake.setBehaviour({ latencyMs: 60 });
    const r = runner({ concurrency: 3 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => r.answer({ images: [overview], question: `q${i}?` })));
    expect(fake.requests).toHaveLength(12);
    expect(fake.maxInFlight).toBe(3);
  });

  it('shares the limit across answer and choose calls of one runner', async () => {
    fake.setBehaviour({ latencyMs: 60, respond: () => 'A' });
    const r = runner({ concurrency: 2 });
    await Promise.all([
      ...Array.from({ length: 4 }, () => r.answer({ images: [overview], question: 'q?' })),
      ...Array.from({ length: 4 }, () => r.choose({ images: [overview], question: 'q?', options: ['x', 'y'] })),
    ]);
    expect(fake.maxInFlight).toBe(2);
  });

  it('aborts an in-flight request with ABORTED', async () => {
    fake.setBehaviour({ latencyMs: 2000 });
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 100);
    const t0 = performance.now();
    const err = await caught(runner().answer({ images: [overview], question: 'q?', signal: ctl.signal }));
    expect(err.code).toBe('ABORTED');
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  it('aborts while waiting for a slot, without sending', async () => {
    fake.setBehaviour({ latencyMs: 300 });
    const r = runner({ concurrency: 1 });
    const first = r.answer({ images: [overview], question: 'first?' });
    // Only once the first holds the slot is the second sure to wait for it.
    await vi.waitFor(() => expect(fake.requests).toHaveLength(1));
    const ctl = new AbortController();
    const second = r.answer({ images: [overview], question: 'second?', signal: ctl.signal });
    setTimeout(() => ctl.abort(), 50);
    const [secondErr] = await Promise.all([caught(second), first]);
    expect(secondErr.code).toBe('ABORTED');
    expect(fake.requests.map((q) => q.texts[0])).toEqual(['first?']);
  });

  it('rejects an already-aborted signal before sending', async () => {
    const ctl = new AbortController();
    ctl.abort();
    expect((await caught(runner().answer({ images: [overview], question: 'q?', signal: ctl.signal }))).code).toBe('ABORTED');
    expect(fake.requests).toHaveLength(0);
  });

  it('aborts in-flight calls on dispose and refuses new ones', async () => {
    fake.setBehaviour({ latencyMs: 2000 });
    const r = runner();
    const pending = r.answer({ images: [overview], question: 'q?' });
    await new Promise((res) => setTimeout(res, 50));
    await r.dispose();
    expect((await caught(pending)).code).toBe('ABORTED');
    const err = await caught(r.answer({ images: [overview], question: 'q?' }));
    expect(isSemclipError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect(err.message).toContain('disposed');
  });
});

describe('openai runner: options', () => {
  it('reports its contract fields', () => {
    const r = runner({ visualTokensPerImage: 729 });
    expect(r).toMatchObject({ id: 'openai:fake-vlm', model: 'fake-vlm', kind: 'openai', visualTokensPerImage: 729 });
    expect(r.capabilities).toEqual({ multiImage: true, logprobs: true, embeddings: false });
  });

  it.each([
    [{ baseUrl: 'not a url' }, 'is not a URL'],
    [{ baseUrl: 'ftp://x/v1' }, 'protocol'],
    [{ model: ' ' }, 'model name'],
    [{ concurrency: 0 }, 'concurrency'],
    [{ timeoutMs: 1.5 }, 'timeoutMs'],
    [{ image: { quality: 0 } }, 'quality'],
    [{ image: { maxSide: 4 } }, 'maxSide'],
    [{ imageMode: 'grid' as never }, 'Image mode'],
    [{ logprobs: 'yes' as never }, 'logprobs'],
  ])('rejects %j with INVALID_ARGUMENT', (bad, text) => {
    expect(() => runner(bad)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(text) }));
  });

  it('sends credentials in the base URL as Basic auth and never shows them', async () => {
    const url = fake.url.replace('http://', 'http://user:hunter2pass@');
    fake.setBehaviour({ failStatus: 400, failMessage: 'denied for user:hunter2pass' });
    const r = createOpenAIRunner({ baseUrl: url, model: 'm', env: {} });
    expect(r.baseUrl).toBe(fake.url);
    const err = await caught(r.answer({ images: [overview], question: 'q?' }));
    expect(fake.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('user:hunter2pass').toString('base64')}`);
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.message).toContain('denied for user:***');
    expect(err.message).not.toContain('hunter2pass');
  });

  it('merges extraBody without letting it override model, messages or temperature', async () => {
    await runner({ extraBody: { seed: 0, model: 'other', temperature: 1 } }).answer({ images: [overview], question: 'q?' });
    expect(fake.requests[0]!.body).toMatchObject({ seed: 0, model: 'fake-vlm', temperature: 0 });
  });
});
