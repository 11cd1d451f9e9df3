/**
 * The OCR scorer on a real photo: queue_time.jpg (4032 x 3024, V* Bench demo image, in
 * ../shared/data/images). Its 2x2 tiles: 0 top-left holds the orange "RAFT THE KALI RIVER
 * RAPIDS! / KALI RAPIDS EXPEDITIONS" sign; 1 and 3 (right half) are trees, fence and sky;
 * 2 bottom-left holds the blue "KALI RIVER RAPIDS! STAND-BY ENTRANCE / WAIT TIME / 10 /
 * MINUTES" sign. Only what the default settings (tiles read at most 1280 px on the long side)
 * robustly read is asserted: the sign's large words. Its "WAIT TIME" caption is about 6 px
 * tall in the original photo, too small for PP-OCRv4 at these settings, so the wait-time
 * question itself is not asserted here.
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
