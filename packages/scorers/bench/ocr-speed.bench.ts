/**
 * Where the OCR scorer's time and memory go, and what the detector's resolution buys:
 *
 * 1. `stages`: queue_time.jpg (12 MP) at 3x3 with the default settings, warm engine: decode and
 *    tile cutting, the engine's own preprocessing, post-processing (DB boxes, CTC decoding), and
 *    the bare ONNX Runtime runs of the detector and recogniser; overhead = everything / ONNX.
 * 2. `curve`: detector settings (one pass at several long-side limits, and coarse-to-fine at
 *    several coarse sizes) against detector and word recall on the labelled lines of the
 *    labelled set (real photos + `SEMCLIP_OCR_CURVE_SCENES` generated scenes, default 8), 3x3
 *    tiles at `maxSide` 1280, with detector time and input pixels per tile.
 * 3. `cli`: `semclip select --scorer ocr` in child processes, wall time (first run = cold: a new
 *    process, model files possibly in the OS cache; then warm runs) and peak RSS (`/usr/bin/time`,
 *    or VmHWM when it is missing), on queue_time.jpg 3x3 and bag_of_bottle.jpeg (21 MP) 2x2/3x3.
 *    Needs the built CLI (`pnpm --filter @semclip/cli... build`); skipped with a line if not.
 *
 * Run: `pnpm --filter @semclip/scorers bench ocr-speed` (part of `pnpm bench`). Results go to
 * bench-results/ocr-speed.json.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, bench } from 'vitest';
import { tileImage } from '@semclip/tiling';
import { describeSharedBench, sharedData } from '@semclip/test-kit/shared-data';
import type { Box } from '@semclip/core';
import { createOcrEngine } from '../src/ocr/index.js';
import type { OcrEngine, OcrEngineOptions, OcrLine } from '../src/ocr/index.js';
import { generateScene, lineRecall, realPhotos, sizeClass } from '../src/ocr/_labelled-set.js';
import type { LabelledImage } from '../src/ocr/_labelled-set.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const SCENES = Number(process.env.SEMCLIP_OCR_CURVE_SCENES ?? 8);
const MAX_SIDE = 1280;
const out: Record<string, unknown> = {};
const report: string[] = [];
const once = { iterations: 1, warmupIterations: 0, time: 0, warmupTime: 0 };
const ms = (n: number) => `${n.toFixed(0)} ms`;

/** The scorer's read of one tile: at most MAX_SIDE on the long side, lines in pixels of the image. */
async function readTiles(engine: OcrEngine, image: string | Buffer, grid: string) {
  const t0 = performance.now();
  const source = await tileImage(image, { grid });
  const lines: OcrLine[] = [];
  const sum = { cut: 0, preprocess: 0, detect: 0, recognize: 0, onnx: 0, pixels: 0, tiles: 0 };
  for (const tile of source.grid.tiles) {
    const t = performance.now();
    const pixels = await source.crop(tile.box, { maxSide: MAX_SIDE });
    sum.cut += performance.now() - t;
    const r = await engine.recognize(pixels);
    const sx = tile.box.width / r.width;
    const sy = tile.box.height / r.height;
    for (const l of r.lines) {
      const box: Box = { x: tile.box.x + l.box.x * sx, y: tile.box.y + l.box.y * sy, width: l.box.width * sx, height: l.box.height * sy };
      lines.push({ ...l, box });
    }
    sum.preprocess += r.timings.preprocess;
    sum.detect += r.timings.detect;
    sum.recognize += r.timings.recognize;
    sum.onnx += r.timings.onnx;
    sum.pixels += r.detection.pixels;
    sum.tiles++;
  }
  return { lines, total: performance.now() - t0, ...sum };
}

// --- 1. stages -----------------------------------------------------------------------------------

describeSharedBench('ocr speed: stages of queue_time.jpg 3x3', () => {
  bench(
    'default settings, warm engine',
    async () => {
      if (out.stages) return;
      const engine = await createOcrEngine({ device: 'cpu', detLimitSide: MAX_SIDE });
      const photo = sharedData('images/queue_time.jpg');
      await readTiles(engine, photo, '3x3'); // warm-up: first-run allocations, OS cache
      const runs = [];
      for (let i = 0; i < 3; i++) runs.push(await readTiles(engine, photo, '3x3'));
      await engine.dispose();
      const r = runs.sort((a, b) => a.total - b.total)[1]!;
      const post = r.detect + r.recognize - r.onnx;
      const stages = {
        totalMs: r.total,
        decodeAndCutMs: r.cut,
        preprocessMs: r.preprocess,
        postprocessMs: post,
        onnxMs: r.onnx,
        overhead: (r.preprocess + r.detect + r.recognize) / r.onnx,
        overheadWithCut: (r.cut + r.preprocess + r.detect + r.recognize) / r.onnx,
        detectorMegapixels: r.pixels / 1e6,
        lines: r.lines.length,
      };
      out.stages = stages;
      report.push(
        `stages, queue_time.jpg 3x3 (median of 3 warm runs): total ${ms(r.total)} = decode + tile cutting ${ms(r.cut)}, ` +
          `preprocessing ${ms(r.preprocess)}, post-processing ${ms(post)}, ONNX runs ${ms(r.onnx)} (detector input ${stages.detectorMegapixels.toFixed(2)} MP); ` +
          `overhead ${stages.overhead.toFixed(2)}x the ONNX runs (${stages.overheadWithCut.toFixed(2)}x with decode and cutting); ${r.lines.length} lines`,
      );
    },
    once,
  );
});

