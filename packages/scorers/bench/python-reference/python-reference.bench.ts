/**
 * SemClip's CLIP path side by side with what a Python user runs instead, in one run (issue 14, item 4).
 *
 * The job, on each side, for one photo, one grid and one question, from the file path:
 * - SemClip: `tileImage(path, { grid })`, `scorer.score()` (tokenizer and text tower, the tiles'
 *   pixels, one batched vision run, cosine scores; caches cleared first, so nothing is reused), and
 *   the overview at 336x336 (`source.overview`, what the VLM gets).
 * - Python (`pyref.py`): PIL decode with EXIF orientation, the 336x336 overview (PIL bicubic), the
 *   same tiles cropped with PIL, Hugging Face's `CLIPImageProcessor` on them, the tokenizer and the
 *   text tower, the vision tower on the batch (onnxruntime `InferenceSession` on the very ONNX files
 *   SemClip loads), cosine scores.
 * - Python as first measured in issue 14: the same, with the overview also through the processor
 *   and the vision tower (batch of 1 + tiles), as a Python pipeline that embeds every image it
 *   makes does. SemClip never embeds the overview (the scorer only needs the tiles).
 * - The floor: a bare ONNX Runtime `session.run` of the vision tower on SemClip's own pixels for
 *   the same tiles (what no preprocessing at all would cost).
 *
 * The four run in turn (SemClip, Python, Python + overview, bare; again; ...) in two warm processes,
 * so both see the same machine load; ratios are medians of per-round ratios. Models: random-weight
 * CLIP towers with ViT-B/32-224 and ViT-L/14-336 shapes from the test kit (transformers.js layout,
 * generated once into ~/.cache/semclip/pyref-models); for L/14 also the q8, int8 and fp16
 * variants (see pyref.py `variants`), made with onnxruntime's tools in the venv at bench time, each timed against
 * Python's fp32 and its tile ranking compared with fp32's.
 *
 * Agreement, so the comparison is fair: the tile scores of both sides (end to end, so the pixels
 * differ a little: libvips DCT-scaled decode + cubic resample vs PIL full decode + bicubic), the
 * scores of Python's sessions on SemClip's exact pixels (the same model should agree to ~1e-6),
 * and the rankings.
 *
 * Needs a Python venv with transformers, onnxruntime, onnx and pillow (see README.md here: one
 * `setup.sh`); without it the Python half is skipped with one line and only SemClip vs the floor
 * runs. Env: SEMCLIP_PYREF_PYTHON (interpreter), SEMCLIP_PYREF_MODELS (`b32,l14`),
 * SEMCLIP_PYREF_ROUNDS (B/32 rounds, default 7), SEMCLIP_PYREF_L14_ROUNDS (default 3),
 * SEMCLIP_PYREF_L14_GRIDS (default `2x2`), SEMCLIP_PYREF_VARIANTS (`q8,int8,fp16`; empty for none).
 * Results: bench-results/python-reference.json.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, bench, describe } from 'vitest';
import { tileImage } from '@semclip/tiling';
import { makeRaw } from '@semclip/test-kit/images';
import { hasSharedData, sharedData } from '@semclip/test-kit/shared-data';
import { createSession, loadOnnxRuntime } from '@semclip/runtime/onnx';
import type { OnnxSession } from '@semclip/runtime/onnx';
import { createClipScorer } from '../../src/clip/index.js';
import type { ClipScorer } from '../../src/clip/index.js';
import { pixelSpecFrom, tilePixels } from '../../src/clip/_pixels.js';
import { MODELS, ensureModel } from './_models.js';
import type { BenchModel } from './_models.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const list = (v: string | undefined, fallback: string) =>
  (v ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const SELECTED = list(env.SEMCLIP_PYREF_MODELS, 'b32,l14');
const B32_ROUNDS = Number(env.SEMCLIP_PYREF_ROUNDS ?? 7);
const L14_ROUNDS = Number(env.SEMCLIP_PYREF_L14_ROUNDS ?? 3);
const L14_GRIDS = list(env.SEMCLIP_PYREF_L14_GRIDS, '2x2');
const VARIANTS = list(env.SEMCLIP_PYREF_VARIANTS, 'q8,int8,fp16') as Variant[];
type Variant = 'q8' | 'int8' | 'fp16';
const QUESTION = 'What is the wait time shown on the small sign?';
const OVERVIEW = { width: 336, height: 336 };

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const log = (line: string) => console.log(`[pyref] ${line}`);
const ranking = (scores: readonly number[]) => scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
const maxAbsDiff = (a: readonly number[], b: readonly number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
const loadavg = () => os.loadavg().map((l) => Number(l.toFixed(2)));

// ------------------------------------------------------------------------------------------------
// The Python half: one warm process speaking JSON lines.

function pythonPath(): string {
  if (env.SEMCLIP_PYREF_PYTHON) return env.SEMCLIP_PYREF_PYTHON;
  const local = path.join(here, '.venv', 'bin', 'python');
  if (existsSync(local)) return local;
  return path.join(os.homedir(), '.cache', 'semclip', 'pyref', 'bin', 'python');
}

class PythonStack {
  private readonly lines: AsyncIterator<string>;
  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  static async start(): Promise<{ stack?: PythonStack; versions?: Record<string, string>; why?: string }> {
    const python = pythonPath();
    if (!existsSync(python)) return { why: `no Python venv at ${python}` };
    const child = spawn(python, [path.join(here, 'pyref.py')], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...env, PYTHONUNBUFFERED: '1' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const stack = new PythonStack(child);
    try {
      const versions = (await stack.ask({ cmd: 'versions' })) as Record<string, string>;
      return { stack, versions };
    } catch (err) {
      child.kill();
      return { why: `${python} cannot run the reference stack (${(err as Error).message.split('\n')[0]}) ${stderr.trim().split('\n').pop() ?? ''}` };
    }
  }

  async ask(msg: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${JSON.stringify(msg)}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error('the Python process ended');
    const reply = JSON.parse(next.value) as Record<string, unknown>;
    if (typeof reply.error === 'string') throw new Error(`pyref.py ${String(msg.cmd)}: ${reply.error}`);
    return reply;
  }

  async close(): Promise<void> {
    try {
      await this.ask({ cmd: 'quit' });
    } catch {
      this.child.kill();
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Photos

let standInDir: string | undefined;
let photoList: Promise<{ label: string; path: string }[]> | undefined;

function photos(): Promise<{ label: string; path: string }[]> {
  photoList ??= makePhotos();
  return photoList;
}

async function makePhotos(): Promise<{ label: string; path: string }[]> {
  if (hasSharedData()) {
    return ['queue_time.jpg', 'flag.JPG'].map((f) => ({ label: f, path: sharedData('images', f) }));
  }
  // A photo-like 4032x3024 JPEG (blurred noise) standing in for the real photos of ../shared.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'semclip-pyref-'));
  standInDir = dir;
  const raw = makeRaw({ width: 4032, height: 3024, pattern: 'noise', seed: 3 });
  const file = path.join(dir, 'stand-in-4032x3024.jpg');
  await writeFile(
    file,
    await sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
      .blur(2)
      .jpeg({ quality: 90 })
      .toBuffer(),
  );
  log(`../shared/data not found: using a generated 4032x3024 stand-in photo (${file})`);
  return [{ label: 'stand-in 4032x3024', path: file }];
}

// ------------------------------------------------------------------------------------------------
// One model: load both sides, alternate, compare

interface Cell {
  model: string;
  image: string;
  grid: string;
  tiles: number;
  rounds: number;
  semclipMs: number[];
  /** Python, the same job (the overview made, not embedded). */
  pythonMs: number[];
  /** Python with the overview through the processor and the vision tower too (the issue's first measurement). */
  pythonOverviewMs: number[];
  bareMs: number[];
  semclipStages: Record<string, number>[];
  pythonStages: Record<string, number>[];
  variants: Record<string, { ms: number[]; maxScoreDiffVsFp32: number; sameRanking: boolean; sameTop1: boolean }>;
  agreement?: {
    maxScoreDiffEndToEnd: number;
    sameRanking: boolean;
    sameTop1: boolean;
    maxScoreDiffSamePixels?: number;
    pixelMeanAbsDiffGrey?: number;
    semclipScores: number[];
    pythonScores: number[];
  };
}

