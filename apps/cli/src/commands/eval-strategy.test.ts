import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { simulatedVlm } from '@semclip/test-kit/sim-vlm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureCommand } from '../_cli-harness.js';
import { evalCommand } from './eval.js';

const MODEL = 'llava-hf/llava-1.5-7b-hf';
let dir: string;
let fake: FakeOpenAI;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'semclip-eval-strategy-'));
  // The generated stand-in photo (--photos of an empty set is refused, so point at none: the CLI falls back).
  process.env.SEMCLIP_SHARED_DATA = join(dir, 'no-shared');
  const out = (
    await captureCommand(evalCommand, ['synth', '--out', join(dir, 'synth'), '--count', '4', '--seed', '5', '--long-side', '2000', '--easy', '0.25', '--json'])
  ).stdout;
  expect(JSON.parse(out)).toMatchObject({ items: 4, photos: 'generated stand-in' });
  fake = await startFakeOpenAI({ behaviour: simulatedVlm({ manifest: join(dir, 'synth', 'synth.json') }).behaviour, models: [MODEL] });
}, 120_000);

afterAll(async () => {
  await fake?.close();
  delete process.env.SEMCLIP_SHARED_DATA;
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('eval synth + eval run with the zoom and pack methods', () => {
  it('writes V* items that eval run answers with baseline, zoom and pack, recording VLM calls and tokens per row', async () => {
    const out = join(dir, 'results.jsonl');
    await captureCommand(evalCommand, [
      'run',
      '--benchmark',
      'vstar',
      '--data',
      join(dir, 'synth'),
      '--vlm',
      `openai:${fake.url}#${MODEL}`,
      '--method',
      'baseline,zoom,pack',
      '--scorer',
      'random',
      '--max-calls',
      '12',
      '--out',
      out,
    ]);
    const rows = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>)
      .filter((r) => r.type === 'result');
    expect(rows).toHaveLength(12);
    const zoom = rows.filter((r) => r.method === 'zoom');
    for (const r of zoom) expect(r.vlmCalls).toBeLessThanOrEqual(12);
    for (const r of rows.filter((r) => r.method === 'pack')) expect(r.vlmCalls).toBe(1);
    // The simulated VLM cannot read the small targets in the overview: zoom does at least as well as the baseline.
    const right = (m: string) => rows.filter((r) => r.method === m && r.correct).length;
    expect(right('zoom')).toBeGreaterThanOrEqual(right('baseline'));
  }, 180_000);

  it('refuses --max-calls without the zoom method', async () => {
    await expect(
      captureCommand(evalCommand, ['run', '--benchmark', 'vstar', '--data', join(dir, 'synth'), '--vlm', `openai:${fake.url}#${MODEL}`, '--max-calls', '3']),
    ).rejects.toThrow(/--max-calls applies to the zoom method/);
  });
});
