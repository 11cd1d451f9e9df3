import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { makeJpeg, writeTemp } from '@semclip/test-kit/images';
import { tileImage } from '@semclip/tiling';
import { runCommand } from 'citty';
import { COMMANDS } from '../_commands.js';
import { CLI, PHOTO, captureCommand, semclip } from '../_cli-harness.js';
import { askCommand, parseOptionsArg } from './ask.js';

const cli = CLI;
/** What the spawned CLI must not inherit from the developer's shell. */
const UNSET = ['OPENAI_API_KEY', 'SEMCLIP_VLM'];
// A real 4032x3024 photo with a small wait-time sign (V* Bench demo image; a generated one of the same size without ../shared).
const photo = PHOTO;

let fake: FakeOpenAI;
// A generated 1600x1200 JPEG keeps most runs quick; the real photo is used where it matters.
let small: string;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  small = await writeTemp('ask-small.jpg', await makeJpeg({ width: 1600, height: 1200, pattern: 'noise', seed: 1 }));
});
afterAll(() => fake.close());
afterEach(() => {
  fake.setBehaviour({});
  fake.reset();
});

/** Answers with how many images it got and their sizes, so the output proves what was sent. */
const describeImages = () => ({
  respond: (r: { images: readonly { width: number; height: number }[] }) =>
    `${r.images.length} images: ${r.images.map((i) => `${i.width}x${i.height}`).join(', ')}`,
});

