/**
 * Selection strategies on the perception-limited synthetic benchmark, against the simulated VLM
 * of the test kit (LLaVA-1.5 perception: 336-px encoder, targets readable at >= 12 encoder
 * pixels): accuracy vs VLM calls vs visual tokens for baseline, SemClip k=1 (random and OCR
 * scorers, 3x3), adaptive (OCR), pack (OCR), zoom (random and OCR scorers), all tiles and an
 * oracle (overview + a crop around the targets). SIMULATED perception: the numbers say what the
 * search and packing logic do when perception is the limit, not what a real VLM scores.
 *
 * Run: `pnpm --filter @semclip/pipeline bench strategies` (part of `pnpm bench`).
 * `SEMCLIP_SYNTH_ITEMS` (default 60), `SEMCLIP_SYNTH_SEED` (default 1) and `SEMCLIP_SYNTH_METHODS` (method prefixes, to rerun a few rows). Photos: the real ones
 * of ../shared/data/images when present, else the generated stand-in. Results (every item and
 * method) go to bench-results/strategies.json.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Box } from '@semclip/core';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { hasSharedData, sharedData } from '@semclip/test-kit/shared-data';
import { simulatedVlm } from '@semclip/test-kit/sim-vlm';
import { generateSynthBenchmark } from '@semclip/tiling';
import type { SynthItem } from '@semclip/tiling';
import { createOpenAIRunner } from '@semclip/vlm-runner/openai';
import { afterAll, bench, describe } from 'vitest';
import { createPipeline, openScorer, packAsk, targetPhrases, zoomAsk } from '../src/index.js';
import type { AskResult, Pipeline } from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ITEMS = Number(process.env.SEMCLIP_SYNTH_ITEMS ?? 60);
const SEED = Number(process.env.SEMCLIP_SYNTH_SEED ?? 1);
// Comma-separated method prefixes (e.g. `zoom,oracle`), to rerun a few rows.
const ONLY = process.env.SEMCLIP_SYNTH_METHODS?.split(',').map((m) => m.trim());
const MODEL = 'llava-hf/llava-1.5-7b-hf';

interface Row {
  readonly item: string;
  readonly type: string;
  readonly easy: boolean;
  readonly method: string;
  readonly correct: boolean;
  readonly calls: number;
  readonly tokens: number;
  readonly ms: number;
}

const rows: Row[] = [];

function around(item: SynthItem, side: number): Box {
  const xs = item.targets.flatMap((t) => [t.box.x, t.box.x + t.box.width]);
  const ys = item.targets.flatMap((t) => [t.box.y, t.box.y + t.box.height]);
  const w = Math.min(item.width, Math.max(side, Math.max(...xs) - Math.min(...xs) + 40));
  const h = Math.min(item.height, Math.max(side, Math.max(...ys) - Math.min(...ys) + 40));
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2;
  const cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  return {
    x: Math.max(0, Math.round(Math.min(cx - w / 2, item.width - w))),
    y: Math.max(0, Math.round(Math.min(cy - h / 2, item.height - h))),
    width: Math.round(w),
    height: Math.round(h),
  };
}

const right = (a: AskResult, item: SynthItem) => a.kind === 'choice' && a.option === item.answer;

async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'semclip-strategies-'));
  const photosDir = hasSharedData() ? sharedData('images') : undefined;
  const photos =
    photosDir && existsSync(photosDir)
      ? readdirSync(photosDir)
          .filter((f) => /\.(jpe?g|png)$/i.test(f))
          .map((f) => path.join(photosDir, f))
      : [];
  const t0 = performance.now();
  const manifest = await generateSynthBenchmark({ out: dir, photos, count: ITEMS, seed: SEED });
  const genMs = performance.now() - t0;
  const sim = simulatedVlm({ manifest, visibleAt: 12 });
  const fake = await startFakeOpenAI({ behaviour: sim.behaviour, models: [MODEL] });
  const runner = createOpenAIRunner({ baseUrl: fake.url, model: MODEL, env: {}, retryBaseMs: 1 });
  // One OCR scorer for every pipeline: its per-image cache serves k=1 and adaptive alike.
  const ocrScorer = await openScorer('ocr');
  const pipelines: Record<string, Pipeline> = {
    none: createPipeline({ scorer: false, runner, grid: '3x3' }),
    random: createPipeline({ scorer: 'random', runner, grid: '3x3' }),
    ocr: createPipeline({ scorer: ocrScorer, runner, grid: '3x3' }),
    adaptive: createPipeline({ scorer: ocrScorer, runner, grid: '3x3', select: { mode: 'adaptive' } }),
  };
  try {
    for (const item of manifest.items) {
      const image = path.join(dir, item.image);
      const q = { question: item.question, options: item.options };
      const record = async (method: string, f: () => Promise<{ correct: boolean; calls: number; tokens: number }>) => {
        if (ONLY && !ONLY.some((m) => method.startsWith(m))) return;
        const s = performance.now();
        const r = await f();
        rows.push({ item: item.id, type: item.type, easy: item.easy, method, ...r, ms: performance.now() - s });
      };
      const none = pipelines.none as Pipeline;
      const source = await none.open(image);
      await record('baseline', async () => {
        const a = await none.ask({ runner, from: { source }, ...q, mode: 'baseline' });
        return { correct: right(a, item), calls: 1, tokens: a.visualTokens };
      });
      for (const scorer of ['random', 'ocr'] as const) {
        await record(`k=1 ${scorer} 3x3`, async () => {
          const p = pipelines[scorer] as Pipeline;
          const r = await p.run({ image, ...q });
          const a = await p.ask({ runner, from: r, ...q });
          return { correct: right(a, item), calls: 1, tokens: a.visualTokens };
        });
      }
      await record('adaptive ocr 3x3', async () => {
        const p = pipelines.adaptive as Pipeline;
        const r = await p.run({ image, ...q });
        const a = await p.ask({ runner, from: r, ...q });
        return { correct: right(a, item), calls: 1, tokens: a.visualTokens };
      });
      await record('pack ocr', async () => {
        const p = pipelines.ocr as Pipeline;
        const r = await packAsk(p, { runner, source: await p.open(image), ...q });
        return { correct: right(r.answer, item), calls: 1, tokens: r.visualTokens };
      });
      for (const scorer of ['random', 'ocr'] as const) {
        await record(`zoom ${scorer}`, async () => {
          const p = pipelines[scorer] as Pipeline;
          const r = await zoomAsk(p, { runner, source: await p.open(image), ...q }, { maxCalls: 12 });
          return { correct: right(r.answer, item), calls: r.calls, tokens: r.visualTokens };
        });
      }
      // A free router: questions naming two objects go to pack, the rest to zoom (OCR scorer).
      await record('zoom, pack for two-object questions', async () => {
        const p = pipelines.ocr as Pipeline;
        const src = await p.open(image);
        if (targetPhrases(item.question).length >= 2) {
          const r = await packAsk(p, { runner, source: src, ...q });
          return { correct: right(r.answer, item), calls: 1, tokens: r.visualTokens };
        }
        const r = await zoomAsk(p, { runner, source: src, ...q }, { maxCalls: 12 });
        return { correct: right(r.answer, item), calls: r.calls, tokens: r.visualTokens };
      });
      await record('all tiles 3x3', async () => {
        const a = await none.ask({ runner, from: { source }, ...q, mode: 'all-tiles' });
        return { correct: right(a, item), calls: 1, tokens: a.visualTokens };
      });
      await record('oracle (crop around targets)', async () => {
        const a = await none.ask({ runner, from: { source }, ...q, plan: { overview: true, regions: [{ box: around(item, 672) }] } });
        return { correct: right(a, item), calls: 1, tokens: a.visualTokens };
      });
    }
  } finally {
    await Promise.all(Object.values(pipelines).map((p) => p.dispose()));
    await ocrScorer.dispose();
    await runner.dispose();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const methods = [...new Set(rows.map((r) => r.method))];
  const pct = (xs: Row[]) => (xs.length ? `${((100 * xs.filter((r) => r.correct).length) / xs.length).toFixed(1)}` : '-');
  const mean = (xs: Row[], f: (r: Row) => number) => (xs.length ? xs.reduce((s, r) => s + f(r), 0) / xs.length : 0);
  const table = methods.map((m) => {
    const all = rows.filter((r) => r.method === m);
    const by = (f: (r: Row) => boolean) => all.filter(f);
    return {
      method: m,
      accuracy: pct(all),
      colour: pct(by((r) => r.type === 'colour' && !r.easy)),
      text: pct(by((r) => r.type === 'text' && !r.easy)),
      relative: pct(by((r) => r.type === 'relative' && !r.easy)),
      easy: pct(by((r) => r.easy)),
      calls: mean(all, (r) => r.calls).toFixed(2),
      callsEasy: mean(
        by((r) => r.easy),
        (r) => r.calls,
      ).toFixed(2),
      callsHardDirect: mean(
        by((r) => !r.easy && r.type !== 'relative'),
        (r) => r.calls,
      ).toFixed(2),
      tokens: Math.round(mean(all, (r) => r.tokens)),
      ms: Math.round(mean(all, (r) => r.ms)),
    };
  });
  // Relative-position items k=1 (OCR) gets wrong: how many pack gets right.
  const k1Wrong = new Set(rows.filter((r) => r.method === 'k=1 ocr 3x3' && r.type === 'relative' && !r.correct).map((r) => r.item));
  const packOnThose = rows.filter((r) => r.method === 'pack ocr' && k1Wrong.has(r.item));
  const summary = {
    machine: `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    date: new Date().toISOString(),
    loadavg: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
    items: manifest.items.length,
    seed: SEED,
    photos: photos.length ? photos.map((p) => path.basename(p)) : 'generated stand-in',
    counts: {
      colour: manifest.items.filter((i) => i.type === 'colour' && !i.easy).length,
      text: manifest.items.filter((i) => i.type === 'text' && !i.easy).length,
      relative: manifest.items.filter((i) => i.type === 'relative' && !i.easy).length,
      easy: manifest.items.filter((i) => i.easy).length,
    },
    generateMs: Math.round(genMs),
    table,
    packOnK1WrongRelative: { k1Wrong: k1Wrong.size, packRight: packOnThose.filter((r) => r.correct).length },
  };
  const out = path.join(here, '..', 'bench-results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, ONLY ? 'strategies.partial.json' : 'strategies.json'), `${JSON.stringify({ ...summary, rows }, null, 1)}\n`);
  console.log(JSON.stringify(summary, null, 1));
  console.table(table);
}

let done = false;
describe('selection strategies on the synthetic perception benchmark (simulated VLM)', () => {
  bench(
    `baseline, k=1, adaptive, pack, zoom, all tiles, oracle over ${ITEMS} items`,
    async () => {
      if (done) return;
      done = true;
      await run();
    },
    { iterations: 1, warmupIterations: 0, time: 0, warmupTime: 0 },
  );
  afterAll(() => undefined);
});
