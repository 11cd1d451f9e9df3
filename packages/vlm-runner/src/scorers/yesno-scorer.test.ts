/**
 * vlm-yesno against the fake OpenAI upstream (scripted per tile: it tells tiles apart by their
 * sizes, which differ in a 97x61 image cut 2x2) and on the test kit's tiny random-weight LLaVA
 * (shapes, batching and plumbing only: random weights say nothing about relevance).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defineRunner } from '@semclip/core';
import type { AnswerRequest, VlmRunner } from '@semclip/core';
import { tileImage } from '@semclip/tiling';
import type { TiledImage } from '@semclip/tiling';
import { makePng } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI, RecordedRequest } from '@semclip/test-kit/openai-upstream';
import { writeTinyLlava } from '@semclip/test-kit/onnx-llava';
import { createOpenAIRunner } from '../openai/index.js';
import { createLocalRunner } from '../local/index.js';
import type { LocalTraceEvent } from '../local/index.js';
import { DEFAULT_YESNO_PROMPT, UNPARSED_SCORE, createVlmYesNoScorer } from './index.js';
import type { VlmYesNoMeta } from './index.js';

const QUESTION = 'What is written on the sign?';
const TARGET = 2; // bottom-left

let fake: FakeOpenAI;
let tiled: TiledImage;
/** Tile index by "<width>x<height>" of the image the fake receives. */
let tileBySize: Map<string, number>;

const tileOf = (r: RecordedRequest): number => tileBySize.get(`${r.images[0]?.width}x${r.images[0]?.height}`) ?? -1;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  tiled = await tileImage(await makePng({ width: 97, height: 61, pattern: 'quadrants' }), { grid: '2x2' });
  tileBySize = new Map(tiled.grid.tiles.map((t) => [`${t.box.width}x${t.box.height}`, t.index]));
  expect(tileBySize.size).toBe(4);
});
afterAll(() => fake?.close());
afterEach(() => {
  fake.setBehaviour({});
  fake.reset();
});

/** Answers Yes (with logprobs 0.8 / 0.15) only for the target tile, No (0.9 / 0.05) for the rest. */
const scripted = {
  respond: (r: RecordedRequest) => (tileOf(r) === TARGET ? 'Yes' : 'No'),
  topLogprobs: (r: RecordedRequest) =>
    tileOf(r) === TARGET
      ? [
          { token: 'Yes', logprob: Math.log(0.8) },
          { token: 'No', logprob: Math.log(0.15) },
        ]
      : [
          { token: 'No', logprob: Math.log(0.9) },
          { token: ' yes', logprob: Math.log(0.03) },
          { token: 'Yes', logprob: Math.log(0.02) },
        ],
};

