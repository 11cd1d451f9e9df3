/**
 * The GPU check behind scripts/device-check.sh: runs the CLIP scorer, the OCR scorer (real
 * PP-OCRv4 from npm) and a tiny local VLM (test-kit random weights) on the CPU and on every GPU
 * execution provider onnxruntime-node offers here (cuda, webgpu), and prints per provider the
 * load, first-run and warm times and the largest difference of its outputs from the CPU's.
 *
 * Exit status: 0 when every available provider agrees with the CPU within the tolerance (or
 * none is available), 1 when one that claims to be available fails or disagrees, 2 for
 * --require-gpu without a GPU provider. Bundled by the shell script with esbuild (the test kit is
 * TypeScript source); SemClip's packages are loaded from their built dist/ folders.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeJpeg } from '../tests/kit/src/images.ts';
import { writeTinyLlava } from '../tests/kit/src/onnx-llava.ts';
import { makeTinyClip, writeModelFiles } from '../tests/kit/src/onnx-models.ts';

// biome-ignore lint/suspicious/noExplicitAny: modules loaded from dist/ by path
type Any = any;

const ROOT = process.env.SEMCLIP_REPO_ROOT ?? process.cwd();
const load = (rel: string): Promise<Any> => import(pathToFileURL(path.join(ROOT, rel)).href);

interface Flags {
  tolerance: number;
  ocrTolerance: number;
  runs: number;
  requireGpu: boolean;
  clip: string | undefined;
  image: string | undefined;
  only: string[] | undefined;
  selfTest: boolean;
}

function parseFlags(argv: readonly string[]): Flags {
  const flags: Flags = { tolerance: 1e-3, ocrTolerance: 2e-2, runs: 3, requireGpu: false, clip: undefined, image: undefined, only: undefined, selfTest: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--tolerance') flags.tolerance = Number(value());
    else if (a === '--ocr-tolerance') flags.ocrTolerance = Number(value());
    else if (a === '--runs') flags.runs = Math.max(1, Number.parseInt(value(), 10));
    else if (a === '--require-gpu') flags.requireGpu = true;
    else if (a === '--clip') flags.clip = value();
    else if (a === '--image') flags.image = value();
    else if (a === '--only') flags.only = value().split(',');
    else if (a === '--self-test') flags.selfTest = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        [
          'Usage: scripts/device-check.sh [--build] [options]',
          '',
          'Runs the CLIP scorer, the OCR scorer and a tiny local VLM on cpu and on each GPU provider',
          'onnxruntime-node offers here (cuda, webgpu); prints times and the largest difference from cpu.',
          '',
          '  --build             rebuild the packages first (otherwise only when dist/ is missing)',
          '  --clip DIR          CLIP model folder (transformers.js layout); default: the B/32 random tower',
          '                      the python-reference bench caches, else a generated random tower',
          '  --image FILE        photo for the scorers (default queue_time.jpg from the shared data, else generated)',
          '  --only LIST         jobs to run: clip,ocr,vlm (default all)',
          '  --runs N            warm runs per job and provider, median reported (default 3)',
          '  --tolerance X       largest accepted |diff| for CLIP scores and VLM outputs, relative to max(1, |cpu|) (default 1e-3)',
          '  --ocr-tolerance X   largest accepted |diff| for OCR scores (default 2e-2)',
          '  --require-gpu       exit 2 when no GPU provider is available',
          '  --self-test         also run everything a second time on the CPU, compared like a GPU (checks this script)',
          '',
        ].join('\n'),
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  return flags;
}

interface Outcome {
  /** Flattened numeric outputs, compared with the CPU's. */
  readonly values: number[];
  /** A short account of what came out (for the report). */
  readonly note: string;
}

interface Job {
  readonly name: string;
  readonly tolerance: number;
  open(device: string): Promise<{ run(): Promise<Outcome>; close(): Promise<void> }>;
}

interface Row {
  job: string;
  device: string;
  loadMs?: number;
  firstMs?: number;
  warmMs?: number;
  maxDiff?: number;
  relDiff?: number;
  note?: string;
  error?: string;
  verdict: 'ok' | 'reference' | 'DISAGREES' | 'FAILED';
}