const cells: Cell[] = [];
const notes: string[] = [];
let versions: Record<string, string> | undefined;
let pythonWhy: string | undefined;

async function semclipJob(scorer: ClipScorer, image: string, grid: string) {
  scorer.clearCache();
  const t0 = performance.now();
  const source = await tileImage(image, { grid });
  const t1 = performance.now();
  const result = await scorer.score({ question: QUESTION }, source);
  const t2 = performance.now();
  await source.overview(OVERVIEW, 'resize');
  const t3 = performance.now();
  return {
    ms: t3 - t0,
    scores: result.scores as number[],
    stages: { tileImage: t1 - t0, score: t2 - t1, preprocess: result.timings.preprocess, encode: result.timings.encode, overview: t3 - t2 },
  };
}

async function loadScorer(dir: string, dtype: 'fp32' | Variant): Promise<ClipScorer> {
  return createClipScorer({ modelPath: dir, dtype, device: 'cpu', warn: () => {}, tileCache: false });
}

async function runModel(model: BenchModel, python: PythonStack | undefined): Promise<void> {
  const { dir, generatedMs } = await ensureModel(model, log);
  if (generatedMs > 0) notes.push(`${model.id}: generated in ${(generatedMs / 1000).toFixed(0)} s`);
  const isL14 = model.id === 'l14';
  const rounds = isL14 ? L14_ROUNDS : B32_ROUNDS;
  const grids = isL14 ? L14_GRIDS : ['2x2', '3x3'];
  let variants: Variant[] = isL14 ? VARIANTS : [];
  if (variants.length > 0) {
    if (python) {
      const made = await python.ask({ cmd: 'variants', dir });
      log(`${model.id} variants: ${JSON.stringify(made.made)}`);
    } else {
      log(`${model.id}: q8/int8/fp16 variants skipped (they are made with onnxruntime's tools in the Python venv)`);
      variants = [];
    }
  }
  let t = performance.now();
  const scorer = await loadScorer(dir, 'fp32');
  const bare: OnnxSession = await createSession(path.join(dir, 'onnx', 'vision_model.onnx'), { device: 'cpu' });
  const extra = new Map<string, ClipScorer>();
  for (const v of variants) {
    try {
      extra.set(v, await loadScorer(dir, v));
    } catch (err) {
      const why = `${model.id} ${v}: SemClip could not load it: ${(err as Error).message.split('\n')[0]}`;
      log(why);
      notes.push(why);
    }
  }
  const semclipLoadMs = performance.now() - t;
  const ort = await loadOnnxRuntime();
  const spec = pixelSpecFrom(JSON.parse(await readFile(path.join(dir, 'preprocessor_config.json'), 'utf8')), dir);
  let pythonLoadMs: number | undefined;
  if (python) pythonLoadMs = (await python.ask({ cmd: 'load', dir, dtype: 'fp32' })).loadMs as number;
  notes.push(
    `${model.id}: SemClip loaded fp32${[...extra.keys()].map((k) => `+${k}`).join('')} + bare session in ${(semclipLoadMs / 1000).toFixed(1)} s` +
      (pythonLoadMs === undefined ? '' : `; Python loaded fp32 in ${(pythonLoadMs / 1000).toFixed(1)} s`),
  );
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'semclip-pyref-px-'));

  try {
    for (const photo of await photos()) {
      if (isL14 && photo.label === 'flag.JPG') continue; // one photo is enough at 5-10 s a run
      for (const grid of grids) {
        const source = await tileImage(photo.path, { grid });
        const indices = source.grid.tiles.map((x) => x.index);
        const boxes = source.grid.tiles.map((x) => [x.box.x, x.box.y, x.box.width, x.box.height]);
        const px = await tilePixels(source, indices, spec);
        const feeds = { pixel_values: new ort.Tensor('float32', px.data, px.dims) };
        const cell: Cell = {
          model: model.id,
          image: photo.label,
          grid,
          tiles: indices.length,
          rounds,
          semclipMs: [],
          pythonMs: [],
          pythonOverviewMs: [],
          bareMs: [],
          semclipStages: [],
          pythonStages: [],
          variants: {},
        };
        // Warm-up of every path (first runs allocate), and the agreement checks.
        const first = await semclipJob(scorer, photo.path, grid);
        await bare.run(feeds);
        if (python) {
          const py = (await python.ask({ cmd: 'run', image: photo.path, boxes, overview: OVERVIEW.width, question: QUESTION })) as { scores: number[] };
          const rawFile = path.join(tmp, 'semclip-pixels.f32');
          await writeFile(rawFile, Buffer.from(px.data.buffer, px.data.byteOffset, px.data.byteLength));
          const same = (await python.ask({ cmd: 'scoreRaw', file: rawFile, dims: px.dims, question: QUESTION })) as { scores: number[] };
          const pyFile = path.join(tmp, 'python-pixels.f32');
          await python.ask({ cmd: 'pixels', image: photo.path, boxes, file: pyFile });
          const pyPx = new Float32Array((await readFile(pyFile)).buffer.slice(0));
          // Mean absolute pixel difference in grey levels (undoing the per-channel std).
          const plane = spec.size.width * spec.size.height;
          let sum = 0;
          for (let i = 0; i < px.data.length; i++) sum += Math.abs(px.data[i]! - pyPx[i]!) * spec.std[Math.floor(i / plane) % 3]! * 255;
          cell.agreement = {
            maxScoreDiffEndToEnd: maxAbsDiff(first.scores, py.scores),
            sameRanking: ranking(first.scores).join() === ranking(py.scores).join(),
            sameTop1: ranking(first.scores)[0] === ranking(py.scores)[0],
            maxScoreDiffSamePixels: maxAbsDiff(first.scores, same.scores),
            pixelMeanAbsDiffGrey: sum / px.data.length,
            semclipScores: first.scores,
            pythonScores: py.scores,
          };
        }
        for (const [v, s] of extra) {
          const r = await semclipJob(s, photo.path, grid);
          cell.variants[v] = {
            ms: [],
            maxScoreDiffVsFp32: maxAbsDiff(r.scores, first.scores),
            sameRanking: ranking(r.scores).join() === ranking(first.scores).join(),
            sameTop1: ranking(r.scores)[0] === ranking(first.scores)[0],
          };
        }
        // The timed rounds: SemClip, Python, bare, then each variant; again.
        for (let i = 0; i < rounds; i++) {
          const a = await semclipJob(scorer, photo.path, grid);
          cell.semclipMs.push(a.ms);
          cell.semclipStages.push(a.stages);
          if (python) {
            const b = (await python.ask({ cmd: 'run', image: photo.path, boxes, overview: OVERVIEW.width, question: QUESTION })) as {
              ms: number;
              stages: Record<string, number>;
            };
            cell.pythonMs.push(b.ms);
            cell.pythonStages.push(b.stages);
            const c = (await python.ask({ cmd: 'run', image: photo.path, boxes, overview: OVERVIEW.width, question: QUESTION, encodeOverview: true })) as {
              ms: number;
            };
            cell.pythonOverviewMs.push(c.ms);
          }
          t = performance.now();
          await bare.run(feeds);
          cell.bareMs.push(performance.now() - t);
          for (const [v, s] of extra) cell.variants[v]!.ms.push((await semclipJob(s, photo.path, grid)).ms);
        }
        cells.push(cell);
        log(summaryLine(cell));
      }
    }
  } finally {
    await scorer.dispose();
    await bare.dispose();
    for (const s of extra.values()) await s.dispose();
    await rm(tmp, { recursive: true, force: true });
  }
}