// --- 2. curve --------------------------------------------------------------------------------------

const CONFIGS: { name: string; options: OcrEngineOptions }[] = [
  { name: 'one pass 1280 (default)', options: { detLimitSide: 1280, coarseSide: 0 } },
  { name: 'one pass 960', options: { detLimitSide: 960, coarseSide: 0 } },
  { name: 'one pass 800', options: { detLimitSide: 800, coarseSide: 0 } },
  { name: 'one pass 640', options: { detLimitSide: 640, coarseSide: 0 } },
  { name: 'coarse 480 -> 1280', options: { detLimitSide: 1280, coarseSide: 480 } },
  { name: 'coarse 640 -> 1280', options: { detLimitSide: 1280, coarseSide: 640 } },
  { name: 'coarse 800 -> 1280', options: { detLimitSide: 1280, coarseSide: 800 } },
  { name: 'coarse 960 -> 1280', options: { detLimitSide: 1280, coarseSide: 960 } },
];
/** `SEMCLIP_OCR_CURVE=0,5` runs only those settings (indices into CONFIGS); the first is the reference for lost lines. */
const CURVE = process.env.SEMCLIP_OCR_CURVE ? process.env.SEMCLIP_OCR_CURVE.split(',').map((i) => CONFIGS[Number(i)]!) : CONFIGS;

describeSharedBench('ocr speed: detector resolution vs recall vs time', () => {
  bench(
    `${CURVE.length} settings on the labelled set (3x3)`,
    async () => {
      if (out.curve) return;
      const images: LabelledImage[] = [...realPhotos(sharedData('images'))];
      for (let i = 0; i < SCENES; i++) images.push(await generateScene(i));
      const rows = [];
      const found: Set<string>[] = [];
      for (const config of CURVE) {
        const engine = await createOcrEngine({ device: 'cpu', ...config.options });
        const seen = new Set<string>();
        found.push(seen);
        const row = {
          name: config.name,
          tiles: 0,
          detectMs: 0,
          onnxMs: 0,
          pixels: 0,
          labelled: 0,
          detected: 0,
          words: 0,
          wordsRead: 0,
          small: 0,
          smallDetected: 0,
        };
        for (const img of images) {
          const r = await readTiles(engine, img.image, '3x3');
          row.tiles += r.tiles;
          row.detectMs += r.detect + r.preprocess;
          row.onnxMs += r.onnx;
          row.pixels += r.pixels;
          for (const label of img.lines) {
            const rec = lineRecall(label, r.lines);
            row.labelled++;
            row.detected += rec.detected ? 1 : 0;
            if (rec.detected) seen.add(`${img.id}: "${label.text}" (${label.sizePct.toFixed(2)}%)`);
            row.words += rec.words;
            row.wordsRead += rec.wordsRead;
            if (sizeClass(label.sizePct) === '<0.8%' || sizeClass(label.sizePct) === '0.8-1.2%') {
              row.small++;
              row.smallDetected += rec.detected ? 1 : 0;
            }
          }
        }
        await engine.dispose();
        rows.push({ ...row, lost: [...found[0]!].filter((l) => !seen.has(l)), gained: [...seen].filter((l) => !found[0]!.has(l)) });
      }
      out.curve = rows;
      report.push(`curve: ${images.length} images (${images.length - SCENES} real, ${SCENES} generated), 3x3, maxSide ${MAX_SIDE}`);
      report.push('  setting                       detector MP/tile  detect+prep ms/tile  det recall  small-text det recall  word recall');
      for (const r of rows) {
        const diff = [...r.lost.map((l) => `-${l}`), ...r.gained.map((l) => `+${l}`)];
        report.push(
          `  ${r.name.padEnd(29)} ${(r.pixels / r.tiles / 1e6).toFixed(2).padStart(16)}  ${(r.detectMs / r.tiles).toFixed(0).padStart(19)}  ${((100 * r.detected) / r.labelled).toFixed(1).padStart(9)}%  ${((100 * r.smallDetected) / Math.max(1, r.small)).toFixed(1).padStart(20)}%  ${((100 * r.wordsRead) / r.words).toFixed(1).padStart(10)}%`,
        );
        if (diff.length > 0) report.push(`      lines detected differently from ${rows[0]!.name}: ${diff.join('; ')}`);
      }
    },
    once,
  );
});