const ms = (t0: number): number => performance.now() - t0;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function compare(cpu: number[], other: number[]): { max: number; rel: number } {
  if (cpu.length !== other.length) return { max: Number.POSITIVE_INFINITY, rel: Number.POSITIVE_INFINITY };
  let max = 0;
  let scale = 0;
  for (let i = 0; i < cpu.length; i++) {
    const d = Math.abs(cpu[i]! - other[i]!);
    max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(max, d);
    scale = Math.max(scale, Math.abs(cpu[i]!));
  }
  return { max, rel: max / Math.max(1, scale) };
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  const runtime = await load('packages/runtime/dist/index.js');
  const { tileImage } = await load('packages/tiling/dist/index.js');
  const { createClipScorer } = await load('packages/scorers/dist/clip.js');
  const { createOcrScorer } = await load('packages/scorers/dist/ocr.js');
  const { createLocalRunner } = await load('packages/vlm-runner/dist/local.js');
  const ortVersion = (() => {
    try {
      const p = path.join(ROOT, 'packages/runtime/node_modules/onnxruntime-node/package.json');
      return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
    } catch {
      return '?';
    }
  })();

  const out = (line = ''): void => {
    process.stdout.write(`${line}\n`);
  };
  out(
    `SemClip device check: node ${process.version}, onnxruntime-node ${ortVersion}, ${process.platform} ${process.arch}, ${os.cpus().length} CPUs, loadavg ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  out();

  // Which providers claim to be there.
  const providers: { device: string; label?: string; available: boolean; reason?: string }[] = [{ device: 'cpu', available: true }];
  providers.push(
    runtime.cudaProviderInstalled()
      ? { device: 'cuda', available: true }
      : {
          device: 'cuda',
          available: false,
          reason:
            'onnxruntime-node has no CUDA execution provider installed (ONNXRUNTIME_NODE_INSTALL=cuda12 pnpm rebuild onnxruntime-node, with CUDA 12 and cuDNN 9)',
        },
  );
  const t0 = performance.now();
  const webgpu = runtime.probeWebGpu() as { available: boolean; reason?: string };
  const probeMs = ms(t0);
  providers.push({ device: 'webgpu', ...webgpu });
  if (flags.selfTest) providers.push({ device: 'cpu', label: 'cpu#2', available: true });
  out('Providers');
  for (const p of providers) {
    const extra = p.device === 'webgpu' ? ` (probe ${probeMs.toFixed(0)} ms)` : '';
    out(`  ${(p.label ?? p.device).padEnd(7)} ${p.available ? 'available' : `unavailable: ${p.reason}`}${extra}`);
  }
  out();
  const gpus = providers.filter((p) => p.available && (p.label ?? p.device) !== 'cpu').map((p) => p.label ?? p.device);

  const work = mkdtempSync(path.join(os.tmpdir(), 'semclip-device-check-'));
  const cleanup = (): void => rmSync(work, { recursive: true, force: true });
  try {
    const shared = process.env.SEMCLIP_SHARED_DATA ?? path.join(ROOT, '..', 'shared', 'data');
    const photo = flags.image ?? (existsSync(path.join(shared, 'images/queue_time.jpg')) ? path.join(shared, 'images/queue_time.jpg') : undefined);
    const image: string | Uint8Array = photo ?? (await makeJpeg({ width: 1600, height: 1200, pattern: 'gradient' }));
    const tiled = await tileImage(image, { grid: '2x2' });
    const question = 'What is the wait time?';

    let clipDir = flags.clip;
    let clipLabel = clipDir ? path.basename(clipDir) : '';
    if (!clipDir) {
      const cached = path.join(os.homedir(), '.cache/semclip/pyref-models/b32-v1');
      if (existsSync(path.join(cached, 'config.json'))) {
        clipDir = cached;
        clipLabel = 'random B/32-224 (pyref cache)';
      } else {
        clipDir = path.join(work, 'clip');
        await writeModelFiles(
          clipDir,
          makeTinyClip({
            seed: 7,
            dim: 64,
            imageSize: 224,
            patchSize: 32,
            vision: { width: 256, layers: 4, heads: 4 },
            text: { width: 128, layers: 2, heads: 4 },
          }).files,
        );
        clipLabel = 'random 224/32 width-256 tower (generated)';
      }
    }
    const vlmDir = path.join(work, 'llava');
    await writeTinyLlava(vlmDir, { seed: 3 });
    const pictures = [0, 1, 2].map((seed) => {
      const width = 48 + seed * 8;
      const height = 40;
      const data = new Uint8Array(width * height * 3);
      for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 97 + ((i / 3) | 0) * 7) % 256;
      return { data, width, height, channels: 3 as const };
    });

    const allJobs: Job[] = [
      {
        name: `clip: ${clipLabel}, 2x2`,
        tolerance: flags.tolerance,
        async open(device) {
          const scorer = await createClipScorer({ modelPath: clipDir, device, tileCache: false, textCacheSize: 0, warn: () => undefined });
          return {
            async run() {
              // Caches off, so every run is the model's.
              const r = await scorer.score({ question }, tiled);
              return { values: [...r.scores], note: `best tile ${r.scores.indexOf(Math.max(...r.scores))}` };
            },
            close: () => scorer.dispose(),
          };
        },
      },
      {
        name: `ocr: PP-OCRv4, ${photo ? path.basename(photo) : 'generated image'} 2x2`,
        tolerance: flags.ocrTolerance,
        async open(device) {
          const scorer = await createOcrScorer({ device, cacheSize: 0, warn: () => undefined });
          return {
            async run() {
              const r = await scorer.score({ question }, tiled);
              const summary = typeof r.meta?.summary === 'string' ? r.meta.summary : '';
              return { values: [...r.scores], note: summary.slice(0, 60) };
            },
            close: () => scorer.dispose(),
          };
        },
      },
      {
        name: 'vlm: tiny LLaVA (test kit), embedImages + answerLogprobs',
        tolerance: flags.tolerance,
        async open(device) {
          const runner = await createLocalRunner({ model: vlmDir, device, maxTokens: 4, warn: () => undefined });
          return {
            async run() {
              const emb = await runner.embedImages(pictures);
              const [lp] = await runner.answerLogprobs({
                prompts: [[{ role: 'overview', image: pictures[0] }]],
                question: 'What colour is the sign?',
                candidates: ['red', 'The sign is blue.'],
              });
              const logprobs = (lp?.logprobs ?? []).map((x: Any) => Number(x.logprob));
              return {
                values: [...emb.vectors.flatMap((v: ArrayLike<number>) => Array.from(v)), ...logprobs],
                note: `${emb.vectors.length}x${emb.dim} + ${logprobs.length} logprobs`,
              };
            },
            close: () => runner.dispose(),
          };
        },
      },
    ];
    const jobs = allJobs.filter((j) => !flags.only || flags.only.some((o) => j.name.startsWith(o)));

    const rows: Row[] = [];
    for (const job of jobs) {
      let reference: number[] | undefined;
      for (const p of providers.filter((x) => x.available)) {
        const row: Row = { job: job.name, device: p.label ?? p.device, verdict: 'FAILED' };
        rows.push(row);
        try {
          let t = performance.now();
          const opened = await job.open(p.device);
          row.loadMs = ms(t);
          try {
            t = performance.now();
            const first = await opened.run();
            row.firstMs = ms(t);
            const warm: number[] = [];
            for (let i = 0; i < flags.runs; i++) {
              t = performance.now();
              await opened.run();
              warm.push(ms(t));
            }
            row.warmMs = median(warm);
            row.note = first.note;
            if (!reference) {
              reference = first.values;
              row.verdict = 'reference';
            } else {
              const d = compare(reference, first.values);
              row.maxDiff = d.max;
              row.relDiff = d.rel;
              row.verdict = d.rel <= job.tolerance ? 'ok' : 'DISAGREES';
            }
          } finally {
            await opened.close();
          }
        } catch (e) {
          row.error = `${(e as { code?: string }).code ? `[${(e as { code: string }).code}] ` : ''}${(e as Error).message ?? String(e)}`
            .split('\n')[0]!
            .slice(0, 240);
        }
      }
    }

    const fmt = (x: number | undefined, digits = 0): string => (x === undefined ? '-' : x.toFixed(digits));
    const sci = (x: number | undefined): string => (x === undefined ? '-' : x === Number.POSITIVE_INFINITY ? 'inf' : x.toExponential(2));
    out(`Jobs (times in ms; warm = median of ${flags.runs}; diff = largest |output - cpu output|, rel = diff / max(1, |cpu|))`);
    out(
      `  ${'job'.padEnd(58)} ${'device'.padEnd(7)} ${'load'.padStart(7)} ${'first'.padStart(7)} ${'warm'.padStart(7)} ${'diff'.padStart(9)} ${'rel'.padStart(9)}  verdict`,
    );
    for (const r of rows) {
      out(
        `  ${r.job.slice(0, 58).padEnd(58)} ${r.device.padEnd(7)} ${fmt(r.loadMs).padStart(7)} ${fmt(r.firstMs).padStart(7)} ${fmt(r.warmMs).padStart(7)} ${sci(r.maxDiff).padStart(9)} ${sci(r.relDiff).padStart(9)}  ${r.verdict}${r.note ? ` (${r.note})` : ''}`,
      );
      if (r.error) out(`      error: ${r.error}`);
    }
    out();
    const bad = rows.filter((r) => r.verdict === 'DISAGREES' || r.verdict === 'FAILED');
    if (bad.length > 0) {
      out(`FAIL: ${bad.map((r) => `${r.job.split(':')[0]} on ${r.device}: ${r.verdict.toLowerCase()}`).join('; ')}`);
      return 1;
    }
    if (gpus.length === 0) {
      out('No GPU provider is available here: CPU numbers only. WebGPU needs a Vulkan GPU driver on Linux; CUDA needs the CUDA provider (see the README).');
      return flags.requireGpu ? 2 : 0;
    }
    out(`OK: ${gpus.join(', ')} agree with the CPU within the tolerances (${flags.tolerance}, OCR ${flags.ocrTolerance}).`);
    return 0;
  } finally {
    cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`device-check: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
