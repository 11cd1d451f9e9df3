/**
 * V*'s files list the correct option first. A run must not leak that: each question's options
 * are shown in a seeded order of their own, letters are mapped back, the order is kept per row,
 * and V*'s own likelihood protocol is offered for runners that score text.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnswerRequest, ChooseRequest, PromptImage, VlmRunner } from '@semclip/core';
import { optionLetter } from '@semclip/core';
import { createPipeline } from '@semclip/pipeline';
import { tempDir, tinyImage } from '@semclip/test-kit/benchmarks';
import { writeTinyLlava } from '@semclip/test-kit/onnx-llava';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { createLocalRunner } from '@semclip/vlm-runner/local';
import { createOpenAIRunner } from '@semclip/vlm-runner/openai';
import { vstarOptionOrder } from '../answer/order.js';
import { loadBenchmark } from '../data/load.js';
import type { BenchmarkDataset } from '../data/types.js';
import { runEvaluation } from './engine.js';
import { readResults } from './results.js';

const FOUR = 40;
const TWO = 40;
let dir: string;
let dataset: BenchmarkDataset;

beforeAll(async () => {
  dir = await tempDir('semclip-vstar-order-');
  const image = await tinyImage('jpeg', [90, 120, 200], 64, 48);
  const lines: string[] = [];
  for (let i = 0; i < FOUR + TWO; i++) {
    const category = i < FOUR ? 'direct_attributes' : 'relative_position';
    const input_image = `${category}/sa_${i}.jpg`;
    await mkdir(join(dir, category), { recursive: true });
    await writeFile(join(dir, input_image), image);
    // As in V*: the first option is the correct one; 2-option questions are relative positions.
    const options =
      i < FOUR
        ? ['purple', 'black', 'white', 'red'].map((c) => `The colour of the comb ${i} is ${c}.`)
        : [`The dog ${i} is on the left of the cat.`, `The dog ${i} is on the right of the cat.`];
    lines.push(JSON.stringify({ question: `Question ${i}: what is true of object ${i}?`, options, input_image, target_object: ['x'], bbox: [[1, 1, 5, 5]] }));
  }
  await writeFile(join(dir, 'annotations.jsonl'), `${lines.join('\n')}\n`);
  dataset = await loadBenchmark('vstar', join(dir, 'annotations.jsonl'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A VLM that answers "A" whatever it is shown: as text, or as the first option through choose. */
function alwaysA(via: 'text' | 'choose'): VlmRunner & { readonly shown: string[] } {
  const shown: string[] = [];
  return {
    id: `fake:always-a-${via}`,
    model: 'always-a',
    visualTokensPerImage: 576,
    capabilities: { multiImage: true, logprobs: via === 'choose', embeddings: false },
    async answer(request: AnswerRequest) {
      shown.push(request.question);
      return { text: 'A', usage: { visual: 576 }, latencyMs: 1 };
    },
    async choose(request: ChooseRequest) {
      shown.push(request.options.join(' | '));
      return { index: 0, scores: request.options.map((_, i) => (i === 0 ? -0.1 : -3)), method: 'logprobs', usage: { visual: 576 }, latencyMs: 1 };
    },
    dispose() {},
    shown,
  };
}

/** What chance gives the answer "A" (the first option shown): the questions whose correct option was shuffled to the front. */
function expectedAlwaysA(seed: number): number {
  return dataset.items.filter((item) => vstarOptionOrder(seed, item.id, item.options?.length ?? 0)[0] === 0).length;
}

const chance = (FOUR / 4 + TWO / 2) / (FOUR + TWO);

