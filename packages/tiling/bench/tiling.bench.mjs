// Benchmark: tileImage + tensors (overview + grid tiles as float32 CHW) for a generated
// 4000x3000 JPEG and the real queue_time.jpg, next to a plain full-size decode of the same file;
// and renderOverlay (what `semclip select --overlay` writes) on a 3x3 grid with scores.
//
//   pnpm --filter @semclip/tiling bench            (builds first via turbo's bench -> build)
//   node bench/tiling.bench.mjs --runs 15 --json   (more runs, machine-readable output)
//
// Each timed run starts from the file path (read, hash, header, decode, resample, normalise),
// with a fresh TiledImage, so nothing is cached between runs except what the OS caches.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const dist = new URL('../dist/index.js', import.meta.url);
if (!existsSync(dist)) {
  console.error('dist/ is missing: build first (pnpm turbo run build --filter=@semclip/tiling...), or run `pnpm bench` from the root.');
  process.exit(1);
}
const { tileImage, renderOverlay } = await import(dist.href);

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 9;
const json = args.includes('--json');
const SHARED = process.env.SEMCLIP_SHARED_DATA || fileURLToPath(new URL('../../../../shared/data', import.meta.url));
const QUEUE_TIME = join(SHARED, 'images/queue_time.jpg');
const CLIP = { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] };

/** A photo-like 4000x3000 JPEG: blurred colour noise (texture at several scales) over a gradient. */
async function makePhotoLikeJpeg(path) {
  const width = 4000;
  const height = 3000;
  const texture = await sharp({ create: { width: width / 4, height: height / 4, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
    .blur(1.2)
    .resize(width, height, { kernel: 'cubic' })
    .raw()
    .toBuffer();
  const fine = await sharp({ create: { width, height, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 18 } } })
    .raw()
    .toBuffer();
  const mixed = Buffer.alloc(width * height * 3);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 3) {
      mixed[i] = Math.min(255, Math.max(0, (texture[i] * 0.6 + (x / width) * 90 + fine[i] * 0.25) | 0));
      mixed[i + 1] = Math.min(255, Math.max(0, (texture[i + 1] * 0.6 + (y / height) * 90 + fine[i + 1] * 0.25) | 0));
      mixed[i + 2] = Math.min(255, Math.max(0, (texture[i + 2] * 0.6 + 40 + fine[i + 2] * 0.25) | 0));
    }
  }
  await sharp(mixed, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toFile(path);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Wall time (median and min over runs) and CPU time (user + system of the whole process, which
 * includes libvips' threads; median). CPU time is the steadier number on a shared machine.
 */
async function time(fn) {
  await fn(); // warm-up: libvips, the file cache, JIT
  const wall = [];
  const cpu = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { median: median(wall), min: Math.min(...wall), cpu: median(cpu) };
}

const dir = await mkdtemp(join(tmpdir(), 'semclip-tiling-bench-'));
try {
  const generated = join(dir, 'generated-4000x3000.jpg');
  await makePhotoLikeJpeg(generated);
  const images = [['generated 4000x3000', generated]];
  if (existsSync(QUEUE_TIME)) images.push(['queue_time.jpg 4032x3024', QUEUE_TIME]);
  else console.log(`[semclip] skipped the real-photo rows: ${QUEUE_TIME} not found (real photos; see README "Tests")`);
  const rows = [];
  for (const [name, path] of images) {
    // Read + decode at full size, from a fresh buffer like tileImage (no libvips cache hits).
    const decode = await time(async () =>
      sharp(await readFile(path))
        .raw()
        .toBuffer(),
    );
    rows.push({ image: name, task: 'read + full-size decode only (sharp -> raw RGB)', ...decode });
    for (const grid of ['2x2', '3x3']) {
      for (const side of [224, 336]) {
        const stats = await time(async () => {
          const image = await tileImage(path, { grid });
          await image.tensors({ size: { width: side, height: side }, ...CLIP, overview: 'resize' });
        });
        rows.push({ image: name, task: `overview + ${grid} tensors @${side}`, ...stats });
      }
    }
    // The same from bytes in memory (e.g. an HTTP upload): shrink-on-load fused with the resample,
    // one decode per output scale.
    const fromBytes = await time(async () => {
      const image = await tileImage(await readFile(path), { grid: '2x2' });
      await image.tensors({ size: { width: 336, height: 336 }, ...CLIP, overview: 'resize' });
    });
    rows.push({ image: name, task: 'overview + 2x2 tensors @336, input as bytes', ...fromBytes });
    // The overlay as `semclip select --overlay` draws it: 1600 px PNG, heat map, scores, one
    // selected tile, title.
    const scores = [0.12, 0.31, 0.18, 0.05, 0.27, 0.22, 0.09, 0.15, 0.11];
    const overlay = await time(async () => {
      const image = await tileImage(path, { grid: '3x3' });
      await renderOverlay(image, { scores, selected: [1], maxSide: 1600, title: 'What is the queue time at this ride?' });
    });
    rows.push({ image: name, task: 'renderOverlay 3x3, scores + selected + title, 1600 px PNG', ...overlay });
  }
  const machine = `${cpus().length}x ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips})`;
  if (json) {
    console.log(JSON.stringify({ machine, date: new Date().toISOString(), runs, rows }, null, 2));
  } else {
    console.log(`Machine: ${machine}; ${runs} runs after 1 warm-up; ${new Date().toISOString()}\n`);
    console.log('| image | task | wall median ms | wall min ms | CPU ms |');
    console.log('|---|---|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.image} | ${r.task} | ${r.median.toFixed(1)} | ${r.min.toFixed(1)} | ${r.cpu.toFixed(1)} |`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