function pairRatio(a: readonly number[], b: readonly number[]): number {
  return median(a.map((x, i) => x / b[i]!));
}

/**
 * SemClip's time outside its own vision run, from its stage timings (tileImage, the tile batch
 * with the text tower overlapping it, the overview), and (vision + that) / vision: steadier than
 * wall-clock ratios on a loaded machine, where single runs of the same thing scatter by 2x.
 */
function overheadAccount(c: Cell): { outsideMs: number; ratio: number } {
  const outside = c.semclipStages.map((s) => s.tileImage! + s.preprocess! + s.overview!);
  const vision = c.semclipStages.map((s) => s.score! - s.preprocess!);
  return { outsideMs: median(outside), ratio: median(vision.map((v, i) => (v + outside[i]!) / v)) };
}

function summaryLine(c: Cell): string {
  const parts = [`${c.model} ${c.image} ${c.grid}: SemClip ${median(c.semclipMs).toFixed(0)} ms`];
  if (c.pythonMs.length > 0) {
    parts.push(
      `Python ${median(c.pythonMs).toFixed(0)} ms`,
      `TS/Python ${pairRatio(c.semclipMs, c.pythonMs).toFixed(2)}x`,
      `Python embedding the overview too ${median(c.pythonOverviewMs).toFixed(0)} ms`,
      `TS/that ${pairRatio(c.semclipMs, c.pythonOverviewMs).toFixed(2)}x`,
      `bare/Python ${pairRatio(c.bareMs, c.pythonMs).toFixed(2)}x`,
    );
  }
  const acc = overheadAccount(c);
  parts.push(
    `bare vision run ${median(c.bareMs).toFixed(0)} ms`,
    `TS/bare ${pairRatio(c.semclipMs, c.bareMs).toFixed(3)}x`,
    `SemClip outside its vision run ${acc.outsideMs.toFixed(0)} ms (${acc.ratio.toFixed(3)}x its vision run)`,
  );
  for (const [v, r] of Object.entries(c.variants)) {
    parts.push(
      `${v} ${median(r.ms).toFixed(0)} ms` +
        (c.pythonMs.length > 0
          ? ` (${pairRatio(r.ms, c.pythonMs).toFixed(2)}x Python fp32, ${pairRatio(r.ms, c.pythonOverviewMs).toFixed(2)}x with the overview)`
          : '') +
        ` ranking ${r.sameRanking ? '=' : '!='} fp32`,
    );
  }
  if (c.agreement) {
    const a = c.agreement;
    parts.push(
      `agreement: scores max |diff| ${a.maxScoreDiffEndToEnd.toExponential(1)} end to end, ${a.maxScoreDiffSamePixels?.toExponential(1)} on the same pixels, pixels ${a.pixelMeanAbsDiffGrey?.toFixed(2)} grey levels apart, rankings ${a.sameRanking ? 'identical' : `differ (top-1 ${a.sameTop1 ? 'same' : 'differs'})`}`,
    );
  }
  return parts.join(' | ');
}

