/**
 * `strategy: 'zoom'` labels against the test kit's simulated VLM (perception-limited: right only
 * when the target is readable in what it is sent), on a generated V*-layout benchmark. The
 * simulator makes a region's label checkable: positive exactly when it shows the target.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BenchmarkItem } from '@semclip/core';
import { loadBenchmark } from '@semclip/eval';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { simulatedVlm } from '@semclip/test-kit/sim-vlm';
import { generateSynthBenchmark } from '@semclip/tiling';
import type { SynthManifest } from '@semclip/tiling';
import { createOpenAIRunner } from '@semclip/vlm-runner/openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelDataset } from './_label.js';
import type { LabelOptions } from './_label.js';

const MODEL = 'llava-hf/llava-1.5-7b-hf';
let dir: string;
let manifest: SynthManifest;
let items: readonly BenchmarkItem[];
let fake: FakeOpenAI;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'semclip-label-zoom-'));
  manifest = await generateSynthBenchmark({ out: path.join(dir, 'vstar'), count: 4, seed: 41, longSide: 2000, easyFraction: 0, relativeFraction: 0.01 });
  items = (await loadBenchmark('vstar', path.join(dir, 'vstar'))).items;
  fake = await startFakeOpenAI({ behaviour: simulatedVlm({ manifest }).behaviour, models: [MODEL] });
}, 120_000);

afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function label(out: string, extra: Partial<LabelOptions> = {}) {
  const runner = createOpenAIRunner({ baseUrl: fake.url, model: MODEL, env: {}, retryBaseMs: 1 });
  try {
    return await labelDataset({
      items,
      runner,
      out: path.join(dir, out),
      source: { benchmark: 'vstar', path: path.join(dir, 'vstar') },
      strategy: 'zoom',
      zoom: { maxCalls: 8 },
      ...extra,
    });
  } finally {
    await runner.dispose();
  }
}

const overlap = (a: { x: number; y: number; width: number; height: number }, t: { x: number; y: number; width: number; height: number }) => {
  const w = Math.max(0, Math.min(a.x + a.width, t.x + t.width) - Math.max(a.x, t.x));
  const h = Math.max(0, Math.min(a.y + a.height, t.y + t.height) - Math.max(a.y, t.y));
  return (w * h) / (t.width * t.height);
};

describe("labelDataset with strategy 'zoom' against the simulated VLM", () => {
  it('labels the nodes the search asked about: positive exactly where the target shows, within the call cap', async () => {
    const summary = await label('zoom.jsonl');
    const [header, ...lines] = (await readFile(path.join(dir, 'zoom.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(header).toMatchObject({ type: 'header', strategy: 'zoom', zoom: { maxCalls: 8, tau: 1 } });
    expect(lines).toHaveLength(items.length);
    let positives = 0;
    for (const rec of lines) {
      const item = manifest.items.find((i) => rec.id.endsWith(path.basename(i.id)))!;
      // A two-object question's searches ask yes/no per object: it gets the grid's tiles.
      expect(rec.grid).toBe(item.type === 'relative' ? '2x2' : 'zoom');
      if (item.type === 'relative') continue;
      // The overview call is not a region; the other calls (at most 7) each label one node.
      expect(rec.tiles.length).toBeGreaterThanOrEqual(2);
      expect(rec.tiles.length).toBeLessThanOrEqual(7);
      rec.tiles.forEach((b: { x: number; y: number; width: number; height: number }, i: number) => {
        expect(b.x >= 0 && b.y >= 0 && b.x + b.width <= item.width && b.y + b.height <= item.height).toBe(true);
        if (rec.correct[i]) {
          positives++;
          expect(overlap(b, item.targets[0]!.box)).toBeGreaterThan(0.3);
        } else {
          // Negative: the target is not in the node, or too small in it once the node is sent at 336 px.
          const t = item.targets[0]!.box;
          if (overlap(b, t) === 1) expect((Math.min(t.width, t.height) * 336) / Math.max(b.width, b.height)).toBeLessThan(14);
        }
      });
      expect(rec.positives.length + rec.negatives.length).toBe(rec.tiles.length);
    }
    expect(positives).toBeGreaterThan(0);
    expect(lines.filter((r) => r.grid === 'zoom').length).toBeGreaterThanOrEqual(2);
    const relative = manifest.items.filter((i) => i.type === 'relative').length;
    expect(relative).toBeGreaterThanOrEqual(1);
    // At most 8 calls per search, plus the 4 tiles of each two-object item.
    expect(summary.requests).toBeLessThanOrEqual(8 * items.length + 4 * relative);
  }, 120_000);

  it('resumes without asking again, and refuses to resume a file labelled with every tile', async () => {
    const again = await label('zoom.jsonl');
    expect(again.requests).toBe(0);
    await label('topk.jsonl', { strategy: 'topk', zoom: undefined, limit: 1 });
    await expect(label('topk.jsonl')).rejects.toMatchObject({ message: expect.stringMatching(/strategy topk \(now zoom/) });
  }, 120_000);

  it.each([
    ['pack', /pack sends a composed image/],
    ['adaptive', /adaptive selects among the grid tiles/],
  ])('refuses strategy %s with a reason, writing nothing', async (strategy, why) => {
    await expect(label(`${strategy}.jsonl`, { strategy: strategy as 'zoom' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      hint: expect.stringMatching(why),
    });
    expect(existsSync(path.join(dir, `${strategy}.jsonl`))).toBe(false);
  });

  it('refuses open questions (their probes ask yes/no, which judges nothing), writing nothing', async () => {
    const open = items.map((i) => {
      const { options: _options, ...rest } = i;
      return rest as BenchmarkItem;
    });
    const runner = createOpenAIRunner({ baseUrl: fake.url, model: MODEL, env: {}, retryBaseMs: 1 });
    await expect(
      labelDataset({ items: open, runner, out: path.join(dir, 'open.jsonl'), source: { benchmark: 'vstar', path: path.join(dir, 'vstar') }, strategy: 'zoom' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/open questions/) });
    await runner.dispose();
    expect(existsSync(path.join(dir, 'open.jsonl'))).toBe(false);
  });
});
