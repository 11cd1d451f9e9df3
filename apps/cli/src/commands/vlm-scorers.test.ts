/**
 * `--scorer vlm-embed|vlm-yesno` in `semclip select` and `semclip ask`: against the fake OpenAI
 * upstream (scripted to say Yes only for one tile, which it recognises by size: a 97x61 image
 * cut 2x2 has four differently sized tiles) and the test kit's tiny random-weight LLaVA (shapes
 * and plumbing only: random weights say nothing about relevance).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from 'citty';
import { tileImage } from '@semclip/tiling';
import { makePng, writeTemp } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI, RecordedRequest } from '@semclip/test-kit/openai-upstream';
import { writeTinyLlava } from '@semclip/test-kit/onnx-llava';
import selectCommand from './select.js';
import { askCommand } from './ask.js';
import { CLI, captureCommand, semclip } from '../_cli-harness.js';

const cli = CLI;
const TARGET = 2; // bottom-left

let fake: FakeOpenAI;
let image: string;
let tinyDir: string;
let tileBySize: Map<string, number>;
const tileOf = (r: RecordedRequest): number => tileBySize.get(`${r.images[0]?.width}x${r.images[0]?.height}`) ?? -1;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  const png = await makePng({ width: 97, height: 61, pattern: 'quadrants' });
  image = await writeTemp('vlm-scorers.png', png);
  const tiled = await tileImage(png, { grid: '2x2' });
  tileBySize = new Map(tiled.grid.tiles.map((t) => [`${t.box.width}x${t.box.height}`, t.index]));
  tinyDir = mkdtempSync(path.join(os.tmpdir(), 'semclip-cli-tiny-llava-'));
  await writeTinyLlava(tinyDir, { seed: 2, exposeHiddenStates: true });
});
afterAll(async () => {
  await fake?.close();
  if (tinyDir) rmSync(tinyDir, { recursive: true, force: true });
});
afterEach(() => {
  fake.setBehaviour({});
  fake.reset();
});

/** Yes (logprob 0.7 vs 0.2) for the target tile, No for the rest; answers questions about the whole image with its image count. */
const scripted = {
  respond: (r: RecordedRequest) => (r.texts.join(' ').startsWith('Does this image') ? (tileOf(r) === TARGET ? 'Yes' : 'No') : `${r.images.length} images`),
  topLogprobs: (r: RecordedRequest) =>
    tileOf(r) === TARGET
      ? [
          { token: 'Yes', logprob: Math.log(0.7) },
          { token: 'No', logprob: Math.log(0.2) },
        ]
      : [
          { token: 'No', logprob: Math.log(0.9) },
          { token: 'Yes', logprob: Math.log(0.05) },
        ],
};

describe('semclip select --scorer vlm-*', () => {
  it('ranks first the tile the VLM says Yes to (vlm-yesno over an OpenAI-compatible server)', async () => {
    fake.setBehaviour(scripted);
    const json = JSON.parse(
      (await captureCommand(selectCommand, [image, 'What does the sign say?', '--scorer', 'vlm-yesno', '--vlm', `openai:${fake.url}#m`, '--json'])).stdout,
    );
    expect(json.kind).toBe('regions');
    expect(json.regions.map((r: { tiles: number[] }) => r.tiles)).toEqual([[TARGET]]);
    expect(json.ranking[0]).toMatchObject({ index: TARGET, rank: 1 });
    expect(json.scores[TARGET]).toBeCloseTo(0.7 / 0.9, 9);
    expect(json.scorer).toMatchObject({ id: 'vlm-yesno', meta: { method: 'logprobs', model: 'm' } });
    expect(fake.requests).toHaveLength(4);
  });

  it('scores with the embeddings of a local VLM (vlm-embed, random weights: plumbing only)', async () => {
    const json = JSON.parse(
      (
        await captureCommand(selectCommand, [
          image,
          'What colour is it?',
          '--scorer',
          'vlm-embed',
          '--vlm',
          `local:${tinyDir}`,
          '--device',
          'cpu',
          '--dtype',
          'fp32',
          '--json',
        ])
      ).stdout,
    );
    expect(json.scores).toHaveLength(4);
    expect(json.scores.every((s: number) => Number.isFinite(s) && Math.abs(s) <= 1 + 1e-6)).toBe(true);
    expect(json.scorer).toMatchObject({ id: 'vlm-embed', meta: { questionRepresentation: 'last-hidden-state', tilesEncoded: 4, visionRuns: 1 } });
    expect(json.regions).toHaveLength(1);
  });

  it.each([
    ['an unknown scorer, listing the light and the VLM scorers', ['--scorer', 'nope'], 'UNKNOWN_SCORER', /random.*vlm-embed, vlm-yesno/],
    ['vlm-yesno without --vlm', ['--scorer', 'vlm-yesno'], 'INVALID_ARGUMENT', /needs the VLM that scores/],
    ['vlm-embed over an HTTP server', ['--scorer', 'vlm-embed', '--vlm', 'openai:http://127.0.0.1:9/v1#m'], 'INVALID_ARGUMENT', /needs a local: VLM/],
    ['--vlm with a light scorer', ['--scorer', 'random', '--vlm', 'openai:http://127.0.0.1:9/v1#m'], 'INVALID_ARGUMENT', /--vlm only applies/],
    ['a bad --dtype', ['--scorer', 'vlm-embed', '--vlm', 'local:/nowhere', '--dtype', 'fp64'], 'INVALID_ARGUMENT', /fp64/],
    [
      '--dtype with an HTTP VLM',
      ['--scorer', 'vlm-yesno', '--vlm', 'openai:http://127.0.0.1:9/v1#m', '--dtype', 'q4'],
      'INVALID_ARGUMENT',
      /--dtype only applies to local/,
    ],
  ])('refuses %s before any work', async (_what, flags, code, message) => {
    const prev = process.env.SEMCLIP_VLM;
    delete process.env.SEMCLIP_VLM;
    try {
      await expect(runCommand(selectCommand, { rawArgs: ['/no/such/image.png', 'q?', ...flags] })).rejects.toMatchObject({
        code,
        message: expect.stringMatching(message),
      });
    } finally {
      if (prev !== undefined) process.env.SEMCLIP_VLM = prev;
    }
    expect(fake.requests).toHaveLength(0);
  });
});

