/**
 * Labelling end to end against the fake OpenAI-compatible upstream (real HTTP, real OpenAI runner,
 * real ScienceQA loader and tiling). The fake VLM answers right only when it is shown a planned
 * tile (recognised by its size), so the expected labels are known exactly.
 */
import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BenchmarkItem } from '@semclip/core';
import { loadBenchmark } from '@semclip/eval';
import { createPipeline } from '@semclip/pipeline';
import { createRunner } from '@semclip/vlm-runner';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { QUADRANT_SIZES, itemOfRequest, labelResponder, tileOfRequest, writeLabelScienceQa } from '@semclip/test-kit/trainer-data';
import type { LabelFixtureItem } from '@semclip/test-kit/trainer-data';
import { labelDataset } from './_label.js';
import type { LabelOptions, LabelProgress } from './_label.js';
import { readLabels } from './_records.js';
import type { ItemRecord } from './_records.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.resolve(here, '../../test/label-child.mjs');

let root: string;
let data: string;
let fixture: LabelFixtureItem[];
let fake: FakeOpenAI;
let items: readonly BenchmarkItem[];
let n = 0;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'semclip-label-'));
  data = path.join(root, 'scienceqa');
  fixture = await writeLabelScienceQa(data, { items: 24, seed: 3, textOnly: 2 });
  fake = await startFakeOpenAI({ behaviour: { respond: labelResponder(fixture) } });
  items = (await loadBenchmark('scienceqa', data, { split: 'train', subset: 'img' })).items;
});
afterAll(async () => {
  await fake?.close();
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  fake.setBehaviour({ respond: labelResponder(fixture) });
  fake.reset();
});

const source = () => ({ benchmark: 'scienceqa' as const, path: data, split: 'train' });
const outFile = () => path.join(root, `labels-${++n}.jsonl`);

async function run(out: string, extra: Partial<LabelOptions> = {}, concurrency = 4) {
  const runner = await createRunner(`openai:${fake.url}#fake-vlm`, { concurrency, retries: 0 });
  try {
    return await labelDataset({ items, runner, out, concurrency, source: source(), ...extra });
  } finally {
    await runner.dispose();
  }
}

function expectedRecord(item: LabelFixtureItem): Pick<ItemRecord, 'type' | 'positives' | 'negatives'> & { reason?: string } {
  const positives = [...item.right];
  const negatives = [0, 1, 2, 3].filter((t) => !item.right.includes(t));
  if (positives.length === 0) return { type: 'skipped', reason: 'all-negative', positives, negatives };
  if (negatives.length === 0) return { type: 'skipped', reason: 'all-positive', positives, negatives };
  return { type: 'labelled', positives, negatives };
}

const requestsByItem = (reqs: FakeOpenAI['requests']) => {
  const by = new Map<number, number>();
  for (const r of reqs) {
    const i = itemOfRequest(r);
    if (i !== undefined) by.set(i, (by.get(i) ?? 0) + 1);
  }
  return by;
};

