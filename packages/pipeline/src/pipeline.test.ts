import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineScorer } from '@semclip/core';
import type { PipelineStages, RelevanceScorer } from '@semclip/core';
import { makeJpeg, truncated } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { createOpenAIRunner } from '@semclip/vlm-runner/openai';
import { createPipeline, describeSelectOptions } from './_pipeline.js';
import { getScorerFamily, listScorers, openScorer, registerScorer } from './_registry.js';

let jpeg: Uint8Array;
let fake: FakeOpenAI;

beforeAll(async () => {
  jpeg = await makeJpeg({ width: 1200, height: 800, pattern: 'quadrants' });
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());

/** Scores tile `best` 1 and the others 0; counts disposals. */
function planted(best: number): RelevanceScorer & { disposed: number } {
  const s = defineScorer({
    id: 'planted',
    disposed: 0,
    async score(_q, source) {
      return { scorer: 'planted', scores: source.grid.tiles.map((t) => (t.index === best ? 1 : 0)), timings: { preprocess: 0, encode: 0, score: 0 } };
    },
    dispose() {
      s.disposed++;
    },
  });
  return s;
}

describe('createPipeline checks every option before any work', () => {
  it.each([
    [{ grid: '0x0' }, 'INVALID_GRID'],
    [{ select: { k: -1 } }, 'INVALID_ARGUMENT'],
    [{ scorer: 'nope' }, 'UNKNOWN_SCORER'],
    [{ scorer: 'ocr', scorerOptions: { model: 'clip-vit-base-patch32' } }, 'INVALID_ARGUMENT'],
    [{ scorer: 'clip', scorerOptions: { vlm: 'openai:http://127.0.0.1:1/v1#m' } }, 'INVALID_ARGUMENT'],
    [{ scorer: 'vlm-embed', scorerOptions: { vlm: 'openai:http://127.0.0.1:1/v1#m' } }, 'INVALID_ARGUMENT'],
    [{ imageFormat: { quality: 0 } }, 'INVALID_ARGUMENT'],
    [{ policy: { family: 'gpt' } }, 'INVALID_ARGUMENT'],
    [{ scorer: { id: 'x' } }, 'INVALID_ARGUMENT'],
  ])('rejects %j with %s', (options, code) => {
    expect(() => createPipeline(options as never)).toThrow(expect.objectContaining({ code }));
  });

  it('says which runner kind vlm-embed needs', () => {
    expect(() => createPipeline({ scorer: 'vlm-embed', scorerOptions: { vlm: 'openai:http://127.0.0.1:1/v1#m' } })).toThrow(/needs a local: VLM, not openai:/);
  });
});

describe('run: open -> score -> select', () => {
  it('scores every tile, selects the best one and times each stage', async () => {
    const pipeline = createPipeline({ scorer: planted(3), grid: '2x2' });
    const run = await pipeline.run({ image: jpeg, question: 'Where is the blue square?' });
    expect(run.scores.scores).toEqual([0, 0, 0, 1]);
    expect(run.selection.regions.map((r) => r.tiles)).toEqual([[3]]);
    expect(run.selection.tokens.used).toBe(2 * 576);
    expect(run.timings.total).toBeGreaterThanOrEqual(run.timings.open + run.timings.score);
    await pipeline.dispose();
  });

  it('gives the same scores for the same seed with the registry random scorer', async () => {
    const a = createPipeline({ scorer: 'random', scorerOptions: { seed: 7 }, grid: '3x3' });
    const b = createPipeline({ scorer: 'random', scorerOptions: { seed: 7 }, grid: '3x3' });
    const ra = await a.run({ image: jpeg, question: 'q?' });
    const rb = await b.run({ image: jpeg, question: 'q?' });
    expect(ra.scores.scores).toHaveLength(9);
    expect(ra.scores.scores).toEqual(rb.scores.scores);
    await Promise.all([a.dispose(), b.dispose()]);
  });

  it.each(['open', 'score'] as const)(
    'rejects a truncated JPEG with IMAGE_TRUNCATED when checking at %s, even with a scorer that reads no pixel',
    async (check) => {
      const scorer = planted(0);
      const pipeline = createPipeline({ scorer, check });
      await expect(pipeline.run({ image: truncated(jpeg, 0.4), question: 'q?' })).rejects.toMatchObject({ code: 'IMAGE_TRUNCATED' });
    },
  );

  it('never scores when the image fails at open', async () => {
    let calls = 0;
    const scorer = defineScorer({
      id: 'count',
      async score(_q, s) {
        calls++;
        return { scorer: 'count', scores: s.grid.tiles.map(() => 0), timings: { preprocess: 0, encode: 0, score: 0 } };
      },
      dispose() {},
    });
    const pipeline = createPipeline({ scorer });
    await expect(pipeline.run({ image: truncated(jpeg, 0.4), question: 'q?' })).rejects.toMatchObject({ code: 'IMAGE_TRUNCATED' });
    expect(calls).toBe(0);
  });

  it('refuses to score without a scorer', async () => {
    const pipeline = createPipeline({ scorer: false });
    const source = await pipeline.open(jpeg);
    await expect(pipeline.score({ question: 'q?' }, source)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /no scorer/ });
  });

  it('disposes a scorer it opened, not one it was given', async () => {
    const given = planted(0);
    const p1 = createPipeline({ scorer: given });
    await p1.run({ image: jpeg, question: 'q?' });
    await p1.dispose();
    expect(given.disposed).toBe(0);

    const own = planted(1);
    registerScorer({ id: 'planted-test', description: 'test', needsDownload: false, takesModel: false, open: async () => own });
    const p2 = createPipeline({ scorer: 'planted-test' });
    await p2.run({ image: jpeg, question: 'q?' });
    await p2.dispose();
    expect(own.disposed).toBe(1);
  });
});

