import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BenchmarkItem, PipelineStages, RelevanceScorer, SemclipErrorCode } from '@semclip/core';
import { SemclipError } from '@semclip/core';
import { createPipeline } from '@semclip/pipeline';
import { tileImage } from '@semclip/tiling';
import { createOpenAIRunner } from '@semclip/vlm-runner/openai';
import { tempDir } from '@semclip/test-kit/benchmarks';
import { EVAL_IMAGE, createRedScorer, rightTileOf, tileOracleVlm, tileSizeMap, writeEvalVstar, type EvalFixtureItem } from '@semclip/test-kit/eval-fixtures';
import { startFakeOpenAI, type FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { loadBenchmark } from '../data/load.js';
import type { BenchmarkDataset } from '../data/types.js';
import { runEvaluation, type RunEvaluationOptions } from './engine.js';
import { EVAL_METHODS } from './methods.js';
import { readResults, resultKey, type EvalResultRow } from './results.js';

const N_ITEMS = 10;
const TILES = 4;
let dir: string;
let fixture: EvalFixtureItem[];
let dataset: BenchmarkDataset;
let fake: FakeOpenAI;
let vlm: ReturnType<typeof tileOracleVlm>;

beforeAll(async () => {
  dir = await tempDir('semclip-eval-run-');
  fixture = await writeEvalVstar(join(dir, 'vstar'), N_ITEMS);
  dataset = await loadBenchmark('vstar', join(dir, 'vstar', 'annotations.jsonl'));
  const probe = await tileImage(join(dir, 'vstar', 'direct_attributes', 'q0.png'), { grid: '2x2' });
  vlm = tileOracleVlm(fixture, tileSizeMap(probe.grid.tiles, EVAL_IMAGE));
  fake = await startFakeOpenAI({ behaviour: { respond: vlm.respond } });
});
afterAll(async () => {
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fake.setBehaviour({ respond: vlm.respond });
  fake.reset();
});

let fileNo = 0;
const newOut = () => join(dir, `results-${++fileNo}.jsonl`);

function options(out: string, extra: Partial<RunEvaluationOptions> = {}): RunEvaluationOptions {
  const runner = extra.runner ?? createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', concurrency: 8, retries: 0 });
  return {
    dataset,
    methods: 'all',
    runner,
    pipeline: createPipeline({ scorer: createRedScorer(), grid: '2x2', select: { k: 1 }, runner }),
    setup: { grid: '2x2', scorer: 'red', k: 1 },
    out,
    repeats: 3,
    concurrency: 4,
    ...extra,
  };
}

/** The pipeline, except that `open` fails with `code` for the images of the items in `failing` (ids). */
function openFailsFor(base: PipelineStages, failing: ReadonlyMap<string, SemclipErrorCode>): PipelineStages {
  return new Proxy(base, {
    get(target, prop) {
      if (prop === 'open') {
        return (image: unknown, o?: { readonly signal?: AbortSignal }) => {
          const hit = [...failing].find(([id]) => typeof image === 'string' && image.endsWith(`${id}.png`));
          if (hit) return Promise.reject(new SemclipError(hit[1], `open failed for ${hit[0]}.`));
          return target.open(image as never, o);
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

const byItem = (id: string) => fixture.find((f) => f.id === id) as EvalFixtureItem;
const pct = (rows: readonly EvalResultRow[]) => (100 * rows.filter((r) => r.correct).length) / rows.length;

/** Majority vote written independently of the engine: most votes, ties to the lowest tile index. */
function expectedMajority(item: EvalFixtureItem): string {
  const answers = Array.from({ length: TILES }, (_, t) => vlm.answerFor({ item, overview: true, tiles: [t] }));
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
  const top = Math.max(...counts.values());
  return answers.find((a) => counts.get(a) === top) as string;
}

describe('runEvaluation', () => {
  it('writes one row per item, method and seed; SemClip with a scorer that finds the right tile beats the baseline', async () => {
    const out = newOut();
    const summary = await runEvaluation(options(out));
    const { header, rows } = await readResults(out);
    expect(header.config).toMatchObject({
      benchmark: 'vstar',
      seed: 0,
      repeats: 3,
      vlm: { id: 'openai:fake-vlm', visualTokensPerImage: 576 },
      setup: { grid: '2x2' },
    });
    expect(summary).toMatchObject({ items: N_ITEMS, keys: N_ITEMS * (EVAL_METHODS.length + 2), written: N_ITEMS * (EVAL_METHODS.length + 2), skipped: 0 });
    expect(new Set(rows.map(resultKey)).size).toBe(rows.length);
    expect(rows).toHaveLength(summary.keys);

    const of = (method: string) => rows.filter((r) => r.method === method);
    const withTile = (rs: readonly EvalResultRow[]) => rs.filter((r) => byItem(r.item).rightTile !== null);
    // The fake answers right only when the right tile is sent: the overview alone never is.
    expect(pct(of('baseline'))).toBe(0);
    for (const m of ['semclip', 'oracle', 'subimage-only', 'all-tiles']) {
      expect(pct(withTile(of(m))), m).toBe(100);
      expect(
        of(m)
          .filter((r) => byItem(r.item).rightTile === null)
          .every((r) => !r.correct),
        m,
      ).toBe(true);
    }
    expect(pct(of('semclip'))).toBeGreaterThan(pct(of('baseline')));
    // SemClip sent the scorer's top tile with the overview; sub-image only the same tile alone.
    for (const r of withTile(of('semclip'))) expect(r).toMatchObject({ tiles: [byItem(r.item).rightTile], overview: true, images: 2, visualTokens: 1152 });
    for (const r of withTile(of('subimage-only')))
      expect(r).toMatchObject({ tiles: [byItem(r.item).rightTile], overview: false, images: 1, visualTokens: 576 });
    // Random: right exactly when its drawn tile is the right one; seeds draw different tiles.
    const random = of('random');
    expect(new Set(random.map((r) => r.seed))).toEqual(new Set([0, 1, 2]));
    for (const r of random) expect(r.correct, r.item).toBe(r.tiles[0] === byItem(r.item).rightTile);
    expect(new Set(random.map((r) => `${r.item}:${r.tiles[0]}`)).size).toBeGreaterThan(N_ITEMS);
    // Majority: computed from the answer rule with the documented tie-break.
    for (const r of of('majority')) {
      expect(r.predicted, r.item).toBe(expectedMajority(byItem(r.item)));
      expect(r).toMatchObject({ vlmCalls: TILES, visualTokens: TILES * 1152, via: 'vote' });
    }
    expect(of('all-tiles').every((r) => r.images === TILES + 1 && r.visualTokens === (TILES + 1) * 576)).toBe(true);
    expect(of('oracle').every((r) => r.vlmCalls === TILES && r.visualTokens === 1152)).toBe(true);
    // Multiple choice went through choose (the fake honours logprobs).
    expect(rows.filter((r) => r.via === 'choose' || r.via === 'text').every((r) => r.via === 'choose' && typeof r.reply === 'object')).toBe(true);
    for (const r of rows) expect(r.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('asks baseline + one call per tile per item, shared by random, majority, oracle and SemClip k=1', async () => {
    const out = newOut();
    const summary = await runEvaluation(options(out, { methods: 'baseline,semclip,random,majority,oracle', repeats: 5 }));
    expect(fake.requests).toHaveLength(N_ITEMS * (TILES + 1));
    expect(summary.vlmCalls).toBe(N_ITEMS * (TILES + 1));
    // No prompt was sent twice for one item.
    const prompts = fake.requests.map((r) => vlm.classify(r)).map((c) => `${c.item.id}|${c.overview}|${c.tiles.join(',')}`);
    expect(new Set(prompts).size).toBe(prompts.length);
    // sub-image only and all-tiles add one call each.
    fake.reset();
    await runEvaluation(options(out, { methods: 'all', repeats: 5 }));
    expect(fake.requests).toHaveLength(N_ITEMS * 2);
  });

  it('uses answer + extractAnswer for multiple choice when the runner has no logprobs', async () => {
    const out = newOut();
    const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', logprobs: false, retries: 0 });
    expect(runner.capabilities.logprobs).toBe(false);
    await runEvaluation(options(out, { runner, methods: 'baseline,semclip' }));
    const { rows } = await readResults(out);
    expect(fake.requests.every((r) => r.body?.logprobs === undefined)).toBe(true);
    expect(rows.every((r) => r.via === 'text' && typeof r.reply === 'string')).toBe(true);
    const semclip = rows.filter((r) => r.method === 'semclip');
    for (const r of semclip) expect(r.correct, r.item).toBe(byItem(r.item).rightTile !== null);
    expect(rows.filter((r) => r.method === 'baseline').every((r) => r.predicted === 'B')).toBe(true);
  });

  it("counts visual tokens with the pipeline's model family and passes the image size to the runner", async () => {
    const out = newOut();
    const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', concurrency: 8, retries: 0 });
    const pipeline = createPipeline({ scorer: createRedScorer(), select: { k: 1 }, runner });
    const sizes: number[] = [];
    const seen: Array<{ width: number; height: number } | undefined> = [];
    const choose = runner.choose.bind(runner);
    runner.choose = (request) => {
      seen.push(request.imageSize);
      return choose(request);
    };
    await runEvaluation(
      options(out, {
        methods: 'baseline,semclip,majority',
        runner,
        pipeline: {
          ...pipeline,
          scorerId: pipeline.scorerId,
          visualTokens: (images) => {
            sizes.push(images.length);
            return images.length * 1000;
          },
        },
      }),
    );
    const { rows } = await readResults(out);
    expect(rows.filter((r) => r.method === 'baseline').every((r) => r.visualTokens === 1000)).toBe(true);
    expect(rows.filter((r) => r.method === 'semclip').every((r) => r.visualTokens === 2000)).toBe(true);
    expect(rows.filter((r) => r.method === 'majority').every((r) => r.visualTokens === TILES * 2000)).toBe(true);
    expect(sizes).toHaveLength(N_ITEMS * (1 + TILES));
    expect(seen.length).toBe(N_ITEMS * (1 + TILES));
    expect(seen.every((s) => s?.width === 97 && s.height === 61)).toBe(true);
  });

  it('resumes: a second identical run asks nothing and writes nothing', async () => {
    const out = newOut();
    await runEvaluation(options(out, { methods: 'baseline,semclip,random' }));
    const before = await readFile(out, 'utf8');
    fake.reset();
    const again = await runEvaluation(options(out, { methods: 'baseline,semclip,random' }));
    expect(fake.requests).toHaveLength(0);
    expect(again).toMatchObject({ written: 0, skipped: again.keys, resumed: true, vlmCalls: 0 });
    expect(await readFile(out, 'utf8')).toBe(before);
  });

  it('resumes a partial run (--limit) without repeating a call for a written key', async () => {
    const out = newOut();
    await runEvaluation(options(out, { methods: 'baseline,oracle', limit: 4 }));
    const first = new Set(fake.requests.map((r) => vlm.classify(r).item.id));
    expect(first.size).toBe(4);
    fake.reset();
    const summary = await runEvaluation(options(out, { methods: 'baseline,oracle' }));
    expect(summary).toMatchObject({ skipped: 8, written: (N_ITEMS - 4) * 2 });
    expect(fake.requests.filter((r) => first.has(vlm.classify(r).item.id))).toHaveLength(0);
    const { rows } = await readResults(out);
    expect(rows).toHaveLength(N_ITEMS * 2);
  });

  it('refuses to resume with another configuration (RESULTS_INVALID) and leaves the file alone', async () => {
    const out = newOut();
    await runEvaluation(options(out, { methods: 'baseline', limit: 2 }));
    const before = await readFile(out, 'utf8');
    await expect(runEvaluation(options(out, { methods: 'baseline', seed: 7 }))).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      message: expect.stringContaining('seed: 0 in the file, 7 now'),
    });
    await expect(runEvaluation(options(out, { methods: 'baseline', setup: { grid: '3x3', scorer: 'red', k: 1 } }))).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      message: expect.stringContaining('setup.grid'),
    });
    await expect(
      runEvaluation(options(out, { methods: 'baseline', runner: createOpenAIRunner({ baseUrl: fake.url, model: 'other-vlm', retries: 0 }) })),
    ).rejects.toMatchObject({ code: 'RESULTS_INVALID', message: expect.stringContaining('vlm.id') });
    // The pipeline's image encoding is part of the config.
    const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', retries: 0 });
    const pngPipeline = createPipeline({ scorer: createRedScorer(), select: { k: 1 }, runner, imageFormat: { format: 'png' } });
    await expect(runEvaluation(options(out, { methods: 'baseline', runner, pipeline: pngPipeline }))).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      message: expect.stringContaining('image.format: "jpeg" in the file, "png" now'),
    });
    // So is the padding of the images (LLaVA-1.5's square padding, here forced on).
    const paddedPipeline = createPipeline({ scorer: createRedScorer(), select: { k: 1 }, runner, padding: 'square' });
    await expect(runEvaluation(options(out, { methods: 'baseline', runner, pipeline: paddedPipeline }))).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      message: expect.stringContaining('image.padding: undefined in the file, "pad-square(122,116,104)" now'),
    });
    expect(await readFile(out, 'utf8')).toBe(before);
    // Changing only what is not part of the config (methods, limit, concurrency) is fine.
    await runEvaluation(options(out, { methods: 'baseline,random', limit: 3, concurrency: 1 }));
  });

  it('refuses to write into a file that is not a results file', async () => {
    const out = newOut();
    await writeFile(out, 'question_id,text\n1,yes\n');
    await expect(runEvaluation(options(out))).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      message: expect.stringContaining('not a semclip eval results file'),
    });
    expect(await readFile(out, 'utf8')).toBe('question_id,text\n1,yes\n');
  });

  it('refuses a second run on the same file while the first runs (RESULTS_LOCKED): every key is asked and written once', async () => {
    const out = newOut();
    const runs = await Promise.allSettled([
      runEvaluation(options(out, { methods: 'baseline,oracle' })),
      runEvaluation(options(out, { methods: 'baseline,oracle' })),
    ]);
    const done = runs.filter((r) => r.status === 'fulfilled');
    expect(done).toHaveLength(1);
    const refused = runs.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({
      code: 'RESULTS_LOCKED',
      message: expect.stringContaining(`${out} is being written by another run: pid ${process.pid}`),
    });
    // Baseline + one call per tile, once per item: nothing asked twice.
    expect(fake.requests).toHaveLength(N_ITEMS * (1 + TILES));
    const text = await readFile(out, 'utf8');
    expect(text.split('\n').filter((l) => l.includes('"type":"semclip-eval-run"'))).toHaveLength(1);
    const file = await readResults(out);
    expect(file).toMatchObject({ duplicates: 0, extraHeaders: [] });
    expect(file.rows).toHaveLength(N_ITEMS * 2);
    // The lock went with the run: the next one resumes.
    expect(await runEvaluation(options(out, { methods: 'baseline,oracle' }))).toMatchObject({ written: 0, skipped: N_ITEMS * 2 });
  });

  it('resumes a file an older version wrote twice at once (repeated rows, two identical headers), reporting both', async () => {
    const out = newOut();
    await runEvaluation(options(out, { methods: 'baseline', limit: 4 }));
    const [header, ...rows] = (await readFile(out, 'utf8')).trimEnd().split('\n');
    // As two unlocked runs started together left it: both headers, every row twice, interleaved.
    await writeFile(out, `${[header, rows[0], header, rows[0], ...rows.slice(1), ...rows.slice(1)].join('\n')}\n`);
    fake.reset();
    const summary = await runEvaluation(options(out, { methods: 'baseline', limit: 6 }));
    expect(summary).toMatchObject({ resumed: true, skipped: 4, written: 2, duplicates: 4, extraHeaders: 1 });
    expect(fake.requests).toHaveLength(2);
    const file = await readResults(out);
    expect(file.rows).toHaveLength(6);
    expect(file.extraHeaders).toEqual([3]);
  });

  it('refuses to resume a file with a second header of another configuration, naming its line', async () => {
    const out = newOut();
    await runEvaluation(options(out, { methods: 'baseline', limit: 2 }));
    const other = newOut();
    await runEvaluation(options(other, { methods: 'baseline', limit: 1, seed: 5 }));
    const otherHeader = (await readFile(other, 'utf8')).split('\n')[0];
    await writeFile(out, `${await readFile(out, 'utf8')}${otherHeader}\n`);
    await expect(runEvaluation(options(out, { methods: 'baseline', limit: 2 }))).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      // V* records the seed of its option order too.
      message: expect.stringContaining(
        'line 4: a second run header, of another configuration (seed: 0 on line 1, 5 here; vstar.shuffleSeed: 0 on line 1, 5 here)',
      ),
    });
  });

  it('drops a half-written last line left by a crash and redoes that item', async () => {
    const out = newOut();
    await runEvaluation(options(out, { methods: 'baseline', limit: 3 }));
    const { rows } = await readResults(out);
    // Simulate a crash mid-write: the last row lost, half of it on disk.
    const text = await readFile(out, 'utf8');
    const lines = text.trimEnd().split('\n');
    const last = lines.pop() as string;
    await writeFile(out, `${lines.join('\n')}\n${last.slice(0, 25)}`);
    expect((await readResults(out)).truncatedBytes).toBe(25);
    fake.reset();
    const summary = await runEvaluation(options(out, { methods: 'baseline', limit: 3 }));
    expect(summary).toMatchObject({ repairedBytes: 25, written: 1, skipped: 2 });
    expect(fake.requests).toHaveLength(1);
    const after = await readResults(out);
    expect(after.truncatedBytes).toBe(0);
    expect(after.rows.map(resultKey).sort()).toEqual(rows.map(resultKey).sort());
  });

  it('records an item whose image is missing as an error row (counted wrong) and goes on', async () => {
    const sub = join(dir, 'vstar-missing');
    const items = await writeEvalVstar(sub, 3);
    await rm(join(sub, `${items[1]?.id}.png`));
    const ds = await loadBenchmark('vstar', join(sub, 'annotations.jsonl'));
    const out = newOut();
    const summary = await runEvaluation(options(out, { dataset: ds, methods: 'baseline,semclip' }));
    expect(summary).toMatchObject({ errors: 1, failed: 2, failedFraction: 2 / 6 });
    expect(summary.failures).toEqual([
      { code: 'DATASET_NOT_FOUND', cause: 'missing-image', rows: 2, items: 1, examples: [items[1]?.id], message: expect.stringContaining('missing') },
    ]);
    const { rows } = await readResults(out);
    const bad = rows.filter((r) => r.item === items[1]?.id);
    expect(bad).toHaveLength(2);
    expect(bad.every((r) => r.error?.code === 'DATASET_NOT_FOUND' && !r.correct)).toBe(true);
    expect(rows.filter((r) => r.error)).toHaveLength(2);
  });

  it('asks failed rows again on resume (exactly those), appending the new rows; readers keep the last row per key', async () => {
    const out = newOut();
    const ids = dataset.items.map((i) => i.id);
    const failing = new Map<string, SemclipErrorCode>([
      [ids[2] as string, 'DATASET_NOT_FOUND'],
      [ids[5] as string, 'DATASET_NOT_FOUND'],
      [ids[7] as string, 'MODEL_OUTPUT_INVALID'],
    ]);
    const base = options(out, { methods: 'baseline,semclip' });
    const first = await runEvaluation({ ...base, pipeline: openFailsFor(base.pipeline, failing) });
    expect(first).toMatchObject({ written: 2 * N_ITEMS, failed: 6, errors: 3, failedFraction: 6 / 20, retried: 0, keptFailed: 0 });
    expect(first.failures).toEqual([
      { code: 'DATASET_NOT_FOUND', cause: 'missing-image', rows: 4, items: 2, examples: expect.arrayContaining([ids[2], ids[5]]), message: expect.any(String) },
      { code: 'MODEL_OUTPUT_INVALID', cause: 'model-output', rows: 2, items: 1, examples: [ids[7]], message: `open failed for ${ids[7]}.` },
    ]);
    // Failed rows record no cost; the resume asks exactly the three failed items (2 prompts each).
    fake.reset();
    const second = await runEvaluation(options(out, { methods: 'baseline,semclip' }));
    expect(second).toMatchObject({ written: 6, skipped: 14, retried: 6, failed: 0, failedFraction: 0, failures: [] });
    expect(fake.requests).toHaveLength(6);
    const file = await readResults(out);
    expect(file).toMatchObject({ retried: 6, duplicates: 0 });
    expect(file.rows).toHaveLength(20);
    expect(file.rows.filter((r) => r.error)).toHaveLength(0);
    for (const r of file.rows.filter((x) => x.method === 'baseline')) expect(r.visualTokens, r.item).toBe(576);
    // Append-only: the failed rows are still in the file, before their replacements.
    const lines = (await readFile(out, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(1 + 20 + 6);
    expect(lines.slice(1, 21).filter((l) => l.includes('"error"'))).toHaveLength(6);
    // Nothing left to do.
    fake.reset();
    expect(await runEvaluation(options(out, { methods: 'baseline,semclip' }))).toMatchObject({ written: 0, skipped: 20, retried: 0 });
    expect(fake.requests).toHaveLength(0);
  });

  it('keeps failed rows with retryFailed: false', async () => {
    const out = newOut();
    const id = dataset.items[3]?.id as string;
    const base = options(out, { methods: 'baseline' });
    await runEvaluation({ ...base, pipeline: openFailsFor(base.pipeline, new Map([[id, 'IMAGE_CORRUPT']])) });
    fake.reset();
    const kept = await runEvaluation(options(out, { methods: 'baseline', retryFailed: false }));
    expect(kept).toMatchObject({ written: 0, skipped: N_ITEMS, retried: 0, keptFailed: 1, failed: 0 });
    expect(fake.requests).toHaveLength(0);
    const { rows } = await readResults(out);
    expect(rows.find((r) => r.item === id)?.error?.code).toBe('IMAGE_CORRUPT');
    const retried = await runEvaluation(options(out, { methods: 'baseline' }));
    expect(retried).toMatchObject({ written: 1, retried: 1, keptFailed: 0 });
    expect((await readResults(out)).rows.find((r) => r.item === id)?.error).toBeUndefined();
  });

  it('stops on an upstream failure with its error, keeping finished items; a rerun completes', async () => {
    const out = newOut();
    fake.setBehaviour({ failStatus: 500 });
    const ok = { respond: vlm.respond, failStatus: 0 };
    fake.script(ok, ok, ok);
    await expect(runEvaluation(options(out, { methods: 'baseline', concurrency: 1 }))).rejects.toMatchObject({ code: 'UPSTREAM_ERROR' });
    expect((await readResults(out)).rows).toHaveLength(3);
    fake.setBehaviour({ respond: vlm.respond });
    fake.reset();
    const summary = await runEvaluation(options(out, { methods: 'baseline', concurrency: 1 }));
    expect(summary).toMatchObject({ skipped: 3, written: N_ITEMS - 3 });
    expect(fake.requests).toHaveLength(N_ITEMS - 3);
  });

  it('keeps VLM calls within the concurrency bound and reports progress with rate and ETA', async () => {
    fake.setBehaviour({ respond: vlm.respond, latencyMs: 15 });
    const events: Array<{ itemsDone: number; etaMs: number | null; rate: number }> = [];
    await runEvaluation(options(newOut(), { methods: 'all-tiles,majority', concurrency: 3, onProgress: (p) => events.push(p) }));
    expect(fake.maxInFlight).toBeLessThanOrEqual(3);
    expect(fake.maxInFlight).toBeGreaterThanOrEqual(2);
    expect(events[0]).toMatchObject({ itemsDone: 0, etaMs: null });
    expect(events.at(-1)).toMatchObject({ itemsDone: N_ITEMS, itemsTotal: N_ITEMS, etaMs: 0 });
    expect(events.at(-1)?.rate).toBeGreaterThan(0);
    expect(events.map((e) => e.itemsDone)).toEqual([...events.map((e) => e.itemsDone)].sort((a, b) => a - b));
  });

  it('raises no MaxListenersExceededWarning with many calls in flight on the run signal', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', concurrency: 24, retries: 0 });
      await runEvaluation(options(newOut(), { runner, concurrency: 24, signal: new AbortController().signal }));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('stops with ABORTED when the signal fires, keeping what was written', async () => {
    fake.setBehaviour({ respond: vlm.respond, latencyMs: 30 });
    const ctrl = new AbortController();
    const out = newOut();
    const run = runEvaluation(options(out, { methods: 'baseline', concurrency: 1, signal: ctrl.signal, onProgress: (p) => p.itemsDone >= 2 && ctrl.abort() }));
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    const { rows } = await readResults(out);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows.length).toBeLessThan(N_ITEMS);
  });

  it.each([
    ['semclip without a scorer', { methods: 'semclip', pipeline: createPipeline({ scorer: false }) }, 'INVALID_ARGUMENT'],
    ['an unknown method', { methods: 'baseline,zooom' }, 'UNKNOWN_METHOD'],
    ['zero repeats', { repeats: 0 }, 'INVALID_ARGUMENT'],
    ['a bad shard', { shard: '3/2' }, 'INVALID_ARGUMENT'],
    ['limit 0', { limit: 0 }, 'INVALID_ARGUMENT'],
  ] as const)('rejects %s before calling the VLM', async (_name, extra, code) => {
    await expect(runEvaluation(options(newOut(), extra as Partial<RunEvaluationOptions>))).rejects.toMatchObject({ code });
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses data without ground truth', async () => {
    const noAnswers: BenchmarkDataset = { ...dataset, hasAnswers: false, items: dataset.items as BenchmarkItem[] };
    await expect(runEvaluation(options(newOut(), { dataset: noAnswers }))).rejects.toMatchObject({ code: 'DATASET_INVALID' });
  });

  describe('a scorer trained on benchmark items', () => {
    const trained = (trainedOn: RelevanceScorer['trainedOn']): RelevanceScorer => ({ ...createRedScorer(), id: 'distant', trainedOn });
    const run = async (trainedOn: RelevanceScorer['trainedOn'], methods = 'baseline,semclip') => {
      const warnings: string[] = [];
      const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', concurrency: 8, retries: 0 });
      const summary = await runEvaluation(
        options(newOut(), {
          methods,
          runner,
          pipeline: createPipeline({ scorer: trained(trainedOn), grid: '2x2', select: { k: 1 }, runner }),
          limit: 6,
          onWarning: (m) => warnings.push(m),
        }),
      );
      return { summary, warnings };
    };

    it('warns before running when it was trained on items of this run, counting them', async () => {
      const ids = dataset.items.map((i) => i.id);
      const { summary, warnings } = await run({ benchmark: 'vstar', split: 'test', items: [ids[1]!, ids[4]!, ids[8]!, 'elsewhere'] });
      // ids[8] is outside --limit 6: only two of the six evaluated items overlap.
      expect(summary.trainingOverlap).toMatchObject({
        scorer: 'distant',
        overlapping: 2,
        examples: [ids[1], ids[4]],
        trainedOn: { benchmark: 'vstar', items: 4 },
      });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('trained on 2 of the 6 items');
      expect(warnings[0]).toContain('vstar test split');
    });

    it('says nothing when its items are of another benchmark or not evaluated here', async () => {
      const ids = dataset.items.map((i) => i.id);
      const other = await run({ benchmark: 'scienceqa', split: 'train', items: ids });
      expect(other.summary.trainingOverlap).toMatchObject({ overlapping: 0 });
      expect(other.warnings).toEqual([]);
      const unseen = await run({ benchmark: 'vstar', split: null, items: ['x1', 'x2'] });
      expect(unseen.summary.trainingOverlap).toMatchObject({ overlapping: 0, trainedOn: { split: null, items: 2 } });
      expect(unseen.warnings).toEqual([]);
    });

    it('warns that overlap cannot be checked when the scorer does not record its items', async () => {
      const { summary, warnings } = await run(null);
      expect(summary.trainingOverlap).toMatchObject({ trainedOn: null, overlapping: 0 });
      expect(warnings[0]).toContain('does not record which items it was trained on');
    });

    it('does not look at the scorer when no method scores, nor for untrained scorers', async () => {
      expect((await run({ benchmark: 'vstar', split: null, items: dataset.items.map((i) => i.id) }, 'baseline')).summary.trainingOverlap).toBeNull();
      expect((await run(undefined)).summary.trainingOverlap).toBeNull();
    });
  });

  it('fixture sanity: right tiles cycle 0..3 and none', () => {
    expect(Array.from({ length: 6 }, (_, i) => rightTileOf(i))).toEqual([0, 1, 2, 3, null, 0]);
  });
});
