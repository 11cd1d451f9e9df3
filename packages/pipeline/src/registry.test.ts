/**
 * The registry opens each family with its own options passed through. The CLIP tower here has
 * random weights: this checks the plumbing (options reach the family), not ranking quality.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tileImage } from '@semclip/tiling';
import { makeJpeg } from '@semclip/test-kit/images';
import { makeTinyClip, writeModelFiles } from '@semclip/test-kit/onnx-models';
import { getScorerFamily, openScorer } from './_registry.js';

describe('openScorer passes family options through', () => {
  it('clip: modelPath, device and template reach the scorer', async () => {
    const dir = path.join(await mkdtemp(path.join(tmpdir(), 'semclip-pipeline-')), 'clip');
    await writeModelFiles(dir, makeTinyClip({ seed: 1 }).files);
    const scorer = await openScorer('clip', { modelPath: dir, device: 'cpu', template: 'a photo of {}', warn: () => {} });
    try {
      expect(scorer.id).toBe('clip');
      const tiled = await tileImage(await makeJpeg({ width: 400, height: 300, pattern: 'quadrants' }), { grid: '2x2' });
      const r = await scorer.score({ question: 'cat' }, tiled);
      expect(r.scores).toHaveLength(4);
      expect(r.meta).toMatchObject({ texts: ['a photo of cat'] });
    } finally {
      await scorer.dispose();
    }
  });

  it('random: the seed reaches the scorer', async () => {
    const tiled = await tileImage(await makeJpeg({ width: 400, height: 300, pattern: 'quadrants' }), { grid: '3x3' });
    const [a, b, c] = await Promise.all([openScorer('random', { seed: 1 }), openScorer('random', { seed: 1 }), openScorer('random', { seed: 2 })]);
    const [sa, sb, sc] = await Promise.all([a, b, c].map((s) => s.score({ question: 'q' }, tiled)));
    expect(sa!.scores).toEqual(sb!.scores);
    expect(sc!.scores).not.toEqual(sa!.scores);
  });

  it.each([
    ['clip', true, 'clip-vit-base-patch32'],
    ['siglip', true, 'siglip-base-patch16-224'],
    ['distant', true, undefined],
    ['ocr', false, undefined],
    ['random', false, undefined],
  ])('%s: needsDownload %s, default model %s', (id, needsDownload, defaultModel) => {
    const family = getScorerFamily(id);
    expect(family.needsDownload).toBe(needsDownload);
    expect(family.defaultModel).toBe(defaultModel);
  });
});

describe('ids', () => {
  it.each(['toString', '__proto__', 'constructor', ''])('does not take %j for a scorer', async (id) => {
    await expect(openScorer(id)).rejects.toMatchObject({ code: 'UNKNOWN_SCORER' });
  });
});