describe('eval run on V*: options in a seeded order per question', () => {
  it.each(['text', 'choose'] as const)('a VLM that always answers "A" (%s) scores near chance, never 100 percent', async (via) => {
    const runner = alwaysA(via);
    const out = join(dir, `always-a-${via}.jsonl`);
    await runEvaluation({ dataset, methods: 'baseline', runner, pipeline: createPipeline({ scorer: false, grid: '2x2', runner }), out, seed: 0 });
    const { header, rows } = await readResults(out);
    const correct = rows.filter((r) => r.correct).length;
    expect(rows).toHaveLength(FOUR + TWO);
    expect(correct).toBe(expectedAlwaysA(0));
    const accuracy = correct / rows.length;
    expect(accuracy).toBeLessThan(0.6);
    expect(Math.abs(accuracy - chance)).toBeLessThan(0.15);
    // Every row keeps the order shown; "A" is mapped back to the file's letter of the first option shown.
    for (const r of rows) {
      const order = vstarOptionOrder(0, r.item, r.optionOrder?.length ?? 0);
      expect(r.optionOrder).toEqual(order);
      expect(r.answer).toBe('A');
      expect(r.predicted).toBe(optionLetter(order[0] as number));
      expect(r.via).toBe(via);
    }
    expect(header.config.vstar).toEqual({ protocol: 'letters', optionOrder: 'shuffled', shuffleSeed: 0 });
    // The VLM was shown the options in that order, not the file's.
    const first = dataset.items[0]!;
    const order = vstarOptionOrder(0, first.id, 4);
    const asked = runner.shown.find((q) => q.includes('comb 0 is'))!;
    const positions = order.map((i) => asked.indexOf(first.options![i]!));
    expect(positions.every((p, k) => p >= 0 && (k === 0 || p > positions[k - 1]!))).toBe(true);
  });

  it('against the test kit\'s fake OpenAI-compatible server: "A" every time scores chance, and each request lists the shuffled options', async () => {
    const fake = await startFakeOpenAI({ behaviour: { respond: () => 'A' } });
    try {
      const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', concurrency: 4, retries: 0 });
      const out = join(dir, 'fake-server.jsonl');
      await runEvaluation({ dataset, methods: 'baseline', runner, pipeline: createPipeline({ scorer: false, grid: '2x2', runner }), out, seed: 3 });
      const { rows } = await readResults(out);
      expect(rows.filter((r) => r.correct).length).toBe(expectedAlwaysA(3));
      expect(rows.filter((r) => r.correct).length).toBeLessThan(rows.length / 2);
      for (const item of dataset.items) {
        const text = fake.requests.map((r) => r.texts.join('\n')).find((t) => t.includes(item.question))!;
        const lines = text.split('\n').filter((l) => /^[A-D]\. /.test(l));
        const order = vstarOptionOrder(3, item.id, item.options!.length);
        expect(lines).toEqual(order.map((i, k) => `${optionLetter(k)}. ${item.options![i]}`));
      }
    } finally {
      await fake.close();
    }
  });

  it('shows every method of a question the same order, and another run seed another order', async () => {
    const runner = alwaysA('text');
    const out = join(dir, 'methods.jsonl');
    await runEvaluation({
      dataset,
      methods: 'baseline,all-tiles,majority',
      runner,
      pipeline: createPipeline({ scorer: false, grid: '2x2', runner }),
      out,
      seed: 7,
      limit: 10,
    });
    const { rows } = await readResults(out);
    for (const item of dataset.items.slice(0, 10)) {
      const orders = new Set(rows.filter((r) => r.item === item.id).map((r) => JSON.stringify(r.optionOrder)));
      expect(orders).toEqual(new Set([JSON.stringify(vstarOptionOrder(7, item.id, item.options!.length))]));
    }
    expect(rows.filter((r) => r.method === 'baseline').filter((r) => r.correct).length).toBe(
      dataset.items.slice(0, 10).filter((i) => vstarOptionOrder(7, i.id, i.options!.length)[0] === 0).length,
    );
  });

  it('refuses to resume a V* results file written without shuffled options', async () => {
    const runner = alwaysA('text');
    const out = join(dir, 'old.jsonl');
    await runEvaluation({ dataset, methods: 'baseline', runner, pipeline: createPipeline({ scorer: false, grid: '2x2', runner }), out, limit: 2 });
    const [head, ...rest] = (await readFile(out, 'utf8')).split('\n');
    const header = JSON.parse(head!);
    delete header.config.vstar;
    await writeFile(out, [JSON.stringify(header), ...rest].join('\n'));
    await expect(
      runEvaluation({ dataset, methods: 'baseline', runner, pipeline: createPipeline({ scorer: false, grid: '2x2', runner }), out, limit: 2 }),
    ).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      message: expect.stringContaining('vstar'),
    });
  });
});

interface LikelihoodCall {
  readonly question: string;
  readonly candidates: readonly string[];
  readonly images: number;
}

/**
 * A local-like runner that scores option texts: `prefer` says which candidate it likes.
 * Correct texts (the file's first option) get a larger summed but better mean log-probability,
 * so only the per-token mean picks them, as V*'s mean cross-entropy does.
 */
function likelihoodRunner(prefer: 'correct' | 'first-listed', correctTexts: ReadonlySet<string>) {
  const calls: LikelihoodCall[] = [];
  const runner = {
    id: 'local:fake-likelihood',
    model: 'fake-likelihood',
    visualTokensPerImage: 576,
    capabilities: { multiImage: true, logprobs: true, embeddings: false },
    async answer(): Promise<never> {
      throw new Error('the likelihood protocol never generates');
    },
    async choose(): Promise<never> {
      throw new Error('the likelihood protocol never lists the options');
    },
    async answerLogprobs(request: { prompts: readonly (readonly PromptImage[])[]; question: string; instruction?: string; candidates: readonly string[] }) {
      calls.push({ question: `${request.question}${request.instruction ?? ''}`, candidates: [...request.candidates], images: request.prompts[0]?.length ?? 0 });
      const good = (c: string, i: number) => (prefer === 'correct' ? correctTexts.has(c) : i === 0);
      return request.prompts.map(() => ({
        method: 'logits' as const,
        // Good: -3 over 6 tokens (mean -0.5); others: -1 over 1 token (mean -1).
        logprobs: request.candidates.map((c, i) => ({ token: c, logprob: good(c, i) ? -3 : -1 })),
        tokenCounts: request.candidates.map((c, i) => (good(c, i) ? 6 : 1)),
        text: '',
        usage: { visual: 576 },
      }));
    },
    dispose() {},
  };
  return { runner: runner as VlmRunner, calls };
}