// --- 3. cli ------------------------------------------------------------------------------------------

const CLI = path.join(repo, 'apps/cli/dist/cli.js');
const GNU_TIME = '/usr/bin/time';

/** Wall seconds and peak RSS (MB) of one `semclip select` in a child process. */
function runCli(image: string, grid: string): { seconds: number; peakMb: number } {
  const args = [CLI, 'select', image, 'What is the wait time?', '--scorer', 'ocr', '--grid', grid, '--json'];
  const t = performance.now();
  if (existsSync(GNU_TIME)) {
    const r = spawnSync(GNU_TIME, ['-f', 'SEMCLIP_PEAK_KB=%M', process.execPath, ...args], { cwd: repo, encoding: 'utf8', maxBuffer: 64 << 20 });
    const seconds = (performance.now() - t) / 1000;
    const kb = /SEMCLIP_PEAK_KB=(\d+)/.exec(r.stderr)?.[1];
    if (r.status !== 0 || !kb) throw new Error(`semclip select failed (${r.status}): ${r.stderr.slice(-2000)}`);
    return { seconds, peakMb: Number(kb) / 1024 };
  }
  // No GNU time: the child prints its own VmHWM on exit.
  const hook = `process.on('exit',()=>{const m=/VmHWM:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status','utf8'));process.stderr.write('SEMCLIP_PEAK_KB='+(m?m[1]:0)+'\\n')})`;
  const r = spawnSync(process.execPath, ['--require', `data:text/javascript,${encodeURIComponent(hook)}`, ...args], { cwd: repo, encoding: 'utf8' });
  const seconds = (performance.now() - t) / 1000;
  const kb = /SEMCLIP_PEAK_KB=(\d+)/.exec(r.stderr)?.[1];
  if (r.status !== 0 || !kb) throw new Error(`semclip select failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return { seconds, peakMb: Number(kb) / 1024 };
}

describeSharedBench('ocr speed: semclip select in a child process', () => {
  bench(
    'queue_time.jpg 3x3, bag_of_bottle.jpeg 2x2 and 3x3',
    () => {
      if (out.cli) return;
      if (!existsSync(CLI)) {
        report.push(`cli: skipped, ${CLI} is not built (pnpm --filter @semclip/cli... build)`);
        out.cli = 'skipped';
        return;
      }
      const rows = [];
      for (const [file, grid] of [
        ['queue_time.jpg', '3x3'],
        ['bag_of_bottle.jpeg', '2x2'],
        ['bag_of_bottle.jpeg', '3x3'],
      ] as const) {
        const image = sharedData('images', file);
        const runs = [runCli(image, grid), runCli(image, grid), runCli(image, grid), runCli(image, grid)];
        const warm = runs
          .slice(1)
          .map((r) => r.seconds)
          .sort((a, b) => a - b);
        rows.push({ file, grid, coldSeconds: runs[0]!.seconds, warmSeconds: warm[1]!, warmAll: warm, peakMb: Math.max(...runs.map((r) => r.peakMb)) });
      }
      let pnpmSeconds: number | undefined;
      try {
        const t = performance.now();
        execFileSync('pnpm', ['semclip', '--version'], { cwd: repo, stdio: 'ignore' });
        pnpmSeconds = (performance.now() - t) / 1000;
      } catch {
        // pnpm not on PATH: the direct node runs above are what is reported.
      }
      out.cli = { rows, pnpmSeconds };
      report.push(
        `cli: node apps/cli/dist/cli.js select ... --scorer ocr (cold = first run; warm = median of 3 more)${pnpmSeconds ? `; \`pnpm semclip\` adds ${pnpmSeconds.toFixed(2)} s` : ''}`,
      );
      for (const r of rows) {
        report.push(`  ${r.file} ${r.grid}: cold ${r.coldSeconds.toFixed(2)} s, warm ${r.warmSeconds.toFixed(2)} s, peak RSS ${r.peakMb.toFixed(0)} MB`);
      }
    },
    once,
  );
});

afterAll(() => {
  if (report.length === 0) return;
  const head = `OCR speed, CPU ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;
  console.log([head, ...report].join('\n'));
  const dir = path.resolve(here, '../bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'ocr-speed.json'),
    JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, loadavg: os.loadavg(), ...out }, null, 1),
  );
});
