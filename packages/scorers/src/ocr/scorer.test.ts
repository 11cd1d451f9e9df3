import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tileImage } from '@semclip/tiling';
import type { TileScores, TileSource } from '@semclip/core';
import { createOcrScorer } from './index.js';
import type { OcrScoreMeta, OcrScorer } from './index.js';
import { sceneBytes } from './_test-images.js';

const squash = (s: string) => s.toUpperCase().replace(/\s+/g, '');
const argmax = (xs: readonly number[]) => xs.indexOf(Math.max(...xs));
const meta = (m: unknown) => m as OcrScoreMeta;

// Scene tiles in a 2x2 grid: 0 = top-left "GIFT SHOP / OPEN DAILY", 1 = top-right "RESTROOMS",
// 2 = bottom-left empty, 3 = bottom-right "WAIT TIME 25 MIN".
let scorer: OcrScorer;
let scene: TileSource;
let first: TileScores;
const warnings: string[] = [];

beforeAll(async () => {
  scorer = await createOcrScorer({ device: 'cpu', warn: (m) => warnings.push(m) });
  scene = await tileImage(await sceneBytes(), { grid: '2x2' });
  first = await scorer.score({ question: 'What is the wait time?' }, scene);
});
afterAll(() => scorer?.dispose());

describe('OCR scorer on a rendered scene', () => {
  it('ranks the tile holding the answer first for "What is the wait time?"', async () => {
    const { scores, scorer: id } = first;
    expect(id).toBe('ocr');
    expect(scores).toHaveLength(4);
    expect(argmax(scores)).toBe(3);
    expect(scores[3]).toBeGreaterThan(0.5);
    for (const s of scores) expect(Number.isFinite(s)).toBe(true);
  });

  it('scores a tile without text exactly 0', () => {
    expect(first.scores[2]).toBe(0);
  });

  it('follows the question to other text', async () => {
    expect(argmax((await scorer.score({ question: 'Where are the restrooms?' }, scene)).scores)).toBe(1);
    expect(argmax((await scorer.score({ question: 'Is the gift shop open daily?' }, scene)).scores)).toBe(0);
  });

  it('matches the options too', async () => {
    const { scores, meta: m } = await scorer.score({ question: 'Which sign is this?', options: ['Restrooms', 'Exit'] }, scene);
    expect(meta(m).words).toEqual(['sign', 'restrooms', 'exit']);
    expect(argmax(scores)).toBe(1);
  });

  it('reports what it read per tile, with boxes in pixels of the whole image', () => {
    const { meta: m } = first;
    const { texts, matches, words, mode, truncated } = meta(m);
    expect(words).toEqual(['wait', 'time']);
    expect(mode).toBe('words');
    expect(truncated).toBe(false);
    expect(texts[2]).toEqual([]);
    const wait = texts[3]!.find((l) => squash(l.text).startsWith('WAIT'))!;
    expect(wait.confidence).toBeGreaterThan(0.8);
    expect(wait.box.x).toBeGreaterThan(860);
    expect(wait.box.x).toBeLessThan(900);
    expect(wait.box.y).toBeGreaterThan(840);
    expect(matches[3]!.map((x) => x.word)).toEqual(['wait', 'time']);
    expect(texts[1]!.map((l) => squash(l.text))).toEqual(['RESTROOMS']);
  });

  it('is deterministic and reuses the OCR of an image it has read', async () => {
    const once = await scorer.score({ question: 'How long is the wait?' }, scene);
    const again = await scorer.score({ question: 'How long is the wait?' }, scene);
    expect(again.scores).toEqual(once.scores);
    expect(meta(again.meta).cacheHits).toBe(4);
    expect(again.timings.detect).toBe(0);
    const fresh = await createOcrScorer({ device: 'cpu', cacheSize: 0, engine: scorer.engine });
    const uncached = await fresh.score({ question: 'How long is the wait?' }, scene);
    expect(uncached.scores).toEqual(once.scores);
    expect(meta(uncached.meta).cacheHits).toBe(0);
    await fresh.dispose();
  });

  it('times each stage, with detect + recognize as encode', () => {
    const { timings } = first;
    for (const key of ['preprocess', 'encode', 'score', 'detect', 'recognize']) expect(timings[key], key).toBeGreaterThan(0);
    expect(timings.encode).toBeCloseTo(timings.detect! + timings.recognize!, 6);
  });

  it('falls back to text density for a question without content words', async () => {
    const { scores, meta: m } = await scorer.score({ question: 'What is this?' }, scene);
    expect(meta(m).mode).toBe('text-density');
    expect(scores[2]).toBe(0);
    for (const i of [0, 1, 3]) {
      expect(scores[i]).toBeGreaterThan(0);
      expect(scores[i]).toBeLessThanOrEqual(0.05);
    }
    // Tile 0 has the most characters (GIFT SHOP + OPEN DAILY).
    expect(argmax(scores)).toBe(0);
  });

  it('caps a 100k-character question, says so and still scores', async () => {
    warnings.length = 0;
    const question = `What is the wait time? ${'and more words about nothing in particular '.repeat(2500)}`.slice(0, 100_000);
    const { scores, meta: m } = await scorer.score({ question }, scene);
    expect(meta(m).truncated).toBe(true);
    expect(meta(m).words.length).toBeLessThanOrEqual(32);
    expect(argmax(scores)).toBe(3);
    expect(warnings.some((w) => w.includes('long'))).toBe(true);
  });

  it('maps boxes back to the image when tiles are read below native size', async () => {
    const shrunk = await createOcrScorer({ device: 'cpu', maxSide: 560, engine: scorer.engine });
    const { scores, meta: m } = await shrunk.score({ question: 'What is the wait time?' }, scene);
    expect(argmax(scores)).toBe(3);
    const wait = meta(m).texts[3]!.find((l) => squash(l.text).startsWith('WAIT'))!;
    expect(wait.box.x).toBeGreaterThan(850);
    expect(wait.box.x).toBeLessThan(910);
    expect(meta(m).maxSide).toBe(560);
    await shrunk.dispose();
  });
});

describe('OCR scorer errors and lifecycle', () => {
  it.each([
    ['empty', ''],
    ['whitespace', ' \n\t '],
  ])('rejects an %s question with INVALID_QUESTION', async (_what, question) => {
    await expect(scorer.score({ question }, scene)).rejects.toMatchObject({ code: 'INVALID_QUESTION' });
  });

  it('rejects options that are not strings', async () => {
    await expect(scorer.score({ question: 'q?', options: [1, 2] as unknown as string[] }, scene)).rejects.toMatchObject({ code: 'INVALID_QUESTION' });
  });

  it('rejects an aborted scoring', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(scorer.score({ question: 'What is the wait time?' }, scene, { signal: ctl.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it.each([
    ['maxSide', { maxSide: 0 }],
    ['fuzzyThreshold', { fuzzyThreshold: 1.5 }],
    ['cacheSize', { cacheSize: -1 }],
  ])('rejects a bad %s option', async (_name, options) => {
    await expect(createOcrScorer({ device: 'cpu', ...options })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('refuses to score after dispose, and leaves a shared engine open', async () => {
    const shared = await createOcrScorer({ device: 'cpu', engine: scorer.engine });
    await shared.dispose();
    await expect(shared.score({ question: 'What is the wait time?' }, scene)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(scorer.score({ question: 'What is the wait time?' }, scene)).resolves.toBeDefined();
  });
});