describe('labelDataset against a fake VLM that is right only for planned tiles', () => {
  it('labels every tile, writes one line per item, and summarises', async () => {
    const out = outFile();
    const progress: LabelProgress[] = [];
    const summary = await run(out, { onProgress: (p) => progress.push(p) });
    const labels = await readLabels(out);
    expect(labels.header).toMatchObject({
      type: 'header',
      version: 1,
      benchmark: 'scienceqa',
      source: data,
      split: 'train',
      grid: '2x2',
      runner: { model: 'fake-vlm' },
    });
    expect(labels.records).toHaveLength(24);
    for (const item of fixture) {
      const rec = labels.records.find((r) => r.id === item.pid)!;
      expect(rec, item.pid).toMatchObject(expectedRecord(item));
      expect(rec.correct).toEqual([0, 1, 2, 3].map((t) => item.right.includes(t)));
      expect(rec.replies).toHaveLength(4);
      expect(rec).toMatchObject({
        question: item.question,
        options: item.choices,
        answer: String.fromCharCode(65 + item.answer),
        grid: '2x2',
        imageSize: { width: 301, height: 301 },
      });
      expect(rec.image).toBe(path.join(data, 'images', 'train', item.pid, 'image.png'));
      expect(rec.tiles.map((t) => [t.width, t.height])).toEqual(QUADRANT_SIZES);
    }
    // The fake saw each item four times (once per tile), each time the overview plus one tile.
    expect([...requestsByItem(fake.requests).values()].every((c) => c === 4)).toBe(true);
    expect(fake.requests).toHaveLength(96);
    expect(new Set(fake.requests.map((r) => `${itemOfRequest(r)}:${tileOfRequest(r)}`)).size).toBe(96);
    for (const r of fake.requests) {
      expect(r.images).toHaveLength(2);
      expect(r.images[0]).toMatchObject({ width: 301, height: 301 });
    }
    const want = fixture.map(expectedRecord);
    const labelled = want.filter((w) => w.type === 'labelled');
    expect(summary).toMatchObject({
      out,
      items: 24,
      processed: 24,
      written: 24,
      resumed: 0,
      failed: 0,
      labelled: labelled.length,
      skippedAllPositive: want.filter((w) => w.reason === 'all-positive').length,
      skippedAllNegative: want.filter((w) => w.reason === 'all-negative').length,
      pairs: labelled.reduce((s, w) => s + w.positives.length * w.negatives.length, 0),
      requests: 96,
    });
    expect(summary.skippedAllPositive + summary.skippedAllNegative).toBeGreaterThan(0);
    expect(summary.positiveRate).toBeCloseTo(fixture.reduce((s, it) => s + it.right.length, 0) / 96, 10);
    expect(labels.counts).toMatchObject({ labelled: summary.labelled, pairs: summary.pairs });
    expect(progress.at(-1)).toMatchObject({ done: 24, total: 24, requests: 96 });
    expect(progress.at(-1)!.rate).toBeGreaterThan(0);
  });

  it('keeps at most `concurrency` requests in flight, and fills them', async () => {
    fake.setBehaviour({ respond: labelResponder(fixture), latencyMs: 40 });
    await run(outFile(), { limit: 12 }, 6);
    expect(fake.maxInFlight).toBe(6);
  });

  it('resumes: a second run asks nothing for items already in the file and adds no duplicate', async () => {
    const out = outFile();
    const first = await run(out, { limit: 10 });
    expect(first).toMatchObject({ items: 10, written: 10 });
    fake.reset();
    const second = await run(out);
    expect(second).toMatchObject({ items: 24, resumed: 10, written: 14, processed: 24 });
    const firstIds = new Set((await readLabels(out)).records.slice(0, 10).map((r) => Number(r.id) - 1000));
    for (const i of requestsByItem(fake.requests).keys()) expect(firstIds.has(i)).toBe(false);
    const lines = (await readFile(out, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(25);
    expect(new Set(lines.slice(1).map((l) => JSON.parse(l).id)).size).toBe(24);
    fake.reset();
    const third = await run(out);
    expect(third).toMatchObject({ resumed: 24, written: 0, requests: 0 });
    expect(fake.requests).toHaveLength(0);
  });

  it('drops a torn last line left by a crash and labels that item again', async () => {
    const out = outFile();
    await run(out, { limit: 5 });
    const before = await readFile(out, 'utf8');
    const torn = '{"type":"labelled","id":"1005","question":"Item 5: wh';
    await appendFile(out, torn);
    fake.reset();
    const summary = await run(out, { limit: 6 });
    expect(summary).toMatchObject({ resumed: 5, written: 1, droppedBytes: Buffer.byteLength(torn) });
    expect([...requestsByItem(fake.requests).keys()]).toEqual([5]);
    const after = await readFile(out, 'utf8');
    expect(after.startsWith(before)).toBe(true);
    const ids = after
      .split('\n')
      .filter(Boolean)
      .slice(1)
      .map((l) => JSON.parse(l).id as string);
    expect(ids.sort()).toEqual(['1000', '1001', '1002', '1003', '1004', '1005']);
    expect((await readLabels(out)).records).toHaveLength(6);
  });

  it('survives kill -9 mid-run: the rerun loses and duplicates nothing and repeats no finished item', async () => {
    const out = outFile();
    fake.setBehaviour({ respond: labelResponder(fixture), latencyMs: 30 });
    const child = spawn(process.execPath, [CHILD, data, out, fake.url, '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    // Kill once 8 items are on disk (header + 8 lines).
    for (;;) {
      const text = await readFile(out, 'utf8').catch(() => '');
      if (text.split('\n').length - 1 >= 9) break;
      if (child.exitCode !== null) throw new Error(`the child exited early: ${stderr}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const { records: finished } = await readLabels(out);
    expect(finished.length).toBeGreaterThanOrEqual(8);
    expect(finished.length).toBeLessThan(24);
    const finishedIdx = new Set(finished.map((r) => Number(r.id) - 1000));
    const firstRun = requestsByItem(fake.requests);
    for (const i of finishedIdx) expect(firstRun.get(i)).toBe(4);
    fake.reset();

    const summary = await run(out);
    expect(summary).toMatchObject({ items: 24, processed: 24, resumed: finished.length, written: 24 - finished.length });
    const secondRun = requestsByItem(fake.requests);
    for (const i of finishedIdx) expect(secondRun.has(i)).toBe(false);
    for (const i of secondRun.keys()) expect(secondRun.get(i)).toBe(4);
    const labels = await readLabels(out);
    const ids = (await readFile(out, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .slice(1)
      .map((l) => JSON.parse(l).id);
    expect(ids).toHaveLength(24);
    expect(new Set(ids).size).toBe(24);
    for (const item of fixture) expect(labels.records.find((r) => r.id === item.pid)).toMatchObject(expectedRecord(item));
  });

  it('refuses a second run on the same file while the first runs (RESULTS_LOCKED): every item is asked and written once', async () => {
    const out = outFile();
    const runs = await Promise.allSettled([run(out, { limit: 8 }), run(out, { limit: 8 })]);
    expect(runs.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((runs.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({
      code: 'RESULTS_LOCKED',
      message: expect.stringContaining(`${out} is being written by another run: pid ${process.pid}`),
    });
    expect([...requestsByItem(fake.requests).values()]).toEqual(Array(8).fill(4));
    const lines = (await readFile(out, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(1 + 8);
    // Released with the run: the next one resumes.
    expect(await run(out, { limit: 8 })).toMatchObject({ resumed: 8, written: 0 });
  });

  it('resumes a file an older version wrote twice at once (repeated lines, two identical headers), reporting both', async () => {
    const out = outFile();
    await run(out, { limit: 3 });
    const [header, ...lines] = (await readFile(out, 'utf8')).trim().split('\n');
    const again = JSON.stringify({ ...JSON.parse(header as string), createdAt: new Date(0).toISOString() });
    await writeFile(out, `${[header, lines[0], again, ...lines, lines[1]].join('\n')}\n`);
    fake.reset();
    const summary = await run(out, { limit: 4 });
    expect(summary).toMatchObject({ resumed: 3, written: 1, repeatedLines: 2, extraHeaders: 1, processed: 4 });
    expect([...requestsByItem(fake.requests).keys()]).toHaveLength(1);
    expect(await readLabels(out)).toMatchObject({ duplicates: 2, extraHeaders: [3] });
    // A second header of another setup is refused, naming its line.
    const other = JSON.stringify({ ...JSON.parse(header as string), grid: '3x3' });
    await appendFile(out, `${other}\n`);
    await expect(readLabels(out)).rejects.toMatchObject({ code: 'DATASET_INVALID', message: expect.stringContaining('Line 9 of') });
  });

  it('refuses to resume a file made with another grid or VLM', async () => {
    const out = outFile();
    await run(out, { limit: 2 });
    await expect(run(out, { limit: 2, grid: '3x3' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('grid 2x2 (now 3x3)'),
    });
  });

  it('records the image padding in the header and refuses to resume with another', async () => {
    const out = outFile();
    await run(out, { limit: 2 });
    expect((await readLabels(out)).header.padding).toBeUndefined();
    const padded = createPipeline({ scorer: false, grid: '2x2', padding: 'square' });
    await expect(run(out, { limit: 2, pipeline: padded })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('image padding none (now pad-square(122,116,104)'),
    });
    const out2 = outFile();
    await run(out2, { limit: 1, pipeline: padded });
    expect((await readLabels(out2)).header.padding).toBe('pad-square(122,116,104)');
    for (const r of fake.requests.slice(-4)) for (const im of r.images) expect(im.width).toBe(im.height);
  });

  it('refuses items the data puts in another split than the one asked for, writing nothing; records the true split', async () => {
    // The loader's own split (from pid_splits.json) is in metadata.split; relabel two items as test.
    const mixed = items.slice(0, 4).map((it, i) => (i < 2 ? { ...it, metadata: { ...it.metadata, split: 'test' } } : it));
    const out = outFile();
    await expect(run(out, { items: mixed })).rejects.toMatchObject({
      code: 'DATASET_INVALID',
      message: expect.stringContaining('2 of 4 items are not in the train split per pid_splits.json'),
    });
    const allTest = mixed.map((it) => ({ ...it, metadata: { ...it.metadata, split: 'test' } }));
    await expect(run(out, { items: allTest })).rejects.toMatchObject({
      code: 'DATASET_INVALID',
      message: expect.stringContaining('this file holds the test split (4 questions per pid_splits.json), not train'),
      hint: 'Pass --split test only if you mean it, or use problems.json with --split train',
    });
    expect(fake.requests).toHaveLength(0);
    await expect(readFile(out, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    // The header records the items' own split; null when they do not say (not the name asked for).
    await run(out, { items: items.slice(0, 2) });
    expect((await readLabels(out)).header.split).toBe('train');
    const out2 = outFile();
    const unknown = items.slice(0, 2).map((it) => ({ ...it, metadata: { hasImage: true } }));
    await run(out2, { items: unknown });
    expect((await readLabels(out2)).header.split).toBeNull();
  });

  it('reports items whose image is missing, writes nothing for them, and labels them once fixed', async () => {
    const out = outFile();
    const file = path.join(data, 'images', 'train', '1001', 'image.png');
    const bytes = await readFile(file);
    await rm(file);
    try {
      const summary = await run(out, { limit: 3 });
      expect(summary).toMatchObject({ items: 3, written: 2, failed: 1, failures: [{ id: '1001', code: 'DATASET_NOT_FOUND' }] });
    } finally {
      await writeFile(file, bytes);
    }
    const again = await run(out, { limit: 3 });
    expect(again).toMatchObject({ resumed: 2, written: 1, failed: 0 });
  });

  it('reports an item whose image is damaged (the pipeline proves it decodes on open) and asks nothing for it', async () => {
    const out = outFile();
    const file = path.join(data, 'images', 'train', '1002', 'image.png');
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    try {
      const summary = await run(out, { limit: 3 });
      expect(summary).toMatchObject({ items: 3, written: 2, failed: 1, failures: [{ id: '1002', code: expect.stringMatching(/^IMAGE_/) }] });
      expect([...requestsByItem(fake.requests).keys()].sort()).toEqual([0, 1]);
    } finally {
      await writeFile(file, bytes);
    }
  });

  it('labels through the pipeline it is given: its grid tiles the images and its image format encodes them', async () => {
    const out = outFile();
    const pipeline = createPipeline({ scorer: false, grid: '1x2', imageFormat: { maxSide: 200 } });
    const summary = await run(out, { limit: 3, pipeline });
    expect(summary).toMatchObject({ items: 3, written: 3, requests: 6 });
    const labels = await readLabels(out);
    expect(labels.header).toMatchObject({ grid: '1x2' });
    for (const rec of labels.records)
      expect(rec).toMatchObject({
        grid: '1x2',
        tiles: [
          { x: 0, y: 0, width: 150, height: 301 },
          { x: 150, y: 0, width: 151, height: 301 },
        ],
      });
    expect(fake.requests).toHaveLength(6);
    for (const r of fake.requests) {
      expect(r.images).toHaveLength(2);
      expect(r.images[0]).toMatchObject({ width: 200, height: 200 });
    }
    await expect(run(outFile(), { pipeline, grid: '2x2' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('grid and pipeline were both given'),
    });
  });

  it('stops on a failing upstream with its error, keeping every finished item', async () => {
    const out = outFile();
    await run(out, { limit: 4 });
    fake.setBehaviour({ failStatus: 500 });
    await expect(run(out, { limit: 8 })).rejects.toMatchObject({ code: expect.stringMatching(/^UPSTREAM_/) });
    expect((await readLabels(out)).records).toHaveLength(4);
    fake.setBehaviour({ respond: labelResponder(fixture) });
    expect(await run(out, { limit: 8 })).toMatchObject({ resumed: 4, written: 4 });
  });

  it('stops with ABORTED when cancelled', async () => {
    const ctl = new AbortController();
    fake.setBehaviour({ respond: labelResponder(fixture), latencyMs: 20 });
    const out = outFile();
    const p = run(out, { signal: ctl.signal, onProgress: (pr) => pr.done >= 2 && ctl.abort() });
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    const { records } = await readLabels(out);
    expect(records.length).toBeGreaterThanOrEqual(2);
    expect(records.length).toBeLessThan(24);
  });

  it('labels open questions through answer() and the benchmark answer matching', async () => {
    // GQA-style items built on the same images: the fake names the colour when shown the planned tile.
    const open: BenchmarkItem[] = items.slice(0, 6).map((it, i) => ({
      id: `gqa-${i}`,
      benchmark: 'gqa',
      question: `Item ${i}: what colour is the square?`,
      answer: 'teal',
      metadata: {},
      image: it.image,
    }));
    fake.setBehaviour({
      respond: (r) => {
        const item = fixture[itemOfRequest(r) ?? -1]!;
        return item.right.includes(tileOfRequest(r) ?? -1) ? 'Teal.' : 'Maroon';
      },
    });
    const runner = await createRunner(`openai:${fake.url}#fake-vlm`, { concurrency: 4, retries: 0 });
    try {
      const out = outFile();
      await labelDataset({ items: open, runner, out, source: { benchmark: 'gqa', path: data } });
      const labels = await readLabels(out);
      labels.records.forEach((rec, i) => {
        expect(rec).toMatchObject(expectedRecord(fixture[Number(rec.id.slice(4))]!));
        expect(
          rec.replies.every((t) => t === 'Teal.' || t === 'Maroon'),
          String(i),
        ).toBe(true);
      });
      expect(fake.requests.every((r) => r.body?.max_tokens === 32)).toBe(true);
    } finally {
      await runner.dispose();
    }
  });

  it.each([
    ['concurrency', { concurrency: 0 }],
    ['limit', { limit: -1 }],
  ])('rejects a bad %s', async (_n, extra) => {
    await expect(run(outFile(), extra as Partial<LabelOptions>)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
