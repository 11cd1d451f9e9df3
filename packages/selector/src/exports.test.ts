import { expect, it } from 'vitest';

// The public surface, listed: widening or narrowing it is a visible diff here.
it('exports exactly these names', async () => {
  expect(Object.keys(await import('./index.js')).sort()).toEqual([
    'DEFAULT_MARGIN',
    'DEFAULT_THRESHOLD',
    'DEFAULT_TOKENS_PER_IMAGE',
    'defineSelectOptions',
    'optionConfidence',
    'packLayout',
    'quadtreeChildren',
    'rankTiles',
    'select',
    'zoomWeight',
  ]);
});
