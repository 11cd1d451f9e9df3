/**
 * `semclip select --scorer ocr` on the real queue_time.jpg (../shared/data, never copied): the
 * small "WAIT TIME ... MINUTES" sign under the STAND-BY ENTRANCE sign is read badly ("WTTIPE",
 * "MINVTES"), yet the tile holding it is selected at 2x2 and 3x3, and the output says what was
 * read and which words matched.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import sharp from 'sharp';
import { itShared } from '@semclip/test-kit/shared-data';
import { PHOTO, semclip, tempDir } from './_cli-harness.js';

const QUESTION = 'What is the wait time?';

describe('semclip select --scorer ocr on queue_time.jpg', () => {
  for (const [grid, tile] of [
    ['2x2', 2],
    ['3x3', 4],
  ] as const) {
    itShared(
      `selects the WAIT TIME sign's tile (${tile}) at ${grid} for "${QUESTION}" and says which words matched (--json)`,
      async () => {
        const res = await semclip(['select', PHOTO, QUESTION, '--scorer', 'ocr', '--grid', grid, '--json']);
        expect(res.code, res.stderr).toBe(0);
        const json = JSON.parse(res.stdout);
        expect(json.regions[0].tiles).toEqual([tile]);
        const meta = json.scorer.meta;
        expect(meta.mode).toBe('words');
        expect(meta.summary).toMatch(new RegExp(`^Tile ${tile} matched .*"wait`));
        expect(meta.matches[tile].map((m: { word: string }) => m.word)).toEqual(expect.arrayContaining(['wait', 'time']));
        expect(meta.texts[tile].some((l: { chars?: unknown }) => 'chars' in l)).toBe(false);
      },
      180_000,
    );
  }

  itShared(
    'prints the match under the reason, what each tile read with --verbose, and a caption on the overlay',
    async () => {
      const dir = await tempDir();
      const overlay = join(dir, 'overlay.png');
      const res = await semclip(['select', PHOTO, QUESTION, '--scorer', 'ocr', '--grid', '3x3', '--verbose', '--overlay', overlay]);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toMatch(/^Reason {4}.*\n {10}Tile 4 matched .*"wait/m);
      expect(res.stdout).toMatch(/^Read {6}tile 3: .*\n(?: {10}.*\n)*? {10}tile 4: .*; matched wait ~/m);
      const plain = await semclip(['select', PHOTO, QUESTION, '--scorer', 'ocr', '--grid', '3x3']);
      expect(plain.stdout).not.toMatch(/^Read /m);
      // The caption makes the header band taller than a title alone (unit 29 px at 1600x1200: 75 vs 110 px).
      const meta = await sharp(await readFile(overlay)).metadata();
      expect(meta.height! - 1200).toBeGreaterThan(100);
    },
    180_000,
  );

  itShared(
    'says when nothing matched and the tiles are ranked by the amount of text',
    async () => {
      const res = await semclip(['select', PHOTO, 'Where is the aquarium?', '--scorer', 'ocr', '--grid', '2x2']);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toMatch(/^ {10}Nothing matched \(aquarium\) in the text read in \d of 4 tiles; tiles are ranked by the amount of text read\.$/m);
    },
    180_000,
  );
});
