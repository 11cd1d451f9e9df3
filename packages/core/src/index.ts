export { ERROR_CODES, IMAGE_ERROR_CODES, SemclipError, isSemclipError, toSemclipError, throwIfAborted } from './_errors.js';
export type { SemclipErrorCode, SemclipErrorOptions } from './_errors.js';

export { MAX_OPTIONS, Semaphore, abortedError, intOption, mulberry32, optionLetter, optionLetters, optionLines, sleep } from './_util.js';

export { isRawImage } from './_image.js';
export type { RawImage, ImageInput, EncodedImage, Box, Size } from './_image.js';

export type { Tile, GridSpec, TileGrid, TileSource, CropOptions, EncodeOptions, FitMode, OverviewMode } from './_tiles.js';

export { defineScorer } from './_scorer.js';
export type { RelevanceScorer, ScoreQuery, ScoreOptions, TileScores, StageTimings, TrainedOn } from './_scorer.js';

export type {
  Selection,
  SelectedRegion,
  SelectionStrategy,
  RankedTile,
  TokenAccounting,
} from './_selection.js';

export { defineRunner } from './_runner.js';
export type {
  VlmRunner,
  VlmCapabilities,
  VlmAnswer,
  VlmChoice,
  AnswerRequest,
  ChooseRequest,
  PromptImage,
  TokenUsage,
} from './_runner.js';

export type { ImagePadding, PipelineStages, PlannedRegion, PromptPlan } from './_pipeline.js';

export { BENCHMARK_NAMES } from './_benchmark.js';
export type { BenchmarkItem, BenchmarkName } from './_benchmark.js';
