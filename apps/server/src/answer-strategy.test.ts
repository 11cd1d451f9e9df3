import { resolveServerConfig, serverConfigFromEnv } from './_config.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { simulatedVlm } from '@semclip/test-kit/sim-vlm';
import { generateSynthBenchmark } from '@semclip/tiling';
import type { SynthItem } from '@semclip/tiling';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, postJson, startTestServer } from './_test-helpers.js';
import type { TestServer } from './_test-helpers.js';

const MODEL = 'llava-hf/llava-1.5-7b-hf';
let dir: string;
let fake: FakeOpenAI;
let t: TestServer;
let item: SynthItem;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'semclip-server-strategy-'));
  const manifest = await generateSynthBenchmark({ out: dir, count: 1, seed: 21, longSide: 2000, easyFraction: 0, relativeFraction: 0 });
  item = manifest.items[0]!;
  fake = await startFakeOpenAI({ behaviour: simulatedVlm({ manifest }).behaviour, models: [MODEL] });
  t = await startTestServer({ vlm: `openai:${fake.url}#${MODEL}` });
}, 120_000);

afterAll(async () => {
  await t?.close();
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('POST /v1/answer with a strategy', () => {
  it('zoom answers with its search: VLM calls within max_calls, each step with its box and confidence', async () => {
    const image = b64(new Uint8Array(await readFile(join(dir, item.image))));
    const res = await postJson(`${t.url}/v1/answer`, {
      image,
      question: item.question,
      options: item.options,
      scorer: 'random',
      strategy: 'zoom',
      max_calls: 12,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body.strategy).toBe('zoom');
    expect(body.vlm_calls).toBeLessThanOrEqual(12);
    expect(body.vlm_calls).toBe(fake.requests.length);
    expect(body.search.steps[0]).toMatchObject({ action: 'overview', call: 1 });
    expect(body.choice.option).toBe(item.answer);
  }, 60_000);

  it('pack asks once with the overview and the packed image', async () => {
    fake.reset();
    const image = b64(new Uint8Array(await readFile(join(dir, item.image))));
    const res = await postJson(`${t.url}/v1/answer`, { image, question: item.question, options: item.options, scorer: 'random', strategy: 'pack' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({ strategy: 'pack', vlm_calls: 1 });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.images).toHaveLength(2);
    expect(body.pack.cells.length).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('refuses zoom outside semclip mode and max_calls without zoom', async () => {
    const image = b64(new Uint8Array(await readFile(join(dir, item.image))));
    expect((await postJson(`${t.url}/v1/answer`, { image, question: 'q', strategy: 'zoom', mode: 'baseline' })).status).toBe(400);
    expect((await postJson(`${t.url}/v1/answer`, { image, question: 'q', max_calls: 3 })).status).toBe(400);
  });

  it('a server default strategy applies to semclip requests that name none', async () => {
    const server = await startTestServer({ vlm: `openai:${fake.url}#${MODEL}`, strategy: 'pack' });
    try {
      const image = b64(new Uint8Array(await readFile(join(dir, item.image))));
      const body = (await (
        await postJson(`${server.url}/v1/answer`, { image, question: item.question, options: item.options, scorer: 'random' })
      ).json()) as Record<string, any>;
      expect(body.strategy).toBe('pack');
      const baseline = (await (await postJson(`${server.url}/v1/answer`, { image, question: 'q', scorer: 'random', mode: 'baseline' })).json()) as Record<
        string,
        any
      >;
      expect(baseline.strategy).toBe('topk');
    } finally {
      await server.close();
    }
  }, 60_000);

  it.each([
    [{ SEMCLIP_STRATEGY: 'zoom' }, 'zoom'],
    [{ SEMCLIP_STRATEGY: 'pack' }, 'pack'],
    [{}, 'topk'],
  ])('SEMCLIP_STRATEGY %j sets the server default strategy to %s', (env, strategy) => {
    expect(resolveServerConfig({ scorer: 'random', ...serverConfigFromEnv(env) }).strategy).toBe(strategy);
  });

  it('refuses an unknown SEMCLIP_STRATEGY, naming the variable', () => {
    expect(() => serverConfigFromEnv({ SEMCLIP_STRATEGY: 'zooom' })).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('SEMCLIP_STRATEGY') }),
    );
  });
});
