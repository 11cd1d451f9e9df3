import { expect, it } from 'vitest';

// The public surface of each entry, listed: widening or narrowing it is a visible diff here.
it.each([
  ['.', './index.js', ['DEVICES', 'cudaProviderInstalled', 'resolveDevice']],
  ['./random', './random/index.js', ['createRandomScorer']],
  [
    './ocr',
    './ocr/index.js',
    [
      'STOP_WORDS',
      'bundledModelFiles',
      'contentWords',
      'createOcrEngine',
      'createOcrScorer',
      'expectedAnswers',
      'normalizeText',
      'queryTerms',
      'recognizeText',
      'scoreTileText',
      'tokenize',
      'wordSimilarity',
    ],
  ],
  ['./clip', './clip/index.js', ['DEFAULT_CLIP_MODEL', 'createClipScorer']],
  ['./siglip', './siglip/index.js', ['DEFAULT_SIGLIP_MODEL', 'SIGLIP_DEFAULT_LOGIT_BIAS', 'SIGLIP_DEFAULT_LOGIT_SCALE', 'createSiglipScorer']],
  [
    './distant',
    './distant/index.js',
    [
      'BASE_DEFAULTS',
      'HEAD_IO',
      'HEAD_KIND',
      'HEAD_MANIFEST_FILE',
      'HEAD_NORM_EPS',
      'HEAD_ONNX_FILE',
      'HEAD_SCHEMA',
      'HEAD_TYPES',
      'checkHeadName',
      'createBaseEncoder',
      'createDistantScorer',
      'headsRoot',
      'loadHead',
      'parseHeadManifest',
      'readHeadManifest',
      'resolveHeadManifestPath',
    ],
  ],
])('%s exports exactly these names', async (_entry, file, names) => {
  expect(Object.keys(await import(file)).sort()).toEqual(names);
});
