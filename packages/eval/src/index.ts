// Data: loaders for every layout the benchmarks ship in.
export { loadBenchmark, assertBenchmark, LOADERS } from './data/load.js';
export { loadVstar, VSTAR_CATEGORIES } from './data/vstar.js';
export { loadGqa } from './data/gqa.js';
export { loadScienceQa, splitLlavaOptions } from './data/scienceqa.js';
export { loadPope, POPE_ID_OFFSETS } from './data/pope.js';
export { loadMmbench, loadMmstar, CIRCULAR_STRIDE } from './data/tsv.js';
export { loadSeedBench } from './data/seedbench.js';
export { expandCircular, circularGroupOf } from './data/circular.js';
export { DATASET_LAYOUTS, POPE_SPLITS } from './data/types.js';
export type { BenchmarkDataset, DatasetFormat, LoadOptions, PopeSplit } from './data/types.js';

// Answers: prompts, answer extraction, judging one reply.
export { buildPrompt, MULTIPLE_CHOICE_INSTRUCTION, SHORT_ANSWER_INSTRUCTION } from './answer/prompt.js';
export type { PromptParts } from './answer/prompt.js';
export {
  extractAnswer,
  parsePopeAnswer,
  parseScienceQaAnswer,
  parseSeedBenchAnswer,
  normalizeGqaAnswer,
  inferOption,
} from './answer/extract.js';
export { judge } from './answer/judge.js';
export type { Judgement, Reply } from './answer/judge.js';

// Metrics.
export {
  summarize,
  tally,
  tallyByCategory,
  popeMetrics,
  circularMetrics,
  averageScore,
  roundTo,
  HEADLINE_METRICS,
} from './metrics/metrics.js';
export type {
  BenchmarkScore,
  PopeScore,
  ScienceQaScore,
  MmbenchScore,
  PlainScore,
  Tally,
  PopeMetrics,
  CircularMetrics,
  HeadlineMetric,
  AverageScore,
} from './metrics/metrics.js';

// Scoring prediction files.
export { readPredictions } from './score/predictions.js';
export type { Predictions, PredictionRecord, PredictionFormat } from './score/predictions.js';
export { scorePredictions, scoreItems } from './score/score.js';
export type { ScoreInput, ScoreReport } from './score/score.js';
export { scoreToJSON, formatScoreTable } from './score/format.js';
