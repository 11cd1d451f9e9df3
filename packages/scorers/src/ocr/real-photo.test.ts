/**
 * The OCR scorer on a real photo: queue_time.jpg (4032 x 3024, V* Bench demo image, in
 * ../shared/data/images). Its 2x2 tiles: 0 top-left holds the orange "RAFT THE KALI RIVER
 * RAPIDS! / KALI RAPIDS EXPEDITIONS" sign; 1 and 3 (right half) are trees, fence and sky;
 * 2 bottom-left holds the blue "KALI RIVER RAPIDS! STAND-BY ENTRANCE / WAIT TIME / 10 /
 * MINUTES" sign (tile 4 of the 3x3 grid; the orange sign is tile 3 there). The sign's
 * "WAIT TIME" caption is about 8 px tall: read at 3x3 as "WTTIPE" / "MINVTES"; at 2x2 (tiles
 * shrunk to 1280 px) not found at all until the second look at native resolution.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeShared, sharedData } from '@semclip/test-kit/shared-data';
import { tileImage } from '@semclip/tiling';
import type { TileScores, TileSource } from '@semclip/core';
import { createOcrScorer } from './index.js';
import type { OcrScoreMeta, OcrScorer } from './index.js';
import { levenshtein } from './_match.js';

const PHOTO = sharedData('images/queue_time.jpg');
const squash = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '');
const argmax = (xs: readonly number[]) => xs.indexOf(Math.max(...xs));

let scorer: OcrScorer;
let photo: TileSource;
let standBy: TileScores;

beforeAll(async () => {
  scorer = await createOcrScorer({ device: 'cpu' });
  photo = await tileImage(PHOTO, { grid: '2x2' });
  standBy = await scorer.score({ question: 'How long is the wait at the stand-by entrance?' }, photo);
}, 120_000);
afterAll(() => scorer?.dispose());

describeShared('OCR scorer on queue_time.jpg', () => {
  it('reads STAND-BY and ENTRANCE on the sign in the bottom-left tile', () => {
    const lines = (standBy.meta as OcrScoreMeta).texts[2]!;
    const words = lines.map((l) => squash(l.text));
    expect(
      words.some((w) => levenshtein(w, 'STANDBY') <= 1),
      JSON.stringify(words),
    ).toBe(true);
    expect(
      words.some((w) => levenshtein(w, 'ENTRANCE') <= 1),
      JSON.stringify(words),
    ).toBe(true);
  });

  it('places the sign text where the sign is in the photo', () => {
    const lines = (standBy.meta as OcrScoreMeta).texts[2]!;
    const sign = lines.find((l) => levenshtein(squash(l.text), 'STANDBY') <= 1)!;
    // The blue sign spans about x 1565-1745, y 1518-1672 of the 4032 x 3024 photo.
    expect(sign.box.x).toBeGreaterThan(1540);
    expect(sign.box.x + sign.box.width).toBeLessThan(1780);
    expect(sign.box.y).toBeGreaterThan(1500);
    expect(sign.box.y + sign.box.height).toBeLessThan(1640);
  });

  it('reads the rapids sign in the top-left tile', () => {
    const text = (standBy.meta as OcrScoreMeta).texts[0]!.map((l) => squash(l.text)).join(' ');
    expect(text).toMatch(/RAPIDS|EXPEDITIONS/);
  });

  it('ranks the tile with the stand-by sign first for a question in its words', () => {
    expect(argmax(standBy.scores)).toBe(2);
    const matched = (standBy.meta as OcrScoreMeta).matches[2]!.map((m) => m.word);
    expect(matched).toEqual(expect.arrayContaining(['stand', 'entrance']));
  });

  it('scores the text-free right half below the sign tile', () => {
    expect(standBy.scores[1]).toBeLessThan(standBy.scores[2]!);
    expect(standBy.scores[3]).toBeLessThan(standBy.scores[2]!);
  });
});

describeShared('OCR scorer on queue_time.jpg: "What is the wait time?"', () => {
  it.each([
    ['2x2', 2, 0],
    ['3x3', 4, 3],
  ] as const)('at %s picks tile %i, with the misread WAIT TIME sign, over tile %i with the rapids sign', async (grid, sign, rapids) => {
    const tiled = await tileImage(PHOTO, { grid });
    const { scores, meta } = await scorer.score({ question: 'What is the wait time?' }, tiled);
    const m = meta as OcrScoreMeta;
    expect(argmax(scores), m.summary).toBe(sign);
    expect(scores[sign]! - scores[rapids]!).toBeGreaterThan(0.05);
    expect(m.mode).toBe('words');
    expect(m.matches[sign]!.map((x) => x.word)).toEqual(['wait', 'time']);
    expect(m.summary).toMatch(new RegExp(`^Tile ${sign} matched "wait`));
  });

  it('finds nothing in the 2x2 sign tile without the second look at its small print', async () => {
    const once = await createOcrScorer({ device: 'cpu', refine: false, engine: scorer.engine });
    const { meta } = await once.score({ question: 'What is the wait time?' }, photo);
    expect((meta as OcrScoreMeta).matches[2]!.map((x) => x.word)).not.toContain('wait');
    await once.dispose();
  });
});
