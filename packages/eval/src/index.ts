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

// Running evaluations: methods, resumable JSON-lines results, shards.
export { runEvaluation, topTiles, randomTile, datasetFingerprint } from './run/engine.js';
export type {
  RunEvaluationOptions,
  RunSummary,
  RunProgress,
  EvalTileSource,
  EvalImageFormat,
  SelectTiles,
  TileChoice,
} from './run/engine.js';
export { EVAL_METHODS, METHOD_LABELS, SCORED_METHODS, parseMethods, assertMethod } from './run/methods.js';
export type { EvalMethod } from './run/methods.js';
export { parseShard, shardOf, selectItems, stableHash } from './run/shard.js';
export type { Shard } from './run/shard.js';
export { readResults, parseResults, resultKey, rowToJudgement, diffConfig, RESULTS_FORMAT, RESULTS_VERSION } from './run/results.js';
export type { EvalResultRow, RunHeader, RunConfig, ResultsFile, ResultVia, JsonValue } from './run/results.js';
export { majorityVote } from './run/_vote.js';
export type { TileAnswer } from './run/_vote.js';

// Reports: method x benchmark tables, tokens vs accuracy, chart.
export { buildReport, loadReport, reportToJSON, formatReportMarkdown, BENCHMARK_LABELS } from './report/report.js';
export type { EvalReport, ReportCell, ReportMethodRow, ReportRun } from './report/report.js';
export { renderReportChart } from './report/chart.js';
export type { ChartOptions } from './report/chart.js';
