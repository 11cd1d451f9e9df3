/**
 * `semclip label` in process against the fake OpenAI-compatible upstream and a generated
 * ScienceQA folder, where the fake VLM is right only for planned tiles (see the test kit's
 * trainer-data). The crash/resume path under kill -9 is tested in @semclip/trainer.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lockOutputFile } from '@semclip/eval';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { itShared, sharedData } from '@semclip/test-kit/shared-data';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { labelResponder, writeLabelScienceQa } from '@semclip/test-kit/trainer-data';
import type { LabelFixtureItem } from '@semclip/test-kit/trainer-data';
import { fmtDuration, labelCommand } from './label.js';
import { captureCommand } from '../_cli-harness.js';

let root: string;
let data: string;
let fixture: LabelFixtureItem[];
let fake: FakeOpenAI;
let n = 0;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'semclip-cli-label-'));
  data = path.join(root, 'scienceqa');
  fixture = await writeLabelScienceQa(data, { items: 12, seed: 4, textOnly: 1 });
  fake = await startFakeOpenAI({ behaviour: { respond: labelResponder(fixture) } });
});
afterAll(async () => {
  await fake?.close();
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  fake.setBehaviour({ respond: labelResponder(fixture) });
  fake.reset();
});

const capture = (rawArgs: string[]) => captureCommand(labelCommand, rawArgs);
const vlm = () => `openai:${fake.url}#fake-vlm`;
const outFile = () => path.join(root, `labels-${++n}.jsonl`);

describe('semclip label', () => {
  it('labels the ScienceQA train split (image questions) and prints the summary as JSON', async () => {
    const out = outFile();
    const { stdout } = await capture(['--data', data, '--vlm', vlm(), '--out', out, '--concurrency', '4', '--json']);
    const summary = JSON.parse(stdout);
    const want = fixture.filter((f) => f.right.length > 0 && f.right.length < 4);
    expect(summary).toMatchObject({
      out,
      benchmark: 'scienceqa',
      items: 12,
      written: 12,
      labelled: want.length,
      pairs: want.reduce((s, f) => s + f.right.length * (4 - f.right.length), 0),
      requests: 48,
      vlm: { model: 'fake-vlm' },
    });
    expect(summary.skippedAllPositive + summary.skippedAllNegative).toBe(12 - want.length);
    const lines = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: 'header', benchmark: 'scienceqa', split: 'train', grid: '2x2' });
    expect(lines).toHaveLength(13);
    expect(fake.maxInFlight).toBeLessThanOrEqual(4);
  });

  it('resumes the same file without asking again, and says what it did in human form', async () => {
    const out = outFile();
    await capture(['--data', data, '--vlm', vlm(), '--out', out, '--limit', '5', '--json']);
    fake.reset();
    const { stdout } = await capture(['--data', data, '--vlm', vlm(), '--out', out]);
    expect(stdout).toContain('items           12 (5 already done, 7 this run)');
    expect(stdout).toMatch(/positive rate\s+\d+\.\d%/);
    expect(stdout).toContain(`semclip train --labels ${out}`);
    expect(fake.requests).toHaveLength(28);
  });

  it('refuses an --out another run is writing (RESULTS_LOCKED) before asking the VLM; --force-unlock takes it with a note', async () => {
    const out = outFile();
    const held = await lockOutputFile(out, { command: 'semclip label --out x' });
    try {
      await expect(capture(['--data', data, '--vlm', vlm(), '--out', out, '--limit', '2'])).rejects.toMatchObject({
        code: 'RESULTS_LOCKED',
        message: expect.stringContaining(`${out} is being written by another run: pid ${process.pid}`),
      });
      expect(fake.requests).toHaveLength(0);
      const { stdout, stderr } = await capture(['--data', data, '--vlm', vlm(), '--out', out, '--limit', '2', '--force-unlock', '--json']);
      expect(JSON.parse(stdout)).toMatchObject({ written: 2, replacedLock: { reason: expect.stringMatching(/^forced \(--force-unlock\)/) } });
      expect(stderr).toContain(`took over the lock of ${out}`);
    } finally {
      await held.release();
    }
  });

  it('sends the overview and each tile at --max-side (the pipeline encodes them)', async () => {
    await capture(['--data', data, '--vlm', vlm(), '--out', outFile(), '--limit', '2', '--max-side', '100', '--json']);
    expect(fake.requests).toHaveLength(8);
    for (const r of fake.requests) {
      expect(r.images).toHaveLength(2);
      expect(r.images[0]).toMatchObject({ width: 100, height: 100 });
      expect(Math.max(r.images[1]!.width, r.images[1]!.height)).toBe(100);
    }
  });

  it('draws a progress bar with the rate and an ETA when asked', async () => {
    fake.setBehaviour({ respond: labelResponder(fixture), latencyMs: 10 });
    const { stderr } = await capture(['--data', data, '--vlm', vlm(), '--out', outFile(), '--limit', '6', '--concurrency', '2', '--progress', '--json']);
    expect(stderr).toMatch(/label \[[#-]+\] \d+\/6 \d+\.\d+ items\/s ETA \d+s/);
    expect(stderr).toMatch(/label \[#+\] 6\/6/);
  });

  it.each(['pack', 'adaptive'])('refuses --strategy %s, saying why, before asking the VLM or writing', async (strategy) => {
    const out = outFile();
    await expect(capture(['--data', data, '--vlm', vlm(), '--out', out, '--strategy', strategy])).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      hint: expect.stringMatching(/adaptive selects among the grid tiles.*pack sends a composed image/),
    });
    expect(existsSync(out)).toBe(false);
  });

  it.each([
    ['no --vlm', ['--data', 'x'], 'INVALID_ARGUMENT'],
    ['an unknown benchmark', ['--data', 'x', '--vlm', 'openai:http://127.0.0.1:9/v1#m', '--benchmark', 'nope'], 'UNKNOWN_BENCHMARK'],
    ['a zero concurrency', ['--data', 'x', '--vlm', 'openai:http://127.0.0.1:9/v1#m', '--concurrency', '0'], 'INVALID_ARGUMENT'],
    ['a bad grid', ['--data', 'x', '--vlm', 'openai:http://127.0.0.1:9/v1#m', '--grid', '0x0'], 'INVALID_GRID'],
    ['missing data', ['--data', '/nonexistent/sqa', '--vlm', 'openai:http://127.0.0.1:9/v1#m'], 'DATASET_NOT_FOUND'],
    ['an unknown strategy', ['--data', 'x', '--vlm', 'openai:http://127.0.0.1:9/v1#m', '--strategy', 'best'], 'INVALID_ARGUMENT'],
    ['--max-calls without --strategy zoom', ['--data', 'x', '--vlm', 'openai:http://127.0.0.1:9/v1#m', '--max-calls', '4'], 'INVALID_ARGUMENT'],
  ])('fails clearly with %s', async (_name, args, code) => {
    const saved = process.env.SEMCLIP_VLM;
    delete process.env.SEMCLIP_VLM;
    try {
      await expect(capture(args)).rejects.toMatchObject({ code });
    } finally {
      if (saved !== undefined) process.env.SEMCLIP_VLM = saved;
    }
  });
});

describe('semclip label: the split comes from the data', () => {
  let llavaDir: string;
  let llavaFile: string;
  let llavaFixture: LabelFixtureItem[];
  beforeAll(async () => {
    // LLaVA's layout: test questions only, pid_splits.json beside them says so.
    llavaDir = path.join(root, 'scienceqa-llava');
    llavaFixture = await writeLabelScienceQa(llavaDir, { items: 6, seed: 9, split: 'test', llava: true });
    llavaFile = path.join(llavaDir, 'llava_test_CQM-A.json');
  });

  it('refuses to label test questions for training (default --split train), before asking the VLM or writing', async () => {
    const out = outFile();
    const err = await capture(['--data', llavaFile, '--vlm', vlm(), '--out', out, '--json']).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      code: 'DATASET_INVALID',
      message: expect.stringContaining('this file holds the test split (6 questions per pid_splits.json), not train'),
      hint: expect.stringContaining('--split test only if you mean it, or use problems.json with --split train'),
    });
    expect((err as Error).message).toContain('would leak test questions into the scorer evaluated on them');
    expect(fake.requests).toHaveLength(0);
    await expect(readFile(out, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('labels them with --split test and records the true split in the header', async () => {
    fake.setBehaviour({ respond: labelResponder(llavaFixture) });
    const out = outFile();
    const { stdout } = await capture(['--data', llavaFile, '--vlm', vlm(), '--out', out, '--split', 'test', '--json']);
    expect(JSON.parse(stdout)).toMatchObject({ items: 6, written: 6, requests: 24 });
    const header = JSON.parse((await readFile(out, 'utf8')).split('\n')[0]!);
    expect(header).toMatchObject({ type: 'header', benchmark: 'scienceqa', split: 'test' });
  });

  it('writes split null, not the name asked for, when the data cannot say which split it holds', async () => {
    const bare = path.join(root, 'scienceqa-bare');
    const items = await writeLabelScienceQa(bare, { items: 3, seed: 5, split: 'test', llava: true });
    await rm(path.join(bare, 'pid_splits.json'));
    fake.setBehaviour({ respond: labelResponder(items) });
    const out = outFile();
    const { stderr } = await capture(['--data', path.join(bare, 'llava_test_CQM-A.json'), '--vlm', vlm(), '--out', out, '--json']);
    expect(stderr).toContain('split null');
    const header = JSON.parse((await readFile(out, 'utf8')).split('\n')[0]!);
    expect(header).toMatchObject({ type: 'header', split: null });
  });

  itShared("refuses LLaVA's real llava_test_CQM-A.json (the 4241 test questions per pid_splits.json) for --split train", async () => {
    await expect(
      capture(['--data', sharedData('benchmarks', 'scienceqa', 'llava_test_CQM-A.json'), '--vlm', vlm(), '--out', outFile(), '--json']),
    ).rejects.toMatchObject({
      code: 'DATASET_INVALID',
      message: expect.stringContaining('this file holds the test split (4241 questions per pid_splits.json)'),
    });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('fmtDuration', () => {
  it.each([
    [0, '0s'],
    [45_400, '45s'],
    [192_000, '3m 12s'],
    [3_720_000, '1h 02m'],
  ])('%i ms -> %s', (ms, text) => {
    expect(fmtDuration(ms)).toBe(text);
  });
});
