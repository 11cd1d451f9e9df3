/**
 * `@semclip/vlm-runner/scorers`: the relevance scorers that use a vision-language model itself
 * (`vlm-embed`, `vlm-yesno`). Importing this entry loads no model code; a local runner loads
 * transformers.js when one is created.
 */
// Opening a scorer by id (with the light scorers) is @semclip/pipeline's openScorer: one registry.

export { createVlmEmbedScorer, queryText } from './_embed-scorer.js';
export type { EmbeddingRunner, VlmEmbedMeta, VlmEmbedScorer, VlmEmbedScorerOptions, VlmEmbedStats } from './_embed-scorer.js';

export { createVlmYesNoScorer, yesNoPrompt, DEFAULT_YESNO_PROMPT, UNPARSED_SCORE } from './_yesno-scorer.js';
export type { VlmYesNoMeta, VlmYesNoScorer, VlmYesNoScorerOptions, YesNoMethod } from './_yesno-scorer.js';

export { cosine, normalised, parseYesNo, yesNoToken, yesProbability, YES_SPELLINGS, NO_SPELLINGS } from './_math.js';
export type { VlmScorerRunnerOptions } from './_runner.js';
export type { LruStats } from '@semclip/runtime';
