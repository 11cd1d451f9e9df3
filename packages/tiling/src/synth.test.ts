import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { describeShared, itShared, sharedData } from '@semclip/test-kit/shared-data';
import { encoderView, sightTarget, simulatedVlm } from '@semclip/test-kit/sim-vlm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYNTH_MARKERS, generateSynthBenchmark, tileImage } from './index.js';
import type { SynthItem, SynthManifest } from './index.js';

let dir: string;
let manifest: SynthManifest;
let fake: FakeOpenAI;
let sim: ReturnType<typeof simulatedVlm>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'semclip-synth-'));
  // The generated stand-in photo: runs on a fresh clone without ../shared/data.
  manifest = await generateSynthBenchmark({ out: dir, count: 6, seed: 7, longSide: 1600, easyFraction: 0, relativeFraction: 0.34 });
  sim = simulatedVlm({ manifest, visibleAt: 12 });
  fake = await startFakeOpenAI({ behaviour: sim.behaviour, models: ['llava-hf/llava-1.5-7b-hf'] });
}, 60_000);

afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function askSim(item: SynthItem, boxes: ReadonlyArray<'overview' | { x: number; y: number; width: number; height: number }>) {
  const tiled = await tileImage(join(dir, item.image), { grid: '1x1' });
  const images = await Promise.all(boxes.map((b) => tiled.encode(b, { maxSide: 1024, padSquare: [122, 116, 104] })));
  const letters = item.options.map((o, i) => `${String.fromCharCode(65 + i)}. ${o}`).join('\n');
  const res = await fetch(`${fake.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'llava-hf/llava-1.5-7b-hf',
      logprobs: true,
      top_logprobs: 5,
      max_tokens: 1,
      messages: [
        {
          role: 'user',
          content: [
            ...images.map((im) => ({ type: 'image_url', image_url: { url: `data:${im.mime};base64,${Buffer.from(im.data).toString('base64')}` } })),
            { type: 'text', text: `${item.question}\n${letters}\nAnswer with the option's letter from the given choices directly.` },
          ],
        },
      ],
    }),
  });
  const body = (await res.json()) as { choices: [{ message: { content: string } }]; usage: { prompt_tokens: number } };
  const letter = body.choices[0].message.content;
  return { option: item.options[letter.charCodeAt(0) - 65], judgement: sim.judgements.at(-1)!, usage: body.usage };
}

/** A box of `side` around the union of the item's targets, inside the image. */
function around(item: SynthItem, side: number) {
  const xs = item.targets.flatMap((t) => [t.box.x, t.box.x + t.box.width]);
  const ys = item.targets.flatMap((t) => [t.box.y, t.box.y + t.box.height]);
  const w = Math.max(side, Math.max(...xs) - Math.min(...xs) + 40);
  const h = Math.max(side, Math.max(...ys) - Math.min(...ys) + 40);
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2;
  const cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  const x = Math.round(Math.min(Math.max(0, cx - w / 2), item.width - w));
  const y = Math.round(Math.min(Math.max(0, cy - h / 2), item.height - h));
  return { x: Math.max(0, x), y: Math.max(0, y), width: Math.min(w, item.width), height: Math.min(h, item.height) };
}

