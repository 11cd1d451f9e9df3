// The public surface (listed in exports.test.ts): what scripts and the CLI use. Loaders per
// layout, answer parsers per benchmark, metric helpers and the engine's parts stay internal;
// `loadBenchmark`, `extractAnswer`, `summarize` and `runEvaluation` reach all of them.

// Data: every layout the benchmarks ship in, behind one loader.
export { loadBenchmark, assertBenchmark } from './data/load.js';
export { expandCircular } from './data/circular.js';
export type { BenchmarkDataset, DatasetFormat, LoadOptions, PopeSplit, SkippedRow } from './data/types.js';

// Answers: prompts, answer extraction, judging one reply.
export { benchmarkPrompt, MULTIPLE_CHOICE_INSTRUCTION, SHORT_ANSWER_INSTRUCTION } from './answer/prompt.js';
export type { PromptParts } from './answer/prompt.js';
export { extractAnswer } from './answer/extract.js';
export { judge } from './answer/judge.js';
export type { Judgement, Reply } from './answer/judge.js';

// Metrics.
export { summarize, averageScore, roundTo, HEADLINE_METRICS } from './metrics/metrics.js';
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
export { scorePredictions } from './score/score.js';
export type { ScoreInput, ScoreReport } from './score/score.js';
export type { PredictionFormat } from './score/predictions.js';
export { scoreToJSON, formatScoreTable } from './score/format.js';

// Running evaluations: methods, resumable JSON-lines results, shards.
export { runEvaluation } from './run/engine.js';
export type { EvalPipeline, RunEvaluationOptions, RunSummary, RunProgress, RunFailure } from './run/engine.js';
export type { EvalStrategy, EvalStrategyInput, EvalStrategyOutcome } from './run/_item.js';
export type { TrainingOverlap } from './run/overlap.js';
export { ALL_EVAL_METHODS, EVAL_METHODS, SCORED_METHODS, STRATEGY_METHODS, parseMethods } from './run/methods.js';
export type { EvalMethod, StrategyMethod } from './run/methods.js';
export { parseShard } from './run/shard.js';
export type { Shard } from './run/shard.js';
export { readResults, resultKey } from './run/results.js';
export { lockOutputFile, lockPathFor } from './run/lock.js';
export type { LockOptions, LockOwner, OutputLock } from './run/lock.js';
export type { EvalResultRow, RunHeader, RunConfig, ResultsFile, ResultVia, JsonValue, FailureCause } from './run/results.js';

// Reports: method x benchmark tables, tokens vs accuracy, chart.
export { loadReport, reportToJSON, formatReportMarkdown } from './report/report.js';
export type { EvalReport, ReportCell, ReportMethodRow, ReportRun, ReportFailure } from './report/report.js';
export { renderReportChart } from './report/chart.js';
export type { ChartOptions } from './report/chart.js';
