import { expect, it } from 'vitest';

// The public surface, listed: widening or narrowing it is a visible diff here.
it('exports exactly these names', async () => {
  expect(Object.keys(await import('./index.js')).sort()).toEqual([
    'ALL_EVAL_METHODS',
    'EVAL_METHODS',
    'HEADLINE_METRICS',
    'MULTIPLE_CHOICE_INSTRUCTION',
    'SCORED_METHODS',
    'SHORT_ANSWER_INSTRUCTION',
    'STRATEGY_METHODS',
    'assertBenchmark',
    'averageScore',
    'benchmarkPrompt',
    'expandCircular',
    'extractAnswer',
    'formatReportMarkdown',
    'formatScoreTable',
    'judge',
    'loadBenchmark',
    'loadReport',
    'lockOutputFile',
    'lockPathFor',
    'parseMethods',
    'parseShard',
    'readResults',
    'renderReportChart',
    'reportToJSON',
    'resultKey',
    'roundTo',
    'runEvaluation',
    'scorePredictions',
    'scoreToJSON',
    'summarize',
  ]);
});
