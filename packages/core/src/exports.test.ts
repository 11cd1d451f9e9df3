import { expect, it } from 'vitest';

// The public surface, listed: widening or narrowing it is a visible diff here.
it('exports exactly these names', async () => {
  expect(Object.keys(await import('./index.js')).sort()).toEqual([
    'BENCHMARK_NAMES',
    'ERROR_CODES',
    'IMAGE_ERROR_CODES',
    'MAX_OPTIONS',
    'Semaphore',
    'SemclipError',
    'abortedError',
    'defineRunner',
    'defineScorer',
    'intOption',
    'isRawImage',
    'isSemclipError',
    'mulberry32',
    'optionLetter',
    'optionLetters',
    'optionLines',
    'sleep',
    'throwIfAborted',
    'toSemclipError',
  ]);
});