describe("eval run on V* with V*'s likelihood protocol", () => {
  const correct = () => new Set(dataset.items.map((i) => i.options![0]!));

  it('asks the question alone and takes the option text with the best mean log-probability per token', async () => {
    const { runner, calls } = likelihoodRunner('correct', correct());
    const out = join(dir, 'likelihood.jsonl');
    await runEvaluation({
      dataset,
      methods: 'baseline',
      runner,
      pipeline: createPipeline({ scorer: false, grid: '2x2', runner }),
      out,
      vstarProtocol: 'likelihood',
    });
    const { header, rows } = await readResults(out);
    expect(header.config.vstar).toEqual({ protocol: 'likelihood', optionOrder: 'shuffled', shuffleSeed: 0 });
    expect(rows.every((r) => r.correct && r.via === 'likelihood' && r.predicted === 'A')).toBe(true);
    expect(calls).toHaveLength(FOUR + TWO);
    for (const call of calls) {
      // The question alone: no option lines, no letter instruction.
      const item = dataset.items.find((i) => i.question === call.question)!;
      expect(item).toBeDefined();
      expect(call.images).toBe(1);
      // The candidates are the options in the question's shuffled order.
      expect(call.candidates).toEqual(vstarOptionOrder(0, item.id, item.options!.length).map((i) => item.options![i]));
    }
  });

  it('gives a runner that prefers whichever option comes first no more than chance', async () => {
    const { runner } = likelihoodRunner('first-listed', correct());
    const out = join(dir, 'likelihood-first.jsonl');
    await runEvaluation({
      dataset,
      methods: 'baseline',
      runner,
      pipeline: createPipeline({ scorer: false, grid: '2x2', runner }),
      out,
      vstarProtocol: 'likelihood',
    });
    const { rows } = await readResults(out);
    expect(rows.filter((r) => r.correct).length).toBe(expectedAlwaysA(0));
  });

  it('runs on a local runner (tiny random-weight LLaVA): each answer is the option with the best mean log-probability per token', async () => {
    const model = join(dir, 'tiny-llava');
    await writeTinyLlava(model, { seed: 11 });
    const local = await createLocalRunner({ model, device: 'cpu', maxTokens: 4 });
    try {
      const seen: { question: string; candidates: readonly string[]; means: number[] }[] = [];
      const scoring = local.answerLogprobs.bind(local);
      const runner = Object.assign(Object.create(local) as typeof local, {
        answerLogprobs: async (request: Parameters<typeof local.answerLogprobs>[0]) => {
          const out = await scoring(request);
          const r = out[0]!;
          seen.push({ question: request.question, candidates: request.candidates, means: r.logprobs!.map((l, i) => l.logprob / r.tokenCounts![i]!) });
          return out;
        },
      });
      const out = join(dir, 'likelihood-local.jsonl');
      await runEvaluation({
        dataset,
        methods: 'baseline',
        runner,
        pipeline: createPipeline({ scorer: false, grid: '2x2', runner }),
        out,
        limit: 6,
        vstarProtocol: 'likelihood',
      });
      const { rows } = await readResults(out);
      expect(rows).toHaveLength(6);
      for (const row of rows) {
        const item = dataset.items.find((i) => i.id === row.item)!;
        const call = seen.find((c) => c.question === item.question)!;
        const best = call.means.indexOf(Math.max(...call.means));
        expect(row.via).toBe('likelihood');
        expect(row.reply).toEqual({ index: best });
        expect(row.predicted).toBe(optionLetter(row.optionOrder![best]!));
      }
    } finally {
      await local.dispose();
    }
  });

  it('refuses the likelihood protocol for a runner that cannot score text, and for other benchmarks', async () => {
    const runner = alwaysA('choose');
    const base = { dataset, methods: 'baseline', runner, pipeline: createPipeline({ scorer: false, grid: '2x2', runner }), out: join(dir, 'never.jsonl') };
    await expect(runEvaluation({ ...base, vstarProtocol: 'likelihood' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('scores free text'),
    });
    const pope = { ...dataset, benchmark: 'pope' as const };
    await expect(runEvaluation({ ...base, dataset: pope, vstarProtocol: 'letters' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(runner.shown).toHaveLength(0);
  });
});
