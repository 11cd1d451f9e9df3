export { RUNNERS, createRunner, defineRunnerConfig, getRunnerEntry, listRunners, parseRunnerSpec } from './_registry.js';
export type { RunnerConfig, RunnerConfigs, RunnerEntry, RunnerKind, RunnerOverrides } from './_registry.js';

export { buildPrompt, describePosition, DEFAULT_TEMPLATES, POSITION_NAMES } from './_prompt.js';
export type { BuiltPrompt, PromptBuildOptions, PromptRequest, PromptTemplates, PositionName } from './_prompt.js';

export { compositeImages, encodeForUpstream, DEFAULT_ENCODING } from './_images.js';
export type { ImageEncoding, CompositeLayout } from './_images.js';

export { parseChoice, scoresFromLogprobs, UNSEEN_SCORE } from './_choose.js';
export type { TopLogprob } from './_choose.js';

export { createOpenAIRunner } from './openai/index.js';
export type { OpenAIRunner, OpenAIRunnerOptions, OpenAIRequestExtras, RetryInfo } from './openai/index.js';

// Types only (erased at runtime): naming the local runner's types never loads transformers.js or
// ONNX Runtime. The runner itself: createRunner('local:<model>') or `@semclip/vlm-runner/local`.
export type {
  LocalRunner,
  LocalRunnerOptions,
  LocalRequestExtras,
  LocalTraceEvent,
  LocalSession,
  LocalDtype,
  LocalModelFamily,
  Device,
  ResolvedDevice,
  EmbedImagesOptions,
  EmbedTextOptions,
  ImageEmbeddings,
  TextEmbedding,
  TextRepresentation,
  ClsSource,
  ImagePool,
} from './local/index.js';
export type { AnswerLogprobs, AnswerLogprobsRequest, AnswerLogprobsRunner } from './_answer-logprobs.js';
