import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { simulatedVlm } from '@semclip/test-kit/sim-vlm';
import { generateSynthBenchmark } from '@semclip/tiling';
import type { SynthManifest } from '@semclip/tiling';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureCommand } from '../_cli-harness.js';
import { askCommand } from './ask.js';
import selectCommand from './select.js';

const MODEL = 'llava-hf/llava-1.5-7b-hf';
let dir: string;
let manifest: SynthManifest;
let fake: FakeOpenAI;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'semclip-ask-strategy-'));
  // One hard colour item and one relative-position item on the generated stand-in photo.
  const direct = await generateSynthBenchmark({ out: join(dir, 'd'), count: 1, seed: 21, longSide: 2000, easyFraction: 0, relativeFraction: 0 });
  const relative = await generateSynthBenchmark({ out: join(dir, 'r'), count: 1, seed: 31, longSide: 2400, easyFraction: 0, relativeFraction: 1 });
  manifest = {
    ...direct,
    items: [...direct.items.map((i) => ({ ...i, image: join('d', i.image) })), ...relative.items.map((i) => ({ ...i, image: join('r', i.image) }))],
  };
  fake = await startFakeOpenAI({ behaviour: simulatedVlm({ manifest }).behaviour, models: [MODEL] });
}, 120_000);

afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const base = (i: number) => {
  const item = manifest.items[i]!;
  return {
    item,
    argv: [join(dir, item.image), item.question, '--options', item.options.join('|'), '--vlm', `openai:${fake.url}#${MODEL}`, '--scorer', 'random', '--json'],
  };
};

describe('ask --strategy', () => {
  it('zoom reports the answer, the VLM calls and every step with its box and confidence, within --max-calls', async () => {
    const { item, argv } = base(0);
    const overlay = join(dir, 'search.png');
    const json = JSON.parse((await captureCommand(askCommand, [...argv, '--strategy', 'zoom', '--max-calls', '12', '--overlay', overlay])).stdout) as Record<
      string,
      any
    >;
    expect((await readFile(overlay)).subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(json.strategy).toBe('zoom');
    expect(json.vlmCalls).toBeLessThanOrEqual(12);
    expect(json.vlmCalls).toBeGreaterThan(1);
    expect(json.search.steps.filter((s: { call?: number }) => s.call !== undefined)).toHaveLength(json.vlmCalls);
    for (const s of json.search.steps) {
      expect(s.box.x + s.box.width).toBeLessThanOrEqual(item.width);
      expect(s.box.y + s.box.height).toBeLessThanOrEqual(item.height);
    }
    expect(json.search.steps[0]).toMatchObject({ action: 'overview', call: 1 });
    expect(typeof json.search.steps[0].confidence).toBe('number');
    expect(json.choice.option).toBe(item.answer);
  }, 60_000);

  it('zoom on a left/right question reports what each object search found, in JSON and in the table', async () => {
    const { item, argv } = base(1);
    const json = JSON.parse((await captureCommand(askCommand, [...argv, '--strategy', 'zoom'])).stdout) as Record<string, any>;
    expect(json.vlmCalls).toBeLessThanOrEqual(12);
    expect(json.search.targets.map((t: { target: string }) => t.target)).toEqual(item.targets.map((t) => t.label));
    expect(json.search.steps.filter((s: { target?: string }) => s.target).length).toBeGreaterThan(0);
    const human = (await captureCommand(askCommand, argv.filter((a) => a !== '--json').concat(['--strategy', 'zoom']))).stdout;
    for (const t of item.targets) expect(human).toMatch(new RegExp(`Object\\s+${t.label}: \\d+,\\d+ \\d+x\\d+, P\\(clearly visible\\)`));
  }, 60_000);

  it('pack answers a left/right question with one call and lists the cells kept', async () => {
    const { item, argv } = base(1);
    const json = JSON.parse((await captureCommand(askCommand, [...argv, '--strategy', 'pack', '--k', '2'])).stdout) as Record<string, any>;
    expect(json).toMatchObject({ strategy: 'pack', vlmCalls: 1 });
    expect(json.pack.k).toBe(2);
    expect(json.pack.phrases).toEqual(item.targets.map((t) => t.label));
    expect(json.images).toHaveLength(2);
  }, 60_000);

  it('refuses --max-calls without zoom and zoom outside semclip mode', async () => {
    const { argv } = base(0);
    await expect(captureCommand(askCommand, [...argv, '--max-calls', '3'])).rejects.toThrow(/--max-calls applies to --strategy zoom/);
    await expect(captureCommand(askCommand, [...argv, '--strategy', 'zoom', '--mode', 'baseline'])).rejects.toThrow(/--mode semclip only/);
  });

  it('select takes --strategy adaptive and sends zoom and pack to ask', async () => {
    const { argv } = base(0);
    const image = argv[0] as string;
    const json = JSON.parse((await captureCommand(selectCommand, [image, 'q?', '--scorer', 'random', '--strategy', 'adaptive', '--json'])).stdout) as Record<
      string,
      any
    >;
    expect(JSON.stringify(json)).toContain('adaptive');
    await expect(captureCommand(selectCommand, [image, 'q?', '--scorer', 'random', '--strategy', 'zoom'])).rejects.toThrow(/semclip ask/);
  });
});
