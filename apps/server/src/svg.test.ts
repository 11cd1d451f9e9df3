import { execFileSync } from 'node:child_process';
import { makeJpeg } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServerConfig, serverConfigFromEnv } from './_config.js';
import { b64, dataUrl, postJson, startTestServer } from './_test-helpers.js';
import type { TestServer } from './_test-helpers.js';

/** The 235-byte SVG of the hardening report: 4000x4000, turbulence and a wide blur; ~40 s of CPU to render. */
const HOSTILE =
  '<svg xmlns="http://www.w3.org/2000/svg" width="4000" height="4000"><filter id="f"><feTurbulence baseFrequency="0.9" numOctaves="10"/><feGaussianBlur stdDeviation="200"/></filter><rect width="100%" height="100%" filter="url(#f)"/></svg>';
/** 199 bytes, no filter, no reference: a dash pattern of ~10^8 dashes that cairo takes minutes to stroke. */
const DASHES =
  '<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="2000"><path d="M0 0 C 2000 0 0 2000 2000 2000 S 0 0 2000 0" stroke="black" stroke-width="2000" stroke-dasharray="0.05" fill="none"/></svg>';
const PLAIN =
  '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"><rect width="400" height="300" fill="#fff"/><text x="20" y="150" font-size="40">WAIT 20 MIN</text></svg>';

const question = 'What is the wait time?';
const svgB64 = (svg: string) => Buffer.from(svg).toString('base64');

/** This process's child processes (Linux), to prove a render was killed rather than left running. */
function children(): number[] {
  if (process.platform !== 'linux') return [];
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([, comm]) => comm !== undefined && comm !== 'ps')
      .map(([pid]) => Number(pid));
  } catch {
    return [];
  }
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  return ((await res.json()) as { error: { code: string; message: string } }).error;
}

let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});

describe('SVG off by default', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ upstream: fake.url, model: 'fake-vlm' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('refuses an SVG with 415 IMAGE_UNSUPPORTED that says how to turn SVG on, at once', async () => {
    const t0 = performance.now();
    const res = await postJson(`${t.url}/v1/select`, { image: svgB64(HOSTILE), question });
    expect(res.status).toBe(415);
    const error = await errorOf(res);
    expect(error.code).toBe('IMAGE_UNSUPPORTED');
    expect(error.message).toContain('SVG');
    expect(error.message).toContain('--allow-svg');
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('refuses it in the chat route, as an OpenAI error, before the upstream is called', async () => {
    fake.reset();
    const res = await postJson(`${t.url}/v1/chat/completions`, {
      model: 'fake-vlm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: question },
            { type: 'image_url', image_url: { url: dataUrl(Buffer.from(PLAIN), 'image/svg+xml') } },
          ],
        },
      ],
    });
    expect(res.status).toBe(415);
    expect(await errorOf(res)).toMatchObject({ code: 'IMAGE_UNSUPPORTED' });
    expect(fake.requests).toHaveLength(0);
  });

  it('allowSvg is false by default; --allow-svg sets it, as SEMCLIP_ALLOW_SVG=1 does', () => {
    expect(resolveServerConfig({ scorer: 'random' }).allowSvg).toBe(false);
    expect(serverConfigFromEnv({ SEMCLIP_ALLOW_SVG: '1' }).allowSvg).toBe(true);
    expect(resolveServerConfig({ scorer: 'random' }).limits).toMatchObject({ svgMaxPixels: 8_000_000, svgTimeoutMs: 5000 });
  });
});

describe('SVG allowed (--allow-svg)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ allowSvg: true, limits: { concurrency: 1, requestTimeoutMs: 2000, svgTimeoutMs: 60_000 } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('renders a self-contained SVG', async () => {
    const res = await postJson(`${t.url}/v1/select`, { image: svgB64(PLAIN), question, return_crops: true });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { image: unknown }).image).toMatchObject({ format: 'svg', width: 400, height: 300 });
  });

  it('refuses the 235-byte filter SVG at once (filters are off on the server), without rendering it', async () => {
    const t0 = performance.now();
    const res = await postJson(`${t.url}/v1/select`, { image: svgB64(HOSTILE), question });
    expect(res.status).toBe(415);
    expect((await errorOf(res)).message).toContain('filter');
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('refuses an SVG that references a file or a URL', async () => {
    for (const href of ['secret.png', '/etc/passwd', 'file:///etc/passwd', 'http://169.254.169.254/latest/meta-data']) {
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><image href="${href}" width="100" height="100"/></svg>`;
      const res = await postJson(`${t.url}/v1/select`, { image: svgB64(svg), question });
      expect(res.status).toBe(415);
      expect((await errorOf(res)).message).toContain('outside itself');
    }
  });

  it('refuses an SVG over svgMaxPixels (8 MP by default) with 413, before rendering it', async () => {
    const big = '<svg xmlns="http://www.w3.org/2000/svg" width="4000" height="4000"><rect width="10" height="10"/></svg>';
    const res = await postJson(`${t.url}/v1/select`, { image: svgB64(big), question });
    expect(res.status).toBe(413);
    expect(await errorOf(res)).toMatchObject({ code: 'IMAGE_TOO_LARGE' });
  });

  it('stops a render at the request deadline: 504 at ~2 s, the render killed, the request queued behind it served', async () => {
    const before = new Set(children());
    const t0 = performance.now();
    const hostile = postJson(`${t.url}/v1/select`, { image: svgB64(DASHES), question });
    await new Promise((r) => setTimeout(r, 200));
    // One work slot: this one waits for the SVG's slot.
    const normal = postJson(`${t.url}/v1/select`, { image: b64(await makeJpeg({ width: 320, height: 240 })), question });
    const res = await hostile;
    const hostileMs = performance.now() - t0;
    expect(res.status).toBe(504);
    expect(await errorOf(res)).toMatchObject({ code: 'REQUEST_TIMEOUT' });
    expect(hostileMs).toBeLessThan(4000);
    const ok = await normal;
    expect(ok.status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(5000);
    // No renderer left behind (it would burn a core for minutes).
    await new Promise((r) => setTimeout(r, 200));
    expect(children().filter((pid) => !before.has(pid))).toEqual([]);
  }, 30_000);

  it('stops a render at svgTimeoutMs with 413 IMAGE_TOO_LARGE when that comes first', async () => {
    const s = await startTestServer({ allowSvg: true, limits: { svgTimeoutMs: 500 }, warmup: false });
    try {
      const t0 = performance.now();
      const res = await postJson(`${s.url}/v1/select`, { image: svgB64(DASHES), question });
      expect(res.status).toBe(413);
      expect((await errorOf(res)).message).toContain('did not render within 0.5 s');
      expect(performance.now() - t0).toBeLessThan(3000);
    } finally {
      await s.close();
    }
  });
});
