import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { makeJpeg, makePng } from '@semclip/test-kit/images';
import { b64, dataUrl, postJson, startTestServer } from './_test-helpers.js';
import type { TestServer } from './_test-helpers.js';

let t: TestServer;
let jpeg: Uint8Array;

beforeAll(async () => {
  t = await startTestServer({ scorers: ['random'], grid: '2x2' });
  jpeg = await makeJpeg({ width: 1200, height: 900, pattern: 'quadrants' });
});
afterAll(() => t.close());

describe('POST /v1/select', () => {
  it('returns tiles, scores and the selection for a base64 JSON image', async () => {
    const res = await postJson(`${t.url}/v1/select`, { image: b64(jpeg), question: 'What colour is the top-right corner?' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const body = (await res.json()) as Record<string, any>;
    expect(body.image).toMatchObject({ width: 1200, height: 900, format: 'jpeg' });
    expect(body.grid.tiles).toHaveLength(4);
    expect(body.scores).toHaveLength(4);
    expect(body.selection.kind).toBe('regions');
    // k = 1: the selected tile is the best-scoring one.
    const best = body.scores.indexOf(Math.max(...body.scores));
    expect(body.selection.regions[0].tiles).toEqual([best]);
    expect(body.scorer.id).toBe('random');
    for (const stage of ['decode', 'tile', 'score', 'select', 'total']) expect(body.timings[stage]).toBeGreaterThanOrEqual(0);
    expect(body.crops).toBeUndefined();
    expect(body.overlay).toBeUndefined();
  });

  it('is deterministic: the same image and question give the same selection', async () => {
    const req = { image: dataUrl(jpeg), question: 'Where is the yellow?' };
    const a = (await (await postJson(`${t.url}/v1/select`, req)).json()) as Record<string, any>;
    const b = (await (await postJson(`${t.url}/v1/select`, req)).json()) as Record<string, any>;
    expect(a.scores).toEqual(b.scores);
    expect(a.selection).toEqual(b.selection);
  });

  it('takes a multipart upload with string options, and returns the crops and the overlay', async () => {
    const form = new FormData();
    form.append('image', new Blob([jpeg], { type: 'image/jpeg' }), 'photo.jpg');
    form.append('question', 'Which quadrant is blue?');
    form.append('grid', '2x2');
    form.append('k', '2');
    form.append('return_crops', 'true');
    form.append('return_overlay', '1');
    const res = await fetch(`${t.url}/v1/select`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body.selection.regions).toHaveLength(2);
    expect(body.crops).toHaveLength(2);
    for (const [i, crop] of body.crops.entries()) {
      const bytes = Buffer.from(crop.data, 'base64');
      const meta = await sharp(bytes).metadata();
      expect(meta.format).toBe('jpeg');
      expect([meta.width, meta.height]).toEqual([600, 450]);
      expect(crop.box).toEqual(body.selection.regions[i].box);
    }
    const overlay = await sharp(Buffer.from(body.overlay.data, 'base64')).metadata();
    expect(overlay.format).toBe('png');
    expect(overlay.width).toBe(1200);
    expect(body.timings.overlay).toBeGreaterThan(0);
  });

  it('crops show the pixels of the selected region', async () => {
    const res = await postJson(`${t.url}/v1/select`, { image: b64(jpeg), question: 'q', k: 4, return_crops: true });
    const body = (await res.json()) as Record<string, any>;
    // Quadrant colours of the generated image, by tile index: red, green, blue, yellow.
    const expected = [
      [220, 40, 40],
      [40, 200, 60],
      [40, 70, 220],
      [240, 220, 40],
    ];
    for (const crop of body.crops) {
      const { data } = await sharp(Buffer.from(crop.data, 'base64')).resize(1, 1).raw().toBuffer({ resolveWithObject: true });
      const want = expected[crop.tiles[0]] as number[];
      for (let c = 0; c < 3; c++) expect(Math.abs((data[c] as number) - (want[c] as number))).toBeLessThan(12);
    }
  });

  it('applies merge and adaptive options', async () => {
    const merged = (await (await postJson(`${t.url}/v1/select`, { image: b64(jpeg), question: 'q', k: 4, merge: true })).json()) as Record<string, any>;
    expect(merged.selection.regions).toHaveLength(1);
    expect(merged.selection.regions[0].box).toEqual({ x: 0, y: 0, width: 1200, height: 900 });
    const adaptive = (await (
      await postJson(`${t.url}/v1/select`, { image: b64(jpeg), question: 'q', adaptive: true, margin: 0, threshold: 2 })
    ).json()) as Record<string, any>;
    expect(adaptive.selection.kind).toBe('overview-only');
    expect(adaptive.selection.strategy.mode).toBe('adaptive');
  });

  it.each([
    [{ question: 'q' }, 400, 'INVALID_ARGUMENT'],
    [{ image: 'not base64 !!!', question: 'q' }, 400, 'INVALID_ARGUMENT'],
    [{ image: 'AAAA', question: '   ' }, 400, 'INVALID_QUESTION'],
    [{ image: 'AAAA', question: 'q', grid: '0x0' }, 400, 'INVALID_GRID'],
    [{ image: 'AAAA', question: 'q', scorer: 'clip' }, 400, 'UNKNOWN_SCORER'],
    [{ image: 'AAAA', question: 'q', k: 1, adaptive: true }, 400, 'INVALID_ARGUMENT'],
    [{ image: 'AAAA', question: 'q', gird: '3x3' }, 400, 'INVALID_ARGUMENT'],
    [{ image: 'AAAA', question: 'q', k: 1.5 }, 400, 'INVALID_ARGUMENT'],
    [{ image: 'AAAA', question: 'q' }, 415, 'IMAGE_UNSUPPORTED'],
    [{ image: 'data:text/plain;base64,aGVsbG8=', question: 'q' }, 415, 'IMAGE_UNSUPPORTED'],
    [{ image_url: 'http://127.0.0.1:1/x.jpg', question: 'q' }, 400, 'INVALID_ARGUMENT'],
  ])('refuses %j with %i %s', async (body, status, code) => {
    const res = await postJson(`${t.url}/v1/select`, body);
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: { code: string; message: string } };
    expect(json.error.code).toBe(code);
    expect(json.error.message.length).toBeGreaterThan(10);
    expect(Object.keys(json.error).sort()).toEqual(['code', 'message']);
  });

  it('checks the pixel limit from the header before decoding', async () => {
    const small = await startTestServer({ limits: { maxPixels: 1000 * 1000 } });
    try {
      const png = await makePng({ width: 1200, height: 900 });
      const res = await postJson(`${small.url}/v1/select`, { image: b64(png), question: 'q' });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('IMAGE_TOO_LARGE');
    } finally {
      await small.close();
    }
  });
});

describe('service routes', () => {
  it('GET /healthz and /readyz (no upstream: ready once models are loaded)', async () => {
    expect(await (await fetch(`${t.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { models: 'ok', upstream: 'not configured' } });
  });

  it('GET /v1/info lists the loaded scorers and defaults', async () => {
    const info = (await (await fetch(`${t.url}/v1/info`)).json()) as Record<string, any>;
    expect(info).toMatchObject({
      object: 'semclip.info',
      scorers: ['random'],
      scorer: 'random',
      grid: '2x2',
      k: 1,
      answer: null,
      chat: null,
      remote_images: false,
    });
  });

  it('answers 404 and 405 with JSON errors, and keeps a valid x-request-id', async () => {
    const nf = await fetch(`${t.url}/v2/nothing`, { headers: { 'x-request-id': 'abc-123' } });
    expect(nf.status).toBe(404);
    expect(nf.headers.get('x-request-id')).toBe('abc-123');
    expect(((await nf.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    const na = await fetch(`${t.url}/v1/select`);
    expect(na.status).toBe(405);
    expect(na.headers.get('allow')).toBe('POST');
    const bad = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(bad.headers.get('x-request-id')).not.toBe('bad id with spaces');
  });

  it('answers POST /v1/answer with 501 when no VLM is configured', async () => {
    const res = await postJson(`${t.url}/v1/answer`, { image: b64(jpeg), question: 'q' });
    expect(res.status).toBe(501);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_CONFIGURED');
  });

  it('exposes Prometheus metrics: requests by route and status, stage histograms, in-flight', async () => {
    await postJson(`${t.url}/v1/select`, { image: b64(jpeg), question: 'metrics?' });
    await postJson(`${t.url}/v1/select`, { question: 'no image' });
    const res = await fetch(`${t.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await res.text();
    expect(text).toMatch(/^semclip_http_requests_total\{route="\/v1\/select",method="POST",status="200"\} [1-9]\d*$/m);
    expect(text).toMatch(/^semclip_http_requests_total\{route="\/v1\/select",method="POST",status="400"\} [1-9]\d*$/m);
    for (const stage of ['decode', 'tile', 'score', 'select']) {
      expect(text).toMatch(new RegExp(`^semclip_stage_duration_seconds_count\\{stage="${stage}"\\} [1-9]\\d*$`, 'm'));
      expect(text).toMatch(new RegExp(`^semclip_stage_duration_seconds_bucket\\{stage="${stage}",le="\\+Inf"\\} [1-9]\\d*$`, 'm'));
    }
    expect(text).toMatch(/^semclip_scorer_tiles_total\{scorer="random"\} \d+$/m);
    expect(text).toMatch(/^semclip_http_requests_in_flight 1$/m); // the scrape itself
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    // Every sample line is name{labels} value.
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \S+ .+|[a-z_]+(\{[^}]*\})? [-+0-9.eInf]+)$/);
  });

  it('serves the web page', async () => {
    const res = await fetch(`${t.url}/`);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).toContain('<title>SemClip</title>');
    expect(html).toContain('/v1/select');
  });
});