describe('vlm-yesno against an OpenAI-compatible server', () => {
  it('ranks the tile the server says Yes to first, from its logprobs', async () => {
    fake.setBehaviour(scripted);
    const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', concurrency: 2 });
    const scorer = await createVlmYesNoScorer({ runner });
    const result = await scorer.score({ question: QUESTION }, tiled);
    expect(result.scorer).toBe('vlm-yesno');
    expect(result.scores).toHaveLength(4);
    expect(result.scores[TARGET]).toBeCloseTo(0.8 / 0.95, 9);
    for (const i of [0, 1, 3]) expect(result.scores[i]).toBeCloseTo(0.05 / 0.95, 9);
    const best = result.scores.indexOf(Math.max(...result.scores));
    expect(best).toBe(TARGET);
    const meta = result.meta as unknown as VlmYesNoMeta;
    expect(meta.method).toBe('logprobs');
    expect(meta.methods).toEqual(['logprobs', 'logprobs', 'logprobs', 'logprobs']);
    expect(meta.prompt).toBe(DEFAULT_YESNO_PROMPT.replace('{question}', QUESTION));
    // One request per tile, each with that tile alone and the yes/no question.
    expect(fake.requests).toHaveLength(4);
    expect(fake.requests.map(tileOf).sort()).toEqual([0, 1, 2, 3]);
    for (const r of fake.requests) {
      expect(r.images).toHaveLength(1);
      expect(r.texts).toEqual([meta.prompt]);
      expect(r.body).toMatchObject({ logprobs: true, top_logprobs: 20, temperature: 0 });
    }
    await scorer.dispose();
    // A runner passed in stays open.
    expect((await runner.answer({ images: [{ role: 'overview', image: await tiled.overview({ width: 8, height: 8 }) }], question: 'q?' })).text).toBe('No');
  });

  it("keeps requests in flight within the runner's concurrency", async () => {
    fake.setBehaviour({ ...scripted, latencyMs: 60 });
    const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', concurrency: 2 });
    const scorer = await createVlmYesNoScorer({ runner });
    const grid3 = await tileImage(await makePng({ width: 97, height: 61, pattern: 'quadrants' }), { grid: '3x3' });
    const result = await scorer.score({ question: QUESTION }, grid3);
    expect(result.scores).toHaveLength(9);
    expect(fake.requests).toHaveLength(9);
    expect(fake.maxInFlight).toBe(2);
  });

  it.each([
    ['ignores', 'ignore' as const],
    ['rejects', 'reject' as const],
  ])('falls back to reading the answer as 1/0 when the server %s logprobs, and records it', async (_what, logprobs) => {
    fake.setBehaviour({ ...scripted, logprobs });
    const scorer = await createVlmYesNoScorer({ vlm: `openai:${fake.url}#fake-vlm` });
    try {
      const result = await scorer.score({ question: QUESTION }, tiled);
      expect(result.scores).toEqual([0, 0, 1, 0]);
      expect(result.meta).toMatchObject({ method: 'text', methods: ['text', 'text', 'text', 'text'], unparsed: [] });
      // Later calls do not ask for logprobs again: the runner remembers.
      fake.reset();
      await scorer.score({ question: QUESTION }, tiled);
      expect(fake.requests.every((r) => r.body?.logprobs === undefined)).toBe(true);
    } finally {
      await scorer.dispose();
    }
  });

  it('reads the answer when no yes/no token is among the top logprobs, and scores an unreadable one in between', async () => {
    fake.setBehaviour({
      respond: (r) => (tileOf(r) === TARGET ? 'Yes, it is.' : tileOf(r) === 0 ? 'Hmm' : 'No'),
      topLogprobs: (r) => (tileOf(r) === 1 ? [{ token: 'No', logprob: -0.01 }] : [{ token: 'The', logprob: -0.1 }]),
    });
    const scorer = await createVlmYesNoScorer({ vlm: `openai:${fake.url}#fake-vlm` });
    try {
      const result = await scorer.score({ question: QUESTION }, tiled);
      expect(result.scores).toEqual([UNPARSED_SCORE, 0, 1, 0]);
      expect(result.meta).toMatchObject({ method: 'mixed', methods: ['text', 'logprobs', 'text', 'text'], unparsed: [0] });
    } finally {
      await scorer.dispose();
    }
  });

  it('puts multiple-choice options into the question and accepts its own prompt', async () => {
    fake.setBehaviour(scripted);
    const scorer = await createVlmYesNoScorer({ vlm: `openai:${fake.url}#fake-vlm`, prompt: 'Is this useful for: {question}? Yes or No.' });
    try {
      await scorer.score({ question: 'Which colour?', options: ['red', 'blue'] }, tiled);
      expect(fake.requests[0]!.texts).toEqual(['Is this useful for: Which colour? (options: red; blue)? Yes or No.']);
    } finally {
      await scorer.dispose();
    }
    await expect(createVlmYesNoScorer({ vlm: `openai:${fake.url}#m`, prompt: 'no placeholder' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('surfaces upstream failures as they are', async () => {
    fake.setBehaviour({ failStatus: 401, failMessage: 'bad key' });
    const scorer = await createVlmYesNoScorer({ vlm: `openai:${fake.url}#fake-vlm` });
    try {
      await expect(scorer.score({ question: QUESTION }, tiled)).rejects.toMatchObject({ code: 'UPSTREAM_ERROR' });
    } finally {
      await scorer.dispose();
    }
  });
});

describe('vlm-yesno with any runner (answer() only)', () => {
  it('asks each tile through answer() and reads the text', async () => {
    const asked: number[] = [];
    const runner: VlmRunner = defineRunner({
      id: 'plain',
      model: 'plain-vlm',
      visualTokensPerImage: 1,
      capabilities: { multiImage: false, logprobs: false, embeddings: false },
      async answer(request: AnswerRequest) {
        const image = request.images[0]!.image;
        asked.push(image.width);
        return {
          text: image.width === tiled.grid.tiles[TARGET]!.box.width && image.height === tiled.grid.tiles[TARGET]!.box.height ? 'yes' : 'no',
          usage: { visual: 1 },
          latencyMs: 0,
        };
      },
      async choose() {
        throw new Error('not used');
      },
      dispose() {},
    });
    const scorer = await createVlmYesNoScorer({ runner });
    const result = await scorer.score({ question: QUESTION }, tiled);
    expect(asked).toHaveLength(4);
    expect(result.scores).toEqual([0, 0, 1, 0]);
    expect(result.meta).toMatchObject({ method: 'text', model: 'plain-vlm' });
  });
});

describe('vlm-yesno on a tiny random-weight LLaVA (shapes, batching and plumbing only)', () => {
  let dir: string;
  const trace: LocalTraceEvent[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'semclip-yesno-'));
    await writeTinyLlava(dir, { seed: 4 });
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('scores every tile from the logits in batched forward passes, deterministically', async () => {
    const runner = await createLocalRunner({ model: dir, device: 'cpu', onTrace: (e) => trace.push(e) });
    try {
      const batched = await createVlmYesNoScorer({ runner, batchSize: 3 });
      trace.length = 0;
      const a = await batched.score({ question: QUESTION }, tiled);
      expect(a.scores).toHaveLength(4);
      for (const s of a.scores) {
        expect(s).toBeGreaterThan(0);
        expect(s).toBeLessThan(1);
      }
      expect(a.meta).toMatchObject({ method: 'logits', unparsed: [] });
      // Two forward passes over the four tiles (3 + 1), each tile its own prompt of one image.
      expect(trace.filter((e) => e.kind === 'vision').map((e) => (e as { batch: number }).batch)).toEqual([3, 1]);
      const prompts = trace.filter((e) => e.kind === 'prompt');
      expect(prompts).toHaveLength(4);
      expect(prompts.every((e) => e.kind === 'prompt' && e.images === 1 && e.call === 'answerLogprobs')).toBe(true);
      const single = await createVlmYesNoScorer({ runner, batchSize: 1 });
      const b = await single.score({ question: QUESTION }, tiled);
      b.scores.forEach((s, i) => expect(s).toBeCloseTo(a.scores[i]!, 4));
      expect((await batched.score({ question: QUESTION }, tiled)).scores).toEqual(a.scores);
    } finally {
      await runner.dispose();
    }
  });
});