describe('budgets and tokens follow the model family', () => {
  it('counts a Qwen2-VL tile by its sent size when selecting under a budget', async () => {
    const runner = { model: 'Qwen/Qwen2-VL-7B-Instruct', visualTokensPerImage: 576 };
    const pipeline = createPipeline({ scorer: planted(0), grid: '2x2', runner });
    const run = await pipeline.run({ image: jpeg, question: 'q?' });
    // A 600x400 tile is sent at 600x400 -> smart resize 588x392 = 21 x 14 blocks.
    expect(run.selection.tokens.perImage).toBe(294);
    // The 1200x800 overview is sent at 1024x683: 888 tokens, which the selection now counts.
    expect(run.selection.tokens).toMatchObject({ overview: 888, used: 888 + 294, baseline: 888 });
    expect(pipeline.visualTokens([{ width: 600, height: 400 }])).toBe(294);
  });
});

describe('ask', () => {
  it('sends overview + selected tile and counts LLaVA-1.5 tokens', async () => {
    fake.reset();
    const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'llava-hf/llava-1.5-7b-hf', env: {}, retryBaseMs: 1 });
    const pipeline = createPipeline({ scorer: planted(1), runner });
    const run = await pipeline.run({ image: jpeg, question: 'q?' });
    const res = await pipeline.ask({ runner, from: run, question: 'q?' });
    // LLaVA-1.5 gets squares (expand2square): 1024x683 and 600x400 padded to their long side.
    expect(res.images.map((i) => [i.role, i.tiles, i.width, i.height])).toEqual([
      ['overview', undefined, 1024, 1024],
      ['region', [1], 600, 600],
    ]);
    expect(res.visualTokens).toBe(1152);
    expect(fake.requests).toHaveLength(1);
    await runner.dispose();
  });

  it('scores with vlm-yesno through the runner that answers', async () => {
    fake.reset();
    // 1201 px split in two columns: the right tiles are 601 px wide; the fake says Yes to those only.
    const odd = await makeJpeg({ width: 1201, height: 800, pattern: 'quadrants' });
    const asked = (r: { texts: readonly string[] }) => r.texts.join(' ').includes('Answer Yes or No');
    fake.setBehaviour({ respond: (r) => (asked(r) ? (r.images[0]?.width === 601 ? 'Yes' : 'No') : 'ok') });
    const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', env: {}, retryBaseMs: 1 });
    const pipeline = createPipeline({ scorer: 'vlm-yesno', scorerOptions: { runner }, grid: '2x2' });
    const run = await pipeline.run({ image: odd, question: 'Is there a sign?' });
    expect(run.scores.scorer).toBe('vlm-yesno');
    const [a, b, c, d] = run.scores.scores as [number, number, number, number];
    expect(b).toBeGreaterThan(a);
    expect(d).toBeGreaterThan(c);
    expect(fake.requests.filter(asked).length).toBeGreaterThanOrEqual(1);
    await pipeline.dispose();
    // The runner belongs to the caller: still usable after the pipeline is gone.
    await expect(
      runner.answer({ images: [{ role: 'overview', image: { mime: 'image/jpeg', data: odd, width: 1201, height: 800 } }], question: 'still there?' }),
    ).resolves.toMatchObject({ text: 'ok' });
    await runner.dispose();
    fake.setBehaviour({});
  });
});

