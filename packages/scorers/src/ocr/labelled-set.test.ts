import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { mulberry32 } from '@semclip/core';
import { levenshtein } from './_match.js';
import { REAL_PHOTOS, answerTiles, bestTile, decoyLines, generateScene, lineRecall, realPhotos, sizeClass } from './_labelled-set.js';

const grid = (W: number, H: number, n: number) =>
  Array.from({ length: n * n }, (_, index) => {
    const col = index % n;
    const row = Math.floor(index / n);
    const x = Math.round((col * W) / n);
    const y = Math.round((row * H) / n);
    return { index, box: { x, y, width: Math.round(((col + 1) * W) / n) - x, height: Math.round(((row + 1) * H) / n) - y } };
  });

describe('labelled set metrics', () => {
  it('takes the tiles holding at least 30 % of an answer box, and calls it cut when none holds 70 %', () => {
    const tiles = grid(1000, 1000, 2);
    expect(answerTiles({ x: 100, y: 100, width: 100, height: 50 }, tiles)).toEqual({ tiles: [0], cut: false });
    expect(answerTiles({ x: 450, y: 100, width: 100, height: 50 }, tiles)).toEqual({ tiles: [0, 1], cut: true });
    expect(answerTiles({ x: 480, y: 100, width: 100, height: 50 }, tiles)).toEqual({ tiles: [1], cut: false });
  });

  it('picks the first best tile, and none when every score is 0', () => {
    expect(bestTile([0.1, 0.5, 0.5, 0.2])).toBe(1);
    expect(bestTile([0, 0, 0])).toBe(-1);
  });

  it('counts a line detected when read lines cover half of it, and each of its words read exactly', () => {
    const label = { text: 'WAIT TIME', box: { x: 100, y: 100, width: 200, height: 20 }, sizePct: 1 };
    expect(lineRecall(label, [{ text: 'WAITTIME', box: { x: 95, y: 95, width: 210, height: 30 } }])).toEqual({ detected: true, words: 2, wordsRead: 2 });
    expect(lineRecall(label, [{ text: 'WTTIPE', box: { x: 95, y: 95, width: 210, height: 30 } }])).toEqual({ detected: true, words: 2, wordsRead: 0 });
    expect(lineRecall(label, [{ text: 'WAIT', box: { x: 100, y: 100, width: 60, height: 20 } }])).toEqual({ detected: false, words: 2, wordsRead: 1 });
    expect(lineRecall(label, [{ text: 'WAIT TIME', box: { x: 0, y: 0, width: 2000, height: 2000 } }])).toEqual({ detected: false, words: 2, wordsRead: 0 });
  });

  it.each([
    [0.36, '<0.8%'],
    [0.8, '0.8-1.2%'],
    [1.2, '1.2-1.8%'],
    [1.8, '1.8-3%'],
    [3, '>=3%'],
  ])('puts text of %d %% of the image height in the %s class', (size, expected) => {
    expect(sizeClass(size)).toBe(expected);
  });
});

describe('labelled set: generated scenes', () => {
  it('draws the same scene for the same index, every sign inside one tile of both grids', async () => {
    const a = await generateScene(2);
    const b = await generateScene(2);
    const hash = (img: typeof a) =>
      createHash('sha256')
        .update(img.image as Buffer)
        .digest('hex');
    expect(hash(a)).toBe(hash(b));
    const meta = await sharp(a.image as Buffer).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([a.width, a.height, 'jpeg']);
    expect(a.targets).toHaveLength(3);
    for (const t of a.targets) {
      expect(t.questions[0]!.question).toMatch(/\?$/);
      for (const n of [2, 3]) expect(answerTiles(t.box, grid(a.width, a.height, n))).toMatchObject({ tiles: [expect.any(Number)], cut: false });
    }
    // Targets, a decoy and distractors: more lines than the targets hold.
    expect(a.lines.length).toBeGreaterThan(a.targets.flatMap((t) => t.lines).length);
  });

  it('makes decoys of the asked-about words on a sign, each one letter off', () => {
    const lines = decoyLines({ lines: ['WAIT TIME', '25 MIN'], question: { question: 'What is the wait time?' } }, mulberry32(3));
    const words = lines.join(' ').split(' ');
    expect(words).toHaveLength(2);
    expect(levenshtein(words[0]!, 'WAIT')).toBe(1);
    expect(levenshtein(words[1]!, 'TIME')).toBe(1);
  });
});

describe('labelled set: real photos', () => {
  it('labels answers inside the photos, each with at least one question', () => {
    for (const img of realPhotos('/photos')) {
      expect(img.image).toMatch(/^\/photos\//);
      for (const t of img.targets) {
        expect(t.questions.length).toBeGreaterThan(0);
        expect(t.box.x + t.box.width).toBeLessThanOrEqual(img.width);
        expect(t.box.y + t.box.height).toBeLessThanOrEqual(img.height);
      }
    }
    expect(REAL_PHOTOS.map((p) => p.file)).toContain('queue_time.jpg');
  });
});
