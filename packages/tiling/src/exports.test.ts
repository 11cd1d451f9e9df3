import { expect, it } from 'vitest';

// The public surface, listed: widening or narrowing it is a visible diff here.
it('exports exactly these names', async () => {
  expect(Object.keys(await import('./index.js')).sort()).toEqual([
    'DEFAULT_AUTO_MAX_TILES',
    'DEFAULT_MAX_FILE_BYTES',
    'DEFAULT_MAX_PIXELS',
    'DEFAULT_SVG_TIMEOUT_MS',
    'MAX_GRID_SIDE',
    'SYNTH_COLOURS',
    'SYNTH_MARKERS',
    'chooseAutoGrid',
    'computeGrid',
    'generateSynthBenchmark',
    'gridKeyOf',
    'isMarker',
    'parseGrid',
    'readImageInfo',
    'renderOverlay',
    'synthRandom',
    'tileImage',
  ]);
});
