import { spawn } from 'node:child_process';
import { appendFile, copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from 'citty';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { lockOutputFile, readResults, resultKey, EVAL_METHODS } from '@semclip/eval';
import { createRandomScorer } from '@semclip/scorers/random';
import { select } from '@semclip/selector';
import { tileImage } from '@semclip/tiling';
import { tempDir } from '@semclip/test-kit/benchmarks';
import { EVAL_IMAGE, tileOracleVlm, tileSizeMap, writeEvalVstar, type EvalFixtureItem } from '@semclip/test-kit/eval-fixtures';
import { writeTinyLlava } from '@semclip/test-kit/onnx-llava';
import { startFakeOpenAI, type FakeOpenAI, type RecordedRequest } from '@semclip/test-kit/openai-upstream';
import { CLI, REPO_ROOT } from '../_cli-harness.js';
import { exitCodeFor } from '../_errors.js';
import { evalCommand } from './eval.js';

const N = 10;
let dir: string;
let data: string;
let fixture: EvalFixtureItem[];
let fake: FakeOpenAI;
let vlm: ReturnType<typeof tileOracleVlm>;
let out: string[];

beforeAll(async () => {
  dir = await tempDir('semclip-cli-eval-');
  fixture = await writeEvalVstar(join(dir, 'vstar'), N);
  data = join(dir, 'vstar', 'annotations.jsonl');
  const probe = await tileImage(join(dir, 'vstar', 'direct_attributes', 'q0.png'), { grid: '2x2' });
  vlm = tileOracleVlm(fixture, tileSizeMap(probe.grid.tiles, EVAL_IMAGE));
  fake = await startFakeOpenAI({ behaviour: { respond: vlm.respond } });
});
afterAll(async () => {
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  out = [];
  fake.setBehaviour({ respond: vlm.respond });
  fake.reset();
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
});
afterEach(() => vi.restoreAllMocks());

let n = 0;
const file = (name = 'r') => join(dir, `${name}-${++n}.jsonl`);
const vlmSpec = () => `openai:${fake.url}#fake-vlm`;
const runArgs = (results: string, ...extra: string[]) => [
  'run',
  '--benchmark',
  'vstar',
  '--data',
  data,
  '--vlm',
  vlmSpec(),
  '--scorer',
  'random',
  '--seed',
  '1',
  '--out',
  results,
  ...extra,
];
const cli = (...rawArgs: string[]) => runCommand(evalCommand, { rawArgs });
const json = (): any => JSON.parse(out.join(''));
const byId = (id: string) => fixture.find((f) => f.id === id) as EvalFixtureItem;

describe('semclip eval run', () => {
  it('runs every method end to end; SemClip is right exactly when the scorer ranks the right tile first', async () => {
    const results = file();
    await cli(...runArgs(results, '--method', 'all', '--repeats', '2', '--concurrency', '6', '--json'));
    const doc = json();
    expect(doc).toMatchObject({ benchmark: 'vstar', items: N, written: N * (EVAL_METHODS.length + 1), skipped: 0, errors: 0, resumed: false });
    // Baseline + one call per tile, + sub-image only + all tiles; SemClip k=1 reuses a tile call.
    expect(doc.vlm_calls).toBe(N * (1 + 4 + 2));
    const { header, rows } = await readResults(results);
    expect(header.config.setup).toMatchObject({ grid: '2x2', scorer: 'random', levels: 1 });
    expect(header.info.vlm).toBe(`openai:${fake.url}#fake-vlm`);
    expect(new Set(rows.map((r) => r.method))).toEqual(new Set(EVAL_METHODS));

    // Expected SemClip answers, computed from the same random scorer and the selector.
    const scorer = createRandomScorer({ seed: 1 });
    for (const item of fixture) {
      const tiled = await tileImage(join(dir, 'vstar', `${item.id}.png`), { grid: '2x2' });
      const scores = await scorer.score({ question: item.question, options: item.options ?? [] }, tiled);
      const top = select(scores, tiled.grid, { k: 1 }).regions[0]?.tiles[0];
      const row = rows.find((r) => r.item === item.id && r.method === 'semclip');
      expect(row?.tiles, item.id).toEqual([top]);
      expect(row?.correct, item.id).toBe(top === item.rightTile);
    }
    const acc = (m: string) => doc.report.methods.find((x: { method: string }) => x.method === m).cells.vstar.value;
    expect(acc('baseline')).toBe(0);
    expect(acc('oracle')).toBe((100 * fixture.filter((f) => f.rightTile !== null).length) / N);
    expect(acc('all-tiles')).toBe(acc('oracle'));
    expect(doc.report.methods.find((x: { method: string }) => x.method === 'random').cells.vstar.seeds).toEqual([1, 2]);
  });

  it('prints a progress bar with rate and ETA, then the report tables', async () => {
    const writes: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (writes.push(String(chunk)), true));
    await cli(...runArgs(file(), '--method', 'baseline,semclip', '--progress'));
    const err = writes.join('');
    expect(err).toMatch(/eval \[#+-*\] \d+\/10 .*items\/s, ETA \d+s, \d+ calls/);
    const text = out.join('');
    expect(text).toMatch(/vstar: 10 questions x baseline, semclip: wrote 20 results, 0 already in .*; 20 VLM calls in/);
    expect(text).toContain('| Method | V* | Avg |');
  });

  it('fails a run where too many rows failed, naming them by cause; a rerun asks exactly those again', async () => {
    const sub = join(dir, 'vstar-missing');
    const items = await writeEvalVstar(sub, 4);
    const missing = items[2]?.id as string;
    const image = join(sub, `${missing}.png`);
    await copyFile(image, `${image}.bak`);
    await rm(image);
    const subData = join(sub, 'annotations.jsonl');
    const results = file('missing');
    const args = (...extra: string[]) => runArgs(results, '--method', 'baseline,semclip', ...extra).map((a) => (a === data ? subData : a));
    const writes: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (writes.push(String(chunk)), true));

    // 2 of 8 rows failed (25% > 5%): everything is written and reported, then the run fails.
    const err = await cli(...args()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'RESULTS_INVALID', message: expect.stringContaining('2 of the 8 results this run wrote failed') });
    expect(exitCodeFor(err as never)).not.toBe(0);
    expect(out.join('')).toMatch(/wrote 8 results, 2 of them FAILED, 0 already in/);
    expect(out.join('')).toContain('- DATASET_NOT_FOUND (image missing): 2 rows');
    const stderr = writes.join('');
    expect(stderr).toContain(`1 questions have no image (DATASET_NOT_FOUND): point --images at the benchmark's image folder`);
    expect(stderr).toContain(`e.g. ${missing}`);
    expect(stderr).not.toContain('MODEL_OUTPUT_INVALID');
    expect((await readResults(results)).rows.filter((r) => r.error)).toHaveLength(2);

    // A looser threshold passes; --no-retry-failed keeps the failed rows and asks nothing.
    out.length = 0;
    fake.reset();
    await cli(...args('--no-retry-failed', '--json'));
    expect(json()).toMatchObject({ written: 0, skipped: 8, kept_failed: 2, failed: 0 });
    expect(fake.requests).toHaveLength(0);

    // With the image back, a rerun asks exactly the failed rows again (baseline + SemClip: 2 calls).
    await copyFile(`${image}.bak`, image);
    out.length = 0;
    fake.reset();
    await cli(...args('--json'));
    expect(json()).toMatchObject({ written: 2, skipped: 6, retried: 2, failed: 0, failures: [] });
    expect(fake.requests).toHaveLength(2);
    const { rows } = await readResults(results);
    expect(rows).toHaveLength(8);
    expect(rows.filter((r) => r.error)).toHaveLength(0);
    expect(rows.filter((r) => r.method === 'baseline').every((r) => r.visualTokens === 576)).toBe(true);
  });

  it('accepts failures under --max-failed-fraction and rejects a bad fraction', async () => {
    const sub = join(dir, 'vstar-missing-2');
    const items = await writeEvalVstar(sub, 4);
    await rm(join(sub, `${items[0]?.id}.png`));
    const results = file('tolerated');
    const args = (...extra: string[]) => runArgs(results, '--method', 'baseline', ...extra).map((a) => (a === data ? join(sub, 'annotations.jsonl') : a));
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await cli(...args('--max-failed-fraction', '0.5', '--json'));
    expect(json()).toMatchObject({ written: 4, failed: 1, failed_fraction: 0.25, failures: [{ code: 'DATASET_NOT_FOUND', cause: 'missing-image', rows: 1 }] });
    await expect(cli(...args('--max-failed-fraction', '1.5'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('refuses to resume with a changed configuration and names the difference', async () => {
    const results = file();
    await cli(...runArgs(results, '--method', 'baseline', '--limit', '2'));
    await expect(cli(...runArgs(results, '--method', 'baseline', '--grid', '1x2'))).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      message: expect.stringContaining('setup.grid: "2x2" in the file, "1x2" now'),
    });
    await expect(cli(...runArgs(results, '--method', 'baseline', '--scorer', 'ocr'))).rejects.toMatchObject({ code: 'RESULTS_INVALID' });
    await expect(cli(...runArgs(results, '--method', 'baseline', '--adaptive'))).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      message: expect.stringContaining('setup.selection.mode'),
    });
    expect((await readResults(results)).rows).toHaveLength(2);
    // Spelling out a default is the same configuration; methods and --limit may change.
    await cli(...runArgs(results, '--method', 'baseline,random', '--limit', '3', '--k', '1'));
    expect((await readResults(results)).rows).toHaveLength(3 + 3 * 3);
  });

  it('pads every image as the model family expects: squares of the processor mean for llava-1.5, as cut for qwen2-vl', async () => {
    fake.setBehaviour({});
    /** Mean RGB of the top `rows` rows of a recorded image (the padding above a wide image). */
    const topMean = async (data: Uint8Array, rows: number) => {
      const { data: px, info } = await sharp(data).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const sum = [0, 0, 0];
      for (let i = 0; i < info.width * rows * 3; i++) sum[i % 3]! += px[i]!;
      return sum.map((v) => v / (info.width * rows));
    };
    const llava = file('llava');
    const llavaArgs = runArgs(llava, '--method', 'baseline,semclip', '--limit', '2', '--json');
    llavaArgs[llavaArgs.indexOf('--vlm') + 1] = `openai:${fake.url}#llava-hf/llava-1.5-7b-hf`;
    await cli(...llavaArgs);
    expect(fake.requests.length).toBeGreaterThan(0);
    for (const r of fake.requests) {
      for (const im of r.images) expect(im.width).toBe(im.height);
      // The 97x61 overview is sent 97x97, pasted at (0, (97 - 61) // 2 = 18): rows 0-17 are padding.
      expect(r.images[0]).toMatchObject({ width: 97, height: 97 });
      // JPEG moves the flat padding by a few units at most (rows next to the image left out).
      (await topMean(r.images[0]!.data!, 12)).forEach((c, i) => expect(Math.abs(c - [122, 116, 104][i]!)).toBeLessThan(3));
    }
    const { header } = await readResults(llava);
    expect(header.config.image).toMatchObject({ padding: 'pad-square(122,116,104)' });
    // A resume with another padding is refused: the answers depend on it.
    await expect(cli(...llavaArgs.filter((a) => a !== '--json'), '--pad', 'none')).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      message: expect.stringContaining('image.padding'),
    });

    fake.reset();
    const qwen = file('qwen');
    const qwenArgs = runArgs(qwen, '--method', 'baseline,semclip', '--limit', '2', '--json');
    qwenArgs[qwenArgs.indexOf('--vlm') + 1] = `openai:${fake.url}#Qwen/Qwen2-VL-7B-Instruct`;
    await cli(...qwenArgs);
    for (const r of fake.requests) expect(r.images[0]).toMatchObject({ width: 97, height: 61 });
    expect(fake.requests.some((r) => r.images.some((im) => im.width !== im.height))).toBe(true);
    expect((await readResults(qwen)).header.config.image).not.toHaveProperty('padding');
    await expect(cli(...qwenArgs, '--pad', 'crop')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('--pad "crop"') });
  });

  it('splits a run into shards whose union is the full run', async () => {
    const full = file('full');
    const parts = [file('s1'), file('s2'), file('s3')];
    await cli(...runArgs(full, '--method', 'baseline,random', '--json'));
    for (const [i, p] of parts.entries()) await cli(...runArgs(p, '--method', 'baseline,random', '--shard', `${i + 1}/3`, '--json'));
    const shards = await Promise.all(parts.map((p) => readResults(p)));
    const keys = shards.flatMap((s) => s.rows.map(resultKey));
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(keys)).toEqual(new Set((await readResults(full)).rows.map(resultKey)));
    out = [];
    await cli('report', ...parts, '--format', 'json');
    const merged = json();
    out = [];
    await cli('report', full, '--json');
    const whole = json();
    const accs = (d: { methods: Array<{ method: string; cells: { vstar: { value: number; count: number } } }> }) =>
      d.methods.map((m) => [m.method, m.cells.vstar.value, m.cells.vstar.count]);
    expect(accs(merged)).toEqual(accs(whole));
  });

  it('refuses an --out another run is writing (RESULTS_LOCKED, exit 2) before calling the VLM; --force-unlock takes it', async () => {
    const results = file('locked');
    const held = await lockOutputFile(results, { command: 'semclip eval run --out elsewhere' });
    try {
      const err = await cli(...runArgs(results, '--method', 'baseline')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({
        code: 'RESULTS_LOCKED',
        message: expect.stringContaining(`${results} is being written by another run: pid ${process.pid}`),
        hint: expect.stringContaining('give each run its own --out (--shard i/n)'),
      });
      expect(exitCodeFor(err as never)).toBe(2);
      expect(fake.requests).toHaveLength(0);
      await expect(stat(results)).rejects.toMatchObject({ code: 'ENOENT' });
      const notes: string[] = [];
      vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (notes.push(String(chunk)), true));
      await cli(...runArgs(results, '--method', 'baseline', '--limit', '2', '--force-unlock', '--json'));
      expect(json()).toMatchObject({ written: 2, replaced_lock: { owner: { pid: process.pid }, reason: expect.stringMatching(/^forced \(--force-unlock\)/) } });
      expect(notes.join('')).toContain(`took over the lock of ${results} from pid ${process.pid}`);
    } finally {
      await held.release();
    }
  });

  it('resumes a file two older runs wrote at once, and eval run and eval report say so', async () => {
    const results = file('doubled');
    await cli(...runArgs(results, '--method', 'baseline', '--limit', '3'));
    const [header, ...rows] = (await readFile(results, 'utf8')).trimEnd().split('\n');
    await writeFile(results, `${[header, rows[0], header, rows[0], ...rows.slice(1), ...rows.slice(1)].join('\n')}\n`);
    const notes: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (notes.push(String(chunk)), true));
    out = [];
    fake.reset();
    await cli(...runArgs(results, '--method', 'baseline', '--limit', '4', '--json'));
    expect(json()).toMatchObject({ written: 1, skipped: 3, duplicates: 3, extra_headers: 1 });
    expect(fake.requests).toHaveLength(1);
    out = [];
    await cli(...runArgs(results, '--method', 'baseline', '--limit', '4'));
    expect(notes.join('')).toContain(
      `${results} holds 3 repeated rows (the last of each counts) and 1 repeated header line (ignored): two runs wrote it at once`,
    );
    out = [];
    await cli('report', results);
    expect(out.join('')).toContain(`- ${results} has 3 repeated rows (the last of each was used).`);
    expect(out.join('')).toContain(`- ${results} has 1 repeated header line (line 3: two runs wrote it at once; same configuration, ignored).`);
  });

  it.each([
    [['--method', 'zooom'], 'UNKNOWN_METHOD'],
    [['--shard', '0/2'], 'INVALID_ARGUMENT'],
    [['--concurrency', '0'], 'INVALID_ARGUMENT'],
    [['--benchmark', 'mmmu'], 'UNKNOWN_BENCHMARK'],
    [['--vlm', 'http://x'], 'INVALID_ARGUMENT'],
  ])('rejects %j before calling the VLM', async (extra, code) => {
    await expect(cli(...runArgs(file(), ...extra))).rejects.toMatchObject({ code });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('semclip eval run --scorer vlm-*', () => {
  const isYesNo = (r: RecordedRequest) => r.texts.join(' ').startsWith('Does this image');
  /** The tile-oracle VLM, which also says Yes (P 0.7 vs 0.2) to exactly the item's right tile when asked whether a tile helps. */
  const yesNoVlm = {
    respond: (r: RecordedRequest) => {
      if (!isYesNo(r)) return vlm.respond(r);
      const c = vlm.classify(r);
      return c.tiles[0] === c.item.rightTile ? 'Yes' : 'No';
    },
    topLogprobs: (r: RecordedRequest) => {
      const answer = yesNoVlm.respond(r);
      if (isYesNo(r)) {
        const [top, other] = answer === 'Yes' ? ['Yes', 'No'] : ['No', 'Yes'];
        return [
          { token: top as string, logprob: Math.log(0.7) },
          { token: other as string, logprob: Math.log(0.2) },
        ];
      }
      // Multiple choice: the answer's letter first, as the fake does by default.
      return [answer, ...['A', 'B', 'C', 'D'].filter((l) => l !== answer)].map((token, i) => ({ token, logprob: Math.log(i === 0 ? 0.9 : 0.03) }));
    },
  };

  it('scores with the answering VLM (vlm-yesno): SemClip sends the tile it says Yes to, and the scorer is recorded', async () => {
    fake.setBehaviour(yesNoVlm);
    const results = file('yesno');
    const args = ['run', '--benchmark', 'vstar', '--data', data, '--vlm', vlmSpec(), '--out', results, '--method', 'baseline,semclip'];
    await cli(...args, '--scorer', 'vlm-yesno', '--json');
    expect(json()).toMatchObject({ items: N, written: 2 * N, errors: 0 });
    // Per item: 4 yes/no questions (one per tile), the baseline and SemClip.
    expect(fake.requests.filter(isYesNo)).toHaveLength(4 * N);
    expect(fake.requests).toHaveLength(6 * N);
    const { header, rows } = await readResults(results);
    expect(header.config.setup).toMatchObject({ scorer: 'vlm-yesno', scorerVlm: 'openai:fake-vlm' });
    const semclip = rows.filter((r) => r.method === 'semclip');
    expect(semclip).toHaveLength(N);
    for (const r of semclip.filter((x) => byId(x.item).rightTile !== null))
      expect(r, r.item).toMatchObject({ tiles: [byId(r.item).rightTile], correct: true, overview: true });
    // A resume with another scorer is refused, before any call.
    fake.reset();
    await expect(cli(...args, '--scorer', 'random')).rejects.toMatchObject({
      code: 'RESULTS_INVALID',
      message: expect.stringContaining('setup.scorer: "vlm-yesno" in the file, "random" now'),
    });
    expect(fake.requests).toHaveLength(0);
  });

  it('scores with the embeddings of a local VLM (vlm-embed via --scorer-vlm local:DIR) while an HTTP VLM answers', async () => {
    const tiny = await mkdtemp(join(tmpdir(), 'semclip-eval-tiny-llava-'));
    try {
      await writeTinyLlava(tiny, { seed: 2, exposeHiddenStates: true });
      const results = file('embed');
      const args = ['run', '--benchmark', 'vstar', '--data', data, '--vlm', vlmSpec(), '--out', results, '--method', 'baseline,semclip', '--limit', '3'];
      await cli(...args, '--scorer', 'vlm-embed', '--scorer-vlm', `local:${tiny}`, '--device', 'cpu', '--dtype', 'fp32', '--json');
      expect(json()).toMatchObject({ items: 3, written: 6, errors: 0 });
      // The local VLM scored; the HTTP one only answered (baseline + SemClip per item).
      expect(fake.requests).toHaveLength(2 * 3);
      const { header, rows } = await readResults(results);
      expect(header.config.setup).toMatchObject({ scorer: 'vlm-embed', scorerVlm: `local:${tiny}`, dtype: 'fp32' });
      const semclip = rows.filter((r) => r.method === 'semclip');
      expect(semclip).toHaveLength(3);
      // Random weights say nothing about relevance: one level-1 tile with the overview, whichever it is.
      for (const r of semclip) expect(r.tiles.length === 1 && (r.tiles[0] as number) >= 0 && (r.tiles[0] as number) < 4 && r.images === 2, r.item).toBe(true);
    } finally {
      await rm(tiny, { recursive: true, force: true });
    }
  });

  it('records how vlm-embed represented tiles and questions (CLS or mean) in the setup and the report; --embed-pool cls refuses an export without CLS', async () => {
    // Random weights: only which representation is used and recorded is checked.
    const root = await mkdtemp(join(tmpdir(), 'semclip-eval-tiny-cls-'));
    try {
      await writeTinyLlava(join(root, 'paper'), { seed: 2, exposeHiddenStates: true, exposeCls: 'first-token' });
      await writeTinyLlava(join(root, 'plain'), { seed: 2 });
      const run = (out: string, dir: string, ...extra: string[]) =>
        cli(
          ...['run', '--benchmark', 'vstar', '--data', data, '--vlm', vlmSpec(), '--out', out, '--method', 'semclip', '--limit', '2'],
          ...['--scorer', 'vlm-embed', '--scorer-vlm', `local:${join(root, dir)}`, '--device', 'cpu', ...extra],
        );
      const paper = file('paper');
      await run(paper, 'paper', '--json');
      const paperSetup = (await readResults(paper)).header.config.setup;
      expect(paperSetup.scorerRepresentation).toBe("tile = projected CLS token, question = last hidden state of its final token (the paper's definition)");
      const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      const plain = file('plain');
      await run(plain, 'plain', '--json');
      // The stand-ins are said, never silently taken.
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toContain("is not the paper's scorer");
      expect((await readResults(plain)).header.config.setup.scorerRepresentation).toBe(
        "tile = mean of its projected visual tokens, question = mean of its input embeddings (not the paper's definition)",
      );
      out = [];
      await cli('report', paper, '--format', 'md');
      expect(out.join('')).toContain(
        "scorerRepresentation tile = projected CLS token, question = last hidden state of its final token (the paper's definition)",
      );
      fake.reset();
      await expect(run(file('refused'), 'plain', '--embed-pool', 'cls')).rejects.toMatchObject({
        code: 'UNSUPPORTED_CAPABILITY',
        message: expect.stringContaining('does not give the projected CLS token'),
      });
      expect(fake.requests).toHaveLength(0);
      await expect(run(file('bad'), 'plain', '--embed-pool', 'max')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it.each([
    [['--scorer', 'vlm-embed'], 'needs a local: VLM, not openai:'],
    [['--scorer', 'random', '--scorer-vlm', 'local:x'], '--scorer-vlm only applies'],
    [['--scorer', 'vlm-yesno', '--dtype', 'fp16'], '--dtype only applies to local: VLMs'],
    [['--scorer', 'vlm-yesno', '--model', 'x'], 'scores with a VLM'],
    [['--scorer', 'random', '--embed-pool', 'cls'], '--embed-pool only applies with --scorer vlm-embed'],
  ])('refuses %j before reading data or calling the VLM', async (extra, message) => {
    const results = file('bad');
    await expect(cli('run', '--benchmark', 'vstar', '--data', data, '--vlm', vlmSpec(), '--out', results, ...extra)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining(message),
    });
    expect(fake.requests).toHaveLength(0);
    await expect(stat(results)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('semclip eval report', () => {
  it('prints markdown or JSON tables and draws the chart as SVG and PNG', async () => {
    const results = file();
    await cli(...runArgs(results, '--method', 'all', '--repeats', '2'));
    out = [];
    const chart = join(dir, 'charts', 'acc.svg');
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await cli('report', results, '--chart', chart);
    const md = out.join('');
    expect(md.split('\n')).toContain('| Method | V* | Avg |');
    expect(md).toMatch(/\| Random sub-image \| \d+\.\d ± \d+\.\d \| \d+\.\d ± \d+\.\d \|/);
    expect(md).toContain('| Method | Visual tokens / question | VLM calls / question | VLM latency / question | Avg |');
    expect(md).toMatch(/\| Majority vote \| 4608 \| 4 \|/);
    expect(await sharp(chart).metadata()).toMatchObject({ format: 'svg' });
    expect(await sharp(join(dir, 'charts', 'acc.png')).metadata()).toMatchObject({ format: 'png', width: 1520, height: 960 });
    out = [];
    await cli('report', results, '--format', 'json', '--chart', join(dir, 'charts', 'b.png'));
    const doc = json();
    expect(doc.benchmarks).toEqual(['vstar']);
    expect(doc.methods.map((m: { method: string }) => m.method)).toEqual([...EVAL_METHODS]);
    expect(doc.charts).toEqual([join(dir, 'charts', 'b.svg'), join(dir, 'charts', 'b.png')]);
  });

  it('rejects a chart file that is neither SVG nor PNG, and files that are not results', async () => {
    const results = file();
    await cli(...runArgs(results, '--method', 'baseline', '--limit', '1'));
    await expect(cli('report', results, '--chart', join(dir, 'c.jpg'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(cli('report', data)).rejects.toMatchObject({ code: 'RESULTS_INVALID' });
  });
});

describe('semclip eval run, killed and rerun (built CLI)', () => {
  it('loses and duplicates nothing after SIGKILL, and never re-asks a written key', async () => {
    await stat(CLI); // built by the test script (tsup && vitest run)
    const results = file('killed');
    fake.setBehaviour({ respond: vlm.respond, latencyMs: 40 });
    const args = [CLI, 'eval', ...runArgs(results, '--method', 'baseline,semclip,oracle', '--concurrency', '2')];
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    // Kill it once a few items are on disk, mid-run.
    for (let i = 0; i < 600; i++) {
      const text = await readFile(results, 'utf8').catch(() => '');
      if (text.split('\n').length > 1 + 3 * 3) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGKILL');
    expect(await exited, stderr).toBe('SIGKILL');
    // As if the kill had landed mid-write: a torn last line.
    await appendFile(results, '{"type":"result","benchmark":"vstar","item":"dire');
    const before = await readResults(results);
    expect(before.truncatedBytes).toBeGreaterThan(0);
    const written = new Set(before.rows.map(resultKey));
    expect(written.size).toBeGreaterThanOrEqual(9);
    expect(written.size).toBeLessThan(N * 3);
    const doneItems = new Set(
      fixture
        .map((f) => f.id)
        .filter((id) =>
          ['baseline', 'semclip', 'oracle'].every((m) => written.has(resultKey({ benchmark: 'vstar', item: id, method: m as 'baseline', seed: 1 }))),
        ),
    );

    fake.setBehaviour({ respond: vlm.respond });
    fake.reset();
    const rerun = spawn(process.execPath, [...args, '--json'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    rerun.stdout.on('data', (d: Buffer) => (stdout += String(d)));
    expect(await new Promise((resolve) => rerun.on('exit', resolve))).toBe(0);
    const doc = JSON.parse(stdout);
    expect(doc.repaired_bytes).toBeGreaterThan(0);
    // The killed run's lock was left behind; the rerun took it over.
    expect(doc.replaced_lock).toMatchObject({ owner: { pid: child.pid }, reason: `stale: pid ${child.pid} is no longer running` });
    expect(doc.skipped).toBe(written.size);

    const after = await readResults(results);
    const keys = after.rows.map(resultKey);
    const expected = fixture.flatMap((f) =>
      ['baseline', 'semclip', 'oracle'].map((m) => resultKey({ benchmark: 'vstar', item: f.id, method: m as 'baseline', seed: 1 })),
    );
    expect(after.duplicates).toBe(0);
    expect(after.truncatedBytes).toBe(0);
    expect(new Set(keys)).toEqual(new Set(expected));
    expect(keys).toHaveLength(expected.length);
    // Rows written before the kill are untouched, and their items were not asked again.
    for (const r of before.rows) expect(after.rows.find((x) => resultKey(x) === resultKey(r))).toEqual(r);
    const reasked = fake.requests.map((r) => vlm.classify(r).item.id).filter((id) => doneItems.has(id));
    expect(reasked).toEqual([]);
  });
});