describe('semclip ask --scorer vlm-*', () => {
  it('scores with the answering VLM by default and sends it the tile it said Yes to', async () => {
    fake.setBehaviour(scripted);
    const json = JSON.parse(
      (await captureCommand(askCommand, [image, 'What does the sign say?', '--vlm', `openai:${fake.url}#m`, '--scorer', 'vlm-yesno', '--json'])).stdout,
    );
    expect(json.scorer).toMatchObject({ id: 'vlm-yesno', meta: { method: 'logprobs', runner: 'openai:m' } });
    expect(json.selection.regions[0].tiles).toEqual([TARGET]);
    // Four yes/no questions, then the answer with the overview and the chosen tile.
    expect(fake.requests).toHaveLength(5);
    const answer = fake.requests.at(-1)!;
    expect(answer.images).toHaveLength(2);
    expect(tileBySize.get(`${answer.images[1]!.width}x${answer.images[1]!.height}`)).toBe(TARGET);
    expect(json.answer).toBe('2 images');
  });

  it('scores with --scorer-vlm when given: vlm-embed on a local VLM, the answer from the server', async () => {
    fake.setBehaviour(scripted);
    const json = JSON.parse(
      (
        await captureCommand(askCommand, [
          image,
          'What colour is it?',
          '--vlm',
          `openai:${fake.url}#m`,
          '--scorer',
          'vlm-embed',
          '--scorer-vlm',
          `local:${tinyDir}`,
          '--device',
          'cpu',
          '--dtype',
          'fp32',
          '--json',
        ])
      ).stdout,
    );
    expect(json.scorer).toMatchObject({ id: 'vlm-embed', meta: { questionRepresentation: 'last-hidden-state', runner: `local:${tinyDir}` } });
    expect(fake.requests).toHaveLength(1);
    expect(json.answer).toBe('2 images');
  });

  it('answers with a local VLM that also scores (vlm-yesno from its logits, random weights)', async () => {
    const json = JSON.parse(
      (
        await captureCommand(askCommand, [
          image,
          'What colour is it?',
          '--vlm',
          `local:${tinyDir}`,
          '--scorer',
          'vlm-yesno',
          '--device',
          'cpu',
          '--dtype',
          'fp32',
          '--max-tokens',
          '3',
          '--json',
        ])
      ).stdout,
    );
    expect(json.scorer).toMatchObject({ id: 'vlm-yesno', meta: { method: 'logits' } });
    expect(json.selection.scores).toHaveLength(4);
    expect(typeof json.answer).toBe('string');
  });

  it.each([
    ['vlm-embed with only an HTTP VLM', ['--vlm', 'openai:http://127.0.0.1:9/v1#m', '--scorer', 'vlm-embed'], /--scorer-vlm local:<model-id>/],
    [
      '--scorer-vlm with a light scorer',
      ['--vlm', 'openai:http://127.0.0.1:9/v1#m', '--scorer', 'random', '--scorer-vlm', 'local:x'],
      /--scorer-vlm only applies/,
    ],
    ['--dtype with only HTTP VLMs', ['--vlm', 'openai:http://127.0.0.1:9/v1#m', '--scorer', 'vlm-yesno', '--dtype', 'q4'], /--dtype only applies to local/],
    ['an unknown scorer', ['--vlm', 'openai:http://127.0.0.1:9/v1#m', '--scorer', 'nope'], /vlm-embed, vlm-yesno/],
  ])('refuses %s before any work', async (_what, flags, message) => {
    await expect(runCommand(askCommand, { rawArgs: ['/no/such/image.png', 'q?', ...flags] })).rejects.toMatchObject({
      message: expect.stringMatching(message),
    });
  });
});

// The built command, as users run it (the package's test script runs tsup first).
describe.skipIf(!existsSync(cli))('semclip select --scorer vlm-yesno (built CLI)', () => {
  it('prints the selection JSON with the scripted tile first, and exits 2 on an unknown scorer', async () => {
    fake.setBehaviour(scripted);
    const run = await semclip(['select', image, 'What does the sign say?', '--scorer', 'vlm-yesno', '--vlm', `openai:${fake.url}#m`, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const json = JSON.parse(run.stdout);
    expect(json.ranking[0].index).toBe(TARGET);
    expect(json.scorer.meta.method).toBe('logprobs');
    const bad = await semclip(['select', image, 'q?', '--scorer', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^semclip: error \[UNKNOWN_SCORER\]: There is no scorer called "nope"\. Expected one of .*random.*vlm-embed, vlm-yesno/);
  });
});