let python: PythonStack | undefined;

afterAll(async () => {
  await python?.close();
  if (standInDir) await rm(standInDir, { recursive: true, force: true });
  if (cells.length === 0) return;
  const head = [
    `SemClip vs the Python stack (CLIP, random weights), CPU (${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}), Node ${process.version}, load average ${loadavg().join(' ')}`,
    versions
      ? `Python ${versions.python}: transformers ${versions.transformers}, onnxruntime ${versions.onnxruntime}, pillow ${versions.pillow}, numpy ${versions.numpy}`
      : `Python half skipped: ${pythonWhy}`,
    ...notes,
  ];
  console.log([...head, ...cells.map(summaryLine)].join('\n'));
  const stageMedians = (xs: readonly Record<string, number>[]) =>
    Object.fromEntries(Object.keys(xs[0] ?? {}).map((k) => [k, Number(median(xs.map((x) => x[k]!)).toFixed(1))]));
  const out = path.resolve(here, '../../bench-results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, 'python-reference.json'),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        cpus: os.cpus().length,
        cpu: os.cpus()[0]?.model,
        node: process.version,
        loadavgAtEnd: os.loadavg(),
        python: versions ?? { skipped: pythonWhy },
        notes,
        cells: cells.map((c) => ({
          ...c,
          summary: {
            semclipMedianMs: median(c.semclipMs),
            pythonMedianMs: median(c.pythonMs),
            bareMedianMs: median(c.bareMs),
            pythonOverviewMedianMs: median(c.pythonOverviewMs),
            tsOverPython: c.pythonMs.length ? pairRatio(c.semclipMs, c.pythonMs) : null,
            tsOverPythonWithOverview: c.pythonMs.length ? pairRatio(c.semclipMs, c.pythonOverviewMs) : null,
            bareOverPython: c.pythonMs.length ? pairRatio(c.bareMs, c.pythonMs) : null,
            tsOverBare: pairRatio(c.semclipMs, c.bareMs),
            semclipOutsideVisionMs: overheadAccount(c).outsideMs,
            semclipOverVisionRun: overheadAccount(c).ratio,
            semclipStages: stageMedians(c.semclipStages),
            pythonStages: stageMedians(c.pythonStages),
            variants: Object.fromEntries(
              Object.entries(c.variants).map(([v, r]) => [
                v,
                {
                  medianMs: median(r.ms),
                  overPythonFp32: c.pythonMs.length ? pairRatio(r.ms, c.pythonMs) : null,
                  overPythonFp32WithOverview: c.pythonMs.length ? pairRatio(r.ms, c.pythonOverviewMs) : null,
                  overBareFp32: pairRatio(r.ms, c.bareMs),
                },
              ]),
            ),
          },
        })),
      },
      null,
      2,
    ),
  );
});

const once = { iterations: 1, warmupIterations: 0, time: 0, warmupTime: 0 };
let started = false;

describe('SemClip vs the Python stack (CLIP on ONNX Runtime, CPU)', () => {
  for (const model of MODELS.filter((m) => SELECTED.includes(m.id))) {
    bench(
      `${model.label}: SemClip, Python and the bare vision run in turn`,
      async () => {
        if (!started) {
          started = true;
          const r = await PythonStack.start();
          python = r.stack;
          versions = r.versions;
          pythonWhy = r.why;
          if (!python) {
            log(
              `Python half skipped: ${r.why}. Create the venv with packages/scorers/bench/python-reference/setup.sh (or set SEMCLIP_PYREF_PYTHON); SemClip vs the bare vision run still runs.`,
            );
          }
        }
        // tinybench may call a task more than once; one pass per model is the measurement.
        if (cells.some((c) => c.model === model.id)) return;
        await runModel(model, python);
      },
      once,
    );
  }
});
