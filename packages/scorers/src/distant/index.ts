export { createDistantScorer } from './_scorer.js';
export type { DistantScorer, DistantScorerInfo, DistantScorerOptions } from './_scorer.js';

export { createBaseEncoder, BASE_DEFAULTS } from './_base.js';
export type { BaseEncoder, BaseEncoderInfo, BaseEncoderOptions, BaseEncoderStats, QueryEmbedding, TileEmbeddings } from './_base.js';

export { loadHead } from './_head.js';
export type { RelevanceHead } from './_head.js';

export {
  HEAD_IO,
  HEAD_KIND,
  HEAD_MANIFEST_FILE,
  HEAD_NORM_EPS,
  HEAD_ONNX_FILE,
  HEAD_SCHEMA,
  HEAD_TYPES,
  checkHeadName,
  headsRoot,
  parseHeadManifest,
  readHeadManifest,
  resolveHeadManifestPath,
} from './_head-manifest.js';
export type { HeadBase, HeadManifest, HeadType } from './_head-manifest.js';

export type { ChoiceMode } from '../clip/_text.js';