describe('synthetic perception benchmark', () => {
  it('writes V* folder items and a manifest, the same for the same seed', async () => {
    expect(manifest.items).toHaveLength(6);
    const first = manifest.items[0]!;
    const json = JSON.parse(await readFile(join(dir, `${first.id}.json`), 'utf8'));
    expect(json).toMatchObject({ question: first.question, options: first.options, target_object: first.targets.map((t) => t.label) });
    expect(first.options[0]).toBe(first.answer);
    for (const item of manifest.items) {
      expect(item.options.length).toBeGreaterThanOrEqual(2);
      expect(item.options.length).toBeLessThanOrEqual(4);
      for (const t of item.targets) {
        expect(t.box.x + t.box.width).toBeLessThanOrEqual(item.width);
        expect(t.box.y + t.box.height).toBeLessThanOrEqual(item.height);
      }
    }
    const again = await generateSynthBenchmark({ out: join(dir, 'again'), count: 2, seed: 7, longSide: 1600, easyFraction: 0, relativeFraction: 0.34 });
    expect(again.items.map((i) => [i.question, i.options, i.targets.map((t) => t.box)])).toEqual(
      manifest.items.slice(0, 2).map((i) => [i.question, i.options, i.targets.map((t) => t.box)]),
    );
  }, 60_000);

  it('the simulated VLM fails on the overview and answers right from a crop around the targets', async () => {
    for (const item of manifest.items) {
      const overview = await askSim(item, ['overview']);
      expect(overview.judgement.itemId).toBe(item.id);
      expect(overview.judgement.pixels).toBeLessThan(12);
      expect(overview.option).not.toBe(item.answer);
      expect(overview.judgement.confidence).toBeLessThan(0.5);
      expect(overview.usage.prompt_tokens).toBeGreaterThanOrEqual(576);
      const crop = await askSim(item, ['overview', around(item, item.type === 'relative' ? 400 : 300)]);
      expect(crop.judgement.pixels, `${item.id} in its crop`).toBeGreaterThanOrEqual(12);
      expect(crop.option, item.id).toBe(item.answer);
      expect(crop.judgement.confidence).toBeGreaterThan(overview.judgement.confidence);
      expect(crop.usage.prompt_tokens).toBeGreaterThanOrEqual(2 * 576);
    }
  }, 60_000);

  it('a relative-position item is answered wrong when the crop shows only one of its two targets', async () => {
    const item = manifest.items.find((i) => i.type === 'relative');
    expect(item).toBeDefined();
    const t = item!.targets[0]!.box;
    const only = await askSim(item!, ['overview', { x: Math.max(0, t.x - 50), y: Math.max(0, t.y - 50), width: t.width + 100, height: t.height + 100 }]);
    expect(only.judgement.pixels).toBeLessThan(12);
    expect(only.option).not.toBe(item!.answer);
  }, 60_000);
});

describeShared('synthetic benchmark on the real photos of ../shared/data/images', () => {
  itShared(
    'hard targets are unreadable in the overview of a real photo and readable in a crop; no photo pixel passes for a marker',
    async () => {
      const photos = ['queue_time.jpg', 'blackmug.JPG', 'bag_of_bottle.jpeg'].map((f) => sharedData('images', f));
      const out = join(dir, 'real');
      const real = await generateSynthBenchmark({ out, photos, count: 3, seed: 3, easyFraction: 0, relativeFraction: 0 });
      expect(real.items.map((i) => i.photo.split(' ')[0])).toEqual(['queue_time.jpg', 'blackmug.JPG', 'bag_of_bottle.jpeg']);
      for (const item of real.items) {
        const tiled = await tileImage(join(out, item.image), { grid: '1x1' });
        const view = await encoderView((await tiled.encode('overview', { maxSide: 1024, padSquare: [122, 116, 104] })).data);
        const seen = sightTarget(view, item.targets[0]!);
        expect(seen.pixels).toBeLessThan(12);
        const crop = await tiled.encode(around(item, 336), { maxSide: 1024, padSquare: [122, 116, 104] });
        expect(sightTarget(await encoderView(crop.data), item.targets[0]!).pixels).toBeGreaterThanOrEqual(12);
        // The photo without targets: nothing within the marker tolerance.
        const bare = await encoderView(
          (await (await tileImage(photos[real.items.indexOf(item)]!, { grid: '1x1' })).encode('overview', { maxSide: 1024 })).data,
        );
        for (const marker of [0, 1]) expect(sightTarget(bare, { ...item.targets[0]!, marker: SYNTH_MARKERS[marker]! }).pixels).toBe(0);
      }
    },
    120_000,
  );
});
