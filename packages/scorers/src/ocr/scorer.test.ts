import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tileImage } from '@semclip/tiling';
import type { TileScores, TileSource } from '@semclip/core';
import { createOcrScorer } from './index.js';
import { smallTextRegions } from './_scorer.js';
import type { OcrScoreMeta, OcrScorer } from './index.js';
import { sceneBytes, smallPrintBytes } from './_test-images.js';

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

  it('says which words matched where, in one sentence', () => {
    const m = meta(first.meta);
    expect(m.mode).toBe('words');
    expect(m.summary).toMatch(/^Tile 3 matched .*"wait".*"WAIT/);
    expect(m.phrases).toEqual(['wait time']);
    expect(m.expects).toEqual(['time']);
    expect(m.types[3]).toEqual([expect.objectContaining({ type: 'time', strength: 1 })]);
  });

  it('says when nothing matched and the tiles are ranked by the amount of text', async () => {
    const { scores, meta: m } = await scorer.score({ question: 'Where is the aquarium?' }, scene);
    expect(meta(m).mode).toBe('text-amount');
    expect(meta(m).summary).toMatch(/^Nothing matched \(aquarium\) in the text read in 3 of 4 tiles; tiles are ranked by the amount of text read\.$/);
    expect(Math.max(...scores)).toBeLessThanOrEqual(0.01);
  });

  it('falls back to text amount for a question without content words', async () => {
    const { scores, meta: m } = await scorer.score({ question: 'What is this?' }, scene);
    expect(meta(m).mode).toBe('text-amount');
    expect(meta(m).summary).toMatch(/no words to look for/);
    expect(scores[2]).toBe(0);
    for (const i of [0, 1, 3]) {
      expect(scores[i]).toBeGreaterThan(0);
      expect(scores[i]).toBeLessThanOrEqual(0.01);
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

describe('OCR scorer: a second look at small print in shrunk tiles', () => {
  let small: TileSource;
  beforeAll(async () => {
    small = await tileImage(await smallPrintBytes(), { grid: '2x2' });
  });

  it('reads the neighbourhood of small lines again at native resolution when a tile is read shrunk', async () => {
    const shrunk = await createOcrScorer({ device: 'cpu', maxSide: 400, engine: scorer.engine });
    const { scores, meta: m } = await shrunk.score({ question: 'What is the wait time?' }, small);
    expect(argmax(scores)).toBe(3);
    const [region] = meta(m).refined[3]!;
    expect(region).toBeDefined();
    const wait = meta(m).texts[3]!.find((l) => squash(l.text).startsWith('WAIT'))!;
    // The small print (x 1040, baseline 840) was read inside the region, from native pixels.
    expect(wait.box.x).toBeGreaterThanOrEqual(region!.x);
    expect(wait.box.y + wait.box.height).toBeLessThanOrEqual(region!.y + region!.height);
    expect(meta(m).matches[3]!.map((x) => x.word)).toEqual(['wait', 'time']);
    await shrunk.dispose();
  });

  it('does not with refine: false, nor for tiles read at native size', async () => {
    const once = await createOcrScorer({ device: 'cpu', maxSide: 400, refine: false, engine: scorer.engine });
    expect(meta((await once.score({ question: 'What is the wait time?' }, small)).meta).refined.flat()).toEqual([]);
    await once.dispose();
    const native = await createOcrScorer({ device: 'cpu', engine: scorer.engine });
    expect(meta((await native.score({ question: 'What is the wait time?' }, small)).meta).refined.flat()).toEqual([]);
    await native.dispose();
  });

  it('grows small lines by three line heights, merges overlapping regions and keeps to the tile and a budget', () => {
    const line = (x: number, y: number, width: number, height: number) => ({ text: 'x', confidence: 1, box: { x, y, width, height }, quad: [] });
    const tile = { x: 0, y: 0, width: 2000, height: 1500 };
    // Two small lines close together merge; a large line is not small text; one near the edge is clipped.
    const regions = smallTextRegions([line(100, 100, 50, 10), line(120, 140, 40, 10), line(800, 800, 400, 120), line(1980, 1490, 15, 8)], tile, 0.64);
    expect(regions).toEqual([
      { x: 70, y: 70, width: 120, height: 110 },
      { x: 1956, y: 1466, width: 44, height: 34 },
    ]);
    const many = Array.from({ length: 20 }, (_, i) => line(90 * i + 20, 40, 20, 10));
    expect(smallTextRegions(many, tile, 0.64).length).toBeLessThanOrEqual(6);
    expect(smallTextRegions([line(0, 0, 1900, 30)], { x: 0, y: 0, width: 2000, height: 100 }, 0.5)).toEqual([]); // over the area budget
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
    ['minSimilarity', { minSimilarity: 1.5 }],
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
