import { mulberry32 } from '@semclip/core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RawImage } from '@semclip/core';
import { packLayout } from '@semclip/selector';
import type { PackCell } from '@semclip/selector';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { simulatedVlm, targetScorer } from '@semclip/test-kit/sim-vlm';
import { generateSynthBenchmark } from '@semclip/tiling';
import type { SynthManifest } from '@semclip/tiling';
import { createOpenAIRunner } from '@semclip/vlm-runner/openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composePack, createPipeline, packAsk, packGrid, targetPhrases } from './index.js';

// Property tests draw from core's seeded generator, so a failing case reproduces.
const rng = (seed: number) => mulberry32(seed);

describe('composePack', () => {
  it('copies every kept cell pixel for pixel at its placement, in row and column order (property)', () => {
    const rand = rng(9);
    for (let trial = 0; trial < 40; trial++) {
      const rows = 1 + Math.floor(rand() * 4);
      const cols = 1 + Math.floor(rand() * 4);
      const all: PackCell[] = [];
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++)
          all.push({ row: r, col: c, box: { x: c * 40, y: r * 30, width: 20 + Math.floor(rand() * 20), height: 15 + Math.floor(rand() * 15) } });
      const kept = all.filter(() => rand() < 0.5);
      if (kept.length === 0) kept.push(all[0] as PackCell);
      const { size, placements } = packLayout(kept, 3);
      const images: RawImage[] = placements.map((p) => {
        const data = new Uint8Array(p.cell.box.width * p.cell.box.height * 3);
        for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
        return { data, width: p.cell.box.width, height: p.cell.box.height, channels: 3 };
      });
      const packed = composePack(
        size,
        placements.map((placement, i) => ({ placement, image: images[i] as RawImage })),
      );
      placements.forEach((p, i) => {
        const img = images[i] as RawImage;
        for (let y = 0; y < img.height; y++) {
          const got = packed.data.subarray(((p.y + y) * size.width + p.x) * 3, ((p.y + y) * size.width + p.x + img.width) * 3);
          expect(Buffer.from(got).equals(Buffer.from(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3)))).toBe(true);
        }
      });
      for (const a of placements) for (const b of placements) if (a.cell.col < b.cell.col) expect(a.x).toBeLessThan(b.x);
      for (const a of placements) for (const b of placements) if (a.cell.row < b.cell.row) expect(a.y).toBeLessThan(b.y);
    }
  });

  it('cells of packGrid cover the image exactly once', () => {
    const g = packGrid({ width: 2400, height: 1800 }, 336);
    expect([g.rows, g.cols]).toEqual([5, 7]);
    expect(g.cells.reduce((s, c) => s + c.box.width * c.box.height, 0)).toBe(2400 * 1800);
  });

  it('reads the objects a relative-position question names', () => {
    expect(targetPhrases('Is the "EXIT" sign on the left or right side of the "TAXI" sign?')).toEqual(['EXIT', 'TAXI']);
    expect(targetPhrases('Is the red car on the left or right side of the white dog?')).toEqual(['red car', 'white dog']);
    expect(targetPhrases('What is the colour of the bag?')).toEqual([]);
  });
});

const MODEL = 'llava-hf/llava-1.5-7b-hf';
let dir: string;
let manifest: SynthManifest;
let fake: FakeOpenAI;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'semclip-pack-'));
  manifest = await generateSynthBenchmark({ out: dir, count: 3, seed: 31, longSide: 2400, easyFraction: 0, relativeFraction: 1 });
  fake = await startFakeOpenAI({ behaviour: simulatedVlm({ manifest }).behaviour, models: [MODEL] });
}, 120_000);

afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('pack strategy against the simulated VLM', () => {
  it('answers relative-position items that one tile cannot, in one call within 5 x 576 tokens', async () => {
    const runner = createOpenAIRunner({ baseUrl: fake.url, model: MODEL, env: {}, retryBaseMs: 1 });
    for (const item of manifest.items) {
      const pipeline = createPipeline({ scorer: targetScorer(item), runner, grid: '2x2' });
      const source = await pipeline.open(join(dir, item.image));
      const r = await packAsk(pipeline, { runner, source, question: item.question, options: item.options });
      expect(r.phrases).toEqual(item.targets.map((t) => t.label));
      expect(r.cells.filter((c) => c.phrase).map((c) => c.phrase)).toEqual(expect.arrayContaining(item.targets.map((t) => t.label)));
      expect(r.visualTokens).toBeLessThanOrEqual(5 * 576);
      expect(r.answer.kind === 'choice' && r.answer.option, item.id).toBe(item.answer);
      // One tile (k=1 on 2x2) cannot show both targets.
      const run = await pipeline.run({ image: join(dir, item.image), question: item.question });
      const k1 = await pipeline.ask({ runner, from: run, question: item.question, options: item.options });
      expect(k1.kind === 'choice' && k1.option, `${item.id} k=1`).not.toBe(item.answer);
      await pipeline.dispose();
    }
    await runner.dispose();
  }, 120_000);

  it('k caps the cells kept', async () => {
    const item = manifest.items[0]!;
    const runner = createOpenAIRunner({ baseUrl: fake.url, model: MODEL, env: {}, retryBaseMs: 1 });
    const pipeline = createPipeline({ scorer: targetScorer(item), runner });
    const source = await pipeline.open(join(dir, item.image));
    const r = await packAsk(pipeline, { runner, source, question: item.question, options: item.options }, { k: 1 });
    expect(r.k).toBe(1);
    expect(r.cells).toHaveLength(1);
    await expect(packAsk(pipeline, { runner, source, question: item.question }, { k: 0 })).rejects.toThrow(/k = 0/);
    await pipeline.dispose();
    await runner.dispose();
  }, 60_000);
});
