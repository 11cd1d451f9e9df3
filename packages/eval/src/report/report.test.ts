import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline } from '@semclip/pipeline';
import { tileImage } from '@semclip/tiling';
import { createOpenAIRunner } from '@semclip/vlm-runner/openai';
import { tempDir } from '@semclip/test-kit/benchmarks';
import { EVAL_IMAGE, createRedScorer, tileOracleVlm, tileSizeMap, writeEvalPope, writeEvalVstar, type EvalFixtureItem } from '@semclip/test-kit/eval-fixtures';
import { startFakeOpenAI, type FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { loadBenchmark } from '../data/load.js';
import type { BenchmarkDataset } from '../data/types.js';
import { popeMetrics } from '../metrics/metrics.js';
import { runEvaluation, type RunEvaluationOptions } from '../run/engine.js';
import { readResults, resultKey, rowToJudgement } from '../run/results.js';
import { renderReportChart } from './chart.js';
import { buildReport, formatReportMarkdown, loadReport, reportToJSON } from './report.js';

let dir: string;
let fake: FakeOpenAI;
let vstar: BenchmarkDataset;
let pope: BenchmarkDataset;
let popeItems: EvalFixtureItem[];
let vstarFile: string;
let popeFile: string;

const run = (dataset: BenchmarkDataset, out: string, extra: Partial<RunEvaluationOptions> = {}) => {
  const runner = createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm', concurrency: 8, retries: 0 });
  return runEvaluation({
    dataset,
    methods: 'all',
    runner,
    pipeline: createPipeline({ scorer: createRedScorer(), grid: '2x2', runner }),
    setup: { grid: '2x2', scorer: 'red', k: 1 },
    out,
    repeats: 3,
    concurrency: 8,
    ...extra,
  });
};

beforeAll(async () => {
  dir = await tempDir('semclip-eval-report-');
  const vItems = await writeEvalVstar(join(dir, 'vstar'), 10);
  popeItems = await writeEvalPope(join(dir, 'pope'), 4);
  vstar = await loadBenchmark('vstar', join(dir, 'vstar', 'annotations.jsonl'));
  pope = await loadBenchmark('pope', join(dir, 'pope'));
  const probe = await tileImage(join(dir, 'pope', 'val2014', 'COCO_val2014_000000000000.jpg'), { grid: '2x2' });
  const vlm = tileOracleVlm([...vItems, ...popeItems], tileSizeMap(probe.grid.tiles, EVAL_IMAGE));
  fake = await startFakeOpenAI({ behaviour: { respond: vlm.respond } });
  vstarFile = join(dir, 'vstar.jsonl');
  popeFile = join(dir, 'pope.jsonl');
  await run(vstar, vstarFile);
  await run(pope, popeFile);
});
afterAll(async () => {
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('reports', () => {
  it('tabulates methods as rows and benchmarks as columns with the headline metric of each', async () => {
    const report = await loadReport([popeFile, vstarFile]);
    expect(report.benchmarks).toEqual(['vstar', 'pope']);
    expect(report.methods.map((m) => m.method)).toEqual(['baseline', 'semclip', 'random', 'majority', 'subimage-only', 'oracle', 'all-tiles']);
    const semclip = report.methods.find((m) => m.method === 'semclip');
    const vCell = semclip?.cells.vstar;
    const pCell = semclip?.cells.pope;
    expect(vCell).toMatchObject({ metric: 'accuracy', count: 10, expected: 10, complete: true, value: 80 }); // 8 of 10 have a right tile
    // POPE's headline is F1 (mean of splits), computed here from the rows independently.
    const { rows } = await readResults(popeFile);
    const f1s = ['random', 'popular', 'adversarial'].map(
      (s) => popeMetrics(rows.filter((r) => r.method === 'semclip' && r.category === s).map(rowToJudgement)).f1,
    );
    expect(pCell?.metric).toBe('f1');
    expect(pCell?.value).toBeCloseTo(f1s.reduce((a, b) => a + b, 0) / 3, 10);
    expect(semclip?.average?.value).toBeCloseTo(((vCell?.value ?? 0) + (pCell?.value ?? 0)) / 2, 10);
    // Random has a mean and a spread over its three seeds.
    const random = report.methods.find((m) => m.method === 'random');
    expect(random?.cells.vstar?.seeds).toEqual([0, 1, 2]);
    expect(random?.cells.vstar?.std).toBeGreaterThanOrEqual(0);
    expect(random?.average?.std).toBeDefined();
    // Visual tokens per question: 1 image baseline, 2 SemClip, 5 all tiles, 4 x 2 majority.
    const tokens = Object.fromEntries(report.methods.map((m) => [m.method, m.visualTokens]));
    expect(tokens).toMatchObject({ baseline: 576, semclip: 1152, random: 1152, 'subimage-only': 576, oracle: 1152, 'all-tiles': 2880, majority: 4608 });
  });

  it('prints markdown tables: Method, one column per benchmark, Avg; then tokens vs accuracy', async () => {
    const md = formatReportMarkdown(await loadReport([vstarFile, popeFile]));
    const lines = md.split('\n');
    expect(lines).toContain('| Method | V* | POPE | Avg |');
    expect(lines).toContain('| Method | Visual tokens / question | VLM calls / question | VLM latency / question | Avg |');
    const semclipRow = lines.find((l) => l.startsWith('| SemClip |'));
    expect(semclipRow?.split('|').length).toBe(6);
    expect(semclipRow).toMatch(/^\| SemClip \| 80\.0 \| \d+\.\d \| \d+\.\d \|$/);
    expect(lines.find((l) => l.startsWith('| Random sub-image |'))).toMatch(/\d+\.\d ± \d+\.\d/);
    expect(md).toContain('POPE F1');
    expect(md).toContain('Setup: openai:fake-vlm (576 visual tokens per image); grid 2x2, scorer red, k 1; images padded none; seed 0, 3 random repeats.');
  });

  it('gives the same numbers as JSON, with counts and completeness', async () => {
    const doc = reportToJSON(await loadReport([vstarFile, popeFile])) as any;
    expect(doc.benchmarks).toEqual(['vstar', 'pope']);
    expect(doc.metrics.pope).toMatchObject({ metric: 'f1', label: 'POPE' });
    const baseline = doc.methods.find((m: any) => m.method === 'baseline');
    expect(baseline.cells.vstar).toMatchObject({ metric: 'accuracy', value: 0, count: 10, expected: 10, complete: true, visual_tokens: 576, vlm_calls: 1 });
    expect(baseline.visual_tokens).toBe(576);
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });

  it('merges shards into the same report as one full run', async () => {
    const a = join(dir, 'vstar-shard1.jsonl');
    const b = join(dir, 'vstar-shard2.jsonl');
    await run(vstar, a, { shard: '1/2' });
    await run(vstar, b, { shard: '2/2' });
    const [fa, fb, full] = await Promise.all([readResults(a), readResults(b), readResults(vstarFile)]);
    const ka = new Set(fa.rows.map(resultKey));
    expect(fb.rows.some((r) => ka.has(resultKey(r)))).toBe(false);
    expect(new Set([...fa.rows, ...fb.rows].map(resultKey))).toEqual(new Set(full.rows.map(resultKey)));
    // Latency is measured, so it differs between runs; everything else must agree.
    const strip = (doc: unknown) => JSON.parse(JSON.stringify(doc, (k, v) => (k === 'latency_ms' ? undefined : v)));
    const merged = strip(reportToJSON(buildReport([fa, fb])));
    const whole = strip(reportToJSON(buildReport([full])));
    expect(merged.methods).toEqual(whole.methods);
    expect(merged.methods[1].cells.vstar.count).toBe(10);
  });

  it('marks a cell incomplete while a run is unfinished', async () => {
    const part = join(dir, 'vstar-part.jsonl');
    await run(vstar, part, { methods: 'baseline' });
    await run(vstar, part, { methods: 'semclip', limit: 4 });
    const report = await loadReport([part]);
    expect(report.methods.find((m) => m.method === 'semclip')?.cells.vstar).toMatchObject({ count: 4, expected: 10, complete: false });
    expect(formatReportMarkdown(report)).toContain('semclip on vstar: 4 of 10 items');
  });

  it('refuses to merge files of one benchmark made with different configurations', async () => {
    const other = join(dir, 'vstar-seed9.jsonl');
    await run(vstar, other, { methods: 'baseline', seed: 9, limit: 2 });
    await expect(loadReport([vstarFile, other])).rejects.toMatchObject({ code: 'RESULTS_INVALID', message: expect.stringContaining('seed') });
  });

  it('reads a file with a half-written last line, with a warning', async () => {
    const torn = join(dir, 'vstar-torn.jsonl');
    await writeFile(torn, `${await readFile(vstarFile, 'utf8')}{"type":"result","bench`);
    const report = await loadReport([torn]);
    expect(report.warnings.join(' ')).toContain('half-written');
  });

  it('leaves failed rows out of the cost means, counts them per method and by cause; a retried row replaces its failure', async () => {
    const text = await readFile(vstarFile, 'utf8');
    const [head, ...rowLines] = text.trimEnd().split('\n');
    const good = rowLines.map((l) => JSON.parse(l));
    const failedIds = new Set(
      good
        .filter((r) => r.method === 'baseline')
        .slice(0, 3)
        .map((r) => r.item as string),
    );
    // What a run with missing images writes: wrong rows with no cost and the error.
    const failed = good.map((r) =>
      r.method === 'baseline' && failedIds.has(r.item)
        ? {
            ...r,
            predicted: null,
            correct: false,
            reply: undefined,
            visualTokens: 0,
            vlmCalls: 0,
            latencyMs: 0,
            images: 0,
            error: { code: 'DATASET_NOT_FOUND', message: 'The image is missing.' },
          }
        : r,
    );
    const file = join(dir, 'vstar-failed.jsonl');
    await writeFile(file, `${[head, ...failed.map((r) => JSON.stringify(r))].join('\n')}\n`);
    const report = await loadReport([file]);
    const baseline = report.methods.find((m) => m.method === 'baseline');
    expect(baseline).toMatchObject({ failed: 3, visualTokens: 576, vlmCalls: 1 });
    expect(baseline?.cells.vstar).toMatchObject({ errors: 3, visualTokens: 576 });
    expect(report.methods.find((m) => m.method === 'semclip')?.failed).toBe(0);
    expect(report.failures).toEqual([{ code: 'DATASET_NOT_FOUND', cause: 'missing-image', rows: 3, examples: [...failedIds] }]);
    const md = formatReportMarkdown(report);
    expect(md.split('\n')).toContain('| Method | Visual tokens / question | VLM calls / question | VLM latency / question | Avg | Failed |');
    expect(
      md
        .split('\n')
        .filter((l) => l.startsWith('| Baseline'))
        .at(-1),
    ).toMatch(/^\| Baseline \(overview only\) \| 576 \| 1 \| \d+ ms \| [\d.]+ \| 3 \|$/);
    expect(md).toContain('## Failed rows');
    expect(md).toContain('- DATASET_NOT_FOUND (image missing): 3 rows');
    expect((reportToJSON(report) as any).failures).toEqual([{ code: 'DATASET_NOT_FOUND', cause: 'missing-image', rows: 3, examples: [...failedIds] }]);
    // A resume appends the retried rows: the last row per key counts, with no duplicate warning.
    const retried = good.filter((r) => r.method === 'baseline' && failedIds.has(r.item));
    await writeFile(file, `${[head, ...failed.map((r) => JSON.stringify(r)), ...retried.map((r) => JSON.stringify(r))].join('\n')}\n`);
    const after = await loadReport([file]);
    expect(after.failures).toEqual([]);
    expect(after.warnings).toEqual([]);
    expect(after.methods.find((m) => m.method === 'baseline')).toMatchObject({ failed: 0, visualTokens: 576 });
    expect(formatReportMarkdown(after)).not.toContain('Failed');
  });

  it('draws an SVG chart of accuracy against visual tokens with axes, labels and a legend', async () => {
    const svg = renderReportChart(await loadReport([vstarFile, popeFile]));
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('Visual tokens per question');
    expect(svg).toContain('Average over V*, POPE (%)');
    for (const label of ['Baseline', 'SemClip', 'Random sub-image', 'Majority vote', 'Sub-image only', 'Oracle', 'All tiles']) expect(svg).toContain(label);
    // One marker per method in the plot plus one in the legend; random has an error bar.
    expect(svg.match(/semclip \d+\.\d/g)).toHaveLength(1);
    expect(svg).toContain('width="760" height="480"');
    // Balanced tags (the CLI test rasterises it with sharp, which parses it for real).
    expect((svg.match(/<text/g) ?? []).length).toBe((svg.match(/<\/text>/g) ?? []).length);
  });

  it('rejects an empty list of files', async () => {
    await expect(loadReport([])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(loadReport([join(dir, 'nope.jsonl')])).rejects.toMatchObject({ code: 'RESULTS_INVALID' });
  });
});
