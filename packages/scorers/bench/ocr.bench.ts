/**
 * OCR scorer speed on the real photos of ../shared/data/images, 2x2 grid, CPU.
 * Reports time per tile and per megapixel read, split into preprocess / detect / recognize,
 * and what the OCR read. Run: `pnpm --filter @semclip/scorers bench` (results also go to
 * bench-results/ocr.json).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, bench } from 'vitest';
import { tileImage } from '@semclip/tiling';
import { describeSharedBench, hasSharedData, sharedData } from '@semclip/test-kit/shared-data';
import type { TileSource } from '@semclip/core';
import { createOcrEngine, createOcrScorer } from '../src/ocr/index.js';
import type { OcrEngine, OcrScoreMeta } from '../src/ocr/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const IMAGES = sharedData('images');
const QUESTION = 'What is the wait time?';

interface Row {
  image: string;
  config: string;
  tiles: number;
  megapixelsRead: number;
  totalMs: number;
  preprocessMs: number;
  detectMs: number;
  recognizeMs: number;
  lines: number;
  texts: string[][];
}

const rows: Row[] = [];
const files = (hasSharedData() ? readdirSync(IMAGES) : []).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
const sources = new Map<string, TileSource>();
let engine960: OcrEngine | undefined;

function megapixelsRead(source: TileSource, maxSide: number): number {
  return source.grid.tiles.reduce((sum, t) => {
    const s = Math.min(1, maxSide / Math.max(t.box.width, t.box.height));
    return sum + (Math.round(t.box.width * s) * Math.round(t.box.height * s)) / 1e6;
  }, 0);
}

async function run(file: string, config: string, maxSide: number, detLimitSide: number): Promise<void> {
  const source = sources.get(file)!;
  const scorer = await createOcrScorer({ device: 'cpu', maxSide, detLimitSide, cacheSize: 0, warn: () => {} });
  const t = performance.now();
  const result = await scorer.score({ question: QUESTION }, source);
  const totalMs = performance.now() - t;
  await scorer.dispose();
  const meta = result.meta as OcrScoreMeta;
  rows.push({
    image: file,
    config,
    tiles: source.grid.tiles.length,
    megapixelsRead: megapixelsRead(source, maxSide),
    totalMs,
    preprocessMs: result.timings.preprocess,
    detectMs: result.timings.detect ?? 0,
    recognizeMs: result.timings.recognize ?? 0,
    lines: meta.texts.reduce((n, t) => n + t.length, 0),
    texts: meta.texts.map((t) => t.map((l) => `${l.text} (${l.confidence.toFixed(2)})`)),
  });
}

beforeAll(async () => {
  for (const f of files) sources.set(f, await tileImage(path.join(IMAGES, f), { grid: '2x2' }));
  // Warm up ONNX Runtime (first-run allocations) so the first image is not penalised.
  engine960 = await createOcrEngine({ device: 'cpu' });
  const first = sources.get(files[0]!)!;
  await engine960.recognize(await first.crop(first.grid.tiles[0]!.box, { maxSide: 640 }));
});

/** One row per (image, config): tinybench may call a task more than once; runs are averaged. */
function merged(): (Row & { runs: number })[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) groups.set(`${r.image}|${r.config}`, [...(groups.get(`${r.image}|${r.config}`) ?? []), r]);
  return [...groups.values()].map((g) => {
    const mean = (k: 'totalMs' | 'preprocessMs' | 'detectMs' | 'recognizeMs') => g.reduce((n, r) => n + r[k], 0) / g.length;
    return {
      ...g[0]!,
      totalMs: mean('totalMs'),
      preprocessMs: mean('preprocessMs'),
      detectMs: mean('detectMs'),
      recognizeMs: mean('recognizeMs'),
      runs: g.length,
    };
  });
}

afterAll(async () => {
  await engine960?.dispose();
  const table = merged();
  const fmt = (n: number) => n.toFixed(0).padStart(7);
  const lines = [
    `OCR scorer, 2x2 grid, CPU (${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}), Node ${process.version}, load average ${os.loadavg()[0]!.toFixed(1)}`,
  ];
  lines.push('image                 config         MP read  total ms  per tile  per MP  preproc  detect  recog  lines runs');
  for (const r of table) {
    lines.push(
      `${r.image.padEnd(21)} ${r.config.padEnd(14)} ${r.megapixelsRead.toFixed(2).padStart(7)} ${fmt(r.totalMs)}  ${fmt(r.totalMs / r.tiles)} ${fmt(r.totalMs / r.megapixelsRead)} ${fmt(r.preprocessMs)} ${fmt(r.detectMs)} ${fmt(r.recognizeMs)} ${String(r.lines).padStart(5)} ${r.runs}`,
    );
  }
  for (const config of new Set(table.map((r) => r.config))) {
    const sel = table.filter((r) => r.config === config);
    const tiles = sel.reduce((n, r) => n + r.tiles, 0);
    const mp = sel.reduce((n, r) => n + r.megapixelsRead, 0);
    const sum = (k: 'totalMs' | 'detectMs' | 'recognizeMs' | 'preprocessMs') => sel.reduce((n, r) => n + r[k], 0);
    lines.push(
      `mean ${config}: ${(sum('totalMs') / tiles).toFixed(0)} ms/tile, ${(sum('totalMs') / mp).toFixed(0)} ms/MP ` +
        `(preprocess ${(sum('preprocessMs') / tiles).toFixed(0)}, detect ${(sum('detectMs') / tiles).toFixed(0)}, recognize ${(sum('recognizeMs') / tiles).toFixed(0)} ms/tile)`,
    );
  }
  for (const r of table) lines.push(`${r.image} [${r.config}]: ${JSON.stringify(r.texts)}`);
  console.log(lines.join('\n'));
  const out = path.resolve(here, '../bench-results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, 'ocr.json'),
    JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, loadavg: os.loadavg(), rows: table }, null, 2),
  );
});

const once = { iterations: 1, warmupIterations: 0, time: 0, warmupTime: 0 };

describeSharedBench('ocr scorer, 2x2 grid, maxSide 1280, detector at the tile size (default)', () => {
  for (const f of files) bench(f, () => run(f, 'default', 1280, 1280), once);
});

describeSharedBench('ocr scorer, detector at the PaddleOCR limit (960)', () => {
  for (const f of files) bench(f, () => run(f, 'det960', 1280, 960), once);
});

describeSharedBench('ocr scorer, tiles at native resolution (maxSide 2048)', () => {
  bench('queue_time.jpg', () => run('queue_time.jpg', 'native2048', 2048, 2048), once);
});
