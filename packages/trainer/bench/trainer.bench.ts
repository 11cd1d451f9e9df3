/**
 * `pnpm --filter @semclip/trainer bench`:
 * - training throughput on cached embeddings: one optimisation step (forward, hand-written
 *   backprop, Adam) of 64 (question, positive, negative) pairs at 768 dimensions (CLIP ViT-L/14,
 *   the paper's backbone) and 512 (ViT-B/32); pairs/s = steps/s x 64, printed after each run;
 * - labelling throughput against a fake OpenAI-compatible VLM at a fixed 200 ms latency: 64 items
 *   x 4 tiles = 256 requests at concurrency 16, whose ideal is 16 waves x 200 ms = 3.2 s. Once with
 *   the server in its own process (bench/fake-vlm-server.mjs, as a real VLM server would be), once
 *   with the test kit's fake upstream in this process (its request handling then shares our
 *   event loop).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bench, describe } from 'vitest';
import { loadBenchmark } from '@semclip/eval';
import { createRunner } from '@semclip/vlm-runner';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { labelResponder, writeLabelScienceQa } from '@semclip/test-kit/trainer-data';
import { makePlantedSet } from '@semclip/test-kit/trainer-embeddings';
import { Adam, Workspace, batchLossAndGrad, identityParams } from '../src/train/_head-math.js';
import type { PairData } from '../src/train/_head-math.js';
import { labelDataset } from '../src/label/_label.js';

function pairData(dim: number): PairData {
  const set = makePlantedSet({ items: 256, dim, tiles: 4, maxPositives: 2, seed: 1 });
  const texts = new Float32Array(set.items.length * dim);
  const tiles = new Float32Array(set.items.length * 4 * dim);
  const t: number[] = [];
  const p: number[] = [];
  const n: number[] = [];
  set.items.forEach((it, i) => {
    texts.set(it.text, i * dim);
    it.tiles.forEach((v, j) => tiles.set(v, (i * 4 + j) * dim));
    for (const a of it.positives) {
      for (const b of it.negatives) {
        t.push(i);
        p.push(i * 4 + a);
        n.push(i * 4 + b);
      }
    }
  });
  return { dim, texts, tiles, pairText: Uint32Array.from(t), pairPos: Uint32Array.from(p), pairNeg: Uint32Array.from(n) };
}

const SERVER = fileURLToPath(new URL('./fake-vlm-server.mjs', import.meta.url));

for (const dim of [768, 512]) {
  describe(`train step, ${dim}-dim, batch 64`, () => {
    const data = pairData(dim);
    const params = identityParams(dim);
    const grads = { wt: new Float64Array(dim * dim), wv: new Float64Array(dim * dim) };
    const adam = new Adam([params.wt, params.wv], { lr: 1e-4 }, dim);
    const ws = new Workspace();
    const total = data.pairText.length;
    let offset = 0;
    let steps = 0;
    let ms = 0;
    let mode: 'warmup' | 'run' = 'warmup';
    bench(
      `step of 64 pairs (${dim}-dim): forward + backprop + Adam`,
      () => {
        const t0 = performance.now();
        const batch = new Uint32Array(64);
        for (let i = 0; i < 64; i++) batch[i] = (offset + i) % total;
        offset = (offset + 64) % total;
        batchLossAndGrad(params, data, batch, 0.2, grads, ws);
        adam.update([grads.wt, grads.wv]);
        if (mode === 'run') {
          ms += performance.now() - t0;
          steps += 1;
        }
      },
      {
        time: 4000,
        warmupIterations: 3,
        setup: (_task, m) => void (mode = m),
        teardown: (_task, m) => {
          if (m === 'run')
            process.stderr.write(
              `\ntrain ${dim}-dim batch 64: ${((steps * 64) / (ms / 1000)).toFixed(0)} pairs/s on average (${steps} steps, ${(ms / steps).toFixed(1)} ms/step)\n`,
            );
        },
      },
    );
  });
}

async function labelBench(name: string, latency: number, upstream: 'kit' | 'process'): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'semclip-label-bench-'));
  const data = path.join(root, 'scienceqa');
  const fixture = await writeLabelScienceQa(data, { items: 64, seed: 1 });
  const items = (await loadBenchmark('scienceqa', data, { split: 'train', subset: 'img' })).items;
  let url: string;
  let close: () => Promise<void>;
  let peak = () => 'n/a';
  if (upstream === 'kit') {
    const fake = await startFakeOpenAI({ behaviour: { respond: labelResponder(fixture), latencyMs: latency } });
    url = fake.url;
    close = () => fake.close();
    peak = () => String(fake.maxInFlight);
  } else {
    const planFile = path.join(root, 'plan.json');
    await writeFile(planFile, JSON.stringify(fixture));
    const child = spawn(process.execPath, [SERVER, planFile, String(latency)], { stdio: ['ignore', 'pipe', 'inherit'] });
    url = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
    close = async () => {
      child.kill();
    };
  }
  const runner = await createRunner(`openai:${url}#fake-vlm`, { concurrency: 16, retries: 0 });
  const ideal = Math.ceil(256 / 16) * latency;
  const runs: number[] = [];
  let n = 0;
  let mode: 'warmup' | 'run' = 'warmup';
  const finish = async () => {
    await runner.dispose();
    await close();
    await rm(root, { recursive: true, force: true });
    const best = Math.min(...runs);
    const mean = runs.reduce((a, b) => a + b, 0) / runs.length;
    process.stderr.write(
      `\n${name}: best ${best.toFixed(0)} ms, mean ${mean.toFixed(0)} ms; ideal ${ideal} ms -> ${(best / ideal).toFixed(3)}x (mean ${(mean / ideal).toFixed(3)}x); ${((64 / best) * 1000).toFixed(1)} items/s; peak in flight ${peak()}\n`,
    );
  };
  describe(name, () => {
    bench(
      'labelDataset, 64 items x 4 tiles, concurrency 16',
      async () => {
        const t0 = performance.now();
        await labelDataset({
          items,
          runner,
          out: path.join(root, `labels-${n++}.jsonl`),
          concurrency: 16,
          source: { benchmark: 'scienceqa', path: data, split: 'train' },
        });
        if (mode === 'run') runs.push(performance.now() - t0);
      },
      {
        iterations: 5,
        warmupIterations: 1,
        time: 0,
        setup: (_task, m) => void (mode = m),
        teardown: async (_task, m) => {
          if (m === 'run') await finish();
        },
      },
    );
  });
}

await labelBench('label, fake VLM in its own process, 200 ms latency', 200, 'process');
await labelBench('label, test-kit fake VLM in this process, 200 ms latency', 200, 'kit');
