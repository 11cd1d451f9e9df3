import { expect, it } from 'vitest';

// The public surface of each entry, listed: widening or narrowing it is a visible diff here.
it.each([
  [
    '.',
    './index.js',
    [
      'DEFAULT_ENCODING',
      'DEFAULT_TEMPLATES',
      'POSITION_NAMES',
      'RUNNERS',
      'UNSEEN_SCORE',
      'buildPrompt',
      'compositeImages',
      'createOpenAIRunner',
      'createRunner',
      'defineRunnerConfig',
      'describePosition',
      'encodeForUpstream',
      'getRunnerEntry',
      'listRunners',
      'parseChoice',
      'parseRunnerSpec',
      'scoresFromLogprobs',
    ],
  ],
  ['./openai', './openai/index.js', ['createOpenAIRunner', 'normaliseBaseUrl']],
  ['./local', './local/index.js', ['LOCAL_DTYPES', 'LOCAL_SESSIONS', 'createLocalRunner', 'parseDtypeSpec']],
  [
    './scorers',
    './scorers/index.js',
    [
      'DEFAULT_YESNO_PROMPT',
      'NO_SPELLINGS',
      'UNPARSED_SCORE',
      'YES_SPELLINGS',
      'cosine',
      'createVlmEmbedScorer',
      'createVlmYesNoScorer',
      'normalised',
      'parseYesNo',
      'queryText',
      'yesNoPrompt',
      'yesNoToken',
      'yesProbability',
    ],
  ],
])('%s exports exactly these names', async (_entry, file, names) => {
  expect(Object.keys(await import(file)).sort()).toEqual(names);
});