describe('the PipelineStages contract', () => {
  it('is what the eval engine and the labeller are handed', async () => {
    const stages: PipelineStages = createPipeline({ scorer: planted(2), grid: '2x2' });
    const source = await stages.open(jpeg);
    const scores = await stages.score({ question: 'q?' }, source);
    const selection = stages.select(scores, source);
    const images = await stages.promptImages(source, { overview: true, regions: selection.regions });
    expect(images.map((i) => i.role)).toEqual(['overview', 'region']);
    // The same box of the same source is encoded once.
    const again = await stages.promptImages(source, { overview: true, regions: [] });
    expect(again[0]!.image).toBe(images[0]!.image);
    expect(stages.scorerId).toBe('planted');
  });
});

describe('the registry', () => {
  it('holds every family: the light scorers and the VLM scorers', () => {
    expect(listScorers().map((f) => f.id)).toEqual(expect.arrayContaining(['random', 'ocr', 'clip', 'siglip', 'distant', 'vlm-embed', 'vlm-yesno']));
    expect(getScorerFamily('vlm-yesno').runners).toEqual(['local', 'openai']);
    expect(getScorerFamily('clip').runners).toBeUndefined();
  });

  it('lists every id when one is unknown', async () => {
    await expect(openScorer('clipp')).rejects.toMatchObject({ code: 'UNKNOWN_SCORER', message: expect.stringContaining('vlm-yesno') });
  });

  it('refuses a taken id unless replacing', () => {
    const family = { id: 'twice', description: 'x', needsDownload: false, takesModel: false, open: async () => planted(0) };
    registerScorer(family);
    expect(() => registerScorer(family)).toThrow(/already registered/);
    expect(() => registerScorer(family, { replace: true })).not.toThrow();
    expect(() => registerScorer({ ...family, id: 'Bad Id' })).toThrow(/needs an id/);
  });
});

describe('plans, token estimates and overlays without a selection', () => {
  it('asks with an explicit plan (overview + one tile), as the labeller does', async () => {
    fake.reset();
    const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'llava-hf/llava-1.5-7b-hf', env: {}, retryBaseMs: 1 });
    const pipeline = createPipeline({ scorer: false, grid: '2x2', runner });
    const source = await pipeline.open(jpeg);
    const tile = source.grid.tiles[2]!;
    const res = await pipeline.ask({ runner, from: { source }, plan: { overview: true, regions: [{ box: tile.box, tiles: [2] }] }, question: 'q?' });
    expect(res.images.map((i) => [i.role, i.tiles])).toEqual([
      ['overview', undefined],
      ['region', [2]],
    ]);
    expect(pipeline.planTokens(source, { overview: true, regions: [{ box: tile.box }] })).toBe(res.visualTokens);
    await runner.dispose();
  });

  it('estimates a Qwen2-VL plan from the sizes the images are sent at', async () => {
    const pipeline = createPipeline({ scorer: false, runner: { model: 'Qwen/Qwen2-VL-7B-Instruct', visualTokensPerImage: 576 } });
    const source = await pipeline.open(jpeg);
    // overview 1200x800 -> 1024x683 (888 tokens); a 600x400 tile -> 294.
    expect(pipeline.planTokens(source, { overview: true, regions: [{ box: source.grid.tiles[0]!.box }] })).toBe(888 + 294);
  });

  it('draws an overlay of an opened image with no scores', async () => {
    const pipeline = createPipeline({ scorer: false });
    const png = await pipeline.overlay({ source: await pipeline.open(jpeg) }, { maxSide: 300 });
    expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
  });
});

describe('describeSelectOptions', () => {
  it.each([
    [{}, { mode: 'top-k', k: 1, includeOverview: true, merge: false, level: 1, budget: null }],
    [{ k: 1 }, { mode: 'top-k', k: 1, includeOverview: true, merge: false, level: 1, budget: null }],
    [{ mode: 'adaptive' }, { mode: 'adaptive', margin: 0.1, threshold: 0, maxTiles: null, includeOverview: true, merge: false, level: 1, budget: null }],
  ])('fills the defaults of %j', (options, expected) => {
    expect(describeSelectOptions(options as never)).toEqual(expected);
  });
  it('rejects what select would reject', () => {
    expect(() => describeSelectOptions({ k: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
