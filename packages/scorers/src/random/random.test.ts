import { describe, expect, it } from 'vitest';
import type { TileSource } from '@semclip/core';
import { createRandomScorer } from './index.js';

function fakeSource(id: string, n: number): TileSource {
  const tiles = Array.from({ length: n }, (_, i) => ({ index: i, row: 0, col: i, level: 1, box: { x: i, y: 0, width: 1, height: 1 } }));
  return {
    id,
    size: { width: n, height: 1 },
    grid: { image: { width: n, height: 1 }, rows: 1, cols: n, overlap: 0, levels: 1, tiles },
    gridKey: `1x${n}`,
    crop: () => Promise.reject(new Error('random scorer must not read pixels')),
    overview: () => Promise.reject(new Error('random scorer must not read pixels')),
    encode: () => Promise.reject(new Error('random scorer must not read pixels')),
  };
}

describe('random scorer', () => {
  it('gives one score in [0, 1) per tile', async () => {
    const { scores, scorer } = await createRandomScorer({ seed: 3 }).score({ question: 'q' }, fakeSource('a', 9));
    expect(scorer).toBe('random');
    expect(scores).toHaveLength(9);
    for (const s of scores) expect(s >= 0 && s < 1).toBe(true);
  });

  it('is deterministic for the same seed, image and question, whatever the call order', async () => {
    const a = createRandomScorer({ seed: 3 });
    const b = createRandomScorer({ seed: 3 });
    await b.score({ question: 'other' }, fakeSource('x', 4));
    const [r1, r2] = [await a.score({ question: 'q' }, fakeSource('a', 4)), await b.score({ question: 'q' }, fakeSource('a', 4))];
    expect(r1.scores).toEqual(r2.scores);
  });

  it.each([
    ['seed', { seed: 4 }, { question: 'q' }, 'a'],
    ['question', { seed: 3 }, { question: 'q2' }, 'a'],
    ['image', { seed: 3 }, { question: 'q' }, 'b'],
  ] as const)('changes when the %s changes', async (_what, opts, query, image) => {
    const base = await createRandomScorer({ seed: 3 }).score({ question: 'q' }, fakeSource('a', 6));
    const other = await createRandomScorer(opts).score(query, fakeSource(image, 6));
    expect(other.scores).not.toEqual(base.scores);
  });

  it('rejects a non-integer seed', () => {
    expect(() => createRandomScorer({ seed: 1.5 })).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