describe('parseOptionsArg', () => {
  it('splits on | and trims', () => {
    expect(parseOptionsArg(' red | green|blue ')).toEqual(['red', 'green', 'blue']);
    expect(parseOptionsArg(undefined)).toBeUndefined();
  });

  it.each(['red', 'red||blue', '|'])('rejects %j', (value) => {
    expect(() => parseOptionsArg(value)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('askCommand in process', () => {
  it('sends the overview and the selected tile, and reports them in JSON', async () => {
    fake.setBehaviour(describeImages());
    const out = (
      await captureCommand(askCommand, [small, 'What is the wait time?', '--vlm', `openai:${fake.url}#fake-vlm`, '--scorer', 'random', '--seed', '3', '--json'])
    ).stdout;
    const json = JSON.parse(out) as Record<string, any>;
    expect(json.kind).toBe('answer');
    // Overview capped at 1024 on the long side; a 2x2 tile (800x600) goes at native resolution.
    expect(json.answer).toBe('2 images: 1024x768, 800x600');
    expect(json.images).toHaveLength(2);
    expect(json.images[1].tiles).toEqual(json.selection.regions[0].tiles);
    expect(json.tokens).toMatchObject({ visual: 1152, perImage: 576, imagesSent: 2, parts: 2, baseline: 576, allTiles: 5 * 576 });
    expect(Object.keys(json.timings)).toEqual(['tile', 'score', 'select', 'encode', 'vlm', 'total']);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.texts[0]).toMatch(/^Image 2 is a zoomed-in view of the (top|bottom)-(left|right) region of image 1\.\nWhat is the wait time\?$/);
  });

  it('pads the overview and the tile to squares of the processor mean for a llava-1.5 id, sends them as cut for qwen2-vl or --pad none', async () => {
    fake.setBehaviour(describeImages());
    const ask = async (model: string, ...extra: string[]) =>
      JSON.parse(
        (await captureCommand(askCommand, [small, 'q?', '--vlm', `openai:${fake.url}#${model}`, '--scorer', 'random', '--seed', '3', '--json', ...extra]))
          .stdout,
      ) as Record<string, any>;
    const llava = await ask('llava-hf/llava-1.5-7b-hf');
    expect(llava.answer).toBe('2 images: 1024x1024, 800x800');
    expect(llava.padding).toEqual({ mode: 'pad-square', colour: [122, 116, 104] });
    // 1024x768 pasted at (0, 128); 800x600 at (0, 100).
    expect(llava.images.map((i: any) => i.padded)).toEqual([
      { x: 0, y: 128, width: 1024, height: 768 },
      { x: 0, y: 100, width: 800, height: 600 },
    ]);
    const sent = fake.requests[0]!.images;
    for (const [im, pad] of [
      [sent[0]!, 128],
      [sent[1]!, 100],
    ] as const) {
      const tiled = await tileImage(im.data!, { grid: '1x1' });
      // Above and below the image: the mean colour (JPEG moves it a unit or two; the rows next to the image left out).
      for (const y of [0, pad - 8, im.height - pad + 8, im.height - 1]) {
        const row = await tiled.crop({ x: 0, y, width: im.width, height: 1 });
        const sum = [0, 0, 0];
        row.data.forEach((v, i) => {
          sum[i % 3]! += v;
        });
        const mean = sum.map((v) => v / im.width);
        mean.forEach((v, c) => expect(Math.abs(v - [122, 116, 104][c]!)).toBeLessThan(3));
      }
    }
    expect(llava.tokens).toMatchObject({ visual: 1152, perImage: 576 });
    expect((await ask('llava-hf/llava-1.5-7b-hf', '--pad', 'none')).answer).toBe('2 images: 1024x768, 800x600');
    const qwen = await ask('Qwen/Qwen2-VL-7B-Instruct');
    expect(qwen.answer).toBe('2 images: 1024x768, 800x600');
    expect(qwen.padding).toEqual({ mode: 'none' });
    expect(qwen.images.every((i: any) => i.padded === undefined)).toBe(true);
  });

  it('fails before reading the image when the VLM spec is malformed', async () => {
    await expect(runCommand(askCommand, { rawArgs: ['/no/such/file.jpg', 'q?', '--vlm', 'openai:http://x/v1'] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('openai:<base-url>#<model>'),
    });
    await expect(runCommand(askCommand, { rawArgs: ['/no/such/file.jpg', 'q?', '--vlm', 'gemini:x'] })).rejects.toMatchObject({ code: 'UNKNOWN_RUNNER' });
    await expect(runCommand(askCommand, { rawArgs: ['/no/such/file.jpg', 'q?'] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('No VLM'),
    });
    await expect(runCommand(askCommand, { rawArgs: ['/no/such/file.jpg', 'q?', '--vlm', 'local:some-model', '--composite'] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('--composite only applies to openai: runners'),
    });
    await expect(runCommand(askCommand, { rawArgs: ['/no/such/file.jpg', 'q?', '--vlm', `openai:${fake.url}#m`, '--mode', 'oracle'] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(
      runCommand(askCommand, { rawArgs: ['/no/such/file.jpg', 'q?', '--vlm', `openai:${fake.url}#m`, '--options', 'only one'] }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(fake.requests).toHaveLength(0);
  });
});

const registered = (process.env.SEMCLIP_CLI !== undefined || Object.hasOwn(COMMANDS, 'ask')) && existsSync(cli);

// Needs the command registered in src/_commands.ts and the CLI built (the package's test script runs tsup first).
describe.skipIf(!registered)('semclip ask (built CLI against a fake OpenAI server)', () => {
  const vlm = () => `openai:${fake.url}#fake-vlm`;

  it('prints the answer, the tiles sent with scores, tokens and time per stage', async () => {
    fake.setBehaviour(describeImages());
    const run = await semclip(['ask', photo, 'What is the wait time?', '--vlm', vlm(), '--scorer', 'random', '--grid', '3x3', '--k', '2'], { unset: UNSET });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // 3x3 tiles of the 4032x3024 photo are 1344x1008, sent capped at 1024 on the long side.
    expect(run.stdout).toContain('Answer    3 images: 1024x768, 1024x768, 1024x768');
    expect(run.stdout).toMatch(/\n +1 +overview +whole image +0,0 4032x3024 +1024x768/);
    expect(run.stdout).toMatch(/\n +2 +tile \d +[a-z-]+ +0\.\d+ +\d+,\d+ 1344x1008 +1024x768/);
    expect(run.stdout).toContain('Tokens    1728 visual (3 images sent x 576); overview only 576, all tiles 5760');
    expect(run.stdout).toMatch(/Time {6}[\d.]+ m?s \(tile [\d.]+ m?s, score [\d.]+ m?s, select [\d.]+ m?s, vlm [\d.]+ m?s, of which encode [\d.]+ m?s\)/);
    expect(fake.requests[0]!.images.map((i) => i.mime)).toEqual(['image/jpeg', 'image/jpeg', 'image/jpeg']);
  });

  it('--composite prints what was really sent: one composite image, not the parts as sent images', async () => {
    fake.setBehaviour({ singleImage: true, ...describeImages() });
    const run = await captureCommand(askCommand, [small, 'q?', '--vlm', `openai:${fake.url}#fake-vlm`, '--mode', 'all-tiles', '--composite']);
    expect(fake.requests[0]!.images).toHaveLength(1);
    const text = run.stdout;
    // The table lists the 5 parts (overview + 4 tiles) as parts, with their sizes before compositing.
    expect(text).toMatch(/^ *part +what +position +score +box \(x,y wxh\) +part size +tokens/m);
    expect(text).not.toMatch(/^ *image +what/m);
    expect(text).toContain('Sent      1 composite image of the 5 parts above side by side, made and re-encoded by the runner');
    expect(text).toContain('Tokens    576 visual (1 image sent x 576, composite)');
    const json = JSON.parse(
      (await captureCommand(askCommand, [small, 'q?', '--vlm', `openai:${fake.url}#fake-vlm`, '--mode', 'all-tiles', '--composite', '--json'])).stdout,
    );
    expect(json.tokens).toMatchObject({ visual: 576, imagesSent: 1, parts: 5 });
    expect(json.images).toHaveLength(5);
  });

  it('chooses an option by logprobs and prints it as JSON', async () => {
    fake.setBehaviour({
      respond: () => 'B',
      topLogprobs: () => [
        { token: 'B', logprob: -0.2 },
        { token: 'A', logprob: -1.8 },
      ],
    });
    const run = await semclip(['ask', photo, 'How long is the wait?', '--options', '5 min|15 min|30 min', '--vlm', vlm(), '--scorer', 'random', '--json'], {
      unset: UNSET,
    });
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout) as Record<string, any>;
    expect(json.choice).toMatchObject({ index: 1, letter: 'B', option: '15 min', method: 'logprobs' });
    expect(json.choice.scores[0]).toBeCloseTo(-1.8, 6);
    expect(fake.requests[0]!.texts[0]).toContain('A. 5 min\nB. 15 min\nC. 30 min');
  });

  it.each([
    ['baseline', 1],
    ['all-tiles', 5],
  ])('--mode %s sends %i images and does not score', async (mode, count) => {
    const run = await semclip(['ask', small, 'q?', '--vlm', vlm(), '--mode', mode, '--json'], { unset: UNSET });
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout) as Record<string, any>;
    expect(fake.requests[0]!.images).toHaveLength(count);
    expect(json.scorer).toBeNull();
    expect(json.tokens.visual).toBe(count * 576);
  });

  it('--composite sends one image and counts one image of tokens', async () => {
    fake.setBehaviour({ singleImage: true, ...describeImages() });
    const run = await semclip(['ask', small, 'q?', '--vlm', vlm(), '--scorer', 'random', '--composite', '--json'], { unset: UNSET });
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout) as Record<string, any>;
    expect(fake.requests[0]!.images).toHaveLength(1);
    expect(json.tokens.visual).toBe(576);
    expect(fake.requests[0]!.texts[0]).toMatch(/^The left part of the image is the whole picture; the right part shows its [a-z-]+ region zoomed in\./);
  });

  it('exits 2 with INVALID_ARGUMENT for a malformed --vlm, without calling anything', async () => {
    const run = await semclip(['ask', small, 'q?', '--vlm', 'openai:nonsense', '--json'], { unset: UNSET });
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout).error.code).toBe('INVALID_ARGUMENT');
    expect(fake.requests).toHaveLength(0);
  });

  it('exits 1 with the upstream error and never prints the API key', async () => {
    const key = 'sk-cli-test-0123456789abcdef';
    fake.setBehaviour({ failStatus: 401, failMessage: `Incorrect API key provided: ${key}` });
    const run = await semclip(['ask', small, 'q?', '--vlm', vlm(), '--mode', 'baseline', '--verbose'], { unset: UNSET, env: { OPENAI_API_KEY: key } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('semclip: error [UPSTREAM_ERROR]');
    expect(run.stderr).toContain('401');
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${key}`);
    expect(run.stdout + run.stderr).not.toContain(key);
  });

  it('notes retries on stderr and still answers', async () => {
    fake.script({ failStatus: 503, retryAfter: 0 });
    const run = await semclip(['ask', small, 'q?', '--vlm', vlm(), '--mode', 'baseline'], { unset: UNSET });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/semclip: note: VLM request failed \(503\); retry 1 in/);
    expect(run.stdout).toContain('Answer    fake answer');
  });
});
